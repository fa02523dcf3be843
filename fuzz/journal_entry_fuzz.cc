// The audit journal's stored entries: bytes from the store (a damaged or
// forged file) decode or are kCorrupt; what decodes encodes back to the same
// bytes, so that `otpgate audit --verify` hashes exactly what is stored.
#include <algorithm>

#include "fuzz_util.h"
#include "journal.h"

using namespace otpgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto entry = DecodeJournalEntry(std::span<const uint8_t>(data, size));
  if (entry.ok()) {
    std::vector<uint8_t> encoded = EncodeJournalEntry(*entry);
    FUZZ_CHECK(encoded.size() == size && std::equal(encoded.begin(), encoded.end(), data));
  } else {
    FUZZ_CHECK(entry.status().code() == StatusCode::kCorrupt);
  }
  return 0;
}
