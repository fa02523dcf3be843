#include "credential_id_set.h"

#include <functional>

namespace otpgate {

std::string_view CredentialIdSet::At(uint64_t offset) const {
  return std::string_view(ids_.data() + offset + 1, static_cast<uint8_t>(ids_[offset]));
}

size_t CredentialIdSet::SlotFor(std::string_view id) const {
  size_t mask = slots_.size() - 1;
  for (size_t slot = std::hash<std::string_view>{}(id)&mask;; slot = (slot + 1) & mask) {
    if (slots_[slot] == kEmpty || At(slots_[slot]) == id) return slot;
  }
}

void CredentialIdSet::Grow() {
  std::vector<uint64_t> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, kEmpty);
  for (uint64_t offset : old) {
    if (offset != kEmpty) slots_[SlotFor(At(offset))] = offset;
  }
}

bool CredentialIdSet::Insert(std::string_view id) {
  // At most half full, so that every probe sequence ends at an empty slot.
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  size_t slot = SlotFor(id);
  if (slots_[slot] != kEmpty) return false;
  slots_[slot] = ids_.size();
  ids_.push_back(static_cast<char>(static_cast<uint8_t>(id.size())));
  ids_.append(id);
  ++size_;
  return true;
}

}  // namespace otpgate
