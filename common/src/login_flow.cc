#include "otpgate/login_flow.h"

#include <algorithm>
#include <ctime>

#include "otpgate/normalize.h"
#include "otpgate/otp.h"

namespace otpgate {
namespace {

constexpr std::string_view kLoginFailed = "Authentication failed.";
constexpr std::string_view kWrongCode = "The one-time password is not correct.";
constexpr std::string_view kChallengeRefused =
    "The login took too long or was already used; log in again.";
// One message for every refused registration: the screen does not tell an
// unknown token from one bound to someone else.
constexpr std::string_view kRegisterFailed =
    "One-time password registration failed: check the token ID and the one-time password.";

// The store could not decide (fail closed), as opposed to input that was wrong.
bool IsStoreFailure(StatusCode code) {
  switch (code) {
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnavailable:
    case StatusCode::kCorrupt:
    case StatusCode::kWrongKey:
    case StatusCode::kStoreFull:
    case StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

Step Make(Answer answer, Action action, std::string_view message = {}, bool error = true) {
  Step step;
  step.answer = answer;
  step.action = action;
  step.user_message = std::string(message);
  step.user_message_is_error = error;
  return step;
}

Step Failed(Action action, const Status& status) {
  Step step = Make(Answer::kFail, action, "The one-time password service is unavailable.");
  step.status = status;
  return step;
}

}  // namespace

std::string_view AnswerName(Answer answer) {
  switch (answer) {
    case Answer::kPass:
      return "pass";
    case Answer::kAccept:
      return "accept";
    case Answer::kReject:
      return "reject";
    case Answer::kLocked:
      return "locked";
    case Answer::kFail:
      return "fail";
    case Answer::kAskCode:
      return "ask-code";
    case Answer::kAskTokenAndCode:
      return "ask-token-and-code";
  }
  return "unknown";
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kLogin:
      return "login";
    case Action::kRegister:
      return "register";
    case Action::kStop:
      return "stop";
  }
  return "login";
}

std::string LoginFlow::LockMessage(int64_t lock_until) const {
  std::time_t t = static_cast<std::time_t>(lock_until);
  std::tm tm{};
  localtime_r(&t, &tm);
  char when[40];
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", &tm);  // ISO 8601 with its zone
  return std::string("One-time password is locked after too many failures; try again after ") +
         when + ".";
}

Step LoginFlow::Begin(const FlowRequest& request) const {
  const Config& config = service_.config();
  Action action = request.action.value_or(config.action);
  std::string_view name = ActionName(action);
  auto state = service_.GetUserState(request.user);
  if (!state.ok()) {
    service_.AuditStatus(name, request.user, "", state.status(), request.origin);
    return IsStoreFailure(state.status().code()) ? Failed(action, state.status())
                                                 : Make(Answer::kReject, action, kLoginFailed);
  }
  service_.Debug("user=" + EscapeAuditValue(request.user) + " action=" + std::string(name) +
                 " bound=" + std::to_string(state->bound_tokens) +
                 " usable=" + std::to_string(state->active_tokens) +
                 " locked=" + std::to_string(state->locked_tokens));
  if (action == Action::kRegister) {
    if (state->enrolled()) {
      service_.Audit(name, request.user, "", StatusCodeName(StatusCode::kAlreadyBound),
                     "user-has-a-token", request.origin);
      return Make(Answer::kReject, action, "A one-time password token is already registered.");
    }
    return Make(Answer::kAskTokenAndCode, action);
  }
  if (!state->enrolled()) {
    if (action == Action::kStop) {
      service_.Audit(name, request.user, "", StatusCodeName(StatusCode::kNotBound),
                     "user-has-no-token", request.origin);
      return Make(Answer::kReject, action, "No one-time password is registered.");
    }
    switch (config.unenrolled) {
      case UnenrolledPolicy::kAllow:
        service_.Audit(name, request.user, "", "allow", "unenrolled-allow", request.origin);
        return Make(Answer::kPass, action);
      case UnenrolledPolicy::kDeny:
        service_.Audit(name, request.user, "", DecisionName(Decision::kNoToken), "unenrolled-deny",
                       request.origin);
        return Make(Answer::kReject, action, kLoginFailed);
      case UnenrolledPolicy::kRegister:
        return Make(Answer::kAskTokenAndCode, Action::kRegister);
    }
  }
  if (state->locked()) {
    // Refused without asking: a locked token does not look at codes.
    service_.Audit(name, request.user, state->locked_token, DecisionName(Decision::kLocked),
                   "token-locked", request.origin);
    Step step = Make(Answer::kLocked, action, LockMessage(state->lock_until));
    step.verdict.decision = Decision::kLocked;
    step.verdict.credential_id = state->locked_token;
    step.verdict.lock_until = state->lock_until;
    return step;
  }
  return Make(Answer::kAskCode, action);
}

Step LoginFlow::Finish(const FlowRequest& request, std::optional<std::string_view> credential_id,
                       std::optional<std::string_view> code) const {
  Action action = request.action.value_or(service_.config().action);
  std::string_view name = ActionName(action);
  bool registering = action == Action::kRegister;
  if (!code.has_value() || code->empty() || (registering && !credential_id.has_value())) {
    service_.Audit(name, request.user, credential_id.value_or(""), "reject",
                   registering ? "missing-token-id-or-code" : "missing-code", request.origin);
    return Make(Answer::kReject, action, registering ? kRegisterFailed : kLoginFailed);
  }
  switch (action) {
    case Action::kLogin:
      return Decided(request, action, service_.Verify(request.user, *code, request.origin));
    case Action::kRegister:
      return Decided(request, action,
                     service_.Register(request.user, *credential_id, *code, request.origin));
    case Action::kStop:
      return Decided(request, action, service_.Stop(request.user, *code, request.origin));
  }
  return Failed(action, Status::Internal("unknown action"));
}

Step LoginFlow::BeginWithCode(const FlowRequest& request, std::string_view code) const {
  if (request.action.value_or(service_.config().action) != Action::kLogin) return Begin(request);
  if (code.empty()) return Finish(request, std::nullopt, code);  // refused and audited there
  return Decided(request, Action::kLogin,
                 service_.VerifyJournalingAttemptsOnly(request.user, code, request.origin));
}

Step LoginFlow::Challenge(const FlowRequest& request) const {
  auto state = service_.IssueChallenge(request.user);
  if (!state.ok()) {
    service_.AuditStatus(ActionName(Action::kLogin), request.user, "", state.status(),
                         request.origin);
    return Failed(Action::kLogin, state.status());
  }
  Step step = Make(Answer::kAskCode, Action::kLogin);
  step.challenge_state = std::move(state).value();
  return step;
}

Step LoginFlow::FinishChallenge(const FlowRequest& request, std::span<const uint8_t> state,
                                std::optional<std::string_view> code) const {
  if (!code.has_value() || code->empty()) {
    service_.Audit(ActionName(Action::kLogin), request.user, "", "reject", "missing-code",
                   request.origin);
    return Make(Answer::kReject, Action::kLogin, kLoginFailed);
  }
  return Decided(request, Action::kLogin,
                 service_.VerifyChallenged(request.user, state, *code, request.origin));
}

// Maps the core's verdict (already audited by the service) to an Answer and
// what the user is told.
Step LoginFlow::Decided(const FlowRequest& request, Action action,
                        const Result<Verdict>& verdict) const {
  bool registering = action == Action::kRegister;
  if (!verdict.ok()) {
    if (IsStoreFailure(verdict.status().code())) return Failed(action, verdict.status());
    Step step = Make(Answer::kReject, action,
                     registering                            ? kRegisterFailed
                     : IsChallengeRefusal(verdict.status()) ? kChallengeRefused
                                                            : kWrongCode);
    step.status = verdict.status();
    return step;
  }
  Step step;
  step.action = action;
  step.verdict = verdict.value();
  service_.Debug("user=" + EscapeAuditValue(request.user) +
                 " action=" + std::string(ActionName(action)) +
                 " decision=" + std::string(DecisionName(verdict->decision)));
  switch (verdict->decision) {
    case Decision::kAccept:
      step.answer = Answer::kAccept;
      step.user_message_is_error = false;
      if (registering) step.user_message = "One-time password registration is complete.";
      if (action == Action::kStop) {
        step.user_message =
            "One-time password use is stopped; log in with your ID and password from now on.";
      }
      return step;
    case Decision::kLocked:
      step.answer = Answer::kLocked;
      step.user_message = LockMessage(verdict->lock_until);
      break;
    case Decision::kNoToken:
      step.answer = Answer::kReject;
      step.user_message = std::string(kLoginFailed);
      break;
    case Decision::kReject:
    case Decision::kReplay:
      step.answer = Answer::kReject;
      step.user_message = std::string(registering ? kRegisterFailed : kWrongCode);
      break;
  }
  step.user_message_is_error = true;
  return step;
}

Step LoginFlow::Account(const FlowRequest& request) const {
  auto state = service_.GetUserState(request.user);
  if (!state.ok()) {
    service_.AuditStatus("account", request.user, "", state.status(), request.origin);
    return Failed(Action::kLogin, state.status());
  }
  if (!state->enrolled()) return Make(Answer::kPass, Action::kLogin);
  if (state->locked()) {
    service_.Audit("account", request.user, state->locked_token, DecisionName(Decision::kLocked),
                   "token-locked", request.origin);
    return Make(Answer::kLocked, Action::kLogin, LockMessage(state->lock_until));
  }
  return Make(Answer::kAccept, Action::kLogin, {}, false);
}

Step LoginFlow::Refuse(const FlowRequest& request, std::string_view reason) const {
  Action action = request.action.value_or(service_.config().action);
  service_.Audit(ActionName(action), request.user, "", "reject", reason, request.origin);
  return Make(Answer::kReject, action, kLoginFailed);
}

Result<std::optional<size_t>> LoginFlow::SplitPoint(std::string_view user,
                                                    std::string_view field) const {
  const size_t trailing_digits = static_cast<size_t>(
      std::find_if(field.rbegin(), field.rend(), [](char c) { return c < '0' || c > '9'; }) -
      field.rbegin());
  // Splits `digits` off if the field is longer and ends in that many.
  auto point_for = [&](int digits) -> std::optional<size_t> {
    const size_t length = static_cast<size_t>(digits);
    if (field.size() <= length || trailing_digits < length) return std::nullopt;
    return field.size() - length;
  };
  std::optional<size_t> point;
  if (!point_for(kMinDigits).has_value()) {
    // No token's code fits: answered without reading the store (on
    // PostgreSQL a round trip). Most of a bank's users, the service being
    // optional, send their password alone.
    OTPGATE_RETURN_IF_ERROR(ValidateUserName(user));
  } else {
    OTPGATE_ASSIGN_OR_RETURN(OtpService::UserState state, service_.GetUserState(user));
    if (state.digits.has_value()) point = point_for(*state.digits);
  }
  service_.Debug("user=" + EscapeAuditValue(user) +
                 (point.has_value() ? " split: the code was taken off the password"
                                    : " split: the field is all password"));
  return point;
}

}  // namespace otpgate
