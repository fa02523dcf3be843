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
#include <string>
#include <string_view>
#include <vector>

#include "otpgate/audit.h"
#include "otpgate/clock.h"
#include "otpgate/config.h"
#include "otpgate/otp.h"
#include "otpgate/sealing.h"
#include "otpgate/status.h"
#include "otpgate/store.h"
#include "otpgate/token_record.h"
#include "otpgate/values.h"

namespace otpgate {

class GroupCommit;

// Threads: every member function may be called from several threads at once
// on one service (radiusd's pool, a threaded PAM application); decisions on
// the same user are serialised by the store's write transaction. The
// configuration, clock and audit sink are fixed when the service is opened.
// A service must not be used in a child after fork(): open a new one.
class OtpService {
 public:
  // Opens (or with `create`, initialises) the store at config.store with the
  // key at config.master_key. The clock and the audit sink (optional: every
  // decision and change is recorded there) must outlive the service.
  static Result<std::unique_ptr<OtpService>> Open(const Config& config, const Clock& clock,
                                                  bool create = false,
                                                  AuditSink* audit = nullptr);
  ~OtpService();

  const Config& config() const { return config_; }
  AuditSink* audit_sink() const { return audit_; }

  // --- The bank's flows (the caller has checked the login password). ---

  // Each records one audit line, attributed to `origin`.

  // Login: accepts if any usable token of the user accepts `code`. A token
  // that is disabled, expired or not yet valid is skipped (and named in
  // Verdict::skipped); the others still decide.
  Result<Verdict> Verify(std::string_view user, std::string_view code, const Origin& origin = {});
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
    int bound_tokens = 0;   // active or disabled
    int active_tokens = 0;  // active and within their validity dates
    int locked_tokens = 0;  // active, valid and locked now
    int64_t lock_until = 0; // earliest unlock among locked active tokens
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
  // Like ProvisionBatch in one transaction (all or nothing), without holding
  // the tokens in memory: `produce` calls `put` once per token, in order; an
  // error from either aborts the whole transaction. `produce` may be called
  // again from the start if the store had to grow (it must be re-runnable,
  // e.g. re-read its file). Existing tokens are skipped (counted in
  // `skipped`) or replaced.
  using TokenPut = std::function<Status(const TokenSpec&, const SecretBytes&)>;
  Status ProvisionEach(const std::function<Status(const TokenPut& put)>& produce, bool replace,
                       size_t* imported, std::vector<std::string>* skipped);
  // Re-anchors drift (TOTP) or counter (HOTP) from two consecutive codes.
  Result<Verdict> Resync(std::string_view credential_id, std::string_view code1,
                         std::string_view code2);
  Status Unlock(std::string_view credential_id);
  Status SetEnabled(std::string_view credential_id, bool enabled);
  // Binds without a code (administrator override) / unbinds.
  Status Assign(std::string_view credential_id, std::string_view user);
  Status Unassign(std::string_view credential_id);
  Status Delete(std::string_view credential_id);
  Result<TokenInfo> Show(std::string_view credential_id);
  Result<std::vector<TokenInfo>> List(std::optional<std::string> user = std::nullopt);
  // The clear secret of a stored token (admin asked explicitly: `otpgate
  // code`, `token show --uri`).
  Result<SecretBytes> RevealSecret(std::string_view credential_id);

  // Records one audit line in the service's sink (front ends use it for the
  // decisions they make around the core's, e.g. an unknown RADIUS State).
  void Audit(const AuditEvent& event) const;
  void Audit(std::string_view action, std::string_view user, std::string_view credential_id,
             std::string_view outcome, std::string_view reason, const Origin& origin = {}) const;
  void AuditStatus(std::string_view action, std::string_view user,
                   std::string_view credential_id, const Status& status,
                   const Origin& origin = {}) const;
  // A debug line, when the `debug` option is on (never a code or secret).
  void Debug(std::string_view line) const;

 private:
  OtpService(Config config, const Clock& clock, std::shared_ptr<Store> store, MasterKey key,
             AuditSink* audit);
  Result<Verdict> DecideUserFlow(std::string_view action, std::string_view user,
                                 std::string_view raw_code,
                                 const std::function<Status(Txn&, TokenRecord&)>& on_accept,
                                 std::string_view accept_detail, const Origin& origin);

  Config config_;
  const Clock& clock_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<GroupCommit> commits_;  // the flows' writes share durable commits
  MasterKey key_;
  AuditSink* const audit_;
};

// Initialises a deployment: creates the master key (if absent) and the store.
// Refuses to replace an existing key (kAlreadyExists is not returned: an
// existing key that opens the store is fine, one that does not is kWrongKey).
Status InitializeDeployment(const Config& config);

}  // namespace otpgate

#endif  // OTPGATE_OPERATIONS_H_
