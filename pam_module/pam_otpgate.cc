// pam_otpgate.so: thin glue between Linux-PAM and the otpgate core.
//
// Options (module arguments override the config file; `config=` names it):
// every option of the core's table, e.g. action=login|register|stop,
// unenrolled=allow|deny|register, prompt=..., window=N, split, debug.
// Each pam_sm_* parses, gets the user, makes one core call, and maps the
// answer to a PAM code through one table. No exception crosses into libpam.
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <syslog.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <openssl/crypto.h>

#include "otpgate/config.h"
#include "otpgate/operations.h"
#include "pam_conversation.h"

namespace otpgate::pam {
namespace {

constexpr const char* kSplitCodeKey = "otpgate_split_code";

// --- The one table: core answers to PAM codes. ---
int PamCodeFor(Decision decision) {
  switch (decision) {
    case Decision::kAccept: return PAM_SUCCESS;
    case Decision::kReject: return PAM_AUTH_ERR;
    case Decision::kReplay: return PAM_AUTH_ERR;
    case Decision::kLocked: return PAM_MAXTRIES;
    case Decision::kNoToken: return PAM_AUTH_ERR;  // callers apply `unenrolled` first
  }
  return PAM_AUTH_ERR;
}

int PamCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return PAM_SUCCESS;
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists:
    case StatusCode::kAlreadyBound:
    case StatusCode::kNotBound:
    case StatusCode::kFailedPrecondition:
      return PAM_AUTH_ERR;  // the user's input was wrong
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnavailable:
    case StatusCode::kCorrupt:
    case StatusCode::kWrongKey:
    case StatusCode::kStoreFull:
    case StatusCode::kInternal:
      return PAM_AUTHINFO_UNAVAIL;  // fail closed
  }
  return PAM_AUTHINFO_UNAVAIL;
}

// Audit lines from the core go to syslog through libpam (auth facility).
class PamAudit final : public AuditSink {
 public:
  PamAudit(pam_handle_t* pamh, const char* service) : pamh_(pamh), service_(service) {}
  void Record(const AuditEvent& e) override {
    int priority = e.outcome == "accept" || e.outcome == "ok" ? LOG_INFO : LOG_NOTICE;
    pam_syslog(pamh_, priority, "action=%.*s user=%.*s service=%s token=%.*s outcome=%.*s%s%.*s",
               static_cast<int>(e.action.size()), e.action.data(),
               static_cast<int>(e.user.size()), e.user.data(), service_,
               static_cast<int>(e.credential_id.size()), e.credential_id.data(),
               static_cast<int>(e.outcome.size()), e.outcome.data(),
               e.detail.empty() ? "" : " reason=", static_cast<int>(e.detail.size()),
               e.detail.data());
  }

 private:
  pam_handle_t* pamh_;
  const char* service_;
};

// One service per configuration per process. After fork() (sshd) the cache
// is dropped: the core gives the child its own LMDB environment.
Result<OtpService*> CachedService(const Config& config) {
  static SystemClock clock;
  static pid_t owner = 0;
  static auto* cache = new std::map<std::string, std::unique_ptr<OtpService>>();
  if (owner != ::getpid()) {
    cache->clear();
    owner = ::getpid();
  }
  std::string key;
  for (const OptionSpec& spec : OptionTable()) {
    key += OptionValue(config, spec.name);
    key += '\n';
  }
  auto it = cache->find(key);
  if (it != cache->end()) {
    return it->second.get();
  }
  auto service = OtpService::Open(config, clock);
  if (!service.ok()) {
    return service.status();
  }
  OtpService* raw = service->get();
  raw->set_origin("pam", "");
  (*cache)[key] = std::move(service).value();
  return raw;
}

struct Request {
  pam_handle_t* pamh = nullptr;
  bool silent = false;
  Config config;
  const char* user = nullptr;
  const char* service_name = "unknown";
  std::string client;  // for the journal: service, or service@remote-host
  OtpService* service = nullptr;
};

int ParseOptions(pam_handle_t* pamh, int argc, const char** argv, Config& config) {
  std::string path = kDefaultConfigPath;
  bool explicit_path = false;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "config=", 7) == 0) {
      path = argv[i] + 7;
      explicit_path = true;
    }
  }
  Status status = LoadConfigFile(config, path, !explicit_path);
  if (!status.ok()) {
    pam_syslog(pamh, LOG_ERR, "config: %s", status.message().c_str());
    return PAM_SERVICE_ERR;
  }
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "config=", 7) == 0) continue;
    status = ApplyArgument(config, argv[i]);
    if (!status.ok()) {
      pam_syslog(pamh, LOG_ERR, "bad module argument: %s", status.message().c_str());
      return PAM_SERVICE_ERR;
    }
  }
  return PAM_SUCCESS;
}

// Parses options, finds the user and opens the store. PAM_SUCCESS or the
// code to return.
int Begin(pam_handle_t* pamh, int flags, int argc, const char** argv, Request& r) {
  r.pamh = pamh;
  r.silent = (flags & PAM_SILENT) != 0;
  int rc = ParseOptions(pamh, argc, argv, r.config);
  if (rc != PAM_SUCCESS) return rc;
  const void* item = nullptr;
  if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS && item != nullptr) {
    r.service_name = static_cast<const char*>(item);
  }
  r.client = r.service_name;
  if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS && item != nullptr) {
    r.client += std::string("@") + static_cast<const char*>(item);
  }
  rc = pam_get_user(pamh, &r.user, nullptr);
  if (rc != PAM_SUCCESS || r.user == nullptr || r.user[0] == '\0') {
    pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name");
    return rc == PAM_SUCCESS ? PAM_USER_UNKNOWN : rc;
  }
  auto service = CachedService(r.config);
  if (!service.ok()) {
    pam_syslog(pamh, LOG_CRIT, "user=%s service=%s outcome=unavailable reason=%s%s", r.user,
               r.service_name, service.status().message().c_str(),
               ::geteuid() != 0 ? " (this process is not root; otpgate fails closed)" : "");
    return PAM_AUTHINFO_UNAVAIL;
  }
  r.service = *service;
  return PAM_SUCCESS;
}

// Logs a status the core returned (the core audited it too when it got that
// far) and maps it.
int Failed(const Request& r, const char* action, const Status& status) {
  int rc = PamCodeFor(status);
  pam_syslog(r.pamh, rc == PAM_AUTHINFO_UNAVAIL ? LOG_CRIT : LOG_NOTICE,
             "action=%s user=%s service=%s outcome=%s reason=%s", action, r.user, r.service_name,
             std::string(StatusCodeName(status.code())).c_str(), status.message().c_str());
  return rc;
}

// A code typed at a prompt, taken from a split password, or from PAM_AUTHTOK.
std::optional<Answer> GetCode(Request& r, int& rc) {
  const void* stashed = nullptr;
  if (pam_get_data(r.pamh, kSplitCodeKey, &stashed) == PAM_SUCCESS && stashed != nullptr) {
    Answer answer{std::string(static_cast<const char*>(stashed))};
    pam_set_data(r.pamh, kSplitCodeKey, nullptr, nullptr);  // runs the wiping cleanup
    return answer;
  }
  if (r.config.use_first_pass || r.config.try_first_pass) {
    const void* token = nullptr;
    if (pam_get_item(r.pamh, PAM_AUTHTOK, &token) == PAM_SUCCESS && token != nullptr) {
      return Answer{std::string(static_cast<const char*>(token))};
    }
    if (r.config.use_first_pass) {
      rc = PAM_AUTH_ERR;
      return std::nullopt;
    }
  }
  auto answer = Ask(r.pamh, r.config.prompt, /*echo=*/false);
  if (!answer.has_value()) rc = PAM_CONV_ERR;
  return answer;
}

void WipeSplitCode(pam_handle_t*, void* data, int) {
  if (data != nullptr) {
    OPENSSL_cleanse(data, std::strlen(static_cast<char*>(data)));
    std::free(data);
  }
}

std::string LockMessage(int64_t lock_until) {
  std::time_t t = static_cast<std::time_t>(lock_until);
  std::tm tm{};
  localtime_r(&t, &tm);
  // ISO 8601 with the date and the host's offset: 2026-11-27T21:41:05+01:00.
  char when[40];
  size_t n = std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", &tm);
  std::string text(when, n);
  if (text.size() >= 5) text.insert(text.size() - 2, ":");
  return "One-time password is locked after too many failures; try again after " + text + ".";
}

int Register(Request& r) {
  auto token = Ask(r.pamh, r.config.token_prompt, /*echo=*/true);
  if (!token.has_value()) return PAM_CONV_ERR;
  int rc = PAM_SUCCESS;
  auto code = GetCode(r, rc);
  if (!code.has_value()) return rc;
  auto verdict = r.service->Register(r.user, token->text(), code->text(), r.client);
  if (!verdict.ok()) {
    Tell(r.pamh, r.silent, true,
         verdict.status().code() == StatusCode::kNotFound
             ? "Unknown token ID."
             : "One-time password registration failed: " + verdict.status().message() + ".");
    return Failed(r, "register", verdict.status());
  }
  if (verdict->decision == Decision::kAccept) {
    Tell(r.pamh, r.silent, false, "One-time password registration is complete.");
  } else if (verdict->decision == Decision::kLocked) {
    Tell(r.pamh, r.silent, true, LockMessage(verdict->lock_until));
  } else {
    Tell(r.pamh, r.silent, true, "The one-time password is not correct.");
  }
  return PamCodeFor(verdict->decision);
}

// `split`: take the code off the end of PAM_AUTHTOK for a later
// pam_otpgate line, and leave the password for the next module. Verifies
// nothing, so the password module decides first (lockout safety).
int Split(Request& r, const OtpService::UserState& state) {
  if (!state.digits.has_value()) return PAM_IGNORE;  // no token: the password is all password
  const char* authtok = nullptr;
  int rc = pam_get_authtok(r.pamh, PAM_AUTHTOK, &authtok, nullptr);
  if (rc != PAM_SUCCESS || authtok == nullptr) return rc == PAM_SUCCESS ? PAM_AUTH_ERR : rc;
  size_t length = std::strlen(authtok);
  size_t digits = static_cast<size_t>(*state.digits);
  if (length <= digits) return PAM_IGNORE;
  for (size_t i = length - digits; i < length; ++i) {
    if (authtok[i] < '0' || authtok[i] > '9') return PAM_IGNORE;
  }
  char* code = strdup(authtok + length - digits);
  std::string password(authtok, length - digits);
  rc = code == nullptr ? PAM_BUF_ERR : pam_set_data(r.pamh, kSplitCodeKey, code, WipeSplitCode);
  if (rc == PAM_SUCCESS) rc = pam_set_item(r.pamh, PAM_AUTHTOK, password.c_str());
  OPENSSL_cleanse(password.data(), password.size());
  return rc == PAM_SUCCESS ? PAM_IGNORE : rc;
}

int Authenticate(pam_handle_t* pamh, int flags, int argc, const char** argv) {
  Request r;
  int rc = Begin(pamh, flags, argc, argv, r);
  if (rc != PAM_SUCCESS) return rc;
  if (r.config.fail_delay_ms > 0) {
    pam_fail_delay(pamh, static_cast<unsigned>(r.config.fail_delay_ms) * 1000u);
  }
  PamAudit audit(pamh, r.service_name);
  r.service->set_audit_sink(&audit);
  struct Unset {
    OtpService* s;
    ~Unset() { s->set_audit_sink(nullptr); }
  } unset{r.service};

  auto state = r.service->GetUserState(r.user);
  if (!state.ok()) return Failed(r, "lookup", state.status());
  if (r.config.split) return Split(r, *state);

  if (r.config.action == Action::kRegister) {
    if (state->enrolled()) {
      Tell(pamh, r.silent, true, "A one-time password token is already registered.");
      return Failed(r, "register", Status::AlreadyBound("user already has a registered token"));
    }
    return Register(r);
  }
  if (!state->enrolled()) {
    if (r.config.action == Action::kStop) {
      Tell(pamh, r.silent, true, "No one-time password is registered.");
      return Failed(r, "stop", Status::NotBound("user has no token"));
    }
    switch (r.config.unenrolled) {
      case UnenrolledPolicy::kAllow:
        if (r.config.debug) {
          pam_syslog(pamh, LOG_DEBUG, "user=%s service=%s has no token: unenrolled=allow", r.user,
                     r.service_name);
        }
        return PAM_IGNORE;
      case UnenrolledPolicy::kDeny:
        pam_syslog(pamh, LOG_NOTICE,
                   "action=login user=%s service=%s outcome=no-token reason=unenrolled=deny",
                   r.user, r.service_name);
        return PAM_AUTH_ERR;
      case UnenrolledPolicy::kRegister:
        return Register(r);
    }
  }
  if (state->locked()) {
    // Refused without asking: a locked token does not look at codes.
    Tell(pamh, r.silent, true, LockMessage(state->lock_until));
    pam_syslog(pamh, LOG_NOTICE, "action=%s user=%s service=%s outcome=locked",
               r.config.action == Action::kStop ? "stop" : "login", r.user, r.service_name);
    return PAM_MAXTRIES;
  }
  auto code = GetCode(r, rc);
  if (!code.has_value()) return rc;
  bool stop = r.config.action == Action::kStop;
  auto verdict = stop ? r.service->Stop(r.user, code->text(), r.client)
                      : r.service->Verify(r.user, code->text(), r.client);
  if (!verdict.ok()) return Failed(r, stop ? "stop" : "login", verdict.status());
  if (verdict->decision == Decision::kLocked) {
    Tell(pamh, r.silent, true, LockMessage(verdict->lock_until));
  } else if (stop && verdict->decision == Decision::kAccept) {
    Tell(pamh, r.silent, false,
         "One-time password use is stopped; log in with your ID and password from now on.");
  }
  return PamCodeFor(verdict->decision);
}

int AccountManagement(pam_handle_t* pamh, int flags, int argc, const char** argv) {
  Request r;
  int rc = Begin(pamh, flags, argc, argv, r);
  if (rc == PAM_AUTHINFO_UNAVAIL) return PAM_PERM_DENIED;  // fail closed
  if (rc != PAM_SUCCESS) return rc;
  auto state = r.service->GetUserState(r.user);
  if (!state.ok()) {
    Failed(r, "account", state.status());
    return PAM_PERM_DENIED;
  }
  if (!state->enrolled()) return PAM_IGNORE;
  if (state->locked()) {
    Tell(pamh, r.silent, true, LockMessage(state->lock_until));
    pam_syslog(pamh, LOG_NOTICE, "action=account user=%s service=%s outcome=locked", r.user,
               r.service_name);
    return PAM_PERM_DENIED;
  }
  return PAM_SUCCESS;
}

template <typename Fn>
int Guard(pam_handle_t* pamh, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    pam_syslog(pamh, LOG_CRIT, "internal error: %s", e.what());
  } catch (...) {
    pam_syslog(pamh, LOG_CRIT, "internal error");
  }
  return PAM_SERVICE_ERR;
}

}  // namespace
}  // namespace otpgate::pam

extern "C" {

__attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t* pamh, int flags,
                                                               int argc, const char** argv) {
  return otpgate::pam::Guard(
      pamh, [&] { return otpgate::pam::Authenticate(pamh, flags, argc, argv); });
}

__attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t*, int, int,
                                                          const char**) {
  return PAM_SUCCESS;
}

__attribute__((visibility("default"))) int pam_sm_acct_mgmt(pam_handle_t* pamh, int flags,
                                                            int argc, const char** argv) {
  return otpgate::pam::Guard(
      pamh, [&] { return otpgate::pam::AccountManagement(pamh, flags, argc, argv); });
}

}  // extern "C"
