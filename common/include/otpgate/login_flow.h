// The decisions a front end makes before and around the prompt, made once
// for every front end (PAM, RADIUS): is the user enrolled, what the
// `unenrolled` policy says, is every token locked, what to ask, whether a
// password+code field carries a code, and what to tell the user. A front end
// only translates: it asks what Begin says to ask, passes the answers to
// Finish, and maps the Answer to its host's return code with one table.
//
// Every call that decides records exactly one audit line (audit.h) in the
// service's sink; asking for a code records none.
//
// Threads: a LoginFlow holds no state of its own; it is as thread-safe as
// the service it uses (operations.h).
#ifndef OTPGATE_LOGIN_FLOW_H_
#define OTPGATE_LOGIN_FLOW_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "otpgate/audit.h"
#include "otpgate/config.h"
#include "otpgate/operations.h"

namespace otpgate {

enum class Answer {
  kPass,  // not otpgate's business (unenrolled = allow): PAM_IGNORE;
          // RADIUS lets the password decide
  kAccept,
  kReject,
  kLocked,           // refused without looking at a code
  kFail,             // the store cannot decide: fail closed
  kAskCode,          // prompt (PAM) or challenge (RADIUS) for the code
  kAskTokenAndCode,  // registration: the credential ID (echo on), then the code
};
std::string_view AnswerName(Answer answer);

struct FlowRequest {
  std::string_view user;
  std::optional<Action> action;  // nullopt: the configured `action`
  Origin origin;
};

struct Step {
  Answer answer = Answer::kFail;
  Action action = Action::kLogin;  // the flow that runs (unenrolled = register
                                   // turns a login into a registration)
  Status status;                   // why a kFail or a refused input
  Verdict verdict;                 // the core's verdict, when it gave one
  std::string user_message;        // for the user; empty: say nothing
  bool user_message_is_error = false;
  std::vector<uint8_t> challenge_state;  // Challenge: the State to send
};

class LoginFlow {
 public:
  // The front-end options come from service.config().
  explicit LoginFlow(OtpService& service) : service_(service) {}

  // Before the prompt: kPass, kReject, kLocked, kFail, kAskCode or
  // kAskTokenAndCode. Records an audit line unless it asks.
  Step Begin(const FlowRequest& request) const;

  // Begin, for a front end that holds the code already: the one SplitPoint
  // took off the password. A login is decided at once, as Finish would
  // after Begin, in the one store transaction that decides it and without
  // Begin's read before it: the decision re-reads the user's tokens under
  // the store's lock anyway, and refuses a locked token (kLocked) or a user
  // with none by then (kReject: the code was taken off for a token that
  // has gone; Begin's unenrolled policy is not applied); such a refusal is
  // not journaled (OtpService::VerifyJournalingAttemptsOnly). On
  // PostgreSQL a decided login is one round trip less; a refused locked
  // user is a member of a group commit that writes nothing, where Begin
  // made a read of its own.
  // Another action: what Begin answers, and `code` is not used. Records an
  // audit line unless it asks.
  Step BeginWithCode(const FlowRequest& request, std::string_view code) const;

  // The answers: `code` (nullopt when the client sent none) and, for a
  // registration, `credential_id`. REQUIRES: request.action is the Step's
  // action from Begin. Always records one audit line.
  Step Finish(const FlowRequest& request, std::optional<std::string_view> credential_id,
              std::optional<std::string_view> code) const;

  // RADIUS round one, after Begin said kAskCode for a login: kAskCode with
  // the State that any server of the pool can redeem in FinishChallenge
  // (OtpService::IssueChallenge), or kFail (audited). Not audited otherwise.
  Step Challenge(const FlowRequest& request) const;
  // RADIUS round two: Finish for a login, with the State the client sent
  // back. A State that is forged, another user's, expired or already used
  // is kReject (audited with the reason) and the user is told to start
  // again. Always records one audit line.
  Step FinishChallenge(const FlowRequest& request, std::span<const uint8_t> state,
                       std::optional<std::string_view> code) const;

  // The account phase (PAM acct_mgmt): kPass for a user without a token,
  // kLocked (audited) while every token is locked, kAccept otherwise, kFail
  // when the store cannot tell.
  Step Account(const FlowRequest& request) const;

  // A refusal the front end decided itself (e.g. a RADIUS State that is
  // unknown, used or issued to another user): one audit line, kReject.
  Step Refuse(const FlowRequest& request, std::string_view reason) const;

  // `split`: where the code starts in a password+code field, or nullopt
  // when the field is all password (the user has no usable token, or the
  // field does not end in as many digits as the user's tokens expect). The
  // store is read only if the field ends in a password and kMinDigits digits.
  Result<std::optional<size_t>> SplitPoint(std::string_view user, std::string_view field) const;

 private:
  Step Decided(const FlowRequest& request, Action action, const Result<Verdict>& verdict) const;
  std::string LockMessage(int64_t lock_until) const;

  OtpService& service_;
};

// The name of an action in audit lines ("login", "register", "stop").
std::string_view ActionName(Action action);

}  // namespace otpgate

#endif  // OTPGATE_LOGIN_FLOW_H_
