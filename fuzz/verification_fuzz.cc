// The verification rules on decoded records: any record the decoder accepts,
// any time, any code, any configured window. Nothing may overflow, loop or
// go backwards: an accept moves the replay mark up, a refusal or an error
// never moves it, a locked record is not changed.
#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz_util.h"
#include "verification.h"

using namespace otpgate;

namespace {

TokenRecord RecordFrom(FuzzedDataProvider& in) {
  TokenRecord r;
  r.credential_id = "FUZZ00000001";
  r.state = TokenState::kActive;
  r.owner = "alice";
  r.sealed_secret = {1};
  r.params.kind = in.ConsumeBool() ? OtpKind::kHotp : OtpKind::kTotp;
  r.params.digits = in.ConsumeIntegralInRange(6, 8);
  r.params.period = in.ConsumeIntegral<int64_t>();
  r.params.t0 = in.ConsumeIntegral<int64_t>();
  r.last_accepted = in.ConsumeIntegral<int64_t>();
  r.drift = in.ConsumeIntegral<int64_t>();
  r.failures = in.ConsumeIntegral<uint32_t>();
  r.lock_until = in.ConsumeIntegral<int64_t>();
  r.valid_from = in.ConsumeBool() ? in.ConsumeIntegral<int64_t>() : 0;
  r.valid_until = in.ConsumeBool() ? in.ConsumeIntegral<int64_t>() : 0;
  return r;
}

Config ConfigFrom(FuzzedDataProvider& in) {
  Config c;  // within the option table's ranges (config.cc)
  c.window = in.ConsumeIntegralInRange(0, 10);
  c.hotp_lookahead = in.ConsumeIntegralInRange(0, 100);
  c.resync_window = in.ConsumeIntegralInRange<int64_t>(30, 86400);
  c.hotp_resync_window = in.ConsumeIntegralInRange(10, 1000);  // 100,000 in range; kept fast
  c.max_failures = in.ConsumeIntegralInRange(1, 100);
  c.lockout_seconds = in.ConsumeIntegralInRange<int64_t>(1, 86400);
  c.lockout_max_seconds = in.ConsumeIntegralInRange<int64_t>(1, 604800);
  return c;
}

void CheckAttempt(const Result<Attempt>& attempt, const TokenRecord& before,
                  const TokenRecord& after) {
  const bool unchanged = EncodeTokenRecord(before) == EncodeTokenRecord(after);
  if (!attempt.ok() || attempt->decision == Decision::kLocked) {
    FUZZ_CHECK(unchanged);
    return;
  }
  if (attempt->decision == Decision::kAccept) {
    FUZZ_CHECK(after.last_accepted > before.last_accepted);
    FUZZ_CHECK(after.failures == 0 && after.lock_until == 0);
  } else {
    FUZZ_CHECK(after.last_accepted == before.last_accepted);
    FUZZ_CHECK(after.failures >= before.failures);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const HmacKey key =
      HmacKey::Create(HashAlgorithm::kSha1,
                      SecretBytes(std::span<const uint8_t>(
                          reinterpret_cast<const uint8_t*>("12345678901234567890"), 20)))
          .value();
  FuzzedDataProvider in(data, size);
  TokenRecord built = RecordFrom(in);
  // Only what the decoder accepts: the rules run on decoded records.
  auto decoded = DecodeTokenRecord(EncodeTokenRecord(built));
  if (!decoded.ok()) return 0;
  const Config config = ConfigFrom(in);
  const int64_t now = in.ConsumeIntegral<int64_t>();
  const std::string code1 = in.ConsumeRandomLengthString(12);
  const std::string code2 = in.ConsumeRemainingBytesAsString();

  TokenRecord record = *decoded;
  CheckAttempt(ApplyAttempt(record, key, code1, now, config), *decoded, record);
  TokenRecord resync = *decoded;
  CheckAttempt(ApplyResync(resync, key, code1, code2, now, config), *decoded, resync);
  TokenRecord registered = *decoded;
  FailureState registrant;
  auto reg = ApplyRegistration(registered, key, code1, now, config, registrant);
  if (reg.ok() && reg->decision != Decision::kAccept) {
    FUZZ_CHECK(EncodeTokenRecord(registered) == EncodeTokenRecord(*decoded));
  }
  return 0;
}
