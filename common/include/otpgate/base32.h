// Base32 (RFC 4648 §6), as printed by authenticator apps and key URIs.
#ifndef OTPGATE_BASE32_H_
#define OTPGATE_BASE32_H_

#include <span>
#include <string>
#include <string_view>

#include "otpgate/secret.h"
#include "otpgate/status.h"

namespace otpgate {

// Upper case, no padding (the otpauth:// convention).
std::string Base32Encode(std::span<const uint8_t> data);
// Tolerant: lower case, '=' padding, spaces and hyphens are accepted;
// any other character, or a bit-length that cannot come from whole bytes,
// is kInvalidArgument.
Result<SecretBytes> Base32Decode(std::string_view text);

// Hex, for CSV imports and tests. Accepts upper/lower case, no separators.
Result<SecretBytes> HexDecode(std::string_view text);
std::string HexEncode(std::span<const uint8_t> data);

}  // namespace otpgate

#endif  // OTPGATE_BASE32_H_
