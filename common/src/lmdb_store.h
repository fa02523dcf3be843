// The LMDB backend of Store (store.h); private: reached through Store::Open.
#ifndef OTPGATE_SRC_LMDB_STORE_H_
#define OTPGATE_SRC_LMDB_STORE_H_

#include <memory>

#include "otpgate/store.h"

namespace otpgate {

// options.location is the store directory.
Result<std::shared_ptr<Store>> OpenLmdbStore(const StoreOptions& options);

}  // namespace otpgate

#endif  // OTPGATE_SRC_LMDB_STORE_H_
