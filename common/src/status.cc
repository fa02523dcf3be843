#include "otpgate/status.h"

namespace otpgate {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid-argument";
    case StatusCode::kNotFound:
      return "not-found";
    case StatusCode::kAlreadyExists:
      return "already-exists";
    case StatusCode::kAlreadyBound:
      return "already-bound";
    case StatusCode::kNotBound:
      return "not-bound";
    case StatusCode::kPermissionDenied:
      return "permission-denied";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kCorrupt:
      return "corrupt";
    case StatusCode::kWrongKey:
      return "wrong-key";
    case StatusCode::kStoreFull:
      return "store-full";
    case StatusCode::kInternal:
      return "internal";
    case StatusCode::kFailedPrecondition:
      return "failed-precondition";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) {
    return "ok";
  }
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace otpgate
