#include "otpgate/normalize.h"

#include <cstdint>

namespace otpgate {
namespace {

// Decodes one UTF-8 sequence at text[i]; returns the code point and advances
// i, or returns -1 for invalid UTF-8 (overlong forms and surrogates included).
int32_t NextCodePoint(std::string_view text, size_t& i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int length;
  int32_t cp;
  if ((b0 & 0xe0) == 0xc0) {
    length = 2;
    cp = b0 & 0x1f;
  } else if ((b0 & 0xf0) == 0xe0) {
    length = 3;
    cp = b0 & 0x0f;
  } else if ((b0 & 0xf8) == 0xf0) {
    length = 4;
    cp = b0 & 0x07;
  } else {
    return -1;
  }
  if (i + static_cast<size_t>(length) > text.size()) {
    return -1;
  }
  for (int k = 1; k < length; ++k) {
    uint8_t b = byte(i + static_cast<size_t>(k));
    if ((b & 0xc0) != 0x80) {
      return -1;
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  static constexpr int32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinimum[length] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return -1;
  }
  i += static_cast<size_t>(length);
  return cp;
}

bool IsSeparator(int32_t cp) {
  switch (cp) {
    case ' ':
    case '\t':
    case '-':
    case 0x3000:  // IDEOGRAPHIC SPACE
    case 0xff0d:  // FULLWIDTH HYPHEN-MINUS
    case 0x2010:  // HYPHEN
    case 0x2011:  // NON-BREAKING HYPHEN
    case 0x2012:  // FIGURE DASH
    case 0x2013:  // EN DASH
    case 0x2212:  // MINUS SIGN
    case 0x30fc:  // KATAKANA-HIRAGANA PROLONGED SOUND MARK, typed for '-' by IMEs
      return true;
    default:
      return false;
  }
}

// Folds full-width ASCII letters and digits to ASCII; returns 0 for anything
// that is not a letter or digit after folding.
char FoldAlnum(int32_t cp) {
  if (cp >= 0xff10 && cp <= 0xff19) return static_cast<char>('0' + (cp - 0xff10));
  if (cp >= 0xff21 && cp <= 0xff3a) return static_cast<char>('A' + (cp - 0xff21));
  if (cp >= 0xff41 && cp <= 0xff5a) return static_cast<char>('a' + (cp - 0xff41));
  if ((cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z')) {
    return static_cast<char>(cp);
  }
  return 0;
}

// Folds and strips `input`; the what-string names the field in errors.
Result<std::string> Fold(std::string_view input, std::string_view what, bool digits_only) {
  if (input.size() > kMaxInputBytes) {
    return Status::InvalidArgument(std::string(what) + " is malformed: too long");
  }
  std::string out;
  size_t i = 0;
  while (i < input.size()) {
    int32_t cp = NextCodePoint(input, i);
    if (cp < 0) {
      return Status::InvalidArgument(std::string(what) + " is malformed: invalid UTF-8");
    }
    if (IsSeparator(cp)) {
      continue;
    }
    char c = FoldAlnum(cp);
    if (c == 0 || (digits_only && !(c >= '0' && c <= '9'))) {
      return Status::InvalidArgument(std::string(what) + " is malformed: only digits" +
                                     (digits_only ? "" : " and letters") +
                                     ", spaces and hyphens are allowed");
    }
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
    out += c;
  }
  return out;
}

}  // namespace

Result<std::string> NormalizeCode(std::string_view input, int digits) {
  OTPGATE_ASSIGN_OR_RETURN(std::string code, Fold(input, "one-time password", true));
  if (static_cast<int>(code.size()) != digits) {
    return Status::InvalidArgument("one-time password must have " + std::to_string(digits) +
                                   " digits");
  }
  return code;
}

Result<std::string> NormalizeCodeAnyLength(std::string_view input) {
  OTPGATE_ASSIGN_OR_RETURN(std::string code, Fold(input, "one-time password", true));
  if (code.size() < 6 || code.size() > 8) {
    return Status::InvalidArgument("one-time password must have 6 to 8 digits");
  }
  return code;
}

Result<std::string> NormalizeCredentialId(std::string_view input) {
  OTPGATE_ASSIGN_OR_RETURN(std::string id, Fold(input, "credential ID", false));
  if (id.empty() || id.size() > 64) {
    return Status::InvalidArgument("credential ID must have 1 to 64 letters and digits");
  }
  return id;
}

Status ValidateUserName(std::string_view user) {
  if (user.empty() || user.size() > 255) {
    return Status::InvalidArgument("user name must have 1 to 255 bytes");
  }
  for (char c : user) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return Status::InvalidArgument("user name contains a control character");
    }
  }
  return Status::Ok();
}

}  // namespace otpgate
