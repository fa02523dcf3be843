// token new (soft tokens: key URI and QR code, or PSKC / URI files) and
// token import (PSKC, CSV, otpauth URIs).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "otpgate/credential_policy.h"
#include "otpgate/otpauth_uri.h"
#include "otpgate/pskc.h"
#include "otpgate/secret.h"
#include "otpgate/soft_token.h"
#include "otpgate/token_import.h"
#include "qr.h"

namespace otpgate::cli {
namespace {

using TokenBatch = std::vector<std::pair<TokenSpec, SecretBytes>>;

struct NewArgs {
  std::string id, type = "totp", algorithm, prefix, pskc, uris, key_file, password_file;
  int digits = 0, count = 1;
  int64_t period = 0;
  uint64_t counter = 0;
  bool no_qr = false;
};

struct ImportArgs {
  std::string file, format = "auto", key_file, password_file, id_from = "serial";
  bool replace = false, dry_run = false;
};

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
  std::fprintf(stderr, "\r[%s%s] %3zu%% (%zu/%zu)",
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(width - filled), ' ').c_str(), done * 100 / total,
               done, total);
  if (done == total) std::fputc('\n', stderr);
}

Result<TokenSpec> NewTokenBase(const Config& config, const NewArgs& a) {
  TokenSpec base;
  base.issuer = config.issuer;
  base.params.kind = a.type == "hotp" ? OtpKind::kHotp : OtpKind::kTotp;
  base.params.algorithm = config.algorithm;
  if (!a.algorithm.empty()) {
    OTPGATE_ASSIGN_OR_RETURN(base.params.algorithm, ParseHashAlgorithm(a.algorithm));
  }
  base.params.digits = a.digits != 0 ? a.digits : config.digits;
  base.params.period = a.period != 0 ? a.period : config.period;
  base.initial_counter = a.counter;
  return base;
}

// Writes the --uris and --pskc files of a new batch.
Status ExportNewTokens(const TokenBatch& tokens, const std::vector<std::string>& uris,
                       const NewArgs& a) {
  if (!a.uris.empty()) {
    std::string text;
    for (const std::string& uri : uris) text += uri + "\n";
    Status status = WritePrivateFile(a.uris, text);
    WipeString(text);
    OTPGATE_RETURN_IF_ERROR(status);
  }
  if (!a.pskc.empty()) {
    PskcOptions options;
    OTPGATE_RETURN_IF_ERROR(LoadPskcSecrets(a.key_file, a.password_file, options));
    std::vector<PskcExport> exports;
    for (const auto& [spec, secret] : tokens) {
      exports.push_back(
          {spec.credential_id, spec.params, secret.Clone(), spec.issuer, spec.initial_counter});
    }
    OTPGATE_ASSIGN_OR_RETURN(std::string xml, WritePskc(exports, options));
    Status status = WritePrivateFile(a.pskc, xml);
    WipeString(xml);
    OTPGATE_RETURN_IF_ERROR(status);
  }
  return Status::Ok();
}

int NewTokens(Cli& cli, const NewArgs& a) {
  auto base = NewTokenBase(cli.config(), a);
  if (!base.ok()) return cli.Error(base.status());
  std::string prefix = a.prefix.empty() ? cli.config().credential_prefix : a.prefix;
  auto tokens = GenerateSoftTokens(*base, a.id, prefix, static_cast<size_t>(a.count));
  if (!tokens.ok()) return cli.Error(tokens.status());
  std::vector<std::string> stored, existing;
  Status status = cli.service().ProvisionBatch(*tokens, false, &stored, &existing);
  if (!status.ok()) return cli.Error(status);
  if (!existing.empty())
    return cli.Error(Status::AlreadyExists("token " + existing.front() + " already exists"));
  std::vector<std::string> uris;
  for (const auto& [spec, secret] : *tokens) {
    uris.push_back(FormatKeyUri(KeyUri{spec.params, secret.Clone(), spec.issuer, spec.credential_id,
                                       spec.initial_counter}));
  }
  status = ExportNewTokens(*tokens, uris, a);
  int code = 0;
  if (!status.ok()) {
    code = cli.Error(status);
  } else if (a.count == 1) {
    Fields f;
    f.AddRaw("ok", "true")
        .Add("credential_id", tokens->front().first.credential_id)
        .Add("uri", uris[0]);
    code = cli.Print(f, 0);
    if (!cli.globals().json && !a.no_qr) std::cout << RenderQr(uris[0]);
  } else {
    Fields f;
    f.AddRaw("ok", "true").Add("created", static_cast<int64_t>(tokens->size()));
    if (!a.pskc.empty()) f.Add("pskc", a.pskc);
    if (!a.uris.empty()) f.Add("uris", a.uris);
    code = cli.Print(f, 0);
  }
  for (std::string& uri : uris) WipeString(uri);
  return code;
}

std::string DetectFormat(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  std::string head(4096, '\0');
  probe.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(probe.gcount()));
  return head.find("keyprov:pskc") != std::string::npos ? "pskc"
         : head.find("otpauth://") != std::string::npos ? "uri"
                                                        : "csv";
}

Result<ParsedTokens> ParseImportFile(Cli& cli, const ImportArgs& a, const std::string& format) {
  if (format == "pskc") {
    PskcOptions options;
    options.id_from_key_id = a.id_from == "key-id";
    OTPGATE_RETURN_IF_ERROR(LoadPskcSecrets(a.key_file, a.password_file, options));
    bool tty = ::isatty(STDERR_FILENO) != 0 && !cli.globals().json;
    options.progress = [tty](size_t keys) {
      if (tty) std::fprintf(stderr, "\rread %zu keys", keys);
    };
    auto result = ParsePskcFile(a.file, options);
    if (tty) std::fputc('\n', stderr);
    if (options.password.has_value()) WipeString(*options.password);
    return result;
  }
  OTPGATE_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(a.file));
  ParsedTokens parsed =
      format == "uri" ? ParseTokenUris(text) : ParseTokenCsv(text, cli.config().issuer);
  WipeString(text);
  return parsed;
}

void ReportRejected(const ImportArgs& a, const std::string& format, const ParsedTokens& parsed,
                    const std::vector<std::string>& skipped) {
  const char* unit = format == "pskc" ? "key" : "line";
  for (const RejectedLine& r : parsed.rejected) {
    if (r.line > 0) {
      std::cerr << a.file << ": " << unit << " " << r.line << ": rejected: " << r.reason << "\n";
    } else {
      std::cerr << a.file << ": rejected: " << r.reason << "\n";
    }
  }
  for (const std::string& id : skipped) std::cerr << "skipped: " << id << " already exists\n";
}

std::string RejectedJson(const ParsedTokens& parsed) {
  std::string json = "[";
  for (size_t i = 0; i < parsed.rejected.size(); ++i) {
    if (i > 0) json += ",";
    json += "{\"position\":" + std::to_string(parsed.rejected[i].line) +
            ",\"reason\":" + JsonEscape(parsed.rejected[i].reason) + "}";
  }
  return json + "]";
}

int ImportTokens(Cli& cli, const ImportArgs& a) {
  std::string format = a.format == "auto" ? DetectFormat(a.file) : a.format;
  auto parsed = ParseImportFile(cli, a, format);
  if (!parsed.ok()) return cli.Error(parsed.status());  // nothing imported
  // The credential-ID allowlist rejects single tokens, not the file.
  TokenBatch allowed;
  for (auto& candidate : parsed->tokens) {
    Status policy = CheckCredentialId(cli.config(), candidate.first.credential_id);
    if (policy.ok()) {
      allowed.push_back(std::move(candidate));
    } else {
      parsed->rejected.push_back({0, candidate.first.credential_id + ": " + policy.message()});
    }
  }
  std::vector<std::string> imported, skipped;
  if (a.dry_run) {
    for (const auto& [spec, secret] : allowed) {
      bool exists = cli.service().Show(spec.credential_id).ok();
      (exists && !a.replace ? skipped : imported).push_back(spec.credential_id);
    }
  } else {
    // One transaction for the whole file: all or nothing.
    Progress(0, allowed.size());
    Status status = cli.service().ProvisionBatch(allowed, a.replace, &imported, &skipped);
    if (!status.ok()) return cli.Error(status);
    Progress(allowed.size(), allowed.size());
  }
  if (!cli.globals().json) ReportRejected(a, format, *parsed, skipped);
  Fields f;
  f.AddRaw("ok", parsed->rejected.empty() ? "true" : "false")
      .Add("format", format)
      .AddRaw("dry_run", a.dry_run ? "true" : "false")
      .Add("imported", static_cast<int64_t>(imported.size()))
      .Add("skipped", static_cast<int64_t>(skipped.size()))
      .Add("rejected", static_cast<int64_t>(parsed->rejected.size()));
  if (cli.globals().json) f.AddRaw("rejected_items", RejectedJson(*parsed));
  return cli.Print(f, parsed->rejected.empty() ? 0 : 1);
}

void AddTokenNew(CLI::App& token, Cli& cli) {
  auto a = std::make_shared<NewArgs>();
  auto* sub =
      token.add_subcommand("new", "generate soft tokens: key URI and QR code, or PSKC / URI files");
  sub->add_option("--id", a->id, "credential ID (default: prefix + 8 random digits)");
  sub->add_option("--prefix", a->prefix, "credential ID prefix (default: credential_prefix)");
  sub->add_option("--count", a->count, "how many tokens")->check(CLI::Range(1, 1000000));
  sub->add_option("--type", a->type, "totp or hotp")->check(CLI::IsMember({"totp", "hotp"}));
  sub->add_option("--algorithm", a->algorithm, "SHA1, SHA256 or SHA512");
  sub->add_option("--digits", a->digits, "6, 7 or 8")->check(CLI::Range(6, 8));
  sub->add_option("--period", a->period, "TOTP step, seconds")->check(CLI::Range(1, 86400));
  sub->add_option("--counter", a->counter, "HOTP initial counter");
  sub->add_option("--pskc", a->pskc, "also write the tokens as a PSKC file (mode 0600)");
  sub->add_option("--key-file", a->key_file, "encrypt the PSKC file with this 16-byte key");
  sub->add_option("--password-file", a->password_file,
                  "encrypt the PSKC file with a PBKDF2 password");
  sub->add_option("--uris", a->uris, "also write the otpauth URIs, one per line (mode 0600)");
  sub->add_flag("--no-qr", a->no_qr, "do not print the QR code");
  cli.Run(sub, [&cli, a] { return NewTokens(cli, *a); });
}

void AddTokenImport(CLI::App& token, Cli& cli) {
  auto a = std::make_shared<ImportArgs>();
  auto* sub = token.add_subcommand("import", "import tokens: PSKC (RFC 6030), CSV or otpauth URIs");
  sub->add_option("file", a->file, "file to import ('-' for standard input, not for PSKC)")
      ->required();
  sub->add_option("--format", a->format, "pskc, csv, uri or auto")
      ->check(CLI::IsMember({"auto", "pskc", "csv", "uri"}));
  sub->add_option("--key-file", a->key_file,
                  "PSKC pre-shared key (16/24/32 bytes, raw or hex; mode 0600)");
  sub->add_option("--password-file", a->password_file, "PSKC password (first line; mode 0600)");
  sub->add_option("--id-from", a->id_from,
                  "PSKC credential ID: serial (DeviceInfo/SerialNo) or key-id (Key@Id)")
      ->check(CLI::IsMember({"serial", "key-id"}));
  sub->add_flag("--replace", a->replace, "replace tokens that already exist");
  sub->add_flag("--dry-run", a->dry_run, "check the file, import nothing");
  cli.Run(sub, [&cli, a] { return ImportTokens(cli, *a); });
}

}  // namespace

void AddTokenCommands(CLI::App& app, Cli& cli) {
  auto* token = app.add_subcommand("token", "provision tokens");
  token->require_subcommand(1);
  AddTokenNew(*token, cli);
  AddTokenImport(*token, cli);
}

}  // namespace otpgate::cli
