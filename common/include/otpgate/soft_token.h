// Soft tokens made by otpgate itself (`otpgate token new`): a fresh random
// secret and, unless one is given, a credential ID of the bank's form
// (prefix + 8 random digits).
#ifndef OTPGATE_SOFT_TOKEN_H_
#define OTPGATE_SOFT_TOKEN_H_

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "otpgate/operations.h"
#include "otpgate/secret.h"
#include "otpgate/status.h"

namespace otpgate {

// Length of the random secret of a new soft token: 160 bits, RFC 4226
// section 4's recommendation.
constexpr size_t kSoftTokenSecretBytes = 20;

// `count` new tokens with the parameters of `base`. With a non-empty
// `fixed_id` exactly one token of that ID (count must be 1); otherwise IDs
// are `prefix` followed by 8 uniformly random digits, distinct within the
// batch. IDs are normalised (normalize.h). kInvalidArgument for count 0, a
// fixed ID with count > 1, or an ID that does not normalise.
Result<std::vector<std::pair<TokenSpec, SecretBytes>>> GenerateSoftTokens(const TokenSpec& base,
                                                                          std::string_view fixed_id,
                                                                          std::string_view prefix,
                                                                          size_t count);

}  // namespace otpgate

#endif  // OTPGATE_SOFT_TOKEN_H_
