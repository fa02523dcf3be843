#include "lockout.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace otpgate {
namespace {

constexpr uint8_t kFailureStateVersion = 1;
constexpr size_t kFailureStateBytes = 1 + 4 + 8;

}  // namespace

FailureFingerprint FingerprintWrongCode(const HmacKey& key, std::string_view code,
                                        int64_t window_centre) {
  FailureFingerprint fingerprint{};
  // "otpgate failed code:" | 8-byte big-endian window centre | code
  uint8_t message[48] = "otpgate failed code:";
  size_t length = std::strlen(reinterpret_cast<const char*>(message));
  uint64_t centre = static_cast<uint64_t>(window_centre);
  for (int i = 7; i >= 0; --i) {
    message[length + static_cast<size_t>(i)] = static_cast<uint8_t>(centre & 0xff);
    centre >>= 8;
  }
  length += 8;
  size_t code_length = std::min(code.size(), sizeof(message) - length);
  std::memcpy(message + length, code.data(), code_length);
  length += code_length;
  uint8_t mac[64];
  if (key.Mac(message, length, mac) >= fingerprint.size()) {
    std::memcpy(fingerprint.data(), mac, fingerprint.size());
  }
  OPENSSL_cleanse(message, sizeof(message));
  OPENSSL_cleanse(mac, sizeof(mac));
  return fingerprint;
}

int64_t LockoutSeconds(uint32_t failures, const Config& config) {
  const auto threshold = static_cast<uint32_t>(config.max_failures);
  if (failures < threshold) {
    return 0;
  }
  const uint32_t doublings = failures - threshold;
  // lockout_seconds <= 86,400 < 2^17: no shift below 32 overflows.
  if (doublings >= 32) {
    return config.lockout_max_seconds;
  }
  return std::min(config.lockout_seconds << doublings, config.lockout_max_seconds);
}

void CountFailure(FailureState& state, const std::optional<FailureFingerprint>& fingerprint,
                  int64_t now, const Config& config) {
  if (fingerprint.has_value()) {
    const bool same_as_last =
        state.failures > 0 &&
        CRYPTO_memcmp(fingerprint->data(), state.last_fingerprint.data(), fingerprint->size()) == 0;
    if (same_as_last) {
      return;
    }
    state.last_fingerprint = *fingerprint;
  }
  if (state.failures < UINT32_MAX) {
    ++state.failures;
  }
  const int64_t lock = LockoutSeconds(state.failures, config);
  if (lock > 0) {
    int64_t until;
    state.lock_until = __builtin_add_overflow(now, lock, &until) ? INT64_MAX : until;
  }
}

std::vector<uint8_t> EncodeFailureState(const FailureState& state) {
  std::vector<uint8_t> out;
  out.reserve(kFailureStateBytes);
  out.push_back(kFailureStateVersion);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(state.failures >> (8 * i)));
  const auto lock = static_cast<uint64_t>(state.lock_until);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(lock >> (8 * i)));
  return out;
}

Result<FailureState> DecodeFailureState(std::span<const uint8_t> bytes) {
  if (bytes.size() != kFailureStateBytes || bytes[0] != kFailureStateVersion) {
    return Status::Corrupt("registration failure record is malformed");
  }
  FailureState state;
  for (int i = 0; i < 4; ++i) state.failures |= static_cast<uint32_t>(bytes[1 + i]) << (8 * i);
  uint64_t lock = 0;
  for (int i = 0; i < 8; ++i) lock |= static_cast<uint64_t>(bytes[5 + i]) << (8 * i);
  state.lock_until = static_cast<int64_t>(lock);
  if (state.lock_until < 0) {
    return Status::Corrupt("registration failure record has a negative lock time");
  }
  return state;
}

}  // namespace otpgate
