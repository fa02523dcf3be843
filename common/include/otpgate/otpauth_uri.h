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

// The label is "issuer:account" with a literal ':' (a ':' within either part
// percent-encoded), or "account", or "issuer%3Aaccount" when the issuer
// parameter names the same issuer.
Result<KeyUri> ParseKeyUri(std::string_view uri);
// kFailedPrecondition when a key URI cannot carry these parameters (a TOTP
// T0 other than 0): a URI would then give other codes than the token.
Status CheckExpressibleAsKeyUri(const OtpParams& params);
// The URI carries the secret: callers must wipe the string when done.
// Issuer and account are percent-encoded, ':' included, so that
// ParseKeyUri(FormatKeyUri(k)) gives k back. REQUIRES: CheckExpressibleAsKeyUri.
std::string FormatKeyUri(const KeyUri& key);

// Percent-encoding helpers (RFC 3986 unreserved set kept as is).
std::string PercentEncode(std::string_view text);
Result<std::string> PercentDecode(std::string_view text);

}  // namespace otpgate

#endif  // OTPGATE_OTPAUTH_URI_H_
