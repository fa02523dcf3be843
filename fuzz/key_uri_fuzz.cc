// otpauth:// key URIs (one or a file of them): what parses is in range and
// survives a format/parse round trip.
#include "fuzz_util.h"
#include "otpgate/otpauth_uri.h"
#include "otpgate/token_import.h"

using namespace otpgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::Text(data, size);
  if (auto key = ParseKeyUri(text); key.ok()) {
    FUZZ_CHECK(key->params.Validate().ok());
    FUZZ_CHECK(key->counter <= static_cast<uint64_t>(kMaxHotpCounter));
    std::string uri = FormatKeyUri(*key);
    auto again = ParseKeyUri(uri);
    FUZZ_CHECK(again.ok());
    // A counter is part of a HOTP key only (a TOTP URI may carry one; it is
    // ignored and not written back).
    FUZZ_CHECK(again->params.digits == key->params.digits);
    FUZZ_CHECK(key->params.kind != OtpKind::kHotp || again->counter == key->counter);
  }
  ParsedTokens parsed = ParseTokenUris(text);
  for (const auto& [spec, secret] : parsed.tokens) FUZZ_CHECK(spec.params.Validate().ok());
  return 0;
}
