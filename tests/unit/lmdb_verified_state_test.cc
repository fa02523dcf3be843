// Which data.mdb states an opener may trust without walking the file
// (lmdb_verified_state.h): the chain rules on their own, then the record the
// LMDB store really leaves behind its writers, processes racing included.
#include "lmdb_verified_state.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "otpgate/store.h"
#include "test_util.h"

namespace otpgate {
namespace {

using testing::TempDir;

// A state of one file in one boot and mount, the meta pages' hash standing
// for the transaction's.
FileState State(uint64_t txnid, int64_t ctime_ns, uint64_t size = 65536) {
  return FileState{2049, 1234, size, ctime_ns, ctime_ns, txnid, 0x3e7a + txnid, 77, 88};
}

// The record's slot size (lmdb_verified_state.cc).
constexpr size_t kSlotBytes = 24 * sizeof(uint64_t);

class VerifiedStatesTest : public ::testing::Test {
 protected:
  VerifiedStates Record() { return VerifiedStates(dir_.path(), false, 0); }
  std::string RecordFile() { return dir_.File("data.mdb.verified"); }
  TempDir dir_;
};

TEST_F(VerifiedStatesTest, NothingIsCoveredBeforeAWalk) {
  EXPECT_FALSE(Record().Covers(State(5, 100)));
  struct stat st;
  ASSERT_EQ(::stat(RecordFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(VerifiedStatesTest, TheBaseCoversExactlyItsOwnState) {
  VerifiedStates record = Record();
  record.RecordBase(record.GuardCommit(), State(5, 100));
  EXPECT_TRUE(record.Covers(State(5, 100)));
  EXPECT_TRUE(Record().Covers(State(5, 100))) << "another process reads the same record";
  FileState changed = State(5, 100);
  changed.ctime_ns += 1;  // written by something other than a commit
  EXPECT_FALSE(record.Covers(changed));
  changed = State(5, 100);
  changed.inode += 1;  // replaced
  EXPECT_FALSE(record.Covers(changed));
  EXPECT_FALSE(record.Covers(State(5, 100, 4096))) << "truncated";
  EXPECT_FALSE(record.Covers(State(6, 100))) << "a commit nobody recorded";
}

TEST_F(VerifiedStatesTest, ARebootARemountOrAChangedMetaPageIsNotCovered) {
  VerifiedStates record = Record();
  record.RecordBase(record.GuardCommit(), State(5, 100));
  FileState changed = State(5, 100);
  changed.boot += 1;  // the machine was down: anything may have happened
  EXPECT_FALSE(record.Covers(changed));
  changed = State(5, 100);
  changed.mount += 1;  // unmounted and mounted again
  EXPECT_FALSE(record.Covers(changed));
  changed = State(5, 100);
  changed.meta += 1;  // a meta page changed without a write through the file system
  EXPECT_FALSE(record.Covers(changed));
  // And a chain that runs into another boot is broken there.
  FileState rebooted = State(6, 200);
  rebooted.boot += 1;
  record.RecordCommit(record.GuardCommit(), State(5, 100), rebooted);
  FileState next = State(7, 300);
  next.boot += 1;
  record.RecordCommit(record.GuardCommit(), State(6, 200), next);
  EXPECT_FALSE(record.Covers(next));
}

TEST_F(VerifiedStatesTest, ACopyRestoredInPlaceBecomesTheBase) {
  VerifiedStates record = Record();
  record.RecordBase(record.GuardCommit(), State(9, 100));
  // A walk that began before commits moved the base to 9: its older state
  // (older ctime too) does not move the base back.
  record.RecordBase(record.GuardCommit(), State(7, 80));
  EXPECT_TRUE(record.Covers(State(9, 100)));
  EXPECT_FALSE(record.Covers(State(7, 80)));
  // A backup copied over the same inode: an older transaction id, a newer
  // ctime. Its walk is recorded, so later openers need not walk it again.
  record.RecordBase(record.GuardCommit(), State(4, 500));
  EXPECT_TRUE(record.Covers(State(4, 500)));
  EXPECT_FALSE(record.Covers(State(9, 100)));
}

TEST_F(VerifiedStatesTest, RecordingTheBaseAgainWritesNothing) {
  VerifiedStates record = Record();
  record.RecordBase(record.GuardCommit(), State(5, 100));
  struct stat before, after;
  ASSERT_EQ(::stat(RecordFile().c_str(), &before), 0);
  ::usleep(20000);  // past the file system's timestamp granularity
  EXPECT_EQ(record.ChainLength(State(5, 100)), 0);
  record.RecordBase(record.GuardCommit(), State(5, 100));
  ASSERT_EQ(::stat(RecordFile().c_str(), &after), 0);
  EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
  record.RecordCommit(record.GuardCommit(), State(5, 100), State(6, 200));
  EXPECT_EQ(record.ChainLength(State(6, 200)), 0) << "a commit from the base moves the base";
}

TEST_F(VerifiedStatesTest, AStalledHolderCostsOneWaitNotOnePerCommit) {
  VerifiedStates record = Record();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    // Another process holds the guard and does not let go (stopped, say).
    int fd = ::open(RecordFile().c_str(), O_RDWR);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) _exit(1);
    (void)::write(ready[1], "x", 1);
    ::pause();
    _exit(0);
  }
  char byte;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(record.GuardCommit().held());
  auto first = std::chrono::steady_clock::now() - started;
  EXPECT_GE(first, std::chrono::milliseconds(150)) << "the first attempt waits for the holder";
  started = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(record.GuardCommit().held());
  auto next_ten = std::chrono::steady_clock::now() - started;
  EXPECT_LT(next_ten, std::chrono::milliseconds(150)) << "later attempts do not wait";
  ::kill(holder, SIGKILL);
  ASSERT_EQ(::waitpid(holder, nullptr, 0), holder);
  ::close(ready[0]);
  ::close(ready[1]);
  EXPECT_TRUE(record.GuardCommit().held()) << "a free guard is taken at once";
  EXPECT_TRUE(record.GuardCommit().held()) << "and waited for again";
}

TEST_F(VerifiedStatesTest, CommitsChainFromTheBase) {
  VerifiedStates record = Record();
  record.RecordBase(record.GuardCommit(), State(5, 100));
  record.RecordCommit(record.GuardCommit(), State(5, 100), State(6, 200));
  record.RecordCommit(record.GuardCommit(), State(6, 200), State(7, 300));
  EXPECT_TRUE(record.Covers(State(7, 300)));
  // The base moved with the commits: a state before it is covered no more
  // (no opener finds the file in it again).
  EXPECT_FALSE(record.Covers(State(6, 200)));
  // A write between two commits: the next commit starts from a state no
  // commit produced, and nothing after it is covered until a walk.
  record.RecordCommit(record.GuardCommit(), State(7, 301), State(8, 400));
  EXPECT_FALSE(record.Covers(State(8, 400)));
  EXPECT_FALSE(record.Covers(State(7, 301)));
  record.RecordBase(record.GuardCommit(), State(8, 400));  // the walk
  EXPECT_TRUE(record.Covers(State(8, 400)));
}

TEST_F(VerifiedStatesTest, CommitsRecordedOutOfOrderStillChain) {
  // Two writers: the second commit's record lands before the first's.
  VerifiedStates first = Record(), second = Record();
  first.RecordBase(first.GuardCommit(), State(5, 100));
  second.RecordCommit(second.GuardCommit(), State(6, 200), State(7, 300));
  EXPECT_FALSE(second.Covers(State(7, 300)));
  first.RecordCommit(first.GuardCommit(), State(5, 100), State(6, 200));
  EXPECT_TRUE(second.Covers(State(7, 300)));
}

TEST_F(VerifiedStatesTest, TheBaseFollowsCommitsBeyondTheRing) {
  VerifiedStates record = Record();
  record.RecordBase(record.GuardCommit(), State(1, 10));
  const int commits = 5 * VerifiedStates::kTransitionSlots;
  for (int i = 1; i <= commits; ++i) {
    record.RecordCommit(record.GuardCommit(), State(static_cast<uint64_t>(i), 10 * i),
                        State(static_cast<uint64_t>(i + 1), 10 * (i + 1)));
  }
  EXPECT_TRUE(record.Covers(State(commits + 1, 10 * (commits + 1))));
}

TEST_F(VerifiedStatesTest, AChainLongerThanTheRingIsNotTaken) {
  VerifiedStates record = Record();
  record.RecordBase(record.GuardCommit(), State(1, 10));
  // Transitions only (as if the base could not be moved): the ring keeps the
  // last kTransitionSlots, so the way back to the base is lost.
  const int commits = VerifiedStates::kTransitionSlots + 1;
  int fd = ::open(RecordFile().c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::vector<char> base(kSlotBytes);
  ASSERT_EQ(::pread(fd, base.data(), base.size(), 0), static_cast<ssize_t>(kSlotBytes));
  for (int i = 1; i <= commits; ++i) {
    record.RecordCommit(record.GuardCommit(), State(static_cast<uint64_t>(i), 10 * i),
                        State(static_cast<uint64_t>(i + 1), 10 * (i + 1)));
    ASSERT_EQ(::pwrite(fd, base.data(), base.size(), 0),
              static_cast<ssize_t>(kSlotBytes));  // keep the old base
  }
  ::close(fd);
  EXPECT_FALSE(record.Covers(State(commits + 1, 10 * (commits + 1))));
}

TEST_F(VerifiedStatesTest, ADamagedRecordIsNotBelieved) {
  VerifiedStates record = Record();
  record.RecordBase(record.GuardCommit(), State(5, 100));
  int fd = ::open(RecordFile().c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char byte = 0x5a;
  ASSERT_EQ(::pwrite(fd, &byte, 1, 40), 1);  // inside the base's state
  ::close(fd);
  EXPECT_FALSE(Record().Covers(State(5, 100)));
}

TEST_F(VerifiedStatesTest, ARecordOthersCanWriteIsNotUsed) {
  {
    VerifiedStates record = Record();
    record.RecordBase(record.GuardCommit(), State(5, 100));
  }
  ASSERT_EQ(::chmod(RecordFile().c_str(), 0666), 0);
  VerifiedStates loose = Record();
  EXPECT_FALSE(loose.Covers(State(5, 100)));
  loose.RecordBase(loose.GuardCommit(), State(6, 200));  // and nothing is written through it
  ASSERT_EQ(::chmod(RecordFile().c_str(), 0600), 0);
  EXPECT_TRUE(Record().Covers(State(5, 100)));
}

TEST_F(VerifiedStatesTest, ASymlinkedRecordIsNotFollowed) {
  TempDir elsewhere;
  VerifiedStates elsewhere_record(elsewhere.path(), false, 0);
  elsewhere_record.RecordBase(elsewhere_record.GuardCommit(), State(5, 100));
  ASSERT_EQ(::symlink(elsewhere.File("data.mdb.verified").c_str(), RecordFile().c_str()), 0);
  EXPECT_FALSE(Record().Covers(State(5, 100)));
}

// The state of a closed store as an opener sees it: LMDB's newest committed
// transaction and an fstat of data.mdb.
FileState StoreState(const std::string& dir) {
  MDB_env* env = nullptr;
  EXPECT_EQ(mdb_env_create(&env), 0);
  EXPECT_EQ(mdb_env_set_maxdbs(env, 8), 0);
  EXPECT_EQ(mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0600), 0);
  MDB_envinfo info;
  EXPECT_EQ(mdb_env_info(env, &info), 0);
  mdb_env_close(env);
  int fd = ::open((dir + "/data.mdb").c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  std::optional<FileState> state = StateOf(fd, info.me_last_txnid);
  ::close(fd);
  EXPECT_TRUE(state.has_value());
  return state.value_or(FileState{});
}

// `writers` processes, each opening the store and committing `commits`
// times, all at once.
void RunWriters(const std::string& dir, int writers, int commits) {
  std::vector<pid_t> pids;
  for (int w = 0; w < writers; ++w) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      StoreOptions options;
      options.location = dir;
      auto store = Store::Open(options);
      if (!store.ok()) _exit(2);
      for (int i = 0; i < commits; ++i) {
        const uint8_t value[2] = {static_cast<uint8_t>(w), static_cast<uint8_t>(i)};
        Status s = store.value()->Write(
            [&](Txn& txn) { return txn.PutMeta("writer-" + std::to_string(w), value); });
        if (!s.ok()) _exit(3);
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
}

std::string Describe(const FileState& s) {
  return "txn " + std::to_string(s.txnid) + " size " + std::to_string(s.size) + " ctime " +
         std::to_string(s.ctime_ns) + " mtime " + std::to_string(s.mtime_ns);
}

// The record's slots, for failure messages.
std::string Dump(const std::string& dir, const FileState& current) {
  std::string out = "current: " + Describe(current) + "\n";
  int fd = ::open((dir + "/data.mdb.verified").c_str(), O_RDONLY);
  uint64_t w[24];
  for (int slot = 0; fd >= 0 && ::pread(fd, w, sizeof(w), slot * sizeof(w)) == sizeof(w); ++slot) {
    if (w[0] == 0) continue;
    FileState before{w[2], w[3], w[4], static_cast<int64_t>(w[5]), static_cast<int64_t>(w[6]),
                     w[7]};
    FileState after{w[11], w[12], w[13], static_cast<int64_t>(w[14]), static_cast<int64_t>(w[15]),
                    w[16]};
    out += "slot " + std::to_string(slot) + ": " + Describe(before) +
           (w[1] == 2 ? " -> " + Describe(after) : " (base)") + "\n";
  }
  if (fd >= 0) ::close(fd);
  return out;
}

class StoreRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.location = dir_.File("store");
    options.create = true;
    ASSERT_TRUE(Store::Open(options).ok());
  }
  std::string store_dir() { return dir_.File("store"); }
  TempDir dir_;
};

TEST_F(StoreRecordTest, TheStateWritersLeaveIsCovered) {
  RunWriters(store_dir(), 1, 20);
  EXPECT_TRUE(VerifiedStates(store_dir(), false, 0).Covers(StoreState(store_dir())));
}

TEST_F(StoreRecordTest, ProcessesCommittingAtOnceKeepTheChain) {
  RunWriters(store_dir(), 4, 300);
  FileState now = StoreState(store_dir());
  EXPECT_TRUE(VerifiedStates(store_dir(), false, 0).Covers(now)) << Dump(store_dir(), now);
}

TEST_F(StoreRecordTest, AStateNamesTheBootTheMountAndTheMetaPages) {
  RunWriters(store_dir(), 1, 3);
  const std::string data = store_dir() + "/data.mdb";
  int fd = ::open(data.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::optional<FileState> first = StateOf(fd, 4), again = StateOf(fd, 4);
  ASSERT_TRUE(first.has_value() && again.has_value());
  EXPECT_EQ(*first, *again);
  EXPECT_NE(first->boot, 0u);
  struct statx st;
  ASSERT_EQ(::statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID | 0x4000 /* _UNIQUE */, &st), 0);
  EXPECT_EQ(first->mount, st.stx_mnt_id);
  // One byte of the second meta page (its transaction id), changed and put
  // back: the hash follows the bytes.
  const off_t in_meta_1 = 4096 + 16 + 128;
  uint8_t byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, in_meta_1), 1);
  const uint8_t changed = byte ^ 0x40;
  ASSERT_EQ(::pwrite(fd, &changed, 1, in_meta_1), 1);
  std::optional<FileState> damaged = StateOf(fd, 4);
  ASSERT_EQ(::pwrite(fd, &byte, 1, in_meta_1), 1);
  std::optional<FileState> restored = StateOf(fd, 4);
  ::close(fd);
  ASSERT_TRUE(damaged.has_value() && restored.has_value());
  EXPECT_NE(damaged->meta, first->meta);
  EXPECT_EQ(restored->meta, first->meta);
}

TEST_F(StoreRecordTest, AWriteThatIsNoCommitIsNotCovered) {
  RunWriters(store_dir(), 1, 5);
  // The same bytes written back: the content is unchanged, the file was
  // still written outside LMDB (as a damaging write would be).
  int fd = ::open((store_dir() + "/data.mdb").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char byte;
  ASSERT_EQ(::pread(fd, &byte, 1, 3 * 4096 + 100), 1);
  ::usleep(20000);  // past the file system's timestamp granularity
  ASSERT_EQ(::pwrite(fd, &byte, 1, 3 * 4096 + 100), 1);
  ::close(fd);
  EXPECT_FALSE(VerifiedStates(store_dir(), false, 0).Covers(StoreState(store_dir())));
  // The next opener walks the file, finds it sound and records it.
  StoreOptions options;
  options.location = store_dir();
  ASSERT_TRUE(Store::Open(options).ok());
  EXPECT_TRUE(VerifiedStates(store_dir(), false, 0).Covers(StoreState(store_dir())));
}

}  // namespace
}  // namespace otpgate
