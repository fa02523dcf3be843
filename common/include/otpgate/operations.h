// The core API: the bank's three flows and the administrator's operations.
// The PAM module, the FreeRADIUS module and the CLI all call this and nothing
// below it.
//
// Two kinds of outcome are kept apart:
//  - a Status (status.h) says the operation could not be carried out: store
//    unavailable, wrong master key, malformed input, unknown token. Nothing in
//    the store changed.
//  - a Decision is the answer to a well-formed request; reject and lockout
//    decisions may have changed the store (failure counters).
#ifndef OTPGATE_OPERATIONS_H_
#define OTPGATE_OPERATIONS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "otpgate/audit.h"
#include "otpgate/clock.h"
#include "otpgate/config.h"
#include "otpgate/journal_entry.h"
#include "otpgate/otp.h"
#include "otpgate/sealing.h"
#include "otpgate/status.h"
#include "otpgate/store.h"
#include "otpgate/token_record.h"
#include "otpgate/values.h"

namespace otpgate {

class Challenges;
struct ChallengeTicket;
class ExternalSorter;
class GroupCommit;
class Journal;
class OtpService;

// A staged import whose entries are sealed and sorted by credential ID as
// they come (external_sorter.h), so that a file can be checked and prepared
// in one pass and stored without being read again: `token import` prepares
// while it checks. From OtpService::PrepareImport; stored by
// OtpService::ProvisionPrepared. Holds at most 16 MiB of entries in memory,
// the rest in an unnamed temporary file in $TMPDIR (else /var/tmp). Must not
// outlive its service. Not thread-safe.
class PreparedImport {
 public:
  PreparedImport(PreparedImport&&) noexcept;
  PreparedImport& operator=(PreparedImport&&) noexcept;
  ~PreparedImport();

  // Seals and keeps one new token, as an import would store it (credential
  // policy included; the error names the entry). A token bound to an owner
  // cannot be staged: kFailedPrecondition. kUnavailable if the temporary
  // file cannot take it (naming the directory). After an error every call
  // returns it, and so does ProvisionPrepared, storing nothing. Duplicates
  // are the caller's to refuse (the check pass does).
  Status Add(const TokenSpec& spec, const SecretBytes& secret);
  size_t size() const;
  // The first error of Add, or OK: what ProvisionPrepared would return,
  // storing nothing (a dry run reports it without storing).
  const Status& status() const { return first_error_; }

 private:
  friend class OtpService;
  PreparedImport(const OtpService& service, int64_t now, size_t expected_entries);

  const OtpService* service_;
  int64_t now_;
  std::unique_ptr<ExternalSorter> sorted_;
  Status first_error_;
};

// Threads: every member function may be called from several threads at once
// on one service (radiusd's pool, a threaded PAM application); decisions on
// the same user are serialised by the store's write transaction. The
// configuration, clock and audit sink are fixed when the service is opened.
// A service must not be used in a child after fork(): open a new one.
// Tokens per transaction of a large import (OtpService::ProvisionEach).
inline constexpr size_t kStagedImportStep = 10000;

class OtpService {
 public:
  // Opens (or with `create`, initialises) the store at config.store with the
  // key at config.master_key. The clock and the audit sink (optional: every
  // decision and change is recorded there) must outlive the service.
  static Result<std::unique_ptr<OtpService>> Open(const Config& config, const Clock& clock,
                                                  bool create = false, AuditSink* audit = nullptr);
  ~OtpService();

  // The journal's origin for calls that take none (administration): the
  // front end ("cli") and its client (the administrator). Set once, before
  // the service is shared.
  void set_origin(std::string front_end, std::string client) {
    front_end_ = std::move(front_end);
    client_ = std::move(client);
  }
  const Config& config() const { return config_; }
  AuditSink* audit_sink() const { return audit_; }

  // --- The bank's flows (the caller has checked the login password). ---

  // Each records one audit line, attributed to `origin`.

  // Login: accepts if any usable token of the user accepts `code`. A token
  // that is disabled, expired or not yet valid is skipped (and named in
  // Verdict::skipped); the others still decide.
  Result<Verdict> Verify(std::string_view user, std::string_view code, const Origin& origin = {});
  // Verify, for a login decided without a read of the user's state before
  // it (LoginFlow::BeginWithCode): a refusal that tried no code (every
  // token that could take it locked, or none bound) is audited but not
  // journaled (it writes nothing), as LoginFlow::Begin refuses a locked or
  // unenrolled user before asking. Everything else as Verify.
  Result<Verdict> VerifyJournalingAttemptsOnly(std::string_view user, std::string_view code,
                                               const Origin& origin = {});
  // RADIUS round one: the State for `user`'s challenge (challenge.h: 41
  // bytes, authenticated with a key derived from the master key, valid for
  // config().challenge_timeout seconds). Not audited: asking decides nothing.
  Result<std::vector<uint8_t>> IssueChallenge(std::string_view user);
  // RADIUS round two, at any server sharing the store and the master key:
  // Verify, once `state` is shown to be a State issued to `user`, unexpired
  // and never redeemed. The State is consumed in the transaction that
  // decides the code. A refused State is kFailedPrecondition with the
  // reason as message ("state-forged-or-other-user", "state-expired",
  // "state-used"; IsChallengeRefusal), audited as outcome=reject with that
  // reason; nothing in the store changes. A code refused before any token
  // looked at it (not digits, wrong length) leaves the State unconsumed.
  Result<Verdict> VerifyChallenged(std::string_view user, std::span<const uint8_t> state,
                                   std::string_view code, const Origin& origin = {});
  // Registration: binds an unassigned token to the user if `code` is valid
  // for it (the code is consumed). kNotFound for an unknown token,
  // kAlreadyBound if the token is bound or the user already holds a token
  // (a second token is the administrator's Assign), kFailedPrecondition if
  // the token has expired.
  Result<Verdict> Register(std::string_view user, std::string_view credential_id,
                           std::string_view code, const Origin& origin = {});
  // Stop: a valid current code of one of the user's tokens unbinds that token.
  Result<Verdict> Stop(std::string_view user, std::string_view code, const Origin& origin = {});

  // What a front end needs before it prompts (a read-only transaction).
  struct UserState {
    int bound_tokens = 0;      // active or disabled
    int active_tokens = 0;     // active and within their validity dates
    int locked_tokens = 0;     // active, valid and locked now
    int64_t lock_until = 0;    // earliest unlock among locked active tokens
    std::string locked_token;  // the token whose lock ends first
    // Digits of the codes the active tokens expect (the largest if they
    // differ): lets a front end split a password+code field.
    std::optional<int> digits;
    bool enrolled() const { return bound_tokens > 0; }
    bool locked() const { return active_tokens > 0 && locked_tokens == active_tokens; }
  };
  Result<UserState> GetUserState(std::string_view user);

  // --- Administration. ---

  // Stores a new, unassigned token with `secret` sealed under the master key.
  Status Provision(const TokenSpec& spec, const SecretBytes& secret, bool replace = false);
  // Like Provision, many tokens in one transaction; duplicates are skipped (or
  // replaced) and reported through `skipped`.
  Status ProvisionBatch(const std::vector<std::pair<TokenSpec, SecretBytes>>& tokens, bool replace,
                        std::vector<std::string>* imported, std::vector<std::string>* skipped);
  // Like ProvisionBatch, all or nothing, without holding the tokens in
  // memory: `produce` calls `put` once per token, in order; an error from
  // either stores nothing. `produce` may be called again from the start (it
  // must be re-runnable, e.g. re-read its file). Existing tokens are
  // skipped (counted in `counts`) or replaced. `shape` is what a check of
  // the tokens found (token import checks its file first):
  //  - more than kStagedImportStep new tokens, none bound to an owner, and
  //    !replace: staged (Store::WriteStaged). Every entry `produce` puts is
  //    first sealed and sorted by credential ID (in memory, spilling to an
  //    unnamed file in TemporaryDirectory(): external_sorter.h), so an
  //    error in any entry fails the import before the store is touched;
  //    then one step of kStagedImportStep tokens in memory at a time, in ID
  //    order, and all made visible at once; their
  //    journal entries say "staged:LABEL" and a last one
  //    "published:LABEL:N-tokens";
  //  - otherwise one transaction, whose memory grows with its size (a staged
  //    record cannot replace a live one, nor a binding wait unseen).
  using TokenPut = std::function<Status(const TokenSpec&, const SecretBytes&)>;
  struct ImportShape {
    size_t tokens = 0;          // entries `produce` will put
    bool binds_owners = false;  // some has TokenSpec::owner (a staged step cannot bind)
  };
  static constexpr size_t kListedSkipped = 1000;
  struct ImportCounts {
    size_t imported = 0;
    size_t skipped = 0;                      // already there, left as they were
    std::vector<std::string> first_skipped;  // the first kListedSkipped of them
  };
  Status ProvisionEach(const std::function<Status(const TokenPut& put)>& produce,
                       const ImportShape& shape, bool replace, ImportCounts* counts);
  // Whether ProvisionEach stages an import of this shape (the first case
  // above); such an import may instead be prepared and ProvisionPrepared.
  static bool Stages(const ImportShape& shape, bool replace) {
    return !replace && !shape.binds_owners && shape.tokens > kStagedImportStep;
  }
  // A staged import prepared entry by entry (PreparedImport::Add), then
  // stored like ProvisionEach's staged case: existing tokens skipped, all or
  // nothing, visible at once. `expected_entries` (0: unknown) lets the
  // temporary file refuse early if its file system cannot take them all.
  PreparedImport PrepareImport(size_t expected_entries = 0) const;
  Status ProvisionPrepared(PreparedImport& import, ImportCounts* counts);
  // Re-anchors drift (TOTP) or counter (HOTP) from two consecutive codes.
  Result<Verdict> Resync(std::string_view credential_id, std::string_view code1,
                         std::string_view code2);
  Status Unlock(std::string_view credential_id);
  // Unlocks every token bound to `user` (one transaction); the tokens that
  // were locked or had failures go to `unlocked`. kNotBound if none is bound.
  Status UnlockUser(std::string_view user, std::vector<std::string>* unlocked);
  Status SetEnabled(std::string_view credential_id, bool enabled);
  // Binds without a code (administrator override) / unbinds.
  Status Assign(std::string_view credential_id, std::string_view user);
  Status Unassign(std::string_view credential_id);
  Status Delete(std::string_view credential_id);
  Result<TokenInfo> Show(std::string_view credential_id);
  // What an import without --replace would do with `credential_id` now (a
  // dry run's answer): store it, skip it (a token has it), or fail (an
  // import that nobody can see yet is writing it: Store::WriteStaged).
  enum class ImportFate { kNew, kExists, kBeingImported };
  Result<ImportFate> FateOnImport(std::string_view credential_id);
  Result<std::vector<TokenInfo>> List(std::optional<std::string> user = std::nullopt);
  // The clear secret of a stored token (admin asked explicitly: `otpgate
  // code`, `token show --uri`).
  Result<SecretBytes> RevealSecret(std::string_view credential_id);

  // --- The audit journal (journal.h) and backups. ---
  //
  // Journalled, in the transaction of the change: every decision a flow
  // reached in the store (accept, reject, replay, locked, no-token) and every
  // administrative change that succeeded, plus `reveal`. A request that
  // failed before deciding (malformed code, unknown token, unavailable store)
  // changed nothing and is only in the audit log (AuditSink), not here.
  Result<std::vector<JournalEntry>> ReadJournal(const JournalFilter& filter);
  Result<JournalCheck> VerifyJournal();
  // Removes entries older than `before` and records a checkpoint; refuses if
  // the journal does not verify. Returns the number removed (journalled).
  Result<uint64_t> PruneJournal(int64_t before);
  // A consistent copy of the store taken while others go on deciding
  // (Store::Backup).
  Status BackupStore(const std::string& file);

  // Records one audit line in the service's sink (front ends use it for the
  // decisions they make around the core's, e.g. an unknown RADIUS State).
  void Audit(const AuditEvent& event) const;
  void Audit(std::string_view action, std::string_view user, std::string_view credential_id,
             std::string_view outcome, std::string_view reason, const Origin& origin = {}) const;
  void AuditStatus(std::string_view action, std::string_view user, std::string_view credential_id,
                   const Status& status, const Origin& origin = {}) const;
  // A debug line, when the `debug` option is on (never a code or secret).
  void Debug(std::string_view line) const;

 private:
  OtpService(Config config, const Clock& clock, std::shared_ptr<Store> store, MasterKey key,
             AuditSink* audit);
  Result<Verdict> DecideUserFlow(std::string_view action, std::string_view user,
                                 std::string_view raw_code,
                                 const std::function<Status(Txn&, TokenRecord&)>& on_accept,
                                 std::string_view accept_detail, const Origin& origin, int64_t now,
                                 const ChallengeTicket* challenge = nullptr,
                                 bool journal_untried = true);
  // Appends one journal entry in `txn` (front end and client filled in).
  Status JournalIn(Txn& txn, int64_t now, std::string_view action, std::string_view user,
                   std::string_view credential_id, std::string_view outcome,
                   std::string_view reason, const Origin& origin = {});
  // One record of an import (ProvisionBatch, ProvisionEach): stored and
  // journalled (true), or, if it exists and !replace, listed in `skipped`
  // (false).
  Result<bool> PutImported(Txn& txn, const TokenRecord& record, bool replace, int64_t now,
                           std::vector<std::string>& skipped, std::string_view reason);
  // The audit line of a whole import.
  void AuditImport(const Status& status, size_t imported) const;
  // A new token's record, sealed, allowed by the credential policy.
  Result<TokenRecord> NewImportRecord(const TokenSpec& spec, const SecretBytes& secret,
                                      int64_t now) const;
  friend class PreparedImport;
  // Runs `change` on one token in a write transaction, journals it as
  // `action` (with `outcome`, "ok" unless change sets it) and audits it.
  Status ChangeToken(std::string_view action, std::string_view raw_id,
                     const std::function<Status(Txn&, TokenRecord&, std::string& outcome)>& change);

  Config config_;
  const Clock& clock_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<GroupCommit> commits_;  // the flows' writes share durable commits
  MasterKey key_;
  AuditSink* const audit_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<Challenges> challenges_;
  std::string front_end_;  // set_origin
  std::string client_;
};

// True for the status VerifyChallenged gives a refused State.
bool IsChallengeRefusal(const Status& status);

// Initialises a deployment: creates the master key (if absent) and the store.
// Refuses to replace an existing key (kAlreadyExists is not returned: an
// existing key that opens the store is fine, one that does not is kWrongKey).
// `changed` (if not null) says whether anything was created.
Status InitializeDeployment(const Config& config, bool* changed = nullptr);

}  // namespace otpgate

#endif  // OTPGATE_OPERATIONS_H_
