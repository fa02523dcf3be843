// HOTP (RFC 4226) and TOTP (RFC 6238) code generation and window verification.
//
// Nothing here touches the store or a clock: counters, time and windows are
// parameters, so every rule is testable on its own.
#ifndef OTPGATE_OTP_H_
#define OTPGATE_OTP_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "otpgate/secret.h"
#include "otpgate/status.h"

namespace otpgate {

enum class HashAlgorithm : uint8_t { kSha1 = 1, kSha256 = 2, kSha512 = 3 };
enum class OtpKind : uint8_t { kHotp = 1, kTotp = 2 };

std::string_view HashAlgorithmName(HashAlgorithm alg);  // "SHA1", "SHA256", "SHA512"
// Accepts "sha1", "SHA-256", "SHA512", ... (case-insensitive, optional hyphen).
Result<HashAlgorithm> ParseHashAlgorithm(std::string_view name);
std::string_view OtpKindName(OtpKind kind);  // "hotp" / "totp"
Result<OtpKind> ParseOtpKind(std::string_view name);

// The algorithm parameters of one token.
struct OtpParams {
  OtpKind kind = OtpKind::kTotp;
  HashAlgorithm algorithm = HashAlgorithm::kSha1;
  int digits = 6;       // 6, 7 or 8
  int64_t period = 30;  // TOTP step in seconds, > 0
  int64_t t0 = 0;       // TOTP epoch (RFC 6238 T0)

  Status Validate() const;
};

constexpr int kMinDigits = 6;
constexpr int kMaxDigits = 8;

// Ranges that keep every counter, step and window computation inside int64
// with room to spare (checked again where the arithmetic happens). Values
// from imports (CSV, key URI, PSKC) and stored records outside them are
// refused: no real token comes near them.
// The largest HOTP counter a token may start at or reach: 2^62 - 1, so that
// counter + look-ahead + resync window cannot overflow.
constexpr int64_t kMaxHotpCounter = (int64_t{1} << 62) - 1;
// The latest TOTP T0: 2^40 s (about the year 36,800).
constexpr int64_t kMaxT0 = int64_t{1} << 40;
// The largest learnt TOTP drift, in steps, either way (a resync moves it by at
// most resync_window / period <= 86,400 steps).
constexpr int64_t kMaxDriftSteps = int64_t{1} << 32;

// A fixed-width decimal code, e.g. "050471". Codes are always compared as
// strings of exactly `digits` characters, in constant time.
using OtpCode = std::string;

// An HMAC key keyed once and duplicated per computation: OpenSSL 3's one-shot
// HMAC() re-fetches the algorithm on every call (~1.2 µs); a keyed context
// copy costs ~0.2 µs. Not thread-safe: one per thread or per request.
class HmacKey {
 public:
  static Result<HmacKey> Create(HashAlgorithm alg, const SecretBytes& secret);
  HmacKey(HmacKey&&) noexcept;
  HmacKey& operator=(HmacKey&&) noexcept;
  ~HmacKey();

  // RFC 4226 §5.3: HOTP(K, C) = Truncate(HMAC(K, C)) mod 10^digits, into `out`
  // (exactly `digits` characters, zero-padded). Returns false only if
  // OpenSSL fails.
  bool Hotp(uint64_t counter, int digits, char out[kMaxDigits + 1]) const;
  // HMAC(K, message) into `mac` (up to 64 bytes); returns its length or 0.
  size_t Mac(const uint8_t* message, size_t length, uint8_t mac[64]) const;

 private:
  struct Impl;
  explicit HmacKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// HMAC(key, message) with `alg` into `mac` (up to 64 bytes); returns its
// length, or 0 if OpenSSL fails or the key is empty. Thread-safe. Uses the
// HMAC algorithm fetched once per process: OpenSSL 3's one-shot HMAC()
// fetches it again on every call, which costs more than the MAC itself for
// the short messages otpgate authenticates.
size_t ComputeHmac(HashAlgorithm alg, std::span<const uint8_t> key,
                   std::span<const uint8_t> message, uint8_t mac[64]);

// Convenience for tools and tests: one code from scratch.
Result<OtpCode> GenerateHotp(HashAlgorithm alg, const SecretBytes& secret, uint64_t counter,
                             int digits);
// RFC 6238 §4.2: T = floor((now - T0) / X), computed without overflow for
// any `now` and `t0` and clamped to the int64 range. REQUIRES: period > 0.
int64_t TotpStep(int64_t now, int64_t t0, int64_t period);
Result<OtpCode> GenerateTotp(const OtpParams& params, const SecretBytes& secret, int64_t now);

// The result of scanning a window of steps/counters for a code.
// The widest window ScanWindow and FindConsecutive will compute: the widest
// configurable resync search (2 * 86,400 TOTP steps, plus slack).
constexpr int64_t kMaxScanValues = 200'000;

struct WindowMatch {
  // The step (TOTP) or counter (HOTP) that matched and may be accepted: the
  // matching value nearest the window's centre that is strictly greater than
  // `last_accepted`.
  std::optional<int64_t> accepted;
  // True when the code matched only values <= last_accepted: a replay.
  bool replay = false;
};

// Compares `code` with HOTP(K, v) for every v in [first, last], always
// computing every value (no early return), each comparison constant time.
// Values below zero are skipped; the loop runs exactly last - first + 1 times
// (none if last < first), so no bound can make it overflow or run for ever.
// kInvalidArgument if the window spans more than kMaxScanValues values.
// `code` must already be normalised and have exactly `digits` digits.
Result<WindowMatch> ScanWindow(const HmacKey& key, int digits, std::string_view code, int64_t first,
                               int64_t last, int64_t centre, int64_t last_accepted);

// Finds v in [first, last] with HOTP(v) == code1 and HOTP(v + 1) == code2
// (resynchronisation from two consecutive codes). Returns v + 1.
Result<std::optional<int64_t>> FindConsecutive(const HmacKey& key, int digits,
                                               std::string_view code1, std::string_view code2,
                                               int64_t first, int64_t last);

}  // namespace otpgate

#endif  // OTPGATE_OTP_H_
