#include "otpgate/token_import.h"

#include <charconv>
#include <unordered_set>

#include "otpgate/base32.h"
#include "otpgate/normalize.h"
#include "otpgate/otpauth_uri.h"
#include "text_util.h"

namespace otpgate {
namespace {

// Calls fn(line_number, line) for every non-blank, non-comment line.
template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  size_t number = 0;
  while (!text.empty()) {
    ++number;
    size_t newline = text.find('\n');
    std::string_view line = Trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? "" : text.substr(newline + 1);
    if (!line.empty() && line.front() != '#') {
      fn(number, line);
    }
  }
}

Result<std::pair<TokenSpec, SecretBytes>> ParseCsvLine(std::string_view line,
                                                       std::string_view issuer) {
  std::vector<std::string_view> fields;
  while (true) {
    size_t comma = line.find(',');
    fields.push_back(Trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
  if (fields.size() < 2 || fields.size() > 7) {
    return Status::InvalidArgument("expected 2 to 7 comma-separated columns");
  }
  auto field = [&](size_t i) { return i < fields.size() ? fields[i] : std::string_view(); };
  TokenSpec spec;
  spec.issuer = std::string(issuer);
  OTPGATE_ASSIGN_OR_RETURN(spec.credential_id, NormalizeCredentialId(fields[0]));
  std::string_view encoding = field(2).empty() ? "base32" : field(2);
  Result<SecretBytes> secret = encoding == "hex"      ? HexDecode(fields[1])
                               : encoding == "base32" ? Base32Decode(fields[1])
                                                      : Status::InvalidArgument(
                                                            "encoding must be base32 or hex");
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
    OTPGATE_ASSIGN_OR_RETURN(int64_t digits, ParseInteger(field(5), 6, 8, "bad digits (6, 7 or 8)"));
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

void Add(ParsedTokens& out, std::unordered_set<std::string>& seen, size_t line,
         Result<std::pair<TokenSpec, SecretBytes>> parsed) {
  if (!parsed.ok()) {
    out.rejected.push_back({line, parsed.status().message()});
    return;
  }
  if (!seen.insert(parsed->first.credential_id).second) {
    out.rejected.push_back({line, "credential ID " + parsed->first.credential_id +
                                      " appears more than once in the file"});
    return;
  }
  out.tokens.push_back(std::move(parsed).value());
}

}  // namespace

ParsedTokens ParseTokenCsv(std::string_view text, std::string_view issuer) {
  ParsedTokens out;
  std::unordered_set<std::string> seen;
  ForEachLine(text, [&](size_t number, std::string_view line) {
    if (line.starts_with("credential_id")) {
      return;  // header
    }
    Add(out, seen, number, ParseCsvLine(line, issuer));
  });
  return out;
}

ParsedTokens ParseTokenUris(std::string_view text) {
  ParsedTokens out;
  std::unordered_set<std::string> seen;
  ForEachLine(text, [&](size_t number, std::string_view line) {
    auto key = ParseKeyUri(line);
    if (!key.ok()) {
      Add(out, seen, number, key.status());
      return;
    }
    TokenSpec spec;
    spec.params = key->params;
    spec.issuer = key->issuer;
    spec.initial_counter = key->counter;
    auto id = NormalizeCredentialId(key->account);
    if (!id.ok()) {
      Add(out, seen, number, Status::InvalidArgument("label: " + id.status().message()));
      return;
    }
    spec.credential_id = std::move(id).value();
    Add(out, seen, number, std::make_pair(std::move(spec), std::move(key->secret)));
  });
  return out;
}

}  // namespace otpgate
