// CopyStore: LMDB -> PostgreSQL -> LMDB keeps every record, binding, replay
// mark, lock and the key check; the copy opens with the same master key.
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
    ASSERT_TRUE(service->Assign("VSST00000002", "bob").ok());
    for (const char* wrong : {"000001", "000002", "000003", "000004", "000005"}) {
      (void)service->Verify("bob", wrong);  // failures, then a lock
    }
    ASSERT_TRUE(service->GetUserState("bob").value().locked());
  }
  StoreOptions source{.location = config.store};
  StoreOptions there{.location = *middle};
  StoreOptions back{.location = dir.File("back")};
  CopyReport report;
  ASSERT_TRUE(CopyStore(source, there, &report).ok());
  EXPECT_EQ(report.tokens, 3u);
  EXPECT_EQ(report.bindings, 2u);
  EXPECT_EQ(report.meta, 1u);
  ASSERT_TRUE(CopyStore(there, back, &report).ok());
  EXPECT_EQ(CopyStore(source, back, &report).code(), StatusCode::kAlreadyExists)
      << "a copy never merges into a store that holds tokens";

  Config copied = config;
  copied.store = dir.File("back");
  auto service = OtpService::Open(copied, clock).value();
  EXPECT_TRUE(service->GetUserState("bob").value().locked());
  std::string used = GenerateTotp({}, Bytes(kSecret), kStart).value();
  EXPECT_EQ(service->Verify("alice", used).value().decision, Decision::kReplay);
  clock.Advance(30);
  std::string next = GenerateTotp({}, Bytes(kSecret), kStart + 30).value();
  EXPECT_EQ(service->Verify("alice", next).value().decision, Decision::kAccept);
  EXPECT_EQ(service->Show("VSST00000003").value().state, TokenState::kUnassigned);
}

INSTANTIATE_TEST_SUITE_P(Lmdb, StoreCopyTest, ::testing::Values(Backend::kLmdb),
                         testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Postgres, StoreCopyTest, ::testing::Values(Backend::kPostgres),
                         testing::BackendName);

}  // namespace
}  // namespace otpgate
