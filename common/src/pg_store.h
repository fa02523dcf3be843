// The PostgreSQL backend of Store (store.h); private: reached through
// Store::Open.
//
// Schema (created and upgraded by Open with options.create, i.e. `otpgate
// init`; versioned by meta "pg-schema"; upgrades only add):
//   otpgate_meta(name bytea PK, value bytea)
//   otpgate_tokens(credential_id bytea PK, record bytea): the TokenRecord
//     bytes as LMDB stores them (token_record.h), so that a decision's whole
//     state is one row, read and written under one row lock
//   otpgate_user_tokens(user_name bytea, credential_id bytea, PK both)
//   otpgate_journal(sequence int8 PK, entry bytea): the audit journal
//     (journal.h), its entries as LMDB stores them (version 2)
//   otpgate_challenges(nonce bytea PK, expires_at int8, indexed): RADIUS
//     challenge nonces already redeemed (Txn::ConsumeChallenge; version 3)
// Keys are bytea: byte order, as in LMDB, and no encoding assumptions.
#ifndef OTPGATE_SRC_PG_STORE_H_
#define OTPGATE_SRC_PG_STORE_H_

#include <memory>

#include "otpgate/store.h"

namespace otpgate {

// The schema version this build writes and reads.
constexpr uint32_t kPostgresSchemaVersion = 3;

// options.location is a URI or a libpq connection string.
Result<std::shared_ptr<Store>> OpenPostgresStore(const StoreOptions& options);

}  // namespace otpgate

#endif  // OTPGATE_SRC_PG_STORE_H_
