#include "otpgate/soft_token.h"

#include <set>
#include <string>

#include "otpgate/normalize.h"
#include "otpgate/sealing.h"

namespace otpgate {
namespace {

constexpr size_t kRandomIdDigits = 8;

// Uniform decimal digits: bytes >= 250 are drawn again (250 = 25 * 10), so
// no digit is more likely than another.
Result<std::string> RandomDigits(size_t n) {
  std::string digits;
  while (digits.size() < n) {
    OTPGATE_ASSIGN_OR_RETURN(SecretBytes random, RandomBytes(n));
    for (size_t i = 0; i < random.size() && digits.size() < n; ++i) {
      if (random.data()[i] < 250) digits += static_cast<char>('0' + random.data()[i] % 10);
    }
  }
  return digits;
}

}  // namespace

Result<std::vector<std::pair<TokenSpec, SecretBytes>>> GenerateSoftTokens(const TokenSpec& base,
                                                                          std::string_view fixed_id,
                                                                          std::string_view prefix,
                                                                          size_t count) {
  if (count == 0) return Status::InvalidArgument("at least one token");
  if (!fixed_id.empty() && count != 1) return Status::InvalidArgument("--id makes one token");
  std::vector<std::pair<TokenSpec, SecretBytes>> tokens;
  std::set<std::string> ids;
  while (tokens.size() < count) {
    std::string id(fixed_id);
    if (id.empty()) {
      OTPGATE_ASSIGN_OR_RETURN(std::string digits, RandomDigits(kRandomIdDigits));
      id = std::string(prefix) + digits;
    }
    OTPGATE_ASSIGN_OR_RETURN(std::string normalized, NormalizeCredentialId(id));
    if (!ids.insert(normalized).second) continue;  // drawn twice: draw again
    TokenSpec spec = base;
    spec.credential_id = std::move(normalized);
    OTPGATE_ASSIGN_OR_RETURN(SecretBytes secret, RandomBytes(kSoftTokenSecretBytes));
    tokens.emplace_back(std::move(spec), std::move(secret));
  }
  return tokens;
}

}  // namespace otpgate
