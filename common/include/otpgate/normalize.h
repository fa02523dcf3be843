// Normalisation of what people type: the bank's customers use Japanese input
// methods, which produce full-width digits and letters (U+FF10..U+FF19,
// U+FF21..U+FF3A, U+FF41..U+FF5A), ideographic spaces (U+3000) and assorted
// hyphens. These are folded to ASCII; spaces and hyphens are dropped.
#ifndef OTPGATE_NORMALIZE_H_
#define OTPGATE_NORMALIZE_H_

#include <string>
#include <string_view>

#include "otpgate/status.h"

namespace otpgate {

// Longest input we look at: anything longer is malformed, not truncated.
constexpr size_t kMaxInputBytes = 256;

// A code: only digits remain, and there must be `digits` of them.
Result<std::string> NormalizeCode(std::string_view input, int digits);
// Same, when the token's digit count is not known yet (6..8 digits).
Result<std::string> NormalizeCodeAnyLength(std::string_view input);
// A credential ID: letters upper-cased, digits kept, 1..64 characters of
// [A-Z0-9] after folding.
Result<std::string> NormalizeCredentialId(std::string_view input);
// A user name: 1..255 bytes, no control characters, no NUL; not folded
// (user names belong to the first factor and are matched exactly).
Status ValidateUserName(std::string_view user);

}  // namespace otpgate

#endif  // OTPGATE_NORMALIZE_H_
