// CopyStore: LMDB -> PostgreSQL -> LMDB keeps every record, binding, replay
// mark, lock, the key check and the journal (entries and the checkpoint of a
// pruned journal); the copy opens with the same master key, its journal
// verifies with the same head, and new decisions chain on.
#include "otpgate/store_copy.h"

#include <gtest/gtest.h>

#include "otpgate/operations.h"
#include "store_backend.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::Backend;
using testing::Bytes;
using testing::TempDir;

constexpr int64_t kStart = 1'800'000'000;
const char kSecret[] = "12345678901234567890";

// The parameter is the backend of the middle hop: LMDB -> X -> LMDB.
class StoreCopyTest : public ::testing::TestWithParam<Backend> {};

TEST_P(StoreCopyTest, RoundTripKeepsEverythingAndTheCopyWorks) {
  TempDir dir;
  std::string why;
  auto middle = testing::FreshLocation(GetParam(), dir, &why);
  if (!middle.has_value()) GTEST_SKIP() << why;
  if (GetParam() == Backend::kLmdb) middle = dir.File("middle");
  Config config = testing::TestConfig(dir);
  ASSERT_TRUE(InitializeDeployment(config).ok());
  ManualClock clock(kStart);
  JournalCheck source_journal;
  {
    auto service = OtpService::Open(config, clock).value();
    for (const char* id : {"VSST00000001", "VSST00000002", "VSST00000003"}) {
      TokenSpec spec;
      spec.credential_id = id;
      ASSERT_TRUE(service->Provision(spec, Bytes(kSecret)).ok());
    }
    std::string code = GenerateTotp({}, Bytes(kSecret), kStart).value();
    ASSERT_EQ(service->Register("alice", "VSST00000001", code).value().decision,
              Decision::kAccept);  // a replay mark
    clock.Advance(30);
    ASSERT_TRUE(service->Assign("VSST00000002", "bob").ok());
    for (const char* wrong : {"000001", "000002", "000003", "000004", "000005"}) {
      (void)service->Verify("bob", wrong);  // failures, then a lock
    }
    ASSERT_TRUE(service->GetUserState("bob").value().locked());
    // The four entries of kStart go: the journal starts at a checkpoint.
    ASSERT_EQ(service->PruneJournal(kStart + 1).value(), 4u);
    source_journal = service->VerifyJournal().value();
    ASSERT_TRUE(source_journal.ok) << source_journal.problem;
    ASSERT_EQ(source_journal.checkpoint, 4u);
  }
  StoreOptions source{.location = config.store};
  StoreOptions there{.location = *middle};
  StoreOptions back{.location = dir.File("back")};
  CopyReport report;
  ASSERT_TRUE(CopyStore(source, there, &report).ok());
  EXPECT_EQ(report.tokens, 3u);
  EXPECT_EQ(report.bindings, 2u);
  EXPECT_EQ(report.meta, 2u) << "the key check and the journal checkpoint";
  EXPECT_EQ(report.journal_entries, source_journal.entries);
  ASSERT_TRUE(CopyStore(there, back, &report).ok());
  EXPECT_EQ(report.journal_entries, source_journal.entries);
  EXPECT_EQ(CopyStore(source, back, &report).code(), StatusCode::kAlreadyExists)
      << "a copy never merges into a store that holds tokens";

  for (const std::string& location : {*middle, dir.File("back")}) {
    Config copied = config;
    copied.store = location;
    auto service = OtpService::Open(copied, clock).value();
    JournalCheck journal = service->VerifyJournal().value();
    EXPECT_TRUE(journal.ok) << journal.problem;
    EXPECT_EQ(journal.checkpoint, source_journal.checkpoint);
    EXPECT_EQ(journal.last_sequence, source_journal.last_sequence);
    EXPECT_EQ(journal.head, source_journal.head) << "the same chain, entry for entry";
  }

  Config copied = config;
  copied.store = dir.File("back");
  auto service = OtpService::Open(copied, clock).value();
  EXPECT_TRUE(service->GetUserState("bob").value().locked());
  std::string used = GenerateTotp({}, Bytes(kSecret), kStart).value();
  EXPECT_EQ(service->Verify("alice", used).value().decision, Decision::kReplay);
  clock.Advance(30);
  std::string next = GenerateTotp({}, Bytes(kSecret), kStart + 60).value();
  EXPECT_EQ(service->Verify("alice", next).value().decision, Decision::kAccept);
  EXPECT_EQ(service->Show("VSST00000003").value().state, TokenState::kUnassigned);
  JournalCheck after = service->VerifyJournal().value();
  EXPECT_TRUE(after.ok) << after.problem;
  EXPECT_EQ(after.last_sequence, source_journal.last_sequence + 2) << "replay and accept";
}

// A destination that already has a journal (but no token) is refused too:
// two chains are never merged.
TEST_P(StoreCopyTest, RefusesADestinationWithAJournal) {
  TempDir dir;
  std::string why;
  auto target = testing::FreshLocation(GetParam(), dir, &why);
  if (!target.has_value()) GTEST_SKIP() << why;
  if (GetParam() == Backend::kLmdb) target = dir.File("target");
  Config config = testing::TestConfig(dir);
  ASSERT_TRUE(InitializeDeployment(config).ok());
  Config other = config;
  other.store = *target;
  ASSERT_TRUE(InitializeDeployment(other).ok());
  ManualClock clock(kStart);
  {
    auto service = OtpService::Open(other, clock).value();
    ASSERT_EQ(service->Verify("carol", "123456").value().decision, Decision::kNoToken);
  }
  CopyReport report;
  EXPECT_EQ(CopyStore({.location = config.store}, {.location = *target}, &report).code(),
            StatusCode::kAlreadyExists);
}

INSTANTIATE_TEST_SUITE_P(Lmdb, StoreCopyTest, ::testing::Values(Backend::kLmdb),
                         testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Postgres, StoreCopyTest, ::testing::Values(Backend::kPostgres),
                         testing::BackendName);

}  // namespace
}  // namespace otpgate
