// The Store contract (store.h), run against every backend: LMDB (label
// unit) and PostgreSQL (label postgres). Backend-specific behaviour is in
// lmdb_store_test.cc and pg_store_test.cc.
#include "otpgate/store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "store_backend.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::Backend;
using testing::TempDir;

TokenRecord Record(const std::string& id, size_t secret_bytes = 49) {
  TokenRecord r;
  r.credential_id = id;
  r.sealed_secret = std::vector<uint8_t>(secret_bytes, 7);
  return r;
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string why;
    auto location = testing::FreshLocation(GetParam(), dir_, &why);
    if (!location.has_value()) GTEST_SKIP() << why;
    location_ = *location;
  }
  std::shared_ptr<Store> Create() {
    auto store = Store::Open({.location = location_, .create = true});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  TempDir dir_;
  std::string location_;
};

TEST_P(StoreTest, MissingStoreIsUnavailable) {
  auto store = Store::Open({.location = location_});
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().ToString();
}

TEST_P(StoreTest, RoundTripsTokensUsersAndMeta) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->Write([](Txn& txn) {
                    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("A1")));
                    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("B2")));
                    OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("alice", "A2"));
                    OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("alice", "A1"));
                    uint8_t value[3] = {1, 0, 2};
                    OTPGATE_RETURN_IF_ERROR(txn.PutMeta("test", value));
                    return txn.AddUserToken("alice", "A1");  // duplicate: no-op
                  })
                  .ok());
  ASSERT_TRUE(
      store
          ->Read([](Txn& txn) -> Status {
            EXPECT_TRUE(txn.GetToken("A1").ok());
            EXPECT_EQ(txn.GetToken("B").status().code(), StatusCode::kNotFound);
            EXPECT_EQ(txn.UserTokens("alice").value(), (std::vector<std::string>{"A1", "A2"}));
            EXPECT_TRUE(txn.UserTokens("nobody").value().empty());
            EXPECT_EQ(txn.GetMeta("test").value(), (std::vector<uint8_t>{1, 0, 2}));
            EXPECT_FALSE(txn.GetMeta("absent").value().has_value());
            std::vector<std::string> ids;
            EXPECT_TRUE(txn.ForEachToken([&](const TokenRecord& r) {
                             ids.push_back(r.credential_id);
                             return Status::Ok();
                           })
                            .ok());
            EXPECT_EQ(ids, (std::vector<std::string>{"A1", "B2"}));
            EXPECT_FALSE(txn.PutToken(Record("X")).ok()) << "read-only transaction wrote";
            return Status::Ok();
          })
          .ok());
  ASSERT_TRUE(store
                  ->Write([](Txn& txn) {
                    OTPGATE_RETURN_IF_ERROR(txn.RemoveUserToken("alice", "A2"));
                    OTPGATE_RETURN_IF_ERROR(txn.RemoveUserToken("alice", "absent"));  // no-op
                    return txn.DeleteToken("B2");
                  })
                  .ok());
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_EQ(txn.UserTokens("alice").value(), (std::vector<std::string>{"A1"}));
                    EXPECT_FALSE(txn.HasToken("B2"));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(store->Write([](Txn& txn) { return txn.DeleteToken("B2"); }).code(),
            StatusCode::kNotFound);
}

// UserTokenRecords is UserTokens and GetToken in one call, in reads and in
// writes; a binding to a token that is not stored is a broken index.
TEST_P(StoreTest, UserTokenRecordsAreTheBoundTokensInIdOrder) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->Write([](Txn& txn) {
                    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("B2")));
                    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("A1")));
                    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("C3")));
                    OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("alice", "B2"));
                    OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("alice", "A1"));
                    return txn.AddUserToken("broken", "GONE");
                  })
                  .ok());
  auto check = [](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(std::vector<TokenRecord> records, txn.UserTokenRecords("alice"));
    std::vector<std::string> ids;
    for (const TokenRecord& r : records) {
      ids.push_back(r.credential_id);
      EXPECT_EQ(r.sealed_secret, Record(r.credential_id).sealed_secret);
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"A1", "B2"}));
    EXPECT_TRUE(txn.UserTokenRecords("nobody").value().empty());
    EXPECT_EQ(txn.UserTokenRecords("broken").status().code(), StatusCode::kCorrupt);
    return Status::Ok();
  };
  EXPECT_TRUE(store->Read(check).ok());
  // The same in a write transaction (PostgreSQL: the form that locks the
  // token rows).
  EXPECT_TRUE(store
                  ->Write([&](Txn& txn) -> Status {
                    OTPGATE_ASSIGN_OR_RETURN(auto records, txn.UserTokenRecords("alice"));
                    EXPECT_EQ(records.size(), 2u);
                    if (records.size() == 2) {
                      EXPECT_EQ(records[0].credential_id, "A1");
                      EXPECT_EQ(records[1].credential_id, "B2");
                    }
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(store->Write([](Txn& txn) { return txn.UserTokenRecords("broken").status(); }).code(),
            StatusCode::kCorrupt);
  // The same as a read of its own (PostgreSQL: one statement, no BEGIN and
  // COMMIT), again and again on the pooled session, and a write after them.
  for (int i = 0; i < 20; ++i) {
    auto alice = store->ReadUserTokenRecords("alice");
    ASSERT_TRUE(alice.ok()) << alice.status().ToString();
    ASSERT_EQ(alice->size(), 2u);
    EXPECT_EQ((*alice)[0].credential_id, "A1");
    EXPECT_EQ((*alice)[1].credential_id, "B2");
    EXPECT_TRUE(store->ReadUserTokenRecords("nobody").value().empty());
    EXPECT_EQ(store->ReadUserTokenRecords("broken").status().code(), StatusCode::kCorrupt);
  }
  EXPECT_TRUE(store->Write([](Txn& txn) { return txn.RemoveUserToken("alice", "B2"); }).ok());
  EXPECT_EQ(store->ReadUserTokenRecords("alice").value().size(), 1u);
}

TEST_P(StoreTest, FailedWriteChangesNothing) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  Status status = store->Write([](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("A1")));
    return Status::InvalidArgument("changed my mind");
  });
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_FALSE(txn.HasToken("A1"));
                    return Status::Ok();
                  })
                  .ok());
}

TEST_P(StoreTest, WriteGroupIsolatesAFailingMember) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  std::function<Status(Txn&)> put_a = [](Txn& txn) { return txn.PutToken(Record("A")); };
  std::function<Status(Txn&)> put_b_then_fail = [](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("B")));
    return Status::InvalidArgument("bad request");
  };
  // Sees A, written by an earlier member of the same group.
  std::function<Status(Txn&)> put_c_if_a = [](Txn& txn) -> Status {
    if (!txn.HasToken("A")) return Status::Internal("A not visible");
    return txn.PutToken(Record("C"));
  };
  std::vector<Store::GroupMember> fns = {{&put_a, {}}, {&put_b_then_fail, {}}, {&put_c_if_a, {}}};
  std::vector<Status> results(3);
  ASSERT_TRUE(store->WriteGroup(fns, results).ok());
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_TRUE(txn.HasToken("A"));
                    EXPECT_FALSE(txn.HasToken("B"));
                    EXPECT_TRUE(txn.HasToken("C"));
                    return Status::Ok();
                  })
                  .ok());
}

// A group of one (a backend may run it without a savepoint): its failure is
// its result, the group itself succeeds, and nothing of it is stored; its
// success is stored.
TEST_P(StoreTest, WriteGroupOfOneReportsItsMemberAndStoresOnlySuccess) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  std::function<Status(Txn&)> put_then_fail = [](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("FAILED")));
    return Status::InvalidArgument("bad request");
  };
  std::function<Status(Txn&)> put = [](Txn& txn) { return txn.PutToken(Record("STORED")); };
  std::vector<Store::GroupMember> failing = {{&put_then_fail, {}}};
  std::vector<Status> results(1);
  ASSERT_TRUE(store->WriteGroup(failing, results).ok());
  EXPECT_EQ(results[0].code(), StatusCode::kInvalidArgument);
  std::vector<Store::GroupMember> succeeding = {{&put, {}}};
  ASSERT_TRUE(store->WriteGroup(succeeding, results).ok());
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_FALSE(txn.HasToken("FAILED"));
                    EXPECT_TRUE(txn.HasToken("STORED"));
                    return Status::Ok();
                  })
                  .ok());
}

// A member whose write the store itself refuses (a journal sequence that is
// not new) fails alone and with that error, also where writes reach the
// server only later (PostgreSQL sends them with the member's next read or
// at its end); the members before and after it are stored.
TEST_P(StoreTest, WriteGroupMemberWhoseWriteIsRefusedFailsAlone) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  const std::vector<uint8_t> entry = {7};
  std::function<Status(Txn&)> first = [&](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("A")));
    return txn.AppendJournalEntry(1, entry);
  };
  std::function<Status(Txn&)> refused = [&](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("B")));
    return txn.AppendJournalEntry(1, entry);  // not above the last: refused
  };
  std::function<Status(Txn&)> third = [&](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("C")));
    return txn.AppendJournalEntry(2, entry);
  };
  // Users named (PostgreSQL then reads ahead): the refusal is still the member's.
  std::vector<Store::GroupMember> fns = {{&first, "alice"}, {&refused, {}}, {&third, "bob"}};
  std::vector<Status> results(3);
  ASSERT_TRUE(store->WriteGroup(fns, results).ok());
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_EQ(results[1].code(), StatusCode::kAlreadyExists) << results[1].ToString();
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) -> Status {
                    EXPECT_TRUE(txn.HasToken("A"));
                    EXPECT_FALSE(txn.HasToken("B"));
                    EXPECT_TRUE(txn.HasToken("C"));
                    OTPGATE_ASSIGN_OR_RETURN(auto last, txn.LastJournalEntry());
                    EXPECT_TRUE(last.has_value() && last->first == 2);
                    return Status::Ok();
                  })
                  .ok());
}

// A group of one whose write the store refuses: the refusal is the
// member's result and the group succeeds (nothing stored), as for larger
// groups, also where the write reaches the server only with COMMIT.
TEST_P(StoreTest, WriteGroupOfOneWhoseWriteIsRefusedReportsItAsItsResult) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  const std::vector<uint8_t> entry = {7};
  ASSERT_TRUE(store->Write([&](Txn& txn) { return txn.AppendJournalEntry(1, entry); }).ok());
  std::function<Status(Txn&)> refused = [&](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("B")));
    return txn.AppendJournalEntry(1, entry);  // not above the last: refused
  };
  std::vector<Store::GroupMember> fns = {{&refused, {}}};
  std::vector<Status> results(1);
  EXPECT_TRUE(store->WriteGroup(fns, results).ok());
  EXPECT_EQ(results[0].code(), StatusCode::kAlreadyExists) << results[0].ToString();
  EXPECT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_FALSE(txn.HasToken("B"));
                    return Status::Ok();
                  })
                  .ok());
}

// What a transaction changed in the journal is what it then reads as the
// journal's end, even before anything was read (a backend that reads the
// end ahead must not hand out that earlier read).
TEST_P(StoreTest, JournalEndReadAfterAnEraseOrAppendInTheSameWriteSeesIt) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  const std::vector<uint8_t> entry = {7};
  for (uint64_t sequence : {1, 2, 3}) {
    ASSERT_TRUE(
        store->Write([&](Txn& txn) { return txn.AppendJournalEntry(sequence, entry); }).ok());
  }
  EXPECT_TRUE(store
                  ->Write([&](Txn& txn) -> Status {
                    OTPGATE_RETURN_IF_ERROR(txn.EraseJournalThrough(3));
                    OTPGATE_ASSIGN_OR_RETURN(auto last, txn.LastJournalEntry());
                    EXPECT_FALSE(last.has_value()) << "the erased entry " << last->first;
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_TRUE(store
                  ->Write([&](Txn& txn) -> Status {
                    OTPGATE_RETURN_IF_ERROR(txn.AppendJournalEntry(4, entry));
                    OTPGATE_RETURN_IF_ERROR(txn.EraseJournalThrough(4));
                    OTPGATE_ASSIGN_OR_RETURN(auto last, txn.LastJournalEntry());
                    EXPECT_FALSE(last.has_value()) << "entry " << last->first;
                    return Status::Ok();
                  })
                  .ok());
}

// A member that appended to the journal and then failed leaves no entry,
// and the next member appends where the journal really ends (a backend that
// remembers the tail it appended must forget it on the rollback).
TEST_P(StoreTest, WriteGroupMemberThatFailsAfterAppendingLeavesNoJournalGap) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  auto append_next = [](Txn& txn, uint8_t tag) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(auto last, txn.LastJournalEntry());
    uint64_t next = last.has_value() ? last->first + 1 : 1;
    std::vector<uint8_t> entry = {tag};
    return txn.AppendJournalEntry(next, entry);
  };
  std::function<Status(Txn&)> first = [&](Txn& txn) { return append_next(txn, 1); };
  std::function<Status(Txn&)> fails = [&](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(append_next(txn, 2));
    return Status::InvalidArgument("bad request");
  };
  std::function<Status(Txn&)> third = [&](Txn& txn) { return append_next(txn, 3); };
  std::vector<Store::GroupMember> fns = {{&first, {}}, {&fails, {}}, {&third, {}}};
  std::vector<Status> results(3);
  ASSERT_TRUE(store->WriteGroup(fns, results).ok());
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_EQ(results[1].code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  std::vector<std::pair<uint64_t, uint8_t>> entries;
  ASSERT_TRUE(store
                  ->Read([&](Txn& txn) {
                    return txn.ForEachJournalEntry(
                        0, [&](uint64_t sequence, std::span<const uint8_t> bytes) {
                          entries.emplace_back(sequence, bytes.empty() ? 0 : bytes[0]);
                          return Status::Ok();
                        });
                  })
                  .ok());
  std::vector<std::pair<uint64_t, uint8_t>> expected = {{1, 1}, {2, 3}};
  EXPECT_EQ(entries, expected);
}

// Members that name their users (a backend may read every named user's
// tokens at the group's start) read what the members before them wrote:
// a changed record, a binding removed or added; a failed member's change
// is gone for the members after it; a member naming no user reads the
// same. Everything is as stored at the end.
TEST_P(StoreTest, WriteGroupMembersReadTheChangesOfMembersBeforeThem) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->Write([](Txn& txn) -> Status {
                    for (const char* id : {"T1", "T2", "T3"}) {
                      OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record(id)));
                    }
                    OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("alice", "T1"));
                    OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("alice", "T2"));
                    return txn.AddUserToken("bob", "T3");
                  })
                  .ok());
  // The last-accepted counters of `user`'s tokens, in ID order.
  auto counters = [](Txn& txn, std::string_view user) -> Result<std::vector<int64_t>> {
    OTPGATE_ASSIGN_OR_RETURN(std::vector<TokenRecord> records, txn.UserTokenRecords(user));
    std::vector<int64_t> out;
    for (const TokenRecord& r : records) out.push_back(r.last_accepted);
    return out;
  };
  auto set_counter = [](Txn& txn, std::string_view id, int64_t value) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, txn.GetToken(id));
    record.last_accepted = value;
    return txn.PutToken(record);
  };
  const int64_t fresh = Record("T1").last_accepted;  // as stored above
  std::vector<std::vector<int64_t>> seen(7);
  std::function<Status(Txn&)> alice_accepts = [&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(seen[0], counters(txn, "alice"));
    return set_counter(txn, "T1", 5);
  };
  std::function<Status(Txn&)> alice_again = [&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(seen[1], counters(txn, "alice"));
    return Status::Ok();
  };
  std::function<Status(Txn&)> bob_unbinds = [&](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.RemoveUserToken("bob", "T3"));
    OTPGATE_ASSIGN_OR_RETURN(seen[2], counters(txn, "bob"));
    return Status::Ok();
  };
  std::function<Status(Txn&)> carol_binds = [&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(std::vector<int64_t> before, counters(txn, "carol"));
    if (!before.empty()) return Status::Internal("carol had tokens");
    OTPGATE_RETURN_IF_ERROR(txn.AddUserToken("carol", "T3"));
    OTPGATE_ASSIGN_OR_RETURN(seen[3], counters(txn, "carol"));
    return Status::Ok();
  };
  std::function<Status(Txn&)> alice_fails = [&](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(set_counter(txn, "T2", 9));
    OTPGATE_ASSIGN_OR_RETURN(seen[4], counters(txn, "alice"));
    return Status::InvalidArgument("bad request");
  };
  std::function<Status(Txn&)> alice_after_failure = [&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(seen[5], counters(txn, "alice"));
    return Status::Ok();
  };
  std::function<Status(Txn&)> unnamed_reads_alice = [&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(seen[6], counters(txn, "alice"));
    return Status::Ok();
  };
  std::vector<Store::GroupMember> members = {
      {&alice_accepts, "alice"}, {&alice_again, "alice"}, {&bob_unbinds, "bob"},
      {&carol_binds, "carol"},   {&alice_fails, "alice"}, {&alice_after_failure, "alice"},
      {&unnamed_reads_alice, {}}};
  std::vector<Status> results(members.size());
  ASSERT_TRUE(store->WriteGroup(members, results).ok());
  for (size_t i = 0; i < results.size(); ++i) {
    if (i == 4) {
      EXPECT_EQ(results[i].code(), StatusCode::kInvalidArgument);
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].ToString();
    }
  }
  using Counters = std::vector<int64_t>;
  EXPECT_EQ(seen[0], (Counters{fresh, fresh}));
  EXPECT_EQ(seen[1], (Counters{5, fresh}));
  EXPECT_EQ(seen[2], Counters{});
  EXPECT_EQ(seen[3], Counters{fresh});
  EXPECT_EQ(seen[4], (Counters{5, 9}));
  EXPECT_EQ(seen[5], (Counters{5, fresh}));
  EXPECT_EQ(seen[6], (Counters{5, fresh}));
  ASSERT_TRUE(store
                  ->Read([&](Txn& txn) -> Status {
                    OTPGATE_ASSIGN_OR_RETURN(Counters alice, counters(txn, "alice"));
                    EXPECT_EQ(alice, (Counters{5, fresh}));
                    OTPGATE_ASSIGN_OR_RETURN(Counters bob, counters(txn, "bob"));
                    EXPECT_EQ(bob, Counters{});
                    OTPGATE_ASSIGN_OR_RETURN(Counters carol, counters(txn, "carol"));
                    EXPECT_EQ(carol, Counters{fresh});
                    return Status::Ok();
                  })
                  .ok());
}

// A token removed by an earlier member of the group is, for a later member
// whose user is still bound to it, a token that is not stored (kCorrupt), as
// it would be in a transaction of its own; that member fails alone.
TEST_P(StoreTest, WriteGroupMemberReadsATokenRemovedBeforeItAsNotStored) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store
                  ->Write([](Txn& txn) -> Status {
                    OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("T1")));
                    return txn.AddUserToken("bob", "T1");
                  })
                  .ok());
  std::function<Status(Txn&)> remove = [](Txn& txn) { return txn.DeleteToken("T1"); };
  std::function<Status(Txn&)> read_bob = [](Txn& txn) -> Status {
    return txn.UserTokenRecords("bob").status();
  };
  std::vector<Store::GroupMember> members = {{&remove, "bob"}, {&read_bob, "bob"}};
  std::vector<Status> results(members.size());
  ASSERT_TRUE(store->WriteGroup(members, results).ok());
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_EQ(results[1].code(), StatusCode::kCorrupt) << results[1].ToString();
}

// And the other way round: a token stored by an earlier member is read by
// a later member whose user was bound to it before it was stored.
TEST_P(StoreTest, WriteGroupMemberReadsATokenStoredBeforeIt) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Txn& txn) { return txn.AddUserToken("bob", "T1"); }).ok());
  std::function<Status(Txn&)> put = [](Txn& txn) { return txn.PutToken(Record("T1")); };
  size_t read = 0;
  std::function<Status(Txn&)> read_bob = [&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(std::vector<TokenRecord> records, txn.UserTokenRecords("bob"));
    read = records.size();
    return Status::Ok();
  };
  std::vector<Store::GroupMember> members = {{&put, "bob"}, {&read_bob, "bob"}};
  std::vector<Status> results(members.size());
  ASSERT_TRUE(store->WriteGroup(members, results).ok());
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_TRUE(results[1].ok()) << results[1].ToString();
  EXPECT_EQ(read, 1u);
}

// Read-modify-write from many threads and two store handles (two "servers"
// for PostgreSQL, one shared environment for LMDB): no update is lost.
TEST_P(StoreTest, ConcurrentWritersLoseNoUpdate) {
  auto a = Create();
  ASSERT_NE(a, nullptr);
  auto b = Store::Open({.location = location_}).value();
  ASSERT_TRUE(a->Write([](Txn& txn) { return txn.PutToken(Record("CTR")); }).ok());
  constexpr int kThreads = 8, kIncrements = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < kIncrements; ++i) {
        Status s = store.Write([](Txn& txn) -> Status {
          OTPGATE_ASSIGN_OR_RETURN(TokenRecord r, txn.GetToken("CTR"));
          ++r.failures;
          return txn.PutToken(r);
        });
        if (!s.ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(a->Read([&](Txn& txn) {
                 EXPECT_EQ(txn.GetToken("CTR").value().failures, uint32_t{kThreads * kIncrements});
                 return Status::Ok();
               }).ok());
}

// Two writers that both find a token absent cannot both create it.
TEST_P(StoreTest, CreateIfAbsentHasOneWinner) {
  auto a = Create();
  ASSERT_NE(a, nullptr);
  auto b = Store::Open({.location = location_}).value();
  for (int round = 0; round < 20; ++round) {
    std::string id = "N" + std::to_string(round);
    std::atomic<int> created{0};
    auto create = [&](Store& store) {
      Status s = store.Write([&](Txn& txn) -> Status {
        if (txn.HasToken(id)) return Status::AlreadyExists(id);
        return txn.PutToken(Record(id));
      });
      if (s.ok()) ++created;
    };
    std::thread t1(create, std::ref(*a)), t2(create, std::ref(*b));
    t1.join();
    t2.join();
    EXPECT_EQ(created.load(), 1) << "round " << round;
  }
}

TEST_P(StoreTest, RejectsUnknownSchema) {
  {
    auto store = Create();
    ASSERT_NE(store, nullptr);
    // 2 is LMDB's schema after a staged import (lmdb_staged_import.h): 3
    // is unknown to every backend.
    uint8_t v3[4] = {3, 0, 0, 0};
    ASSERT_TRUE(store->Write([&](Txn& txn) { return txn.PutMeta("schema", v3); }).ok());
  }
  // A fresh process: LMDB would hand this one its cached environment.
  pid_t pid = ::fork();
  if (pid == 0) {
    auto store = Store::Open({.location = location_});
    _exit(store.status().code() == StatusCode::kCorrupt ? 0 : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

// The journal's contract (store.h): strictly increasing sequences, walks in
// order from any point (PostgreSQL pages through 1,000 rows at a time: the
// walk crosses pages), erase through a sequence, the last entry.
TEST_P(StoreTest, JournalAppendsWalksAndErasesInOrder) {
  // 2,500 statements in one transaction: more than the default bound on a
  // loaded machine.
  auto opened =
      Store::Open({.location = location_, .create = true, .postgres = {.timeout_ms = 20000}});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::shared_ptr<Store> store = *opened;
  constexpr uint64_t kEntries = 2500;
  ASSERT_TRUE(store
                  ->Write([&](Txn& txn) -> Status {
                    for (uint64_t sequence = 1; sequence <= kEntries; ++sequence) {
                      uint8_t entry[] = {static_cast<uint8_t>(sequence),
                                         static_cast<uint8_t>(sequence >> 8)};
                      OTPGATE_RETURN_IF_ERROR(txn.AppendJournalEntry(sequence, entry));
                    }
                    return Status::Ok();
                  })
                  .ok());
  uint8_t again[] = {0};
  EXPECT_EQ(store->Write([&](Txn& txn) { return txn.AppendJournalEntry(kEntries, again); }).code(),
            StatusCode::kAlreadyExists);
  auto walk = [&](uint64_t from) {
    std::vector<uint64_t> seen;
    Status status = store->Read([&](Txn& txn) {
      seen.clear();
      return txn.ForEachJournalEntry(from, [&](uint64_t sequence, std::span<const uint8_t> e) {
        EXPECT_EQ(e.size(), 2u);
        if (e.size() == 2) {
          EXPECT_EQ(e[0] | e[1] << 8, static_cast<int>(sequence & 0xffff));
        }
        seen.push_back(sequence);
        return Status::Ok();
      });
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return seen;
  };
  std::vector<uint64_t> all = walk(0);
  ASSERT_EQ(all.size(), kEntries);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(all.front(), 1u);
  EXPECT_EQ(walk(1200).size(), kEntries - 1199);
  ASSERT_TRUE(store->Write([](Txn& txn) { return txn.EraseJournalThrough(2000); }).ok());
  std::vector<uint64_t> rest = walk(0);
  ASSERT_EQ(rest.size(), kEntries - 2000);
  EXPECT_EQ(rest.front(), 2001u);
  ASSERT_TRUE(store
                  ->Read([&](Txn& txn) -> Status {
                    OTPGATE_ASSIGN_OR_RETURN(auto last, txn.LastJournalEntry());
                    EXPECT_TRUE(last.has_value() && last->first == kEntries);
                    return Status::Ok();
                  })
                  .ok());
}

// ConsumeChallenge (store.h): a nonce is consumed once, in or across
// transactions; expired entries are pruned by later calls (a few per call),
// after which their nonce counts as new; malformed nonces and read-only
// transactions are refused.
TEST_P(StoreTest, ConsumeChallengeMarksEachNonceOnceAndPrunesExpired) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  auto nonce = [](uint8_t n) { return std::vector<uint8_t>(16, n); };
  auto consume = [&](uint8_t n, int64_t expires, int64_t now) -> Result<bool> {
    bool first = false;
    Status status = store->Write([&](Txn& txn) -> Status {
      OTPGATE_ASSIGN_OR_RETURN(first, txn.ConsumeChallenge(nonce(n), expires, now));
      return Status::Ok();
    });
    if (!status.ok()) return status;
    return first;
  };
  EXPECT_TRUE(consume(1, 1000, 900).value());
  EXPECT_FALSE(consume(1, 1000, 900).value()) << "replay";
  EXPECT_FALSE(consume(1, 5000, 950).value()) << "whatever expiry the replay claims";
  ASSERT_TRUE(store
                  ->Write([&](Txn& txn) -> Status {
                    EXPECT_TRUE(txn.ConsumeChallenge(nonce(2), 1000, 900).value());
                    EXPECT_FALSE(txn.ConsumeChallenge(nonce(2), 1000, 900).value())
                        << "in one transaction";
                    return Status::Ok();
                  })
                  .ok());
  // An aborted transaction consumes nothing.
  EXPECT_FALSE(store
                   ->Write([&](Txn& txn) -> Status {
                     EXPECT_TRUE(txn.ConsumeChallenge(nonce(3), 1000, 900).value());
                     return Status::Internal("abort");
                   })
                   .ok());
  EXPECT_TRUE(consume(3, 1000, 900).value());
  // Nonces 1-3 expired at 1000. Calls at 2000 prune them (a few per call):
  // after enough calls, they are new again; the nonce that has not expired
  // stays consumed.
  EXPECT_TRUE(consume(4, 3000, 1000).value());
  for (uint8_t n = 10; n < 20; ++n) EXPECT_TRUE(consume(n, 3000, 2000).value());
  EXPECT_TRUE(consume(1, 3000, 2000).value()) << "pruned, so unknown again";
  EXPECT_TRUE(consume(2, 3000, 2000).value());
  EXPECT_FALSE(consume(4, 3000, 2000).value()) << "not expired: kept";
  for (size_t size : {size_t{0}, size_t{15}, size_t{17}}) {
    Status status = store->Write([&](Txn& txn) -> Status {
      return txn.ConsumeChallenge(std::vector<uint8_t>(size, 5), 1000, 900).status();
    });
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << size;
  }
  EXPECT_FALSE(store
                   ->Read([&](Txn& txn) -> Status {
                     return txn.ConsumeChallenge(nonce(6), 1000, 900).status();
                   })
                   .ok())
      << "a read-only transaction refuses";
}

// Several store handles (on PostgreSQL: several connection pools, as
// several servers have) race to consume the same nonces: one winner each.
TEST_P(StoreTest, RacingConsumersOfOneNonceHaveOneWinner) {
  auto first = Create();
  ASSERT_NE(first, nullptr);
  std::vector<std::shared_ptr<Store>> stores = {first, Create(), Create(), Create()};
  constexpr int kNonces = 50;
  std::vector<std::atomic<int>> winners(kNonces);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < stores.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < kNonces; ++n) {
        std::vector<uint8_t> nonce(16, static_cast<uint8_t>(n));
        bool won = false;
        Status status = stores[t]->Write([&](Txn& txn) -> Status {
          OTPGATE_ASSIGN_OR_RETURN(won, txn.ConsumeChallenge(nonce, 1000, 900));
          return Status::Ok();
        });
        if (!status.ok()) ++errors;
        if (status.ok() && won) ++winners[n];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  for (int n = 0; n < kNonces; ++n) EXPECT_EQ(winners[n].load(), 1) << "nonce " << n;
}

// The IDs of every visible token, in order.
std::vector<std::string> VisibleIds(Store& store) {
  std::vector<std::string> ids;
  EXPECT_TRUE(store
                  .Read([&](Txn& txn) {
                    ids.clear();
                    return txn.ForEachToken([&](const TokenRecord& r) {
                      EXPECT_EQ(r.staged_by, 0u) << r.credential_id;
                      ids.push_back(r.credential_id);
                      return Status::Ok();
                    });
                  })
                  .ok());
  return ids;
}

TEST_P(StoreTest, AStagedWriteIsSeenByNobodyUntilItIsPublished) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Txn& txn) { return txn.PutToken(Record("LIVE")); }).ok());
  int produced = 0;
  Status status = store->WriteStaged(
      "published",
      [&](const Store::StagedStep& step) -> Status {
        ++produced;
        OTPGATE_RETURN_IF_ERROR(step([](Txn& txn) {
          OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("S1")));
          EXPECT_TRUE(txn.GetToken("S1").ok()) << "a step sees its own import";
          return txn.PutToken(Record("S2"));
        }));
        // Between steps (LMDB: after the first one's commit), from outside.
        EXPECT_EQ(VisibleIds(*store), std::vector<std::string>{"LIVE"});
        EXPECT_TRUE(store
                        ->Read([](Txn& txn) {
                          EXPECT_EQ(txn.GetToken("S1").status().code(), StatusCode::kNotFound);
                          return Status::Ok();
                        })
                        .ok());
        return step([](Txn& txn) { return txn.PutToken(Record("S3")); });
      },
      [](Txn& txn) {
        uint8_t published = 1;
        return txn.PutMeta("test-published", std::span<const uint8_t>(&published, 1));
      },
      [](Txn&, std::string_view, const Status&) { return Status::Internal("not abandoned"); });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_GE(produced, 1);
  EXPECT_EQ(VisibleIds(*store), (std::vector<std::string>{"LIVE", "S1", "S2", "S3"}));
  // A published token is an ordinary one: read, changed and written back.
  ASSERT_TRUE(store
                  ->Write([](Txn& txn) -> Status {
                    OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, txn.GetToken("S2"));
                    EXPECT_EQ(record.staged_by, 0u);
                    EXPECT_TRUE(txn.HasToken("S2"));
                    record.failures = 3;
                    EXPECT_TRUE(txn.GetMeta("test-published").value().has_value());
                    return txn.PutToken(record);
                  })
                  .ok());
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_EQ(txn.GetToken("S2").value().failures, 3u);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_P(StoreTest, AFailedStagedWriteLeavesNothingVisibleAndItsIdsFree) {
  auto store = Create();
  ASSERT_NE(store, nullptr);
  // Failing in `produce` after a committed step, then in `publish`.
  // `abandoned` is told when a step had been committed on its own (LMDB).
  std::vector<Status> abandoned;
  std::vector<std::string> labels;
  auto note = [&](Txn& txn, std::string_view label, const Status& why) {
    abandoned.push_back(why);
    labels.emplace_back(label);
    return txn.PutMeta("test-abandoned", std::vector<uint8_t>{1});
  };
  Status failed = store->WriteStaged(
      "first",
      [&](const Store::StagedStep& step) -> Status {
        OTPGATE_RETURN_IF_ERROR(step([](Txn& txn) { return txn.PutToken(Record("F1")); }));
        return Status::InvalidArgument("line 7: bad");
      },
      [](Txn&) { return Status::Ok(); }, note);
  EXPECT_EQ(failed.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(failed.message(), "line 7: bad");
  if (GetParam() == Backend::kLmdb) {
    ASSERT_EQ(abandoned.size(), 1u);
    EXPECT_EQ(abandoned[0].message(), "line 7: bad");
  } else {
    EXPECT_TRUE(abandoned.empty()) << "rolled back: nothing to note";
  }
  abandoned.clear();
  failed = store->WriteStaged(
      "second",
      [&](const Store::StagedStep& step) -> Status {
        return step([](Txn& txn) { return txn.PutToken(Record("F2")); });
      },
      [](Txn&) { return Status::Unavailable("publish refused"); }, note);
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable);
  EXPECT_EQ(abandoned.size(), GetParam() == Backend::kLmdb ? 1u : 0u);
  EXPECT_TRUE(VisibleIds(*store).empty());
  ASSERT_TRUE(store
                  ->Write([](Txn& txn) {
                    EXPECT_FALSE(txn.HasToken("F1"));
                    EXPECT_FALSE(txn.HasToken("F2"));
                    EXPECT_EQ(txn.GetToken("F1").status().code(), StatusCode::kNotFound);
                    return txn.PutToken(Record("F1"));
                  })
                  .ok());
  // The next staged write (which clears up after the failed ones) stores F2.
  // It reports nothing: each failed write was closed and removed by its
  // own process.
  ASSERT_TRUE(store
                  ->WriteStaged(
                      "third",
                      [&](const Store::StagedStep& step) -> Status {
                        return step([](Txn& txn) { return txn.PutToken(Record("F2")); });
                      },
                      [](Txn&) { return Status::Ok(); }, note)
                  .ok());
  if (GetParam() == Backend::kLmdb) {
    EXPECT_EQ(labels, (std::vector<std::string>{"first", "second"}));
  } else {
    EXPECT_TRUE(labels.empty());
  }
  ASSERT_TRUE(store
                  ->Read([&](Txn& txn) {
                    EXPECT_EQ(txn.GetMeta("test-abandoned").value().has_value(),
                              GetParam() == Backend::kLmdb);
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(VisibleIds(*store), (std::vector<std::string>{"F1", "F2"}));
}

INSTANTIATE_TEST_SUITE_P(Lmdb, StoreTest, ::testing::Values(Backend::kLmdb), testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Postgres, StoreTest, ::testing::Values(Backend::kPostgres),
                         testing::BackendName);

TEST(StoreOpenTest, ChoosesTheBackendByLocation) {
  EXPECT_TRUE(IsPostgresLocation("postgresql://db1/otpgate"));
  EXPECT_TRUE(IsPostgresLocation("postgres://db1/otpgate"));
  EXPECT_TRUE(IsPostgresLocation("service=otpgate"));
  EXPECT_TRUE(IsPostgresLocation("host=/run/postgresql dbname=otpgate"));
  EXPECT_FALSE(IsPostgresLocation("/var/lib/otpgate/store"));
  EXPECT_FALSE(IsPostgresLocation("/var/lib/otpgate/a=b"));
  EXPECT_EQ(Store::Open({.location = ""}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Store::Open({.location = "relative/store"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(StoreOpenTest, RefusesAPasswordInThePostgresLocation) {
  for (const char* location :
       {"postgresql://otpgate:secret@db1/otpgate", "host=db1 dbname=otpgate password=secret"}) {
    auto store = Store::Open({.location = location});
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << location;
    EXPECT_EQ(store.status().message().find("secret"), std::string::npos)
        << "the error must not repeat the password";
  }
  EXPECT_EQ(Store::Open({.location = "host=db1 = ="}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace otpgate
