// Code and credential-ID normalisation: what a user types at a prompt or
// sends in a RADIUS attribute. A normalised code is digits only, of the
// asked length; a normalised ID normalises to itself.
#include "fuzz_util.h"
#include "otpgate/normalize.h"

using namespace otpgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::Text(data, size);
  if (auto code = NormalizeCodeAnyLength(text); code.ok()) {
    for (char c : *code) FUZZ_CHECK(c >= '0' && c <= '9');
  }
  for (int digits = 6; digits <= 8; ++digits) {
    if (auto code = NormalizeCode(text, digits); code.ok()) {
      FUZZ_CHECK(static_cast<int>(code->size()) == digits);
    }
  }
  if (auto id = NormalizeCredentialId(text); id.ok()) {
    auto again = NormalizeCredentialId(*id);
    FUZZ_CHECK(again.ok() && *again == *id);
  }
  return 0;
}
