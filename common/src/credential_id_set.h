// CredentialIdSet: the credential IDs an import has seen, to refuse one that
// appears twice in a file. Sized for millions of IDs: the IDs are kept end
// to end in one buffer, indexed by an open-addressing table of offsets;
// about 35 bytes per 12-character ID against ~70 for an
// std::unordered_set<std::string>. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace otpgate {

class CredentialIdSet {
 public:
  CredentialIdSet();

  // Adds `id`; false if it was already there (the set is unchanged then).
  bool Insert(std::string_view id);
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  std::string_view At(uint64_t offset) const;
  size_t SlotFor(std::string_view id) const;  // the slot holding `id`, or an empty one
  void Grow();

  // A file's IDs are chosen by whoever wrote it: the slot of an ID depends
  // on a seed drawn per set, so that no file can be made ahead of time whose
  // IDs crowd into a few slots and make the import quadratic.
  uint64_t seed_;
  int shift_ = 64;               // slot = top (64 - shift_) bits of the mixed hash
  std::string ids_;              // each ID as a 4-byte length and its bytes
  std::vector<uint64_t> slots_;  // offsets into ids_, or kEmpty; 2^(64 - shift_) long
  size_t size_ = 0;
};

}  // namespace otpgate
