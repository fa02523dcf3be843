// The credential store: where tokens, user bindings and store metadata live.
// One data model, two backends, chosen by the store location (Store::Open):
//
//   tokens  credential ID -> TokenRecord (token_record.h): parameters, sealed
//           secret, and the state every decision turns on (replay mark,
//           drift, failures, lock)
//   users   user name -> credential IDs (a user may hold several)
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
// - LMDB (a directory, e.g. /var/lib/otpgate/store): embedded, one host.
// - PostgreSQL (a postgresql:// URI, or a libpq connection string such as
//   "service=otpgate" or "host=db1 dbname=otpgate"): one store shared by a
//   pool of RADIUS servers and PAM hosts. The password is never part of the
//   location (refused): use libpq's own mechanisms (a passfile of mode 0600,
//   PGPASSFILE, a service file) or peer/certificate authentication.
//
// Isolation and retry contract, for every backend:
//  - Read() runs `fn` on one consistent snapshot (LMDB: a read transaction;
//    PostgreSQL: REPEATABLE READ, READ ONLY).
//  - Write() is linearizable: every value a write transaction reads it reads
//    under an exclusive lock held until its commit, so two writers deciding
//    on the same token or user run one after the other, whichever process or
//    host they run on, and each sees what the other committed.
//      LMDB: one writer at a time per store (LMDB's write lock).
//      PostgreSQL: READ COMMITTED; every write transaction first takes the
//      store's one write lock (the journal lock below), so the writers of
//      the whole pool run one at a time and each statement reads the latest
//      committed data; tokens are also re-read with SELECT ... FOR UPDATE.
//  - The journal is one hash chain for the whole store, so its appends are
//    serialised across every process and host: a write transaction that
//    touches the journal (LastJournalEntry, AppendJournalEntry, the walk,
//    the erase, or the kJournalCheckpointMeta entry) holds the journal lock
//    until it ends. LMDB: its write lock already does this. PostgreSQL: one
//    transaction-scoped advisory lock per store, taken by every write
//    transaction first, right after BEGIN; it is the only lock writers wait
//    for, so a group cannot deadlock against another host's. Cost: write
//    transactions of the whole pool
//    commit one at a time (each to the end of its COMMIT: the WAL flush, and
//    the synchronous standby's acknowledgement where there is one). Each
//    process therefore groups its concurrent decisions into one transaction
//    (GroupCommit; a savepoint per decision), as for LMDB: a pool decides
//    about (decisions per group) / (commit latency) per second.
//  - Write() and WriteGroup() return OK only after the commit returned: an
//    Accept is never answered before its replay mark is committed (durably,
//    as far as the backend's configuration makes commits durable; see
//    docs/scale-out.md for synchronous replication).
//  - `fn` may run more than once, so it must derive everything it writes
//    from what it reads: LMDB re-runs it after growing the map; PostgreSQL
//    after a deadlock (40P01) or serialization failure (40001), at most
//    kMaxStoreAttempts times in all, and within the store's deadline.
//  - If any statement of a transaction failed, the transaction does not
//    commit and its error is returned, even if `fn` ignored it (HasToken).
//    A write method may report its failure only later in the transaction
//    (PostgreSQL sends a write with the transaction's next read, or with
//    COMMIT, in one round trip): its error is then the transaction's (in a
//    WriteGroup, the member's), never lost.
//  - Bounded waiting (PostgreSQL): each Read/Write/WriteGroup, including
//    waiting for a pooled connection, connecting and retries, finishes
//    within PostgresOptions::timeout_ms (a WriteGroup: of its earliest
//    member's GroupMember::asked) or fails with kUnavailable (fail
//    closed); a connection that failed or timed out is dropped and a new
//    one is made by a later call, so the store recovers without a restart
//    of its host process. LMDB waits on local locks only.
//
// Caveats of the LMDB backend, and how they are handled here:
//  - One MDB_env per process per path: OpenLmdbStore hands out one shared
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
//  - LMDB trusts its data file. Before LMDB touches a page, OpenLmdbStore
//    walks every reachable page with bounds checks through pread() (lmdb_verify.h), and
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
// And from libpq: a connection belongs to one thread at a time (the store
// keeps a pool), and to one process: a child after fork() abandons the
// inherited connections without closing them (closing would end the
// parent's sessions) and opens its own.
#ifndef OTPGATE_STORE_H_
#define OTPGATE_STORE_H_

#include <chrono>
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
// The meta entry where a pruned journal resumes. It belongs to the journal:
// a write transaction that reads or writes it is serialised with journal
// appends like one that touches the journal (see the contract above).
constexpr std::string_view kJournalCheckpointMeta = "journal-checkpoint";
constexpr int kMaxStoreAttempts = 16;

// Options of the LMDB backend.
struct LmdbOptions {
  size_t initial_map_bytes = 16u << 20;
  size_t max_map_bytes = size_t{64} << 30;
};

// Options of the PostgreSQL backend.
struct PostgresOptions {
  // Connections this process may hold (radiusd: its thread pool size; PAM:
  // one is opened, lazily). A request waits for a free one within timeout_ms.
  int pool_size = 32;
  // The bound on every Read/Write, connection included (see above). Also
  // sent as the session's statement_timeout and lock_timeout.
  int timeout_ms = 1500;
};

struct StoreOptions {
  // An LMDB directory (an absolute path), or a PostgreSQL location
  // (IsPostgresLocation).
  std::string location;
  // LMDB: create the directory and databases if absent. PostgreSQL: create
  // or upgrade the schema (never destructive; the database must exist).
  bool create = false;
  LmdbOptions lmdb = {};
  PostgresOptions postgres = {};
};

// True for "postgresql://..." and "postgres://..." URIs and for libpq
// key=value connection strings ("service=otpgate", "host=... dbname=...").
bool IsPostgresLocation(std::string_view location);

class Store;

// A transaction; read-only ones refuse to write (kInternal).
class Txn {
 public:
  virtual ~Txn() = default;
  virtual Result<TokenRecord> GetToken(std::string_view credential_id) = 0;  // kNotFound
  // False also when the read failed; the transaction then cannot commit.
  virtual bool HasToken(std::string_view credential_id) = 0;
  virtual Status PutToken(const TokenRecord& record) = 0;
  virtual Status DeleteToken(std::string_view credential_id) = 0;
  // In byte order of the credential IDs.
  virtual Result<std::vector<std::string>> UserTokens(std::string_view user) = 0;
  // The records of the user's tokens, in credential-ID order: UserTokens
  // and GetToken for each in one call (a backend may do it in one round
  // trip). A listed token that is not stored is kCorrupt (a broken index).
  virtual Result<std::vector<TokenRecord>> UserTokenRecords(std::string_view user);
  virtual Status AddUserToken(std::string_view user, std::string_view credential_id) = 0;
  virtual Status RemoveUserToken(std::string_view user, std::string_view credential_id) = 0;
  // Calls `fn` for every token in credential-ID (byte) order; stops at the
  // first non-OK status and returns it.
  virtual Status ForEachToken(const std::function<Status(const TokenRecord&)>& fn) = 0;
  virtual Result<std::optional<std::vector<uint8_t>>> GetMeta(std::string_view key) = 0;
  virtual Status PutMeta(std::string_view key, std::span<const uint8_t> value) = 0;

  // The audit journal: opaque entries under strictly increasing sequence
  // numbers (journal.h gives them meaning). Sequence 0 is never used.
  // The entry with the highest sequence, or nullopt when there is none.
  virtual Result<std::optional<std::pair<uint64_t, std::vector<uint8_t>>>> LastJournalEntry() = 0;
  // kAlreadyExists unless `sequence` is above every stored sequence (from
  // this call, or as the transaction's result: see the contract above).
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

// What UserTokenRecords reports for a listed token that is not stored.
Status UnstoredBoundToken(std::string_view credential_id);

class Store {
 public:
  // Opens the store at options.location with the backend it names.
  // kInvalidArgument for an empty or malformed location (or one carrying a
  // password); kUnavailable if the store is missing or not initialised (and
  // !create), cannot be opened, is unreachable, or its schema is older than
  // this otpgate's (run otpgate init); kPermissionDenied if an LMDB directory
  // is a symbolic link, lies under a directory others could swap, or its
  // files are more open than the access model allows; kCorrupt if an LMDB
  // data.mdb is truncated or damaged, or the schema is unknown (newer).
  static Result<std::shared_ptr<Store>> Open(const StoreOptions& options);
  virtual ~Store() = default;

  // Runs `fn` in a read-only transaction.
  virtual Status Read(const std::function<Status(Txn&)>& fn) = 0;
  // The records of `user`'s tokens as of one moment: Txn::UserTokenRecords
  // in a read of its own. PostgreSQL sends the one statement alone (its own
  // snapshot, no BEGIN and COMMIT): one round trip, not two.
  virtual Result<std::vector<TokenRecord>> ReadUserTokenRecords(std::string_view user);

  // Runs `fn` in a write transaction and commits if it returns OK; aborts
  // otherwise. See the contract above (linearizable, may re-run `fn`).
  virtual Status Write(const std::function<Status(Txn&)>& fn) = 0;

  // One request of a group commit (WriteGroup).
  struct GroupMember {
    const std::function<Status(Txn&)>* fn = nullptr;
    // The user whose tokens `fn` reads with UserTokenRecords, if the caller
    // knows it; empty if none is named. A backend whose reads are round
    // trips (PostgreSQL) reads the named users' tokens for the whole group
    // in one statement at its start; `fn` reads them as always, and sees
    // every change the group made before it.
    std::string_view user;
    // When the request asked to be decided (GroupCommit sets it as it
    // queues the request). A backend that bounds its waiting (PostgreSQL)
    // counts the group's bound from its earliest member's: waiting for the
    // group before it does not lengthen a request's bound. Unset: from when
    // WriteGroup starts.
    std::chrono::steady_clock::time_point asked{};
  };

  // Group commit: runs each member's `fn` in its own nested transaction
  // (LMDB: a nested transaction; PostgreSQL: a SAVEPOINT) inside ONE write
  // transaction, then commits that transaction once. A function that fails
  // has its nested transaction rolled back and its status in `results`; the
  // others are unaffected. Returns the status of the commit itself: when it
  // is not OK, nothing of any function was stored. PostgreSQL: if the server
  // refuses a member's write only after that member ended, the group is
  // rolled back and each member runs again in a transaction of its own,
  // within what is left of the group's deadline; each member's status in
  // `results` is then its own transaction's (its failure, or its commit's),
  // and WriteGroup returns OK. REQUIRES: results.size() == members.size().
  virtual Status WriteGroup(std::span<const GroupMember> members, std::span<Status> results) = 0;

  // A write too large to hold in memory at once: a bulk import of new
  // tokens. `produce` calls `step` with functions that each write a part of
  // it; `publish` runs last. Nothing a step wrote to the tokens becomes
  // visible to other transactions before publish's commit, and if a step,
  // `produce` or `publish` fails, none of it ever does; that status is
  // returned. `produce` must be re-runnable (it may be called again from the
  // start). A step may read, put new tokens and append journal entries; for
  // anything else use Write(). `label` names the write for `abandoned`
  // (at most 255 bytes kept). If a step had been committed on its own
  // (LMDB) when the write failed, `abandoned` runs in a write transaction of
  // its own, with the label and that failure: its steps' journal entries
  // stay, and it may append one saying they never took effect. If its
  // process died instead (kill -9), a later WriteStaged on the store runs
  // its own `abandoned` with the dead write's label and kUnavailable, in
  // the transaction that marks that write abandoned. A write that committed
  // a step is thus closed by its publish or by one committed run of
  // `abandoned` (LMDB records the run with the write), once a later
  // WriteStaged has run. Like `produce`, `abandoned` may run more than once
  // (its transaction re-run), so it must derive what it writes from its
  // arguments and what it reads.
  //  - LMDB: each step is its own write transaction, so memory is bounded by
  //    one step's writes. The tokens it puts are stored as staged under the
  //    import's number (lmdb_staged_import.h), invisible until published:
  //    GetToken says kNotFound, ForEachToken skips them, and HasToken is true
  //    while their import runs (so nobody creates that ID meanwhile) and
  //    false once it is abandoned. Publish's transaction marks the import
  //    published. Journal entries a step appends are visible at once (the
  //    journal is one chain), so callers write in them that they are staged.
  //    Another write in a step is kInternal. An abandoned import's records
  //    are removed by the next WriteStaged.
  //  - PostgreSQL: produce and publish run in one write transaction, the
  //    server holding its writes (and the store's write lock) to the end.
  using TxnFn = std::function<Status(Txn&)>;
  using StagedStep = std::function<Status(const TxnFn& fn)>;
  using AbandonedFn = std::function<Status(Txn&, std::string_view label, const Status& why)>;
  virtual Status WriteStaged(std::string_view label,
                             const std::function<Status(const StagedStep& step)>& produce,
                             const TxnFn& publish, const AbandonedFn& abandoned);

  // True if concurrent writers of one process gain from sharing a commit
  // (GroupCommit): LMDB serialises writers and pays one fsync per commit;
  // PostgreSQL serialises writers on the journal lock (above) and pays one
  // WAL flush per commit. Both do today; a backend that ran writers in
  // parallel and grouped their commits itself would answer false.
  virtual bool SharesCommits() const = 0;

  // True if a read transaction is local work in the caller's thread (LMDB
  // reads the mapped file); false if it is a conversation with a server
  // (PostgreSQL: a snapshot's BEGIN, the statements and COMMIT, two round
  // trips and the server's CPU). A caller may then read ahead of a write
  // (to do costly work outside the write's lock) only where it pays.
  virtual bool ReadsAreLocal() const = 0;

  // Writes a consistent, compacted copy of the whole store (as of one
  // moment; writers go on meanwhile) to the new file `file`, created with
  // mode 0600 (kAlreadyExists if it exists). For LMDB the copy is a
  // data.mdb that opens as a store on its own.
  virtual Status Backup(const std::string& file) = 0;
};

}  // namespace otpgate

#endif  // OTPGATE_STORE_H_
