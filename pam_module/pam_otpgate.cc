// pam_otpgate.so: thin glue between Linux-PAM and the otpgate core.
//
// Options (module arguments override the config file; `config=` names it):
// every option of the core's table, e.g. action=login|register|stop,
// unenrolled=allow|deny|register, prompt=..., split, debug, nonroot=ignore.
// What to ask and what to answer is the core's decision (otpgate.h:
// otpgate_begin/otpgate_finish); this file runs the conversation, keeps the
// PAM items and data, and maps the core's answer to a PAM code with one
// table. Audit lines go to syslog (authpriv). No exception crosses into libpam.
#include <openssl/crypto.h>
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <syslog.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "otpgate/otpgate.h"
#include "pam_conversation.h"

static_assert(OTPGATE_ABI_VERSION == 3, "pam_otpgate is written for otpgate ABI 3");

namespace otpgate::pam {
namespace {

constexpr const char* kSplitCodeKey = "otpgate_split_code";
// Set by the first line under split = yes: a later line with the same
// options (split set in the shared file) verifies instead of splitting
// again, so a field without a code is asked for one, never let through.
constexpr const char* kSplitDoneKey = "otpgate_split_done";
// Set when this handle accepted a login: a second otpgate login line in the
// same transaction (two stacked profiles) is then a no-op, not a replay.
constexpr const char* kAcceptedKey = "otpgate_accepted_user";

// --- The one table: the core's answer to a PAM code. ---
int PamCodeFor(otpgate_answer answer) {
  switch (answer) {
    case OTPGATE_ANSWER_PASS:
      return PAM_IGNORE;
    case OTPGATE_ANSWER_ACCEPT:
      return PAM_SUCCESS;
    case OTPGATE_ANSWER_REJECT:
      return PAM_AUTH_ERR;
    case OTPGATE_ANSWER_LOCKED:
      return PAM_MAXTRIES;
    case OTPGATE_ANSWER_FAIL:
      return PAM_AUTHINFO_UNAVAIL;  // fail closed
    case OTPGATE_ANSWER_ASK_CODE:
    case OTPGATE_ANSWER_ASK_TOKEN_AND_CODE:
      break;  // not an answer
  }
  return PAM_AUTH_ERR;
}

// The core's audit and debug lines (fixed at open, any thread).
void SyslogLine(void*, int level, const char* line) {
  static constexpr int kPriority[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_CRIT};
  int priority = level >= 0 && level <= OTPGATE_LOG_CRIT ? kPriority[level] : LOG_NOTICE;
  syslog(LOG_AUTHPRIV | priority, "pam_otpgate: %s", line);
}

struct CloseHandle {
  void operator()(otpgate_handle* handle) const { otpgate_close(handle); }
};

struct Request {
  pam_handle_t* pamh = nullptr;
  bool silent = false;
  otpgate_request core{};
  std::unique_ptr<otpgate_handle, CloseHandle> handle;
  const otpgate_options* options = nullptr;
};

// Opens the core with the module arguments ("name=value", or a bare
// "name" for a boolean; config=FILE names the file). PAM_SUCCESS or the code
// to return.
int Open(Request& r, int argc, const char** argv) {
  std::vector<std::string> names, values;
  std::vector<bool> bare;
  for (int i = 0; i < argc; ++i) {
    std::string_view argument = argv[i];
    size_t eq = argument.find('=');
    names.emplace_back(argument.substr(0, eq));
    values.emplace_back(eq == std::string_view::npos ? "" : argument.substr(eq + 1));
    bare.push_back(eq == std::string_view::npos);
  }
  std::vector<const char*> name_ptrs, value_ptrs;
  for (size_t i = 0; i < names.size(); ++i) {
    name_ptrs.push_back(names[i].c_str());
    value_ptrs.push_back(bare[i] ? nullptr : values[i].c_str());
  }
  otpgate_open_args args{OTPGATE_FRONT_END_PAM, nullptr,    name_ptrs.data(), value_ptrs.data(),
                         names.size(),          SyslogLine, nullptr,          &r.core};
  otpgate_result error;
  r.handle.reset(otpgate_open(&args, &error));  // a store not open yet: the calls answer
  if (!r.handle) {
    if (error.status == OTPGATE_ERR_INVALID_ARGUMENT) {
      pam_syslog(r.pamh, LOG_ERR, "configuration: %s", error.message);
      return PAM_SERVICE_ERR;
    }
    return PamCodeFor(error.answer);
  }
  r.options = otpgate_options_of(r.handle.get());
  return PAM_SUCCESS;
}

// Finds the user and the service, then opens the core.
int Begin(pam_handle_t* pamh, int flags, int argc, const char** argv, Request& r) {
  r.pamh = pamh;
  r.silent = (flags & PAM_SILENT) != 0;
  r.core.action = OTPGATE_ACTION_CONFIGURED;
  const void* item = nullptr;
  if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS && item != nullptr) {
    r.core.service = static_cast<const char*>(item);
  }
  int rc = pam_get_user(pamh, &r.core.user, nullptr);
  if (rc != PAM_SUCCESS || r.core.user == nullptr || r.core.user[0] == '\0') {
    pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name");
    return rc == PAM_SUCCESS ? PAM_USER_UNKNOWN : rc;
  }
  return Open(r, argc, argv);
}

// Shows the core's message for the user (unless PAM_SILENT), returns its code.
int Answered(const Request& r, const otpgate_result& result) {
  if (result.user_message[0] != '\0') {
    Tell(r.pamh, r.silent, result.user_message_is_error != 0, result.user_message);
  }
  return PamCodeFor(result.answer);
}

void WipeAndFree(pam_handle_t*, void* data, int) {
  if (data != nullptr) {
    OPENSSL_cleanse(data, std::strlen(static_cast<char*>(data)));
    std::free(data);
  }
}

// The code: split off by an earlier line, from PAM_AUTHTOK
// (use_first_pass/try_first_pass), or asked. nullopt with `rc` set when the
// conversation failed; an absent code with rc == PAM_SUCCESS is passed on.
std::optional<Answer> GetCode(const Request& r, int& rc) {
  rc = PAM_SUCCESS;
  const void* stashed = nullptr;
  if (pam_get_data(r.pamh, kSplitCodeKey, &stashed) == PAM_SUCCESS && stashed != nullptr) {
    Answer answer{std::string(static_cast<const char*>(stashed))};
    pam_set_data(r.pamh, kSplitCodeKey, nullptr, nullptr);  // runs the wiping cleanup
    return answer;
  }
  if (r.options->use_first_pass || r.options->try_first_pass) {
    const void* token = nullptr;
    if (pam_get_item(r.pamh, PAM_AUTHTOK, &token) == PAM_SUCCESS && token != nullptr) {
      return Answer{std::string(static_cast<const char*>(token))};
    }
    if (r.options->use_first_pass) return std::nullopt;  // the core refuses a missing code
  }
  auto answer = Ask(r.pamh, r.options->prompt, /*echo=*/false);
  if (!answer.has_value()) rc = PAM_CONV_ERR;
  return answer;
}

// `split`: takes the code off the end of PAM_AUTHTOK for a later otpgate
// line and leaves the password for the next module. Verifies nothing, so
// the password module decides first (lockout safety).
int Split(const Request& r) {
  static char done_mark;
  int rc = pam_set_data(r.pamh, kSplitDoneKey, &done_mark, nullptr);
  if (rc != PAM_SUCCESS) return rc;
  const char* authtok = nullptr;
  rc = pam_get_authtok(r.pamh, PAM_AUTHTOK, &authtok, nullptr);
  if (rc != PAM_SUCCESS || authtok == nullptr) return rc == PAM_SUCCESS ? PAM_AUTH_ERR : rc;
  size_t length = std::strlen(authtok), offset = length;
  otpgate_result result;
  if (otpgate_split_point(r.handle.get(), r.core.user, authtok, length, &offset, &result) !=
      OTPGATE_OK) {
    return Answered(r, result);
  }
  if (offset == length) return PAM_IGNORE;
  char* code = strdup(authtok + offset);
  std::string password(authtok, offset);
  rc = code == nullptr ? PAM_BUF_ERR : pam_set_data(r.pamh, kSplitCodeKey, code, WipeAndFree);
  if (rc == PAM_SUCCESS) rc = pam_set_item(r.pamh, PAM_AUTHTOK, password.c_str());
  OPENSSL_cleanse(password.data(), password.size());
  return rc == PAM_SUCCESS ? PAM_IGNORE : rc;
}

// True when this transaction already accepted `user`'s login.
bool AlreadyAccepted(const Request& r) {
  const void* accepted = nullptr;
  return r.options->action == OTPGATE_ACTION_LOGIN &&
         pam_get_data(r.pamh, kAcceptedKey, &accepted) == PAM_SUCCESS && accepted != nullptr &&
         std::strcmp(static_cast<const char*>(accepted), r.core.user) == 0;
}

// Answered, and remembers an accepted login for a later line of this
// transaction (AlreadyAccepted).
int Decided(const Request& r, const otpgate_result& result) {
  if (result.answer == OTPGATE_ANSWER_ACCEPT && result.action != OTPGATE_ACTION_STOP) {
    char* user = strdup(r.core.user);
    if (user != nullptr && pam_set_data(r.pamh, kAcceptedKey, user, WipeAndFree) != PAM_SUCCESS) {
      std::free(user);
    }
  }
  return Answered(r, result);
}

int Authenticate(pam_handle_t* pamh, int flags, int argc, const char** argv) {
  Request r;
  int rc = Begin(pamh, flags, argc, argv, r);
  if (rc != PAM_SUCCESS) return rc;
  const void* split_done = nullptr;
  if (r.options->split && pam_get_data(pamh, kSplitDoneKey, &split_done) != PAM_SUCCESS) {
    return Split(r);
  }
  if (AlreadyAccepted(r)) return PAM_SUCCESS;
  if (r.options->fail_delay_ms > 0) {
    pam_fail_delay(pamh, static_cast<unsigned>(r.options->fail_delay_ms) * 1000u);
  }
  otpgate_result result;
  const void* split_code = nullptr;
  if (pam_get_data(pamh, kSplitCodeKey, &split_code) == PAM_SUCCESS && split_code != nullptr) {
    // A login is decided here; another action asks, and GetCode hands it
    // the split-off code.
    otpgate_begin_with_code(r.handle.get(), &r.core, static_cast<const char*>(split_code), &result);
  } else {
    otpgate_begin(r.handle.get(), &r.core, &result);
  }
  std::optional<Answer> token;
  if (result.answer == OTPGATE_ANSWER_ASK_TOKEN_AND_CODE) {
    token = Ask(pamh, r.options->token_prompt, /*echo=*/true);
    if (!token.has_value()) return PAM_CONV_ERR;
  } else if (result.answer != OTPGATE_ANSWER_ASK_CODE) {
    if (split_code != nullptr) pam_set_data(pamh, kSplitCodeKey, nullptr, nullptr);  // wipes it
    return Decided(r, result);
  }
  auto code = GetCode(r, rc);
  if (rc != PAM_SUCCESS) return rc;
  r.core.action = result.action;
  otpgate_finish(r.handle.get(), &r.core, token ? token->text().c_str() : nullptr,
                 code ? code->text().c_str() : nullptr, &result);
  return Decided(r, result);
}

int AccountManagement(pam_handle_t* pamh, int flags, int argc, const char** argv) {
  Request r;
  int rc = Begin(pamh, flags, argc, argv, r);
  if (rc == PAM_AUTHINFO_UNAVAIL) return PAM_PERM_DENIED;  // fail closed
  if (rc != PAM_SUCCESS) return rc;
  otpgate_result result;
  otpgate_account(r.handle.get(), &r.core, &result);
  rc = Answered(r, result);
  return rc == PAM_MAXTRIES || rc == PAM_AUTHINFO_UNAVAIL ? PAM_PERM_DENIED : rc;
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
  return otpgate::pam::Guard(pamh,
                             [&] { return otpgate::pam::Authenticate(pamh, flags, argc, argv); });
}

__attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t*, int, int, const char**) {
  return PAM_SUCCESS;
}

__attribute__((visibility("default"))) int pam_sm_acct_mgmt(pam_handle_t* pamh, int flags, int argc,
                                                            const char** argv) {
  return otpgate::pam::Guard(
      pamh, [&] { return otpgate::pam::AccountManagement(pamh, flags, argc, argv); });
}

}  // extern "C"
