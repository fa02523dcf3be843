// The PostgreSQL implementation of Store (store.h, pg_store.h).
//
// Every wait is bounded by a deadline computed when a Read/Write starts:
// connections are made with PQconnectStartParams/PQconnectPoll and
// statements sent in libpq's pipeline mode (PQsendPrepare,
// PQsendQueryPrepared, PQpipelineSync; PQsendQuery for scripts), each
// round trip followed by poll() on the socket until the deadline (libpq's
// own connect_timeout cannot go below 2 s). A connection that failed or
// timed out is closed and never reused.
//
// Each pooled session prepares a statement the first time it runs it and
// then only binds and executes it: parsing and planning every statement
// again cost the server as much as executing it (measured with
// log_min_duration_statement: parse + bind 0.075 ms, execute 0.035 ms per
// statement). A statement's name is derived from its text, so a name means
// the same SQL in every process. The session's settings (timeouts) and
// statements must stay with it: a pooler in front of PostgreSQL must pool
// sessions (PgBouncer: pool_mode = session with its default
// server_reset_query, DISCARD ALL), not transactions.
#include "pg_store.h"

#include <openssl/evp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "libpq_loader.h"

namespace otpgate {
namespace {

// libpq's functions (libpq_loader.h). OpenPostgresStore loads them before
// anything here runs.
const libpq::Functions& Pq() {
  static const libpq::Functions* functions = libpq::Load().value();
  return *functions;
}

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

struct ConnCloser {
  void operator()(PGconn* conn) const { Pq().PQfinish(conn); }
};
using PgConn = std::unique_ptr<PGconn, ConnCloser>;
struct ResultClearer {
  void operator()(PGresult* result) const { Pq().PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, ResultClearer>;

// SQLSTATEs after which the transaction may simply be run again.
bool IsRetryable(std::string_view sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";  // serialization failure, deadlock
}

int MillisecondsLeft(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until the connection's socket is ready for `events`; false on timeout.
bool WaitSocket(PGconn* conn, short events, Deadline deadline) {
  for (;;) {
    int left = MillisecondsLeft(deadline);
    if (left == 0) return false;
    pollfd fd{Pq().PQsocket(conn), events, 0};
    int rc = ::poll(&fd, 1, left);
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string FirstLine(const char* message) {
  std::string text = message != nullptr ? message : "";
  size_t end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

// The outcome of one statement: rows, or the error and whether the session
// is still usable.
struct Outcome {
  PgResult result;
  Status status;
  std::string sqlstate;
  bool connection_lost = false;
};

// The status of a statement that failed on the server (`result` holds the
// error), and its SQLSTATE in `out`.
void SetServerError(Outcome& out, PGresult* result) {
  const char* state = Pq().PQresultErrorField(result, PG_DIAG_SQLSTATE);
  out.sqlstate = state != nullptr ? state : "";
  std::string message = FirstLine(Pq().PQresultErrorMessage(result));
  if (out.sqlstate == "42P01") {
    out.status =
        Status::Unavailable("PostgreSQL store is not initialised (run otpgate init): " + message);
  } else if (out.sqlstate.starts_with("08") || out.sqlstate.starts_with("57") ||
             out.sqlstate == "55P03" || IsRetryable(out.sqlstate) ||
             out.sqlstate.starts_with("53")) {
    // connection, shutdown/cancel/timeout, lock timeout, resources
    out.status = Status::Unavailable("PostgreSQL store: " + message);
  } else {
    out.status = Status::Internal("PostgreSQL store: " + message);
  }
}

// A statement and its parameters (binary), for Session::Pipeline.
struct Statement {
  const char* sql;
  std::vector<std::string_view> params;
};

// One pooled connection: a PGconn whose session is set up (timeouts), and
// the statements prepared in it.
class Session {
 public:
  explicit Session(PgConn conn) : conn_(std::move(conn)) {}
  PGconn* get() const { return conn_.get(); }
  // Gives the connection up without closing it (a forked child must leave
  // its parent's sessions alone).
  void Abandon() { (void)conn_.release(); }

  // Sends `statements` in one pipeline (libpq's pipeline mode: one round
  // trip for all of them) and reads every answer. Parameters and results are
  // binary. A statement is prepared in this session, within the same
  // pipeline, the first time it runs (the statements are a fixed set; past
  // kMaxPrepared, further ones run unprepared). outcomes[i] is statement
  // i's: its rows, or its error; once one fails, the server skips the rest
  // up to the pipeline's end (their outcomes say so). If the connection
  // fails or the deadline passes, every answer not yet read reports that
  // (connection_lost: the session must not be reused).
  std::vector<Outcome> Pipeline(std::span<const Statement> statements, Deadline deadline) {
    std::vector<Outcome> outcomes(statements.size());
    if (statements.empty()) return outcomes;
    if (Clock::now() >= deadline) {  // nothing goes out after the bound (a COMMIT least of all)
      return LostFrom(std::move(outcomes), 0, "no time left before the store's bound");
    }
    // What was sent, in order: each statement's execution, preceded by its
    // preparation when it had none yet.
    struct Command {
      size_t statement;
      std::string prepared_name;  // set for a preparation
    };
    std::vector<Command> commands;
    std::unordered_map<std::string_view, std::string> preparing;  // in this pipeline
    if (Pq().PQenterPipelineMode(conn_.get()) != 1) {
      return LostFrom(std::move(outcomes), 0, "entering pipeline mode");
    }
    for (size_t i = 0; i < statements.size(); ++i) {
      const Statement& statement = statements[i];
      std::vector<const char*> values;
      std::vector<int> lengths, formats;
      for (std::string_view p : statement.params) {
        values.push_back(p.data());
        lengths.push_back(static_cast<int>(p.size()));
        formats.push_back(1);
      }
      const int count = static_cast<int>(values.size());
      const std::string* name = nullptr;
      if (auto it = prepared_.find(statement.sql); it != prepared_.end()) {
        name = &it->second;
      } else if (auto in = preparing.find(statement.sql); in != preparing.end()) {
        name = &in->second;
      } else if (prepared_.size() + preparing.size() < kMaxPrepared) {
        std::string new_name = StatementName(statement.sql);
        if (new_name.empty()) return LostFrom(std::move(outcomes), 0, "naming a statement");
        if (Pq().PQsendPrepare(conn_.get(), new_name.c_str(), statement.sql, count, nullptr) != 1) {
          return LostFrom(std::move(outcomes), 0, "sending a query");
        }
        commands.push_back({i, new_name});
        name = &preparing.emplace(statement.sql, std::move(new_name)).first->second;
      }
      int sent = name != nullptr
                     ? Pq().PQsendQueryPrepared(conn_.get(), name->c_str(), count, values.data(),
                                                lengths.data(), formats.data(), 1)
                     : Pq().PQsendQueryParams(conn_.get(), statement.sql, count, nullptr,
                                              values.data(), lengths.data(), formats.data(), 1);
      if (sent != 1) return LostFrom(std::move(outcomes), 0, "sending a query");
      commands.push_back({i, {}});
    }
    if (Pq().PQpipelineSync(conn_.get()) != 1) {
      return LostFrom(std::move(outcomes), 0, "sending a query");
    }
    for (const Command& command : commands) {
      Outcome& out = outcomes[command.statement];
      PgResult result;
      if (!NextResult(result, deadline) || result == nullptr) {
        return LostFrom(std::move(outcomes), command.statement, "reading an answer");
      }
      ExecStatusType status = Pq().PQresultStatus(result.get());
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        if (!command.prepared_name.empty()) {
          prepared_.emplace(statements[command.statement].sql, command.prepared_name);
        } else {
          out.result = std::move(result);
        }
      } else if (out.status.ok()) {
        if (status == PGRES_PIPELINE_ABORTED) {
          out.status = Status::Internal("PostgreSQL store: skipped after an earlier failure");
        } else {
          SetServerError(out, result.get());
        }
      }
      PgResult end;  // each command's answers end with a null result
      if (!NextResult(end, deadline) || end != nullptr) {
        return LostFrom(std::move(outcomes), command.statement, "reading an answer");
      }
    }
    PgResult sync;
    if (!NextResult(sync, deadline) || sync == nullptr ||
        Pq().PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC ||
        Pq().PQexitPipelineMode(conn_.get()) != 1) {
      return LostFrom(std::move(outcomes), statements.size(), "ending a pipeline");
    }
    return outcomes;
  }

  // Runs a script of statements without parameters (DDL, SET), outside
  // pipeline mode (which takes one statement per query).
  Outcome ExecScript(const char* sql, Deadline deadline) {
    Outcome out;
    if (Pq().PQsendQuery(conn_.get(), sql) != 1) {
      return Lost(std::move(out), "sending a query");
    }
    return Collect(std::move(out), deadline);
  }

 private:
  Outcome Lost(Outcome out, std::string_view what) {
    out.connection_lost = true;
    out.status = Status::Unavailable("PostgreSQL store: " + std::string(what) + ": " +
                                     FirstLine(Pq().PQerrorMessage(conn_.get())));
    return out;
  }
  // Marks the connection lost in every outcome from `first` on (keeping an
  // error already read), and flags the ones before it, whose answers were
  // read but whose pipeline did not end.
  std::vector<Outcome> LostFrom(std::vector<Outcome> outcomes, size_t first,
                                std::string_view what) {
    for (size_t i = 0; i < outcomes.size(); ++i) {
      if (i >= first) {
        Outcome lost = Lost(Outcome{}, what);
        if (!outcomes[i].status.ok()) lost.status = outcomes[i].status;
        outcomes[i] = std::move(lost);
      } else {
        outcomes[i].connection_lost = true;
      }
    }
    return outcomes;
  }

  // The next result of the connection, waiting for it within the deadline;
  // false on timeout or a broken connection.
  bool NextResult(PgResult& result, Deadline deadline) {
    while (Pq().PQisBusy(conn_.get()) != 0) {
      if (!WaitSocket(conn_.get(), POLLIN, deadline)) return false;  // a reply may still come
      if (Pq().PQconsumeInput(conn_.get()) != 1) return false;
    }
    result.reset(Pq().PQgetResult(conn_.get()));
    return Pq().PQstatus(conn_.get()) == CONNECTION_OK;
  }

  // Reads every result of the script sent; keeps the first error or the
  // last result.
  Outcome Collect(Outcome out, Deadline deadline) {
    for (;;) {
      PgResult result;
      if (!NextResult(result, deadline)) {
        out.connection_lost = true;  // never reuse: a reply may still come
        if (out.status.ok()) {
          out.status = Status::Unavailable(
              "PostgreSQL store: no answer in time, or the connection failed: " +
              FirstLine(Pq().PQerrorMessage(conn_.get())));
        }
        return out;
      }
      if (result == nullptr) break;
      ExecStatusType status = Pq().PQresultStatus(result.get());
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        if (out.status.ok()) out.result = std::move(result);
        continue;
      }
      if (out.status.ok()) SetServerError(out, result.get());
    }
    return out;
  }

  // "otpgate_" and 16 hex digits of SHA-256 over the SQL text: the same
  // name for the same statement in every process, so that a session a
  // pooler wrongly shared could never run one statement under another's
  // name. Empty if hashing fails.
  static std::string StatementName(const char* sql) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(sql, std::strlen(sql), digest, &length, EVP_sha256(), nullptr) != 1) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string name = "otpgate_";
    for (int i = 0; i < 8; ++i) {
      name += kHex[digest[i] >> 4];
      name += kHex[digest[i] & 15];
    }
    return name;
  }

  static constexpr size_t kMaxPrepared = 64;
  PgConn conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

// Makes a connection within the deadline and sets its session up.
// `search_path`: empty, or the SET that pins the session to the store's
// schema (see Pool::PinSchema).
Result<std::unique_ptr<Session>> Connect(const std::string& location,
                                         const PostgresOptions& options,
                                         const std::string& search_path, Deadline deadline) {
  std::string user_timeout = std::to_string(options.timeout_ms);
  // Our defaults first: the location (expanded from "dbname") overrides them.
  const char* keys[] = {
      "fallback_application_name", "keepalives",       "keepalives_idle", "keepalives_interval",
      "keepalives_count",          "tcp_user_timeout", "dbname",          nullptr};
  const char* values[] = {"otpgate",        "1",    "5", "1", "3", user_timeout.c_str(),
                          location.c_str(), nullptr};
  PgConn conn(Pq().PQconnectStartParams(keys, values, 1));
  if (conn == nullptr) {
    return Status::Unavailable("PostgreSQL store: out of memory");
  }
  // Server notices ("relation already exists, skipping") must not reach the
  // host process's stderr (sshd, radiusd, an application under PAM).
  Pq().PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  PostgresPollingStatusType poll_status = PGRES_POLLING_WRITING;
  while (Pq().PQstatus(conn.get()) != CONNECTION_BAD) {
    if (poll_status == PGRES_POLLING_OK) break;
    if (poll_status == PGRES_POLLING_FAILED) break;
    short events = poll_status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    if (!WaitSocket(conn.get(), events, deadline)) {
      return Status::Unavailable("PostgreSQL store: no connection within " +
                                 std::to_string(options.timeout_ms) + " ms");
    }
    poll_status = Pq().PQconnectPoll(conn.get());
  }
  if (Pq().PQstatus(conn.get()) != CONNECTION_OK) {
    return Status::Unavailable("PostgreSQL store: cannot connect: " +
                               FirstLine(Pq().PQerrorMessage(conn.get())));
  }
  // Server-side bounds as well, so that a session whose client went away
  // does not hold locks: the client's own deadline is the one that counts.
  std::string ms = std::to_string(options.timeout_ms);
  std::string setup =
      "SET statement_timeout = " + ms + "; SET lock_timeout = " + ms +
      "; SET idle_in_transaction_session_timeout = " + std::to_string(options.timeout_ms * 4) +
      "; SET client_connection_check_interval = 1000"
      "; SET default_transaction_isolation = 'read committed'";
  if (!search_path.empty()) setup += "; " + search_path;
  auto session = std::make_unique<Session>(std::move(conn));
  Outcome out = session->ExecScript(setup.c_str(), deadline);
  if (!out.status.ok()) return out.status;
  return session;
}

// A bounded set of connections for the threads of one process.
class Pool {
 public:
  Pool(std::string location, PostgresOptions options)
      : location_(std::move(location)), options_(options), pid_(::getpid()) {}
  ~Pool() {
    if (::getpid() != pid_) {
      for (auto& session : idle_) session->Abandon();  // the parent's: leave them be
    }
  }

  Result<std::unique_ptr<Session>> Acquire(Deadline deadline) {
    std::unique_lock lock(mutex_);
    if (::getpid() != pid_) {
      // After fork(): the inherited connections are the parent's.
      for (auto& session : idle_) session->Abandon();
      idle_.clear();
      open_ = 0;
      pid_ = ::getpid();
    }
    while (idle_.empty() && open_ >= options_.pool_size) {
      if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= options_.pool_size) {
        return Status::Unavailable("PostgreSQL store: all " + std::to_string(options_.pool_size) +
                                   " connections busy");
      }
    }
    if (!idle_.empty()) {
      std::unique_ptr<Session> session = std::move(idle_.back());
      idle_.pop_back();
      return session;
    }
    ++open_;
    lock.unlock();
    std::string search_path;
    {
      std::lock_guard pinned(mutex_);
      search_path = search_path_;
    }
    auto session = Connect(location_, options_, search_path, deadline);
    if (!session.ok()) {
      Forget();
      return session.status();
    }
    return session;
  }

  // Takes a session back: kept if it is idle and healthy, else closed.
  void Return(std::unique_ptr<Session> session, bool healthy) {
    if (!healthy || Pq().PQstatus(session->get()) != CONNECTION_OK ||
        Pq().PQtransactionStatus(session->get()) != PQTRANS_IDLE ||
        Pq().PQpipelineStatus(session->get()) != PQ_PIPELINE_OFF) {
      session.reset();
      Forget();
      return;
    }
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(session));
    freed_.notify_one();
  }

  const PostgresOptions& options() const { return options_; }

  // Sessions made from now on start with `set` (a SET search_path): every
  // unqualified table name then means the store's own table, whatever the
  // role's search_path would find first.
  void PinSchema(std::string set) {
    std::lock_guard lock(mutex_);
    search_path_ = std::move(set);
  }

 private:
  void Forget() {
    std::lock_guard lock(mutex_);
    --open_;
    freed_.notify_one();
  }

  const std::string location_;
  const PostgresOptions options_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Session>> idle_;
  std::string search_path_;  // see PinSchema
  int open_ = 0;             // connections made and not closed: idle or in use
  pid_t pid_;
};

// ConsumeChallenge: each call adds at most one row and removes up to this
// many expired ones, so expired rows cannot pile up while a call stays cheap.
constexpr int kChallengePrunePerCall = 4;
constexpr size_t kChallengeNonceBytes = 16;

// The highest journal sequence PostgreSQL's int8 holds.
constexpr uint64_t kMaxSequence = std::numeric_limits<int64_t>::max();

std::string_view Bytes(std::span<const uint8_t> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}
std::string_view Cell(PGresult* result, int row, int column) {
  return {Pq().PQgetvalue(result, row, column),
          static_cast<size_t>(Pq().PQgetlength(result, row, column))};
}

// The key of one of the store's advisory locks (the write lock, the schema lock): the first 8 bytes
// of SHA-256 over the store's schema, a tag and the name, the same on every host. Advisory locks
// are per database: the schema keeps two stores in one database apart. A collision only makes two
// requests wait for each other. Empty if hashing fails: the caller fails, since a key other
// processes do not use would exclude no one.
std::string LockKey(std::string_view schema, char tag, std::string_view name) {
  std::string input = std::string(schema) + '\0' + tag + std::string(name);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return std::string(reinterpret_cast<char*>(digest), 8);  // int8, big-endian
}

// `name` as an SQL identifier: in double quotes, each double quote doubled
// (PostgreSQL names hold no NUL).
std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

constexpr const char* kLastJournalEntrySql =
    "SELECT sequence, entry FROM otpgate_journal ORDER BY sequence DESC LIMIT 1";
constexpr const char* kLockSql = "SELECT pg_advisory_xact_lock($1)";
constexpr const char* kSavepointSql = "SAVEPOINT otpgate_member";
constexpr const char* kReleaseSql = "RELEASE SAVEPOINT otpgate_member";
// A token record's write ($1 credential ID, $2 record).
constexpr const char* kPutTokenSql =
    "INSERT INTO otpgate_tokens (credential_id, record) VALUES ($1, $2) "
    "ON CONFLICT (credential_id) DO UPDATE SET record = EXCLUDED.record";
// A journal entry's append ($1 sequence, $2 entry). It is queued, so it
// must fail rather than insert nothing: a sequence not above the last
// becomes NULL, which the primary key refuses (class 23, reported as
// kAlreadyExists). max() reads the last index entry whatever the plan; "NOT
// EXISTS (... sequence >= $1)" became a sequential scan of the whole
// journal once the prepared statement's generic plan took over.
constexpr const char* kAppendJournalSql =
    "INSERT INTO otpgate_journal (sequence, entry) SELECT CASE WHEN "
    "COALESCE((SELECT max(sequence) FROM otpgate_journal), 0) < $1::int8 THEN $1::int8 END, "
    "$2::bytea";
// Several of each in one statement (PgTxn::MergeWrites): $1 the credential
// IDs, $2 their records; $1 the first sequence, $2 every sequence (strictly
// ascending), $3 their entries. The uncorrelated max() runs once, before
// any row is inserted: each sequence is above the journal's last if the
// first is, and the primary key refuses a repeated one.
constexpr const char* kPutTokensSql =
    "INSERT INTO otpgate_tokens (credential_id, record) "
    "SELECT * FROM unnest($1::bytea[], $2::bytea[]) "
    "ON CONFLICT (credential_id) DO UPDATE SET record = EXCLUDED.record";
constexpr const char* kAppendJournalEntriesSql =
    "INSERT INTO otpgate_journal (sequence, entry) SELECT CASE WHEN "
    "COALESCE((SELECT max(sequence) FROM otpgate_journal), 0) < $1::int8 THEN s END, e "
    "FROM unnest($2::int8[], $3::bytea[]) AS j(s, e)";

// Statements of a transaction travel in pipelines (Session::Pipeline): a
// statement whose only answer is success or failure (an INSERT, UPDATE,
// DELETE, SAVEPOINT, or BEGIN and the write lock) is queued, and sent with
// the next statement whose rows are needed, or with COMMIT, in the same
// round trip. Every write transaction holds the pool-wide write lock, so
// the round trips inside it bound how many decisions the pool makes per
// second: a decision that read, wrote and committed in six round trips now
// takes two (its read of the user's tokens, with BEGIN, the lock and the
// journal's last entry; then its writes, with COMMIT), and so does a whole
// group (PostgresStore::WriteGroup). A queued statement's failure becomes the
// transaction's when it is sent: the transaction then never commits, since
// the server skips everything after a failure up to the pipeline's end,
// COMMIT included.

class PgTxn final : public Txn {
 public:
  PgTxn(Session& session, bool read_only, Deadline deadline)
      : session_(session), read_only_(read_only), deadline_(deadline) {}

  // The first failure of a statement: the transaction must not commit.
  const Status& failure() const { return failure_; }
  bool retryable() const { return retryable_; }
  bool connection_lost() const { return connection_lost_; }
  // COMMIT was sent: if its answer was lost, the transaction may have
  // committed, so it must not be run again.
  bool commit_sent() const { return commit_sent_; }
  // The server refused a queued write (a constraint, a timeout): the
  // failure is that write's, not the connection's or COMMIT's own.
  bool write_refused() const { return write_refused_; }

  // Queues the transaction's start, sent with its first statement. A read:
  // REPEATABLE READ, READ ONLY (one snapshot). A write: READ COMMITTED
  // whatever the server's or role's default (each statement must see the
  // commit of the lock's previous holder), then the store's write lock
  // (`lock_key`, see LockJournalIfWriting), and with `read_journal_tail` a
  // read of the journal's last entry under that lock, which nearly every
  // decision needs (LastJournalEntry) and which then costs no round trip of
  // its own.
  void Begin(std::string_view lock_key, bool read_journal_tail) {
    if (read_only_) {
      Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", {}, Status::Ok(), kStart);
      return;
    }
    Queue("BEGIN ISOLATION LEVEL READ COMMITTED", {}, Status::Ok(), kStart);
    Queue(kLockSql, {lock_key}, Status::Ok(), kStart);
    write_locked_ = true;
    if (read_journal_tail) Queue(kLastJournalEntrySql, {}, Status::Ok(), kJournalTail);
  }

  // A read of one statement, without BEGIN and COMMIT: the statement is
  // its own transaction and snapshot, and its round trip the read's only
  // one. A second statement is refused (kInternal): it would see another
  // snapshot.
  void BeginOneStatementRead() { one_statement_ = true; }

  // Ends the transaction: what is queued and COMMIT, in one round trip (none
  // if no statement ran). A COMMIT of an aborted transaction "succeeds" as a
  // ROLLBACK: that is a failure here.
  Status Commit() {
    if (!failure_.ok()) return failure_;
    if (one_statement_) {  // committed as it ran; nothing may be left unsent
      return queue_.empty() ? Status::Ok()
                            : Status::Internal(
                                  "PostgreSQL store: a statement left unsent in a "
                                  "one-statement read");
    }
    if (sent_ == 0 && OnlyStartQueued()) return Status::Ok();  // nothing to commit
    commit_sent_ = true;
    Outcome out = Send("COMMIT", {});
    OTPGATE_RETURN_IF_ERROR(out.status);
    if (std::strcmp(Pq().PQcmdStatus(out.result.get()), "COMMIT") != 0) {
      return Status::Unavailable("PostgreSQL store: the transaction was rolled back");
    }
    return Status::Ok();
  }

  // Ends the transaction without its changes: forgets what is queued, and
  // rolls back what reached the server.
  void Rollback() {
    queue_.clear();
    queued_ = sent_;
    if (sent_ > 0 && !connection_lost_ && !one_statement_) (void)Send("ROLLBACK", {});
  }

  // Queues SAVEPOINT for one member of a group (WriteGroup); returns where
  // it stands in the transaction's statements, for RollbackTo.
  Result<uint64_t> Savepoint() {
    OTPGATE_RETURN_IF_ERROR(Defer(kSavepointSql, {}));
    return queued_ - 1;
  }
  // Ends a member that succeeded (its failure would be rolled back to
  // `savepoint` instead): RELEASE, queued with its writes, if its SAVEPOINT
  // reached the server. If it did not, nothing of the member did: the
  // SAVEPOINT is taken out of the queue unsent (two statements fewer per
  // member of a group), since a refusal of the member's writes can only be
  // found after the member ended, where it fails the whole group anyway
  // (WriteGroup) and no savepoint of it is rolled back to.
  Status ReleaseSavepoint(uint64_t savepoint) {
    if (savepoint < sent_) return Defer(kReleaseSql, {});
    const size_t at = savepoint - sent_;
    if (at >= queue_.size() || queue_[at].sql != kSavepointSql) {
      return Status::Internal("PostgreSQL store: a member's savepoint is not where it was queued");
    }
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(at));
    --queued_;
    return Status::Ok();
  }
  // The failure came from `savepoint` or a statement before it: it cannot
  // be undone to it (the whole transaction fails).
  bool FailedBefore(uint64_t savepoint) const {
    return !failure_.ok() && failed_at_ <= savepoint;  // the SAVEPOINT itself included
  }
  // Undoes everything since `savepoint` (Savepoint's result; the failure
  // must not predate it): forgets what is still queued after it, rolls back
  // to it on the server if it was sent, and clears the failure.
  Status RollbackTo(uint64_t savepoint) {
    ClearFailure();
    if (savepoint >= sent_) {  // nothing since it reached the server
      queue_.resize(savepoint - sent_);
      queued_ = savepoint;
      return Status::Ok();
    }
    queue_.clear();
    queued_ = sent_;
    OTPGATE_RETURN_IF_ERROR(Run("ROLLBACK TO SAVEPOINT otpgate_member", {}).status);
    return Defer(kReleaseSql, {});
  }

  Result<TokenRecord> GetToken(std::string_view credential_id) override {
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    Outcome out = Run(read_only_ ? "SELECT record FROM otpgate_tokens WHERE credential_id = $1"
                                 : "SELECT record FROM otpgate_tokens WHERE credential_id = $1 "
                                   "FOR UPDATE",
                      {credential_id});
    OTPGATE_RETURN_IF_ERROR(out.status);
    if (Pq().PQntuples(out.result.get()) == 0) {
      return Status::NotFound("unknown credential ID");
    }
    std::string_view bytes = Cell(out.result.get(), 0, 0);
    return DecodeStoredToken(credential_id,
                             {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  }

  bool HasToken(std::string_view credential_id) override {
    if (!LockJournalIfWriting().ok()) return false;
    Outcome out = Run(read_only_ ? "SELECT 1 FROM otpgate_tokens WHERE credential_id = $1"
                                 : "SELECT 1 FROM otpgate_tokens WHERE credential_id = $1 "
                                   "FOR UPDATE",
                      {credential_id});
    return out.status.ok() && Pq().PQntuples(out.result.get()) > 0;
  }

  Status PutToken(const TokenRecord& record) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    std::vector<uint8_t> bytes = EncodeTokenRecord(record);
    OTPGATE_RETURN_IF_ERROR(Defer(kPutTokenSql, {record.credential_id, Bytes(bytes)}));
    // A user whose read failed (a bound token not stored, or not readable)
    // may read this record now: that read goes to the server again.
    std::erase_if(prefetched_, [](const auto& entry) { return !entry.second.ok(); });
    for (auto& [user, records] : prefetched_) {
      for (TokenRecord& kept : *records) {
        if (kept.credential_id == record.credential_id) kept = record;
      }
    }
    return Status::Ok();
  }

  Status DeleteToken(std::string_view credential_id) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    ForgetPrefetchedHolding(credential_id);
    Outcome out = Run("DELETE FROM otpgate_tokens WHERE credential_id = $1", {credential_id});
    OTPGATE_RETURN_IF_ERROR(out.status);
    if (std::strcmp(Pq().PQcmdTuples(out.result.get()), "0") == 0) {
      return Status::NotFound("unknown credential ID");
    }
    return Status::Ok();
  }

  Result<std::vector<std::string>> UserTokens(std::string_view user) override {
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    Outcome out =
        Run("SELECT credential_id FROM otpgate_user_tokens WHERE user_name = $1 "
            "ORDER BY credential_id",
            {user});
    OTPGATE_RETURN_IF_ERROR(out.status);
    std::vector<std::string> ids;
    for (int row = 0; row < Pq().PQntuples(out.result.get()); ++row) {
      ids.emplace_back(Cell(out.result.get(), row, 0));
    }
    return ids;
  }

  // One statement: the user's bindings and their records (in a write, each
  // token row locked as GetToken locks it), unless PrefetchUserTokens read
  // them already.
  Result<std::vector<TokenRecord>> UserTokenRecords(std::string_view user) override {
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    if (auto it = prefetched_.find(user); it != prefetched_.end()) {
      OTPGATE_RETURN_IF_ERROR(failure_);
      return it->second;
    }
    // Unordered (sorted here): a plan made before the tables had
    // statistics would sort on the server for every call.
    Outcome out =
        Run(read_only_ ? "SELECT u.credential_id, t.record FROM otpgate_user_tokens u "
                         "LEFT JOIN otpgate_tokens t ON t.credential_id = u.credential_id "
                         "WHERE u.user_name = $1"
                       : "SELECT u.credential_id, t.record FROM otpgate_user_tokens u "
                         "LEFT JOIN LATERAL (SELECT record FROM otpgate_tokens "
                         "WHERE credential_id = u.credential_id FOR UPDATE) t ON true "
                         "WHERE u.user_name = $1",
            {user});
    OTPGATE_RETURN_IF_ERROR(out.status);
    std::vector<TokenRecord> records;
    for (int row = 0; row < Pq().PQntuples(out.result.get()); ++row) {
      OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, BoundRecord(out.result.get(), row, 0));
      records.push_back(std::move(record));
    }
    SortByCredentialId(records);
    return records;
  }

  // Reads the bindings and token records of every user in `users` in one
  // statement (each token row locked FOR UPDATE, as UserTokenRecords locks
  // it), sent with what is queued. UserTokenRecords then answers for these
  // users from memory: a write of this transaction to a token record
  // updates what is kept, and one to a user's bindings (or a token's
  // removal, or a rollback to a savepoint) makes the next read go to the
  // server. Only in a write, which holds the store's write lock: no other
  // writer can change these rows before the transaction ends.
  Status PrefetchUserTokens(std::span<const std::string_view> users) {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    if (users.empty()) return Status::Ok();
    std::string names = ByteaArrayParam(users);
    Outcome out =
        Run("SELECT u.credential_id, t.record, u.user_name FROM otpgate_user_tokens u "
            "LEFT JOIN LATERAL (SELECT record FROM otpgate_tokens "
            "WHERE credential_id = u.credential_id FOR UPDATE) t ON true "
            "WHERE u.user_name = ANY ($1::bytea[])",
            {names});
    OTPGATE_RETURN_IF_ERROR(out.status);
    std::map<std::string, Result<std::vector<TokenRecord>>, std::less<>> read;
    for (std::string_view user : users) read.emplace(user, std::vector<TokenRecord>());
    for (int row = 0; row < Pq().PQntuples(out.result.get()); ++row) {
      auto it = read.find(Cell(out.result.get(), row, 2));
      if (it == read.end() || !it->second.ok()) continue;  // not asked for; or already broken
      Result<TokenRecord> record = BoundRecord(out.result.get(), row, 0);
      if (record.ok()) {
        it->second->push_back(std::move(record).value());
      } else {
        it->second = record.status();  // what UserTokenRecords would have said
      }
    }
    for (auto& [user, records] : read) {
      if (records.ok()) SortByCredentialId(*records);
    }
    prefetched_ = std::move(read);
    return Status::Ok();
  }

  Status AddUserToken(std::string_view user, std::string_view credential_id) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    ForgetPrefetched(user);
    return Defer(
        "INSERT INTO otpgate_user_tokens (user_name, credential_id) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING",
        {user, credential_id});
  }

  Status RemoveUserToken(std::string_view user, std::string_view credential_id) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    ForgetPrefetched(user);
    return Defer("DELETE FROM otpgate_user_tokens WHERE user_name = $1 AND credential_id = $2",
                 {user, credential_id});
  }

  Status ForEachToken(const std::function<Status(const TokenRecord&)>& fn) override {
    Outcome out =
        Run("SELECT credential_id, record FROM otpgate_tokens ORDER BY credential_id", {});
    OTPGATE_RETURN_IF_ERROR(out.status);
    for (int row = 0; row < Pq().PQntuples(out.result.get()); ++row) {
      std::string_view id = Cell(out.result.get(), row, 0);
      std::string_view bytes = Cell(out.result.get(), row, 1);
      auto record =
          DecodeTokenRecord({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
      if (!record.ok()) {
        return Status::Corrupt("token " + std::string(id) + ": " + record.status().message());
      }
      OTPGATE_RETURN_IF_ERROR(fn(record.value()));
    }
    return Status::Ok();
  }

  Result<std::optional<std::vector<uint8_t>>> GetMeta(std::string_view name) override {
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    Outcome out = Run(read_only_ ? "SELECT value FROM otpgate_meta WHERE name = $1"
                                 : "SELECT value FROM otpgate_meta WHERE name = $1 FOR UPDATE",
                      {name});
    OTPGATE_RETURN_IF_ERROR(out.status);
    if (Pq().PQntuples(out.result.get()) == 0) {
      return std::optional<std::vector<uint8_t>>();
    }
    std::string_view v = Cell(out.result.get(), 0, 0);
    return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(v.begin(), v.end()));
  }

  Status PutMeta(std::string_view name, std::span<const uint8_t> value) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    return Defer(
        "INSERT INTO otpgate_meta (name, value) VALUES ($1, $2) "
        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
        {name, Bytes(value)});
  }

  Result<std::optional<std::pair<uint64_t, std::vector<uint8_t>>>> LastJournalEntry() override {
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    if (journal_tail_.has_value()) return journal_tail_;        // appended here, under the lock
    if (JournalTailQueued()) OTPGATE_RETURN_IF_ERROR(Flush());  // sends Begin's read of it
    Outcome out;
    if (journal_tail_read_ != nullptr) {
      out.result = std::move(journal_tail_read_);
    } else {
      out = Run(kLastJournalEntrySql, {});
      OTPGATE_RETURN_IF_ERROR(out.status);
    }
    std::optional<std::pair<uint64_t, std::vector<uint8_t>>> last;
    if (Pq().PQntuples(out.result.get()) > 0) {
      OTPGATE_ASSIGN_OR_RETURN(uint64_t sequence, SequenceCell(out.result.get(), 0));
      std::string_view entry = Cell(out.result.get(), 0, 1);
      last.emplace(sequence, std::vector<uint8_t>(entry.begin(), entry.end()));
    }
    return last;
  }

  Status AppendJournalEntry(uint64_t sequence, std::span<const uint8_t> entry) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    if (sequence == 0 || sequence > kMaxSequence) {
      return Status::InvalidArgument("journal sequence " + std::to_string(sequence) +
                                     " is out of range");
    }
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    auto key = SequenceParam(sequence);
    OTPGATE_RETURN_IF_ERROR(Defer(
        kAppendJournalSql, {Bytes(key), Bytes(entry)},
        Status::AlreadyExists("journal sequence " + std::to_string(sequence) + " is not new")));
    journal_tail_.emplace(sequence, std::vector<uint8_t>(entry.begin(), entry.end()));
    ForgetJournalTailRead();
    return Status::Ok();
  }

  // Pages through the journal by sequence, so that a long journal is never
  // held in memory at once.
  Status ForEachJournalEntry(
      uint64_t from, const std::function<Status(uint64_t, std::span<const uint8_t>)>& fn) override {
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    uint64_t next = from;
    while (next <= kMaxSequence) {
      auto key = SequenceParam(next);
      Outcome out =
          Run("SELECT sequence, entry FROM otpgate_journal WHERE sequence >= $1::int8 "
              "ORDER BY sequence LIMIT 1000",
              {Bytes(key)});
      OTPGATE_RETURN_IF_ERROR(out.status);
      const int rows = Pq().PQntuples(out.result.get());
      for (int row = 0; row < rows; ++row) {
        OTPGATE_ASSIGN_OR_RETURN(uint64_t sequence, SequenceCell(out.result.get(), row));
        std::string_view entry = Cell(out.result.get(), row, 1);
        OTPGATE_RETURN_IF_ERROR(
            fn(sequence, {reinterpret_cast<const uint8_t*>(entry.data()), entry.size()}));
        next = sequence + 1;
      }
      if (rows < 1000) break;
    }
    return Status::Ok();
  }

  Status EraseJournalThrough(uint64_t last) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    OTPGATE_RETURN_IF_ERROR(LockJournalIfWriting());
    journal_tail_.reset();
    ForgetJournalTailRead();
    auto key = SequenceParam(std::min(last, kMaxSequence));
    return Defer("DELETE FROM otpgate_journal WHERE sequence <= $1::int8", {Bytes(key)});
  }

  // Of two servers spending one nonce, the second runs after the first has
  // committed (the store's write lock) and, by the unique key, inserts
  // nothing; the key would decide even without the lock. Each call first
  // removes at most kChallengePrunePerCall expired rows, the oldest first.
  Result<bool> ConsumeChallenge(std::span<const uint8_t> nonce, int64_t expires_at_unix,
                                int64_t now_unix) override {
    OTPGATE_RETURN_IF_ERROR(CheckWritable());
    if (nonce.size() != kChallengeNonceBytes) {
      return Status::InvalidArgument("a challenge nonce has 16 bytes");
    }
    auto now = Int8Param(now_unix);
    static const std::string prune =
        "DELETE FROM otpgate_challenges WHERE nonce IN (SELECT nonce FROM "
        "otpgate_challenges WHERE expires_at < $1::int8 ORDER BY expires_at LIMIT " +
        std::to_string(kChallengePrunePerCall) + " FOR UPDATE SKIP LOCKED)";
    OTPGATE_RETURN_IF_ERROR(Defer(prune.c_str(), {Bytes(now)}));
    auto expires = Int8Param(expires_at_unix);
    Outcome out =
        Run("INSERT INTO otpgate_challenges (nonce, expires_at) "
            "VALUES ($1::bytea, $2::int8) ON CONFLICT (nonce) DO NOTHING",
            {Bytes(nonce), Bytes(expires)});
    OTPGATE_RETURN_IF_ERROR(out.status);
    return std::strcmp(Pq().PQcmdTuples(out.result.get()), "1") == 0;
  }

  // Runs a statement whose rows (or count) are needed: sends it after
  // what is queued, in one round trip. Records the first failure.
  Outcome Run(const char* sql, std::initializer_list<std::string_view> params) {
    if (!failure_.ok()) {
      Outcome out;
      out.status = failure_;  // PostgreSQL would refuse it: the transaction is aborted
      return out;
    }
    return Send(sql, params);
  }
  // Queues a statement whose only answer is success or failure (see above):
  // its failure is the transaction's, reported by a later Run, Flush or
  // Commit; `conflict`, if set, is reported instead of a constraint
  // violation (SQLSTATE class 23). Returns the failure so far.
  Status Defer(const char* sql, std::initializer_list<std::string_view> params,
               Status conflict = Status::Ok()) {
    if (!failure_.ok()) return failure_;
    Queue(sql, params, std::move(conflict), kWrite);
    // A bulk writer (store copy, import) sends its writes in pipelines of
    // bounded size, not in one holding all of them twice in memory.
    if (queue_.size() >= kMaxQueued) return Flush();
    return Status::Ok();
  }
  // Sends what is queued (one round trip, if anything is); returns the
  // first failure of the transaction so far.
  Status Flush() {
    if (!failure_.ok() || queue_.empty()) return failure_;
    return Send(nullptr, {}).status;
  }
  // A statement without parameters and results (a SET), not prepared, after
  // what is queued.
  Status RunScript(const std::string& sql) {
    OTPGATE_RETURN_IF_ERROR(Flush());
    Outcome out = session_.ExecScript(sql.c_str(), deadline_);
    ++queued_;
    ++sent_;
    if (!out.status.ok()) Fail(out, sent_ - 1, false);
    return out.status;
  }

  // Forgets a failure, and what this object remembers of the data, after a
  // rollback to a savepoint undid them (WriteGroup).
  void ClearFailure() {
    failure_ = Status::Ok();
    retryable_ = false;
    journal_tail_.reset();
    ForgetJournalTailRead();
    prefetched_.clear();
  }

 private:
  Status CheckWritable() const {
    return read_only_ ? Status::Internal("write in a read-only transaction") : Status::Ok();
  }

  // The store's write lock: the journal is one chain for the whole pool, so
  // every write transaction holds one pool-wide advisory lock, taken first
  // (queued with BEGIN: Begin) and held until its end. Writers of the pool thus
  // run one at a time, and each statement (READ COMMITTED) sees every
  // earlier writer's commit: no finer lock per token or user is needed, and
  // none is taken (each was a round trip inside this lock). Methods that
  // write, or read for a write, check here that the lock is held (it always
  // is: Run takes it with BEGIN), and fail closed if it were not.
  Status LockJournalIfWriting() {
    if (read_only_ || write_locked_) return Status::Ok();
    return Status::Internal("PostgreSQL store: a write without the store's write lock");
  }

  // Row `row` of a result whose columns from `column` are a binding's
  // credential ID and its token's record (NULL: the token is not stored).
  static Result<TokenRecord> BoundRecord(PGresult* result, int row, int column) {
    std::string_view id = Cell(result, row, column);
    if (Pq().PQgetisnull(result, row, column + 1)) return UnstoredBoundToken(id);
    std::string_view bytes = Cell(result, row, column + 1);
    return DecodeStoredToken(id, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  }

  // A bytea[] in PostgreSQL's binary array format: dimensions (1), a
  // has-nulls flag (0), the element type (bytea, OID 17), the length and
  // lower bound (1) of the dimension, then each element's length and bytes;
  // every integer 4 bytes, big-endian.
  static std::string ByteaArrayParam(std::span<const std::string_view> elements) {
    constexpr uint32_t kByteaOid = 17;
    return ArrayParam(kByteaOid, elements);
  }
  // The same for another element type whose values are given in binary
  // (int8, OID 20: SequenceParam's 8 bytes).
  static std::string ArrayParam(uint32_t element_oid, std::span<const std::string_view> elements) {
    std::string out;
    auto put = [&](uint32_t v) {
      for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
    };
    put(1);
    put(0);
    put(element_oid);
    put(static_cast<uint32_t>(elements.size()));
    put(1);
    for (std::string_view e : elements) {
      put(static_cast<uint32_t>(e.size()));
      out.append(e);
    }
    return out;
  }

  // A user's tokens in credential ID order (bytea's order: bytewise), as
  // UserTokenRecords answers on every backend.
  static void SortByCredentialId(std::vector<TokenRecord>& records) {
    std::sort(records.begin(), records.end(), [](const TokenRecord& a, const TokenRecord& b) {
      return a.credential_id < b.credential_id;
    });
  }

  void ForgetPrefetched(std::string_view user) {
    if (auto it = prefetched_.find(user); it != prefetched_.end()) prefetched_.erase(it);
  }
  // A token is removed: a user bound to it would now read it as not stored.
  void ForgetPrefetchedHolding(std::string_view credential_id) {
    std::erase_if(prefetched_, [&](const auto& entry) {
      const auto& [user, records] = entry;
      return !records.ok() ||
             std::any_of(records->begin(), records->end(),
                         [&](const TokenRecord& r) { return r.credential_id == credential_id; });
    });
  }

  // PostgreSQL int8 in binary: 8 bytes, big-endian, two's complement.
  static std::array<uint8_t, 8> Int8Param(int64_t value) {
    auto bits = static_cast<uint64_t>(value);
    std::array<uint8_t, 8> bytes{};
    for (int i = 7; i >= 0; --i, bits >>= 8) bytes[i] = static_cast<uint8_t>(bits);
    return bytes;
  }
  // Journal sequences are int8 (callers keep them within kMaxSequence).
  static std::array<uint8_t, 8> SequenceParam(uint64_t sequence) {
    return Int8Param(static_cast<int64_t>(sequence));
  }
  static Result<uint64_t> SequenceCell(PGresult* result, int row) {
    std::string_view bytes = Cell(result, row, 0);
    if (bytes.size() != 8) return Status::Corrupt("journal sequence is malformed");
    uint64_t sequence = 0;
    for (char c : bytes) sequence = sequence << 8 | static_cast<uint8_t>(c);
    return sequence;
  }

  // What a queued statement is.
  enum Kind { kStart, kJournalTail, kWrite };
  struct Queued {
    const char* sql;
    std::vector<std::string> params;
    Status conflict;  // see Defer
    Kind kind;
  };

  void Queue(const char* sql, std::initializer_list<std::string_view> params, Status conflict,
             Kind kind) {
    queue_.push_back({sql, {params.begin(), params.end()}, std::move(conflict), kind});
    ++queued_;
  }
  bool JournalTailQueued() const {
    return std::any_of(queue_.begin(), queue_.end(),
                       [](const Queued& q) { return q.kind == kJournalTail; });
  }
  // The journal changed (or a rollback undid changes) after Begin's read of
  // its tail: that read, sent or still queued, no longer describes it.
  void ForgetJournalTailRead() {
    journal_tail_read_.reset();
    for (Queued& q : queue_) {
      if (q.kind == kJournalTail) q.kind = kStart;  // still sent, its rows not kept
    }
  }
  bool OnlyStartQueued() const {
    return std::all_of(queue_.begin(), queue_.end(),
                       [](const Queued& q) { return q.kind != kWrite; });
  }
  // Records a statement's failure (the first one is the transaction's);
  // `queued_write`: the statement was a write queued by Defer.
  void Fail(const Outcome& out, uint64_t statement, bool queued_write) {
    connection_lost_ = connection_lost_ || out.connection_lost;
    if (!failure_.ok()) return;
    failure_ = out.status;
    failed_at_ = statement;
    retryable_ = IsRetryable(out.sqlstate);
    write_refused_ = queued_write && !out.connection_lost;
  }

  // The failure of a statement whose answer came but whose pipeline's end
  // did not.
  static Outcome LostAnswer() {
    Outcome out;
    out.status =
        Status::Unavailable("PostgreSQL store: no answer in time, or the connection failed");
    out.connection_lost = true;
    return out;
  }

  // Sends the queue and then `sql` (unless null) in one pipeline; records
  // the first failure and keeps the journal tail read ahead. Returns `sql`'s
  // outcome, or the first failure.
  Outcome Send(const char* sql, std::initializer_list<std::string_view> params) {
    if (one_statement_ && queued_ > 0) {
      Outcome out;
      out.status = Status::Internal("PostgreSQL store: a second statement in a one-statement read");
      Fail(out, queued_, false);
      return out;
    }
    Outgoing outgoing = MergeWrites();
    std::vector<Statement>& statements = outgoing.statements;
    if (sql != nullptr) {
      statements.push_back({sql, params});
      ++queued_;
    }
    std::vector<Outcome> outcomes = session_.Pipeline(statements, deadline_);
    const uint64_t first = sent_;
    sent_ = queued_;
    for (size_t k = 0; k < outgoing.from.size(); ++k) {
      Outcome& out = outcomes[k];
      const size_t i = outgoing.from[k];  // a merged statement's failure is its first write's
      if (!out.status.ok()) {
        if (!outgoing.conflict[k].ok() && out.sqlstate.starts_with("23")) {
          out.status = outgoing.conflict[k];
        }
        Fail(out, first + i, queue_[i].kind == kWrite);
      } else if (out.connection_lost) {
        Fail(LostAnswer(), first + i, false);  // its answer came, the pipeline's end did not
      } else if (queue_[i].kind == kJournalTail) {
        journal_tail_read_ = std::move(out.result);
      }
    }
    queue_.clear();
    Outcome last;
    if (sql != nullptr) {
      last = std::move(outcomes.back());
      if (!last.status.ok()) Fail(last, sent_ - 1, false);
      if (last.connection_lost) Fail(LostAnswer(), sent_ - 1, false);
    }
    if (!failure_.ok()) last.status = failure_;  // the first, perhaps a queued statement's
    return last;
  }

  // What Send puts on the wire for the queue: statements[k] stands for
  // queue_ entries from from[k] on (several, if merged), and reports
  // conflict[k] for a constraint violation.
  struct Outgoing {
    std::vector<Statement> statements;
    std::vector<size_t> from;
    std::vector<Status> conflict;
    std::deque<std::string> merged;  // merged statements' parameters (never moved)
  };

  // The queue as statements, with each run of token writes and journal
  // appends queued back to back (a group's members' writes; a bulk copy's)
  // sent as one statement of each kind: two statements, not two per
  // decision, for the server to bind and run while the store's write lock
  // is held. Reordering within such a run changes nothing: a token write
  // reads no journal row and an append no token row. A run is sent as
  // queued if one credential ID repeats (ON CONFLICT may not update a row
  // twice in one statement) or its sequences do not ascend. A merged
  // statement's failure is reported as that of the run's first write:
  // coarser, never finer. A run never spans a live savepoint (a member's
  // SAVEPOINT stays queued until it ends, and breaks runs), so such a
  // failure is either the current member's own (rolled back to its
  // savepoint) or an ended member's, which fails the group: its members
  // then run again alone (WriteGroup), where each failure is its own.
  Outgoing MergeWrites() const {
    Outgoing out;
    auto single = [&](size_t i) {
      out.statements.push_back({queue_[i].sql, {queue_[i].params.begin(), queue_[i].params.end()}});
      out.from.push_back(i);
      out.conflict.push_back(queue_[i].conflict);
    };
    auto mergeable = [&](size_t i) {
      return queue_[i].kind == kWrite &&
             (queue_[i].sql == kPutTokenSql || queue_[i].sql == kAppendJournalSql);
    };
    for (size_t i = 0; i < queue_.size();) {
      size_t end = i;
      while (end < queue_.size() && mergeable(end)) ++end;
      if (end - i < 2 || !MergeRun(i, end, out)) {
        single(i);
        for (size_t j = i + 1; j < end; ++j) single(j);
        i = std::max(end, i + 1);
        continue;
      }
      i = end;
    }
    return out;
  }
  // Appends the merged statements of queue_[begin, end) to `out`; false
  // (nothing appended) if the run must go as queued.
  bool MergeRun(size_t begin, size_t end, Outgoing& out) const {
    std::vector<std::string_view> ids, records, sequences, entries;
    size_t first_put = end, first_append = end;
    for (size_t i = begin; i < end; ++i) {
      const Queued& q = queue_[i];
      if (q.sql == kPutTokenSql) {
        if (first_put == end) first_put = i;
        ids.push_back(q.params[0]);
        records.push_back(q.params[1]);
      } else {
        if (!sequences.empty() && !(sequences.back() < std::string_view(q.params[0]))) {
          return false;  // big-endian int8 of non-negative sequences: bytes order as numbers
        }
        if (first_append == end) first_append = i;
        sequences.push_back(q.params[0]);
        entries.push_back(q.params[1]);
      }
    }
    std::vector<std::string_view> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return false;
    constexpr uint32_t kInt8Oid = 20;
    if (!ids.empty()) {
      if (ids.size() == 1) {
        out.statements.push_back({kPutTokenSql, {ids[0], records[0]}});
      } else {
        out.merged.push_back(ByteaArrayParam(ids));
        out.merged.push_back(ByteaArrayParam(records));
        out.statements.push_back(
            {kPutTokensSql, {out.merged[out.merged.size() - 2], out.merged.back()}});
      }
      out.from.push_back(begin);
      out.conflict.push_back(queue_[first_put].conflict);
    }
    if (!sequences.empty()) {
      if (sequences.size() == 1) {
        out.statements.push_back({kAppendJournalSql, {sequences[0], entries[0]}});
      } else {
        out.merged.push_back(ArrayParam(kInt8Oid, sequences));
        out.merged.push_back(ByteaArrayParam(entries));
        out.statements.push_back(
            {kAppendJournalEntriesSql,
             {sequences[0], out.merged[out.merged.size() - 2], out.merged.back()}});
      }
      out.from.push_back(begin);
      out.conflict.push_back(queue_[first_append].conflict);
    }
    return true;
  }

  static constexpr size_t kMaxQueued = 1000;

  Session& session_;
  const bool read_only_;
  const Deadline deadline_;
  std::vector<Queued> queue_;
  uint64_t queued_ = 0;  // statements of this transaction queued or sent so far
  uint64_t sent_ = 0;    // of which sent
  Status failure_;
  uint64_t failed_at_ = 0;  // the statement that failed first (counted as queued_)
  bool retryable_ = false;
  bool connection_lost_ = false;
  bool commit_sent_ = false;
  bool write_refused_ = false;  // the first failure was a queued write's (see Defer)
  bool write_locked_ = false;   // the store's write lock is held (until the end)
  bool one_statement_ = false;  // BeginOneStatementRead
  PgResult journal_tail_read_;  // Begin's read of the journal's last entry, until used
  // The last journal entry this transaction appended: with the write lock
  // held no one else appends, so the next LastJournalEntry of a group (one
  // per decision) needs no query. Forgotten on erase and on rollback.
  std::optional<std::pair<uint64_t, std::vector<uint8_t>>> journal_tail_;
  // What PrefetchUserTokens read, by user, as UserTokenRecords answers it.
  std::map<std::string, Result<std::vector<TokenRecord>>, std::less<>> prefetched_;
};

// Schema migrations, in order: each statement brings the schema to
// `version`. Only additions: `otpgate init` must never destroy data.
struct Migration {
  uint32_t version;
  const char* statement;
};
constexpr Migration kMigrations[] = {
    {1,
     "CREATE TABLE IF NOT EXISTS otpgate_tokens ("
     "  credential_id bytea PRIMARY KEY, record bytea NOT NULL)"},
    {1,
     "CREATE TABLE IF NOT EXISTS otpgate_user_tokens ("
     "  user_name bytea NOT NULL, credential_id bytea NOT NULL,"
     "  PRIMARY KEY (user_name, credential_id))"},
    {2,
     "CREATE TABLE IF NOT EXISTS otpgate_journal ("
     "  sequence int8 PRIMARY KEY CHECK (sequence > 0), entry bytea NOT NULL)"},
    {3,
     "CREATE TABLE IF NOT EXISTS otpgate_challenges ("
     "  nonce bytea PRIMARY KEY CHECK (length(nonce) = 16), expires_at int8 NOT NULL)"},
    {3,
     "CREATE INDEX IF NOT EXISTS otpgate_challenges_expiry "
     "  ON otpgate_challenges (expires_at)"},
};
static_assert(std::end(kMigrations)[-1].version == kPostgresSchemaVersion);

std::vector<uint8_t> EncodeU32(uint32_t v) {
  return {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 24)};
}
std::optional<uint32_t> DecodeU32(const std::optional<std::vector<uint8_t>>& bytes) {
  if (!bytes.has_value() || bytes->size() != 4) return std::nullopt;
  const auto& b = *bytes;
  return b[0] | b[1] << 8 | b[2] << 16 | static_cast<uint32_t>(b[3]) << 24;
}

class PostgresStore final : public Store {
 public:
  PostgresStore(std::string location, const PostgresOptions& options)
      : location_(std::move(location)), pool_(location_, options) {}

  Status Read(const std::function<Status(Txn&)>& fn) override {
    return Run(true, [&](PgTxn& txn) -> Status { return fn(txn); });
  }

  Status Write(const std::function<Status(Txn&)>& fn) override {
    return Run(false, [&](PgTxn& txn) -> Status { return fn(txn); });
  }

  // One statement in a snapshot of its own: one round trip, where a read
  // transaction takes two (BEGIN with the statement, then COMMIT).
  Result<std::vector<TokenRecord>> ReadUserTokenRecords(std::string_view user) override {
    std::vector<TokenRecord> records;
    OTPGATE_RETURN_IF_ERROR(RunUntil(
        NewDeadline(), true,
        [&](PgTxn& txn) -> Status {
          OTPGATE_ASSIGN_OR_RETURN(records, txn.UserTokenRecords(user));
          return Status::Ok();
        },
        false, nullptr, true));
    return records;
  }

  Status WriteGroup(std::span<const GroupMember> members, std::span<Status> results) override {
    // The whole group's, fallback included: from when its earliest member
    // asked, so that no member waits past its own bound for having queued
    // behind the group before it.
    Deadline deadline = NewDeadline();
    for (const GroupMember& m : members) {
      if (m.asked != Deadline{}) {
        deadline =
            std::min(deadline, m.asked + std::chrono::milliseconds(pool_.options().timeout_ms));
      }
    }
    if (members.size() == 1) return WriteAlone(deadline, *members[0].fn, results[0]);
    // The members' reads of their users' tokens are one statement, sent with
    // BEGIN and the write lock; their writes are queued and reach the server
    // with COMMIT (or with a later member's read): a group is then two round
    // trips, not two per member. A member's failure found before it ends is
    // its own (a rollback to its savepoint, done locally if nothing of it was
    // sent). A write the server refuses only after its member ended fails
    // the whole transaction: nothing was committed, and each member runs
    // again in a transaction of its own, where its failure is its own.
    std::vector<std::string_view> users;
    for (const GroupMember& m : members) {
      if (!m.user.empty() && std::find(users.begin(), users.end(), m.user) == users.end()) {
        users.push_back(m.user);
      }
    }
    Status refused;
    OTPGATE_RETURN_IF_ERROR(RunUntil(
        deadline, false,
        [&](PgTxn& txn) -> Status {
          OTPGATE_RETURN_IF_ERROR(txn.PrefetchUserTokens(users));
          for (size_t i = 0; i < members.size(); ++i) {
            OTPGATE_RETURN_IF_ERROR(RunNested(txn, *members[i].fn, results[i]));
          }
          return Status::Ok();
        },
        true, &refused));
    if (refused.ok()) return Status::Ok();
    // Within what is left of the group's deadline: a refusal that was a
    // statement timeout must not make the group wait once more per member.
    for (size_t i = 0; i < members.size(); ++i) {
      Status commit = WriteAlone(deadline, *members[i].fn, results[i]);
      if (results[i].ok()) results[i] = commit;
    }
    return Status::Ok();
  }

  // A group of one needs no savepoint (two round trips): its failure
  // rolls the whole transaction back. `result` is the member's own status
  // (also a write of it the server refused, even with COMMIT); returns the
  // commit's.
  Status WriteAlone(Deadline deadline, const std::function<Status(Txn&)>& fn, Status& result) {
    bool member_failed = false;
    Status refused;
    Status status = RunUntil(
        deadline, false,
        [&](PgTxn& txn) -> Status {
          result = fn(txn);
          if (!txn.failure().ok()) result = txn.failure();
          member_failed = !result.ok();
          return result;
        },
        true, &refused);
    if (!refused.ok()) result = refused;
    return member_failed ? Status::Ok() : status;
  }

  // Every write holds the pool-wide journal lock to its COMMIT, so writers
  // cannot run in parallel anyway: grouping a process's concurrent decisions
  // into one transaction (savepoint each) shares that lock and one commit.
  bool SharesCommits() const override { return true; }
  bool ReadsAreLocal() const override { return false; }

  // A pool's database is backed up by PostgreSQL's own tools, which also
  // give what a file copy cannot: point-in-time recovery, and copies taken
  // on a standby without loading the primary.
  Status Backup(const std::string&) override {
    return Status::FailedPrecondition(
        "otpgate backup copies LMDB stores only; back a PostgreSQL store up with PostgreSQL's "
        "own tools (pg_dump of its schema, or pg_basebackup with WAL archiving), or take a "
        "verified LMDB copy with 'otpgate store copy' (see docs/scale-out.md)");
  }

  // Creates or upgrades the schema (create) and checks its version.
  Status Prepare(bool create) {
    OTPGATE_RETURN_IF_ERROR(Run(true, [&](PgTxn& txn) -> Status {
      // The lock keys hash the schema the store's tables are in, not
      // current_schema(): two hosts whose search_paths differ but find the
      // same tables must take the same locks. Before init there are no
      // tables yet, and init creates them in current_schema().
      Outcome out = txn.Run(
          "SELECT convert_to(current_schema(), 'UTF8'), convert_to(n.nspname, 'UTF8'), "
          "convert_to(current_setting('search_path'), 'UTF8') "
          "FROM (SELECT 1) AS one "
          "LEFT JOIN pg_class c ON c.oid = to_regclass('otpgate_meta') "
          "LEFT JOIN pg_namespace n ON n.oid = c.relnamespace",
          {});
      OTPGATE_RETURN_IF_ERROR(out.status);
      PGresult* row = out.result.get();
      if (Pq().PQntuples(row) != 1) {
        return Status::Unavailable("PostgreSQL store: cannot find its schema");
      }
      bool has_current = !Pq().PQgetisnull(row, 0, 0), has_tables = !Pq().PQgetisnull(row, 0, 1);
      if (!has_current && !has_tables) {
        return Status::Unavailable("PostgreSQL store: no schema to use (check search_path)");
      }
      schema_ = std::string(Cell(row, 0, has_tables ? 1 : 0));
      configured_search_path_ = std::string(Cell(row, 0, 2));
      // Every statement names its tables unqualified: pin this session and
      // every later one to the store's schema, so that a schema earlier in
      // search_path holding a table of the same name is never written to.
      std::string pin = "SET search_path = " + QuoteIdentifier(schema_);
      OTPGATE_RETURN_IF_ERROR(txn.RunScript(pin));
      pool_.PinSchema(pin);
      // init creates and upgrades tables by unqualified names, in
      // current_schema(): with the tables elsewhere it would start a second,
      // empty store beside the first.
      if (create && has_tables && (!has_current || Cell(row, 0, 0) != schema_)) {
        return TablesElsewhere(schema_, has_current ? Cell(row, 0, 0) : "");
      }
      return Status::Ok();
    }));
    if (create) {
      OTPGATE_RETURN_IF_ERROR(Migrate());
    }
    return Read([&](Txn& txn) -> Status {
      OTPGATE_ASSIGN_OR_RETURN(auto pg_schema, txn.GetMeta("pg-schema"));
      OTPGATE_ASSIGN_OR_RETURN(auto schema, txn.GetMeta("schema"));
      std::optional<uint32_t> pg_version = DecodeU32(pg_schema);
      std::optional<uint32_t> version = DecodeU32(schema);
      if (!pg_version.has_value() || !version.has_value()) {
        return Status::Unavailable("PostgreSQL store is not initialised (run otpgate init)");
      }
      if (*version != kSchemaVersion || *pg_version > kPostgresSchemaVersion) {
        return Status::Corrupt("PostgreSQL store has schema version " + std::to_string(*version) +
                               "." + std::to_string(*pg_version) + "; this otpgate reads version " +
                               std::to_string(kSchemaVersion) + "." +
                               std::to_string(kPostgresSchemaVersion));
      }
      if (*pg_version < kPostgresSchemaVersion) {
        return Status::Unavailable("PostgreSQL store has schema version " +
                                   std::to_string(*pg_version) +
                                   "; run otpgate init to upgrade "
                                   "it to " +
                                   std::to_string(kPostgresSchemaVersion));
      }
      return Status::Ok();
    });
  }

 private:
  static Status TablesElsewhere(std::string_view tables, std::string_view current) {
    return Status::FailedPrecondition(
        "PostgreSQL store: its tables are in schema '" + std::string(tables) +
        "' but search_path puts new tables in '" + std::string(current) +
        "'; set search_path to start with '" + std::string(tables) + "' to run init");
  }

  // Applies the missing migrations in one transaction. Every init in the
  // database is serialised by one advisory lock, under which the configured
  // search_path is looked through again: an init that ran meanwhile from a
  // host whose search_path orders the schemas differently may have created
  // the tables in another schema this one finds, and a second store must not
  // start beside them (Prepare's check, made before the lock, missed them).
  Status Migrate() {
    return Run(
        false,
        [&](PgTxn& txn) -> Status {
          std::string init_key = LockKey("", 'i', "init");
          std::string schema_key = LockKey(schema_, 's', "schema");
          if (init_key.empty() || schema_key.empty()) {
            return Status::Unavailable("PostgreSQL store: no lock key");
          }
          OTPGATE_RETURN_IF_ERROR(txn.Run(kLockSql, {init_key}).status);
          OTPGATE_RETURN_IF_ERROR(
              txn.Run("SELECT set_config('search_path', $1, true)", {configured_search_path_})
                  .status);
          Outcome found = txn.Run(
              "SELECT convert_to(n.nspname, 'UTF8') FROM pg_class c "
              "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = "
              "to_regclass('otpgate_meta')",
              {});
          OTPGATE_RETURN_IF_ERROR(found.status);
          if (Pq().PQntuples(found.result.get()) == 1 &&
              Cell(found.result.get(), 0, 0) != schema_) {
            return TablesElsewhere(Cell(found.result.get(), 0, 0), schema_);
          }
          OTPGATE_RETURN_IF_ERROR(
              txn.Run("SELECT set_config('search_path', $1, true)", {QuoteIdentifier(schema_)})
                  .status);
          OTPGATE_RETURN_IF_ERROR(txn.Run(kLockSql, {schema_key}).status);
          OTPGATE_RETURN_IF_ERROR(txn.Run("CREATE TABLE IF NOT EXISTS otpgate_meta ("
                                          "  name bytea PRIMARY KEY, value bytea NOT NULL)",
                                          {})
                                      .status);
          OTPGATE_ASSIGN_OR_RETURN(auto pg_schema, txn.GetMeta("pg-schema"));
          uint32_t from = DecodeU32(pg_schema).value_or(0);
          if (from > kPostgresSchemaVersion) {
            return Status::Corrupt("PostgreSQL store has schema version " + std::to_string(from) +
                                   "; this otpgate knows up to " +
                                   std::to_string(kPostgresSchemaVersion) +
                                   " (refusing to touch it)");
          }
          for (const Migration& m : kMigrations) {
            if (m.version > from) OTPGATE_RETURN_IF_ERROR(txn.Run(m.statement, {}).status);
          }
          OTPGATE_RETURN_IF_ERROR(txn.PutMeta("pg-schema", EncodeU32(kPostgresSchemaVersion)));
          OTPGATE_ASSIGN_OR_RETURN(auto schema, txn.GetMeta("schema"));
          return schema.has_value() ? Status::Ok()
                                    : txn.PutMeta("schema", EncodeU32(kSchemaVersion));
        },
        /*read_journal_tail=*/false);  // the journal table may not exist yet
  }

  // One member of a group: a SAVEPOINT, rolled back if the member fails,
  // and re-run (bounded) after a deadlock or serialization failure. The
  // member's queued writes (and its RELEASE, if its SAVEPOINT had to be
  // sent: PgTxn::ReleaseSavepoint) go with the next statement whose answer
  // is needed, or with COMMIT; if one of them is refused then, the whole
  // group fails (WriteGroup runs its members again one by one).
  Status RunNested(PgTxn& txn, const std::function<Status(Txn&)>& fn, Status& result) {
    for (int attempt = 0; attempt < kMaxStoreAttempts; ++attempt) {
      OTPGATE_ASSIGN_OR_RETURN(uint64_t savepoint, txn.Savepoint());
      result = fn(txn);
      if (result.ok() && txn.failure().ok()) {
        return txn.ReleaseSavepoint(savepoint);  // its queued writes go with what follows
      }
      if (txn.connection_lost() || txn.FailedBefore(savepoint)) {
        return txn.failure();  // the whole group fails
      }
      bool retry = txn.retryable();
      if (!txn.failure().ok()) result = txn.failure();
      OTPGATE_RETURN_IF_ERROR(txn.RollbackTo(savepoint));
      if (!retry) return Status::Ok();
    }
    return Status::Ok();  // `result` holds the last (retryable) failure
  }

  // Runs `body` in a transaction on a pooled connection, committing if it
  // returns OK (writes), within one deadline; re-runs it after a retryable
  // failure, or when the connection was lost before COMMIT was sent (a
  // pooled connection that died while idle, or a server that went away:
  // nothing of the transaction can have been committed).
  // `read_journal_tail`: see PgTxn::Begin (not before the journal exists).
  // `refused_write`: if set, a queued write the server refused (only known
  // when the writes reach it, at the latest with COMMIT) is reported there
  // as the body's own failure, and Run returns OK: nothing was committed
  // (WriteGroup's group of one, whose member's result it is).
  Status Run(bool read_only, const std::function<Status(PgTxn&)>& body,
             bool read_journal_tail = true, Status* refused_write = nullptr) {
    return RunUntil(NewDeadline(), read_only, body, read_journal_tail, refused_write);
  }
  Deadline NewDeadline() const {
    return Clock::now() + std::chrono::milliseconds(pool_.options().timeout_ms);
  }
  // Run, within `deadline`.
  // `one_statement`: a read whose body runs one statement (PgTxn::
  // BeginOneStatementRead).
  Status RunUntil(Deadline deadline, bool read_only, const std::function<Status(PgTxn&)>& body,
                  bool read_journal_tail, Status* refused_write, bool one_statement = false) {
    const std::string lock_key = read_only ? std::string() : LockKey(schema_, 'j', "journal");
    if (!read_only && lock_key.empty()) {
      return Status::Unavailable("PostgreSQL store: no key for the store's write lock");
    }
    Status last = Status::Unavailable("PostgreSQL store: transaction could not be completed");
    for (int attempt = 0; attempt < kMaxStoreAttempts && Clock::now() < deadline; ++attempt) {
      OTPGATE_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, pool_.Acquire(deadline));
      PgTxn txn(*session, read_only, deadline);
      if (one_statement && read_only) {
        txn.BeginOneStatementRead();
      } else {
        txn.Begin(lock_key, read_journal_tail && !read_only);
      }
      Status status = body(txn);
      if (!txn.failure().ok()) status = txn.failure();  // even if `body` ignored it
      if (status.ok()) status = txn.Commit();
      // A COMMIT refused by a queued write leaves the transaction aborted:
      // rolled back, the connection can be pooled again.
      if (!status.ok()) txn.Rollback();
      bool healthy =
          !txn.connection_lost() && Pq().PQtransactionStatus(session->get()) == PQTRANS_IDLE;
      pool_.Return(std::move(session), healthy);
      if (status.ok()) return status;
      last = status;
      if (txn.connection_lost() && !txn.commit_sent()) continue;
      if (txn.retryable()) continue;
      if (refused_write != nullptr && txn.write_refused()) {
        *refused_write = status;  // nothing was committed
        return Status::Ok();
      }
      return status;
    }
    return last;
  }

  const std::string location_;
  Pool pool_;
  std::string schema_;  // the schema the tables are in (or will be, before init), set by Prepare
  std::string configured_search_path_;  // the session's search_path before Prepare pinned it
};

// Refuses a location that carries a password: it would be printed by
// `otpgate config`, logged, and readable wherever the configuration is.
Status CheckLocation(const std::string& location) {
  char* error = nullptr;
  PQconninfoOption* options = Pq().PQconninfoParse(location.c_str(), &error);
  if (options == nullptr) {
    std::string message = FirstLine(error);
    Pq().PQfreemem(error);
    return Status::InvalidArgument("store: not a PostgreSQL URI or connection string: " + message);
  }
  bool has_password = false;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr && o->val[0] != '\0') {
      has_password = true;
    }
  }
  Pq().PQconninfoFree(options);
  if (has_password) {
    return Status::InvalidArgument(
        "store: the PostgreSQL location must not contain a password; use a passfile "
        "(mode 0600), PGPASSFILE or a service file (see docs/scale-out.md)");
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<Store>> OpenPostgresStore(const StoreOptions& options) {
  OTPGATE_RETURN_IF_ERROR(libpq::Load().status());
  OTPGATE_RETURN_IF_ERROR(CheckLocation(options.location));
  if (options.postgres.pool_size < 1 || options.postgres.timeout_ms < 100) {
    return Status::InvalidArgument(
        "store: PostgreSQL pool size must be >= 1 and timeout >= 100 ms");
  }
  auto store = std::make_shared<PostgresStore>(options.location, options.postgres);
  OTPGATE_RETURN_IF_ERROR(store->Prepare(options.create));
  return std::shared_ptr<Store>(store);
}

}  // namespace otpgate
