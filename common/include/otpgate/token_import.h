// Parsing of token seed files into TokenSpecs: CSV, privacyIDEA/LinOTP OATH
// CSV and otpauth:// lines (PSKC is in pskc.h, other systems' user files in
// migrate_*.h).
//
// Whole-file semantics: every line is checked and reported; the caller
// decides (all or nothing by default, see otpgate(8) `token import`).
#ifndef OTPGATE_TOKEN_IMPORT_H_
#define OTPGATE_TOKEN_IMPORT_H_

#include <functional>
#include <istream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "otpgate/operations.h"
#include "otpgate/secret.h"

namespace otpgate {

struct RejectedLine {
  size_t line = 0;     // 1-based line or key position; 0: the file as a whole
  std::string reason;  // never contains the secret
};

using ParsedToken = std::pair<TokenSpec, SecretBytes>;

struct ParsedTokens {
  std::vector<ParsedToken> tokens;
  std::vector<RejectedLine> rejected;
};

// Receives a file's entries one at a time, in file order, so that a caller
// can keep memory bounded: `position` is the 1-based line or key number;
// `entry` is the token or, as a kInvalidArgument status, why it is rejected.
using TokenVisitor = std::function<void(size_t position, Result<ParsedToken> entry)>;
// A visitor that appends to `out` (which must outlive it).
TokenVisitor CollectInto(ParsedTokens& out);

// Largest seed file read whole (CSV and URI files are streamed instead).
constexpr size_t kMaxImportBytes = 256u << 20;

enum class ImportFormat { kPskc, kCsv, kOathCsv, kUri };
std::string_view ImportFormatName(ImportFormat format);  // "pskc", "csv", "oath-csv", "uri"
Result<ImportFormat> ParseImportFormat(std::string_view name);
// By content: XML (a UTF-8/UTF-16 byte order mark, or '<' as the first
// non-blank character) is PSKC; a first entry starting "otpauth://" is a URI
// list; anything else is CSV. OATH CSV is never guessed (its columns look
// like ours): name it.
ImportFormat DetectImportFormat(std::string_view head);

// CSV, one token per line:
//   credential_id,secret[,encoding[,type[,algorithm[,digits[,period_or_counter]]]]]
// encoding: base32 (default) or hex; type: totp (default) or hotp;
// algorithm: SHA1 (default), SHA256, SHA512; digits: 6 (default), 7, 8;
// the last column is the TOTP period (default 30) or the HOTP counter
// (default 0). Empty columns take the default. Blank lines, lines starting
// with '#', a UTF-8 byte order mark, and a header line starting with
// "credential_id" are skipped. A credential ID repeated within the file is
// rejected after its first use.
ParsedTokens ParseTokenCsv(std::string_view text, std::string_view issuer);

// OATH CSV as privacyIDEA and LinOTP export and import it:
//   serial,seed_hex[,type[,otplen[,timestep[,user]]]]
// type hotp (default) or totp; otplen 6 (default) or 8; timestep 30
// (default) or 60. A user column binds the token to that user. The same
// comments, blank lines and BOM rules as ParseTokenCsv.
ParsedTokens ParseOathCsv(std::string_view text, std::string_view issuer);

// One otpauth:// URI per line; the credential ID is the label's account part.
ParsedTokens ParseTokenUris(std::string_view text);

// The same three, streamed line by line from `in` (bounded memory).
Status StreamTokenLines(std::istream& in, ImportFormat format, std::string_view issuer,
                        const TokenVisitor& visit);

}  // namespace otpgate

#endif  // OTPGATE_TOKEN_IMPORT_H_
