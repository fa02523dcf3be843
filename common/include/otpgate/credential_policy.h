// Which credential IDs are acceptable: the token types a bank hands out
// (e.g. prefixes VSST VSMT SYMC SYDC SYMZ UBHE, 12 characters). Checked at
// import and at registration, after normalisation (normalize.h).
#ifndef OTPGATE_CREDENTIAL_POLICY_H_
#define OTPGATE_CREDENTIAL_POLICY_H_

#include <string_view>

#include "otpgate/config.h"
#include "otpgate/status.h"

namespace otpgate {

// OK if `credential_id` (normalised) matches config.credential_prefixes
// (space-separated; empty: any) and config.credential_length (0: any);
// otherwise kInvalidArgument with a message a customer can act on, such as
// "credential ID must look like VSST12345678".
Status CheckCredentialId(const Config& config, std::string_view credential_id);

}  // namespace otpgate

#endif  // OTPGATE_CREDENTIAL_POLICY_H_
