#include "lmdb_verified_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <thread>

namespace otpgate {
namespace {

// The record: slot 0 is the base, slot 1 + (txnid % kTransitionSlots) the
// transition that committed `txnid`. Each slot is 16 host-order words:
// magic, kind, the state before (6 words), the state after (6 words, zero
// for a base), a check word over the first 14, and one unused word.
constexpr uint64_t kMagic = 0x3174617473677470;  // "ptgstat1"
constexpr uint64_t kBase = 1, kTransition = 2;
constexpr size_t kWords = 16;
constexpr size_t kSlotBytes = kWords * sizeof(uint64_t);
constexpr size_t kSlots = 1 + VerifiedStates::kTransitionSlots;
using Slot = std::array<uint64_t, kWords>;

// FNV-1a over the words: finds a torn or foreign slot, not a forged one
// (whoever can write the record can write data.mdb).
uint64_t Check(const Slot& slot) {
  uint64_t h = 0xcbf29ce484222325;
  for (size_t i = 0; i < 14; ++i) {
    for (int b = 0; b < 8; ++b) {
      h ^= (slot[i] >> (8 * b)) & 0xff;
      h *= 0x100000001b3;
    }
  }
  return h;
}

void Put(Slot& slot, size_t at, const FileState& s) {
  slot[at] = s.device;
  slot[at + 1] = s.inode;
  slot[at + 2] = s.size;
  slot[at + 3] = static_cast<uint64_t>(s.mtime_ns);
  slot[at + 4] = static_cast<uint64_t>(s.ctime_ns);
  slot[at + 5] = s.txnid;
}

FileState Get(const Slot& slot, size_t at) {
  return {slot[at],
          slot[at + 1],
          slot[at + 2],
          static_cast<int64_t>(slot[at + 3]),
          static_cast<int64_t>(slot[at + 4]),
          slot[at + 5]};
}

Slot Make(uint64_t kind, const FileState& before, const FileState& after) {
  Slot slot{};
  slot[0] = kMagic;
  slot[1] = kind;
  Put(slot, 2, before);
  Put(slot, 8, after);
  slot[14] = Check(slot);
  return slot;
}

bool Valid(const Slot& slot, uint64_t kind) {
  return slot[0] == kMagic && slot[1] == kind && slot[14] == Check(slot);
}

size_t TransitionIndex(uint64_t txnid) {
  return 1 + static_cast<size_t>(txnid % VerifiedStates::kTransitionSlots);
}

// Longer than any one commit should take; a guard not taken by then costs
// only a record (the next opener walks).
constexpr auto kGuardWait = std::chrono::milliseconds(200);

int64_t Nanoseconds(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

}  // namespace

std::optional<FileState> StateOf(int fd, uint64_t txnid) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return FileState{static_cast<uint64_t>(st.st_dev),  static_cast<uint64_t>(st.st_ino),
                   static_cast<uint64_t>(st.st_size), Nanoseconds(st.st_mtim),
                   Nanoseconds(st.st_ctim),           txnid};
}

VerifiedStates::VerifiedStates(const std::string& store_dir, bool group_model, gid_t group)
    : path_(store_dir + "/data.mdb.verified") {
  const int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
  UniqueFd fd(::open(path_.c_str(), flags));
  if (!fd && errno == ENOENT) {
    fd = UniqueFd(::open(path_.c_str(), flags | O_CREAT | O_EXCL, group_model ? 0660 : 0600));
    if (fd && ((group_model && ::fchown(fd.get(), static_cast<uid_t>(-1), group) != 0) ||
               ::fchmod(fd.get(), group_model ? 0660 : 0600) != 0)) {
      return;  // not believed: a record with the wrong group or mode
    }
    if (!fd && errno == EEXIST) fd = UniqueFd(::open(path_.c_str(), flags));
  }
  if (!fd || !CheckAccess(fd.get(), path_, "store file", FileRole::kStoreFile).ok()) return;
  fd_ = std::move(fd);
}

bool VerifiedStates::Covers(const FileState& current) const {
  if (!fd_) return false;
  std::array<Slot, kSlots> slots{};  // a slot never written reads as zeros: invalid
  if (::pread(fd_.get(), slots.data(), sizeof(slots), 0) < 0) return false;
  if (!Valid(slots[0], kBase)) return false;
  FileState state = Get(slots[0], 2);
  // Each step is the transition that committed the next transaction id; at
  // most one step per slot, so a chain longer than the ring is never taken.
  for (int step = 0; step < kTransitionSlots && state.txnid < current.txnid; ++step) {
    const Slot& next = slots[TransitionIndex(state.txnid + 1)];
    if (!Valid(next, kTransition) || !(Get(next, 2) == state)) return false;
    FileState after = Get(next, 8);
    if (after.txnid != state.txnid + 1) return false;
    state = after;
  }
  return state == current;
}

void VerifiedStates::RecordBase(const CommitGuard& guard, const FileState& state) {
  if (!fd_ || guard.owner_ != this) return;
  // Never back: a walk that began before commits which moved the base on
  // would put the base where the ring no longer reaches the file's state.
  // (Every base recorded is sound; a newer one of the same file is better.)
  Slot current{};
  if (::pread(fd_.get(), current.data(), kSlotBytes, 0) == static_cast<ssize_t>(kSlotBytes) &&
      Valid(current, kBase)) {
    FileState base = Get(current, 2);
    if (base.device == state.device && base.inode == state.inode && base.txnid > state.txnid) {
      return;
    }
  }
  Slot slot = Make(kBase, state, FileState{});
  (void)::pwrite(fd_.get(), slot.data(), kSlotBytes, 0);  // best effort (header comment)
}

VerifiedStates::CommitGuard::CommitGuard(CommitGuard&& other) noexcept : owner_(other.owner_) {
  other.owner_ = nullptr;
}

VerifiedStates::CommitGuard::~CommitGuard() {
  if (owner_ == nullptr) return;
  (void)::flock(owner_->fd_.get(), LOCK_UN);
  owner_->commit_mutex_.unlock();
}

VerifiedStates::CommitGuard VerifiedStates::GuardCommit() {
  CommitGuard guard;
  if (!fd_) return guard;
  const auto deadline = std::chrono::steady_clock::now() + kGuardWait;
  // A thread of this process may be between its commit and its fstat.
  if (!commit_mutex_.try_lock_until(deadline)) return guard;
  while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if ((errno != EWOULDBLOCK && errno != EINTR) || std::chrono::steady_clock::now() >= deadline) {
      commit_mutex_.unlock();
      return guard;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  guard.owner_ = this;
  return guard;
}

void VerifiedStates::RecordCommit(const CommitGuard& guard, const FileState& before,
                                  const FileState& after) {
  if (!fd_ || guard.owner_ != this) return;
  Slot transition = Make(kTransition, before, after);
  off_t at = static_cast<off_t>(TransitionIndex(after.txnid) * kSlotBytes);
  if (::pwrite(fd_.get(), transition.data(), kSlotBytes, at) != static_cast<ssize_t>(kSlotBytes)) {
    return;
  }
  // The common case costs one read: the base is the state before this
  // commit (the previous commit moved it there).
  Slot base{};
  bool base_is_before =
      ::pread(fd_.get(), base.data(), kSlotBytes, 0) == static_cast<ssize_t>(kSlotBytes) &&
      Valid(base, kBase) && Get(base, 2) == before;
  if (base_is_before || Covers(after)) RecordBase(guard, after);
}

}  // namespace otpgate
