#include "otpgate/operations.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <random>

#include "challenge.h"
#include "external_sorter.h"
#include "group_commit.h"
#include "journal.h"
#include "otpgate/credential_policy.h"
#include "otpgate/normalize.h"
#include "verification.h"

namespace otpgate {
namespace {

constexpr std::string_view kKeyCheckName = "key-check";
constexpr std::string_view kKeyCheckPlaintext = "otpgate master key check v1";
constexpr std::string_view kKeyCheckAad = "otpgate:meta:key-check";

// The additional authenticated data of a token's sealed secret.
std::string SecretAad(std::string_view credential_id) {
  return "otpgate:token:" + std::string(credential_id);
}

TokenInfo InfoOf(const TokenRecord& r) {
  return TokenInfo{r.credential_id, r.params,       r.state,      r.owner,      r.issuer,
                   r.last_accepted, r.drift,        r.failures,   r.lock_until, r.created_at,
                   r.bound_at,      r.last_used_at, r.valid_from, r.valid_until};
}

}  // namespace

std::string_view DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kAccept:
      return "accept";
    case Decision::kReject:
      return "reject";
    case Decision::kReplay:
      return "replay";
    case Decision::kLocked:
      return "locked";
    case Decision::kNoToken:
      return "no-token";
  }
  return "unknown";
}

OtpService::OtpService(Config config, const Clock& clock, std::shared_ptr<Store> store,
                       MasterKey key, AuditSink* audit)
    : config_(std::move(config)),
      clock_(clock),
      store_(std::move(store)),
      commits_(std::make_unique<GroupCommit>(*store_)),
      key_(std::move(key)),
      audit_(audit),
      journal_(std::make_unique<Journal>(key_)),
      challenges_(std::make_unique<Challenges>(key_)) {}

OtpService::~OtpService() = default;

Result<std::unique_ptr<OtpService>> OtpService::Open(const Config& config, const Clock& clock,
                                                     bool create, AuditSink* audit) {
  OTPGATE_ASSIGN_OR_RETURN(MasterKey key, MasterKey::Load(config.master_key));
  StoreOptions options;
  options.location = config.store;
  options.postgres.timeout_ms = config.store_timeout_ms;
  options.postgres.pool_size = config.store_pool_size;
  options.create = create;
  OTPGATE_ASSIGN_OR_RETURN(std::shared_ptr<Store> store, Store::Open(options));

  // The key check tells "wrong master key" apart from a corrupt record.
  bool have_check = false;
  OTPGATE_RETURN_IF_ERROR(store->Read([&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(auto check, txn.GetMeta(kKeyCheckName));
    if (!check.has_value()) {
      return Status::Ok();
    }
    have_check = true;
    auto opened = key.Open(*check, kKeyCheckAad);
    if (!opened.ok() || std::string_view(reinterpret_cast<const char*>(opened->data()),
                                         opened->size()) != kKeyCheckPlaintext) {
      return Status::WrongKey("master key " + config.master_key + " does not open store " +
                              config.store);
    }
    return Status::Ok();
  }));
  if (!have_check) {
    if (!create) {
      return Status::Corrupt("store " + config.store + " has no key check (run otpgate init)");
    }
    std::span<const uint8_t> plaintext(reinterpret_cast<const uint8_t*>(kKeyCheckPlaintext.data()),
                                       kKeyCheckPlaintext.size());
    OTPGATE_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, key.Seal(plaintext, kKeyCheckAad));
    OTPGATE_RETURN_IF_ERROR(store->Write([&](Txn& txn) -> Status {
      OTPGATE_ASSIGN_OR_RETURN(auto check, txn.GetMeta(kKeyCheckName));
      if (check.has_value()) {
        return Status::Ok();  // a concurrent init won; its check is verified next open
      }
      return txn.PutMeta(kKeyCheckName, sealed);
    }));
  }
  return std::unique_ptr<OtpService>(
      new OtpService(config, clock, std::move(store), std::move(key), audit));
}

void OtpService::Audit(const AuditEvent& event) const {
  if (audit_ != nullptr) audit_->Record(event);
}

void OtpService::Audit(std::string_view action, std::string_view user,
                       std::string_view credential_id, std::string_view outcome,
                       std::string_view reason, const Origin& origin) const {
  Audit(AuditEvent{action, user, credential_id, outcome, reason, {}, origin});
}

void OtpService::AuditStatus(std::string_view action, std::string_view user,
                             std::string_view credential_id, const Status& status,
                             const Origin& origin) const {
  Audit(action, user, credential_id, status.ok() ? "ok" : StatusCodeName(status.code()),
        status.message(), origin);
}

void OtpService::Debug(std::string_view line) const {
  if (audit_ != nullptr && config_.debug) audit_->Debug(line);
}

Status OtpService::JournalIn(Txn& txn, int64_t now, std::string_view action, std::string_view user,
                             std::string_view credential_id, std::string_view outcome,
                             std::string_view reason, const Origin& origin) {
  JournalEntry entry;
  entry.time = now;
  entry.action = action;
  entry.user = user;
  entry.token = credential_id;
  entry.outcome = outcome;
  entry.reason = reason;
  // A flow names its origin; administration uses the service's (set_origin).
  // The client is the RADIUS client, else the PAM service.
  const bool given = !origin.front_end.empty();
  entry.front_end = given ? origin.front_end : std::string_view(front_end_);
  entry.client = !given                  ? std::string_view(client_)
                 : origin.client.empty() ? origin.service
                                         : origin.client;
  return journal_->Append(txn, std::move(entry));
}

namespace {

// Unseals a token's secret and keys an HMAC with it.
Result<HmacKey> KeyFor(const MasterKey& master, const TokenRecord& record) {
  auto secret = master.Open(record.sealed_secret, SecretAad(record.credential_id));
  if (!secret.ok()) {
    return Status::Corrupt("token " + record.credential_id + ": " + secret.status().message());
  }
  return HmacKey::Create(record.params.algorithm, secret.value());
}

// Keys prepared before the write transaction, in the caller's own thread:
// unsealing and keying are the costly part of a decision, and inside the
// (serialised, group-committed) write transaction they would hold up every
// request of the group. A prepared key is used only if the record's sealed
// secret and algorithm are still the ones it was made from.
class PreparedKeys {
 public:
  void Prepare(const MasterKey& master, const TokenRecord& record) {
    auto key = KeyFor(master, record);
    if (key.ok()) {
      entries_.push_back({record.credential_id, record.sealed_secret, record.params.algorithm,
                          std::move(key).value()});
    }
  }
  // The key for `record`: prepared, or made now.
  Result<const HmacKey*> For(const MasterKey& master, const TokenRecord& record) {
    for (Entry& e : entries_) {
      if (e.credential_id == record.credential_id && e.sealed == record.sealed_secret &&
          e.algorithm == record.params.algorithm) {
        return &e.key;
      }
    }
    OTPGATE_ASSIGN_OR_RETURN(HmacKey key, KeyFor(master, record));
    entries_.push_back(
        {record.credential_id, record.sealed_secret, record.params.algorithm, std::move(key)});
    return &entries_.back().key;
  }

 private:
  struct Entry {
    std::string credential_id;
    std::vector<uint8_t> sealed;
    HashAlgorithm algorithm;
    HmacKey key;
  };
  std::deque<Entry> entries_;  // stable addresses
};

// Prepares the keys of the user's active tokens from a read of their
// records, if the store's reads are local (LMDB). A PostgreSQL read is a
// round trip and a statement on a server whose CPU the pool shares, for the
// sake of moving a few microseconds of unsealing out of the write: there
// the write makes the keys from the rows it reads anyway.
PreparedKeys PrepareUserKeys(Store& store, const MasterKey& master, std::string_view user) {
  PreparedKeys keys;
  if (!store.ReadsAreLocal()) return keys;
  auto records = store.ReadUserTokenRecords(user);
  if (!records.ok()) return keys;  // best effort: redone (and reported) in the write
  for (const TokenRecord& record : *records) {
    if (record.state == TokenState::kActive) keys.Prepare(master, record);
  }
  return keys;
}

// How a decision over several tokens is summarised: an accept wins; then a
// replay (the user typed a used code); then reject; locked only if every
// candidate token was locked.
int DecisionRank(Decision d) {
  switch (d) {
    case Decision::kAccept:
      return 4;
    case Decision::kReplay:
      return 3;
    case Decision::kReject:
      return 2;
    case Decision::kLocked:
      return 1;
    case Decision::kNoToken:
      return 0;
  }
  return 0;
}

}  // namespace

// Runs the user's active tokens against `code` inside `txn`. On accept only
// the accepting token is changed; otherwise every attempted token records its
// failure. `on_accept` may further change the accepting record (Stop unbinds).
static Result<Verdict> DecideForUser(Txn& txn, const MasterKey& master, PreparedKeys& keys,
                                     const Config& config, std::string_view user,
                                     std::string_view code, int64_t now,
                                     const std::function<Status(Txn&, TokenRecord&)>& on_accept) {
  OTPGATE_ASSIGN_OR_RETURN(std::vector<TokenRecord> records, txn.UserTokenRecords(user));
  struct Candidate {
    TokenRecord record;
    Attempt attempt;
  };
  std::vector<Candidate> candidates;
  std::string skipped;
  bool any_bound = false;
  bool any_usable = false;  // active, and valid now
  bool any_length_match = false;
  for (TokenRecord& record : records) {
    const std::string& id = record.credential_id;
    if (record.owner != user) {
      return Status::Corrupt("user index lists token " + id + " which belongs to someone else");
    }
    any_bound = true;
    std::string_view unusable = record.state == TokenState::kDisabled ? "disabled"
                                : record.ExpiredAt(now)               ? "expired"
                                : record.NotYetValidAt(now)           ? "not-yet-valid"
                                                                      : "";
    if (!unusable.empty()) {
      // Expiry and disablement are per token: the user's other tokens decide.
      skipped += (skipped.empty() ? "" : ",") + id + ":" + std::string(unusable);
      continue;
    }
    if (record.state != TokenState::kActive) continue;
    any_usable = true;
    if (static_cast<int>(code.size()) != record.params.digits) continue;
    any_length_match = true;
    OTPGATE_ASSIGN_OR_RETURN(const HmacKey* key, keys.For(master, record));
    OTPGATE_ASSIGN_OR_RETURN(Attempt attempt, ApplyAttempt(record, *key, code, now, config));
    candidates.push_back({std::move(record), attempt});
  }
  Verdict verdict;
  verdict.skipped = skipped;
  if (!any_bound) {
    verdict.decision = Decision::kNoToken;
    return verdict;
  }
  if (candidates.empty()) {
    if (any_usable && !any_length_match) {
      return Status::InvalidArgument("one-time password has the wrong number of digits");
    }
    verdict.decision = Decision::kReject;  // no token can be used now
    return verdict;
  }
  // Among locked tokens, the one whose lock ends first: the user is told
  // when they can try again.
  auto best = std::max_element(
      candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        int ra = DecisionRank(a.attempt.decision), rb = DecisionRank(b.attempt.decision);
        if (ra != rb) return ra < rb;
        return a.attempt.decision == Decision::kLocked && a.record.lock_until > b.record.lock_until;
      });
  verdict.decision = best->attempt.decision;
  verdict.credential_id = best->record.credential_id;
  if (verdict.decision == Decision::kAccept) {
    OTPGATE_RETURN_IF_ERROR(on_accept(txn, best->record));
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(best->record));
  } else {
    for (Candidate& c : candidates) {
      if (c.attempt.changed) {
        OTPGATE_RETURN_IF_ERROR(txn.PutToken(c.record));
      }
    }
  }
  verdict.failures = best->record.failures;
  verdict.lock_until = best->record.lock_until;
  return verdict;
}

// Login and stop: decide on the user's tokens in one group-committed write.
Result<Verdict> OtpService::DecideUserFlow(
    std::string_view action, std::string_view user, std::string_view raw_code,
    const std::function<Status(Txn&, TokenRecord&)>& on_accept, std::string_view accept_detail,
    const Origin& origin, int64_t now, const ChallengeTicket* challenge, bool journal_untried) {
  Status valid_user = ValidateUserName(user);
  if (!valid_user.ok()) {
    AuditStatus(action, user, "", valid_user, origin);
    return valid_user;
  }
  auto code = NormalizeCodeAnyLength(raw_code);
  if (!code.ok()) {
    AuditStatus(action, user, "", code.status(), origin);
    return code.status();
  }
  PreparedKeys keys = PrepareUserKeys(*store_, key_, user);
  Verdict verdict;
  // The same reason goes to the journal (in the transaction) and the audit line.
  auto reason = [&]() -> std::string_view {
    if (verdict.decision == Decision::kReject && verdict.credential_id.empty()) {
      return "no-usable-token";
    }
    return verdict.decision == Decision::kAccept   ? accept_detail
           : verdict.decision == Decision::kLocked ? "token-locked"
           : verdict.decision == Decision::kReplay ? "code-already-used"
           : verdict.decision == Decision::kReject ? "wrong-code"
                                                   : "";
  };
  ChallengeRefusal refusal = ChallengeRefusal::kNone;
  Status status = commits_->Write(
      [&](Txn& txn) -> Status {
        if (challenge != nullptr) {
          // The State is spent with the decision it allows: both commit, or neither.
          OTPGATE_ASSIGN_OR_RETURN(refusal, Challenges::Consume(txn, *challenge, now));
          if (refusal != ChallengeRefusal::kNone) {
            return Status::FailedPrecondition(std::string(ChallengeRefusalName(refusal)));
          }
        }
        OTPGATE_ASSIGN_OR_RETURN(
            verdict, DecideForUser(txn, key_, keys, config_, user, *code, now, on_accept));
        if (!journal_untried &&
            (verdict.decision == Decision::kLocked || verdict.decision == Decision::kNoToken)) {
          // Nothing was tried and nothing written: the member ends without a
          // write (on PostgreSQL its savepoint is never sent, and the group's
          // read of its users' tokens stays good for the members after it).
          return Status::Ok();
        }
        return JournalIn(txn, now, action, user, verdict.credential_id,
                         DecisionName(verdict.decision), reason(), origin);
      },
      user);
  WipeString(*code);
  if (refusal != ChallengeRefusal::kNone) {
    Audit(action, user, "", "reject", ChallengeRefusalName(refusal), origin);
    return status;
  }
  if (!status.ok()) {
    AuditStatus(action, user, "", status, origin);
    return status;
  }
  Audit(AuditEvent{action, user, verdict.credential_id, DecisionName(verdict.decision), reason(),
                   verdict.skipped, origin});
  return verdict;
}

Result<Verdict> OtpService::Verify(std::string_view user, std::string_view raw_code,
                                   const Origin& origin) {
  return DecideUserFlow(
      "login", user, raw_code, [](Txn&, TokenRecord&) { return Status::Ok(); }, "", origin,
      clock_.Now());
}

Result<Verdict> OtpService::VerifyJournalingAttemptsOnly(std::string_view user,
                                                         std::string_view raw_code,
                                                         const Origin& origin) {
  return DecideUserFlow(
      "login", user, raw_code, [](Txn&, TokenRecord&) { return Status::Ok(); }, "", origin,
      clock_.Now(), nullptr, /*journal_untried=*/false);
}

Result<std::vector<uint8_t>> OtpService::IssueChallenge(std::string_view user) {
  OTPGATE_RETURN_IF_ERROR(ValidateUserName(user));
  return challenges_->Issue(user, clock_.Now(), config_.challenge_timeout);
}

Result<Verdict> OtpService::VerifyChallenged(std::string_view user, std::span<const uint8_t> state,
                                             std::string_view code, const Origin& origin) {
  const int64_t now = clock_.Now();
  ChallengeCheck check = challenges_->Check(state, user, now);
  if (check.refusal != ChallengeRefusal::kNone) {
    Audit("login", user, "", "reject", ChallengeRefusalName(check.refusal), origin);
    return Status::FailedPrecondition(std::string(ChallengeRefusalName(check.refusal)));
  }
  return DecideUserFlow(
      "login", user, code, [](Txn&, TokenRecord&) { return Status::Ok(); }, "", origin, now,
      &check.ticket);
}

bool IsChallengeRefusal(const Status& status) {
  if (status.code() != StatusCode::kFailedPrecondition) return false;
  for (ChallengeRefusal r : {ChallengeRefusal::kForgedOrOtherUser, ChallengeRefusal::kExpired,
                             ChallengeRefusal::kUsed}) {
    if (status.message() == ChallengeRefusalName(r)) return true;
  }
  return false;
}

namespace {

// A registering user's failures live in the meta table under this prefix
// (lockout.h): wrong codes and wrong IDs count against the user, never
// against a token nobody has registered yet.
std::string RegistrantKey(std::string_view user) {
  return "register-failures:" + std::string(user);
}

Result<FailureState> LoadRegistrant(Txn& txn, std::string_view user) {
  OTPGATE_ASSIGN_OR_RETURN(std::optional<std::vector<uint8_t>> bytes,
                           txn.GetMeta(RegistrantKey(user)));
  if (!bytes.has_value()) return FailureState{};
  return DecodeFailureState(*bytes);
}

// Why a registration was refused, for the audit trail only: the answer to
// the user is one kReject whatever the reason, so that the register screen
// cannot be used to learn which credential IDs exist or are free.
Result<std::string> RegistrationObstacle(const Result<TokenRecord>& record, std::string_view code,
                                         int64_t now) {
  if (!record.ok()) {
    if (record.status().code() != StatusCode::kNotFound) return record.status();
    return std::string("unknown-token");
  }
  if (record->state != TokenState::kUnassigned) {
    return std::string("token-bound-to-another-user");
  }
  if (static_cast<int>(code.size()) != record->params.digits) {
    return std::string("wrong-number-of-digits");
  }
  if ((record->valid_until != 0 && now > record->valid_until) ||
      (record->valid_from != 0 && now < record->valid_from)) {
    return std::string("token-outside-validity-period");
  }
  return std::string();
}

}  // namespace

Result<Verdict> OtpService::Register(std::string_view user, std::string_view raw_id,
                                     std::string_view raw_code, const Origin& origin) {
  Status valid_user = ValidateUserName(user);
  if (!valid_user.ok()) {
    AuditStatus("register", user, "", valid_user, origin);
    return valid_user;
  }
  auto id = NormalizeCredentialId(raw_id);
  if (id.ok()) {
    Status allowed = CheckCredentialId(config_, *id);
    if (!allowed.ok()) id = allowed;
  }
  if (!id.ok()) {
    AuditStatus("register", user, "", id.status(), origin);
    return id.status();
  }
  auto code = NormalizeCodeAnyLength(raw_code);
  if (!code.ok()) {
    AuditStatus("register", user, *id, code.status(), origin);
    return code.status();
  }
  const int64_t now = clock_.Now();
  Verdict verdict;
  std::string obstacle;
  auto decide = [&](Txn& txn) -> Status {
    verdict = Verdict();
    verdict.credential_id = *id;
    // Self-service registration is for users without a token: otherwise
    // anyone holding the password could add their own token and bypass the
    // one the customer has. Further tokens are an administrator's `assign`.
    OTPGATE_ASSIGN_OR_RETURN(std::vector<std::string> bound, txn.UserTokens(user));
    if (!bound.empty()) {
      return std::find(bound.begin(), bound.end(), *id) != bound.end()
                 ? Status::AlreadyBound("token " + *id + " is already registered to this user")
                 : Status::AlreadyBound("user already has a registered token (stop it first)");
    }
    OTPGATE_ASSIGN_OR_RETURN(FailureState registrant, LoadRegistrant(txn, user));
    if (registrant.LockedAt(now)) {
      verdict.decision = Decision::kLocked;
      verdict.failures = registrant.failures;
      verdict.lock_until = registrant.lock_until;
      obstacle = "registrant-locked";
      return Status::Ok();
    }
    Result<TokenRecord> record = txn.GetToken(*id);
    OTPGATE_ASSIGN_OR_RETURN(obstacle, RegistrationObstacle(record, *code, now));
    if (!obstacle.empty()) {
      verdict.decision = Decision::kReject;
      CountFailure(registrant, std::nullopt, now, config_);
    } else {
      OTPGATE_ASSIGN_OR_RETURN(HmacKey key, KeyFor(key_, *record));
      OTPGATE_ASSIGN_OR_RETURN(Attempt attempt,
                               ApplyRegistration(*record, key, *code, now, config_, registrant));
      verdict.decision = attempt.decision;
      if (attempt.decision == Decision::kAccept) {
        record->state = TokenState::kActive;
        record->owner = std::string(user);
        record->bound_at = now;
        OTPGATE_RETURN_IF_ERROR(txn.AddUserToken(user, *id));
        OTPGATE_RETURN_IF_ERROR(txn.PutToken(*record));
      }
    }
    verdict.failures = registrant.failures;
    verdict.lock_until = registrant.lock_until;
    return txn.PutMeta(RegistrantKey(user), EncodeFailureState(registrant));
  };
  // Every decision reached here is journalled in its transaction.
  Status status = commits_->Write([&](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(decide(txn));
    return JournalIn(txn, now, "register", user, *id, DecisionName(verdict.decision),
                     verdict.decision == Decision::kAccept ? "token-bound" : obstacle, origin);
  });
  WipeString(*code);
  if (!status.ok()) {
    AuditStatus("register", user, *id, status, origin);
    return status;
  }
  Audit("register", user, *id, DecisionName(verdict.decision),
        verdict.decision == Decision::kAccept ? "token-bound" : obstacle, origin);
  return verdict;
}

Result<Verdict> OtpService::Stop(std::string_view user, std::string_view raw_code,
                                 const Origin& origin) {
  return DecideUserFlow(
      "stop", user, raw_code,
      [user](Txn& txn, TokenRecord& record) {
        record.state = TokenState::kUnassigned;
        record.owner.clear();
        record.bound_at = 0;
        // The replay mark stays: the code just used cannot register the
        // token again.
        return txn.RemoveUserToken(user, record.credential_id);
      },
      "token-unbound", origin, clock_.Now());
}

Result<OtpService::UserState> OtpService::GetUserState(std::string_view user) {
  OTPGATE_RETURN_IF_ERROR(ValidateUserName(user));
  const int64_t now = clock_.Now();
  UserState state;
  // One read of the user's tokens (PostgreSQL: one round trip): a RADIUS
  // request asks this before its decision, once or twice.
  OTPGATE_ASSIGN_OR_RETURN(std::vector<TokenRecord> records, store_->ReadUserTokenRecords(user));
  for (const TokenRecord& record : records) {
    ++state.bound_tokens;
    if (record.state != TokenState::kActive || record.ExpiredAt(now) || record.NotYetValidAt(now)) {
      continue;
    }
    ++state.active_tokens;
    state.digits = std::max(state.digits.value_or(0), record.params.digits);
    if (record.LockedAt(now)) {
      ++state.locked_tokens;
      if (state.lock_until == 0 || record.lock_until < state.lock_until) {
        state.lock_until = record.lock_until;
        state.locked_token = record.credential_id;
      }
    }
  }
  return state;
}

namespace {

Result<TokenRecord> NewRecord(const MasterKey& master, const TokenSpec& spec,
                              const SecretBytes& secret, int64_t now) {
  OTPGATE_RETURN_IF_ERROR(spec.params.Validate());
  if (secret.size() < 10 || secret.size() > 128) {
    // RFC 4226 §4 R6: at least 128 bits; 80 bits tolerated for old tokens.
    return Status::InvalidArgument("secret must be 10 to 128 bytes");
  }
  TokenRecord record;
  OTPGATE_ASSIGN_OR_RETURN(record.credential_id, NormalizeCredentialId(spec.credential_id));
  record.params = spec.params;
  record.issuer = spec.issuer.substr(0, 255);
  record.created_at = now;
  record.valid_from = spec.valid_from;
  record.valid_until = spec.valid_until;
  if (spec.params.kind == OtpKind::kHotp) {
    if (spec.initial_counter > static_cast<uint64_t>(kMaxHotpCounter)) {
      return Status::InvalidArgument("HOTP counter is too large (at most " +
                                     std::to_string(kMaxHotpCounter) + ")");
    }
    record.last_accepted = static_cast<int64_t>(spec.initial_counter) - 1;
  } else {
    record.drift = spec.drift;
    record.last_accepted = spec.last_used_step;
  }
  if (!spec.owner.empty()) {
    OTPGATE_RETURN_IF_ERROR(ValidateUserName(spec.owner));
    record.state = TokenState::kActive;
    record.owner = spec.owner;
    record.bound_at = now;
  }
  OTPGATE_ASSIGN_OR_RETURN(record.sealed_secret,
                           master.Seal(secret.span(), SecretAad(record.credential_id)));
  return record;
}

// Memory a staged import sorts in before it spills a run to its temporary
// file: 16 MiB holds ~86,000 records (~195 bytes each with a 20-byte secret).
constexpr size_t kImportSortRunBytes = 16 << 20;

// Why an ID that HasToken reports taken cannot be used for a new token:
// a token has it, or an import that nobody can see yet is writing it
// (Store::WriteStaged); only the first may be skipped or replaced.
bool HeldByAnImport(Txn& txn, std::string_view credential_id) {
  return txn.GetToken(credential_id).status().code() == StatusCode::kNotFound;
}
Status HeldByAnImportError(std::string_view credential_id) {
  return Status::AlreadyExists("token " + std::string(credential_id) +
                               " is being imported by another process");
}

// Replacing a token that is bound also drops its user index entry; a token
// provisioned bound gets one. `exists`: what HasToken said.
Status PutNewRecord(Txn& txn, const TokenRecord& record, bool exists) {
  auto existing = txn.GetToken(record.credential_id);
  if (exists && existing.status().code() == StatusCode::kNotFound) {
    return HeldByAnImportError(record.credential_id);
  }
  if (existing.ok() && !existing->owner.empty()) {
    OTPGATE_RETURN_IF_ERROR(txn.RemoveUserToken(existing->owner, record.credential_id));
  }
  if (!record.owner.empty()) {
    OTPGATE_RETURN_IF_ERROR(txn.AddUserToken(record.owner, record.credential_id));
  }
  return txn.PutToken(record);
}

// NewRecord, refused unless the credential policy allows its ID.
Result<TokenRecord> AllowedNewRecord(const MasterKey& master, const Config& config,
                                     const TokenSpec& spec, const SecretBytes& secret,
                                     int64_t now) {
  OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, NewRecord(master, spec, secret, now));
  OTPGATE_RETURN_IF_ERROR(CheckCredentialId(config, record.credential_id));
  return record;
}

// An import's error names the entry it is about.
Status NameEntry(const TokenSpec& spec, const Status& status) {
  return Status(status.code(), spec.credential_id + ": " + status.message());
}

}  // namespace

Result<bool> OtpService::PutImported(Txn& txn, const TokenRecord& record, bool replace, int64_t now,
                                     std::vector<std::string>& skipped, std::string_view reason) {
  const bool exists = txn.HasToken(record.credential_id);
  if (!replace && exists) {
    if (HeldByAnImport(txn, record.credential_id)) {
      return HeldByAnImportError(record.credential_id);
    }
    skipped.push_back(record.credential_id);
    return false;
  }
  OTPGATE_RETURN_IF_ERROR(PutNewRecord(txn, record, exists));
  OTPGATE_RETURN_IF_ERROR(
      JournalIn(txn, now, "import", record.owner, record.credential_id, "ok", reason));
  return true;
}

void OtpService::AuditImport(const Status& status, size_t imported) const {
  Audit("import", "", "", status.ok() ? "ok" : StatusCodeName(status.code()),
        status.ok() ? std::to_string(imported) + "-tokens-imported" : status.message());
}

Status OtpService::Provision(const TokenSpec& spec, const SecretBytes& secret, bool replace) {
  auto record = AllowedNewRecord(key_, config_, spec, secret, clock_.Now());
  if (!record.ok()) {
    AuditStatus("provision", "", spec.credential_id, record.status());
    return record.status();
  }
  const int64_t now = clock_.Now();
  Status status = store_->Write([&](Txn& txn) -> Status {
    const bool exists = txn.HasToken(record->credential_id);
    if (!replace && exists) {
      return HeldByAnImport(txn, record->credential_id)
                 ? HeldByAnImportError(record->credential_id)
                 : Status::AlreadyExists("token " + record->credential_id + " already exists");
    }
    OTPGATE_RETURN_IF_ERROR(PutNewRecord(txn, *record, exists));
    return JournalIn(txn, now, "provision", record->owner, record->credential_id, "ok",
                     exists ? "replaced" : "");
  });
  AuditStatus("provision", "", record->credential_id, status);
  return status;
}

Status OtpService::ProvisionBatch(const std::vector<std::pair<TokenSpec, SecretBytes>>& tokens,
                                  bool replace, std::vector<std::string>* imported,
                                  std::vector<std::string>* skipped) {
  const int64_t now = clock_.Now();
  std::vector<TokenRecord> records;
  records.reserve(tokens.size());
  for (const auto& [spec, secret] : tokens) {
    auto record = AllowedNewRecord(key_, config_, spec, secret, now);
    if (!record.ok()) return NameEntry(spec, record.status());
    records.push_back(std::move(record).value());
  }
  std::vector<std::string> done, dup;
  Status status = store_->Write([&](Txn& txn) -> Status {
    done.clear();
    dup.clear();
    for (const TokenRecord& record : records) {
      OTPGATE_ASSIGN_OR_RETURN(bool stored, PutImported(txn, record, replace, now, dup, ""));
      if (stored) done.push_back(record.credential_id);
    }
    return Status::Ok();
  });
  AuditImport(status, done.size());
  if (status.ok()) {
    if (imported != nullptr) *imported = std::move(done);
    if (skipped != nullptr) *skipped = std::move(dup);
  }
  return status;
}

Result<TokenRecord> OtpService::NewImportRecord(const TokenSpec& spec, const SecretBytes& secret,
                                                int64_t now) const {
  auto record = AllowedNewRecord(key_, config_, spec, secret, now);
  if (!record.ok()) return NameEntry(spec, record.status());
  return record;
}

PreparedImport::PreparedImport(const OtpService& service, int64_t now, size_t expected_entries)
    : service_(&service),
      now_(now),
      sorted_(std::make_unique<ExternalSorter>(TemporaryDirectory(), kImportSortRunBytes,
                                               expected_entries)) {}
PreparedImport::PreparedImport(PreparedImport&&) noexcept = default;
PreparedImport& PreparedImport::operator=(PreparedImport&&) noexcept = default;
PreparedImport::~PreparedImport() = default;

Status PreparedImport::Add(const TokenSpec& spec, const SecretBytes& secret) {
  if (sorted_ == nullptr) return Status::Internal("PreparedImport::Add on a moved-from import");
  OTPGATE_RETURN_IF_ERROR(first_error_);
  auto record = service_->NewImportRecord(spec, secret, now_);
  if (record.ok() && !record->owner.empty()) {
    record = Status::FailedPrecondition(spec.credential_id +
                                        ": bound to an owner, which a staged import cannot do");
  }
  first_error_ = record.ok() ? sorted_->Add(record->credential_id, EncodeTokenRecord(*record))
                             : record.status();
  return first_error_;
}

size_t PreparedImport::size() const { return sorted_ != nullptr ? sorted_->size() : 0; }

PreparedImport OtpService::PrepareImport(size_t expected_entries) const {
  return PreparedImport(*this, clock_.Now(), expected_entries);
}

namespace {

// Skipped IDs are counted, and the first kListedSkipped kept.
void NoteSkipped(OtpService::ImportCounts& counts, std::vector<std::string>& ids) {
  counts.skipped += ids.size();
  for (std::string& id : ids) {
    if (counts.first_skipped.size() == OtpService::kListedSkipped) break;
    counts.first_skipped.push_back(std::move(id));
  }
  ids.clear();
}

}  // namespace

Status OtpService::ProvisionPrepared(PreparedImport& import, ImportCounts* counts) {
  if (import.sorted_ == nullptr || import.service_ != this) {
    return Status::Internal("an import prepared by another service, or moved from");
  }
  if (!import.first_error_.ok()) {  // incomplete: nothing may be stored
    AuditImport(import.first_error_, 0);
    return import.first_error_;
  }
  // The records were made when the import was prepared; its journal entries
  // are written now, after those of whatever happened meanwhile.
  const int64_t now = clock_.Now();
  ImportCounts done;
  // Unique enough to join an import's entries: time, process, and 32 random
  // bits (two imports in one second may have the same PID, e.g. PID 1 of
  // two containers).
  char random[9];
  std::snprintf(random, sizeof random, "%08x", std::random_device{}());
  const std::string label = std::to_string(now) + "-" + std::to_string(::getpid()) + "-" + random;
  // Stored in credential ID order, whatever the file's: a step fills a few
  // neighbouring pages of the store instead of one page per token. One
  // step's tokens are held here at a time. Their journal entries say they
  // are staged; the last entry says the import was published.
  std::vector<TokenRecord> held;
  Status status = store_->WriteStaged(
      label,
      [&](const Store::StagedStep& step) -> Status {
        done = ImportCounts();
        held.clear();
        auto flush = [&]() -> Status {
          size_t stored = 0;
          std::vector<std::string> existing;
          OTPGATE_RETURN_IF_ERROR(step([&](Txn& txn) -> Status {
            stored = 0;
            existing.clear();
            for (const TokenRecord& record : held) {
              OTPGATE_ASSIGN_OR_RETURN(
                  bool put, PutImported(txn, record, false, now, existing, "staged:" + label));
              if (put) ++stored;
            }
            return Status::Ok();
          }));
          done.imported += stored;
          NoteSkipped(done, existing);
          held.clear();
          return Status::Ok();
        };
        OTPGATE_RETURN_IF_ERROR(import.sorted_->ForEach(
            [&](std::string_view id, std::span<const uint8_t> encoded) -> Status {
              OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, DecodeTokenRecord(encoded));
              // The temporary file gives back what was put in it, or the
              // import stops (it lies outside the store's protection).
              if (record.credential_id != id || !record.owner.empty()) {
                return Status::Corrupt("the import's temporary file in " +
                                       import.sorted_->directory() + " was altered");
              }
              held.push_back(std::move(record));
              return held.size() == kStagedImportStep ? flush() : Status::Ok();
            }));
        return flush();
      },
      [&](Txn& txn) {
        return JournalIn(txn, now, "import", "", "", "ok",
                         "published:" + label + ":" + std::to_string(done.imported) + "-tokens");
      },
      // Its staged entries are in the journal: they never took effect. Also
      // run for an import killed earlier (another label), when this one
      // removes what it left: "unavailable", its process is gone.
      [&](Txn& txn, std::string_view ended, const Status& why) {
        return JournalIn(txn, now, "import", "", "", StatusCodeName(why.code()),
                         "abandoned:" + std::string(ended));
      });
  AuditImport(status, done.imported);
  if (status.ok() && counts != nullptr) *counts = std::move(done);
  return status;
}

Status OtpService::ProvisionEach(const std::function<Status(const TokenPut& put)>& produce,
                                 const ImportShape& shape, bool replace, ImportCounts* counts) {
  if (Stages(shape, replace)) {
    // Staged: every entry is sealed and sorted before the store is touched
    // (a bad one, or no room for the temporary file, fails the import
    // first); see ProvisionPrepared.
    PreparedImport import = PrepareImport(shape.tokens);
    Status prepared = produce([&](const TokenSpec& spec, const SecretBytes& secret) -> Status {
      if (!spec.owner.empty()) {
        return Status::FailedPrecondition(
            spec.credential_id +
            ": bound to an owner, which the check said no entry was (did the file change since "
            "it was checked?)");
      }
      return import.Add(spec, secret);
    });
    if (!prepared.ok()) {
      AuditImport(prepared, 0);
      return prepared;
    }
    return ProvisionPrepared(import, counts);
  }
  const int64_t now = clock_.Now();
  ImportCounts done;
  Status status = store_->Write([&](Txn& txn) -> Status {
    done = ImportCounts();
    std::vector<std::string> existing;
    return produce([&](const TokenSpec& spec, const SecretBytes& secret) -> Status {
      OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, NewImportRecord(spec, secret, now));
      OTPGATE_ASSIGN_OR_RETURN(bool stored, PutImported(txn, record, replace, now, existing, ""));
      if (stored) ++done.imported;
      NoteSkipped(done, existing);
      return Status::Ok();
    });
  });
  AuditImport(status, done.imported);
  if (status.ok() && counts != nullptr) *counts = std::move(done);
  return status;
}

Status OtpService::ChangeToken(
    std::string_view action, std::string_view raw_id,
    const std::function<Status(Txn&, TokenRecord&, std::string& outcome)>& change) {
  auto id = NormalizeCredentialId(raw_id);
  if (!id.ok()) {
    AuditStatus(action, "", "", id.status());
    return id.status();
  }
  const int64_t now = clock_.Now();
  std::string user, outcome;
  Status status = store_->Write([&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, txn.GetToken(*id));
    user = record.owner;  // before the change: unassign names whom it unbound
    outcome = "ok";
    OTPGATE_RETURN_IF_ERROR(change(txn, record, outcome));
    if (user.empty()) user = record.owner;
    OTPGATE_RETURN_IF_ERROR(txn.PutToken(record));
    return JournalIn(txn, now, action, user, *id, outcome, "");
  });
  if (status.ok()) {
    Audit(action, user, *id, outcome, "");
  } else {
    AuditStatus(action, user, *id, status);
  }
  return status;
}

Result<Verdict> OtpService::Resync(std::string_view credential_id, std::string_view raw1,
                                   std::string_view raw2) {
  const int64_t now = clock_.Now();
  Verdict verdict;
  Status status = ChangeToken(
      "resync", credential_id, [&](Txn&, TokenRecord& record, std::string& outcome) -> Status {
        OTPGATE_ASSIGN_OR_RETURN(std::string code1, NormalizeCode(raw1, record.params.digits));
        OTPGATE_ASSIGN_OR_RETURN(std::string code2, NormalizeCode(raw2, record.params.digits));
        OTPGATE_ASSIGN_OR_RETURN(HmacKey key, KeyFor(key_, record));
        OTPGATE_ASSIGN_OR_RETURN(Attempt attempt,
                                 ApplyResync(record, key, code1, code2, now, config_));
        WipeString(code1);
        WipeString(code2);
        verdict.decision = attempt.decision;
        verdict.credential_id = record.credential_id;
        outcome = DecisionName(attempt.decision);
        return Status::Ok();
      });
  if (!status.ok()) {
    return status;
  }
  return verdict;
}

Status OtpService::Unlock(std::string_view credential_id) {
  return ChangeToken("unlock", credential_id, [](Txn&, TokenRecord& record, std::string&) {
    ClearFailures(record);
    return Status::Ok();
  });
}

Status OtpService::UnlockUser(std::string_view user, std::vector<std::string>* unlocked) {
  OTPGATE_RETURN_IF_ERROR(ValidateUserName(user));
  const int64_t now = clock_.Now();
  std::vector<std::string> done;
  Status status = store_->Write([&](Txn& txn) -> Status {
    done.clear();
    OTPGATE_ASSIGN_OR_RETURN(std::vector<TokenRecord> records, txn.UserTokenRecords(user));
    if (records.empty()) return Status::NotBound("user " + std::string(user) + " has no token");
    for (TokenRecord& record : records) {
      const std::string& id = record.credential_id;
      if (record.failures == 0 && record.lock_until == 0) continue;
      ClearFailures(record);
      OTPGATE_RETURN_IF_ERROR(txn.PutToken(record));
      OTPGATE_RETURN_IF_ERROR(JournalIn(txn, now, "unlock", user, id, "ok", ""));
      done.push_back(id);
    }
    return Status::Ok();
  });
  if (!status.ok()) {
    AuditStatus("unlock", user, "", status);
    return status;
  }
  for (const std::string& id : done) Audit("unlock", user, id, "ok", "");
  if (unlocked != nullptr) *unlocked = std::move(done);
  return status;
}

Status OtpService::SetEnabled(std::string_view credential_id, bool enabled) {
  return ChangeToken(enabled ? "enable" : "disable", credential_id,
                     [enabled](Txn&, TokenRecord& record, std::string&) -> Status {
                       if (record.state == TokenState::kUnassigned) {
                         return Status::FailedPrecondition("token " + record.credential_id +
                                                           " is not registered to anyone");
                       }
                       record.state = enabled ? TokenState::kActive : TokenState::kDisabled;
                       return Status::Ok();
                     });
}

Status OtpService::Assign(std::string_view credential_id, std::string_view user) {
  OTPGATE_RETURN_IF_ERROR(ValidateUserName(user));
  const int64_t now = clock_.Now();
  return ChangeToken(
      "assign", credential_id, [&](Txn& txn, TokenRecord& record, std::string&) -> Status {
        if (record.state != TokenState::kUnassigned) {
          return Status::AlreadyBound("token " + record.credential_id + " is already registered");
        }
        record.state = TokenState::kActive;
        record.owner = std::string(user);
        record.bound_at = now;
        return txn.AddUserToken(user, record.credential_id);
      });
}

Status OtpService::Unassign(std::string_view credential_id) {
  return ChangeToken(
      "unassign", credential_id, [&](Txn& txn, TokenRecord& record, std::string&) -> Status {
        if (record.state == TokenState::kUnassigned) {
          return Status::NotBound("token " + record.credential_id + " is not registered");
        }
        OTPGATE_RETURN_IF_ERROR(txn.RemoveUserToken(record.owner, record.credential_id));
        record.state = TokenState::kUnassigned;
        record.owner.clear();
        record.bound_at = 0;
        ClearFailures(record);
        return Status::Ok();
      });
}

Status OtpService::Delete(std::string_view raw_id) {
  auto id = NormalizeCredentialId(raw_id);
  if (!id.ok()) {
    return id.status();
  }
  const int64_t now = clock_.Now();
  std::string owner;
  Status status = store_->Write([&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, txn.GetToken(*id));
    owner = record.owner;
    if (!record.owner.empty()) {
      OTPGATE_RETURN_IF_ERROR(txn.RemoveUserToken(record.owner, record.credential_id));
    }
    OTPGATE_RETURN_IF_ERROR(txn.DeleteToken(*id));
    return JournalIn(txn, now, "delete", owner, *id, "ok", "");
  });
  AuditStatus("delete", owner, *id, status);
  return status;
}

Result<TokenInfo> OtpService::Show(std::string_view raw_id) {
  OTPGATE_ASSIGN_OR_RETURN(std::string id, NormalizeCredentialId(raw_id));
  TokenInfo info;
  OTPGATE_RETURN_IF_ERROR(store_->Read([&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, txn.GetToken(id));
    info = InfoOf(record);
    return Status::Ok();
  }));
  return info;
}

Result<OtpService::ImportFate> OtpService::FateOnImport(std::string_view raw_id) {
  OTPGATE_ASSIGN_OR_RETURN(std::string id, NormalizeCredentialId(raw_id));
  ImportFate fate = ImportFate::kNew;
  OTPGATE_RETURN_IF_ERROR(store_->Read([&](Txn& txn) -> Status {
    fate = !txn.HasToken(id)         ? ImportFate::kNew
           : HeldByAnImport(txn, id) ? ImportFate::kBeingImported
                                     : ImportFate::kExists;
    return Status::Ok();
  }));
  return fate;
}

Result<std::vector<TokenInfo>> OtpService::List(std::optional<std::string> user) {
  std::vector<TokenInfo> out;
  OTPGATE_RETURN_IF_ERROR(store_->Read([&](Txn& txn) -> Status {
    out.clear();
    if (user.has_value()) {
      OTPGATE_RETURN_IF_ERROR(ValidateUserName(*user));
      OTPGATE_ASSIGN_OR_RETURN(std::vector<TokenRecord> records, txn.UserTokenRecords(*user));
      for (const TokenRecord& record : records) out.push_back(InfoOf(record));
      return Status::Ok();
    }
    return txn.ForEachToken([&](const TokenRecord& record) {
      out.push_back(InfoOf(record));
      return Status::Ok();
    });
  }));
  return out;
}

Result<SecretBytes> OtpService::RevealSecret(std::string_view raw_id) {
  OTPGATE_ASSIGN_OR_RETURN(std::string id, NormalizeCredentialId(raw_id));
  std::vector<uint8_t> sealed;
  OTPGATE_RETURN_IF_ERROR(store_->Read([&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, txn.GetToken(id));
    sealed = record.sealed_secret;
    return Status::Ok();
  }));
  auto secret = key_.Open(sealed, SecretAad(id));
  if (!secret.ok()) {
    return Status::Corrupt("token " + id + ": " + secret.status().message());
  }
  // The administrator saw a secret: that goes on the record before it is shown.
  const int64_t now = clock_.Now();
  OTPGATE_RETURN_IF_ERROR(store_->Write([&](Txn& txn) {
    return JournalIn(txn, now, "reveal", "", id, "ok", "secret-shown-to-administrator");
  }));
  Audit("reveal", "", id, "ok", "secret-shown-to-administrator");
  return secret;
}

Result<std::vector<JournalEntry>> OtpService::ReadJournal(const JournalFilter& filter) {
  std::vector<JournalEntry> out;
  OTPGATE_RETURN_IF_ERROR(store_->Read([&](Txn& txn) {
    out.clear();
    return journal_->Read(txn, filter, [&](const JournalEntry& entry) {
      out.push_back(entry);
      return Status::Ok();
    });
  }));
  return out;
}

Result<JournalCheck> OtpService::VerifyJournal() {
  JournalCheck check;
  OTPGATE_RETURN_IF_ERROR(store_->Read([&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(check, journal_->Verify(txn));
    return Status::Ok();
  }));
  return check;
}

Result<uint64_t> OtpService::PruneJournal(int64_t before) {
  const int64_t now = clock_.Now();
  uint64_t removed = 0;
  Status status = store_->Write([&](Txn& txn) -> Status {
    OTPGATE_ASSIGN_OR_RETURN(removed, journal_->PruneBefore(txn, before));
    return JournalIn(txn, now, "prune", "", "", "ok",
                     std::to_string(removed) + " entries before " + std::to_string(before));
  });
  AuditStatus("prune", "", "", status);
  if (!status.ok()) return status;
  return removed;
}

Status OtpService::BackupStore(const std::string& file) {
  Status status = store_->Backup(file);
  AuditStatus("backup", "", "", status);
  return status;
}

Status InitializeDeployment(const Config& config, bool* changed) {
  SystemClock clock;
  if (changed != nullptr) {
    // Already initialised: the key exists and opens an initialised store.
    *changed = !OtpService::Open(config, clock).ok();
    if (!*changed) return Status::Ok();
  }
  Status created = MasterKey::Create(config.master_key);
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) {
    return created;
  }
  auto service = OtpService::Open(config, clock, /*create=*/true);
  return service.ok() ? Status::Ok() : service.status();
}

}  // namespace otpgate
