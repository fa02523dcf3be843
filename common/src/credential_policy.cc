#include "otpgate/credential_policy.h"

#include <string>

namespace otpgate {

Status CheckCredentialId(const Config& config, std::string_view id) {
  const std::string& prefixes = config.credential_prefixes;
  bool prefix_ok = prefixes.find_first_not_of(' ') == std::string::npos;
  std::string first_prefix;
  size_t pos = 0;
  while (pos < prefixes.size()) {
    size_t start = prefixes.find_first_not_of(' ', pos);
    if (start == std::string::npos) break;
    size_t end = prefixes.find(' ', start);
    std::string_view prefix(prefixes.data() + start,
                            (end == std::string::npos ? prefixes.size() : end) - start);
    if (first_prefix.empty()) first_prefix = std::string(prefix);
    prefix_ok |= id.starts_with(prefix);
    pos = end == std::string::npos ? prefixes.size() : end;
  }
  bool length_ok =
      config.credential_length == 0 || id.size() == static_cast<size_t>(config.credential_length);
  if (prefix_ok && length_ok) {
    return Status::Ok();
  }
  // An example the customer can compare with what the app shows.
  std::string example = first_prefix.empty() ? "ABCD" : first_prefix;
  size_t length = config.credential_length > 0 ? static_cast<size_t>(config.credential_length) : 12;
  for (char digit = '1'; example.size() < length; digit = digit == '9' ? '0' : digit + 1) {
    example += digit;
  }
  std::string message = "credential ID must look like " + example;
  if (!prefixes.empty()) message += " (starting with one of: " + prefixes + ")";
  return Status::InvalidArgument(message);
}

}  // namespace otpgate
