// The LMDB implementation of Store (store.h).
#include "lmdb_store.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "file_util.h"
#include "lmdb_staged_import.h"
#include "lmdb_verified_state.h"
#include "lmdb_verify.h"
#include "otpgate/store.h"

namespace otpgate {
namespace {

constexpr int kMaxAttempts = 16;
// Reset read transactions kept for reuse. Each holds a reader slot (of
// kMaxReaders, shared by every process using the store), so a process keeps
// no more than its peak number of concurrent readers, and never more than
// this; a single-threaded PAM process keeps one.
constexpr size_t kMaxPooledReaders = 16;
constexpr unsigned kMaxReaders = 512;

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
MDB_val Val(std::span<const uint8_t> s) {
  return MDB_val{s.size(), const_cast<uint8_t*>(s.data())};
}
std::string_view View(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

Status LmdbError(int rc, std::string_view what) {
  std::string message = std::string(what) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_MAP_FULL:
      return Status::StoreFull(message);
    case ENOSPC:
    case EDQUOT:
      return Status::StoreFull(message +
                               " (the file system holding the store is full: free "
                               "space there; nothing of this request was stored)");
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
      return Status::Corrupt(message);
    case EACCES:
    case EPERM:
    case ENOENT:
    case EROFS:
      return Status::Unavailable(message +
                                 " (the store's file system is read-only: remount "
                                 "it read-write)");
    case MDB_READERS_FULL:
    case MDB_PANIC:
      return Status::Unavailable(message);
    default:
      return Status::Internal(message);
  }
}

struct Databases {
  MDB_dbi tokens = 0;
  MDB_dbi users = 0;
  MDB_dbi meta = 0;
  MDB_dbi journal = 0;
  MDB_dbi challenges = 0;
};

// At most this many expired challenge entries are removed per
// ConsumeChallenge: each call adds at most one entry and may remove up to
// this many, so expired entries cannot pile up while the call stays cheap.
constexpr int kChallengePrunePerCall = 4;
constexpr size_t kChallengeNonceBytes = 16;

// Journal keys are big-endian so that LMDB's byte order is numeric order.
std::array<uint8_t, 8> SequenceKey(uint64_t sequence) {
  std::array<uint8_t, 8> key;
  for (int i = 7; i >= 0; --i, sequence >>= 8) key[i] = static_cast<uint8_t>(sequence);
  return key;
}
// The challenges database holds two entries per consumed nonce:
//   'n' | nonce -> expiry (8 bytes): is this nonce used? (any expiry)
//   'e' | expiry | nonce -> empty: the same, in expiry order, for pruning
// Expiries are big-endian with the sign bit flipped, so that byte order is
// numeric order for negative times too.
constexpr uint8_t kNonceKey = 'n';
constexpr uint8_t kExpiryKey = 'e';
std::array<uint8_t, 8> ExpiryBytes(int64_t expires_at) {
  std::array<uint8_t, 8> out;
  uint64_t biased = static_cast<uint64_t>(expires_at) ^ (uint64_t{1} << 63);
  for (int i = 7; i >= 0; --i, biased >>= 8) out[i] = static_cast<uint8_t>(biased);
  return out;
}
int64_t ExpiryOf(const uint8_t* bytes) {
  uint64_t biased = 0;
  for (size_t i = 0; i < 8; ++i) biased = biased << 8 | bytes[i];
  return static_cast<int64_t>(biased ^ (uint64_t{1} << 63));
}
uint64_t SequenceOf(const MDB_val& key) {
  uint64_t sequence = 0;
  auto* p = static_cast<const uint8_t*>(key.mv_data);
  for (size_t i = 0; i < key.mv_size; ++i) sequence = sequence << 8 | p[i];
  return sequence;
}

// Where a token record stands (lmdb_staged_import.h).
enum class Presence {
  kVisible,    // live, or of a published import, or of this transaction's own import
  kStaged,     // of an import still running elsewhere: invisible, its ID taken
  kAbandoned,  // of an import that failed or died: invisible, its ID free
};

class LmdbTxn final : public Txn {
 public:
  // `staging`: non-zero in a step of the staged import of that number
  // (Store::WriteStaged): its tokens are written as staged, and it may not
  // write anything but tokens and journal entries.
  LmdbTxn(MDB_txn* txn, const Databases& dbs, bool read_only, uint64_t staging = 0)
      : txn_(txn), dbs_(dbs), read_only_(read_only), staging_(staging) {}
  MDB_txn* raw() const { return txn_; }
  // A step that stored a staged record (then the store's schema must say so).
  bool wrote_staged() const { return wrote_staged_; }
  // The store's own bookkeeping of staged imports: allowed in any writable
  // transaction, a step included.
  Status PutImportEntry(uint64_t number, const StagedImport& import) {
    if (read_only_) return Status::Internal("write in a read-only transaction");
    const std::string key = StagedImportKey(number);
    std::vector<uint8_t> bytes = EncodeStagedImport(import);
    MDB_val k = Val(key), data = Val(bytes);
    return Check(mdb_put(txn_, dbs_.meta, &k, &data, 0), "writing a staged import");
  }

  Result<TokenRecord> GetToken(std::string_view credential_id) override {
    MDB_val key = Val(credential_id), data;
    int rc = mdb_get(txn_, dbs_.tokens, &key, &data);
    if (rc == MDB_NOTFOUND) {
      return Status::NotFound("unknown credential ID");
    }
    if (rc != 0) {
      return LmdbError(rc, "reading token");
    }
    OTPGATE_ASSIGN_OR_RETURN(
        TokenRecord record,
        DecodeStoredToken(credential_id,
                          {static_cast<const uint8_t*>(data.mv_data), data.mv_size}));
    OTPGATE_ASSIGN_OR_RETURN(Presence presence, PresenceOf(record));
    if (presence != Presence::kVisible) {
      return Status::NotFound("unknown credential ID");
    }
    return record;
  }

  // A record that does not decode takes its ID too.
  bool HasToken(std::string_view credential_id) override {
    MDB_val key = Val(credential_id), data;
    if (mdb_get(txn_, dbs_.tokens, &key, &data) != 0) return false;
    auto record = DecodeTokenRecord({static_cast<const uint8_t*>(data.mv_data), data.mv_size});
    if (!record.ok() || record->staged_by == 0) return true;
    auto presence = PresenceOf(*record);
    return !presence.ok() || *presence != Presence::kAbandoned;
  }

  Status PutToken(const TokenRecord& record) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable(/*in_staged_step=*/true));
    if (record.staged_by != 0) {
      return Status::Internal("a token record may not name a staged import");
    }
    std::vector<uint8_t> bytes;
    if (staging_ != 0) {
      // A staged record never hides a token, nor another import's record.
      MDB_val key = Val(record.credential_id), data;
      int rc = mdb_get(txn_, dbs_.tokens, &key, &data);
      if (rc == 0) {
        OTPGATE_ASSIGN_OR_RETURN(
            TokenRecord there,
            DecodeStoredToken(record.credential_id,
                              {static_cast<const uint8_t*>(data.mv_data), data.mv_size}));
        OTPGATE_ASSIGN_OR_RETURN(Presence presence, PresenceOf(there));
        if (presence == Presence::kVisible) {
          return Status::AlreadyExists("token " + record.credential_id + " already exists");
        }
        if (presence == Presence::kStaged) {
          return Status::AlreadyExists("token " + record.credential_id +
                                       " is being imported by another process");
        }
      } else if (rc != MDB_NOTFOUND) {
        return LmdbError(rc, "reading token");
      }
      TokenRecord staged = record;
      staged.staged_by = staging_;
      wrote_staged_ = true;
      bytes = EncodeTokenRecord(staged);
    } else {
      bytes = EncodeTokenRecord(record);
    }
    MDB_val key = Val(record.credential_id), data = Val(bytes);
    return Check(mdb_put(txn_, dbs_.tokens, &key, &data, 0), "writing token");
  }

  Status DeleteToken(std::string_view credential_id) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    MDB_val key = Val(credential_id);
    int rc = mdb_del(txn_, dbs_.tokens, &key, nullptr);
    if (rc == MDB_NOTFOUND) {
      return Status::NotFound("unknown credential ID");
    }
    return Check(rc, "deleting token");
  }

  Result<std::vector<std::string>> UserTokens(std::string_view user) override {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, dbs_.users, &cursor);
    if (rc != 0) {
      return LmdbError(rc, "opening cursor");
    }
    std::vector<std::string> ids;
    MDB_val key = Val(user), data;
    rc = mdb_cursor_get(cursor, &key, &data, MDB_SET);
    while (rc == 0) {
      ids.emplace_back(View(data));
      rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_NOTFOUND) {
      return LmdbError(rc, "reading user");
    }
    return ids;
  }

  Status AddUserToken(std::string_view user, std::string_view credential_id) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    MDB_val key = Val(user), data = Val(credential_id);
    int rc = mdb_put(txn_, dbs_.users, &key, &data, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? Status::Ok() : Check(rc, "writing user");
  }

  Status RemoveUserToken(std::string_view user, std::string_view credential_id) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    MDB_val key = Val(user), data = Val(credential_id);
    int rc = mdb_del(txn_, dbs_.users, &key, &data);
    return rc == MDB_NOTFOUND ? Status::Ok() : Check(rc, "writing user");
  }

  Status ForEachToken(const std::function<Status(const TokenRecord&)>& fn) override {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, dbs_.tokens, &cursor);
    if (rc != 0) {
      return LmdbError(rc, "opening cursor");
    }
    MDB_val key, data;
    Status status;
    for (rc = mdb_cursor_get(cursor, &key, &data, MDB_FIRST); rc == 0 && status.ok();
         rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
      auto record = DecodeTokenRecord({static_cast<const uint8_t*>(data.mv_data), data.mv_size});
      if (!record.ok()) {
        status =
            Status::Corrupt("token " + std::string(View(key)) + ": " + record.status().message());
        break;
      }
      auto presence = PresenceOf(*record);
      if (!presence.ok()) {
        status = presence.status();
      } else if (*presence == Presence::kVisible) {
        status = fn(record.value());
      }
    }
    mdb_cursor_close(cursor);
    if (!status.ok()) {
      return status;
    }
    return rc == MDB_NOTFOUND ? Status::Ok() : LmdbError(rc, "listing tokens");
  }

  Result<std::optional<std::vector<uint8_t>>> GetMeta(std::string_view name) override {
    MDB_val key = Val(name), data;
    int rc = mdb_get(txn_, dbs_.meta, &key, &data);
    if (rc == MDB_NOTFOUND) {
      return std::optional<std::vector<uint8_t>>();
    }
    if (rc != 0) {
      return LmdbError(rc, "reading meta");
    }
    auto* p = static_cast<const uint8_t*>(data.mv_data);
    return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(p, p + data.mv_size));
  }

  Status PutMeta(std::string_view name, std::span<const uint8_t> value) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    MDB_val key = Val(name), data = Val(value);
    return Check(mdb_put(txn_, dbs_.meta, &key, &data, 0), "writing meta");
  }

  Result<std::optional<std::pair<uint64_t, std::vector<uint8_t>>>> LastJournalEntry() override {
    std::optional<std::pair<uint64_t, std::vector<uint8_t>>> last;
    OTPGATE_RETURN_IF_ERROR(ScanJournal(0, true, [&](const MDB_val& key, const MDB_val& data) {
      auto* p = static_cast<const uint8_t*>(data.mv_data);
      last.emplace(SequenceOf(key), std::vector<uint8_t>(p, p + data.mv_size));
      return Status::Ok();
    }));
    return last;
  }

  Status AppendJournalEntry(uint64_t sequence, std::span<const uint8_t> entry) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable(/*in_staged_step=*/true));
    auto bytes = SequenceKey(sequence);
    MDB_val key{bytes.size(), bytes.data()}, data = Val(entry);
    int rc = mdb_put(txn_, dbs_.journal, &key, &data, MDB_APPEND);
    if (rc == MDB_KEYEXIST) {
      return Status::AlreadyExists("journal sequence " + std::to_string(sequence) + " is not new");
    }
    return Check(rc, "writing journal");
  }

  Status ForEachJournalEntry(
      uint64_t from, const std::function<Status(uint64_t, std::span<const uint8_t>)>& fn) override {
    return ScanJournal(from, false, [&](const MDB_val& key, const MDB_val& data) {
      return fn(SequenceOf(key), {static_cast<const uint8_t*>(data.mv_data), data.mv_size});
    });
  }

  Status EraseJournalThrough(uint64_t last) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, dbs_.journal, &cursor);
    if (rc != 0) {
      return LmdbError(rc, "opening journal cursor");
    }
    MDB_val key, data;
    // The oldest entry, again and again: no reliance on where a cursor
    // stands after a delete.
    while ((rc = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)) == 0 && SequenceOf(key) <= last) {
      if ((rc = mdb_cursor_del(cursor, 0)) != 0) break;
    }
    mdb_cursor_close(cursor);
    return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : LmdbError(rc, "pruning journal");
  }

  Result<bool> ConsumeChallenge(std::span<const uint8_t> nonce, int64_t expires_at_unix,
                                int64_t now_unix) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    if (nonce.size() != kChallengeNonceBytes) {
      return Status::InvalidArgument("a challenge nonce has 16 bytes");
    }
    OTPGATE_RETURN_IF_ERROR(PruneChallenges(now_unix));
    std::array<uint8_t, 1 + kChallengeNonceBytes> by_nonce{kNonceKey};
    std::copy(nonce.begin(), nonce.end(), by_nonce.begin() + 1);
    auto expiry = ExpiryBytes(expires_at_unix);
    MDB_val key{by_nonce.size(), by_nonce.data()}, data{expiry.size(), expiry.data()};
    int rc = mdb_put(txn_, dbs_.challenges, &key, &data, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) return false;
    OTPGATE_RETURN_IF_ERROR(Check(rc, "writing challenge"));
    std::array<uint8_t, 1 + 8 + kChallengeNonceBytes> by_expiry{kExpiryKey};
    std::copy(expiry.begin(), expiry.end(), by_expiry.begin() + 1);
    std::copy(nonce.begin(), nonce.end(), by_expiry.begin() + 9);
    key = MDB_val{by_expiry.size(), by_expiry.data()};
    data = MDB_val{0, nullptr};
    OTPGATE_RETURN_IF_ERROR(
        Check(mdb_put(txn_, dbs_.challenges, &key, &data, 0), "writing challenge"));
    return true;
  }

 private:
  Status CheckWritable(bool in_staged_step = false) const {
    if (read_only_) return Status::Internal("write in a read-only transaction");
    if (staging_ != 0 && !in_staged_step) {
      return Status::Internal("a staged import may only put tokens and journal entries");
    }
    return Status::Ok();
  }
  // Staged records (lmdb_staged_import.h): visible once their import is
  // published (staged_by then cleared in `record`, so that writing it back
  // stores it as a plain record) or in their own import's steps.
  Result<Presence> PresenceOf(TokenRecord& record) {
    if (record.staged_by == 0 || record.staged_by == staging_) {
      record.staged_by = 0;
      return Presence::kVisible;
    }
    auto known = imports_.find(record.staged_by);
    if (known == imports_.end()) {
      OTPGATE_ASSIGN_OR_RETURN(auto state, GetMeta(StagedImportKey(record.staged_by)));
      Presence presence = Presence::kAbandoned;  // its entry already removed
      if (state.has_value()) {
        OTPGATE_ASSIGN_OR_RETURN(StagedImport import, DecodeStagedImport(*state));
        presence = import.phase == StagedImport::Phase::kPublished ? Presence::kVisible
                   : Abandoned(import, ::time(nullptr))            ? Presence::kAbandoned
                                                                   : Presence::kStaged;
        if (presence == Presence::kAbandoned && import.phase == StagedImport::Phase::kStaging &&
            !read_only_) {
          // Its IDs are about to be free for this writer: mark it, so that
          // if it ran after all its next step or publish fails (never
          // publishing a record this writer replaced).
          import.phase = StagedImport::Phase::kAbandoned;
          OTPGATE_RETURN_IF_ERROR(PutImportEntry(record.staged_by, import));
        }
      }
      known = imports_.emplace(record.staged_by, presence).first;
    }
    if (known->second == Presence::kVisible) record.staged_by = 0;
    return known->second;
  }
  // Walks the journal from `from` (or visits only its last entry).
  Status ScanJournal(uint64_t from, bool last_only,
                     const std::function<Status(const MDB_val&, const MDB_val&)>& fn) {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, dbs_.journal, &cursor);
    if (rc != 0) {
      return LmdbError(rc, "opening journal cursor");
    }
    auto start = SequenceKey(from);
    MDB_val key{start.size(), start.data()}, data;
    Status status;
    rc = mdb_cursor_get(cursor, &key, &data, last_only ? MDB_LAST : MDB_SET_RANGE);
    for (; rc == 0 && status.ok();
         rc = last_only ? MDB_NOTFOUND : mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
      status = fn(key, data);
    }
    mdb_cursor_close(cursor);
    if (!status.ok()) return status;
    return rc == MDB_NOTFOUND ? Status::Ok() : LmdbError(rc, "reading journal");
  }
  // Removes up to kChallengePrunePerCall nonces that expired before `now`,
  // the oldest first (both of each nonce's entries).
  Status PruneChallenges(int64_t now) {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, dbs_.challenges, &cursor);
    if (rc != 0) return LmdbError(rc, "opening challenge cursor");
    for (int removed = 0; removed < kChallengePrunePerCall; ++removed) {
      uint8_t first = kExpiryKey;
      MDB_val key{1, &first}, data;
      rc = mdb_cursor_get(cursor, &key, &data, MDB_SET_RANGE);
      if (rc != 0) break;
      auto* p = static_cast<const uint8_t*>(key.mv_data);
      if (key.mv_size != 1 + 8 + kChallengeNonceBytes || p[0] != kExpiryKey ||
          ExpiryOf(p + 1) >= now) {
        break;
      }
      std::array<uint8_t, 1 + kChallengeNonceBytes> by_nonce{kNonceKey};
      std::copy_n(p + 9, kChallengeNonceBytes, by_nonce.begin() + 1);
      if ((rc = mdb_cursor_del(cursor, 0)) != 0) break;
      MDB_val nonce_key{by_nonce.size(), by_nonce.data()};
      rc = mdb_del(txn_, dbs_.challenges, &nonce_key, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND) break;
      rc = 0;
    }
    mdb_cursor_close(cursor);
    return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : LmdbError(rc, "pruning challenges");
  }
  static Status Check(int rc, std::string_view what) {
    return rc == 0 ? Status::Ok() : LmdbError(rc, what);
  }

  MDB_txn* txn_;
  const Databases& dbs_;
  bool read_only_;
  uint64_t staging_;
  bool wrote_staged_ = false;
  std::map<uint64_t, Presence> imports_;  // staged imports seen, by number
};

class LmdbStore final : public Store, public std::enable_shared_from_this<LmdbStore> {
 public:
  LmdbStore(std::string path, const StoreOptions& options)
      : path_(std::move(path)), options_(options), pid_(::getpid()) {}

  ~LmdbStore() override {
    // After fork() the child must not close the parent's environment: closing
    // its descriptors would drop the POSIX locks of the child's own
    // environment on the same files (LMDB caveat). Leak it instead.
    if (env_ != nullptr && ::getpid() == pid_) {
      for (MDB_txn* txn : read_pool_) mdb_txn_abort(txn);
      mdb_env_close(env_);
    }
  }

  pid_t owner_pid() const { return pid_; }

  Status Init() {
    OTPGATE_RETURN_IF_ERROR(PrepareDirectory());
    int rc = mdb_env_create(&env_);
    if (rc != 0) {
      env_ = nullptr;
      return LmdbError(rc, "creating LMDB environment");
    }
    map_size_ = options_.lmdb.initial_map_bytes;
    mdb_env_set_maxdbs(env_, 8);
    mdb_env_set_maxreaders(env_, kMaxReaders);
    mdb_env_set_mapsize(env_, map_size_);
    // Never MDB_WRITEMAP: the record of checked states (lmdb_verified_state.h)
    // relies on LMDB writing data.mdb only inside mdb_txn_commit.
    unsigned flags = MDB_NOTLS;
    if (!options_.create && !DataFileExists()) {
      return Status::Unavailable("store " + path_ + " is not initialised (run otpgate init)");
    }
    OTPGATE_RETURN_IF_ERROR(PrepareFiles());
    rc = mdb_env_open(env_, path_.c_str(), flags, group_model_ ? 0660 : 0600);
    if (rc != 0) {
      return LmdbError(rc, "opening store " + path_);
    }
    OTPGATE_RETURN_IF_ERROR(CheckFilesAfterOpen());
    // Slots left by processes that died with a read transaction (or simply
    // exited without closing the environment, as PAM applications do).
    ReclaimStaleReaders();
    MDB_envinfo info;
    if (mdb_env_info(env_, &info) == 0) {
      map_size_ = info.me_mapsize;  // another process may have grown it
    }
    verified_ = std::make_unique<VerifiedStates>(path_, group_model_, group_);
    OTPGATE_RETURN_IF_ERROR(CheckDataFile());
    return OpenDatabases();
  }

  Status Read(const std::function<Status(Txn&)>& fn) override {
    if (::getpid() != pid_) {
      return Status::Internal("store handle used after fork(); reopen it");
    }
    return RunRead(fn);
  }

  // The members' users are not needed: a read here is local (ReadsAreLocal).
  Status WriteGroup(std::span<const GroupMember> members, std::span<Status> results) override {
    // The whole group is one write transaction; each function runs in a
    // nested one so that a failing request leaves no trace while the others
    // commit. RunWrite() retries the group after growing the map.
    return RunWrite([&](Txn& outer) -> Status {
      MDB_txn* parent = static_cast<LmdbTxn&>(outer).raw();
      for (size_t i = 0; i < members.size(); ++i) {
        MDB_txn* child = nullptr;
        int rc = mdb_txn_begin(env_, parent, 0, &child);
        if (rc != 0) {
          return LmdbError(rc, "nested transaction");
        }
        LmdbTxn nested(child, dbs_, false);
        results[i] = (*members[i].fn)(nested);
        if (results[i].code() == StatusCode::kStoreFull) {
          mdb_txn_abort(child);
          return results[i];  // grow the map and run the group again
        }
        if (!results[i].ok()) {
          mdb_txn_abort(child);
          continue;
        }
        rc = mdb_txn_commit(child);
        if (rc != 0) {
          return LmdbError(rc, "nested commit");
        }
      }
      return Status::Ok();
    });
  }
  Status Write(const std::function<Status(Txn&)>& fn) override { return RunWrite(fn); }
  bool SharesCommits() const override { return true; }
  bool ReadsAreLocal() const override { return true; }

  // See store.h and lmdb_staged_import.h.
  Status WriteStaged(std::string_view label,
                     const std::function<Status(const StagedStep& step)>& produce,
                     const TxnFn& publish, const AbandonedFn& abandoned) override {
    if (::getpid() != pid_) {
      return Status::Internal("store handle used after fork(); reopen it");
    }
    std::optional<ProcessIdentity> self = ThisProcess();
    if (!self.has_value()) {
      // Nobody could tell later whether this import still runs: no staging.
      return Store::WriteStaged(label, produce, publish, abandoned);
    }
    OTPGATE_RETURN_IF_ERROR(RemoveAbandonedImports(abandoned));
    uint64_t number = 0;
    OTPGATE_RETURN_IF_ERROR(RunWrite([&](Txn& txn) -> Status {
      OTPGATE_ASSIGN_OR_RETURN(auto last, txn.GetMeta(kLastStagedImportMeta));
      number = 1;
      if (last.has_value()) {
        std::optional<uint64_t> previous = DecodeImportNumber(*last);
        if (!previous.has_value()) {
          return Status::Corrupt(std::string(kLastStagedImportMeta) + " in store " + path_ +
                                 " is malformed");
        }
        number += *previous;
      }
      OTPGATE_RETURN_IF_ERROR(txn.PutMeta(kLastStagedImportMeta, EncodeImportNumber(number)));
      StagedImport import;
      import.owner = *self;
      import.renewed_at = ::time(nullptr);
      OTPGATE_RETURN_IF_ERROR(txn.PutMeta(StagedImportKey(number), EncodeStagedImport(import)));
      return txn.PutMeta(StagedImportLabelKey(number),
                         EncodeImportLabel({.label = std::string(label)}));
    }));
    size_t committed = 0;  // steps
    Status status = produce([&](const TxnFn& fn) {
      OTPGATE_RETURN_IF_ERROR(RunWrite(
          [&](Txn& txn) -> Status {
            OTPGATE_RETURN_IF_ERROR(ChangeImport(txn, number, [&](StagedImport& import) {
              ++import.steps;
              import.renewed_at = ::time(nullptr);
              return StillOurs(import, *self, number);
            }));
            OTPGATE_RETURN_IF_ERROR(fn(txn));
            if (!static_cast<LmdbTxn&>(txn).wrote_staged()) return Status::Ok();
            // The store now holds version 2 records: an otpgate that cannot
            // read them must refuse it whole (lmdb_staged_import.h).
            const uint8_t schema[4] = {kStagedSchemaVersion, 0, 0, 0};
            MDB_val key = Val(std::string_view("schema")),
                    data{sizeof schema, const_cast<uint8_t*>(schema)};
            int rc = mdb_put(static_cast<LmdbTxn&>(txn).raw(), dbs_.meta, &key, &data, 0);
            return rc == 0 ? Status::Ok() : LmdbError(rc, "writing the schema");
          },
          number));
      ++committed;
      return Status::Ok();
    });
    if (status.ok()) {
      status = RunWrite([&](Txn& txn) -> Status {
        OTPGATE_RETURN_IF_ERROR(ChangeImport(txn, number, [&](StagedImport& import) {
          OTPGATE_RETURN_IF_ERROR(StillOurs(import, *self, number));
          import.phase = StagedImport::Phase::kPublished;
          return Status::Ok();
        }));
        return publish(txn);
      });
    }
    if (!status.ok()) {
      // Whatever fails here, the import stays invisible: a later WriteStaged
      // finds it abandoned (or its process gone) and removes it. Reported
      // with its failure in the transaction that marks it abandoned (if that
      // fails, a later WriteStaged reports it as gone).
      (void)RemoveImport(number, abandoned, &status);
    }
    return status;
  }

  Status Backup(const std::string& file) override {
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) {
      return errno == EEXIST
                 ? Status::AlreadyExists(file + " already exists")
                 : Status::Unavailable("cannot create " + file + ": " + std::strerror(errno));
    }
    if (::fchmod(fd.get(), 0600) != 0) {  // whatever the umask
      return Status::Unavailable("cannot set the mode of " + file);
    }
    // One read transaction: a consistent snapshot while writers carry on.
    int rc = mdb_env_copyfd2(env_, fd.get(), MDB_CP_COMPACT);
    if (rc != 0) return LmdbError(rc, "copying the store to " + file);
    if (::fsync(fd.get()) != 0) return Status::Unavailable("cannot write " + file);
    return Status::Ok();
  }

 private:
  bool DataFileExists() const {
    struct stat st;
    return ::stat((path_ + "/data.mdb").c_str(), &st) == 0;
  }

  Status PrepareDirectory() {
    if (options_.create && ::mkdir(path_.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::Unavailable("cannot create store directory " + path_ + ": " +
                                 std::strerror(errno));
    }
    UniqueFd dir(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) {
      return Status::Unavailable("store " + path_ + ": " + std::strerror(errno));
    }
    struct stat st;
    if (::fstat(dir.get(), &st) != 0) {
      return Status::Unavailable("store " + path_ + ": " + std::strerror(errno));
    }
    OTPGATE_RETURN_IF_ERROR(CheckAccess(st, path_, "store directory", FileRole::kStoreDirectory));
    group_model_ = InGroupModel(st);
    group_ = st.st_gid;
    return Status::Ok();
  }

  // Checks the store files before LMDB opens them and, in the shared group
  // model, creates missing ones with the group's modes (LMDB would create
  // them owned by this user's group with the umask's modes). Before
  // mdb_env_open we may open and close the files freely; afterwards we must
  // not: closing any descriptor of lock.mdb would drop this process's POSIX
  // lock on it, and the next process to open the store would then believe it
  // is alone and reinitialise the lock table under a running writer (two
  // writers at once). After opening, only LMDB's own descriptor and stat().
  Status PrepareFiles() {
    for (const char* name : {"/data.mdb", "/lock.mdb"}) {
      std::string file = path_ + name;
      int open_flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
      UniqueFd fd(::open(file.c_str(), open_flags));
      if (!fd && errno == ENOENT && group_model_) {
        fd = UniqueFd(::open(file.c_str(), open_flags | O_CREAT | O_EXCL, 0660));
        if (fd && (::fchown(fd.get(), static_cast<uid_t>(-1), group_) != 0 ||
                   ::fchmod(fd.get(), 0660) != 0)) {
          return Status::Unavailable("store file " + file + ": " + std::strerror(errno));
        }
      }
      if (!fd) {
        if (errno == ENOENT) continue;  // created by mdb_env_open with mode 0600
        return Status::Unavailable("store file " + file + ": " + std::strerror(errno));
      }
      OTPGATE_RETURN_IF_ERROR(CheckAccess(fd.get(), file, "store file", FileRole::kStoreFile));
      struct stat st;
      if (!options_.create && name == std::string_view("/data.mdb") &&
          ::fstat(fd.get(), &st) == 0 && st.st_size < 2 * ::sysconf(_SC_PAGESIZE)) {
        // LMDB would take an empty file for a new store and initialise it.
        return Status::Corrupt("store file " + file + " is damaged: it is truncated (" +
                               std::to_string(st.st_size) + " bytes; restore it from a backup)");
      }
    }
    return Status::Ok();
  }

  Status CheckFilesAfterOpen() {
    if (mdb_env_get_fd(env_, &data_fd_) != 0) {
      return Status::Internal("store " + path_ + ": no data file descriptor");
    }
    OTPGATE_RETURN_IF_ERROR(
        CheckAccess(data_fd_, path_ + "/data.mdb", "store file", FileRole::kStoreFile));
    struct stat st;
    std::string lock_file = path_ + "/lock.mdb";
    if (::lstat(lock_file.c_str(), &st) != 0) {
      return Status::Unavailable("store file " + lock_file + ": " + std::strerror(errno));
    }
    return CheckAccess(st, lock_file, "store file", FileRole::kStoreFile);
  }

  void ReclaimStaleReaders() {
    int dead = 0;
    (void)mdb_reader_check(env_, &dead);  // best effort: a failure leaves slots as they were
  }

  // The newest committed transaction id, read from the meta pages.
  uint64_t LastCommitted() const {
    MDB_envinfo info;
    return mdb_env_info(env_, &info) == 0 ? static_cast<uint64_t>(info.me_last_txnid) : 0;
  }

  // Before LMDB touches a page of the data file: a state that a walk or the
  // commits after one vouch for (lmdb_verified_state.h) is believed;
  // anything else is walked.
  Status CheckDataFile() {
    std::optional<FileState> now = StateOf(data_fd_, LastCommitted());
    std::optional<int> chain = now.has_value() ? verified_->ChainLength(*now) : std::nullopt;
    if (chain.has_value()) {
      // Moving the base up keeps later chains short; the base itself needs
      // no write (and no guard).
      if (*chain > 0) verified_->RecordBase(verified_->GuardCommit(), *now);
      return CheckNotShrunk();
    }
    return VerifyDataFile();
  }

  // Walks the data file (lmdb_verify.h), holding a read transaction so that
  // writers leave the snapshot alone, and records the walked state as sound
  // if it was the file's state when the walk began. A page header torn by a
  // concurrent commit could look damaged: a failure is believed only if a
  // second walk agrees.
  Status VerifyDataFile() {
    Status result;
    for (int attempt = 0; attempt < 2; ++attempt) {
      MDB_txn* txn = nullptr;
      std::optional<FileState> walked;
      {
        // No commit is under way while the guard is held, so the fstat
        // shows the snapshot's file and no page of a commit after it - if
        // nothing committed between the snapshot and the fstat.
        VerifiedStates::CommitGuard guard = verified_->GuardCommit();
        int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
        if (rc == MDB_READERS_FULL) {
          ReclaimStaleReaders();
          rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
        }
        if (rc != 0) {
          return LmdbError(rc, "checking store " + path_);
        }
        if (guard.held()) walked = StateOf(data_fd_, mdb_txn_id(txn));
        if (LastCommitted() != mdb_txn_id(txn)) walked.reset();
      }
      const uint64_t snapshot = mdb_txn_id(txn);
      auto facts = VerifyLmdbFile(data_fd_, path_ + "/data.mdb", snapshot);
      mdb_txn_abort(txn);
      if (facts.ok()) {
        if (walked.has_value()) verified_->RecordBase(verified_->GuardCommit(), *walked);
        return CheckNotShrunk();
      }
      result = facts.status();
      if (result.code() != StatusCode::kCorrupt) break;
    }
    return result;
  }

  // LMDB never shrinks its data file. One that is now shorter than this
  // process has seen it was truncated under us: a page past the new end
  // would raise SIGBUS. Cheap (one fstat), so checked before every
  // transaction touches a page. The largest size is read before the fstat:
  // every size another thread recorded by then came from an earlier fstat of
  // a file that only grows, so this fstat cannot be smaller unless the file
  // really shrank. (Read after, a thread whose fstat was overtaken by another
  // thread's fstat and a commit that grew the file saw a false "shrank".)
  Status CheckNotShrunk() {
    uint64_t seen = largest_file_size_.load(std::memory_order_acquire);
    struct stat st;
    if (::fstat(data_fd_, &st) != 0) {
      return Status::Unavailable("store " + path_ + ": " + std::strerror(errno));
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size < seen) {
      return Status::Corrupt("store file " + path_ + "/data.mdb is damaged: it shrank from " +
                             std::to_string(seen) + " to " + std::to_string(size) +
                             " bytes (restore it from a backup)");
    }
    while (size > seen && !largest_file_size_.compare_exchange_weak(
                              seen, size, std::memory_order_acq_rel, std::memory_order_acquire)) {
    }
    return Status::Ok();
  }

  Status OpenDatabases() {
    MDB_txn* txn = nullptr;
    unsigned db_flags = options_.create ? MDB_CREATE : 0;
    int rc = mdb_txn_begin(env_, nullptr, options_.create ? 0 : MDB_RDONLY, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, "tokens", db_flags, &dbs_.tokens);
    if (rc == 0) rc = mdb_dbi_open(txn, "users", db_flags | MDB_DUPSORT, &dbs_.users);
    if (rc == 0) rc = mdb_dbi_open(txn, "meta", db_flags, &dbs_.meta);
    if (rc == 0 && options_.create) {
      MDB_val key = Val(std::string_view("schema")), data;
      if (mdb_get(txn, dbs_.meta, &key, &data) == MDB_NOTFOUND) {
        uint8_t version[4] = {kSchemaVersion, 0, 0, 0};
        data = MDB_val{sizeof(version), version};
        rc = mdb_put(txn, dbs_.meta, &key, &data, 0);
      }
    }
    if (rc != 0) {
      if (txn != nullptr) mdb_txn_abort(txn);
      if (rc == MDB_NOTFOUND) {
        return Status::Unavailable("store " + path_ + " is not initialised (run otpgate init)");
      }
      return LmdbError(rc, "opening databases in " + path_);
    }
    rc = mdb_txn_commit(txn);  // frees txn whatever the result
    if (rc != 0) {
      return LmdbError(rc, "initialising " + path_);
    }
    OTPGATE_RETURN_IF_ERROR(OpenAddedDatabase("journal", dbs_.journal));
    OTPGATE_RETURN_IF_ERROR(OpenAddedDatabase("challenges", dbs_.challenges));
    return CheckSchema();
  }

  // Stores made before a database was added (the journal, the challenges)
  // lack it: the first process that opens such a store adds it, empty.
  Status OpenAddedDatabase(const char* name, MDB_dbi& dbi) {
    const std::string what = std::string("opening the ") + name + " of " + path_;
    for (unsigned create : {0u, static_cast<unsigned>(MDB_CREATE)}) {
      MDB_txn* txn = nullptr;
      int rc = mdb_txn_begin(env_, nullptr, create != 0 ? 0 : MDB_RDONLY, &txn);
      if (rc != 0) return LmdbError(rc, what);
      rc = mdb_dbi_open(txn, name, create, &dbi);
      if (rc == 0) {
        rc = mdb_txn_commit(txn);  // keeps the handle; frees txn whatever the result
        return rc == 0 ? Status::Ok() : LmdbError(rc, what);
      }
      mdb_txn_abort(txn);
      if (rc != MDB_NOTFOUND) return LmdbError(rc, what);
    }
    return Status::Internal(std::string(name) + " of " + path_ + " could not be created");
  }

  Status CheckSchema() {
    return Read([&](Txn& txn) -> Status {
      OTPGATE_ASSIGN_OR_RETURN(auto schema, txn.GetMeta("schema"));
      if (!schema.has_value() || schema->size() != 4) {
        return Status::Corrupt("store " + path_ + " has no schema version");
      }
      uint32_t version = (*schema)[0] | (*schema)[1] << 8 | (*schema)[2] << 16 |
                         static_cast<uint32_t>((*schema)[3]) << 24;
      // kStagedSchemaVersion: the same, and it may hold staged records.
      if (version != kSchemaVersion && version != kStagedSchemaVersion) {
        return Status::Corrupt("store " + path_ + " has schema version " + std::to_string(version) +
                               "; this otpgate reads versions " + std::to_string(kSchemaVersion) +
                               " and " + std::to_string(kStagedSchemaVersion));
      }
      return Status::Ok();
    });
  }

  // Adopts a map size grown by another process (MDB_MAP_RESIZED) or doubles
  // ours (MDB_MAP_FULL). No transaction of this process may be open: the
  // exclusive lock guarantees it (one environment per path per process).
  Status Resize(bool grow) {
    std::unique_lock lock(resize_mutex_);
    size_t target = 0;  // 0: adopt the size in the file
    if (grow) {
      if (map_size_ >= options_.lmdb.max_map_bytes) {
        return Status::StoreFull("store " + path_ + " reached its maximum map size of " +
                                 std::to_string(options_.lmdb.max_map_bytes >> 20) + " MiB");
      }
      target = std::min(map_size_ * 2, options_.lmdb.max_map_bytes);
    }
    int rc = mdb_env_set_mapsize(env_, target);
    if (rc != 0) {
      return LmdbError(rc, "resizing the store map");
    }
    MDB_envinfo info;
    if (mdb_env_info(env_, &info) == 0) {
      map_size_ = info.me_mapsize;
    }
    return Status::Ok();
  }

  // Read transactions are recycled (mdb_txn_reset / mdb_txn_renew): a fresh
  // one takes a reader slot under LMDB's reader mutex, which many threads
  // (radiusd) contend for; a renewed one keeps its slot. A reset transaction
  // is not active, so map resizing stays possible. At most kMaxPooledReaders
  // are kept; beyond that a transaction is aborted, freeing its slot.
  Status RunRead(const std::function<Status(Txn&)>& fn) {
    bool reclaimed = false;
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      int rc;
      {
        std::shared_lock lock(resize_mutex_);
        MDB_txn* txn = nullptr;
        {
          std::lock_guard pool_lock(pool_mutex_);
          if (!read_pool_.empty()) {
            txn = read_pool_.back();
            read_pool_.pop_back();
          }
        }
        rc = txn != nullptr ? mdb_txn_renew(txn) : mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
        if (rc == 0) {
          Status status = CheckNotShrunk();
          if (status.ok()) {
            LmdbTxn wrapper(txn, dbs_, true);
            status = fn(wrapper);
          }
          mdb_txn_reset(txn);
          std::lock_guard pool_lock(pool_mutex_);
          if (read_pool_.size() < kMaxPooledReaders) {
            read_pool_.push_back(txn);
          } else {
            mdb_txn_abort(txn);
          }
          return status;
        }
        if (txn != nullptr) mdb_txn_abort(txn);  // a renew that failed
      }
      if (rc == MDB_READERS_FULL && !reclaimed) {
        // Every slot taken: some may belong to processes that have exited.
        ReclaimStaleReaders();
        reclaimed = true;
        continue;
      }
      if (rc != MDB_MAP_RESIZED) {
        return LmdbError(rc, "read transaction");
      }
      OTPGATE_RETURN_IF_ERROR(Resize(false));
    }
    return Status::Internal("store " + path_ + ": read transaction could not start");
  }

  Status RunWrite(const std::function<Status(Txn&)>& fn, uint64_t staging = 0) {
    if (::getpid() != pid_) {
      return Status::Internal("store handle used after fork(); reopen it");
    }
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      int rc;
      {
        std::shared_lock lock(resize_mutex_);
        MDB_txn* txn = nullptr;
        rc = mdb_txn_begin(env_, nullptr, 0, &txn);
        if (rc == 0) {
          LmdbTxn wrapper(txn, dbs_, false, staging);
          Status status = CheckNotShrunk();
          if (status.ok()) status = fn(wrapper);
          if (!status.ok()) {
            mdb_txn_abort(txn);  // a failed writer must not commit
            if (status.code() != StatusCode::kStoreFull) {
              return status;
            }
            rc = MDB_MAP_FULL;
          } else {
            // Inside the write lock and the guard: the file as the previous
            // commit left it.
            const uint64_t id = mdb_txn_id(txn);
            VerifiedStates::CommitGuard guard = verified_->GuardCommit();
            std::optional<FileState> before = StateOf(data_fd_, id - 1);
            rc = mdb_txn_commit(txn);  // frees txn whatever the result
            if (rc == 0) {
              RecordCommit(guard, before, id);
              return Status::Ok();
            }
          }
        }
      }
      if (rc == MDB_MAP_RESIZED) {
        OTPGATE_RETURN_IF_ERROR(Resize(false));
      } else if (rc == MDB_MAP_FULL) {
        OTPGATE_RETURN_IF_ERROR(Resize(true));
      } else {
        return LmdbError(rc, "write transaction");
      }
    }
    return Status::StoreFull("store " + path_ + ": transaction could not be completed");
  }

  // Reads the entry of import `number`, lets `change` modify it, and writes
  // it back in `txn` (which may be a step).
  Status ChangeImport(Txn& txn, uint64_t number,
                      const std::function<Status(StagedImport&)>& change) {
    const std::string key = StagedImportKey(number);
    OTPGATE_ASSIGN_OR_RETURN(auto state, txn.GetMeta(key));
    if (!state.has_value()) {
      return Status::Unavailable("staged import " + std::to_string(number) + " in store " + path_ +
                                 " was removed by another process");
    }
    auto import = DecodeStagedImport(*state);
    if (!import.ok()) return Status::Corrupt(key + " in store " + path_ + ": malformed");
    OTPGATE_RETURN_IF_ERROR(change(*import));
    return static_cast<LmdbTxn&>(txn).PutImportEntry(number, *import);
  }
  // OK while `import` is staging under this process.
  static Status StillOurs(const StagedImport& import, const ProcessIdentity& self,
                          uint64_t number) {
    if (import.phase != StagedImport::Phase::kStaging || import.owner.pid != self.pid ||
        import.owner.start_ticks != self.start_ticks) {
      return Status::Unavailable("staged import " + std::to_string(number) +
                                 " was abandoned while it ran (another process judged it dead)");
    }
    return Status::Ok();
  }

  // Marks import `number` closed in `txn`. Its label if its end is to be
  // reported now: nullopt if it was closed already, or has no readable
  // label (it was removed, or started by a release that kept none; an
  // unreadable one, say a later release's, must not stop the removal).
  Result<std::optional<std::string>> MarkClosed(Txn& txn, uint64_t number) {
    const std::string key = StagedImportLabelKey(number);
    OTPGATE_ASSIGN_OR_RETURN(auto bytes, txn.GetMeta(key));
    if (!bytes.has_value()) return std::optional<std::string>();
    Result<ImportLabel> read = DecodeImportLabel(*bytes);
    if (!read.ok() || read->closed) return std::optional<std::string>();
    ImportLabel label = std::move(read).value();
    label.closed = true;
    OTPGATE_RETURN_IF_ERROR(txn.PutMeta(key, EncodeImportLabel(label)));
    return std::optional<std::string>(std::move(label.label));
  }

  // Removes the records and entries of every import that was abandoned or
  // whose process is gone; `close` reports the end of each that committed
  // a step and was not closed (its process died), as RemoveImport says.
  Status RemoveAbandonedImports(const AbandonedFn& close) {
    std::vector<uint64_t> abandoned;
    OTPGATE_RETURN_IF_ERROR(RunRead([&](Txn& txn) -> Status {
      abandoned.clear();
      MDB_cursor* cursor = nullptr;
      int rc = mdb_cursor_open(static_cast<LmdbTxn&>(txn).raw(), dbs_.meta, &cursor);
      if (rc != 0) return LmdbError(rc, "opening meta cursor");
      MDB_val key = Val(kStagedImportPrefix), data;
      Status status;
      for (rc = mdb_cursor_get(cursor, &key, &data, MDB_SET_RANGE); rc == 0;
           rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
        std::optional<uint64_t> number = StagedImportNumber(View(key));
        if (!number.has_value()) break;
        auto import = DecodeStagedImport({static_cast<const uint8_t*>(data.mv_data), data.mv_size});
        if (!import.ok()) {
          status = Status::Corrupt(std::string(View(key)) + " in store " + path_ + ": malformed");
          break;
        }
        if (Abandoned(*import, ::time(nullptr))) abandoned.push_back(*number);
      }
      mdb_cursor_close(cursor);
      if (!status.ok()) return status;
      return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : LmdbError(rc, "reading meta");
    }));
    for (uint64_t number : abandoned) OTPGATE_RETURN_IF_ERROR(RemoveImport(number, close, nullptr));
    return Status::Ok();
  }

  // Removes import `number` if it is abandoned (`own_failure` set: this
  // process's own import, failed so), decided in a write transaction that
  // marks its entry abandoned, unless it was published or its process runs
  // after all (so its own steps and publish fail from then on). In that
  // transaction, `close` reports the end of an import that committed a
  // step and was not closed: with `own_failure`, or as gone (its process
  // died, or its lease ran out, before it could say). `close` may run more
  // than once (RunWrite re-runs a transaction after growing the map). Then
  // deletes its records, a bounded number per write transaction, and its
  // entry and label.
  Status RemoveImport(uint64_t number, const AbandonedFn& close, const Status* own_failure) {
    const bool ours = own_failure != nullptr;
    const std::string entry_key = StagedImportKey(number);
    bool removable = false, any_step = false;
    OTPGATE_RETURN_IF_ERROR(RunWrite([&](Txn& txn) -> Status {
      removable = any_step = false;
      OTPGATE_ASSIGN_OR_RETURN(auto state, txn.GetMeta(entry_key));
      if (!state.has_value()) return Status::Ok();
      OTPGATE_RETURN_IF_ERROR(ChangeImport(txn, number, [&](StagedImport& import) {
        removable = import.phase == StagedImport::Phase::kAbandoned ||
                    (import.phase == StagedImport::Phase::kStaging &&
                     (ours || Abandoned(import, ::time(nullptr))));
        if (removable) import.phase = StagedImport::Phase::kAbandoned;
        any_step = import.steps > 0;
        return Status::Ok();
      }));
      if (!removable || !any_step) return Status::Ok();
      OTPGATE_ASSIGN_OR_RETURN(auto unreported, MarkClosed(txn, number));
      if (!unreported.has_value()) return Status::Ok();
      return close(txn, *unreported,
                   ours ? *own_failure
                        : Status::Unavailable("staged import " + std::to_string(number) +
                                              ": its process is gone, or its lease ran out"));
    }));
    if (!removable) return Status::Ok();
    constexpr size_t kScannedPerTxn = 100000, kDeletedPerTxn = 10000;
    std::string resume;  // the first key not yet scanned
    bool done = !any_step;
    while (!done) {
      std::string next;  // set by a commit-bound run only: RunWrite may re-run it
      OTPGATE_RETURN_IF_ERROR(RunWrite([&](Txn& txn) -> Status {
        MDB_txn* raw = static_cast<LmdbTxn&>(txn).raw();
        MDB_cursor* cursor = nullptr;
        int rc = mdb_cursor_open(raw, dbs_.tokens, &cursor);
        if (rc != 0) return LmdbError(rc, "opening cursor");
        std::vector<std::string> doomed;
        MDB_val key = Val(resume), data;
        size_t scanned = 0;
        rc = mdb_cursor_get(cursor, &key, &data, resume.empty() ? MDB_FIRST : MDB_SET_RANGE);
        for (; rc == 0 && scanned < kScannedPerTxn && doomed.size() < kDeletedPerTxn;
             rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT), ++scanned) {
          auto record =
              DecodeTokenRecord({static_cast<const uint8_t*>(data.mv_data), data.mv_size});
          if (record.ok() && record->staged_by == number) doomed.emplace_back(View(key));
        }
        next = rc == 0 ? std::string(View(key)) : std::string();
        mdb_cursor_close(cursor);
        if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "listing tokens");
        for (const std::string& id : doomed) {
          MDB_val doomed_key = Val(id);
          rc = mdb_del(raw, dbs_.tokens, &doomed_key, nullptr);
          if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "removing a staged token");
        }
        return Status::Ok();
      }));
      done = next.empty();
      resume = std::move(next);
    }
    return RunWrite([&](Txn& txn) -> Status {
      for (const std::string& key : {entry_key, StagedImportLabelKey(number)}) {
        MDB_val entry = Val(key);
        int rc = mdb_del(static_cast<LmdbTxn&>(txn).raw(), dbs_.meta, &entry, nullptr);
        if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "removing an import");
      }
      return Status::Ok();
    });
  }

  // Records that this commit alone turned `before` into the file's state
  // now: the fstat comes first, so a later commit shows in the id checked
  // after it. A commit that wrote nothing keeps the id and the state.
  void RecordCommit(const VerifiedStates::CommitGuard& guard,
                    const std::optional<FileState>& before, uint64_t id) {
    if (!before.has_value() || !guard.held()) return;
    std::optional<FileState> after = StateOf(data_fd_, id);
    if (after.has_value() && LastCommitted() == id) {
      verified_->RecordCommit(guard, *before, *after);
    }
  }

  const std::string path_;
  const StoreOptions options_;
  const pid_t pid_;
  MDB_env* env_ = nullptr;
  int data_fd_ = -1;  // LMDB's own descriptor of data.mdb; never closed here
  bool group_model_ = false;
  gid_t group_ = 0;
  std::atomic<uint64_t> largest_file_size_{0};
  std::unique_ptr<VerifiedStates> verified_;
  Databases dbs_;
  mutable std::shared_mutex resize_mutex_;
  std::mutex pool_mutex_;
  std::vector<MDB_txn*> read_pool_;  // reset read transactions
  size_t map_size_ = 0;
};

struct Registry {
  std::mutex mutex;
  std::map<std::string, std::weak_ptr<LmdbStore>> stores;
};

Registry& GlobalRegistry() {
  static Registry* registry = new Registry();  // never destroyed: used from atexit paths
  return *registry;
}

}  // namespace

Result<std::shared_ptr<Store>> OpenLmdbStore(const StoreOptions& options) {
  if (options.location.empty()) {
    return Status::InvalidArgument("store path is empty");
  }
  OTPGATE_RETURN_IF_ERROR(CheckPathIsSafe(options.location, "store directory"));
  if (options.create) {
    ::mkdir(options.location.c_str(), 0700);
  }
  char resolved[PATH_MAX];
  std::string key =
      ::realpath(options.location.c_str(), resolved) != nullptr ? resolved : options.location;
  Registry& registry = GlobalRegistry();
  std::lock_guard lock(registry.mutex);
  auto it = registry.stores.find(key);
  if (it != registry.stores.end()) {
    std::shared_ptr<LmdbStore> existing = it->second.lock();
    // One environment per path per process, whatever state it is in: a
    // second one on the same files would share this process's POSIX locks
    // and drop them when closed. A handle inherited over fork() belongs to
    // the parent (the pid checks keep it unused).
    if (existing && existing->owner_pid() == ::getpid()) {
      return std::shared_ptr<Store>(existing);
    }
  }
  auto store = std::make_shared<LmdbStore>(key, options);
  OTPGATE_RETURN_IF_ERROR(store->Init());
  registry.stores[key] = store;
  return std::shared_ptr<Store>(store);
}

}  // namespace otpgate
