// Copying a whole store between backends (LMDB <-> PostgreSQL): moving from
// one host to a pool, or back.
#ifndef OTPGATE_STORE_COPY_H_
#define OTPGATE_STORE_COPY_H_

#include <cstddef>

#include "otpgate/status.h"
#include "otpgate/store.h"

namespace otpgate {

struct CopyReport {
  size_t tokens = 0;
  size_t bindings = 0;  // (user, credential ID) pairs
  size_t meta = 0;      // metadata entries copied (key check, journal checkpoint)
  size_t journal_entries = 0;
};

// Copies every token record (byte for byte: sealed secret, replay mark,
// drift, failures, lock), every user binding, the master-key check and the
// audit journal (every entry under its sequence, and the checkpoint of a
// pruned journal) from `from` to `to` in one write transaction of `to`
// (created or upgraded if needed), then re-reads both stores and compares
// them record by record and entry by entry. The source is read in one
// snapshot, held in memory (about 100 bytes per journal entry). The
// destination must hold no token and no journal entry (kAlreadyExists
// otherwise: nothing is merged or overwritten). The journal's chain is not
// checked here (that needs the master key: OtpService::VerifyJournal); a
// byte-identical copy verifies exactly as its source does. Secrets stay sealed: no master key is
// needed, and the destination opens with the source's key. Stop the front ends using `from` while
// it runs, or decisions taken meanwhile are not copied. kCorrupt if the verification finds a
// difference (the copy is then in `to`: drop it before trying again).
Status CopyStore(const StoreOptions& from, const StoreOptions& to, CopyReport* report);

}  // namespace otpgate

#endif  // OTPGATE_STORE_COPY_H_
