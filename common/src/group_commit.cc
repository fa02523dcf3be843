#include "group_commit.h"

namespace otpgate {

Status GroupCommit::Write(const std::function<Status(Txn&)>& fn, std::string_view user) {
  if (!store_.SharesCommits()) {
    return store_.Write(fn);  // the backend runs writers in parallel (store.h)
  }
  Pending mine;
  mine.member = {&fn, user, std::chrono::steady_clock::now()};
  std::unique_lock lock(mutex_);
  queue_.push_back(&mine);
  // Wait until our group is committed, or until it is our turn to lead.
  mine.wake.wait(lock, [&] { return mine.done || (!leader_active_ && queue_.front() == &mine); });
  if (mine.done) {
    return mine.status;
  }
  // Lead: take everything queued (this request first) and commit it.
  leader_active_ = true;
  std::vector<Pending*> group;
  group.swap(queue_);
  lock.unlock();

  std::vector<Store::GroupMember> members;
  std::vector<Status> results(group.size());
  members.reserve(group.size());
  for (Pending* p : group) members.push_back(p->member);
  Status commit = store_.WriteGroup(members, results);

  lock.lock();
  for (size_t i = 0; i < group.size(); ++i) {
    // A request that failed on its own keeps its own status; the others
    // succeed only if the commit did.
    group[i]->status = !results[i].ok() ? results[i] : commit;
    group[i]->done = true;
    if (group[i] != &mine) group[i]->wake.notify_one();
  }
  leader_active_ = false;
  // Only the next leader is woken; the rest of the queue sleeps on.
  if (!queue_.empty()) queue_.front()->wake.notify_one();
  return mine.status;
}

}  // namespace otpgate
