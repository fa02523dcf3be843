// Base32 and hex decoding of secrets (CSV, key URIs, the CLI): any input
// decodes or is refused; what decodes re-encodes and decodes to the same bytes.
#include "fuzz_util.h"
#include "otpgate/base32.h"

using namespace otpgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::Text(data, size);
  if (auto decoded = Base32Decode(text); decoded.ok()) {
    auto again = Base32Decode(Base32Encode(decoded->span()));
    FUZZ_CHECK(again.ok() && again->size() == decoded->size());
    FUZZ_CHECK(std::equal(again->span().begin(), again->span().end(), decoded->span().begin()));
  }
  if (auto decoded = HexDecode(text); decoded.ok()) {
    auto again = HexDecode(HexEncode(decoded->span()));
    FUZZ_CHECK(again.ok() && again->size() == decoded->size());
  }
  return 0;
}
