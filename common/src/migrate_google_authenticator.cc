// ~/.google_authenticator files (google-authenticator-libpam).
#include <algorithm>

#include "otpgate/base32.h"
#include "otpgate/migrate.h"
#include "otpgate/normalize.h"
#include "text_util.h"

namespace otpgate {
namespace {

struct GoogleOptions {
  bool hotp = false;
  int64_t hotp_counter = 0;
  int64_t step = 30;
  int64_t window = 3;  // codes, centred: (window - 1) / 2 steps either side
  int64_t skew = 0;
  bool disallow_reuse = false;
  int64_t last_used_step = -1;
  int scratch_codes = 0;
};

// One '" OPTION ...' line.
Status ReadOption(std::vector<std::string_view> words, GoogleOptions& o,
                  std::vector<std::string>* notes) {
  if (words.empty()) return Status::Ok();
  std::string_view name = words[0];
  auto number = [&](size_t i, int64_t min, int64_t max) -> Result<int64_t> {
    if (i >= words.size()) return Status::InvalidArgument(std::string(name) + " has no value");
    return ParseInteger(words[i], min, max, std::string(name) + " has a bad value");
  };
  if (name == "TOTP_AUTH") {
  } else if (name == "HOTP_COUNTER") {
    OTPGATE_ASSIGN_OR_RETURN(o.hotp_counter, number(1, 0, kMaxHotpCounter));
    o.hotp = true;
  } else if (name == "STEP_SIZE") {
    OTPGATE_ASSIGN_OR_RETURN(o.step, number(1, 1, 86400));
  } else if (name == "WINDOW_SIZE") {
    OTPGATE_ASSIGN_OR_RETURN(o.window, number(1, 1, 100));
  } else if (name == "TIME_SKEW") {
    OTPGATE_ASSIGN_OR_RETURN(o.skew, number(1, -1'000'000, 1'000'000));
  } else if (name == "DISALLOW_REUSE") {
    o.disallow_reuse = true;
    for (size_t i = 1; i < words.size(); ++i) {
      OTPGATE_ASSIGN_OR_RETURN(int64_t used, number(i, 0, INT64_MAX / 2));
      o.last_used_step = std::max(o.last_used_step, used);
    }
  } else if (name == "RATE_LIMIT") {
    OTPGATE_ASSIGN_OR_RETURN(int64_t logins, number(1, 1, 1'000'000));
    OTPGATE_ASSIGN_OR_RETURN(int64_t seconds, number(2, 1, 1'000'000));
    notes->push_back("rate limit of " + std::to_string(logins) + " logins per " +
                     std::to_string(seconds) +
                     " s not carried over: otpgate locks a token after max_failures wrong codes");
  } else {
    return Status::InvalidArgument("option " + std::string(name) + " is not understood");
  }
  return Status::Ok();
}

}  // namespace

Result<ParsedToken> ParseGoogleAuthenticatorFile(std::string_view text, std::string_view user,
                                                 const MigrationOptions& options,
                                                 std::vector<std::string>* notes) {
  OTPGATE_RETURN_IF_ERROR(ValidateUserName(user));
  size_t newline = text.find('\n');
  std::string_view secret_line = Trim(text.substr(0, newline));
  text = newline == std::string_view::npos ? "" : text.substr(newline + 1);
  auto secret = Base32Decode(secret_line);
  if (!secret.ok()) return Status::InvalidArgument("the first line is not a base32 secret");
  if (secret->size() < 10 || secret->size() > 128) {
    return Status::InvalidArgument("the secret has " + std::to_string(secret->size()) +
                                   " bytes (10 to 128 accepted)");
  }
  GoogleOptions o;
  while (!text.empty()) {
    newline = text.find('\n');
    std::string_view line = Trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? "" : text.substr(newline + 1);
    if (line.empty()) continue;
    if (line.starts_with("\"")) {
      OTPGATE_RETURN_IF_ERROR(ReadOption(SplitWords(line.substr(1)), o, notes));
    } else if (ParseInteger(line, 0, 99'999'999).has_value() && line.size() == 8) {
      ++o.scratch_codes;
    } else {
      return Status::InvalidArgument("a line is neither an option nor an 8-digit scratch code");
    }
  }
  TokenSpec spec;
  OTPGATE_ASSIGN_OR_RETURN(spec.credential_id, MigrationCredentialId(options.id_prefix, user));
  spec.owner = std::string(user);
  spec.issuer = options.issuer;
  spec.params.digits = 6;
  const int64_t half_window = (o.window - 1) / 2;
  notes->push_back("window of " + std::to_string(o.window) +
                   " codes not carried over per token: otpgate's `window` setting applies");
  if (o.hotp) {
    spec.params.kind = OtpKind::kHotp;
    spec.initial_counter = static_cast<uint64_t>(o.hotp_counter);
  } else {
    spec.params.kind = OtpKind::kTotp;
    spec.params.period = o.step;
    spec.drift = o.skew;
    if (o.disallow_reuse) {
      spec.last_used_step = o.last_used_step;
    } else {
      // Reuse was allowed, so no step was recorded: every code up to now
      // (and up to the old window ahead) counts as used.
      spec.last_used_step = TotpStep(options.now, 0, o.step) + o.skew + half_window;
      notes->push_back(
          "reuse was allowed (no DISALLOW_REUSE): codes up to the current time step are refused");
    }
  }
  if (o.scratch_codes > 0) {
    notes->push_back(std::to_string(o.scratch_codes) +
                     " scratch (emergency) codes not imported: otpgate has none");
  }
  return std::make_pair(std::move(spec), std::move(secret).value());
}

}  // namespace otpgate
