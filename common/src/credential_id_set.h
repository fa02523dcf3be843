// CredentialIdSet: the credential IDs an import has seen, to refuse one that
// appears twice in a file. Sized for millions of IDs: the IDs are kept end
// to end in one buffer, indexed by an open-addressing table of offsets;
// about 30 bytes per 12-character ID against ~70 for an
// std::unordered_set<std::string>. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace otpgate {

class CredentialIdSet {
 public:
  // The longest ID the set holds; normalized credential IDs have at most 64.
  static constexpr size_t kMaxIdBytes = 255;

  // Adds `id`; false if it was already there (the set is unchanged then).
  // REQUIRES: id.size() <= kMaxIdBytes.
  bool Insert(std::string_view id);
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  std::string_view At(uint64_t offset) const;
  size_t SlotFor(std::string_view id) const;  // the slot holding `id`, or an empty one
  void Grow();

  std::string ids_;              // each ID as one length byte and its bytes
  std::vector<uint64_t> slots_;  // offsets into ids_, or kEmpty; a power of two long
  size_t size_ = 0;
};

}  // namespace otpgate
