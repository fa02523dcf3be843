#include "verification.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace otpgate {
namespace {

// A keyed fingerprint of a wrong code: lets us see "the same wrong code
// again" without storing the code. Keyed by the token's own secret, so the
// stored 8 bytes say nothing about the code to someone who reads the store.
std::array<uint8_t, 8> FailureFingerprint(const HmacKey& key, std::string_view code) {
  std::array<uint8_t, 8> fingerprint{};
  uint8_t message[32] = "otpgate failed code:";
  size_t prefix = std::strlen(reinterpret_cast<const char*>(message));
  size_t length = std::min(code.size(), sizeof(message) - prefix);
  std::memcpy(message + prefix, code.data(), length);
  uint8_t mac[64];
  if (key.Mac(message, prefix + length, mac) >= fingerprint.size()) {
    std::memcpy(fingerprint.data(), mac, fingerprint.size());
  }
  OPENSSL_cleanse(message, sizeof(message));
  OPENSSL_cleanse(mac, sizeof(mac));
  return fingerprint;
}

void CountFailure(TokenRecord& record, const HmacKey& key, std::string_view code, int64_t now,
                  const Config& config) {
  std::array<uint8_t, 8> fingerprint = FailureFingerprint(key, code);
  bool same_as_last = record.failures > 0 &&
                      CRYPTO_memcmp(fingerprint.data(), record.last_failure_fingerprint.data(),
                                    fingerprint.size()) == 0;
  if (same_as_last) {
    return;
  }
  record.last_failure_fingerprint = fingerprint;
  ++record.failures;
  if (record.failures >= static_cast<uint32_t>(config.max_failures)) {
    uint32_t doublings = record.failures - static_cast<uint32_t>(config.max_failures);
    int64_t lock = config.lockout_max_seconds;
    if (doublings < 32) {
      lock = std::min(config.lockout_seconds << doublings, config.lockout_max_seconds);
    }
    record.lock_until = now + lock;
  }
}

struct Window {
  int64_t first, last, centre, current;
};

Window VerificationWindow(const TokenRecord& record, int64_t now, const Config& config) {
  if (record.params.kind == OtpKind::kTotp) {
    int64_t current = TotpStep(now, record.params.t0, record.params.period);
    int64_t centre = current + record.drift;
    return {centre - config.window, centre + config.window, centre, current};
  }
  // HOTP: the next expected counter and a look-ahead; the last accepted
  // counter is included so that resubmitting it is told apart as a replay.
  int64_t next = record.last_accepted + 1;
  return {record.last_accepted, next + config.hotp_lookahead, next, next};
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

}  // namespace

void ClearFailures(TokenRecord& record) {
  record.failures = 0;
  record.lock_until = 0;
  record.last_failure_fingerprint.fill(0);
}

Result<Attempt> ApplyAttempt(TokenRecord& record, const HmacKey& key, std::string_view code,
                             int64_t now, const Config& config) {
  OTPGATE_RETURN_IF_ERROR(CheckUsable(record, now));
  if (record.LockedAt(now)) {
    return Attempt{Decision::kLocked, false};
  }
  Window window = VerificationWindow(record, now, config);
  OTPGATE_ASSIGN_OR_RETURN(WindowMatch match,
                           ScanWindow(key, record.params.digits, code, window.first, window.last,
                                      window.centre, record.last_accepted));
  Attempt attempt{Decision::kReject, true};
  if (match.accepted.has_value()) {
    attempt.decision = Decision::kAccept;
    record.last_accepted = *match.accepted;
    if (record.params.kind == OtpKind::kTotp) {
      record.drift = *match.accepted - window.current;
    }
    record.last_used_at = now;
    ClearFailures(record);
    return attempt;
  }
  attempt.decision = match.replay ? Decision::kReplay : Decision::kReject;
  CountFailure(record, key, code, now, config);
  return attempt;
}

Result<Attempt> ApplyResync(TokenRecord& record, const HmacKey& key, std::string_view code1,
                            std::string_view code2, int64_t now, const Config& config) {
  OTPGATE_RETURN_IF_ERROR(CheckUsable(record, now));
  int64_t first, last, current = 0;
  if (record.params.kind == OtpKind::kTotp) {
    current = TotpStep(now, record.params.t0, record.params.period);
    int64_t steps = config.resync_window / record.params.period;
    first = current - steps;
    last = current + steps;
  } else {
    first = record.last_accepted + 1;
    last = first + config.hotp_resync_window;
  }
  OTPGATE_ASSIGN_OR_RETURN(
      std::optional<int64_t> found,
      FindConsecutive(key, record.params.digits, code1, code2, first, last));
  if (!found.has_value()) {
    return Attempt{Decision::kReject, false};
  }
  // Both codes must be fresh: the first of the pair is found.value() - 1.
  if (*found - 1 <= record.last_accepted) {
    return Attempt{Decision::kReplay, false};
  }
  record.last_accepted = *found;
  if (record.params.kind == OtpKind::kTotp) {
    record.drift = *found - current;
  }
  record.last_used_at = now;
  ClearFailures(record);
  return Attempt{Decision::kAccept, true};
}

}  // namespace otpgate
