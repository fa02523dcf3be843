// PostgreSQL-specific behaviour of the store (pg_store.h): schema versions,
// bounded waits, reconnection, the connection pool, fork(). The contract
// shared with LMDB is tested in store_test.cc. Needs a real PostgreSQL
// (store_backend.h); bound: about 20 s, most of it one private server's
// initdb for the crash test.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "otpgate/store.h"
#include "store_backend.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::TempDir;
using testing::TestPostgres;
using Clock = std::chrono::steady_clock;

TokenRecord Record(const std::string& id) {
  TokenRecord r;
  r.credential_id = id;
  r.sealed_secret = std::vector<uint8_t>(49, 7);
  return r;
}

int64_t MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    server_ = TestPostgres::Shared(&why);
    if (server_ == nullptr) GTEST_SKIP() << why;
    location_ = server_->NewLocation();
  }
  std::shared_ptr<Store> Open(bool create = false, PostgresOptions options = {}) {
    auto store = Store::Open({.location = location_, .create = create, .postgres = options});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }
  static Status IncrementIn(Txn& txn, const std::string& id) {
    OTPGATE_ASSIGN_OR_RETURN(TokenRecord r, txn.GetToken(id));
    ++r.failures;
    return txn.PutToken(r);
  }
  Status Increment(Store& store, const std::string& id) {
    return store.Write([&](Txn& txn) { return IncrementIn(txn, id); });
  }
  // What the store holds, read back in one read: each token's failures by
  // credential ID, and the journal's entries in sequence order.
  struct Contents {
    std::map<std::string, uint32_t> failures;
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> journal;
  };
  static Contents ReadBack(Store& store) {
    Contents contents;
    Status read = store.Read([&](Txn& txn) -> Status {
      OTPGATE_RETURN_IF_ERROR(txn.ForEachToken([&](const TokenRecord& r) {
        contents.failures[r.credential_id] = r.failures;
        return Status::Ok();
      }));
      return txn.ForEachJournalEntry(1, [&](uint64_t s, std::span<const uint8_t> e) {
        contents.journal.emplace_back(s, std::vector<uint8_t>(e.begin(), e.end()));
        return Status::Ok();
      });
    });
    EXPECT_TRUE(read.ok()) << read.ToString();
    return contents;
  }
  // Another session (a stuck transaction on another server) holding every
  // token row; ROLLBACK and PQfinish it to let go.
  PGconn* HoldEveryTokenRow() {
    PGconn* holder = PQconnectdb(location_.c_str());
    EXPECT_EQ(PQstatus(holder), CONNECTION_OK);
    PQclear(PQexec(holder, "BEGIN"));
    PGresult* held = PQexec(holder, "SELECT 1 FROM otpgate_tokens FOR UPDATE");
    EXPECT_EQ(PQresultStatus(held), PGRES_TUPLES_OK);
    PQclear(held);
    return holder;
  }

  TestPostgres* server_ = nullptr;
  std::string location_;
};

// A store as the first PostgreSQL otpgate made it (schema 1: no journal
// table) is refused until otpgate init adds what is new, keeping the data.
TEST_F(PgStoreTest, InitUpgradesAnOlderSchemaAndKeepsTheData) {
  auto store = Open(true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Txn& txn) { return txn.PutToken(Record("KEEP")); }).ok());
  uint8_t version_1[4] = {1, 0, 0, 0};
  ASSERT_TRUE(store->Write([&](Txn& txn) { return txn.PutMeta("pg-schema", version_1); }).ok());
  ASSERT_TRUE(server_->Sql("DROP TABLE otpgate_journal", location_));
  auto stale = Store::Open({.location = location_});
  EXPECT_EQ(stale.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(stale.status().message().find("otpgate init"), std::string::npos);
  store = Open(true);  // otpgate init, again
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(Open(false) != nullptr);
  uint8_t entry[] = {1, 2, 3};
  ASSERT_TRUE(store->Write([&](Txn& txn) { return txn.AppendJournalEntry(1, entry); }).ok());
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_TRUE(txn.HasToken("KEEP"));
                    auto last = txn.LastJournalEntry();
                    EXPECT_TRUE(last.ok() && last->has_value() && (*last)->first == 1u);
                    return Status::Ok();
                  })
                  .ok());
}

// The journal's sequence rules on PostgreSQL, as on LMDB: appends only
// above the last entry; int8's range is checked, never wrapped.
TEST_F(PgStoreTest, JournalAppendsOnlyAboveTheLastEntry) {
  auto store = Open(true);
  ASSERT_NE(store, nullptr);
  uint8_t entry[] = {9};
  ASSERT_TRUE(store->Write([&](Txn& txn) { return txn.AppendJournalEntry(5, entry); }).ok());
  for (uint64_t sequence : {uint64_t{5}, uint64_t{4}}) {
    EXPECT_EQ(
        store->Write([&](Txn& txn) { return txn.AppendJournalEntry(sequence, entry); }).code(),
        StatusCode::kAlreadyExists)
        << sequence;
  }
  EXPECT_EQ(store->Write([&](Txn& txn) { return txn.AppendJournalEntry(uint64_t{1} << 63, entry); })
                .code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(store->Write([&](Txn& txn) { return txn.AppendJournalEntry(6, entry); }).ok());
  std::vector<uint64_t> seen;
  ASSERT_TRUE(store
                  ->Read([&](Txn& txn) {
                    return txn.ForEachJournalEntry(
                        6, [&](uint64_t sequence, std::span<const uint8_t>) {
                          seen.push_back(sequence);
                          return Status::Ok();
                        });
                  })
                  .ok());
  EXPECT_EQ(seen, std::vector<uint64_t>{6});
}

// Token writes and journal appends queued back to back (a group's
// decisions, a bulk copy) go to the server merged, one statement of each
// kind: what is stored, and what is refused, must be what the writes one by
// one would give.
TEST_F(PgStoreTest, WritesQueuedBackToBackStoreAndFailAsOneByOne) {
  auto store = Open(true);
  ASSERT_NE(store, nullptr);
  std::vector<uint8_t> entry = {1, 2, 3};
  auto record = [](int i, uint32_t failures) {
    TokenRecord r = Record("MERGE" + std::to_string(i));
    r.failures = failures;
    return r;
  };
  // 2,500 of each, interleaved, past the queue's flush at 1,000.
  ASSERT_TRUE(store
                  ->Write([&](Txn& txn) -> Status {
                    for (int i = 0; i < 2500; ++i) {
                      OTPGATE_RETURN_IF_ERROR(txn.PutToken(record(i, 10 + i)));
                      entry[0] = static_cast<uint8_t>(i);
                      OTPGATE_RETURN_IF_ERROR(txn.AppendJournalEntry(10 + i, entry));
                    }
                    return Status::Ok();
                  })
                  .ok());
  // The same token twice: the later write wins.
  ASSERT_TRUE(store
                  ->Write([&](Txn& txn) -> Status {
                    OTPGATE_RETURN_IF_ERROR(txn.PutToken(record(0, 2)));
                    OTPGATE_RETURN_IF_ERROR(txn.AppendJournalEntry(2510, entry));
                    OTPGATE_RETURN_IF_ERROR(txn.PutToken(record(1, 2)));
                    OTPGATE_RETURN_IF_ERROR(txn.PutToken(record(0, 3)));
                    return txn.AppendJournalEntry(2511, entry);
                  })
                  .ok());
  // A first sequence not above the last (below the first, or stored), and
  // sequences that descend, are refused with every write of their
  // transaction.
  for (std::vector<uint64_t> sequences :
       {std::vector<uint64_t>{5, 2600}, std::vector<uint64_t>{2511, 2512, 2513},
        std::vector<uint64_t>{2513, 2512}}) {
    Status refused = store->Write([&](Txn& txn) -> Status {
      for (uint64_t sequence : sequences) {
        OTPGATE_RETURN_IF_ERROR(txn.PutToken(record(static_cast<int>(sequence), 9)));
        OTPGATE_RETURN_IF_ERROR(txn.AppendJournalEntry(sequence, entry));
      }
      return Status::Ok();
    });
    EXPECT_EQ(refused.code(), StatusCode::kAlreadyExists) << refused.ToString();
  }
  auto [failures, journal] = ReadBack(*store);
  std::vector<uint64_t> sequences;
  for (const auto& [s, e] : journal) {
    if (s < 2510) {
      ASSERT_EQ(e, (std::vector<uint8_t>{static_cast<uint8_t>(s - 10), 2, 3})) << "entry " << s;
    }
    sequences.push_back(s);
  }
  EXPECT_EQ(failures.size(), 2500u);
  EXPECT_EQ(failures["MERGE0"], 3u);
  EXPECT_EQ(failures["MERGE1"], 2u);
  for (int i = 2; i < 2500; ++i) {  // each record under its own ID
    ASSERT_EQ(failures["MERGE" + std::to_string(i)], static_cast<uint32_t>(10 + i)) << i;
  }
  EXPECT_EQ(failures.count("MERGE2512"), 0u);
  EXPECT_EQ(failures["MERGE5"], 15u);  // stored before, not rewritten
  ASSERT_EQ(sequences.size(), 2502u);
  EXPECT_EQ(sequences.front(), 10u);
  EXPECT_EQ(sequences[2499], 2509u);
  EXPECT_EQ(sequences.back(), 2511u);
}

// A row held by another session (a stuck transaction on another server):
// the decision fails closed within the bound instead of hanging.
TEST_F(PgStoreTest, ALockHeldElsewhereFailsClosedWithinTheBound) {
  auto store = Open(true, {.pool_size = 4, .timeout_ms = 800});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Txn& txn) { return txn.PutToken(Record("HELD")); }).ok());
  PGconn* holder = HoldEveryTokenRow();
  if (::testing::Test::HasFailure()) return;
  auto start = Clock::now();
  Status status = Increment(*store, "HELD");
  int64_t elapsed = MillisecondsSince(start);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_GE(elapsed, 700);
  EXPECT_LT(elapsed, 2000);
  PQclear(PQexec(holder, "ROLLBACK"));
  PQfinish(holder);
  EXPECT_TRUE(Increment(*store, "HELD").ok()) << "the store must recover by itself";
}

// A group's writes reach the server merged with COMMIT, after its members
// ended: a refusal there fails the group, and each member runs again alone,
// where the refusal is its own and the others are stored.
TEST_F(PgStoreTest, AGroupMembersMergedWriteRefusedFailsThatMemberAlone) {
  auto store = Open(true);
  ASSERT_NE(store, nullptr);
  uint8_t entry[] = {7};
  ASSERT_TRUE(store->Write([&](Txn& txn) { return txn.AppendJournalEntry(5, entry); }).ok());
  std::vector<std::function<Status(Txn&)>> fns;
  for (uint64_t sequence : {uint64_t{3}, uint64_t{6}, uint64_t{7}}) {
    fns.push_back([&entry, sequence](Txn& txn) -> Status {
      OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("G" + std::to_string(sequence))));
      return txn.AppendJournalEntry(sequence, entry);
    });
  }
  std::vector<Store::GroupMember> members;
  for (const auto& fn : fns) members.push_back({&fn, {}});
  std::vector<Status> results(members.size());
  ASSERT_TRUE(store->WriteGroup(members, results).ok());
  EXPECT_EQ(results[0].code(), StatusCode::kAlreadyExists) << results[0].ToString();
  EXPECT_TRUE(results[1].ok()) << results[1].ToString();
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  Contents contents = ReadBack(*store);
  std::vector<uint64_t> sequences;
  for (const auto& [s, e] : contents.journal) sequences.push_back(s);
  std::vector<std::string> tokens;
  for (const auto& [id, failures] : contents.failures) tokens.push_back(id);
  EXPECT_EQ(sequences, (std::vector<uint64_t>{5, 6, 7}));
  EXPECT_EQ(tokens, (std::vector<std::string>{"G6", "G7"}));
}

// A group reads its members' tokens in one statement (unordered on the
// server): each member still sees its user's tokens in credential ID order,
// as UserTokenRecords answers everywhere.
TEST_F(PgStoreTest, AGroupsMembersSeeTheirTokensInIdOrder) {
  auto store = Open(true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->Write([](Txn& txn) -> Status {
                    for (const char* id : {"Z9", "M5", "A1"}) {
                      OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record(id)));
                      OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("alice", id));
                      OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record(std::string("B") + id)));
                      OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("bob", std::string("B") + id));
                    }
                    return Status::Ok();
                  })
                  .ok());
  auto ids_of = [](const char* user, std::vector<std::string>& ids) {
    return [user, &ids](Txn& txn) -> Status {
      OTPGATE_ASSIGN_OR_RETURN(auto records, txn.UserTokenRecords(user));
      for (const TokenRecord& r : records) ids.push_back(r.credential_id);
      return Status::Ok();
    };
  };
  std::vector<std::string> alice, bob;
  const std::function<Status(Txn&)> read_alice = ids_of("alice", alice);
  const std::function<Status(Txn&)> read_bob = ids_of("bob", bob);
  std::vector<Store::GroupMember> members = {{&read_alice, "alice"}, {&read_bob, "bob"}};
  std::vector<Status> results(2);
  ASSERT_TRUE(store->WriteGroup(members, results).ok());
  EXPECT_TRUE(results[0].ok() && results[1].ok());
  EXPECT_EQ(alice, (std::vector<std::string>{"A1", "M5", "Z9"}));
  EXPECT_EQ(bob, (std::vector<std::string>{"BA1", "BM5", "BZ9"}));
}

// A group's bound counts from when its earliest member asked to be
// decided (GroupCommit queues a request while the group before it runs):
// a request that waited behind another group does not wait a whole bound
// more. Here the rows are held elsewhere, so each group waits to the end
// of its bound.
TEST_F(PgStoreTest, AGroupFailsClosedWithinItsEarliestMembersBound) {
  auto store = Open(true, {.pool_size = 4, .timeout_ms = 1000});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Txn& txn) { return txn.PutToken(Record("HELD")); }).ok());
  PGconn* holder = HoldEveryTokenRow();
  if (::testing::Test::HasFailure()) return;
  const std::function<Status(Txn&)> increment = [](Txn& txn) { return IncrementIn(txn, "HELD"); };
  for (size_t size : {size_t{1}, size_t{3}}) {
    auto start = Clock::now();
    std::vector<Store::GroupMember> members(size, {&increment, {}, start});
    members.back().asked = start - std::chrono::milliseconds(600);  // queued 600 ms ago
    std::vector<Status> results(size);
    Status status = store->WriteGroup(members, results);
    int64_t elapsed = MillisecondsSince(start);
    Status outcome = !status.ok() ? status : results.back();
    EXPECT_EQ(outcome.code(), StatusCode::kUnavailable)
        << "fails closed, group of " << size << ": " << outcome.ToString();
    EXPECT_GE(elapsed, 300) << "group of " << size;
    EXPECT_LT(elapsed, 800) << "group of " << size << ": the bound ends 400 ms after the start";
  }
  PQclear(PQexec(holder, "ROLLBACK"));
  PQfinish(holder);
  EXPECT_TRUE(Increment(*store, "HELD").ok()) << "the store must recover by itself";
}

// Two hosts whose search_paths differ but find the same store (one has a
// schema of its own first, holding a leftover copy of one of the store's
// tables) share one store: they must take the same write lock (the second
// host's write waits for the first's) and write the same tables.
TEST_F(PgStoreTest, HostsWithDifferentSearchPathsToTheSameTablesExcludeEachOther) {
  auto first = Open(true);
  ASSERT_NE(first, nullptr);
  std::string tables = location_.substr(location_.find("search_path=") + 12);
  tables.pop_back();  // the closing quote
  ASSERT_TRUE(server_->Sql("CREATE SCHEMA " + tables + "_front"));
  ASSERT_TRUE(server_->Sql("CREATE TABLE " + tables + "_front.otpgate_tokens (LIKE " + tables +
                           ".otpgate_tokens INCLUDING ALL)"));
  std::string other_location =
      server_->BaseLocation() + " options='-c search_path=" + tables + "_front," + tables + "'";
  auto second = Store::Open({.location = other_location, .postgres = {.timeout_ms = 5000}});
  ASSERT_TRUE(second.ok()) << second.status().ToString();

  std::atomic<bool> holding{false};
  Clock::time_point first_done;
  std::thread holder([&] {
    Status held = first->Write([&](Txn& txn) -> Status {
      OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("FIRST")));
      // A write is queued until a read needs the server: the read sends
      // BEGIN, the write lock and the write, so the lock is held from here.
      if (!txn.HasToken("FIRST")) return Status::Internal("the queued write was not sent");
      holding = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      first_done = Clock::now();
      return Status::Ok();
    });
    EXPECT_TRUE(held.ok()) << held.ToString();
  });
  for (int i = 0; i < 10000 && !holding; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!holding) {
    holder.join();
    FAIL() << "the first host never held the lock";
  }
  Status written = (*second)->Write([](Txn& txn) { return txn.PutToken(Record("SECOND")); });
  Clock::time_point second_done = Clock::now();
  holder.join();
  ASSERT_TRUE(written.ok()) << written.ToString();
  EXPECT_GE(second_done, first_done) << "the second host wrote while the first held the lock";
  // Both wrote to the one store, not to the leftover table.
  EXPECT_TRUE(first
                  ->Read([](Txn& txn) -> Status {
                    EXPECT_TRUE(txn.HasToken("SECOND"));
                    return Status::Ok();
                  })
                  .ok());
  // init from the second host would create a second store in its own
  // schema; it is refused instead.
  auto init = Store::Open({.location = other_location, .create = true});
  EXPECT_EQ(init.status().code(), StatusCode::kFailedPrecondition) << init.status().ToString();
}

// Two hosts run init at once on an empty database, each search_path naming
// the same two schemas in the other order. Run one after the other, the
// second would find the first's tables and be refused; at once they must do
// the same, not create two stores that each host then finds first.
TEST_F(PgStoreTest, ConcurrentInitsFromCrossedSearchPathsMakeOneStore) {
  std::string base = location_.substr(location_.find("search_path=") + 12);
  base.pop_back();  // the closing quote
  const std::string a = base + "_a", b = base + "_b";
  int both_created = 0;
  for (int round = 0; round < 8; ++round) {
    ASSERT_TRUE(server_->Sql("DROP SCHEMA IF EXISTS " + a + " CASCADE; DROP SCHEMA IF EXISTS " + b +
                             " CASCADE; CREATE SCHEMA " + a + "; CREATE SCHEMA " + b));
    const std::string paths[2] = {a + "," + b, b + "," + a};
    Status results[2];
    std::atomic<int> ready{0};
    std::vector<std::thread> hosts;
    for (int h = 0; h < 2; ++h) {
      hosts.emplace_back([&, h] {
        ++ready;
        while (ready < 2) std::this_thread::yield();
        auto store = Store::Open(
            {.location = server_->BaseLocation() + " options='-c search_path=" + paths[h] + "'",
             .create = true,
             .postgres = {.timeout_ms = 10000}});
        results[h] = store.status();
      });
    }
    for (auto& t : hosts) t.join();
    int created = results[0].ok() + results[1].ok();
    both_created += created == 2;
    EXPECT_EQ(created, 1) << "round " << round << ": " << results[0].ToString() << " / "
                          << results[1].ToString();
    for (const Status& s : results) {
      if (!s.ok()) {
        EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
      }
    }
  }
  EXPECT_EQ(both_created, 0) << "rounds in which both hosts created a store";
}

// A server that accepts the connection and never answers (a hung host).
TEST_F(PgStoreTest, ASilentServerFailsClosedWithinTheBound) {
  TempDir dir;
  int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string socket_path = dir.File(".s.PGSQL.5432");
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  auto start = Clock::now();
  auto store = Store::Open({.location = "host=" + dir.path() + " port=5432 dbname=x user=x",
                            .postgres = {.timeout_ms = 1000}});
  int64_t elapsed = MillisecondsSince(start);
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().ToString();
  EXPECT_GE(elapsed, 900);
  EXPECT_LT(elapsed, 2000);
  ::close(listener);
}

TEST_F(PgStoreTest, ThePoolIsBoundedAndServesMoreThreadsThanConnections) {
  std::string name = "pooltest" + std::to_string(::getpid());
  location_ += " application_name=" + name;  // tells this test's sessions apart
  auto store = Open(true, {.pool_size = 2, .timeout_ms = 5000});
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Txn& txn) { return txn.PutToken(Record("P")); }).ok());
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (!Increment(*store, "P").ok()) ++failed;
      }
    });
  }
  // While they run: this process never holds more than 2 sessions.
  int most = 0;
  for (int i = 0; i < 20; ++i) {
    auto count = server_->Query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + name + "'",
        server_->BaseLocation());
    if (count.has_value()) most = std::max(most, std::stoi(*count));
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(most, 1) << "the sessions were not observed";
  EXPECT_LE(most, 2) << "a pool of 2 opened more sessions";
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_EQ(txn.GetToken("P").value().failures, 80u);
                    return Status::Ok();
                  })
                  .ok());
}

// A child after fork() uses the inherited store object: it must open its
// own sessions and leave the parent's alone (closing them would end them).
TEST_F(PgStoreTest, AForkedChildLeavesTheParentsSessionsAlone) {
  auto store = Open(true);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Txn& txn) { return txn.PutToken(Record("F")); }).ok());
  pid_t pid = ::fork();
  if (pid == 0) {
    bool ok = Increment(*store, "F").ok();
    store.reset();  // destroys the child's copy of the pool
    _exit(ok ? 0 : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  EXPECT_TRUE(Increment(*store, "F").ok());
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_EQ(txn.GetToken("F").value().failures, 2u);
                    return Status::Ok();
                  })
                  .ok());
}

// kill -9 of the postmaster under load: every request fails closed within
// the bound and none succeeds without its commit; after a restart the same
// store object works again (no restart of the host process).
TEST(PgStoreCrashTest, KilledServerFailsClosedThenRecovers) {
  std::string why;
  auto server = TestPostgres::Start(&why);
  if (server == nullptr) GTEST_SKIP() << why;
  std::string location = server->NewLocation();
  auto store =
      Store::Open(
          {.location = location, .create = true, .postgres = {.pool_size = 4, .timeout_ms = 1000}})
          .value();
  ASSERT_TRUE(store->Write([](Txn& txn) { return txn.PutToken(Record("K")); }).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0}, failed{0};
  std::atomic<int64_t> slowest_failure{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&] {
      while (!stop) {
        auto start = Clock::now();
        Status s = store->Write([](Txn& txn) -> Status {
          OTPGATE_ASSIGN_OR_RETURN(TokenRecord r, txn.GetToken("K"));
          ++r.failures;
          return txn.PutToken(r);
        });
        if (s.ok()) {
          ++committed;
        } else {
          ++failed;
          int64_t ms = MillisecondsSince(start);
          if (ms > slowest_failure) slowest_failure = ms;
          EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(server->Kill());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  int committed_while_down = committed.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(committed.load(), committed_while_down) << "a write succeeded with the server dead";
  ASSERT_TRUE(server->Restart());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_GT(failed.load(), 0);
  EXPECT_LT(slowest_failure.load(), 2000) << "a request waited longer than the bound";
  EXPECT_GT(committed.load(), committed_while_down) << "no recovery after the restart";
  // Every OK was committed: the counter holds at least as many increments
  // (a commit whose answer was lost in the crash may add one more each).
  ASSERT_TRUE(store
                  ->Read([&](Txn& txn) {
                    uint32_t stored = txn.GetToken("K").value().failures;
                    EXPECT_GE(stored, static_cast<uint32_t>(committed.load()));
                    EXPECT_LE(stored, static_cast<uint32_t>(committed.load() + 4));
                    return Status::Ok();
                  })
                  .ok());
}

}  // namespace
}  // namespace otpgate
