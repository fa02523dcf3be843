// The credential store: one LMDB environment with three named databases.
//
//   tokens  credential ID -> TokenRecord (token_record.h)
//   users   user name -> credential ID (MDB_DUPSORT: a user may hold several)
//   meta    "schema" -> u32 version; "key-check" -> a value sealed under the
//           master key, so that a wrong key is told apart from a corrupt record;
//           "journal-checkpoint" -> where a pruned journal resumes (journal.h)
//   journal u64 sequence (big-endian) -> one audit journal entry (journal.h);
//           created on first open by a writer if an older store lacks it
//   challenges  RADIUS challenge nonces already redeemed (challenge.h), two
//           entries each: 'n' | nonce -> expiry, and 'e' | expiry | nonce ->
//           empty (expiry order, so pruning finds the oldest first). Created
//           on first open like the journal.
//
// Caveats, inherited from LMDB, and how they are handled here:
//  - One MDB_env per process per path: Store::Open hands out one shared
//    instance per (path, pid), whatever state it is in (a second environment
//    on the same files would share, and on close drop, this process's POSIX
//    locks). A child process after fork() gets a new one; the parent's
//    handle is never used (nor closed) in the child.
//  - Reader slots (512 per store, shared by all processes): a process keeps
//    at most one idle read transaction per concurrent reader, up to 16, and
//    aborts the rest. A process that exits without closing the store leaves
//    its slots behind; they are reclaimed (mdb_reader_check) whenever a
//    process opens the store, and when the table is full before a read
//    gives up (then kUnavailable).
//  - Killed writers: LMDB's robust mutexes (Debian's build uses them) pass
//    the write lock of a dead process to the next writer, which repairs the
//    lock table.
//  - LMDB trusts its data file. Before LMDB touches a page, Open walks every
//    reachable page with bounds checks through pread() (lmdb_verify.h), and
//    every transaction first checks that the file has not shrunk, so a
//    truncated or damaged data.mdb gives kCorrupt instead of SIGBUS or an
//    abort() in the host process. The walk reads the whole file once per
//    process.
//  - Write transactions are serialised by LMDB across threads and processes.
//    Every state-changing decision re-reads its records inside the same write
//    transaction, so two racing requests cannot both accept one code.
//  - When the map fills, it is grown (doubled) and the transaction re-run.
//    A full file system is kStoreFull, a read-only one kUnavailable; either
//    way nothing of the transaction is stored.
//  - Files follow the access model of file_util.h: root only, or shared with
//    the `otpgate` group (files created then get 0660 and the group).
#ifndef OTPGATE_STORE_H_
#define OTPGATE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "otpgate/status.h"
#include "otpgate/token_record.h"

namespace otpgate {

constexpr uint32_t kSchemaVersion = 1;

struct StoreOptions {
  std::string path;                 // a directory
  bool create = false;              // create the directory and databases if absent
  size_t initial_map_bytes = 16u << 20;
  size_t max_map_bytes = size_t{64} << 30;
  bool durable = true;              // fsync on commit; false only for benchmarks
};

class Store;

// A transaction; read-only ones refuse to write (kInternal).
class Txn {
 public:
  virtual ~Txn() = default;
  virtual Result<TokenRecord> GetToken(std::string_view credential_id) = 0;  // kNotFound
  virtual bool HasToken(std::string_view credential_id) = 0;
  virtual Status PutToken(const TokenRecord& record) = 0;
  virtual Status DeleteToken(std::string_view credential_id) = 0;
  virtual Result<std::vector<std::string>> UserTokens(std::string_view user) = 0;
  virtual Status AddUserToken(std::string_view user, std::string_view credential_id) = 0;
  virtual Status RemoveUserToken(std::string_view user, std::string_view credential_id) = 0;
  // Calls `fn` for every token in credential-ID order; stops at the first
  // non-OK status and returns it.
  virtual Status ForEachToken(const std::function<Status(const TokenRecord&)>& fn) = 0;
  virtual Result<std::optional<std::vector<uint8_t>>> GetMeta(std::string_view key) = 0;
  virtual Status PutMeta(std::string_view key, std::span<const uint8_t> value) = 0;

  // The audit journal: opaque entries under strictly increasing sequence
  // numbers (journal.h gives them meaning). Sequence 0 is never used.
  // The entry with the highest sequence, or nullopt when there is none.
  virtual Result<std::optional<std::pair<uint64_t, std::vector<uint8_t>>>> LastJournalEntry() = 0;
  // kAlreadyExists unless `sequence` is above every stored sequence.
  virtual Status AppendJournalEntry(uint64_t sequence, std::span<const uint8_t> entry) = 0;
  // Calls `fn` for each entry with sequence >= `from`, ascending; stops at
  // the first non-OK status and returns it.
  virtual Status ForEachJournalEntry(
      uint64_t from, const std::function<Status(uint64_t, std::span<const uint8_t>)>& fn) = 0;
  // Removes every entry with sequence <= `last`.
  virtual Status EraseJournalThrough(uint64_t last) = 0;

  // Marks a RADIUS challenge nonce (16 bytes) used. true the first time for
  // this nonce, false if it was already consumed (replay). Entries whose
  // expiry is before now may be pruned by any call.
  virtual Result<bool> ConsumeChallenge(std::span<const uint8_t> nonce, int64_t expires_at_unix,
                                        int64_t now_unix) = 0;
};

class Store {
 public:
  // kUnavailable if the directory or files are missing (and !create) or
  // cannot be opened; kPermissionDenied if the directory is a symbolic link,
  // lies under a directory others could swap, or the files are more open
  // than the access model allows; kCorrupt if data.mdb is truncated or
  // damaged, or the schema is unknown.
  static Result<std::shared_ptr<Store>> Open(const StoreOptions& options);
  virtual ~Store() = default;

  // Runs `fn` in a read-only transaction.
  virtual Status Read(const std::function<Status(Txn&)>& fn) = 0;
  // Runs `fn` in a write transaction and commits (durably) if it returns OK;
  // aborts otherwise. `fn` may run more than once (after the map is grown),
  // so it must derive everything it writes from what it reads.
  virtual Status Write(const std::function<Status(Txn&)>& fn) = 0;

  // Group commit: runs each of `fns` in its own nested transaction inside
  // ONE write transaction, then commits that transaction once (one fsync for
  // all). A function that fails has its nested transaction aborted and its
  // status in `results`; the others are unaffected. Returns the status of the
  // commit itself: when it is not OK, nothing of any function was stored.
  // REQUIRES: results.size() == fns.size().
  virtual Status WriteGroup(std::span<const std::function<Status(Txn&)>* const> fns,
                            std::span<Status> results) = 0;

  // Writes a consistent, compacted copy of the whole store (as of one
  // moment; writers go on meanwhile) to the new file `file`, created with
  // mode 0600 (kAlreadyExists if it exists). For LMDB the copy is a
  // data.mdb that opens as a store on its own.
  virtual Status Backup(const std::string& file) = 0;

  virtual const std::string& path() const = 0;
  virtual size_t map_size() const = 0;
};

}  // namespace otpgate

#endif  // OTPGATE_STORE_H_
