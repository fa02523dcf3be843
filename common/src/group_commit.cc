#include "group_commit.h"

namespace otpgate {

Status GroupCommit::Write(const std::function<Status(Txn&)>& fn) {
  Pending mine{&fn, Status(), false};
  std::unique_lock lock(mutex_);
  queue_.push_back(&mine);
  while (!mine.done) {
    if (leader_active_) {
      done_.wait(lock);
      continue;
    }
    // Lead: take everything queued (this request included) and commit it.
    leader_active_ = true;
    std::vector<Pending*> group;
    group.swap(queue_);
    lock.unlock();

    std::vector<const std::function<Status(Txn&)>*> fns;
    std::vector<Status> results(group.size());
    fns.reserve(group.size());
    for (Pending* p : group) fns.push_back(p->fn);
    Status commit = store_.WriteGroup(fns, results);

    lock.lock();
    for (size_t i = 0; i < group.size(); ++i) {
      // A request that failed on its own keeps its own status; the others
      // succeed only if the commit did.
      group[i]->status = !results[i].ok() ? results[i] : commit;
      group[i]->done = true;
    }
    leader_active_ = false;
    done_.notify_all();
  }
  return mine.status;
}

}  // namespace otpgate
