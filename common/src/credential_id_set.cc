#include "credential_id_set.h"

#include <cstring>
#include <functional>
#include <random>

namespace otpgate {

CredentialIdSet::CredentialIdSet() {
  std::random_device device;
  seed_ = static_cast<uint64_t>(device()) << 32 | device();
}

std::string_view CredentialIdSet::At(uint64_t offset) const {
  uint32_t length;
  std::memcpy(&length, ids_.data() + offset, sizeof(length));
  return std::string_view(ids_.data() + offset + sizeof(length), length);
}

size_t CredentialIdSet::SlotFor(std::string_view id) const {
  // Fibonacci hashing of the seeded hash: the slot is taken from the top
  // bits, so that IDs which share a slot at one size mostly part at the next.
  uint64_t mixed = (std::hash<std::string_view>{}(id) ^ seed_) * 0x9E3779B97F4A7C15u;
  size_t mask = slots_.size() - 1;
  for (size_t slot = static_cast<size_t>(mixed >> shift_);; slot = (slot + 1) & mask) {
    if (slots_[slot] == kEmpty || At(slots_[slot]) == id) return slot;
  }
}

void CredentialIdSet::Grow() {
  std::vector<uint64_t> old = std::move(slots_);
  shift_ = old.empty() ? 64 - 10 : shift_ - 1;
  slots_.assign(size_t{1} << (64 - shift_), kEmpty);
  for (uint64_t offset : old) {
    if (offset != kEmpty) slots_[SlotFor(At(offset))] = offset;
  }
}

bool CredentialIdSet::Insert(std::string_view id) {
  // At most half full, so that every probe sequence ends at an empty slot.
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  size_t slot = SlotFor(id);
  if (slots_[slot] != kEmpty) return false;
  // Stored first, then published in its slot: a failed allocation leaves no
  // slot pointing past the end of ids_.
  // (Callers pass normalized IDs of at most 64 bytes; the length field
  // holds up to 4 GiB.)
  uint64_t offset = ids_.size();
  uint32_t length = static_cast<uint32_t>(id.size());
  ids_.append(reinterpret_cast<const char*>(&length), sizeof(length));
  ids_.append(id);
  slots_[slot] = offset;
  ++size_;
  return true;
}

}  // namespace otpgate
