#include "otpgate/otpauth_uri.h"

#include <charconv>

#include "otpgate/base32.h"
#include "text_util.h"

namespace otpgate {
namespace {

constexpr size_t kMaxUriBytes = 2048;
// Issuer and account, decoded. Bounded so that any key this parser accepts
// formats (percent-encoding may triple each byte) into a URI it accepts
// again: 3 * (160 + 1 + 160) for the label, 3 * 160 for the issuer
// parameter, and the secret and numbers stay well under kMaxUriBytes.
constexpr size_t kMaxNameBytes = 160;

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) {
        return Status::InvalidArgument("key URI: truncated percent escape");
      }
      unsigned value = 0;
      auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec != std::errc() || end != text.data() + i + 3) {
        return Status::InvalidArgument("key URI: bad percent escape");
      }
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

namespace {

// The label is "issuer:account". A literal ':' separates them; a ':'
// inside either part is percent-encoded (as FormatKeyUri writes it), so
// issuers and accounts with colons round-trip. Without a literal ':' the
// label is the account (an issuer parameter followed by an encoded ':' at
// its start is taken off by the caller; the Key URI format allows "%3A").
// Returns whether the label named an issuer.
Result<bool> ParseLabel(std::string_view label, KeyUri& key) {
  size_t colon = label.find(':');
  if (colon == std::string_view::npos) {
    OTPGATE_ASSIGN_OR_RETURN(key.account, PercentDecode(label));
    return false;
  }
  OTPGATE_ASSIGN_OR_RETURN(key.issuer, PercentDecode(label.substr(0, colon)));
  OTPGATE_ASSIGN_OR_RETURN(key.account, PercentDecode(label.substr(colon + 1)));
  while (!key.account.empty() && key.account.front() == ' ') key.account.erase(0, 1);
  return true;
}

}  // namespace

Result<KeyUri> ParseKeyUri(std::string_view uri) {
  if (uri.size() > kMaxUriBytes) {
    return Status::InvalidArgument("key URI is too long");
  }
  constexpr std::string_view kScheme = "otpauth://";
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("key URI must start with otpauth://");
  }
  uri.remove_prefix(kScheme.size());
  size_t slash = uri.find('/');
  if (slash == std::string_view::npos) {
    return Status::InvalidArgument("key URI has no label");
  }
  KeyUri key;
  OTPGATE_ASSIGN_OR_RETURN(key.params.kind, ParseOtpKind(uri.substr(0, slash)));
  uri.remove_prefix(slash + 1);
  size_t question = uri.find('?');
  std::string_view label = uri.substr(0, question);
  std::string_view query = question == std::string_view::npos ? "" : uri.substr(question + 1);

  OTPGATE_ASSIGN_OR_RETURN(const bool label_has_issuer, ParseLabel(label, key));
  bool have_secret = false;
  bool have_counter = false;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      continue;
    }
    std::string_view name = pair.substr(0, eq);
    OTPGATE_ASSIGN_OR_RETURN(std::string value, PercentDecode(pair.substr(eq + 1)));
    if (name == "secret") {
      auto secret = Base32Decode(value);
      WipeString(value);
      if (!secret.ok()) {
        return Status::InvalidArgument("key URI: secret is not base32");
      }
      key.secret = std::move(secret).value();
      have_secret = true;
    } else if (name == "issuer") {
      if (!label_has_issuer && key.account.size() > value.size() &&
          key.account.starts_with(value + ":")) {
        key.account.erase(0, value.size() + 1);  // "Issuer%3Aaccount"
        while (!key.account.empty() && key.account.front() == ' ') key.account.erase(0, 1);
      }
      key.issuer = value;  // the parameter wins over the label prefix
    } else if (name == "algorithm") {
      OTPGATE_ASSIGN_OR_RETURN(key.params.algorithm, ParseHashAlgorithm(value));
    } else if (name == "digits") {
      OTPGATE_ASSIGN_OR_RETURN(int64_t digits, ParseInteger(value, 6, 8, "key URI: bad digits"));
      key.params.digits = static_cast<int>(digits);
    } else if (name == "period") {
      OTPGATE_ASSIGN_OR_RETURN(key.params.period,
                               ParseInteger(value, 1, 86400, "key URI: bad period"));
    } else if (name == "counter") {
      OTPGATE_ASSIGN_OR_RETURN(int64_t counter,
                               ParseInteger(value, 0, kMaxHotpCounter, "key URI: bad counter"));
      key.counter = static_cast<uint64_t>(counter);
      have_counter = true;
    }
    // Other parameters (image, ...) are for display and are ignored.
  }
  if (!have_secret || key.secret.empty()) {
    return Status::InvalidArgument("key URI has no secret");
  }
  if (key.params.kind == OtpKind::kHotp && !have_counter) {
    return Status::InvalidArgument("key URI: hotp needs a counter");
  }
  if (key.issuer.size() > kMaxNameBytes || key.account.size() > kMaxNameBytes) {
    return Status::InvalidArgument("key URI: issuer and account must be at most 160 bytes each");
  }
  OTPGATE_RETURN_IF_ERROR(key.params.Validate());
  return key;
}

Status CheckExpressibleAsKeyUri(const OtpParams& params) {
  if (params.kind == OtpKind::kTotp && params.t0 != 0) {
    return Status::FailedPrecondition(
        "the token's TOTP T0 is " + std::to_string(params.t0) +
        ", which a key URI cannot express (apps count from 0): its codes "
        "would differ from the token's");
  }
  return Status::Ok();
}

std::string FormatKeyUri(const KeyUri& key) {
  std::string uri = "otpauth://";
  uri += OtpKindName(key.params.kind);
  uri += '/';
  if (!key.issuer.empty()) {
    uri += PercentEncode(key.issuer);
    uri += ':';
  }
  uri += PercentEncode(key.account);
  uri += "?secret=";
  uri += Base32Encode(key.secret.span());
  if (!key.issuer.empty()) {
    uri += "&issuer=";
    uri += PercentEncode(key.issuer);
  }
  uri += "&algorithm=";
  uri += HashAlgorithmName(key.params.algorithm);
  uri += "&digits=";
  uri += std::to_string(key.params.digits);
  if (key.params.kind == OtpKind::kTotp) {
    uri += "&period=";
    uri += std::to_string(key.params.period);
  } else {
    uri += "&counter=";
    uri += std::to_string(key.counter);
  }
  return uri;
}

}  // namespace otpgate
