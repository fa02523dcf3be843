// Group commit: concurrent state-changing requests share one durable LMDB
// commit (private to the core).
//
// A durable commit (fsync) costs ~100-400 µs and LMDB serialises writers, so
// one commit per request caps a threaded server (radiusd) at a few thousand
// decisions per second. Here the first request to arrive becomes the leader:
// it takes every request queued so far, runs them in one write transaction
// (each in a nested transaction, in arrival order, each re-reading what it
// decides on), commits once, and wakes them. Requests arriving meanwhile
// queue for the next leader. No caller returns before the commit that holds
// its change is durable, so an Accept is never answered before its replay
// mark is on disk. A single-threaded caller (PAM) forms groups of one.
// For a store whose writers gain nothing from sharing a commit
// (Store::SharesCommits() is false), Write is Store::Write. Both backends
// share: LMDB one fsync, PostgreSQL one transaction under its pool-wide
// write lock (a savepoint per request).
#ifndef OTPGATE_SRC_GROUP_COMMIT_H_
#define OTPGATE_SRC_GROUP_COMMIT_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include "otpgate/store.h"

namespace otpgate {

class GroupCommit {
 public:
  explicit GroupCommit(Store& store) : store_(store) {}

  // Runs `fn` in a write transaction shared with concurrent callers and
  // returns once that transaction is durable: fn's own status if it failed
  // (nothing of it stored), else the commit's status. `user`: whose tokens
  // fn reads, if one user's (Store::GroupMember).
  Status Write(const std::function<Status(Txn&)>& fn, std::string_view user = {});

 private:
  // One waiting request; each has its own condition variable so that a
  // commit wakes exactly its members and the next leader, not everyone.
  struct Pending {
    Store::GroupMember member;
    Status status;
    bool done = false;
    std::condition_variable wake;
  };

  Store& store_;
  std::mutex mutex_;
  std::vector<Pending*> queue_;
  bool leader_active_ = false;
};

}  // namespace otpgate

#endif  // OTPGATE_SRC_GROUP_COMMIT_H_
