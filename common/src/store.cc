// Store::Open: the backend is chosen by the form of the location.
#include "otpgate/store.h"

#include "lmdb_store.h"
#include "pg_store.h"

namespace otpgate {

bool IsPostgresLocation(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://") ||
         (!location.empty() && location.front() != '/' &&
          location.find('=') != std::string_view::npos);
}

Result<std::shared_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.location.empty()) {
    return Status::InvalidArgument("store location is empty");
  }
  if (IsPostgresLocation(options.location)) {
    return OpenPostgresStore(options);
  }
  if (options.location.front() != '/') {
    return Status::InvalidArgument(
        "store location must be an absolute directory path, a postgresql:// URI or a "
        "libpq connection string");
  }
  return OpenLmdbStore(options);
}

}  // namespace otpgate
