// The audit trail: one record per decision and per administrative change,
// formatted in one place for every front end (PAM, RADIUS, CLI).
//
// A line is a sequence of key=value fields, always in this order:
//   action= user= token= frontend= service= client= outcome= reason= skipped=
// `action` and `outcome` are always present; the others only when known.
// Values are percent-encoded (RFC 3986 style) for every byte outside
// [A-Za-z0-9._~:/@+,-], so that no value contains a space, '=' or '%' of its
// own: a user name such as "x outcome=accept" cannot forge a field. A record
// never carries a code, password or secret.
#ifndef OTPGATE_AUDIT_H_
#define OTPGATE_AUDIT_H_

#include <string>
#include <string_view>

namespace otpgate {

// Who asked: the front end and its notion of the caller.
struct Origin {
  std::string_view front_end;  // "pam", "radius", "cli"
  std::string_view service;    // PAM service name
  std::string_view client;     // RADIUS client address
};

// How loud a line is: maps to syslog priorities and radiusd log levels.
enum class AuditSeverity { kDebug, kInfo, kNotice, kCritical };

struct AuditEvent {
  std::string_view action;  // "login", "register", "stop", "provision", ...
  std::string_view user;
  std::string_view credential_id;  // the token that decided, if any
  std::string_view outcome;        // a DecisionName, "ok", "allow", a StatusCodeName
  std::string_view reason;         // why (short), may be empty
  std::string_view skipped;        // tokens passed over: "ID:expired,ID:disabled"
  Origin origin;
};

// Accepts are info; refusals notice; a store that cannot decide is critical.
AuditSeverity SeverityOf(const AuditEvent& event);

// The one formatter (see the top of this file).
std::string FormatAuditLine(const AuditEvent& event);

// Percent-encodes `value` for a key=value field.
std::string EscapeAuditValue(std::string_view value);

// Where records go. Fixed when a service is opened (never swapped while
// requests run); Record and Debug may be called from several threads at once
// and must be thread-safe.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual void Record(const AuditEvent& event) = 0;
  // A step of a front-end decision, only when the `debug` option is on.
  // Never carries a code, password or secret.
  virtual void Debug(std::string_view /*line*/) {}
};

}  // namespace otpgate

#endif  // OTPGATE_AUDIT_H_
