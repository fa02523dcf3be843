// LMDB-specific behaviour of the store; the contract shared by every backend
// is tested in store_test.cc.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "lmdb_staged_import.h"
#include "otpgate/store.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::TempDir;

TokenRecord Record(const std::string& id, size_t secret_bytes = 49) {
  TokenRecord r;
  r.credential_id = id;
  r.sealed_secret = std::vector<uint8_t>(secret_bytes, 7);
  return r;
}

TEST(LmdbStoreTest, MissingStoreIsUnavailable) {
  TempDir dir;
  auto store = Store::Open({.location = dir.File("absent")});
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  struct stat st;
  EXPECT_NE(::stat(dir.File("absent").c_str(), &st), 0) << "must not create anything";
}

TEST(LmdbStoreTest, CreatesPrivateFiles) {
  TempDir dir;
  auto store = Store::Open({.location = dir.File("s"), .create = true});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  struct stat st;
  ASSERT_EQ(::stat(dir.File("s").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat(dir.File("s/data.mdb").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(LmdbStoreTest, RefusesStoreReadableByOthers) {
  TempDir dir;
  { ASSERT_TRUE(Store::Open({.location = dir.File("s"), .create = true}).ok()); }
  ASSERT_EQ(::chmod(dir.File("s/data.mdb").c_str(), 0644), 0);
  // A fresh process would not reuse the cached environment: use a child.
  pid_t pid = ::fork();
  if (pid == 0) {
    auto store = Store::Open({.location = dir.File("s")});
    _exit(store.status().code() == StatusCode::kPermissionDenied ? 0 : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

TEST(LmdbStoreTest, GrowsTheMapWhenFull) {
  TempDir dir;
  StoreOptions options{
      .location = dir.File("s"), .create = true, .lmdb = {.initial_map_bytes = 256 * 1024}};
  auto store = Store::Open(options).value();
  // ~20,000 records of ~200 bytes: several MiB, far more than 256 KiB.
  for (int batch = 0; batch < 20; ++batch) {
    Status status = store->Write([&](Txn& txn) -> Status {
      for (int i = 0; i < 1000; ++i) {
        OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("T" + std::to_string(batch * 1000 + i), 120)));
      }
      return Status::Ok();
    });
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  // data.mdb never outgrows the map: a file past the first map is a grown one.
  EXPECT_GT(std::filesystem::file_size(dir.File("s") + "/data.mdb"), size_t{256 * 1024});
  size_t count = 0;
  ASSERT_TRUE(store
                  ->Read([&](Txn& txn) {
                    return txn.ForEachToken([&](const TokenRecord&) {
                      ++count;
                      return Status::Ok();
                    });
                  })
                  .ok());
  EXPECT_EQ(count, 20000u);
}

TEST(LmdbStoreTest, FullAtMaximumIsStoreFullAndChangesNothing) {
  TempDir dir;
  StoreOptions options{.location = dir.File("s"),
                       .create = true,
                       .lmdb = {.initial_map_bytes = 128 * 1024, .max_map_bytes = 256 * 1024}};
  auto store = Store::Open(options).value();
  Status status = store->Write([&](Txn& txn) -> Status {
    for (int i = 0; i < 5000; ++i) {
      OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record("T" + std::to_string(i), 120)));
    }
    return Status::Ok();
  });
  EXPECT_EQ(status.code(), StatusCode::kStoreFull);
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_FALSE(txn.HasToken("T0"));
                    return Status::Ok();
                  })
                  .ok());
}

TEST(LmdbStoreTest, OneEnvironmentPerPathAndANewOneAfterFork) {
  TempDir dir;
  auto a = Store::Open({.location = dir.File("s"), .create = true}).value();
  auto b = Store::Open({.location = dir.File("s")}).value();
  EXPECT_EQ(a.get(), b.get());
  pid_t pid = ::fork();
  if (pid == 0) {
    // The inherited handle refuses to work; Open gives the child its own.
    bool inherited_refused = !a->Read([](Txn&) { return Status::Ok(); }).ok();
    auto c = Store::Open({.location = dir.File("s")});
    bool fresh = c.ok() && c->get() != a.get();
    bool works = fresh && (*c)->Write([](Txn& txn) { return txn.PutToken(Record("child")); }).ok();
    _exit(inherited_refused && works ? 0 : 1);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  ASSERT_TRUE(a->Read([](Txn& txn) {
                 EXPECT_TRUE(txn.HasToken("child"));
                 return Status::Ok();
               }).ok());
}

// Runs `fn` in a child process (a fresh one would not reuse this process's
// environment) and returns its wait status; fn's int is the exit code.
template <typename Fn>
int InChild(Fn&& fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    _exit(fn());
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  return wstatus;
}

// Opens the store, reads every record and writes one, as a host would; the
// exit code is the first non-OK status code (0 if all went well).
int UseStore(const std::string& path) {
  auto store = Store::Open({.location = path});
  if (!store.ok()) return static_cast<int>(store.status().code());
  Status status = (*store)->Read(
      [](Txn& txn) { return txn.ForEachToken([](const TokenRecord&) { return Status::Ok(); }); });
  if (status.ok()) {
    status = (*store)->Read([](Txn& txn) { return txn.UserTokens("user7").status(); });
  }
  if (status.ok()) {
    status = (*store)->Write([](Txn& txn) { return txn.PutToken(Record("NEW")); });
  }
  return static_cast<int>(status.code());
}

// A store of a few hundred pages: tokens, users with several tokens each.
void FillStore(const std::string& path) {
  auto store = Store::Open({.location = path, .create = true}).value();
  ASSERT_TRUE(store
                  ->Write([](Txn& txn) -> Status {
                    for (int i = 0; i < 3000; ++i) {
                      std::string id = "T" + std::to_string(i);
                      OTPGATE_RETURN_IF_ERROR(txn.PutToken(Record(id, 120)));
                      OTPGATE_RETURN_IF_ERROR(
                          txn.AddUserToken("user" + std::to_string(i % 500), id));
                    }
                    return Status::Ok();
                  })
                  .ok());
  // Churn, so that the free list has entries.
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(store
                    ->Write([&](Txn& txn) -> Status {
                      for (int i = round; i < 3000; i += 7) {
                        OTPGATE_RETURN_IF_ERROR(
                            txn.PutToken(Record("T" + std::to_string(i), 100 + round)));
                      }
                      return Status::Ok();
                    })
                    .ok());
  }
}

off_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

std::string Copy(const TempDir& dir, const std::string& from, const std::string& name) {
  std::string to = dir.File(name);
  std::string command = "cp -a '" + from + "' '" + to + "' && rm -f '" + to + "/lock.mdb'";
  EXPECT_EQ(std::system(command.c_str()), 0);
  return to;
}

// Issue 11: a truncated data.mdb raised SIGBUS in the host process. Every
// truncation point must give kCorrupt, and the process must survive.
TEST(LmdbStoreTest, TruncatedDataFileIsCorruptNotACrash) {
  TempDir dir;
  FillStore(dir.File("good"));
  off_t size = FileSize(dir.File("good/data.mdb"));
  ASSERT_GT(size, 100 * 4096);
  for (off_t cut : {off_t{0}, off_t{100}, off_t{4096}, off_t{8192 + 7}, size / 4, size / 2,
                    size - 4096, size - 1}) {
    std::string copy = Copy(dir, dir.File("good"), "cut" + std::to_string(cut));
    ASSERT_EQ(::truncate((copy + "/data.mdb").c_str(), cut), 0);
    int wstatus = InChild([&] { return UseStore(copy); });
    ASSERT_TRUE(WIFEXITED(wstatus))
        << "cut at " << cut << ": killed by signal " << WTERMSIG(wstatus);
    EXPECT_EQ(WEXITSTATUS(wstatus), static_cast<int>(StatusCode::kCorrupt)) << "cut at " << cut;
  }
}

// A store that a running process has open and that is truncated under it.
TEST(LmdbStoreTest, TruncationWhileOpenIsCorruptNotACrash) {
  TempDir dir;
  FillStore(dir.File("s"));
  int wstatus = InChild([&] {
    auto store = Store::Open({.location = dir.File("s")});
    if (!store.ok()) return 100;
    if (::truncate(dir.File("s/data.mdb").c_str(), FileSize(dir.File("s/data.mdb")) / 2) != 0) {
      return 101;
    }
    Status status = (*store)->Read(
        [](Txn& txn) { return txn.ForEachToken([](const TokenRecord&) { return Status::Ok(); }); });
    return static_cast<int>(status.code());
  });
  ASSERT_TRUE(WIFEXITED(wstatus)) << "killed by signal " << WTERMSIG(wstatus);
  EXPECT_EQ(WEXITSTATUS(wstatus), static_cast<int>(StatusCode::kCorrupt));
}

// The shrink check races with commits that grow the file: readers and
// writers in many threads of one process, the file growing all the time,
// must never be told the file shrank. (Before the fix, a reader whose fstat
// was overtaken by a writer's saw "shrank" in ~5% of PamThreadsTest runs;
// this test failed in 5 of 6 runs, and 0 of 10 after.)
TEST(LmdbStoreTest, AFileGrowingUnderManyThreadsIsNeverCalledShrunk) {
  TempDir dir(testing::kMemoryFileSystem);
  auto store = Store::Open({.location = dir.File("s"), .create = true});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  constexpr int kThreads = 16, kRounds = 4000;
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        Status s =
            t % 4 == 0 ? (*store)->Write([&](Txn& txn) {
              return txn.PutToken(Record("T" + std::to_string(t) + "-" + std::to_string(i), 3000));
            })
                       : (*store)->Read([](Txn& txn) { return txn.GetToken("ABSENT").status(); });
        if (!s.ok() && s.code() != StatusCode::kNotFound) {
          std::lock_guard<std::mutex> lock(mutex);
          if (failures++ == 0) first_failure = s.ToString();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;
}

// Random byte damage anywhere in the file: the process survives, and what
// it reports is either a clean run (the damage hit free space or bytes no
// one reads) or kCorrupt, never another failure.
TEST(LmdbStoreTest, DamagedBytesAreCorruptNotACrash) {
  TempDir dir;
  FillStore(dir.File("good"));
  off_t size = FileSize(dir.File("good/data.mdb"));
  std::mt19937_64 random(20261127);
  int corrupt = 0;
  for (int trial = 0; trial < 60; ++trial) {
    std::string copy = Copy(dir, dir.File("good"), "t" + std::to_string(trial));
    int fd = ::open((copy + "/data.mdb").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    // Mostly page headers and node tables (what LMDB navigates by), some
    // anywhere.
    off_t page = static_cast<off_t>(random() % static_cast<uint64_t>(size / 4096));
    off_t offset = page * 4096 + (trial % 3 == 0 ? static_cast<off_t>(random() % 4096)
                                                 : static_cast<off_t>(random() % 64));
    uint8_t junk[8];
    for (uint8_t& b : junk) b = static_cast<uint8_t>(random());
    ASSERT_EQ(::pwrite(fd, junk, sizeof(junk), offset), static_cast<ssize_t>(sizeof(junk)));
    ::close(fd);
    int wstatus = InChild([&] { return UseStore(copy); });
    ASSERT_TRUE(WIFEXITED(wstatus))
        << "damage at " << offset << ": killed by signal " << WTERMSIG(wstatus);
    int code = WEXITSTATUS(wstatus);
    EXPECT_TRUE(code == 0 || code == static_cast<int>(StatusCode::kCorrupt))
        << "damage at " << offset << ": status " << code;
    corrupt += code == static_cast<int>(StatusCode::kCorrupt);
    std::filesystem::remove_all(copy);
  }
  // Damage to free pages or to bytes nothing reads goes unnoticed (and is
  // harmless); the rest must be reported.
  EXPECT_GT(corrupt, 5) << "damage to live pages must be detected";
}

// Issue 11: a symlinked store directory was accepted.
TEST(LmdbStoreTest, RefusesSymlinkedStoreDirectory) {
  TempDir dir;
  { ASSERT_TRUE(Store::Open({.location = dir.File("real"), .create = true}).ok()); }
  ASSERT_EQ(::symlink(dir.File("real").c_str(), dir.File("link").c_str()), 0);
  int wstatus = InChild([&] {
    return static_cast<int>(Store::Open({.location = dir.File("link")}).status().code());
  });
  EXPECT_EQ(WEXITSTATUS(wstatus), static_cast<int>(StatusCode::kPermissionDenied));
}

TEST(LmdbStoreTest, RefusesStoreUnderADirectoryOthersCanSwap) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.File("open").c_str(), 0777), 0);
  ASSERT_EQ(::chmod(dir.File("open").c_str(), 0777), 0);  // not sticky
  auto store = Store::Open({.location = dir.File("open/s"), .create = true});
  EXPECT_EQ(store.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(store.status().message().find("could be replaced"), std::string::npos);
}

// Issue 9: processes that exit with a read transaction's slot still taken
// (PAM applications never close the store) must not exhaust LMDB's reader
// table while another process keeps the store open.
TEST(LmdbStoreTest, SlotsOfExitedProcessesAreReclaimed) {
  TempDir dir;
  auto holder = Store::Open({.location = dir.File("s"), .create = true}).value();
  ASSERT_TRUE(holder->Read([](Txn&) { return Status::Ok(); }).ok());
  for (int i = 0; i < 530; ++i) {  // more than the 512 slots
    int wstatus = InChild([&] {
      auto store = Store::Open({.location = dir.File("s")});
      if (!store.ok()) return static_cast<int>(store.status().code());
      Status status = (*store)->Read([](Txn&) { return Status::Ok(); });
      std::_Exit(static_cast<int>(status.code()));  // no destructors: the slot stays taken
    });
    ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
        << "process " << i << ": status " << WEXITSTATUS(wstatus);
  }
}

// The shared model: root and the otpgate group. Needs root and groupadd.
TEST(LmdbStoreTest, GroupModelFilesGetTheGroupsModes) {
  if (::geteuid() != 0 || ::getgrnam("otpgate") == nullptr) {
    GTEST_SKIP() << "needs root and an 'otpgate' group (tested in integration.host.group_model)";
  }
  TempDir dir;
  gid_t gid = ::getgrnam("otpgate")->gr_gid;
  ASSERT_EQ(::mkdir(dir.File("s").c_str(), 0770), 0);
  ASSERT_EQ(::chown(dir.File("s").c_str(), 0, gid), 0);
  ASSERT_EQ(::chmod(dir.File("s").c_str(), 02770), 0);
  ASSERT_TRUE(Store::Open({.location = dir.File("s"), .create = true}).ok());
  for (const char* name : {"s/data.mdb", "s/lock.mdb"}) {
    struct stat st;
    ASSERT_EQ(::stat(dir.File(name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0660u) << name;
    EXPECT_EQ(st.st_gid, gid) << name;
  }
}

}  // namespace
}  // namespace otpgate

namespace otpgate {
namespace {

std::vector<uint8_t> Nonce(uint8_t fill) { return std::vector<uint8_t>(16, fill); }

// One ConsumeChallenge in its own write transaction.
Result<bool> Consume(Store& store, const std::vector<uint8_t>& nonce, int64_t expires,
                     int64_t now) {
  bool first = false;
  Status status = store.Write([&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(first, txn.ConsumeChallenge(nonce, expires, now));
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return first;
}

// Entries in one of the store's databases, read with LMDB directly (the
// store must be closed: one environment per path per process).
size_t DatabaseEntries(const std::string& path, const char* name) {
  MDB_env* env = nullptr;
  EXPECT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 8);
  EXPECT_EQ(mdb_env_open(env, path.c_str(), MDB_RDONLY, 0600), 0);
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  MDB_stat stat{};
  EXPECT_EQ(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), 0);
  EXPECT_EQ(mdb_dbi_open(txn, name, 0, &dbi), 0);
  EXPECT_EQ(mdb_stat(txn, dbi, &stat), 0);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return stat.ms_entries;
}

TEST(LmdbStoreTest, ConsumeChallengeMarksEachNonceOnce) {
  TempDir dir;
  auto store = Store::Open({.location = dir.File("s"), .create = true}).value();
  EXPECT_TRUE(Consume(*store, Nonce(1), 1000, 900).value());
  EXPECT_FALSE(Consume(*store, Nonce(1), 1000, 901).value()) << "a replay";
  EXPECT_FALSE(Consume(*store, Nonce(1), 2000, 902).value()) << "the nonce decides, not the expiry";
  EXPECT_TRUE(Consume(*store, Nonce(2), 1000, 903).value());
  EXPECT_EQ(Consume(*store, std::vector<uint8_t>(15, 3), 1000, 900).status().code(),
            StatusCode::kInvalidArgument);
  // An aborted transaction consumed nothing.
  EXPECT_EQ(store
                ->Write([&](Txn& txn) -> Status {
                  EXPECT_TRUE(txn.ConsumeChallenge(Nonce(4), 1000, 900).value());
                  return Status::FailedPrecondition("abort");
                })
                .code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Consume(*store, Nonce(4), 1000, 900).value());
  EXPECT_FALSE(
      store->Read([&](Txn& txn) { return txn.ConsumeChallenge(Nonce(5), 1000, 900).status(); })
          .ok())
      << "a read-only transaction wrote";
  // Remembered by the next process (and after reopening).
  store.reset();
  store = Store::Open({.location = dir.File("s")}).value();
  EXPECT_FALSE(Consume(*store, Nonce(2), 1000, 904).value());
}

TEST(LmdbStoreTest, ConsumeChallengePrunesExpiredEntriesAFewAtATime) {
  TempDir dir;
  const std::string path = dir.File("s");
  auto store = Store::Open({.location = path, .create = true}).value();
  for (uint8_t i = 0; i < 20; ++i) ASSERT_TRUE(Consume(*store, Nonce(i), 100 + i, 50).value());
  store.reset();
  EXPECT_EQ(DatabaseEntries(path, "challenges"), 40u) << "two entries per nonce";

  // now = 110: the nonces that expired at 100..109 may go, four per call;
  // the one expiring at 110 itself stays.
  store = Store::Open({.location = path}).value();
  ASSERT_TRUE(Consume(*store, Nonce(100), 500, 110).value());
  store.reset();
  EXPECT_EQ(DatabaseEntries(path, "challenges"), 40u - 8 + 2);
  store = Store::Open({.location = path}).value();
  for (uint8_t i = 101; i < 110; ++i) ASSERT_TRUE(Consume(*store, Nonce(i), 500, 110).value());
  EXPECT_FALSE(Consume(*store, Nonce(10), 110, 110).value()) << "expiry == now is kept";
  EXPECT_TRUE(Consume(*store, Nonce(0), 100, 110).value()) << "pruned: forgotten";
  store.reset();
  // Left: nonces 10..19 (expiring 110..119), 100..109, and 0 again.
  EXPECT_EQ(DatabaseEntries(path, "challenges"), 2u * (10 + 10 + 1));
}

// Changes database `name` of the (closed) store at `path` behind the
// store's back, in one LMDB write transaction.
void EditDatabase(const std::string& path, const char* name,
                  const std::function<void(MDB_txn*, MDB_dbi)>& edit) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 8);
  ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0600), 0);
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  ASSERT_EQ(mdb_dbi_open(txn, name, 0, &dbi), 0);
  edit(txn, dbi);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST(LmdbStoreTest, AStoreWithoutTheChallengesDatabaseGetsItOnOpen) {
  TempDir dir;
  const std::string path = dir.File("s");
  ASSERT_TRUE(Store::Open({.location = path, .create = true}).ok());
  EditDatabase(path, "challenges", [](MDB_txn* txn, MDB_dbi dbi) {
    EXPECT_EQ(mdb_drop(txn, dbi, 1), 0);  // as a store made before the database existed
  });
  auto store = Store::Open({.location = path});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE(Consume(**store, Nonce(1), 1000, 900).value());
  EXPECT_FALSE(Consume(**store, Nonce(1), 1000, 900).value());
}

// Staged imports (Store::WriteStaged, lmdb_staged_import.h). The ends
// `abandoned` reports go to `ended` (label and cause), if set.
using Ended = std::vector<std::pair<std::string, Status>>;
Status PutStaged(
    Store& store, const std::vector<std::string>& ids,
    const std::function<void()>& after_step = [] {}, Ended* ended = nullptr,
    std::string_view label = "test") {
  return store.WriteStaged(
      label,
      [&](const Store::StagedStep& step) -> Status {
        for (const std::string& id : ids) {
          OTPGATE_RETURN_IF_ERROR(step([&](Txn& txn) { return txn.PutToken(Record(id)); }));
          after_step();
        }
        return Status::Ok();
      },
      [](Txn&) { return Status::Ok(); },
      [&](Txn&, std::string_view ended_label, const Status& why) {
        if (ended != nullptr) ended->emplace_back(ended_label, why);
        return Status::Ok();
      });
}

// A meta entry as stored, read in a transaction of its own.
std::optional<std::vector<uint8_t>> MetaValue(Store& store, std::string_view key) {
  std::optional<std::vector<uint8_t>> value;
  EXPECT_TRUE(store
                  .Read([&](Txn& txn) -> Status {
                    OTPGATE_ASSIGN_OR_RETURN(value, txn.GetMeta(key));
                    return Status::Ok();
                  })
                  .ok());
  return value;
}

std::optional<StagedImport> ImportEntry(Store& store, uint64_t number) {
  std::optional<std::vector<uint8_t>> bytes = MetaValue(store, StagedImportKey(number));
  if (!bytes.has_value()) return std::nullopt;
  return DecodeStagedImport(*bytes).value();
}

TEST(LmdbStoreTest, ARunningStagedImportHoldsItsIdsAndWritesNothingElse) {
  TempDir dir;
  auto store = Store::Open({.location = dir.File("s"), .create = true}).value();
  Status status = PutStaged(*store, {"S1"}, [&] {
    ASSERT_TRUE(store
                    ->Write([](Txn& txn) {
                      EXPECT_TRUE(txn.HasToken("S1")) << "taken while its import runs";
                      EXPECT_EQ(txn.GetToken("S1").status().code(), StatusCode::kNotFound);
                      return Status::Ok();
                    })
                    .ok());
    std::optional<StagedImport> entry = ImportEntry(*store, 1);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->phase, StagedImport::Phase::kStaging);
    EXPECT_EQ(entry->owner.pid, ::getpid());
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(ImportEntry(*store, 1)->phase, StagedImport::Phase::kPublished);

  // A step writes tokens and journal entries only.
  const std::vector<std::function<Status(Txn&)>> forbidden = {
      [](Txn& txn) { return txn.AddUserToken("alice", "S1"); },
      [](Txn& txn) { return txn.RemoveUserToken("alice", "S1"); },
      [](Txn& txn) { return txn.DeleteToken("S1"); },
      [](Txn& txn) { return txn.PutMeta("x", std::vector<uint8_t>{1}); },
      [](Txn& txn) { return txn.EraseJournalThrough(1); },
  };
  for (const auto& write : forbidden) {
    Status refused = store->WriteStaged(
        "forbidden", [&](const Store::StagedStep& step) { return step(write); },
        [](Txn&) { return Status::Ok(); },
        [](Txn&, std::string_view, const Status&) { return Status::Ok(); });
    EXPECT_EQ(refused.code(), StatusCode::kInternal) << refused.ToString();
  }
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_TRUE(txn.GetToken("S1").ok());
                    EXPECT_TRUE(txn.UserTokens("alice").value().empty());
                    EXPECT_FALSE(txn.GetMeta("x").value().has_value());
                    return Status::Ok();
                  })
                  .ok());
}

TEST(LmdbStoreTest, AnImportKilledMidwayIsNeverSeenAndTheNextOneRemovesIt) {
  TempDir dir;
  const std::string path = dir.File("s");
  {
    auto store = Store::Open({.location = path, .create = true}).value();
    ASSERT_TRUE(store->Write([](Txn& txn) { return txn.PutToken(Record("LIVE")); }).ok());
  }
  // The importer dies (as under kill -9) after two committed steps.
  int wstatus = InChild([&] {
    auto store = Store::Open({.location = path});
    if (!store.ok()) return 2;
    Status status = PutStaged(
        **store, {"K1", "K2", "K3"},
        [] {
          static int steps = 0;
          if (++steps == 2) _exit(0);
        },
        nullptr, "killed");
    return status.ok() ? 3 : 4;
  });
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
  EXPECT_EQ(DatabaseEntries(path, "tokens"), 3u) << "LIVE and the two staged records";
  {
    auto store = Store::Open({.location = path}).value();
    ASSERT_EQ(ImportEntry(*store, 1)->phase, StagedImport::Phase::kStaging);
    ASSERT_TRUE(store
                    ->Write([](Txn& txn) {
                      EXPECT_FALSE(txn.HasToken("K1")) << "its process is gone";
                      EXPECT_EQ(txn.GetToken("K2").status().code(), StatusCode::kNotFound);
                      size_t visible = 0;
                      EXPECT_TRUE(txn.ForEachToken([&](const TokenRecord&) {
                                       ++visible;
                                       return Status::Ok();
                                     })
                                      .ok());
                      EXPECT_EQ(visible, 1u);
                      return Status::Ok();
                    })
                    .ok());
    EXPECT_EQ(ImportEntry(*store, 1)->phase, StagedImport::Phase::kAbandoned)
        << "a writer that found its IDs free marked it so";
    Ended ended;
    ASSERT_TRUE(PutStaged(
                    *store, {"K2"}, [] {}, &ended)
                    .ok());
    EXPECT_FALSE(ImportEntry(*store, 1).has_value()) << "the dead import's entry is removed";
    EXPECT_EQ(ImportEntry(*store, 2)->phase, StagedImport::Phase::kPublished);
    // Its end is reported once, by the import that removed it.
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].first, "killed");
    EXPECT_EQ(ended[0].second.code(), StatusCode::kUnavailable);
    EXPECT_NE(ended[0].second.message().find("its process is gone"), std::string::npos);
    ended.clear();
    ASSERT_TRUE(PutStaged(
                    *store, {"K3"}, [] {}, &ended)
                    .ok());
    EXPECT_TRUE(ended.empty());
  }
  EXPECT_EQ(DatabaseEntries(path, "tokens"), 3u) << "LIVE, K2 and K3; K1 was removed";
}

void EditImportEntry(Store& store, uint64_t number,
                     const std::function<void(StagedImport&)>& edit) {
  ASSERT_TRUE(store
                  .Write([&](Txn& txn) -> Status {
                    OTPGATE_ASSIGN_OR_RETURN(auto bytes, txn.GetMeta(StagedImportKey(number)));
                    StagedImport entry = DecodeStagedImport(bytes.value()).value();
                    edit(entry);
                    return txn.PutMeta(StagedImportKey(number), EncodeStagedImport(entry));
                  })
                  .ok());
}

uint32_t Schema(Store& store) { return MetaValue(store, "schema").value().at(0); }

TEST(LmdbStoreTest, AStagedStepNeverHidesATokenAndFailsOnceItsImportIsAbandoned) {
  TempDir dir;
  auto store = Store::Open({.location = dir.File("s"), .create = true}).value();
  ASSERT_TRUE(store->Write([](Txn& txn) { return txn.PutToken(Record("LIVE")); }).ok());
  EXPECT_EQ(Schema(*store), 1u);
  Status refused = PutStaged(*store, {"LIVE"});
  EXPECT_EQ(refused.code(), StatusCode::kAlreadyExists) << refused.ToString();
  EXPECT_EQ(Schema(*store), 1u) << "nothing staged was written";
  // Marked abandoned by someone else between two steps: the next step fails.
  Status stopped = PutStaged(*store, {"A1", "A2"}, [&] {
    static bool once = false;
    if (!once)
      EditImportEntry(*store, 2,
                      [](StagedImport& e) { e.phase = StagedImport::Phase::kAbandoned; });
    once = true;
  });
  EXPECT_EQ(stopped.code(), StatusCode::kUnavailable) << stopped.ToString();
  EXPECT_NE(stopped.message().find("abandoned while it ran"), std::string::npos);
  ASSERT_TRUE(store
                  ->Read([](Txn& txn) {
                    EXPECT_TRUE(txn.GetToken("LIVE").ok());
                    EXPECT_FALSE(txn.HasToken("A1"));
                    EXPECT_FALSE(txn.HasToken("A2"));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(Schema(*store), kStagedSchemaVersion) << "set by the first staged record written";
}

// A dead import whose end was already reported (its process closed it
// before dying) is not reported again, nor one without a label (started by
// a release that kept none), nor one that committed no step.
TEST(LmdbStoreTest, ADeadImportIsReportedOnlyIfItWasNotClosedAndHasALabel) {
  TempDir dir;
  const std::string path = dir.File("s");
  Store::Open({.location = path, .create = true}).value().reset();
  // Import 1 dies closed, is removed by import 2; import 3 dies unlabelled,
  // is removed by import 4.
  uint64_t number = 1;
  for (const char* id : {"C1", "U1"}) {
    int wstatus = InChild([&] {
      auto store = Store::Open({.location = path});
      if (!store.ok()) return 2;
      (void)PutStaged(
          **store, {id, std::string(id) + "b"}, [] { _exit(0); }, nullptr, id);
      return 3;
    });
    ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
    const std::string label_key = StagedImportLabelKey(number);
    if (number == 3) {  // as an earlier release's import: no label entry
      EditDatabase(path, "meta", [&](MDB_txn* txn, MDB_dbi dbi) {
        MDB_val key{label_key.size(), const_cast<char*>(label_key.data())};
        EXPECT_EQ(mdb_del(txn, dbi, &key, nullptr), 0);
      });
    }
    auto store = Store::Open({.location = path}).value();
    ASSERT_TRUE(ImportEntry(*store, number).has_value());
    if (number == 1) {
      ImportLabel label = DecodeImportLabel(MetaValue(*store, label_key).value()).value();
      EXPECT_EQ(label.label, id);
      EXPECT_FALSE(label.closed);
      label.closed = true;
      ASSERT_TRUE(
          store->Write([&](Txn& txn) { return txn.PutMeta(label_key, EncodeImportLabel(label)); })
              .ok());
    }
    Ended ended;
    ASSERT_TRUE(PutStaged(
                    *store, {std::string("NEXT") + id}, [] {}, &ended)
                    .ok());
    EXPECT_TRUE(ended.empty()) << id << ": " << ended.size() << " reported";
    EXPECT_FALSE(ImportEntry(*store, number).has_value()) << id << ": removed";
    EXPECT_FALSE(MetaValue(*store, label_key).has_value()) << id << ": its label too";
    number += 2;
  }
  int wstatus = InChild([&] {  // import 5 dies before its first step
    auto store = Store::Open({.location = path});
    if (!store.ok()) return 2;
    (void)(*store)->WriteStaged(
        "stepless", [](const Store::StagedStep&) -> Status { _exit(0); },
        [](Txn&) { return Status::Ok(); },
        [](Txn&, std::string_view, const Status&) { return Status::Ok(); });
    return 3;
  });
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
  auto store = Store::Open({.location = path}).value();
  ASSERT_TRUE(MetaValue(*store, StagedImportLabelKey(5)).has_value());
  Ended ended;
  ASSERT_TRUE(PutStaged(
                  *store, {"LAST"}, [] {}, &ended)
                  .ok());
  EXPECT_TRUE(ended.empty()) << "stepless: " << ended.size() << " reported";
  EXPECT_FALSE(ImportEntry(*store, 5).has_value());
  store.reset();
  EXPECT_EQ(DatabaseEntries(path, "tokens"), 3u) << "NEXTC1, NEXTU1 and LAST";
}

// An import that fails reports its own end with its cause, unless another
// process reported it first (judging it gone); either way once.
TEST(LmdbStoreTest, AFailedImportReportsItsOwnEndUnlessItWasReportedAlready) {
  TempDir dir;
  auto store = Store::Open({.location = dir.File("s"), .create = true}).value();
  for (bool reported_elsewhere : {false, true}) {
    Ended ended;
    const uint64_t number = reported_elsewhere ? 2 : 1;
    Status status = store->WriteStaged(
        "failing",
        [&](const Store::StagedStep& step) -> Status {
          OTPGATE_RETURN_IF_ERROR(
              step([&](Txn& txn) { return txn.PutToken(Record("F" + std::to_string(number))); }));
          if (reported_elsewhere) {
            EXPECT_TRUE(store
                            ->Write([&](Txn& txn) {
                              return txn.PutMeta(StagedImportLabelKey(number),
                                                 EncodeImportLabel({"failing", true}));
                            })
                            .ok());
          }
          return Status::InvalidArgument("line 9: bad");
        },
        [](Txn&) { return Status::Ok(); },
        [&](Txn&, std::string_view label, const Status& why) {
          ended.emplace_back(label, why);
          return Status::Ok();
        });
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(ImportEntry(*store, number).has_value()) << "removed";
    if (reported_elsewhere) {
      EXPECT_TRUE(ended.empty()) << ended.size() << " reported";
    } else {
      ASSERT_EQ(ended.size(), 1u);
      EXPECT_EQ(ended[0].first, "failing");
      EXPECT_EQ(ended[0].second.message(), "line 9: bad");
    }
  }
}

// An import whose process cannot be judged from here (another PID
// namespace) counts as running while its lease lasts; one from an earlier
// boot is gone.
TEST(LmdbStoreTest, AnImportThatCannotBeJudgedIsKeptForItsLeaseAndOneFromAnEarlierBootIsRemoved) {
  TempDir dir;
  const std::string path = dir.File("s");
  Store::Open({.location = path, .create = true}).value().reset();
  auto killed_import = [&](const std::string& id) {
    int wstatus = InChild([&] {
      auto store = Store::Open({.location = path});
      if (!store.ok()) return 2;
      (void)PutStaged(**store, {id, id + "b"}, [] { _exit(0); });
      return 3;
    });
    ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
  };
  killed_import("N1");  // import 1
  {
    auto store = Store::Open({.location = path}).value();
    EditImportEntry(*store, 1, [](StagedImport& e) { ++e.owner.pid_namespace; });
  }
  killed_import("B1");  // import 2; its start leaves import 1 alone
  auto store = Store::Open({.location = path}).value();
  ASSERT_TRUE(ImportEntry(*store, 1).has_value()) << "kept: it may still run";
  EditImportEntry(*store, 2, [](StagedImport& e) { e.owner.boot_id[0] ^= 1; });
  ASSERT_TRUE(PutStaged(*store, {"OTHER"}).ok());  // import 3
  EXPECT_FALSE(ImportEntry(*store, 2).has_value()) << "removed: the host rebooted since";
  ASSERT_TRUE(ImportEntry(*store, 1).has_value());
  ASSERT_TRUE(store
                  ->Write([](Txn& txn) {
                    EXPECT_TRUE(txn.HasToken("N1")) << "its IDs stay taken";
                    EXPECT_EQ(txn.GetToken("N1").status().code(), StatusCode::kNotFound);
                    EXPECT_FALSE(txn.HasToken("B1"));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(ImportEntry(*store, 1)->phase, StagedImport::Phase::kStaging);
  // Its lease runs out: abandoned, and removed by the next import.
  EditImportEntry(*store, 1,
                  [](StagedImport& e) { e.renewed_at = ::time(nullptr) - kStagedImportLease - 1; });
  ASSERT_TRUE(PutStaged(*store, {"LAST"}).ok());
  EXPECT_FALSE(ImportEntry(*store, 1).has_value()) << "removed: its lease ran out";
  store.reset();
  EXPECT_EQ(DatabaseEntries(path, "tokens"), 2u) << "OTHER and LAST";
}

}  // namespace
}  // namespace otpgate
