#include "pam_conversation.h"

#include <openssl/crypto.h>
#include <security/pam_ext.h>

#include <cstdlib>
#include <cstring>

namespace otpgate::pam {

Answer::~Answer() {
  if (!text_.empty()) {
    OPENSSL_cleanse(text_.data(), text_.size());
  }
}

std::optional<Answer> Ask(pam_handle_t* pamh, const std::string& prompt, bool echo) {
  char* response = nullptr;
  int rc = pam_prompt(pamh, echo ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF, &response, "%s",
                      prompt.c_str());
  if (rc != PAM_SUCCESS || response == nullptr) {
    std::free(response);
    return std::nullopt;
  }
  Answer answer{std::string(response)};
  OPENSSL_cleanse(response, std::strlen(response));
  std::free(response);
  return answer;
}

void Tell(pam_handle_t* pamh, bool silent, bool error, const std::string& text) {
  if (!silent) {
    pam_prompt(pamh, error ? PAM_ERROR_MSG : PAM_TEXT_INFO, nullptr, "%s", text.c_str());
  }
}

}  // namespace otpgate::pam
