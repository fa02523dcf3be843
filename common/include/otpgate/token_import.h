// Parsing of token seed files into TokenSpecs (CSV and otpauth:// lines).
// Whole-file semantics: every line is checked; the caller imports the valid
// ones in one transaction and reports the rejected ones.
#ifndef OTPGATE_TOKEN_IMPORT_H_
#define OTPGATE_TOKEN_IMPORT_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "otpgate/operations.h"
#include "otpgate/secret.h"

namespace otpgate {

struct RejectedLine {
  size_t line = 0;
  std::string reason;  // never contains the secret
};

struct ParsedTokens {
  std::vector<std::pair<TokenSpec, SecretBytes>> tokens;
  std::vector<RejectedLine> rejected;
};

// Largest seed file we read (a 100,000-token CSV is ~8 MiB).
constexpr size_t kMaxImportBytes = 256u << 20;

// CSV, one token per line:
//   credential_id,secret[,encoding[,type[,algorithm[,digits[,period_or_counter]]]]]
// encoding: base32 (default) or hex; type: totp (default) or hotp;
// algorithm: SHA1 (default), SHA256, SHA512; digits: 6 (default), 7, 8;
// the last column is the TOTP period (default 30) or the HOTP counter
// (default 0). Empty columns take the default. Blank lines, lines starting
// with '#', and a header line starting with "credential_id" are skipped.
// A credential ID repeated within the file is rejected after its first use.
ParsedTokens ParseTokenCsv(std::string_view text, std::string_view issuer);

// One otpauth:// URI per line; the credential ID is the label's account part.
ParsedTokens ParseTokenUris(std::string_view text);

}  // namespace otpgate

#endif  // OTPGATE_TOKEN_IMPORT_H_
