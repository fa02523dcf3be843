#include "otpgate/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "file_util.h"
#include "otpgate/store.h"
#include "text_util.h"

namespace otpgate {
namespace {

constexpr size_t kMaxConfigBytes = 64 * 1024;

// One row per option: its contract (OptionSpec) and where it lives in Config.
struct OptionRow {
  OptionSpec spec;
  std::string Config::*string_field = nullptr;
  int Config::*int_field = nullptr;
  int64_t Config::*int64_field = nullptr;
  bool Config::*bool_field = nullptr;
};

OptionRow Str(std::string_view name, OptionType type, std::string_view def,
              std::string Config::*field, std::string_view help) {
  OptionRow row{{name, type, def, 0, 0, {}, help}};
  row.string_field = field;
  return row;
}
OptionRow Int(std::string_view name, std::string_view def, int64_t min, int64_t max,
              int Config::*field, std::string_view help) {
  OptionRow row{{name, OptionType::kInt, def, min, max, {}, help}};
  row.int_field = field;
  return row;
}
OptionRow Int64(std::string_view name, std::string_view def, int64_t min, int64_t max,
                int64_t Config::*field, std::string_view help) {
  OptionRow row{{name, OptionType::kInt, def, min, max, {}, help}};
  row.int64_field = field;
  return row;
}
OptionRow Bool(std::string_view name, bool Config::*field, std::string_view help) {
  OptionRow row{{name, OptionType::kBool, "no", 0, 0, {}, help}};
  row.bool_field = field;
  return row;
}
OptionRow Enum(std::string_view name, std::string_view def, std::string_view choices,
               std::string_view help) {
  return OptionRow{{name, OptionType::kEnum, def, 0, 0, choices, help}};
}

OptionRow Pam(OptionRow row) {
  row.spec.scope = OptionScope::kPam;
  return row;
}

const std::vector<OptionRow>& Rows() {
  static const std::vector<OptionRow> rows = {
      Str("store", OptionType::kStoreLocation, kDefaultStorePath, &Config::store,
          "the credential store: an LMDB directory (mode 0700), or a PostgreSQL "
          "postgresql:// URI or libpq connection string (no password in it)"),
      Int("store_timeout_ms", "1500", 100, 60000, &Config::store_timeout_ms,
          "PostgreSQL store: a request that cannot finish in this time fails closed"),
      Int("store_pool_size", "32", 1, 1024, &Config::store_pool_size,
          "PostgreSQL store: connections per process (radiusd: its thread count)"),
      Str("master_key", OptionType::kPath, kDefaultMasterKeyPath, &Config::master_key,
          "file with the 32-byte key that seals token secrets (mode 0600)"),
      Int("window", "1", 0, 10, &Config::window,
          "TOTP: steps accepted either side of the token's learnt drift"),
      Int("hotp_lookahead", "10", 0, 100, &Config::hotp_lookahead,
          "HOTP: counters accepted ahead of the next expected one"),
      Int64("resync_window", "600", 30, 86400, &Config::resync_window,
            "TOTP resync: seconds searched either side for two consecutive codes"),
      Int("hotp_resync_window", "1000", 10, 100000, &Config::hotp_resync_window,
          "HOTP resync: counters searched ahead for two consecutive codes"),
      Int("max_failures", "5", 1, 100, &Config::max_failures,
          "consecutive failures before a token is locked"),
      Int64("lockout_seconds", "60", 1, 86400, &Config::lockout_seconds,
            "first lockout; doubles with each further failure"),
      Int64("lockout_max_seconds", "3600", 1, 604800, &Config::lockout_max_seconds,
            "longest lockout"),
      Str("credential_prefix", OptionType::kString, "OTPG", &Config::credential_prefix,
          "prefix of credential IDs made by 'otpgate token new' (4 letters)"),
      Str("credential_prefixes", OptionType::kString, "", &Config::credential_prefixes,
          "allowed credential-ID prefixes, space-separated, e.g. \"VSST VSMT SYMC\" (empty: any)"),
      Int("credential_length", "0", 0, 64, &Config::credential_length,
          "required credential-ID length, e.g. 12 (0: any)"),
      Str("issuer", OptionType::kString, "otpgate", &Config::issuer,
          "issuer shown by authenticator apps for new tokens"),
      Enum("algorithm", "SHA1", "SHA1|SHA256|SHA512", "hash of new tokens"),
      Int("digits", "6", 6, 8, &Config::digits, "digits of new tokens"),
      Int64("period", "30", 1, 86400, &Config::period, "TOTP step of new tokens, seconds"),
      Enum("action", "login", "login|register|stop", "PAM/RADIUS: which flow this stack runs"),
      Enum("unenrolled", "allow", "allow|deny|register",
           "users with no token: allow (PAM_IGNORE), deny, or register on first login"),
      Str("prompt", OptionType::kString, "One-time password: ", &Config::prompt,
          "prompt for the code"),
      Int64("challenge_timeout", "120", 10, 3600, &Config::challenge_timeout,
            "RADIUS: seconds a challenge's State stays valid for round two (any server of "
            "the pool)"),
      Pam(Str("token_prompt", OptionType::kString, "Token ID (credential ID): ",
              &Config::token_prompt, "PAM: prompt for the credential ID when registering")),
      Pam(Int("fail_delay_ms", "2000", 0, 10000, &Config::fail_delay_ms,
              "PAM: minimum delay after a failed authentication (pam_fail_delay)")),
      Pam(Enum("nonroot", "fail", "fail|ignore",
               "PAM: a caller that is not root and cannot open the store: fail (closed) or "
               "ignore (PAM_IGNORE, with a notice)")),
      Bool("debug", &Config::debug, "log each decision at debug level"),
      Bool("split", &Config::split, "the code is appended to the password (one field)"),
      Pam(Bool("use_first_pass", &Config::use_first_pass,
               "PAM: take the code from the stacked password, never prompt")),
      Pam(Bool("try_first_pass", &Config::try_first_pass,
               "PAM: try the stacked password as the code, prompt if absent")),
  };
  return rows;
}

const OptionRow* FindRow(std::string_view name) {
  for (const OptionRow& row : Rows()) {
    if (row.spec.name == name) {
      return &row;
    }
  }
  return nullptr;
}

Result<bool> ParseBool(std::string_view name, std::string_view value) {
  if (value == "yes" || value == "true" || value == "on" || value == "1") return true;
  if (value == "no" || value == "false" || value == "off" || value == "0") return false;
  return Status::InvalidArgument("option " + std::string(name) + ": expected yes or no, got '" +
                                 std::string(value) + "'");
}

Status SetEnum(Config& config, std::string_view name, std::string_view value) {
  auto bad = [&] {
    return Status::InvalidArgument("option " + std::string(name) + ": expected one of " +
                                   std::string(FindRow(name)->spec.choices) + ", got '" +
                                   std::string(value) + "'");
  };
  if (name == "algorithm") {
    auto alg = ParseHashAlgorithm(value);
    if (!alg.ok()) return bad();
    config.algorithm = alg.value();
  } else if (name == "action") {
    if (value == "login")
      config.action = Action::kLogin;
    else if (value == "register")
      config.action = Action::kRegister;
    else if (value == "stop")
      config.action = Action::kStop;
    else
      return bad();
  } else if (name == "nonroot") {
    if (value == "fail")
      config.nonroot = NonRootPolicy::kFail;
    else if (value == "ignore")
      config.nonroot = NonRootPolicy::kIgnore;
    else
      return bad();
  } else if (name == "unenrolled") {
    if (value == "allow")
      config.unenrolled = UnenrolledPolicy::kAllow;
    else if (value == "deny")
      config.unenrolled = UnenrolledPolicy::kDeny;
    else if (value == "register")
      config.unenrolled = UnenrolledPolicy::kRegister;
    else
      return bad();
  }
  return Status::Ok();
}

}  // namespace

std::span<const OptionSpec> OptionTable() {
  static const std::vector<OptionSpec> specs = [] {
    std::vector<OptionSpec> out;
    for (const OptionRow& row : Rows()) out.push_back(row.spec);
    return out;
  }();
  return specs;
}

Status SetOption(Config& config, std::string_view name, std::string_view value) {
  const OptionRow* row = FindRow(name);
  if (row == nullptr) {
    return Status::InvalidArgument("unknown option '" + std::string(name) + "'");
  }
  if (value.size() > 4096 || value.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("option " + std::string(name) + ": value is malformed");
  }
  switch (row->spec.type) {
    case OptionType::kPath:
      if (value.empty() || value.front() != '/') {
        return Status::InvalidArgument("option " + std::string(name) +
                                       ": expected an absolute path");
      }
      config.*row->string_field = std::string(value);
      return Status::Ok();
    case OptionType::kStoreLocation:
      if (value.empty() || (value.front() != '/' && !IsPostgresLocation(value))) {
        return Status::InvalidArgument("option " + std::string(name) +
                                       ": expected an absolute path, a postgresql:// URI or a "
                                       "libpq connection string");
      }
      config.*row->string_field = std::string(value);
      return Status::Ok();
    case OptionType::kString:
      config.*row->string_field = std::string(value);
      return Status::Ok();
    case OptionType::kInt: {
      std::optional<int64_t> parsed = ParseInteger(value, row->spec.min, row->spec.max);
      if (!parsed.has_value()) {
        return Status::InvalidArgument("option " + std::string(name) + ": expected an integer " +
                                       std::to_string(row->spec.min) + ".." +
                                       std::to_string(row->spec.max) + ", got '" +
                                       std::string(value) + "'");
      }
      if (row->int_field != nullptr) {
        config.*row->int_field = static_cast<int>(*parsed);
      } else {
        config.*row->int64_field = *parsed;
      }
      return Status::Ok();
    }
    case OptionType::kBool: {
      OTPGATE_ASSIGN_OR_RETURN(bool flag, ParseBool(name, value));
      config.*row->bool_field = flag;
      return Status::Ok();
    }
    case OptionType::kEnum:
      return SetEnum(config, name, value);
  }
  return Status::Internal("option table is inconsistent");
}

Status ApplyArgument(Config& config, std::string_view argument) {
  size_t eq = argument.find('=');
  if (eq == std::string_view::npos) {
    const OptionRow* row = FindRow(argument);
    if (row != nullptr && row->spec.type == OptionType::kBool) {
      return SetOption(config, argument, "yes");
    }
    if (row != nullptr) {
      return Status::InvalidArgument("option " + std::string(argument) + " needs a value");
    }
    return Status::InvalidArgument("unknown option '" + std::string(argument) + "'");
  }
  return SetOption(config, argument.substr(0, eq), argument.substr(eq + 1));
}

Status ParseConfigText(Config& config, std::string_view text, std::string_view origin) {
  int line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? "" : text.substr(newline + 1);
    line = Trim(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(std::string(origin) + ":" + std::to_string(line_number) +
                                     ": expected 'name = value'");
    }
    std::string_view value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);  // quotes keep trailing spaces of prompts
    }
    Status status = SetOption(config, Trim(line.substr(0, eq)), value);
    if (!status.ok()) {
      return Status::InvalidArgument(std::string(origin) + ":" + std::to_string(line_number) +
                                     ": " + status.message());
    }
  }
  return Status::Ok();
}

Status LoadConfigFile(Config& config, const std::string& path, bool missing_ok) {
  struct stat st;
  if (missing_ok && ::lstat(path.c_str(), &st) != 0 && errno == ENOENT) {
    return Status::Ok();
  }
  // Policy may be world-readable but must not be writable by anyone else.
  OTPGATE_ASSIGN_OR_RETURN(
      UniqueFd fd, OpenCheckedFile(path, "config file", FileRole::kPolicy, kMaxConfigBytes));
  if (::fstat(fd.get(), &st) != 0) {
    return Status::Unavailable("config file " + path + ": " + std::strerror(errno));
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  ssize_t got = ReadFully(fd.get(), text.data(), text.size());
  if (got < 0) {
    return Status::Unavailable("config file " + path + ": " + std::strerror(errno));
  }
  text.resize(static_cast<size_t>(got));
  return ParseConfigText(config, text, path);
}

std::string OptionValue(const Config& config, std::string_view name) {
  const OptionRow* row = FindRow(name);
  if (row == nullptr) return "";
  if (row->string_field != nullptr) return config.*row->string_field;
  if (row->int_field != nullptr) return std::to_string(config.*row->int_field);
  if (row->int64_field != nullptr) return std::to_string(config.*row->int64_field);
  if (row->bool_field != nullptr) return config.*row->bool_field ? "yes" : "no";
  if (name == "algorithm") return std::string(HashAlgorithmName(config.algorithm));
  if (name == "action") {
    return config.action == Action::kLogin      ? "login"
           : config.action == Action::kRegister ? "register"
                                                : "stop";
  }
  if (name == "nonroot") return config.nonroot == NonRootPolicy::kFail ? "fail" : "ignore";
  if (name == "unenrolled") {
    return config.unenrolled == UnenrolledPolicy::kAllow  ? "allow"
           : config.unenrolled == UnenrolledPolicy::kDeny ? "deny"
                                                          : "register";
  }
  return "";
}

}  // namespace otpgate
