// The PAM conversation, with answers that wipe themselves.
#ifndef OTPGATE_PAM_CONVERSATION_H_
#define OTPGATE_PAM_CONVERSATION_H_

#include <security/pam_modules.h>

#include <optional>
#include <string>

namespace otpgate::pam {

// One answer from the user; wiped (OPENSSL_cleanse) when destroyed.
class Answer {
 public:
  explicit Answer(std::string text) : text_(std::move(text)) {}
  ~Answer();
  Answer(Answer&& other) noexcept : text_(std::move(other.text_)) { other.text_.clear(); }
  Answer& operator=(Answer&& other) noexcept {
    std::swap(text_, other.text_);  // the old text is wiped with `other`
    return *this;
  }
  Answer(const Answer&) = delete;
  Answer& operator=(const Answer&) = delete;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// Asks one question. nullopt: the conversation failed (PAM_CONV_ERR).
std::optional<Answer> Ask(pam_handle_t* pamh, const std::string& prompt, bool echo);
// Tells the user something (PAM_TEXT_INFO / PAM_ERROR_MSG) unless silent.
void Tell(pam_handle_t* pamh, bool silent, bool error, const std::string& text);

}  // namespace otpgate::pam

#endif  // OTPGATE_PAM_CONVERSATION_H_
