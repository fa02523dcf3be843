// The stored token record and the registrant failure record: bytes from the
// store (a damaged or forged file) decode or are kCorrupt; what decodes
// encodes back to the same bytes, with counters in range.
#include "fuzz_util.h"
#include "lockout.h"
#include "otpgate/token_record.h"

using namespace otpgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  if (auto record = DecodeTokenRecord(bytes); record.ok()) {
    std::vector<uint8_t> encoded = EncodeTokenRecord(*record);
    FUZZ_CHECK(encoded.size() == size && std::equal(encoded.begin(), encoded.end(), data));
    FUZZ_CHECK(record->last_accepted <= kMaxHotpCounter);
  } else {
    FUZZ_CHECK(record.status().code() == StatusCode::kCorrupt);
  }
  if (auto state = DecodeFailureState(bytes); state.ok()) {
    std::vector<uint8_t> encoded = EncodeFailureState(*state);
    FUZZ_CHECK(encoded.size() == size && std::equal(encoded.begin(), encoded.end(), data));
  }
  return 0;
}
