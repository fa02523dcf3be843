// Status and Result: errors are values in otpgate.
//
// A Status says whether an *operation* could be carried out (the store was
// readable, the record decoded, the input was well formed). It is distinct
// from a Decision (accept, reject, replay, ...), which is the *answer* to a
// well-formed request; see operations.h.
#ifndef OTPGATE_STATUS_H_
#define OTPGATE_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace otpgate {

// A closed set: every code has a stable number (also used by the C ABI and
// as the CLI's exit code family), so never renumber.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,      // malformed input: bad code, bad credential ID, bad option
  kNotFound = 2,             // unknown token or user
  kAlreadyExists = 3,        // token already provisioned
  kAlreadyBound = 4,         // token is bound (to this user or to another)
  kNotBound = 5,             // token is not bound to this user
  kPermissionDenied = 6,     // file modes/owners unsafe, or we may not open a file
  kUnavailable = 7,          // store or key missing or unopenable: fail closed
  kCorrupt = 8,              // a record or file failed to decode
  kWrongKey = 9,             // the master key does not open this store
  kStoreFull = 10,           // the map could not be grown
  kInternal = 11,            // a library call failed unexpectedly
  kFailedPrecondition = 12,  // e.g. token disabled or expired for this action
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK, and free.
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status AlreadyBound(std::string m) { return {StatusCode::kAlreadyBound, std::move(m)}; }
  static Status NotBound(std::string m) { return {StatusCode::kNotBound, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
  static Status WrongKey(std::string m) { return {StatusCode::kWrongKey, std::move(m)}; }
  static Status StoreFull(std::string m) { return {StatusCode::kStoreFull, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>", for logs and CLI errors.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok()
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace otpgate

// Early-return helpers; they keep call sites flat.
#define OTPGATE_CONCAT_INNER(a, b) a##b
#define OTPGATE_CONCAT(a, b) OTPGATE_CONCAT_INNER(a, b)
#define OTPGATE_RETURN_IF_ERROR(expr) \
  OTPGATE_RETURN_IF_ERROR_IMPL(OTPGATE_CONCAT(_status_, __LINE__), expr)
#define OTPGATE_RETURN_IF_ERROR_IMPL(tmp, expr) \
  do {                                          \
    ::otpgate::Status tmp = (expr);             \
    if (!tmp.ok()) return tmp;                  \
  } while (0)

#define OTPGATE_ASSIGN_OR_RETURN(lhs, expr) \
  OTPGATE_ASSIGN_OR_RETURN_IMPL(OTPGATE_CONCAT(_res_, __LINE__), lhs, expr)
#define OTPGATE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#endif  // OTPGATE_STATUS_H_
