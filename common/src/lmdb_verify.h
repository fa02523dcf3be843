// A structural check of an LMDB data file, read with pread() rather than
// through LMDB's memory map (private to the core).
//
// Why: LMDB trusts its file. A data.mdb that was truncated makes the first
// access to a page past its end raise SIGBUS, and damaged page headers make
// LMDB assert (abort()) or follow wild offsets, killing the host process
// (radiusd, sshd). Walking every reachable page here first, with bounds
// checked, turns those into a kCorrupt status. It checks what LMDB relies on
// to navigate (meta pages, page numbers, flags, free-space bounds, node
// offsets and sizes, child and overflow page numbers, no page reachable
// twice); it does not check key order, and record contents are checked by
// their own decoders (token_record.h) and by authenticated encryption.
#ifndef OTPGATE_SRC_LMDB_VERIFY_H_
#define OTPGATE_SRC_LMDB_VERIFY_H_

#include <cstdint>
#include <string>

#include "otpgate/status.h"

namespace otpgate {

struct LmdbFileFacts {
  uint64_t bytes_needed = 0;  // end of the furthest reachable page
  uint64_t pages_checked = 0;
};

// Walks the snapshot committed by transaction `txnid` (the newest meta page
// if 0) in the data file open as `fd`. The caller holds a read transaction on
// that snapshot so that no writer reuses its pages meanwhile. kCorrupt with
// the first problem found; kUnavailable if the file cannot be read.
Result<LmdbFileFacts> VerifyLmdbFile(int fd, const std::string& path, uint64_t txnid);

}  // namespace otpgate

#endif  // OTPGATE_SRC_LMDB_VERIFY_H_
