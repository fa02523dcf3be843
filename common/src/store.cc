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

Result<std::vector<TokenRecord>> Txn::UserTokenRecords(std::string_view user) {
  OTPGATE_ASSIGN_OR_RETURN(std::vector<std::string> ids, UserTokens(user));
  std::vector<TokenRecord> records;
  for (const std::string& id : ids) {
    Result<TokenRecord> record = GetToken(id);
    if (record.status().code() == StatusCode::kNotFound) return UnstoredBoundToken(id);
    OTPGATE_RETURN_IF_ERROR(record.status());
    records.push_back(std::move(record).value());
  }
  return records;
}

Status Store::WriteStaged(std::string_view /*label*/,
                          const std::function<Status(const StagedStep& step)>& produce,
                          const TxnFn& publish, const AbandonedFn& /*abandoned*/) {
  return Write([&](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(produce([&](const TxnFn& fn) { return fn(txn); }));
    return publish(txn);
  });
}

Result<std::vector<TokenRecord>> Store::ReadUserTokenRecords(std::string_view user) {
  std::vector<TokenRecord> records;
  OTPGATE_RETURN_IF_ERROR(Read([&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(records, txn.UserTokenRecords(user));
    return Status::Ok();
  }));
  return records;
}

Status UnstoredBoundToken(std::string_view credential_id) {
  return Status::Corrupt("user index lists token " + std::string(credential_id) +
                         ", which is not in the store");
}

}  // namespace otpgate
