// PSKC (RFC 6030) containers, plain and protected: the first byte picks the
// options (none, a pre-shared key, a password), the rest is the XML.
#include "fuzz_util.h"
#include "otpgate/pskc.h"

using namespace otpgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  PskcOptions options;
  const uint8_t mode = data[0];
  if (mode & 1) {
    // The pre-shared key of RFC 6030 figure 6.
    const char kKey[] = "\x12\x34\x56\x78\x90\x12\x34\x56\x78\x90\x12\x34\x56\x78\x90\x12";
    options.preshared_key =
        SecretBytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kKey), 16));
  }
  if (mode & 2) options.password = "qwerty";  // RFC 6030 figure 7
  options.id_from_key_id = (mode & 4) != 0;
  auto parsed = ParsePskcText(fuzz::Text(data + 1, size - 1), options);
  if (parsed.ok()) {
    for (const auto& [spec, secret] : parsed->tokens) {
      FUZZ_CHECK(spec.params.Validate().ok());
      FUZZ_CHECK(spec.initial_counter <= static_cast<uint64_t>(kMaxHotpCounter));
      FUZZ_CHECK(!secret.empty());
    }
  }
  return 0;
}
