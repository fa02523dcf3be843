#include "verification.h"

#include <optional>

namespace otpgate {
namespace {

// Every bound of a window is computed with overflow checks: a record or a
// clock far from real values fails closed instead of wrapping.
struct Window {
  int64_t first, last, centre, current;
};

Status OutOfRange() {
  return Status::InvalidArgument("token counter or time step is out of range");
}

Result<Window> VerificationWindow(const TokenRecord& record, int64_t now, const Config& config) {
  Window w{};
  if (record.params.kind == OtpKind::kTotp) {
    w.current = TotpStep(now, record.params.t0, record.params.period);
    if (__builtin_add_overflow(w.current, record.drift, &w.centre) ||
        __builtin_sub_overflow(w.centre, config.window, &w.first) ||
        __builtin_add_overflow(w.centre, config.window, &w.last)) {
      return OutOfRange();
    }
    return w;
  }
  // HOTP: the next expected counter and a look-ahead; the last accepted
  // counter is included so that resubmitting it is told apart as a replay.
  if (record.last_accepted >= kMaxHotpCounter ||
      __builtin_add_overflow(record.last_accepted, 1, &w.centre) ||
      __builtin_add_overflow(w.centre, config.hotp_lookahead, &w.last)) {
    return OutOfRange();
  }
  w.first = record.last_accepted;
  w.current = w.centre;
  return w;
}

Status CheckUsable(const TokenRecord& record, int64_t now) {
  if (record.ExpiredAt(now)) {
    return Status::FailedPrecondition("token " + record.credential_id + " has expired");
  }
  if (record.NotYetValidAt(now)) {
    return Status::FailedPrecondition("token " + record.credential_id + " is not valid yet");
  }
  return Status::Ok();
}

// What `code` is against the record's window, before anything is counted.
struct Evaluation {
  Decision decision = Decision::kReject;  // kAccept, kReplay or kReject
  int64_t matched = 0;                    // the accepted step or counter
  Window window{};
};

Result<Evaluation> Evaluate(const TokenRecord& record, const HmacKey& key, std::string_view code,
                            int64_t now, const Config& config) {
  Evaluation e;
  OTPGATE_ASSIGN_OR_RETURN(e.window, VerificationWindow(record, now, config));
  OTPGATE_ASSIGN_OR_RETURN(
      WindowMatch match, ScanWindow(key, record.params.digits, code, e.window.first, e.window.last,
                                    e.window.centre, record.last_accepted));
  if (match.accepted.has_value()) {
    e.decision = Decision::kAccept;
    e.matched = *match.accepted;
  } else {
    e.decision = match.replay ? Decision::kReplay : Decision::kReject;
  }
  return e;
}

void RecordAccept(TokenRecord& record, int64_t accepted, int64_t current, int64_t now) {
  record.last_accepted = accepted;
  if (record.params.kind == OtpKind::kTotp) {
    record.drift = accepted - current;
  }
  record.last_used_at = now;
  ClearFailures(record);
}

FailureState TokenFailures(const TokenRecord& record) {
  return {record.failures, record.lock_until, record.last_failure_fingerprint};
}

void SetTokenFailures(TokenRecord& record, const FailureState& state) {
  record.failures = state.failures;
  record.lock_until = state.lock_until;
  record.last_failure_fingerprint = state.last_fingerprint;
}

}  // namespace

void ClearFailures(TokenRecord& record) { SetTokenFailures(record, FailureState{}); }

Result<Attempt> ApplyAttempt(TokenRecord& record, const HmacKey& key, std::string_view code,
                             int64_t now, const Config& config) {
  OTPGATE_RETURN_IF_ERROR(CheckUsable(record, now));
  if (record.LockedAt(now)) {
    return Attempt{Decision::kLocked, false};
  }
  OTPGATE_ASSIGN_OR_RETURN(Evaluation e, Evaluate(record, key, code, now, config));
  if (e.decision == Decision::kAccept) {
    RecordAccept(record, e.matched, e.window.current, now);
    return Attempt{Decision::kAccept, true};
  }
  FailureState failures = TokenFailures(record);
  CountFailure(failures, FingerprintWrongCode(key, code, e.window.centre), now, config);
  SetTokenFailures(record, failures);
  return Attempt{e.decision, true};
}

Result<Attempt> ApplyRegistration(TokenRecord& record, const HmacKey& key, std::string_view code,
                                  int64_t now, const Config& config, FailureState& registrant) {
  OTPGATE_RETURN_IF_ERROR(CheckUsable(record, now));
  if (registrant.LockedAt(now)) {
    return Attempt{Decision::kLocked, false};
  }
  OTPGATE_ASSIGN_OR_RETURN(Evaluation e, Evaluate(record, key, code, now, config));
  if (e.decision == Decision::kAccept) {
    RecordAccept(record, e.matched, e.window.current, now);
    registrant = FailureState{};
    return Attempt{Decision::kAccept, true};
  }
  CountFailure(registrant, std::nullopt, now, config);
  return Attempt{e.decision, false};
}

Result<Attempt> ApplyResync(TokenRecord& record, const HmacKey& key, std::string_view code1,
                            std::string_view code2, int64_t now, const Config& config) {
  OTPGATE_RETURN_IF_ERROR(CheckUsable(record, now));
  int64_t first, last, current = 0;
  if (record.params.kind == OtpKind::kTotp) {
    current = TotpStep(now, record.params.t0, record.params.period);
    const int64_t steps = config.resync_window / record.params.period;
    if (__builtin_sub_overflow(current, steps, &first) ||
        __builtin_add_overflow(current, steps, &last)) {
      return OutOfRange();
    }
  } else if (record.last_accepted >= kMaxHotpCounter ||
             __builtin_add_overflow(record.last_accepted, 1, &first) ||
             __builtin_add_overflow(first, config.hotp_resync_window, &last)) {
    return OutOfRange();
  }
  OTPGATE_ASSIGN_OR_RETURN(std::optional<int64_t> found,
                           FindConsecutive(key, record.params.digits, code1, code2, first, last));
  if (!found.has_value()) {
    return Attempt{Decision::kReject, false};
  }
  // Both codes must be fresh: the first of the pair is found.value() - 1.
  if (*found - 1 <= record.last_accepted) {
    return Attempt{Decision::kReplay, false};
  }
  RecordAccept(record, *found, current, now);
  return Attempt{Decision::kAccept, true};
}

}  // namespace otpgate
