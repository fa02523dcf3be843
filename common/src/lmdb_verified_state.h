// Which states of an LMDB data file are known to be sound, so that a process
// that opens the store need not walk every page again (private to the core).
//
// Why: the walk of lmdb_verify.h keeps a damaged data.mdb from crashing the
// host process, but it reads the whole file. A host that starts a process
// per login (sshd) paid for it on every login: 22 ms at 100,000 tokens.
//
// The record, a small file beside data.mdb ("data.mdb.verified"), holds
//  - a base: a state of data.mdb that a walk found sound, and
//  - transitions: "state B became state A by one LMDB commit of ours", kept
//    for the last kTransitionSlots commits.
// A state (FileState) is the file's identity and inode metadata, the
// committed transaction id, a hash of the two meta pages, and the boot and
// the mount it was seen in. An opener whose current state is reached from
// the base through recorded transitions skips the walk; any other state is
// walked (and becomes the new base). So a walk follows
//  - a file replaced or truncated, or written through the file system by
//    anything other than an LMDB commit of ours (ctime moves; it cannot be
//    set back), a transition lost to a crash;
//  - a reboot (boot id), so damage done while the machine was down - fsck,
//    an image restored, a disk replaced - is found at the first open;
//  - a remount, where the kernel gives each mount a new id (STATX_MNT_ID_UNIQUE,
//    Linux 6.8 and later; older kernels reuse mount ids);
//  - any change to a meta page, however it was made.
//
// What it cannot see: damage that reaches the file below the file system
// while it stays mounted (bit rot, a write to the block device) outside the
// meta pages, or an offline change remounted within the same boot on a
// kernel that reuses mount ids; a write that lands between a commit and the
// fstat that records it, or within the same ctime tick after it without
// changing the size (a tick is a jiffy, 1-4 ms, on kernels before 6.13 and
// finer after). A record that fails its checks (access, format, checksum)
// is not believed; writing it is best effort and never fails a request.
// Whoever can write the record can write data.mdb itself.
//
// It relies on LMDB writing the data file only inside mdb_txn_commit, under
// the guard below: never open the environment with MDB_WRITEMAP, which
// writes pages through the map while a transaction runs.
#ifndef OTPGATE_SRC_LMDB_VERIFIED_STATE_H_
#define OTPGATE_SRC_LMDB_VERIFIED_STATE_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "file_util.h"

namespace otpgate {

struct FileState {
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t txnid = 0;  // the newest committed transaction
  uint64_t meta = 0;   // hash of both meta pages
  uint64_t boot = 0;   // hash of the kernel's boot id
  uint64_t mount = 0;  // the kernel's id of the mount holding the file
  bool operator==(const FileState&) const = default;
};

// The state of the data file open as `fd`, with `txnid` the transaction
// committed last; nullopt if it cannot be taken (statx, the meta pages or
// the boot id unreadable): such a file is walked on every open.
std::optional<FileState> StateOf(int fd, uint64_t txnid);

class VerifiedStates {
 public:
  static constexpr int kTransitionSlots = 64;

  // Opens (or creates) the record of the store directory `store_dir`. In
  // the shared group model a record this process creates gets the group
  // `group` and 0660, else 0600. A record that cannot be opened or fails
  // its access checks is not used: every open walks, nothing is recorded.
  // Thread-safe after construction.
  VerifiedStates(const std::string& store_dir, bool group_model, gid_t group);

  // Held by a writer from just before its commit until it has taken the
  // state after it (RecordCommit), so that no other writer - thread or
  // process - writes a page of the next commit in between: that state would
  // then include the next commit's pages, and the chain would break. LMDB's
  // write lock does not cover this: the commit releases it. Waiting is
  // bounded (a holder holds it for one commit), and after one wait that ran
  // out this process does not wait again until it has taken the guard, so
  // that a stalled holder (a stopped process) costs each writer at most one
  // wait, not one per commit. A guard that could not be taken (held() false)
  // means: commit, but record nothing.
  class CommitGuard {
   public:
    CommitGuard(CommitGuard&& other) noexcept;
    CommitGuard& operator=(CommitGuard&&) = delete;
    ~CommitGuard();
    bool held() const { return owner_ != nullptr; }

   private:
    friend class VerifiedStates;
    CommitGuard() = default;
    VerifiedStates* owner_ = nullptr;
  };
  CommitGuard GuardCommit();

  // How many recorded transitions lead from the base to `current`: 0 if it
  // is the base, nullopt if it is not reached.
  std::optional<int> ChainLength(const FileState& current) const;
  bool Covers(const FileState& current) const { return ChainLength(current).has_value(); }

  // A walk found `state` sound (or a chain reached it): it becomes the base,
  // unless the base is a later state of the same file (a walk that began
  // before commits which moved the base on). A file put back in place with
  // an older transaction id (a restored copy) has a newer ctime and is
  // recorded. Under `guard`, so that no other record of a base comes between
  // the check and the write.
  void RecordBase(const CommitGuard& guard, const FileState& state);

  // One commit, made under `guard`, turned `before` into `after` (the
  // caller checked that no other commit came between). Records the
  // transition and, if `before` was covered, moves the base to `after` so
  // that chains stay short.
  void RecordCommit(const CommitGuard& guard, const FileState& before, const FileState& after);

 private:
  std::string path_;
  UniqueFd fd_;
  std::timed_mutex commit_mutex_;     // threads of this process (flock is per open file)
  std::atomic<bool> stalled_{false};  // the last wait for the guard ran out
};

}  // namespace otpgate

#endif  // OTPGATE_SRC_LMDB_VERIFIED_STATE_H_
