#include "cli.h"

#include <pwd.h>
#include <syslog.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "otpgate/token_import.h"

namespace otpgate::cli {

int ExitFor(Decision decision) {
  switch (decision) {
    case Decision::kAccept:
      return 0;
    case Decision::kReject:
      return 1;
    case Decision::kReplay:
      return 3;
    case Decision::kLocked:
      return 4;
    case Decision::kNoToken:
      return 5;
  }
  return 1;
}

int ExitFor(const Status& status) { return status.ok() ? 0 : 10 + static_cast<int>(status.code()); }

SyslogAudit::SyslogAudit() { openlog("otpgate", LOG_PID, LOG_AUTHPRIV); }
SyslogAudit::~SyslogAudit() { closelog(); }

void SyslogAudit::Record(const AuditEvent& e) {
  AuditEvent event = e;
  event.origin.front_end = "cli";
  syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", FormatAuditLine(event).c_str());
}

std::string AdministratorName() {
  // Through sudo, the person rather than root.
  const char* sudo_user = std::getenv("SUDO_USER");
  if (sudo_user != nullptr && sudo_user[0] != '\0') return sudo_user;
  struct passwd* pw = ::getpwuid(::getuid());
  return pw != nullptr ? pw->pw_name : "uid" + std::to_string(::getuid());
}

void AddAsOfOption(CLI::App* command, AsOf& as_of) {
  constexpr int64_t kMaxTime = 253402300799;  // 9999-12-31T23:59:59Z
  command
      ->add_option("--time", as_of.time,
                   "show it as of this Unix time instead of now (no decision is taken)")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            ParsedTime t = ParseTime(value);
            return t.ok && t.value <= kMaxTime
                       ? ""
                       : "must be a Unix time from 0 to " + std::to_string(kMaxTime);
          },
          "TIME"));
}

Status Cli::LoadConfig() {
  OTPGATE_RETURN_IF_ERROR(LoadConfigFile(config_, g_.config_path, !g_.config_given));
  if (!g_.store.empty()) {
    std::string store = IsPostgresLocation(g_.store) ? g_.store : Absolute(g_.store);
    OTPGATE_RETURN_IF_ERROR(SetOption(config_, "store", store));
  }
  if (!g_.master_key.empty()) {
    OTPGATE_RETURN_IF_ERROR(SetOption(config_, "master_key", Absolute(g_.master_key)));
  }
  for (const std::string& option : g_.options) {
    OTPGATE_RETURN_IF_ERROR(ApplyArgument(config_, option));
  }
  return Status::Ok();
}

Status Cli::OpenService() {
  OTPGATE_RETURN_IF_ERROR(LoadConfig());
  return OpenStore();
}

Status Cli::OpenStore() {
  auto service = OtpService::Open(config_, clock_, /*create=*/false, &audit_);
  if (!service.ok()) return service.status();
  service_ = std::move(service).value();
  service_->set_origin("cli", AdministratorName());
  return Status::Ok();
}

void Cli::Run(CLI::App* sub, std::function<int()> fn, bool needs_store) {
  sub->callback([this, fn = std::move(fn), needs_store] {
    Status status = needs_store ? OpenService() : Status::Ok();
    exit_code_ = status.ok() ? fn() : Error(status);
  });
}

int Cli::Error(const Status& status) {
  if (g_.json) {
    Fields out;
    out.AddRaw("ok", "false")
        .Add("error", StatusCodeName(status.code()))
        .Add("message", status.message());
    std::cout << out.ToJson() << "\n";
  } else {
    std::cerr << "otpgate: " << status.message() << " (" << StatusCodeName(status.code()) << ")\n";
  }
  return ExitFor(status);
}

int Cli::Print(Fields& fields, int exit_code) {
  if (g_.json) {
    std::cout << fields.ToJson() << "\n";
  } else {
    std::cout << fields.ToText();
  }
  return exit_code;
}

int Cli::Done(const Status& status, std::string_view what) {
  if (!status.ok()) return Error(status);
  Fields f;
  f.AddRaw("ok", "true").Add("result", what);
  return Print(f, 0);
}

int Cli::ReportVerdict(const Result<Verdict>& verdict, std::string_view accepted_text) {
  if (!verdict.ok()) return Error(verdict.status());
  Fields f;
  f.AddRaw("ok", verdict->decision == Decision::kAccept ? "true" : "false")
      .Add("decision", DecisionName(verdict->decision));
  if (!verdict->credential_id.empty()) f.Add("credential_id", verdict->credential_id);
  if (verdict->decision == Decision::kAccept) {
    f.Add("result", accepted_text);
  } else if (verdict->decision != Decision::kNoToken) {
    f.Add("failures", static_cast<int64_t>(verdict->failures));
    if (verdict->lock_until > clock_.Now()) f.AddTime("locked_until", verdict->lock_until);
  }
  return Print(f, ExitFor(verdict->decision));
}

std::string Cli::Absolute(const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  char cwd[PATH_MAX];
  return ::getcwd(cwd, sizeof(cwd)) != nullptr ? std::string(cwd) + "/" + path : path;
}

Fields InfoFields(const TokenInfo& t, int64_t now) {
  Fields f;
  f.Add("credential_id", t.credential_id)
      .Add("type", OtpKindName(t.params.kind))
      .Add("algorithm", HashAlgorithmName(t.params.algorithm))
      .Add("digits", t.params.digits);
  if (t.params.kind == OtpKind::kTotp) f.Add("period", t.params.period);
  f.Add("state", TokenStateName(t.state))
      .AddOptional("owner", t.owner)
      .AddOptional("issuer", t.issuer);
  if (t.last_accepted == kNoneAccepted) {
    f.AddRaw("last_accepted", "null", "-");
  } else {
    f.Add("last_accepted", t.last_accepted);
  }
  f.Add("drift", t.drift)
      .Add("failures", static_cast<int64_t>(t.failures))
      .AddBool("locked", t.lock_until > now)
      .AddTime("locked_until", t.lock_until > now ? t.lock_until : 0)
      .AddTime("created", t.created_at)
      .AddTime("bound", t.bound_at)
      .AddTime("last_used", t.last_used_at)
      .AddTime("valid_from", t.valid_from)
      .AddTime("valid_until", t.valid_until);
  return f;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path == "-" ? "/dev/stdin" : path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.size() > kMaxImportBytes) return Status::InvalidArgument(path + " is too large");
  return text;
}

}  // namespace otpgate::cli
