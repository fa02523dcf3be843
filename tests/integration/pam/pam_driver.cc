// A PAM application for tests and benchmarks: runs one service through real
// libpam, answers prompts from the command line, and reports every prompt
// and message it saw.
//
//   pam_driver --confdir DIR --service S --user U [--answer TEXT]...
//              [--silent] [--acct] [--fail-conv] [--repeat N]
//
// The service is read from DIR with libpam's own pam_start_confdir, not
// through pam_wrapper: pam_wrapper copies every process's services into one
// of a few shared /tmp/pam.X directories, and two processes that pick the
// same one at once (its lstat-then-mkdir is not atomic, and a failed mkdir
// is only logged) read each other's services. Between two tests that name
// their services alike, that is a login checked against the other test's
// store: a replayed code accepted, a valid code refused.
// (An application cannot set PAM_AUTHTOK: libpam refuses it. Single-field
// clients answer the password prompt with password + code.)
// Prints "PROMPT_ECHO_OFF <text>", "PROMPT_ECHO_ON <text>", "INFO <text>",
// "ERROR <text>", then "authenticate <rc>" (and "acct_mgmt <rc>"); exits
// with pam_authenticate's code.
#include <security/pam_appl.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Script {
  std::vector<std::string> answers;
  size_t next = 0;
  bool fail = false;
};

int Converse(int count, const struct pam_message** messages, struct pam_response** responses,
             void* data) {
  auto* script = static_cast<Script*>(data);
  if (script->fail) return PAM_CONV_ERR;
  auto* out =
      static_cast<pam_response*>(std::calloc(static_cast<size_t>(count), sizeof(pam_response)));
  if (out == nullptr) return PAM_BUF_ERR;
  for (int i = 0; i < count; ++i) {
    const pam_message* m = messages[i];
    switch (m->msg_style) {
      case PAM_PROMPT_ECHO_OFF:
      case PAM_PROMPT_ECHO_ON:
        std::printf("%s %s\n",
                    m->msg_style == PAM_PROMPT_ECHO_OFF ? "PROMPT_ECHO_OFF" : "PROMPT_ECHO_ON",
                    m->msg);
        if (script->next >= script->answers.size()) {
          std::free(out);
          return PAM_CONV_ERR;
        }
        out[i].resp = strdup(script->answers[script->next++].c_str());
        break;
      case PAM_TEXT_INFO:
        std::printf("INFO %s\n", m->msg);
        break;
      case PAM_ERROR_MSG:
        std::printf("ERROR %s\n", m->msg);
        break;
      default:
        break;
    }
  }
  *responses = out;
  return PAM_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  const char* confdir = nullptr;
  const char* service = nullptr;
  const char* user = nullptr;
  bool silent = false, acct = false;
  int repeat = 1;
  Script script;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(64);
      }
      return argv[++i];
    };
    if (arg == "--confdir")
      confdir = value();
    else if (arg == "--service")
      service = value();
    else if (arg == "--user")
      user = value();
    else if (arg == "--answer")
      script.answers.emplace_back(value());
    else if (arg == "--silent")
      silent = true;
    else if (arg == "--acct")
      acct = true;
    else if (arg == "--fail-conv")
      script.fail = true;
    else if (arg == "--repeat")
      repeat = std::atoi(value());
    else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 64;
    }
  }
  if (confdir == nullptr || service == nullptr || user == nullptr) {
    std::fprintf(stderr, "usage: pam_driver --confdir DIR --service S --user U [--answer A]...\n");
    return 64;
  }
  int rc = PAM_SUCCESS;
  for (int round = 0; round < repeat; ++round) {
    script.next = 0;
    pam_conv conv{Converse, &script};
    pam_handle_t* pamh = nullptr;
    rc = pam_start_confdir(service, user, &conv, confdir, &pamh);
    if (rc != PAM_SUCCESS) {
      std::printf("pam_start %s\n", pam_strerror(nullptr, rc));
      return rc;
    }
    rc = pam_authenticate(pamh, silent ? PAM_SILENT : 0);
    if (repeat == 1) std::printf("authenticate %d %s\n", rc, pam_strerror(pamh, rc));
    if (acct) {
      int acct_rc = pam_acct_mgmt(pamh, silent ? PAM_SILENT : 0);
      std::printf("acct_mgmt %d %s\n", acct_rc, pam_strerror(pamh, acct_rc));
    }
    pam_end(pamh, rc);
  }
  std::fflush(stdout);
  return rc;
}
