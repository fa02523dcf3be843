// Key URIs: otpauth://TYPE/LABEL?secret=...&issuer=...&algorithm=...&digits=...
// &period=...&counter=... (the Google Authenticator "Key Uri Format").
#ifndef OTPGATE_OTPAUTH_URI_H_
#define OTPGATE_OTPAUTH_URI_H_

#include <string>
#include <string_view>

#include "otpgate/otp.h"
#include "otpgate/secret.h"
#include "otpgate/status.h"

namespace otpgate {

struct KeyUri {
  OtpParams params;
  SecretBytes secret;
  std::string issuer;    // may be empty
  std::string account;   // the label's account part (for us: the credential ID)
  uint64_t counter = 0;  // HOTP only
};

Result<KeyUri> ParseKeyUri(std::string_view uri);
// The URI carries the secret: callers must wipe the string when done.
std::string FormatKeyUri(const KeyUri& key);

// Percent-encoding helpers (RFC 3986 unreserved set kept as is).
std::string PercentEncode(std::string_view text);
Result<std::string> PercentDecode(std::string_view text);

}  // namespace otpgate

#endif  // OTPGATE_OTPAUTH_URI_H_
