// otpgate: the administrator's command line, on the same core API as the
// PAM and FreeRADIUS modules.
//
// Exit codes (documented in otpgate(8)):
//   0 success / code accepted      1 code rejected        2 usage error
//   3 replayed code                4 token locked         5 user has no token
//   10 + status code for an operation that could not be carried out
//   (11 invalid input, 12 not found, 13 exists, 14 already bound, 15 not bound,
//    16 unsafe permissions, 17 store/key unavailable, 18 corrupt, 19 wrong key,
//    20 store full, 21 internal, 22 precondition failed)
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "otpgate/base32.h"
#include "otpgate/config.h"
#include "otpgate/credential_policy.h"
#include "otpgate/pskc.h"
#include "otpgate/normalize.h"
#include "otpgate/operations.h"
#include "otpgate/otpauth_uri.h"
#include "otpgate/sealing.h"
#include "otpgate/self_test.h"
#include "otpgate/token_import.h"
#include "output.h"
#include "qr.h"

namespace otpgate::cli {
namespace {

constexpr int kExitUsage = 2;

int ExitFor(Decision decision) {
  switch (decision) {
    case Decision::kAccept: return 0;
    case Decision::kReject: return 1;
    case Decision::kReplay: return 3;
    case Decision::kLocked: return 4;
    case Decision::kNoToken: return 5;
  }
  return 1;
}
int ExitFor(const Status& status) { return status.ok() ? 0 : 10 + static_cast<int>(status.code()); }

// Audit trail of the CLI: syslog, authpriv facility, like the modules.
class SyslogAudit final : public AuditSink {
 public:
  SyslogAudit() { openlog("otpgate", LOG_PID, LOG_AUTHPRIV); }
  ~SyslogAudit() override { closelog(); }
  void Record(const AuditEvent& e) override {
    syslog(LOG_AUTHPRIV | LOG_NOTICE, "admin action=%.*s user=%.*s token=%.*s outcome=%.*s%s%.*s",
           static_cast<int>(e.action.size()), e.action.data(), static_cast<int>(e.user.size()),
           e.user.data(), static_cast<int>(e.credential_id.size()), e.credential_id.data(),
           static_cast<int>(e.outcome.size()), e.outcome.data(), e.detail.empty() ? "" : " reason=",
           static_cast<int>(e.detail.size()), e.detail.data());
  }
};

struct Globals {
  std::string config_path = kDefaultConfigPath;
  bool config_given = false;
  std::string store;
  std::string master_key;
  std::vector<std::string> options;
  bool json = false;
  int64_t time = -1;  // --time: evaluate at this epoch second (tests, demos)
};

class FixedOrSystemClock final : public Clock {
 public:
  explicit FixedOrSystemClock(int64_t fixed) : fixed_(fixed) {}
  int64_t Now() const override { return fixed_ >= 0 ? fixed_ : system_.Now(); }

 private:
  int64_t fixed_;
  SystemClock system_;
};

class Cli {
 public:
  explicit Cli(Globals& g) : g_(g), clock_(-1) {}

  Status LoadConfig() {
    OTPGATE_RETURN_IF_ERROR(LoadConfigFile(config_, g_.config_path, !g_.config_given));
    if (!g_.store.empty()) OTPGATE_RETURN_IF_ERROR(SetOption(config_, "store", Absolute(g_.store)));
    if (!g_.master_key.empty()) {
      OTPGATE_RETURN_IF_ERROR(SetOption(config_, "master_key", Absolute(g_.master_key)));
    }
    for (const std::string& option : g_.options) {
      OTPGATE_RETURN_IF_ERROR(ApplyArgument(config_, option));
    }
    clock_ = FixedOrSystemClock(g_.time);
    return Status::Ok();
  }

  Status OpenService() {
    OTPGATE_RETURN_IF_ERROR(LoadConfig());
    return OpenStore();
  }

  // REQUIRES: LoadConfig() succeeded.
  Status OpenStore() {
    auto service = OtpService::Open(config_, clock_);
    if (!service.ok()) return service.status();
    service_ = std::move(service).value();
    service_->set_audit_sink(&audit_);
    return Status::Ok();
  }

  // Prints an operation error and returns its exit code.
  int Error(const Status& status) {
    if (g_.json) {
      Fields out;
      out.AddRaw("ok", "false").Add("error", StatusCodeName(status.code()))
          .Add("message", status.message());
      std::cout << out.ToJson() << "\n";
    } else {
      std::cerr << "otpgate: " << status.message() << " (" << StatusCodeName(status.code())
                << ")\n";
    }
    return ExitFor(status);
  }

  int Print(Fields& fields, int exit_code) {
    if (g_.json) {
      std::cout << fields.ToJson() << "\n";
    } else {
      std::cout << fields.ToText();
    }
    return exit_code;
  }

  int Done(const Status& status, std::string_view what) {
    if (!status.ok()) return Error(status);
    Fields f;
    f.AddRaw("ok", "true").Add("result", what);
    return Print(f, 0);
  }

  int ReportVerdict(const Result<Verdict>& verdict, std::string_view accepted_text) {
    if (!verdict.ok()) return Error(verdict.status());
    Fields f;
    f.AddRaw("ok", verdict->decision == Decision::kAccept ? "true" : "false")
        .Add("decision", DecisionName(verdict->decision));
    if (!verdict->credential_id.empty()) f.Add("credential_id", verdict->credential_id);
    if (verdict->decision == Decision::kAccept) {
      f.Add("result", accepted_text);
    } else if (verdict->decision != Decision::kNoToken) {
      f.Add("failures", static_cast<int64_t>(verdict->failures));
      if (verdict->lock_until > clock_.Now()) f.Add("locked_until", FormatTime(verdict->lock_until));
    }
    return Print(f, ExitFor(verdict->decision));
  }

  static std::string Absolute(const std::string& path) {
    if (!path.empty() && path.front() == '/') return path;
    char cwd[PATH_MAX];
    return ::getcwd(cwd, sizeof(cwd)) != nullptr ? std::string(cwd) + "/" + path : path;
  }

  static Fields InfoFields(const TokenInfo& t) {
    Fields f;
    f.Add("credential_id", t.credential_id)
        .Add("type", OtpKindName(t.params.kind))
        .Add("algorithm", HashAlgorithmName(t.params.algorithm))
        .Add("digits", t.params.digits);
    if (t.params.kind == OtpKind::kTotp) f.Add("period", t.params.period);
    f.Add("state", TokenStateName(t.state))
        .Add("owner", t.owner)
        .Add("issuer", t.issuer)
        .Add("last_accepted", t.last_accepted)
        .Add("drift", t.drift)
        .Add("failures", static_cast<int64_t>(t.failures))
        .Add("locked_until", FormatTime(t.lock_until))
        .Add("created", FormatTime(t.created_at))
        .Add("bound", FormatTime(t.bound_at))
        .Add("last_used", FormatTime(t.last_used_at))
        .Add("valid_until", FormatTime(t.valid_until));
    return f;
  }

  Globals& g_;
  Config config_;
  FixedOrSystemClock clock_;
  SyslogAudit audit_;
  std::unique_ptr<OtpService> service_;
};

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path == "-" ? "/dev/stdin" : path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.size() > kMaxImportBytes) return Status::InvalidArgument(path + " is too large");
  return text;
}

// --key-file / --password-file, for PSKC import and export.
Status LoadPskcSecrets(const std::string& key_file, const std::string& password_file,
                       PskcOptions& options) {
  if (!key_file.empty()) {
    OTPGATE_ASSIGN_OR_RETURN(options.preshared_key, LoadTransportKey(Cli::Absolute(key_file)));
  }
  if (!password_file.empty()) {
    OTPGATE_ASSIGN_OR_RETURN(options.password, LoadPasswordFile(Cli::Absolute(password_file)));
  }
  return Status::Ok();
}

void Progress(size_t done, size_t total) {
  if (total < 1000 || !::isatty(STDERR_FILENO)) return;
  int width = 40;
  int filled = static_cast<int>(width * done / total);
  std::fprintf(stderr, "\r[%s%s] %3zu%% (%zu/%zu)", std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(width - filled), ' ').c_str(), done * 100 / total, done,
               total);
  if (done == total) std::fputc('\n', stderr);
}

}  // namespace

int Main(int argc, char** argv) {
  Globals g;
  CLI::App app{"otpgate: one-time password second factor for PAM and RADIUS"};
  app.set_version_flag("--version", "otpgate 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  app.add_option_function<std::string>(
         "-c,--config", [&](const std::string& v) { g.config_path = v; g.config_given = true; },
         "configuration file (default /etc/otpgate/otpgate.conf)");
  app.add_option("--store", g.store, "store directory (overrides the config file)");
  app.add_option("--master-key", g.master_key, "master key file (overrides the config file)");
  app.add_option("-o,--option", g.options, "set any config option: -o name=value");
  app.add_flag("--json", g.json, "machine-readable output");
  app.add_option("--time", g.time, "evaluate at this Unix time instead of now")->check(CLI::NonNegativeNumber);

  Cli cli(g);
  int exit_code = 0;
  // Commands that work without opening the store load the config themselves.
  auto run = [&cli, &exit_code](CLI::App* sub, auto fn, bool needs_store = true) {
    sub->callback([&cli, &exit_code, fn, needs_store] {
      Status status = needs_store ? cli.OpenService() : Status::Ok();
      exit_code = status.ok() ? fn() : cli.Error(status);
    });
  };

  // init
  auto* init = app.add_subcommand("init", "create the master key and the store (idempotent)");
  run(init, [&] {
    Status status = cli.LoadConfig();
    if (status.ok()) status = InitializeDeployment(cli.config_);
    return cli.Done(status, "initialised " + cli.config_.store);
  }, false);

  // token new / import
  auto* token = app.add_subcommand("token", "provision tokens");
  token->require_subcommand(1);
  std::string new_id, new_type = "totp", new_algorithm, new_prefix, new_pskc, new_uris, new_key_file,
      new_password_file;
  int new_digits = 0, new_count = 1;
  int64_t new_period = 0;
  uint64_t new_counter = 0;
  bool no_qr = false;
  auto* token_new = token->add_subcommand("new", "generate soft tokens: key URI and QR code, or PSKC / URI files");
  token_new->add_option("--id", new_id, "credential ID (default: prefix + 8 random digits)");
  token_new->add_option("--prefix", new_prefix, "credential ID prefix (default: credential_prefix)");
  token_new->add_option("--count", new_count, "how many tokens")->check(CLI::Range(1, 1000000));
  token_new->add_option("--type", new_type, "totp or hotp")->check(CLI::IsMember({"totp", "hotp"}));
  token_new->add_option("--algorithm", new_algorithm, "SHA1, SHA256 or SHA512");
  token_new->add_option("--digits", new_digits, "6, 7 or 8")->check(CLI::Range(6, 8));
  token_new->add_option("--period", new_period, "TOTP step, seconds")->check(CLI::Range(1, 86400));
  token_new->add_option("--counter", new_counter, "HOTP initial counter");
  token_new->add_option("--pskc", new_pskc, "also write the tokens as a PSKC file (mode 0600)");
  token_new->add_option("--key-file", new_key_file, "encrypt the PSKC file with this 16-byte key");
  token_new->add_option("--password-file", new_password_file, "encrypt the PSKC file with a PBKDF2 password");
  token_new->add_option("--uris", new_uris, "also write the otpauth URIs, one per line (mode 0600)");
  token_new->add_flag("--no-qr", no_qr, "do not print the QR code");
  run(token_new, [&] {
    if (!new_id.empty() && new_count != 1) return cli.Error(Status::InvalidArgument("--id makes one token"));
    TokenSpec base;
    base.issuer = cli.config_.issuer;
    base.params.kind = new_type == "hotp" ? OtpKind::kHotp : OtpKind::kTotp;
    base.params.algorithm = cli.config_.algorithm;
    if (!new_algorithm.empty()) {
      auto alg = ParseHashAlgorithm(new_algorithm);
      if (!alg.ok()) return cli.Error(alg.status());
      base.params.algorithm = alg.value();
    }
    base.params.digits = new_digits != 0 ? new_digits : cli.config_.digits;
    base.params.period = new_period != 0 ? new_period : cli.config_.period;
    base.initial_counter = new_counter;
    std::string prefix = new_prefix.empty() ? cli.config_.credential_prefix : new_prefix;
    std::vector<std::pair<TokenSpec, SecretBytes>> tokens;
    std::set<std::string> ids;
    while (static_cast<int>(tokens.size()) < new_count) {
      TokenSpec spec = base;
      spec.credential_id = new_id;
      if (spec.credential_id.empty()) {
        auto random = RandomBytes(8);
        if (!random.ok()) return cli.Error(random.status());
        spec.credential_id = prefix;
        for (size_t i = 0; i < 8; ++i) spec.credential_id += static_cast<char>('0' + random->data()[i] % 10);
        if (!ids.insert(spec.credential_id).second) continue;
      }
      auto id = NormalizeCredentialId(spec.credential_id);
      if (!id.ok()) return cli.Error(id.status());
      spec.credential_id = *id;
      auto secret = RandomBytes(20);
      if (!secret.ok()) return cli.Error(secret.status());
      tokens.emplace_back(std::move(spec), std::move(secret).value());
    }
    std::vector<std::string> stored, existing;
    Status status = cli.service_->ProvisionBatch(tokens, false, &stored, &existing);
    if (!status.ok()) return cli.Error(status);
    if (!existing.empty()) {
      return cli.Error(Status::AlreadyExists("token " + existing.front() + " already exists"));
    }
    std::vector<std::string> uris;
    for (const auto& [spec, secret] : tokens) {
      uris.push_back(FormatKeyUri(KeyUri{spec.params, secret.Clone(), spec.issuer, spec.credential_id,
                                         spec.initial_counter}));
    }
    auto write_private = [](const std::string& path, const std::string& text) -> Status {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) return Status::Unavailable("cannot create " + path + ": " + std::strerror(errno));
      bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      ok = ::close(fd) == 0 && ok;
      return ok ? Status::Ok() : Status::Unavailable("cannot write " + path);
    };
    if (!new_uris.empty()) {
      std::string text;
      for (const std::string& uri : uris) text += uri + "\n";
      status = write_private(new_uris, text);
      WipeString(text);
      if (!status.ok()) return cli.Error(status);
    }
    if (!new_pskc.empty()) {
      PskcOptions options;
      status = LoadPskcSecrets(new_key_file, new_password_file, options);
      if (!status.ok()) return cli.Error(status);
      std::vector<PskcExport> exports;
      for (const auto& [spec, secret] : tokens) {
        exports.push_back({spec.credential_id, spec.params, secret.Clone(), spec.issuer, spec.initial_counter});
      }
      auto xml = WritePskc(exports, options);
      if (!xml.ok()) return cli.Error(xml.status());
      status = write_private(new_pskc, *xml);
      WipeString(*xml);
      if (!status.ok()) return cli.Error(status);
    }
    int code = 0;
    if (new_count == 1) {
      Fields f;
      f.AddRaw("ok", "true").Add("credential_id", tokens[0].first.credential_id).Add("uri", uris[0]);
      code = cli.Print(f, 0);
      if (!g.json && !no_qr) std::cout << RenderQr(uris[0]);
    } else {
      Fields f;
      f.AddRaw("ok", "true").Add("created", static_cast<int64_t>(tokens.size()));
      if (!new_pskc.empty()) f.Add("pskc", new_pskc);
      if (!new_uris.empty()) f.Add("uris", new_uris);
      code = cli.Print(f, 0);
    }
    for (std::string& uri : uris) WipeString(uri);
    return code;
  });

  std::string import_file, import_format = "auto", key_file, password_file, id_from = "serial";
  bool import_replace = false, import_dry_run = false;
  auto* token_import = token->add_subcommand("import", "import tokens: PSKC (RFC 6030), CSV or otpauth URIs");
  token_import->add_option("file", import_file, "file to import ('-' for standard input, not for PSKC)")->required();
  token_import->add_option("--format", import_format, "pskc, csv, uri or auto")
      ->check(CLI::IsMember({"auto", "pskc", "csv", "uri"}));
  token_import->add_option("--key-file", key_file, "PSKC pre-shared key (16/24/32 bytes, raw or hex; mode 0600)");
  token_import->add_option("--password-file", password_file, "PSKC password (first line; mode 0600)");
  token_import->add_option("--id-from", id_from, "PSKC credential ID: serial (DeviceInfo/SerialNo) or key-id (Key@Id)")
      ->check(CLI::IsMember({"serial", "key-id"}));
  token_import->add_flag("--replace", import_replace, "replace tokens that already exist");
  token_import->add_flag("--dry-run", import_dry_run, "check the file, import nothing");
  run(token_import, [&] {
    std::string format = import_format;
    if (format == "auto") {
      std::ifstream probe(import_file, std::ios::binary);
      std::string head(4096, '\0');
      probe.read(head.data(), static_cast<std::streamsize>(head.size()));
      head.resize(static_cast<size_t>(probe.gcount()));
      format = head.find("keyprov:pskc") != std::string::npos ? "pskc"
               : head.find("otpauth://") != std::string::npos ? "uri"
                                                               : "csv";
    }
    ParsedTokens parsed;
    if (format == "pskc") {
      PskcOptions options;
      options.id_from_key_id = id_from == "key-id";
      Status secrets = LoadPskcSecrets(key_file, password_file, options);
      if (!secrets.ok()) return cli.Error(secrets);
      bool tty = ::isatty(STDERR_FILENO) != 0 && !g.json;
      options.progress = [tty](size_t keys) {
        if (tty) std::fprintf(stderr, "\rread %zu keys", keys);
      };
      auto result = ParsePskcFile(import_file, options);
      if (tty) std::fputc('\n', stderr);
      if (options.password.has_value()) WipeString(*options.password);
      if (!result.ok()) return cli.Error(result.status());  // nothing imported
      parsed = std::move(result).value();
    } else {
      auto text = ReadWholeFile(import_file);
      if (!text.ok()) return cli.Error(text.status());
      parsed = format == "uri" ? ParseTokenUris(*text) : ParseTokenCsv(*text, cli.config_.issuer);
      WipeString(*text);
    }
    // The credential-ID allowlist rejects single tokens, not the file.
    std::vector<std::pair<TokenSpec, SecretBytes>> allowed;
    for (auto& candidate : parsed.tokens) {
      Status policy = CheckCredentialId(cli.config_, candidate.first.credential_id);
      if (policy.ok()) {
        allowed.push_back(std::move(candidate));
      } else {
        parsed.rejected.push_back({0, candidate.first.credential_id + ": " + policy.message()});
      }
    }
    std::vector<std::string> imported, skipped;
    if (import_dry_run) {
      for (const auto& [spec, secret] : allowed) {
        bool exists = cli.service_->Show(spec.credential_id).ok();
        (exists && !import_replace ? skipped : imported).push_back(spec.credential_id);
      }
    } else {
      // One transaction for the whole file: all or nothing.
      size_t total = allowed.size();
      Progress(0, total);
      Status status = cli.service_->ProvisionBatch(allowed, import_replace, &imported, &skipped);
      if (!status.ok()) return cli.Error(status);
      Progress(total, total);
    }
    std::string rejected_json = "[";
    for (size_t i = 0; i < parsed.rejected.size(); ++i) {
      if (i > 0) rejected_json += ",";
      rejected_json += "{\"position\":" + std::to_string(parsed.rejected[i].line) +
                       ",\"reason\":" + JsonEscape(parsed.rejected[i].reason) + "}";
    }
    rejected_json += "]";
    if (!g.json) {
      const char* unit = format == "pskc" ? "key" : "line";
      for (const RejectedLine& r : parsed.rejected) {
        if (r.line > 0) {
          std::cerr << import_file << ": " << unit << " " << r.line << ": rejected: " << r.reason << "\n";
        } else {
          std::cerr << import_file << ": rejected: " << r.reason << "\n";
        }
      }
      for (const std::string& id : skipped) std::cerr << "skipped: " << id << " already exists\n";
    }
    Fields f;
    f.AddRaw("ok", parsed.rejected.empty() ? "true" : "false")
        .Add("format", format)
        .AddRaw("dry_run", import_dry_run ? "true" : "false")
        .Add("imported", static_cast<int64_t>(imported.size()))
        .Add("skipped", static_cast<int64_t>(skipped.size()))
        .Add("rejected", static_cast<int64_t>(parsed.rejected.size()));
    if (g.json) f.AddRaw("rejected_items", rejected_json);
    return cli.Print(f, parsed.rejected.empty() ? 0 : 1);
  });

  // The bank's flows.
  std::string user, id, code, code2;
  auto* reg = app.add_subcommand("register", "bind a token to a user with its current code");
  reg->add_option("user", user)->required();
  reg->add_option("credential_id", id)->required();
  reg->add_option("code", code)->required();
  run(reg, [&] { return cli.ReportVerdict(cli.service_->Register(user, id, code), "registration complete"); });

  auto* verify = app.add_subcommand("verify", "check a user's code (consumes it)");
  verify->add_option("user", user)->required();
  verify->add_option("code", code)->required();
  run(verify, [&] { return cli.ReportVerdict(cli.service_->Verify(user, code), "login accepted"); });

  auto* stop = app.add_subcommand("stop", "unbind the user's token with its current code");
  stop->add_option("user", user)->required();
  stop->add_option("code", code)->required();
  run(stop, [&] { return cli.ReportVerdict(cli.service_->Stop(user, code), "one-time password stopped"); });

  auto* resync = app.add_subcommand("resync", "re-anchor a token from two consecutive codes");
  resync->add_option("credential_id", id)->required();
  resync->add_option("code1", code)->required();
  resync->add_option("code2", code2)->required();
  run(resync, [&] { return cli.ReportVerdict(cli.service_->Resync(id, code, code2), "resynchronised"); });

  // Administration of one token.
  auto simple = [&](const char* name, const char* help, auto op, const char* done) {
    auto* sub = app.add_subcommand(name, help);
    sub->add_option("credential_id", id)->required();
    run(sub, [&cli, op, done] { return cli.Done(op(), done); });
  };
  simple("unlock", "clear a token's failures and lock", [&] { return cli.service_->Unlock(id); }, "unlocked");
  simple("disable", "refuse a registered token", [&] { return cli.service_->SetEnabled(id, false); }, "disabled");
  simple("enable", "accept a disabled token again", [&] { return cli.service_->SetEnabled(id, true); }, "enabled");
  simple("delete", "remove a token", [&] { return cli.service_->Delete(id); }, "deleted");
  simple("unassign", "unbind a token without a code", [&] { return cli.service_->Unassign(id); }, "unassigned");
  auto* assign = app.add_subcommand("assign", "bind a token to a user without a code");
  assign->add_option("credential_id", id)->required();
  assign->add_option("user", user)->required();
  run(assign, [&] { return cli.Done(cli.service_->Assign(id, user), "assigned"); });

  bool show_uri = false;
  auto* show = app.add_subcommand("show", "show a token (never its secret unless --uri)");
  show->add_option("credential_id", id)->required();
  show->add_flag("--uri", show_uri, "also print the key URI, which contains the secret");
  run(show, [&] {
    auto info = cli.service_->Show(id);
    if (!info.ok()) return cli.Error(info.status());
    Fields f = Cli::InfoFields(*info);
    std::string uri;
    if (show_uri) {
      auto secret = cli.service_->RevealSecret(id);
      if (!secret.ok()) return cli.Error(secret.status());
      KeyUri key{info->params, std::move(secret).value(), info->issuer, info->credential_id,
                 static_cast<uint64_t>(info->last_accepted + 1)};
      uri = FormatKeyUri(key);
      f.Add("uri", uri);
    }
    int rc = cli.Print(f, 0);
    WipeString(uri);
    return rc;
  });

  std::string list_user;
  auto* list = app.add_subcommand("list", "list tokens");
  list->add_option("--user", list_user, "only this user's tokens");
  run(list, [&] {
    auto tokens = cli.service_->List(list_user.empty() ? std::nullopt : std::optional<std::string>(list_user));
    if (!tokens.ok()) return cli.Error(tokens.status());
    if (g.json) {
      std::string out = "[";
      for (size_t i = 0; i < tokens->size(); ++i) {
        if (i > 0) out += ",";
        out += Cli::InfoFields((*tokens)[i]).ToJson();
      }
      std::cout << out << "]\n";
    } else {
      std::printf("%-16s %-5s %-7s %-10s %-20s %s\n", "CREDENTIAL_ID", "TYPE", "DIGITS", "STATE", "OWNER", "FAILURES");
      for (const TokenInfo& t : *tokens) {
        std::printf("%-16s %-5s %-7d %-10s %-20s %u%s\n", t.credential_id.c_str(),
                    std::string(OtpKindName(t.params.kind)).c_str(), t.params.digits,
                    std::string(TokenStateName(t.state)).c_str(), t.owner.empty() ? "-" : t.owner.c_str(),
                    t.failures, t.lock_until > cli.clock_.Now() ? " (locked)" : "");
      }
    }
    return 0;
  });

  // A software token: prints the code for a URI or a stored token.
  std::string code_uri, code_id;
  bool code_wait = false, code_quiet = false;
  auto* code_cmd = app.add_subcommand("code", "print the current code of a key URI or stored token (a soft token)");
  code_cmd->add_option("--uri", code_uri, "otpauth:// key URI");
  code_cmd->add_option("--id", code_id, "stored token (reveals its secret: admin only)");
  auto* counter_option = code_cmd->add_option("--counter", new_counter, "HOTP counter (default: the URI's)");
  code_cmd->add_flag("-q,--quiet", code_quiet, "print only the code");
  code_cmd->add_flag("--next-step", code_wait, "the code of the next TOTP step (for demos and tests)");
  run(code_cmd, [&] {
    Status status = cli.LoadConfig();
    if (!status.ok()) return cli.Error(status);
    KeyUri key;
    if (!code_uri.empty()) {
      auto parsed = ParseKeyUri(code_uri);
      WipeString(code_uri);
      if (!parsed.ok()) return cli.Error(parsed.status());
      key = std::move(parsed).value();
    } else if (!code_id.empty()) {
      status = cli.OpenStore();  // the config is loaded above
      if (!status.ok()) return cli.Error(status);
      auto info = cli.service_->Show(code_id);
      if (!info.ok()) return cli.Error(info.status());
      auto secret = cli.service_->RevealSecret(code_id);
      if (!secret.ok()) return cli.Error(secret.status());
      key.params = info->params;
      key.secret = std::move(secret).value();
    } else {
      return cli.Error(Status::InvalidArgument("give --uri or --id"));
    }
    int64_t now = cli.clock_.Now() + (code_wait ? key.params.period : 0);
    Result<OtpCode> otp = key.params.kind == OtpKind::kTotp
                              ? GenerateTotp(key.params, key.secret, now)
                              : GenerateHotp(key.params.algorithm, key.secret,
                                             counter_option->count() > 0 ? new_counter : key.counter, key.params.digits);
    if (!otp.ok()) return cli.Error(otp.status());
    Fields f;
    f.Add("code", *otp);
    if (key.params.kind == OtpKind::kTotp) {
      int64_t elapsed = (now - key.params.t0) % key.params.period;
      f.Add("seconds_left", key.params.period - elapsed);
    }
    if (code_quiet) {
      std::cout << *otp << "\n";  // for scripts: code=$(otpgate code -q ...)
      return 0;
    }
    return cli.Print(f, 0);
  }, false);

  auto* selftest = app.add_subcommand("selftest", "check this build against the RFC 4226/6238 vectors");
  run(selftest, [&] { return cli.Done(RunSelfTest(), "RFC 4226 and RFC 6238 vectors, base32, AES-256-GCM: ok"); }, false);

  auto* config_cmd = app.add_subcommand("config", "print the effective configuration");
  run(config_cmd, [&] {
    Status status = cli.LoadConfig();
    if (!status.ok()) return cli.Error(status);
    Fields f;
    for (const OptionSpec& spec : OptionTable()) f.Add(spec.name, OptionValue(cli.config_, spec.name));
    return cli.Print(f, 0);
  }, false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  return exit_code;
}

}  // namespace otpgate::cli

int main(int argc, char** argv) {
  // The CLI holds the master key and token secrets: it never writes a core
  // file (and, not dumpable, cannot be ptraced by another process of the
  // same user). The modules leave this to their hosts (docs/security.md).
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  try {
    return otpgate::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "otpgate: " << e.what() << "\n";
    return 21;
  }
}
