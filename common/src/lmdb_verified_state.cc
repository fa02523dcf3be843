#include "lmdb_verified_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <iterator>
#include <thread>

// Linux 6.8; Debian 12's headers predate it. Older kernels ignore the bit.
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

namespace otpgate {
namespace {

// The record: slot 0 is the base, slot 1 + (txnid % kTransitionSlots) the
// transition that committed `txnid`. Each slot is 24 host-order words:
// magic, kind, the state before (9 words), the state after (9 words, zero
// for a base), a check word over the first 20, and three unused words.
constexpr uint64_t kMagic = 0x3274617473677470;  // "ptgstat2"
constexpr uint64_t kBase = 1, kTransition = 2;
constexpr size_t kStateWords = 9;
constexpr size_t kBefore = 2, kAfter = kBefore + kStateWords, kCheck = kAfter + kStateWords;
constexpr size_t kWords = 24;
constexpr size_t kSlotBytes = kWords * sizeof(uint64_t);
constexpr size_t kSlots = 1 + VerifiedStates::kTransitionSlots;
using Slot = std::array<uint64_t, kWords>;

// FNV-1a: finds a torn or foreign slot, or a changed meta page; not a forged
// one (whoever can write the record can write data.mdb).
uint64_t Fnv1a(const void* data, size_t size, uint64_t h = 0xcbf29ce484222325) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= bytes[i];
    h *= 0x100000001b3;
  }
  return h;
}

uint64_t Check(const Slot& slot) { return Fnv1a(slot.data(), kCheck * sizeof(uint64_t)); }

void Put(Slot& slot, size_t at, const FileState& s) {
  const uint64_t words[kStateWords] = {s.device,
                                       s.inode,
                                       s.size,
                                       static_cast<uint64_t>(s.mtime_ns),
                                       static_cast<uint64_t>(s.ctime_ns),
                                       s.txnid,
                                       s.meta,
                                       s.boot,
                                       s.mount};
  std::copy(std::begin(words), std::end(words), slot.begin() + static_cast<ptrdiff_t>(at));
}

FileState Get(const Slot& slot, size_t at) {
  return {slot[at],
          slot[at + 1],
          slot[at + 2],
          static_cast<int64_t>(slot[at + 3]),
          static_cast<int64_t>(slot[at + 4]),
          slot[at + 5],
          slot[at + 6],
          slot[at + 7],
          slot[at + 8]};
}

Slot Make(uint64_t kind, const FileState& before, const FileState& after) {
  Slot slot{};
  slot[0] = kMagic;
  slot[1] = kind;
  Put(slot, kBefore, before);
  Put(slot, kAfter, after);
  slot[kCheck] = Check(slot);
  return slot;
}

bool Valid(const Slot& slot, uint64_t kind) {
  return slot[0] == kMagic && slot[1] == kind && slot[kCheck] == Check(slot);
}

size_t TransitionIndex(uint64_t txnid) {
  return 1 + static_cast<size_t>(txnid % VerifiedStates::kTransitionSlots);
}

// Longer than any one commit should take; a guard not taken by then costs
// only a record (the next opener walks).
constexpr auto kGuardWait = std::chrono::milliseconds(200);

int64_t Nanoseconds(const struct statx_timestamp& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// The kernel's id of this boot, hashed; read once (it changes only with
// a reboot, and so with a new process). 0 if /proc cannot tell.
uint64_t BootId() {
  static const uint64_t boot = [] {
    UniqueFd fd(::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC));
    char id[64];
    ssize_t n = fd ? ::read(fd.get(), id, sizeof(id)) : -1;
    return n >= 32 ? Fnv1a(id, static_cast<size_t>(n)) : 0;
  }();
  return boot;
}

// The part of an LMDB meta page that LMDB reads: the page header and the
// meta record (16 + 136 bytes), rounded up.
constexpr size_t kMetaBytes = 256;

// A hash of both meta pages; the second lies one page (the size meta page 0
// records) into the file. nullopt if they cannot be read.
std::optional<uint64_t> MetaHash(int fd) {
  uint8_t meta[kMetaBytes];
  if (::pread(fd, meta, sizeof(meta), 0) != static_cast<ssize_t>(sizeof(meta))) {
    return std::nullopt;
  }
  uint64_t h = Fnv1a(meta, sizeof(meta));
  uint32_t page_size = 0;
  std::memcpy(&page_size, meta + 16 + 24, sizeof(page_size));  // MDB_meta.mm_dbs[0].md_pad
  if (page_size < kMetaBytes || page_size > 65536 || (page_size & (page_size - 1)) != 0) {
    return h;  // a damaged page 0: the hash has changed already
  }
  if (::pread(fd, meta, sizeof(meta), page_size) != static_cast<ssize_t>(sizeof(meta))) {
    return std::nullopt;
  }
  return Fnv1a(meta, sizeof(meta), h);
}

}  // namespace

std::optional<FileState> StateOf(int fd, uint64_t txnid) {
  struct statx st;
  if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT,
              STATX_BASIC_STATS | STATX_MNT_ID | STATX_MNT_ID_UNIQUE, &st) != 0) {
    return std::nullopt;
  }
  std::optional<uint64_t> meta = MetaHash(fd);
  const uint64_t boot = BootId();
  if (!meta.has_value() || boot == 0) return std::nullopt;
  FileState state;
  state.device = (uint64_t{st.stx_dev_major} << 32) | st.stx_dev_minor;
  state.inode = st.stx_ino;
  state.size = st.stx_size;
  state.mtime_ns = Nanoseconds(st.stx_mtime);
  state.ctime_ns = Nanoseconds(st.stx_ctime);
  state.txnid = txnid;
  state.meta = *meta;
  state.boot = boot;
  // Unique within the boot where the kernel has it (6.8); reused ids on older
  // kernels still tell a file moved to another mount.
  state.mount = (st.stx_mask & (STATX_MNT_ID | STATX_MNT_ID_UNIQUE)) != 0 ? st.stx_mnt_id : 0;
  return state;
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

std::optional<int> VerifiedStates::ChainLength(const FileState& current) const {
  if (!fd_) return std::nullopt;
  std::array<Slot, kSlots> slots{};  // a slot never written reads as zeros: invalid
  if (::pread(fd_.get(), slots.data(), sizeof(slots), 0) < 0) return std::nullopt;
  if (!Valid(slots[0], kBase)) return std::nullopt;
  FileState state = Get(slots[0], kBefore);
  // Each step is the transition that committed the next transaction id; at
  // most one step per slot, so a chain longer than the ring is never taken.
  int steps = 0;
  for (; steps < kTransitionSlots && state.txnid < current.txnid; ++steps) {
    const Slot& next = slots[TransitionIndex(state.txnid + 1)];
    if (!Valid(next, kTransition) || !(Get(next, kBefore) == state)) return std::nullopt;
    FileState after = Get(next, kAfter);
    if (after.txnid != state.txnid + 1) return std::nullopt;
    state = after;
  }
  if (!(state == current)) return std::nullopt;
  return steps;
}

void VerifiedStates::RecordBase(const CommitGuard& guard, const FileState& state) {
  if (!fd_ || guard.owner_ != this) return;
  // Never back: a walk that began before commits which moved the base on
  // would put the base where the ring no longer reaches the file's state.
  // (Every base recorded is sound; a newer one of the same file is better.)
  Slot current{};
  if (::pread(fd_.get(), current.data(), kSlotBytes, 0) == static_cast<ssize_t>(kSlotBytes) &&
      Valid(current, kBase)) {
    FileState base = Get(current, kBefore);
    if (base == state) return;  // already the base: nothing to write
    const bool same_file = base.device == state.device && base.inode == state.inode &&
                           base.boot == state.boot && base.mount == state.mount;
    if (same_file && base.txnid > state.txnid && base.ctime_ns >= state.ctime_ns) return;
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
  const std::chrono::steady_clock::duration wait =
      stalled_.load() ? std::chrono::steady_clock::duration::zero() : kGuardWait;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  // A thread of this process may be between its commit and its fstat.
  if (!commit_mutex_.try_lock_until(deadline)) {
    stalled_.store(true);
    return guard;
  }
  while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    const bool held_elsewhere = errno == EWOULDBLOCK || errno == EINTR;
    if (!held_elsewhere || std::chrono::steady_clock::now() >= deadline) {
      if (held_elsewhere) stalled_.store(true);
      commit_mutex_.unlock();
      return guard;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  stalled_.store(false);
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
      Valid(base, kBase) && Get(base, kBefore) == before;
  if (base_is_before || Covers(after)) RecordBase(guard, after);
}

}  // namespace otpgate
