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
// A state is the file's identity and inode metadata plus the committed
// transaction id (FileState). An opener whose current state is reached from
// the base through recorded transitions skips the walk. Anything else - a
// file replaced, truncated, written by anything other than an LMDB commit of
// ours (ctime changes; it cannot be set back), a transition lost to a crash -
// leaves the current state unreached, and the opener walks (and records a
// new base).
//
// What it cannot see: a write that lands between a commit and the fstat
// that records it, or within the same clock tick (ctime's granularity) after
// it without changing the size. Those are damage in a window of
// microseconds to milliseconds after a commit; the walk remains the check
// for everything else. A record that fails its checks (access, format,
// checksum) is not believed; writing it is best effort and never fails a
// request. Whoever can write the record can write data.mdb itself.
#ifndef OTPGATE_SRC_LMDB_VERIFIED_STATE_H_
#define OTPGATE_SRC_LMDB_VERIFIED_STATE_H_

#include <sys/types.h>

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
  bool operator==(const FileState&) const = default;
};

// The state of the data file open as `fd`, with `txnid` the transaction
// committed last; nullopt if fstat fails.
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
  // bounded (a holder holds it for one commit); a guard that could not be
  // taken (held() false) means: commit, but record nothing.
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

  // True if `current` is the base or is reached from it through recorded
  // transitions.
  bool Covers(const FileState& current) const;

  // A walk found `state` sound (or a chain reached it): it becomes the base,
  // unless the base is a later state of the same file. Under `guard`, so
  // that no other record of a base comes between the check and the write.
  void RecordBase(const CommitGuard& guard, const FileState& state);

  // One commit, made under `guard`, turned `before` into `after` (the
  // caller checked that no other commit came between). Records the
  // transition and, if `before` was covered, moves the base to `after` so
  // that chains stay short.
  void RecordCommit(const CommitGuard& guard, const FileState& before, const FileState& after);

 private:
  std::string path_;
  UniqueFd fd_;
  std::timed_mutex commit_mutex_;  // threads of this process (flock is per open file)
};

}  // namespace otpgate

#endif  // OTPGATE_SRC_LMDB_VERIFIED_STATE_H_
