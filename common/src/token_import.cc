#include "otpgate/token_import.h"

#include <charconv>

#include "credential_id_set.h"
#include "otpgate/base32.h"
#include "otpgate/normalize.h"
#include "otpgate/otpauth_uri.h"
#include "text_util.h"

namespace otpgate {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

std::vector<std::string_view> SplitColumns(std::string_view line) {
  std::vector<std::string_view> fields;
  while (true) {
    size_t comma = line.find(',');
    fields.push_back(Trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
  return fields;
}

Result<ParsedToken> ParseCsvLine(std::string_view line, std::string_view issuer) {
  std::vector<std::string_view> fields = SplitColumns(line);
  if (fields.size() < 2 || fields.size() > 7) {
    return Status::InvalidArgument("expected 2 to 7 comma-separated columns");
  }
  auto field = [&](size_t i) { return i < fields.size() ? fields[i] : std::string_view(); };
  TokenSpec spec;
  spec.issuer = std::string(issuer);
  OTPGATE_ASSIGN_OR_RETURN(spec.credential_id, NormalizeCredentialId(fields[0]));
  std::string_view encoding = field(2).empty() ? "base32" : field(2);
  Result<SecretBytes> secret = encoding == "hex" ? HexDecode(fields[1])
                               : encoding == "base32"
                                   ? Base32Decode(fields[1])
                                   : Status::InvalidArgument("encoding must be base32 or hex");
  if (!secret.ok()) {
    return Status::InvalidArgument("secret: " + secret.status().message());
  }
  if (!field(3).empty()) {
    OTPGATE_ASSIGN_OR_RETURN(spec.params.kind, ParseOtpKind(field(3)));
  }
  if (!field(4).empty()) {
    OTPGATE_ASSIGN_OR_RETURN(spec.params.algorithm, ParseHashAlgorithm(field(4)));
  }
  if (!field(5).empty()) {
    OTPGATE_ASSIGN_OR_RETURN(int64_t digits,
                             ParseInteger(field(5), 6, 8, "bad digits (6, 7 or 8)"));
    spec.params.digits = static_cast<int>(digits);
  }
  if (!field(6).empty()) {
    if (spec.params.kind == OtpKind::kTotp) {
      OTPGATE_ASSIGN_OR_RETURN(spec.params.period,
                               ParseInteger(field(6), 1, 86400, "bad period (1..86400)"));
    } else {
      OTPGATE_ASSIGN_OR_RETURN(int64_t counter,
                               ParseInteger(field(6), 0, kMaxHotpCounter, "bad counter"));
      spec.initial_counter = static_cast<uint64_t>(counter);
    }
  }
  if (secret->size() < 10 || secret->size() > 128) {
    return Status::InvalidArgument("secret must be 10 to 128 bytes");
  }
  return std::make_pair(std::move(spec), std::move(secret).value());
}

// privacyIDEA / LinOTP: serial,seed_hex[,type[,otplen[,timestep[,user]]]].
Result<ParsedToken> ParseOathCsvLine(std::string_view line, std::string_view issuer) {
  std::vector<std::string_view> fields = SplitColumns(line);
  if (fields.size() < 2 || fields.size() > 6) {
    return Status::InvalidArgument(
        "expected 2 to 6 columns: serial, seed, type, otplen, timestep, user");
  }
  auto field = [&](size_t i) { return i < fields.size() ? fields[i] : std::string_view(); };
  TokenSpec spec;
  spec.issuer = std::string(issuer);
  spec.params.kind = OtpKind::kHotp;
  OTPGATE_ASSIGN_OR_RETURN(spec.credential_id, NormalizeCredentialId(fields[0]));
  auto secret = HexDecode(fields[1]);
  if (!secret.ok()) return Status::InvalidArgument("seed: " + secret.status().message());
  if (!field(2).empty()) {
    OTPGATE_ASSIGN_OR_RETURN(spec.params.kind, ParseOtpKind(field(2)));
  }
  if (!field(3).empty()) {
    OTPGATE_ASSIGN_OR_RETURN(int64_t digits,
                             ParseInteger(field(3), 6, 8, "bad otplen (6, 7 or 8)"));
    spec.params.digits = static_cast<int>(digits);
  }
  if (!field(4).empty()) {
    if (spec.params.kind != OtpKind::kTotp) {
      return Status::InvalidArgument("a timestep on an HOTP token");
    }
    OTPGATE_ASSIGN_OR_RETURN(spec.params.period,
                             ParseInteger(field(4), 1, 86400, "bad timestep (1..86400)"));
  }
  if (!field(5).empty()) {
    OTPGATE_RETURN_IF_ERROR(ValidateUserName(field(5)));
    spec.owner = std::string(field(5));
  }
  if (secret->size() < 10 || secret->size() > 128) {
    return Status::InvalidArgument("seed must be 10 to 128 bytes");
  }
  return std::make_pair(std::move(spec), std::move(secret).value());
}

Result<ParsedToken> ParseUriLine(std::string_view line) {
  OTPGATE_ASSIGN_OR_RETURN(KeyUri key, ParseKeyUri(line));
  TokenSpec spec;
  spec.params = key.params;
  spec.issuer = key.issuer;
  spec.initial_counter = key.counter;
  auto id = NormalizeCredentialId(key.account);
  if (!id.ok()) return Status::InvalidArgument("label: " + id.status().message());
  spec.credential_id = std::move(id).value();
  return std::make_pair(std::move(spec), std::move(key.secret));
}

// Parses the lines of one format, rejecting repeated credential IDs.
class LineParser {
 public:
  LineParser(ImportFormat format, std::string_view issuer, const TokenVisitor& visit)
      : format_(format), issuer_(issuer), visit_(visit) {}

  void Line(size_t number, std::string_view line) {
    if (number == 1 && line.starts_with(kUtf8Bom)) line.remove_prefix(kUtf8Bom.size());
    line = Trim(line);
    if (line.empty() || line.front() == '#') return;
    if (format_ == ImportFormat::kCsv && line.starts_with("credential_id")) return;  // header
    if (format_ == ImportFormat::kOathCsv && number_of_entries_ == 0 && line.starts_with("serial"))
      return;
    ++number_of_entries_;
    Result<ParsedToken> parsed = format_ == ImportFormat::kUri ? ParseUriLine(line)
                                 : format_ == ImportFormat::kOathCsv
                                     ? ParseOathCsvLine(line, issuer_)
                                     : ParseCsvLine(line, issuer_);
    if (parsed.ok() && !seen_.Insert(parsed->first.credential_id)) {
      parsed = Status::InvalidArgument("credential ID " + parsed->first.credential_id +
                                       " appears more than once in the file");
    }
    visit_(number, std::move(parsed));
  }

 private:
  ImportFormat format_;
  std::string_view issuer_;
  const TokenVisitor& visit_;
  CredentialIdSet seen_;
  size_t number_of_entries_ = 0;
};

ParsedTokens ParseText(std::string_view text, ImportFormat format, std::string_view issuer) {
  ParsedTokens out;
  TokenVisitor visit = CollectInto(out);
  LineParser parser(format, issuer, visit);
  size_t number = 0;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    parser.Line(++number, text.substr(0, newline));
    text = newline == std::string_view::npos ? "" : text.substr(newline + 1);
  }
  return out;
}

}  // namespace

TokenVisitor CollectInto(ParsedTokens& out) {
  return [&out](size_t position, Result<ParsedToken> entry) {
    if (entry.ok()) {
      out.tokens.push_back(std::move(entry).value());
    } else {
      out.rejected.push_back({position, entry.status().message()});
    }
  };
}

std::string_view ImportFormatName(ImportFormat format) {
  switch (format) {
    case ImportFormat::kPskc:
      return "pskc";
    case ImportFormat::kCsv:
      return "csv";
    case ImportFormat::kOathCsv:
      return "oath-csv";
    case ImportFormat::kUri:
      return "uri";
  }
  return "?";
}

Result<ImportFormat> ParseImportFormat(std::string_view name) {
  for (ImportFormat f :
       {ImportFormat::kPskc, ImportFormat::kCsv, ImportFormat::kOathCsv, ImportFormat::kUri}) {
    if (name == ImportFormatName(f)) return f;
  }
  return Status::InvalidArgument("unknown format '" + std::string(name) +
                                 "' (pskc, csv, oath-csv, uri)");
}

ImportFormat DetectImportFormat(std::string_view head) {
  if (head.starts_with("\xFF\xFE") || head.starts_with("\xFE\xFF"))
    return ImportFormat::kPskc;  // UTF-16
  if (head.starts_with(kUtf8Bom)) head.remove_prefix(kUtf8Bom.size());
  size_t first = head.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && head[first] == '<') return ImportFormat::kPskc;
  // UTF-16 without a byte order mark: '<' next to a zero byte.
  if (head.size() >= 2 &&
      ((head[0] == '<' && head[1] == '\0') || (head[0] == '\0' && head[1] == '<'))) {
    return ImportFormat::kPskc;
  }
  while (first != std::string_view::npos && head[first] == '#') {  // comment lines
    size_t newline = head.find('\n', first);
    first =
        newline == std::string_view::npos ? newline : head.find_first_not_of(" \t\r\n", newline);
  }
  if (first != std::string_view::npos && head.substr(first).starts_with("otpauth://"))
    return ImportFormat::kUri;
  return ImportFormat::kCsv;
}

ParsedTokens ParseTokenCsv(std::string_view text, std::string_view issuer) {
  return ParseText(text, ImportFormat::kCsv, issuer);
}

ParsedTokens ParseOathCsv(std::string_view text, std::string_view issuer) {
  return ParseText(text, ImportFormat::kOathCsv, issuer);
}

ParsedTokens ParseTokenUris(std::string_view text) {
  return ParseText(text, ImportFormat::kUri, "");
}

Status StreamTokenLines(std::istream& in, ImportFormat format, std::string_view issuer,
                        const TokenVisitor& visit) {
  if (format == ImportFormat::kPskc) return Status::InvalidArgument("PSKC is not a line format");
  LineParser parser(format, issuer, visit);
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    if (line.size() > 64 * 1024)
      return Status::InvalidArgument("line " + std::to_string(number + 1) + " is too long");
    parser.Line(++number, line);
  }
  WipeString(line);
  if (in.bad()) return Status::Unavailable("read error");
  return Status::Ok();
}

}  // namespace otpgate
