// CSV seed files (otpgate token import): every line is either a token or a
// rejected line with a reason; counters and parameters are in range.
#include "fuzz_util.h"
#include "otpgate/token_import.h"

using namespace otpgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ParsedTokens parsed = ParseTokenCsv(fuzz::Text(data, size), "fuzz");
  for (const auto& [spec, secret] : parsed.tokens) {
    FUZZ_CHECK(spec.params.Validate().ok());
    FUZZ_CHECK(spec.initial_counter <= static_cast<uint64_t>(kMaxHotpCounter));
    FUZZ_CHECK(!secret.empty());
  }
  for (const RejectedLine& line : parsed.rejected) FUZZ_CHECK(!line.reason.empty());
  return 0;
}
