// liboath users files (pam_oath): "TYPE USER PIN SECRET [COUNTER [OTP [TIME]]]".
#include <ctime>
#include <unordered_set>

#include "otpgate/base32.h"
#include "otpgate/migrate.h"
#include "otpgate/normalize.h"
#include "otpgate/otp.h"
#include "text_util.h"

namespace otpgate {
namespace {

// liboath looks this many steps around the login time; the used step is searched as far.
constexpr int64_t kTotpSearchSteps = 100;

// "HOTP", "HOTP/E", "HOTP/E/8", "HOTP/T30", "HOTP/T60/6".
Status ReadType(std::string_view type, OtpParams& params) {
  auto bad = [&] {
    return Status::InvalidArgument("token type '" + std::string(type) + "' is not understood");
  };
  if (!type.starts_with("HOTP")) return bad();
  std::string_view rest = type.substr(4);
  params.kind = OtpKind::kHotp;
  if (rest.empty()) return Status::Ok();
  if (!rest.starts_with("/")) return bad();
  rest.remove_prefix(1);
  size_t slash = rest.find('/');
  std::string_view mode = rest.substr(0, slash);
  if (mode.starts_with("T")) {
    auto step = ParseInteger(mode.substr(1), 1, 86400);
    if (!step) return bad();
    params.kind = OtpKind::kTotp;
    params.period = *step;
  } else if (mode != "E") {
    return bad();
  }
  if (slash != std::string_view::npos) {
    auto digits = ParseInteger(rest.substr(slash + 1), 6, 8);
    if (!digits) return bad();
    params.digits = static_cast<int>(*digits);
  }
  return Status::Ok();
}

// liboath writes "2026-11-28T00:41:03L": local time.
std::optional<int64_t> ParseLocalTime(std::string_view text) {
  if (text.size() != 20 || text.back() != 'L') return std::nullopt;
  std::tm tm{};
  std::string s(text.substr(0, 19));
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&tm));
}

Result<ParsedToken> ParseLine(const std::vector<std::string_view>& f,
                              const MigrationOptions& options, std::string* note) {
  if (f.size() < 4 || f.size() > 7)
    return Status::InvalidArgument("expected TYPE USER PIN SECRET [COUNTER [OTP [TIME]]]");
  TokenSpec spec;
  OTPGATE_RETURN_IF_ERROR(ReadType(f[0], spec.params));
  OTPGATE_RETURN_IF_ERROR(ValidateUserName(f[1]));
  if (f[2] != "-") {
    return Status::InvalidArgument(
        "user " + std::string(f[1]) +
        " has a PIN in the users file: otpgate has no OTP PIN (the password is the first factor)");
  }
  auto secret = HexDecode(f[3]);
  if (!secret.ok() || secret->size() < 10 || secret->size() > 128) {
    return Status::InvalidArgument("the secret is not 10 to 128 bytes of hex");
  }
  OTPGATE_ASSIGN_OR_RETURN(spec.credential_id, MigrationCredentialId(options.id_prefix, f[1]));
  spec.owner = std::string(f[1]);
  spec.issuer = options.issuer;
  int64_t counter = 0;
  if (f.size() >= 5) {
    OTPGATE_ASSIGN_OR_RETURN(counter, ParseInteger(f[4], 0, kMaxHotpCounter - 1, "bad counter"));
  }
  std::string_view last_otp = f.size() >= 6 ? f[5] : "";
  std::optional<int64_t> last_time;
  if (f.size() == 7) {
    last_time = ParseLocalTime(f[6]);
    if (!last_time)
      return Status::InvalidArgument("last login time '" + std::string(f[6]) +
                                     "' is not understood");
  }
  OTPGATE_ASSIGN_OR_RETURN(HmacKey key, HmacKey::Create(spec.params.algorithm, *secret));
  char code[kMaxDigits + 1];
  if (spec.params.kind == OtpKind::kHotp) {
    // After a login liboath stores the counter of the code used.
    if (last_otp.empty()) {
      spec.initial_counter = static_cast<uint64_t>(counter);
      *note = "user " + std::string(f[1]) + ": no login recorded; the counter starts at " +
              std::to_string(counter);
    } else {
      if (!key.Hotp(static_cast<uint64_t>(counter), spec.params.digits, code))
        return Status::Internal("HMAC failed");
      if (last_otp != code) {
        return Status::InvalidArgument(
            "the last OTP is not the code of the stored counter: the line was altered");
      }
      spec.initial_counter = static_cast<uint64_t>(counter) + 1;
    }
  } else if (!last_otp.empty()) {
    if (!last_time) return Status::InvalidArgument("a last OTP without a login time");
    // The step whose code was the last one used, nearest the login time.
    int64_t around = TotpStep(*last_time, 0, spec.params.period);
    std::optional<int64_t> used;
    for (int64_t d = kTotpSearchSteps; d >= -kTotpSearchSteps && !used; --d) {
      if (around + d < 0) continue;
      if (!key.Hotp(static_cast<uint64_t>(around + d), spec.params.digits, code))
        return Status::Internal("HMAC failed");
      if (last_otp == code) used = around + d;
    }
    if (!used)
      return Status::InvalidArgument("the last OTP matches no time step near the last login");
    spec.last_used_step = *used;
  } else {
    *note = "user " + std::string(f[1]) + ": no login recorded; no time step counts as used";
  }
  return std::make_pair(std::move(spec), std::move(secret).value());
}

}  // namespace

void ParseOathUsersFile(std::string_view text, const MigrationOptions& options,
                        const TokenVisitor& visit, MigrationNotes* notes) {
  std::unordered_set<std::string> seen;
  size_t number = 0;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = Trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? "" : text.substr(newline + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    std::string note;
    auto parsed = ParseLine(SplitWords(line), options, &note);
    if (parsed.ok() && !seen.insert(parsed->first.credential_id).second) {
      parsed = Status::InvalidArgument(
          "credential ID " + parsed->first.credential_id +
          " appears more than once (a user with two tokens? use one line per user)");
    }
    if (!note.empty() && notes != nullptr) notes->push_back({number, note});
    visit(number, std::move(parsed));
  }
}

}  // namespace otpgate
