#include "otpgate/otp.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>

#include "openssl_fetch.h"

namespace otpgate {
namespace {

// Fetching is what makes one-shot HMAC() slow (openssl_fetch.h).
EVP_MAC* HmacAlgorithm() {
  static std::atomic<EVP_MAC*> cached{nullptr};
  return FetchOnce(cached, EVP_MAC_fetch, EVP_MAC_free, "HMAC");
}

const char* DigestName(HashAlgorithm alg) {
  switch (alg) {
    case HashAlgorithm::kSha1:
      return "SHA1";
    case HashAlgorithm::kSha256:
      return "SHA256";
    case HashAlgorithm::kSha512:
      return "SHA512";
  }
  return "SHA1";
}

// The values of [first, last] at or above zero, as a start and a count, so
// that loops run by count and never compute last + 1.
struct ScanRange {
  int64_t start = 0;
  uint64_t count = 0;
};
Result<ScanRange> NonNegativeRange(int64_t first, int64_t last) {
  ScanRange range;
  range.start = std::max<int64_t>(first, 0);
  if (last < range.start) {
    return range;
  }
  range.count = static_cast<uint64_t>(last) - static_cast<uint64_t>(range.start) + 1;
  if (range.count > static_cast<uint64_t>(kMaxScanValues)) {
    return Status::InvalidArgument("verification window is too wide");
  }
  return range;
}

constexpr uint32_t kPowersOfTen[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

}  // namespace

std::string_view HashAlgorithmName(HashAlgorithm alg) { return DigestName(alg); }

Result<HashAlgorithm> ParseHashAlgorithm(std::string_view name) {
  std::string folded;
  for (char c : name) {
    if (c != '-') folded += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (folded == "SHA1") return HashAlgorithm::kSha1;
  if (folded == "SHA256") return HashAlgorithm::kSha256;
  if (folded == "SHA512") return HashAlgorithm::kSha512;
  return Status::InvalidArgument("unknown hash algorithm (expected SHA1, SHA256 or SHA512)");
}

std::string_view OtpKindName(OtpKind kind) { return kind == OtpKind::kHotp ? "hotp" : "totp"; }

Result<OtpKind> ParseOtpKind(std::string_view name) {
  if (name == "hotp" || name == "HOTP") return OtpKind::kHotp;
  if (name == "totp" || name == "TOTP") return OtpKind::kTotp;
  return Status::InvalidArgument("unknown token type (expected hotp or totp)");
}

Status OtpParams::Validate() const {
  if (kind != OtpKind::kHotp && kind != OtpKind::kTotp) {
    return Status::InvalidArgument("unknown token type");
  }
  if (algorithm != HashAlgorithm::kSha1 && algorithm != HashAlgorithm::kSha256 &&
      algorithm != HashAlgorithm::kSha512) {
    return Status::InvalidArgument("unknown hash algorithm");
  }
  if (digits < kMinDigits || digits > kMaxDigits) {
    return Status::InvalidArgument("digits must be 6, 7 or 8");
  }
  if (kind == OtpKind::kTotp && (period < 1 || period > 86400)) {
    return Status::InvalidArgument("period must be 1..86400 seconds");
  }
  if (t0 < 0 || t0 > kMaxT0) {
    return Status::InvalidArgument("T0 must be 0.." + std::to_string(kMaxT0));
  }
  return Status::Ok();
}

struct HmacKey::Impl {
  MacCtxPtr keyed;
};

HmacKey::HmacKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HmacKey::HmacKey(HmacKey&&) noexcept = default;
HmacKey& HmacKey::operator=(HmacKey&&) noexcept = default;
HmacKey::~HmacKey() = default;

namespace {

// A context keyed with `key` for HMAC-`alg`, or null if OpenSSL fails.
MacCtxPtr KeyedContext(HashAlgorithm alg, std::span<const uint8_t> key) {
  EVP_MAC* algorithm = HmacAlgorithm();
  if (algorithm == nullptr) return nullptr;
  MacCtxPtr ctx(EVP_MAC_CTX_new(algorithm));
  char digest[16];
  std::strncpy(digest, DigestName(alg), sizeof(digest) - 1);
  digest[sizeof(digest) - 1] = '\0';
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) return nullptr;
  return ctx;
}

// The MAC of `message` from a keyed context (which it consumes) into `mac`.
size_t Finish(EVP_MAC_CTX* ctx, std::span<const uint8_t> message, uint8_t mac[64]) {
  size_t length = 0;
  if (ctx == nullptr || EVP_MAC_update(ctx, message.data(), message.size()) != 1 ||
      EVP_MAC_final(ctx, mac, &length, 64) != 1) {
    return 0;
  }
  return length;
}

}  // namespace

Result<HmacKey> HmacKey::Create(HashAlgorithm alg, const SecretBytes& secret) {
  if (secret.empty()) {
    return Status::InvalidArgument("empty secret");
  }
  MacCtxPtr ctx = KeyedContext(alg, {secret.data(), secret.size()});
  if (!ctx) {
    return Status::Internal("OpenSSL cannot key an HMAC");
  }
  auto impl = std::make_unique<Impl>();
  impl->keyed = std::move(ctx);
  return HmacKey(std::move(impl));
}

size_t HmacKey::Mac(const uint8_t* message, size_t length, uint8_t mac[64]) const {
  MacCtxPtr ctx(EVP_MAC_CTX_dup(impl_->keyed.get()));
  return Finish(ctx.get(), {message, length}, mac);
}

size_t ComputeHmac(HashAlgorithm alg, std::span<const uint8_t> key,
                   std::span<const uint8_t> message, uint8_t mac[64]) {
  if (key.empty()) return 0;
  MacCtxPtr ctx = KeyedContext(alg, key);
  return Finish(ctx.get(), message, mac);
}

bool HmacKey::Hotp(uint64_t counter, int digits, char out[kMaxDigits + 1]) const {
  uint8_t message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  uint8_t mac[64];
  size_t length = Mac(message, sizeof(message), mac);
  if (length < 20 || digits < 1 || digits > kMaxDigits) {
    return false;
  }
  // RFC 4226 §5.3 dynamic truncation; for SHA-256/512 the offset comes from
  // the last byte of the longer MAC (RFC 6238 reference implementation).
  unsigned offset = mac[length - 1] & 0x0f;
  uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                    (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                    (static_cast<uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
  OPENSSL_cleanse(mac, sizeof(mac));
  uint32_t value = binary % kPowersOfTen[digits];
  for (int i = digits - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out[digits] = '\0';
  return true;
}

Result<OtpCode> GenerateHotp(HashAlgorithm alg, const SecretBytes& secret, uint64_t counter,
                             int digits) {
  if (digits < kMinDigits || digits > kMaxDigits) {
    return Status::InvalidArgument("digits must be 6, 7 or 8");
  }
  OTPGATE_ASSIGN_OR_RETURN(HmacKey key, HmacKey::Create(alg, secret));
  char code[kMaxDigits + 1];
  if (!key.Hotp(counter, digits, code)) {
    return Status::Internal("HMAC computation failed");
  }
  return OtpCode(code);
}

int64_t TotpStep(int64_t now, int64_t t0, int64_t period) {
  // In 128 bits: now - t0 cannot overflow whatever the clock or record says.
  __extension__ using Wide = __int128;
  const Wide elapsed = static_cast<Wide>(now) - t0;
  // Floor division, so times before T0 map to negative steps (never valid).
  Wide step = elapsed / period;
  if (elapsed % period != 0 && elapsed < 0) {
    --step;
  }
  return static_cast<int64_t>(std::clamp<Wide>(step, INT64_MIN, INT64_MAX));
}

Result<OtpCode> GenerateTotp(const OtpParams& params, const SecretBytes& secret, int64_t now) {
  OTPGATE_RETURN_IF_ERROR(params.Validate());
  int64_t step = TotpStep(now, params.t0, params.period);
  if (step < 0) {
    return Status::InvalidArgument("time is before T0");
  }
  return GenerateHotp(params.algorithm, secret, static_cast<uint64_t>(step), params.digits);
}

Result<WindowMatch> ScanWindow(const HmacKey& key, int digits, std::string_view code, int64_t first,
                               int64_t last, int64_t centre, int64_t last_accepted) {
  if (static_cast<int>(code.size()) != digits) {
    return Status::InvalidArgument("code has the wrong number of digits");
  }
  WindowMatch match;
  uint64_t best_distance = UINT64_MAX;
  bool matched_used = false;
  OTPGATE_ASSIGN_OR_RETURN(ScanRange range, NonNegativeRange(first, last));
  char expected[kMaxDigits + 1];
  for (uint64_t i = 0; i < range.count; ++i) {
    const int64_t value = range.start + static_cast<int64_t>(i);
    if (!key.Hotp(static_cast<uint64_t>(value), digits, expected)) {
      return Status::Internal("HMAC computation failed");
    }
    // Constant time per value, and every value is computed: the time taken
    // does not depend on where (or whether) the code matched.
    bool equal = CRYPTO_memcmp(expected, code.data(), static_cast<size_t>(digits)) == 0;
    bool fresh = value > last_accepted;
    // In unsigned arithmetic: centre may be anywhere, the distance only
    // orders matches.
    uint64_t distance = value > centre
                            ? static_cast<uint64_t>(value) - static_cast<uint64_t>(centre)
                            : static_cast<uint64_t>(centre) - static_cast<uint64_t>(value);
    if (equal && fresh && distance < best_distance) {
      best_distance = distance;
      match.accepted = value;
    }
    matched_used |= equal && !fresh;
  }
  OPENSSL_cleanse(expected, sizeof(expected));
  match.replay = !match.accepted.has_value() && matched_used;
  return match;
}

Result<std::optional<int64_t>> FindConsecutive(const HmacKey& key, int digits,
                                               std::string_view code1, std::string_view code2,
                                               int64_t first, int64_t last) {
  if (static_cast<int>(code1.size()) != digits || static_cast<int>(code2.size()) != digits) {
    return Status::InvalidArgument("code has the wrong number of digits");
  }
  std::optional<int64_t> found;
  char previous[kMaxDigits + 1] = {};
  char current[kMaxDigits + 1];
  bool have_previous = false;
  // [first, last + 1]: the pair's second code may sit just past `last`.
  if (last >= INT64_MAX - 1) {
    return Status::InvalidArgument("verification window is out of range");
  }
  OTPGATE_ASSIGN_OR_RETURN(ScanRange range, NonNegativeRange(first, last + 1));
  for (uint64_t i = 0; i < range.count; ++i) {
    const int64_t value = range.start + static_cast<int64_t>(i);
    if (!key.Hotp(static_cast<uint64_t>(value), digits, current)) {
      return Status::Internal("HMAC computation failed");
    }
    if (have_previous && !found.has_value() &&
        CRYPTO_memcmp(previous, code1.data(), static_cast<size_t>(digits)) == 0 &&
        CRYPTO_memcmp(current, code2.data(), static_cast<size_t>(digits)) == 0) {
      found = value;
    }
    std::memcpy(previous, current, sizeof(current));
    have_previous = true;
  }
  OPENSSL_cleanse(previous, sizeof(previous));
  OPENSSL_cleanse(current, sizeof(current));
  return found;
}

}  // namespace otpgate
