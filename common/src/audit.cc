#include "otpgate/audit.h"

#include "otpgate/status.h"

namespace otpgate {
namespace {

bool Plain(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '~' || c == ':' || c == '/' || c == '@' || c == '+' || c == ',' ||
         c == '-';
}

void AddField(std::string& line, std::string_view key, std::string_view value, bool always) {
  if (value.empty() && !always) return;
  if (!line.empty()) line += ' ';
  line += key;
  line += '=';
  line += EscapeAuditValue(value);
}

}  // namespace

std::string EscapeAuditValue(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (Plain(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

AuditSeverity SeverityOf(const AuditEvent& event) {
  std::string_view o = event.outcome;
  if (o == "accept" || o == "ok" || o == "allow") return AuditSeverity::kInfo;
  if (o == StatusCodeName(StatusCode::kUnavailable) || o == StatusCodeName(StatusCode::kCorrupt) ||
      o == StatusCodeName(StatusCode::kWrongKey) || o == StatusCodeName(StatusCode::kStoreFull) ||
      o == StatusCodeName(StatusCode::kInternal) ||
      o == StatusCodeName(StatusCode::kPermissionDenied)) {
    return AuditSeverity::kCritical;
  }
  return AuditSeverity::kNotice;
}

std::string FormatAuditLine(const AuditEvent& e) {
  std::string line;
  AddField(line, "action", e.action, true);
  AddField(line, "user", e.user, false);
  AddField(line, "token", e.credential_id, false);
  AddField(line, "frontend", e.origin.front_end, false);
  AddField(line, "service", e.origin.service, false);
  AddField(line, "client", e.origin.client, false);
  AddField(line, "outcome", e.outcome, true);
  AddField(line, "reason", e.reason, false);
  AddField(line, "skipped", e.skipped, false);
  return line;
}

}  // namespace otpgate
