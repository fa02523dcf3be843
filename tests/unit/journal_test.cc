// The audit journal: what is journalled, and that removing, reordering or
// editing entries in the store (as someone with write access to the store
// but not the master key would) makes verification fail at that place. Run
// against both backends (Lmdb/*: label unit; Postgres/*: label postgres);
// the tampering goes around otpgate, straight to LMDB or SQL.
#include "journal.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <lmdb.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "otpgate/operations.h"
#include "otpgate/otp.h"
#include "store_backend.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::Backend;
using testing::Bytes;
using testing::TempDir;

constexpr int64_t kStart = 1'800'000'000;
const char kSecret[] = "12345678901234567890";

std::array<uint8_t, 8> Key(uint64_t sequence) {
  std::array<uint8_t, 8> key{};
  for (int i = 7; i >= 0; --i, sequence >>= 8) key[i] = static_cast<uint8_t>(sequence);
  return key;
}

// The stored journal, edited without otpgate: entries by sequence.
class RawJournal {
 public:
  virtual ~RawJournal() = default;
  virtual std::vector<uint8_t> Get(uint64_t sequence) = 0;
  virtual void Put(uint64_t sequence, std::vector<uint8_t> value) = 0;
  virtual void Del(uint64_t sequence) = 0;
};

class LmdbJournal final : public RawJournal {
 public:
  LmdbJournal(MDB_txn* txn, MDB_dbi dbi) : txn_(txn), dbi_(dbi) {}
  std::vector<uint8_t> Get(uint64_t sequence) override {
    auto key_bytes = Key(sequence);
    MDB_val key{key_bytes.size(), key_bytes.data()}, data;
    EXPECT_EQ(mdb_get(txn_, dbi_, &key, &data), 0);
    auto* p = static_cast<uint8_t*>(data.mv_data);
    return std::vector<uint8_t>(p, p + data.mv_size);
  }
  void Put(uint64_t sequence, std::vector<uint8_t> value) override {
    auto key_bytes = Key(sequence);
    MDB_val key{key_bytes.size(), key_bytes.data()}, data{value.size(), value.data()};
    ASSERT_EQ(mdb_put(txn_, dbi_, &key, &data, 0), 0);
  }
  void Del(uint64_t sequence) override {
    auto key_bytes = Key(sequence);
    MDB_val key{key_bytes.size(), key_bytes.data()};
    ASSERT_EQ(mdb_del(txn_, dbi_, &key, nullptr), 0);
  }

 private:
  MDB_txn* txn_;
  MDB_dbi dbi_;
};

// The otpgate_journal table, through one libpq connection, in autocommit.
class PostgresJournal final : public RawJournal {
 public:
  explicit PostgresJournal(const std::string& location) : conn_(PQconnectdb(location.c_str())) {
    EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
  }
  ~PostgresJournal() override { PQfinish(conn_); }
  std::vector<uint8_t> Get(uint64_t sequence) override {
    PGresult* result =
        Exec("SELECT entry FROM otpgate_journal WHERE sequence = $1::int8", sequence, {});
    std::vector<uint8_t> value;
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1) {
      auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(result, 0, 0));
      value.assign(p, p + PQgetlength(result, 0, 0));
    }
    EXPECT_FALSE(value.empty()) << "no journal entry " << sequence;
    PQclear(result);
    return value;
  }
  void Put(uint64_t sequence, std::vector<uint8_t> value) override {
    Check(
        Exec("INSERT INTO otpgate_journal (sequence, entry) VALUES ($1::int8, $2::bytea) "
             "ON CONFLICT (sequence) DO UPDATE SET entry = EXCLUDED.entry",
             sequence, value));
  }
  void Del(uint64_t sequence) override {
    Check(Exec("DELETE FROM otpgate_journal WHERE sequence = $1::int8", sequence, {}));
  }

 private:
  PGresult* Exec(const char* sql, uint64_t sequence, const std::vector<uint8_t>& value) {
    auto key = Key(sequence);
    const char* values[] = {reinterpret_cast<const char*>(key.data()),
                            reinterpret_cast<const char*>(value.data())};
    const int lengths[] = {static_cast<int>(key.size()), static_cast<int>(value.size())};
    const int formats[] = {1, 1};
    return PQexecParams(conn_, sql, value.empty() ? 1 : 2, nullptr, values, lengths, formats, 1);
  }
  static void Check(PGresult* result) {
    EXPECT_EQ(PQresultStatus(result), PGRES_COMMAND_OK) << PQresultErrorMessage(result);
    PQclear(result);
  }
  PGconn* conn_;
};

class JournalTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    config_ = testing::TestConfig(dir_);
    std::string why;
    auto location = testing::FreshLocation(GetParam(), dir_, &why);
    if (!location.has_value()) GTEST_SKIP() << why;
    config_.store = *location;
    config_.store_timeout_ms = 10000;  // a loaded machine must not fail a rule test
    ASSERT_TRUE(InitializeDeployment(config_).ok());
    Reopen();
    TokenSpec spec;
    spec.credential_id = "VSST00000001";
    ASSERT_TRUE(service_->Provision(spec, Bytes(kSecret)).ok());  // entry 1
  }

  void Reopen() {
    service_.reset();
    service_ = OtpService::Open(config_, clock_).value();
    service_->set_origin("test", "admin");
  }

  std::string Code() { return GenerateTotp(OtpParams{}, Bytes(kSecret), clock_.Now()).value(); }

  // Entries 1 (provision), 2 (register), 3 (reject), 4 (accept), 5 (unlock).
  void MakeFiveEntries() {
    ASSERT_EQ(
        service_->Register("alice", "VSST00000001", Code(), Origin{"pam", "sshd", ""})->decision,
        Decision::kAccept);
    clock_.Advance(30);
    ASSERT_EQ(service_->Verify("alice", "000000")->decision, Decision::kReject);
    clock_.Advance(30);
    ASSERT_EQ(service_->Verify("alice", Code())->decision, Decision::kAccept);
    ASSERT_TRUE(service_->Unlock("VSST00000001").ok());
  }

  // Closes the service and edits the stored journal directly (LMDB or SQL).
  void Tamper(const std::function<void(RawJournal&)>& edit) {
    service_.reset();  // the last handle: an LMDB environment is closed
    if (GetParam() == Backend::kPostgres) {
      PostgresJournal journal(config_.store);
      edit(journal);
      Reopen();
      return;
    }
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ASSERT_EQ(mdb_env_open(env, config_.store.c_str(), 0, 0600), 0);
    MDB_txn* txn = nullptr;
    MDB_dbi dbi = 0;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "journal", 0, &dbi), 0);
    LmdbJournal journal(txn, dbi);
    edit(journal);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    Reopen();
  }

  JournalCheck Check() {
    auto check = service_->VerifyJournal();
    EXPECT_TRUE(check.ok()) << check.status().ToString();
    return check.ok() ? *check : JournalCheck{};
  }

  TempDir dir_;
  Config config_;
  ManualClock clock_{kStart};
  std::unique_ptr<OtpService> service_;
};

TEST_P(JournalTest, EveryDecisionAndChangeIsJournalledWithItsFields) {
  MakeFiveEntries();
  auto entries = service_->ReadJournal({}).value();
  ASSERT_EQ(entries.size(), 5u);
  const char* actions[] = {"provision", "register", "login", "login", "unlock"};
  const char* outcomes[] = {"ok", "accept", "reject", "accept", "ok"};
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].sequence, i + 1);
    EXPECT_EQ(entries[i].action, actions[i]);
    EXPECT_EQ(entries[i].outcome, outcomes[i]);
    EXPECT_EQ(entries[i].token, "VSST00000001");
  }
  EXPECT_EQ(entries[1].user, "alice");
  EXPECT_EQ(entries[1].front_end, "pam") << "the flow's origin";
  EXPECT_EQ(entries[1].client, "sshd") << "a PAM service when there is no client";
  EXPECT_EQ(entries[2].reason, "wrong-code");
  EXPECT_EQ(entries[2].front_end, "test") << "the service's default origin";
  EXPECT_EQ(entries[2].client, "admin");
  EXPECT_EQ(entries[1].time, kStart);
  EXPECT_EQ(entries[3].time, kStart + 60);
  JournalCheck check = Check();
  EXPECT_TRUE(check.ok) << check.problem;
  EXPECT_EQ(check.entries, 5u);
  EXPECT_EQ(check.last_sequence, 5u);
}

TEST_P(JournalTest, FailedRequestsLeaveNoEntry) {
  // Malformed code, unknown token for an admin change: no change, no entry
  // (the syslog audit line still records them).
  EXPECT_FALSE(service_->Verify("alice", "12ab56").ok());
  EXPECT_FALSE(service_->Unlock("NOSUCH0001").ok());
  EXPECT_EQ(service_->ReadJournal({}).value().size(), 1u);
  // A user without a token reached the store: that decision is journalled.
  EXPECT_EQ(service_->Verify("bob", "123456")->decision, Decision::kNoToken);
  auto entries = service_->ReadJournal({}).value();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].outcome, "no-token");
  EXPECT_TRUE(Check().ok);
}

// The streaming import (token import, migrate) journals each token it
// stores, in its one transaction: skipped duplicates are not journalled, and
// an import that fails part-way leaves neither tokens nor entries.
TEST_P(JournalTest, StreamingImportJournalsEachStoredToken) {
  OtpService::ImportCounts counts;
  auto import = [&](const std::vector<std::string>& ids) {
    return service_->ProvisionEach(
        [&](const OtpService::TokenPut& put) -> Status {
          for (const std::string& id : ids) {
            TokenSpec spec;
            spec.credential_id = id;
            OTPGATE_RETURN_IF_ERROR(put(spec, Bytes(kSecret)));
          }
          return Status::Ok();
        },
        {.tokens = ids.size()}, /*replace=*/false, &counts);
  };
  ASSERT_TRUE(import({"VSST00000001", "VSST00000002", "VSST00000003"}).ok());
  EXPECT_EQ(counts.imported, 2u);
  EXPECT_EQ(counts.skipped, 1u);
  EXPECT_EQ(counts.first_skipped, std::vector<std::string>{"VSST00000001"});
  auto entries = service_->ReadJournal({}).value();
  ASSERT_EQ(entries.size(), 3u) << "the duplicate VSST00000001 is skipped, not journalled";
  EXPECT_EQ(entries[1].action, "import");
  EXPECT_EQ(entries[1].token, "VSST00000002");
  EXPECT_EQ(entries[2].token, "VSST00000003");
  EXPECT_EQ(entries[2].outcome, "ok");
  EXPECT_EQ(entries[2].front_end, "test");

  // A bad entry (no credential ID) after a good one: nothing is stored or
  // journalled.
  EXPECT_FALSE(import({"VSST00000004", ""}).ok());
  EXPECT_EQ(service_->ReadJournal({}).value().size(), 3u);
  EXPECT_FALSE(service_->Show("VSST00000004").ok());
  EXPECT_TRUE(Check().ok);
}

// An import larger than one step is staged (Store::WriteStaged): its
// entries say so, one last entry says it was published; a failed one leaves
// staged entries but no token and no "published" entry, and frees its IDs.
TEST_P(JournalTest, ALargeImportIsStagedAndPublishedOnce) {
  const size_t count = kStagedImportStep + 3;
  auto ids = [](size_t first, size_t n) {
    std::vector<std::string> out;
    char id[16];
    for (size_t i = first; i < first + n; ++i) {
      std::snprintf(id, sizeof id, "VSST%08zu", i);
      out.emplace_back(id);
    }
    return out;
  };
  OtpService::ImportCounts counts;
  auto import = [&](const std::vector<std::string>& list, const std::string& owner_of_last) {
    return service_->ProvisionEach(
        [&](const OtpService::TokenPut& put) -> Status {
          for (const std::string& id : list) {
            TokenSpec spec;
            spec.credential_id = id;
            if (&id == &list.back()) spec.owner = owner_of_last;
            OTPGATE_RETURN_IF_ERROR(put(spec, Bytes(kSecret)));
          }
          return Status::Ok();
        },
        {.tokens = list.size(), .binds_owners = !owner_of_last.empty()}, /*replace=*/false,
        &counts);
  };
  // VSST00000001 is there already (the fixture's): skipped.
  ASSERT_TRUE(import(ids(1, count), "").ok());
  EXPECT_EQ(counts.imported, count - 1);
  EXPECT_EQ(counts.skipped, 1u);
  EXPECT_EQ(counts.first_skipped, std::vector<std::string>{"VSST00000001"});
  auto entries = service_->ReadJournal({}).value();
  ASSERT_EQ(entries.size(), 1 + (count - 1) + 1);
  EXPECT_EQ(entries[1].token, "VSST00000002");
  ASSERT_TRUE(entries[1].reason.starts_with("staged:")) << entries[1].reason;
  const std::string label = entries[1].reason.substr(7);
  EXPECT_EQ(entries[count - 1].reason, "staged:" + label);
  EXPECT_EQ(entries.back().action, "import");
  EXPECT_EQ(entries.back().token, "");
  EXPECT_EQ(entries.back().reason,
            "published:" + label + ":" + std::to_string(count - 1) + "-tokens");
  EXPECT_TRUE(service_->Show(ids(count, 1)[0]).ok());

  // A bad last entry: nothing shows, and nothing was written. The staged
  // import sorts every entry before its first step (LMDB), so a bad one
  // fails it before the store is touched; PostgreSQL rolled back its one
  // transaction. (A failure in a later step: StoreTest, LmdbStoreTest.)
  std::vector<std::string> failing = ids(100000, count);
  failing.back() = "";
  const size_t before = entries.size();
  EXPECT_FALSE(import(failing, "").ok());
  EXPECT_EQ(service_->Show(failing.front()).status().code(), StatusCode::kNotFound);
  entries = service_->ReadJournal({}).value();
  EXPECT_EQ(entries.size(), before);
  // The same IDs again, good this time; the last one bound to an owner, so
  // the import is one transaction (its entries not staged).
  failing.back() = ids(100000 + count - 1, 1)[0];
  ASSERT_TRUE(import(failing, "alice").ok());
  EXPECT_EQ(counts.imported, count);
  EXPECT_EQ(service_->Show(failing.back())->owner, "alice");
  entries = service_->ReadJournal({}).value();
  EXPECT_EQ(entries.back().token, failing.back());
  EXPECT_EQ(entries.back().reason, "");
  EXPECT_TRUE(Check().ok);
}

// An import prepared while its file is checked (token import's one pass):
// stored like ProvisionEach's staged case; an error while preparing stores
// nothing, whatever is called after it.
TEST_P(JournalTest, APreparedImportIsStoredOnceOrNotAtAll) {
  auto add_all = [](PreparedImport& import, size_t first, size_t n) {
    char id[16];
    for (size_t i = first; i < first + n; ++i) {
      std::snprintf(id, sizeof id, "VSST%08zu", i);
      TokenSpec spec;
      spec.credential_id = id;
      ASSERT_TRUE(import.Add(spec, Bytes(kSecret)).ok()) << id;
    }
  };
  PreparedImport bad = service_->PrepareImport();
  add_all(bad, 200000, 5);
  TokenSpec bound;
  bound.credential_id = "VSST00300000";
  bound.owner = "alice";
  EXPECT_EQ(bad.Add(bound, Bytes(kSecret)).code(), StatusCode::kFailedPrecondition);
  TokenSpec fine;
  fine.credential_id = "VSST00300001";
  EXPECT_EQ(bad.Add(fine, Bytes(kSecret)).code(), StatusCode::kFailedPrecondition);
  const size_t before = service_->ReadJournal({})->size();
  EXPECT_EQ(service_->ProvisionPrepared(bad, nullptr).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_->Show("VSST00200000").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->ReadJournal({})->size(), before);

  // VSST00000001 is the fixture's: skipped. Added out of order: stored in
  // ID order.
  PreparedImport good = service_->PrepareImport();
  add_all(good, 5000, kStagedImportStep);
  add_all(good, 1, 3);
  EXPECT_EQ(good.size(), kStagedImportStep + 3);
  OtpService::ImportCounts counts;
  ASSERT_TRUE(service_->ProvisionPrepared(good, &counts).ok());
  EXPECT_EQ(counts.imported, kStagedImportStep + 2);
  EXPECT_EQ(counts.first_skipped, std::vector<std::string>{"VSST00000001"});
  auto entries = service_->ReadJournal({}).value();
  ASSERT_EQ(entries.size(), before + kStagedImportStep + 2 + 1);
  EXPECT_EQ(entries[before].token, "VSST00000002");
  EXPECT_EQ(entries[before + 2].token, "VSST00005000");
  EXPECT_TRUE(entries.back().reason.starts_with("published:")) << entries.back().reason;
  EXPECT_TRUE(service_->Show("VSST00014999").ok());
  EXPECT_TRUE(Check().ok);
}

// A temporary directory that cannot take the spilled entries fails the
// prepared import where it happens; storing it then stores nothing.
TEST_P(JournalTest, APreparedImportWithoutItsTemporaryFileStoresNothing) {
  const char* saved = std::getenv("TMPDIR");
  const std::string restore = saved != nullptr ? saved : "";
  ::setenv("TMPDIR", "/nonexistent/otpgate-test", 1);
  PreparedImport import = service_->PrepareImport();
  if (saved != nullptr) {
    ::setenv("TMPDIR", restore.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  Status added;
  char id[16];
  size_t i = 0;
  for (; i < 200000 && added.ok(); ++i) {  // 16 MiB of records: ~80,000
    std::snprintf(id, sizeof id, "VSST%08zu", i);
    TokenSpec spec;
    spec.credential_id = id;
    added = import.Add(spec, Bytes(kSecret));
  }
  EXPECT_EQ(added.code(), StatusCode::kUnavailable) << "after " << i << " entries";
  EXPECT_NE(added.message().find("/nonexistent/otpgate-test"), std::string::npos)
      << added.message();
  const size_t before = service_->ReadJournal({})->size();
  EXPECT_EQ(service_->ProvisionPrepared(import, nullptr).message(), added.message());
  EXPECT_EQ(service_->Show("VSST00000002").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->ReadJournal({})->size(), before);
  PreparedImport moved = std::move(import);
  EXPECT_EQ(import.Add(TokenSpec(), Bytes(kSecret)).code(), StatusCode::kInternal);  // NOLINT
}

// An ID that a running import is staging (LMDB) is neither skipped as
// existing nor replaced: whoever else wants it is told why it cannot have it.
TEST_P(JournalTest, AnIdBeingImportedIsNotSkippedNorReplaced) {
  if (GetParam() != Backend::kLmdb) GTEST_SKIP() << "PostgreSQL imports in one transaction";
  auto store = Store::Open({.location = config_.store}).value();
  TokenSpec spec;
  spec.credential_id = "HELD0000001";
  Status status = store->WriteStaged(
      "outer",
      [&](const Store::StagedStep& step) -> Status {
        OTPGATE_RETURN_IF_ERROR(step([&](Txn& txn) {
          TokenRecord record;
          record.credential_id = spec.credential_id;
          record.sealed_secret = std::vector<uint8_t>(49, 7);
          return txn.PutToken(record);
        }));
        // A dry run tells it apart from a token that is there, and a new ID.
        EXPECT_EQ(service_->FateOnImport(spec.credential_id).value(),
                  OtpService::ImportFate::kBeingImported);
        EXPECT_EQ(service_->FateOnImport("VSST00000001").value(), OtpService::ImportFate::kExists);
        EXPECT_EQ(service_->FateOnImport("NEW00000001").value(), OtpService::ImportFate::kNew);
        for (bool replace : {false, true}) {
          Status provision = service_->Provision(spec, Bytes(kSecret), replace);
          EXPECT_EQ(provision.code(), StatusCode::kAlreadyExists);
          EXPECT_NE(provision.message().find("being imported by another process"),
                    std::string::npos)
              << provision.ToString();
        }
        OtpService::ImportCounts counts;
        Status import = service_->ProvisionEach(
            [&](const OtpService::TokenPut& put) { return put(spec, Bytes(kSecret)); },
            {.tokens = 1}, /*replace=*/false, &counts);
        EXPECT_NE(import.message().find("being imported by another process"), std::string::npos)
            << import.ToString();
        return Status::Ok();
      },
      [](Txn&) { return Status::Ok(); },
      [](Txn&, std::string_view, const Status&) { return Status::Ok(); });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_TRUE(service_->Show("HELD0000001").ok());
}

// A staged import that fails after its first step was committed (LMDB):
// its staged entries stay, and a last one says it was abandoned and why.
// Here its last ID, stored last in ID order, is held by another import.
TEST_P(JournalTest, AnImportFailingInALaterStepSaysItWasAbandoned) {
  if (GetParam() != Backend::kLmdb) GTEST_SKIP() << "PostgreSQL imports in one transaction";
  auto store = Store::Open({.location = config_.store}).value();
  const std::string held = "ZZZZ0000001";
  const size_t before = service_->ReadJournal({})->size();
  Status status = store->WriteStaged(
      "outer",
      [&](const Store::StagedStep& step) -> Status {
        OTPGATE_RETURN_IF_ERROR(step([&](Txn& txn) {
          TokenRecord record;
          record.credential_id = held;
          record.sealed_secret = std::vector<uint8_t>(49, 7);
          return txn.PutToken(record);
        }));
        Status import = service_->ProvisionEach(
            [&](const OtpService::TokenPut& put) -> Status {
              TokenSpec spec;
              spec.credential_id = held;  // first in the file, last in ID order
              OTPGATE_RETURN_IF_ERROR(put(spec, Bytes(kSecret)));
              char id[16];
              for (size_t i = 0; i < kStagedImportStep + 2; ++i) {
                std::snprintf(id, sizeof id, "VSST%08zu", 500000 + i);
                spec.credential_id = id;
                OTPGATE_RETURN_IF_ERROR(put(spec, Bytes(kSecret)));
              }
              return Status::Ok();
            },
            {.tokens = kStagedImportStep + 3}, /*replace=*/false, nullptr);
        EXPECT_EQ(import.code(), StatusCode::kAlreadyExists) << import.ToString();
        return Status::Ok();
      },
      [](Txn&) { return Status::Ok(); },
      [](Txn&, std::string_view, const Status&) { return Status::Ok(); });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(service_->Show("VSST00500000").status().code(), StatusCode::kNotFound);
  auto entries = service_->ReadJournal({}).value();
  ASSERT_EQ(entries.size(), before + kStagedImportStep + 1) << "one step staged, then abandoned";
  EXPECT_EQ(entries[before].token, "VSST00500000");  // in ID order
  const std::string staged = entries[before].reason;
  ASSERT_TRUE(staged.starts_with("staged:")) << staged;
  EXPECT_EQ(entries.back().reason, "abandoned:" + staged.substr(7));
  EXPECT_EQ(entries.back().outcome, "already-exists");
  EXPECT_TRUE(Check().ok);
}

TEST_P(JournalTest, FilterByTimeUserAndToken) {
  MakeFiveEntries();
  JournalFilter filter;
  filter.user = "alice";
  EXPECT_EQ(service_->ReadJournal(filter)->size(), 4u);  // all but provision
  filter.since = kStart + 30;
  EXPECT_EQ(service_->ReadJournal(filter)->size(), 3u);
  filter = {};
  filter.token = "OTHER";
  EXPECT_TRUE(service_->ReadJournal(filter)->empty());
}

TEST_P(JournalTest, EditedEntryIsFoundWhereItWasEdited) {
  MakeFiveEntries();
  Tamper([](RawJournal& j) {
    std::vector<uint8_t> value = j.Get(3);
    auto entry = DecodeJournalEntry(value).value();
    entry.outcome = "accept";  // a reject rewritten as an accept
    j.Put(3, EncodeJournalEntry(entry));
  });
  JournalCheck check = Check();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 3u);
  EXPECT_NE(check.problem.find("altered"), std::string::npos) << check.problem;
}

TEST_P(JournalTest, RemovedEntryIsFound) {
  MakeFiveEntries();
  Tamper([](RawJournal& j) { j.Del(3); });
  JournalCheck check = Check();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 3u);
  EXPECT_NE(check.problem.find("missing"), std::string::npos) << check.problem;
}

TEST_P(JournalTest, RemovedFirstEntryIsFound) {
  MakeFiveEntries();
  Tamper([](RawJournal& j) { j.Del(1); });
  JournalCheck check = Check();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 1u);
}

TEST_P(JournalTest, RenumberedAfterRemovalIsFound) {
  // Remove entry 3 and move 4 and 5 down to close the gap.
  MakeFiveEntries();
  Tamper([](RawJournal& j) {
    std::vector<uint8_t> four = j.Get(4), five = j.Get(5);
    j.Del(5);
    j.Put(3, four);
    j.Put(4, five);
  });
  JournalCheck check = Check();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 3u);
}

TEST_P(JournalTest, ReorderedEntriesAreFound) {
  MakeFiveEntries();
  Tamper([](RawJournal& j) {
    std::vector<uint8_t> two = j.Get(2), three = j.Get(3);
    j.Put(2, three);
    j.Put(3, two);
  });
  JournalCheck check = Check();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 2u);
  EXPECT_NE(check.problem.find("reordered"), std::string::npos) << check.problem;
}

TEST_P(JournalTest, ReorderedWithRenumberingIsFound) {
  // Swap 2 and 3 and rewrite their sequence fields: the chain breaks at 2.
  MakeFiveEntries();
  Tamper([](RawJournal& j) {
    auto two = DecodeJournalEntry(j.Get(2)).value();
    auto three = DecodeJournalEntry(j.Get(3)).value();
    std::swap(two.sequence, three.sequence);
    j.Put(2, EncodeJournalEntry(three));
    j.Put(3, EncodeJournalEntry(two));
  });
  JournalCheck check = Check();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 2u);
  EXPECT_NE(check.problem.find("altered"), std::string::npos) << check.problem;
}

TEST_P(JournalTest, ForgedWithoutTheKeyIsFound) {
  // An attacker rebuilds entry 5's chain value with another key.
  MakeFiveEntries();
  Tamper([](RawJournal& j) {
    auto five = DecodeJournalEntry(j.Get(5)).value();
    five.user = "mallory";
    five.chain.fill(0x42);
    j.Put(5, EncodeJournalEntry(five));
  });
  EXPECT_EQ(Check().first_bad, 5u);
}

TEST_P(JournalTest, AnotherMasterKeyDoesNotVerify) {
  MakeFiveEntries();
  ASSERT_TRUE(Check().ok);
  // The same entries chained under another key do not verify.
  Journal other(MasterKey::FromBytes(Bytes("0123456789abcdef0123456789abcdef")));
  std::shared_ptr<Store> store =
      Store::Open(StoreOptions{.location = config_.store, .postgres = {.timeout_ms = 10000}})
          .value();
  ASSERT_TRUE(store
                  ->Read([&](Txn& txn) -> Status {
                    JournalCheck check = other.Verify(txn).value();
                    EXPECT_FALSE(check.ok);
                    EXPECT_EQ(check.first_bad, 1u);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_P(JournalTest, PruningKeepsTheRestVerifiable) {
  MakeFiveEntries();  // entries 1-3 at kStart and kStart+30, 4-5 at kStart+60
  clock_.Advance(30);
  auto removed = service_->PruneJournal(kStart + 60);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 3u);
  JournalCheck check = Check();
  EXPECT_TRUE(check.ok) << check.problem;
  EXPECT_EQ(check.checkpoint, 3u);
  EXPECT_EQ(check.first_sequence, 4u);
  EXPECT_EQ(check.entries, 3u);  // 4, 5 and the prune itself
  auto entries = service_->ReadJournal({}).value();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].action, "prune");
  // New entries chain on; removing the first remaining one is still found.
  ASSERT_TRUE(service_->Unlock("VSST00000001").ok());
  EXPECT_TRUE(Check().ok);
  Tamper([](RawJournal& j) { j.Del(4); });
  check = Check();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad, 4u);
}

TEST_P(JournalTest, PruningRefusesABrokenChain) {
  MakeFiveEntries();
  Tamper([](RawJournal& j) { j.Del(2); });
  auto removed = service_->PruneJournal(kStart + 1000);
  EXPECT_EQ(removed.status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(Check().first_bad, 2u) << "nothing was pruned";
}

TEST_P(JournalTest, ForgedCheckpointIsFound) {
  MakeFiveEntries();
  ASSERT_TRUE(service_->PruneJournal(kStart + 60).ok());
  // Someone deletes entries 4-5 and writes a checkpoint at 5 copied from
  // entry 5's chain value: without the key the checkpoint does not verify.
  service_.reset();
  {
    std::shared_ptr<Store> store =
        Store::Open(StoreOptions{.location = config_.store, .postgres = {.timeout_ms = 10000}})
            .value();
    ASSERT_TRUE(store
                    ->Write([&](Txn& txn) -> Status {
                      auto stored = txn.GetMeta("journal-checkpoint").value().value();
                      stored[7] = 5;  // sequence 3 -> 5
                      OTPGATE_RETURN_IF_ERROR(txn.EraseJournalThrough(5));
                      return txn.PutMeta("journal-checkpoint", stored);
                    })
                    .ok());
  }
  Reopen();
  JournalCheck check = Check();
  EXPECT_FALSE(check.ok);
  EXPECT_NE(check.problem.find("checkpoint"), std::string::npos) << check.problem;
}

// Decisions of several servers (here: two services, each with its own
// store handle and so, on PostgreSQL, its own connection pool) on different
// users append to one chain: none fails, none is lost, the chain verifies.
TEST_P(JournalTest, ConcurrentServersAppendToOneChain) {
  std::unique_ptr<OtpService> other = OtpService::Open(config_, clock_).value();
  OtpService* servers[] = {service_.get(), other.get()};
  constexpr int kThreads = 4, kEach = 25;
  std::atomic<int> decided{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto verdict = servers[t % 2]->Verify("user" + std::to_string(t * kEach + i), "123456");
        if (verdict.ok() && verdict->decision == Decision::kNoToken) ++decided;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(decided.load(), kThreads * kEach);
  JournalCheck check = Check();
  EXPECT_TRUE(check.ok) << check.problem;
  EXPECT_EQ(check.entries, 1u + kThreads * kEach);
  EXPECT_EQ(check.last_sequence, 1u + kThreads * kEach);
}

INSTANTIATE_TEST_SUITE_P(Lmdb, JournalTest, ::testing::Values(Backend::kLmdb),
                         testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Postgres, JournalTest, ::testing::Values(Backend::kPostgres),
                         testing::BackendName);

TEST(JournalEncodingTest, RoundTripAndMalformedValues) {
  JournalEntry entry;
  entry.sequence = 7;
  entry.time = -1;
  entry.action = "verify";
  entry.user = std::string(300, 'u');  // cut to 255
  entry.client = "radius";
  entry.chain.fill(9);
  std::vector<uint8_t> bytes = EncodeJournalEntry(entry);
  auto decoded = DecodeJournalEntry(bytes).value();
  EXPECT_EQ(decoded.sequence, 7u);
  EXPECT_EQ(decoded.time, -1);
  EXPECT_EQ(decoded.user, std::string(255, 'u'));
  EXPECT_EQ(decoded.client, "radius");
  EXPECT_EQ(decoded.chain, entry.chain);
  for (size_t cut : {size_t{0}, size_t{10}, bytes.size() - 33, bytes.size() - 1}) {
    EXPECT_EQ(DecodeJournalEntry(std::span(bytes).first(cut)).status().code(), StatusCode::kCorrupt)
        << cut;
  }
  bytes.insert(bytes.end() - 32, 0);
  EXPECT_EQ(DecodeJournalEntry(bytes).status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace otpgate
