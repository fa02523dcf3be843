// What the migration parsers share: credential IDs made from user names.
#include "otpgate/migrate.h"

#include <cctype>

#include "otpgate/normalize.h"

namespace otpgate {

Result<std::string> MigrationCredentialId(std::string_view prefix, std::string_view user) {
  std::string id(prefix);
  for (char c : user) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      id += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  auto normalized = NormalizeCredentialId(id);
  if (!normalized.ok()) {
    return Status::InvalidArgument("no credential ID can be made from user '" + std::string(user) +
                                   "' with prefix '" + std::string(prefix) +
                                   "': " + normalized.status().message());
  }
  return normalized;
}

}  // namespace otpgate
