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
#include <sstream>
#include <string>

#include "commands.h"
#include "import_flow.h"
#include "otpgate/credential_policy.h"
#include "otpgate/otpauth_uri.h"
#include "otpgate/pskc.h"
#include "otpgate/secret.h"
#include "otpgate/soft_token.h"
#include "otpgate/token_import.h"
#include "private_file.h"
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
  std::string qr_terminal = "ansi";
  QrFiles qr_files;
};

struct ImportArgs {
  std::string file, format = "auto", key_file, password_file, id_from = "serial";
  ImportFlags flags;
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
    if (!cli.globals().json && !a.no_qr)
      std::cout << RenderQr(uris[0], ParseTerminalQr(a.qr_terminal).value());
    Status images = WriteQrFiles(a.qr_files, uris[0]);
    if (!images.ok()) code = cli.Error(images);
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

// The first bytes of a file (or of standard input, read whole into `stdin_text`).
Result<std::string> Head(const std::string& path, std::string& stdin_text) {
  if (path == "-") {
    OTPGATE_ASSIGN_OR_RETURN(stdin_text, ReadWholeFile(path));
    return stdin_text.substr(0, 4096);
  }
  std::ifstream probe(path, std::ios::binary);
  if (!probe) return Status::Unavailable("cannot read " + path);
  std::string head(4096, '\0');
  probe.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(probe.gcount()));
  return head;
}

// A re-readable source of the file's entries (see import_flow.h).
EntrySource ImportSource(Cli& cli, const ImportArgs& a, ImportFormat format,
                         std::shared_ptr<const std::string> stdin_text,
                         std::shared_ptr<const PskcOptions> pskc) {
  if (format == ImportFormat::kPskc) {
    return [a, stdin_text, pskc](const TokenVisitor& visit) -> Status {
      if (a.file != "-") return StreamPskcFile(Cli::Absolute(a.file), *pskc, visit);
      OTPGATE_ASSIGN_OR_RETURN(ParsedTokens parsed, ParsePskcText(*stdin_text, *pskc));
      for (auto& token : parsed.tokens) visit(0, ParsedToken(token.first, token.second.Clone()));
      for (const RejectedLine& r : parsed.rejected)
        visit(r.line, Status::InvalidArgument(r.reason));
      return Status::Ok();
    };
  }
  std::string issuer = cli.config().issuer;
  return [a, format, issuer, stdin_text](const TokenVisitor& visit) -> Status {
    if (a.file == "-") {
      std::istringstream in(*stdin_text);
      return StreamTokenLines(in, format, issuer, visit);
    }
    std::ifstream in(a.file, std::ios::binary);
    if (!in) return Status::Unavailable("cannot read " + a.file);
    return StreamTokenLines(in, format, issuer, visit);
  };
}

int ImportTokens(Cli& cli, const ImportArgs& a) {
  auto stdin_text = std::make_shared<std::string>();
  auto head = Head(a.file, *stdin_text);
  if (!head.ok()) return cli.Error(head.status());
  auto format = a.format == "auto" ? Result<ImportFormat>(DetectImportFormat(*head))
                                   : ParseImportFormat(a.format);
  if (!format.ok()) return cli.Error(format.status());
  auto pskc = std::make_shared<PskcOptions>();
  if (*format == ImportFormat::kPskc) {
    pskc->id_from_key_id = a.id_from == "key-id";
    Status secrets = LoadPskcSecrets(a.key_file, a.password_file, *pskc);
    if (!secrets.ok()) return cli.Error(secrets);
  }
  ImportTarget target{a.file, std::string(ImportFormatName(*format)),
                      *format == ImportFormat::kPskc ? "key" : "line"};
  int rc = RunImport(cli, ImportSource(cli, a, *format, stdin_text, pskc), target, a.flags);
  if (pskc->password.has_value()) WipeString(*pskc->password);
  WipeString(*stdin_text);
  return rc;
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
  sub->add_option("--qr-terminal", a->qr_terminal,
                  "terminal QR: ansi (black on white, any background), dark or light (the "
                  "terminal's background)")
      ->check(CLI::IsMember({"ansi", "dark", "light"}));
  sub->add_option("--qr-png", a->qr_files.png,
                  "also write the QR code as a PNG image (mode 0600; one token)");
  sub->add_option("--qr-svg", a->qr_files.svg,
                  "also write the QR code as an SVG image (mode 0600; one token)");
  cli.Run(sub, [&cli, a] { return NewTokens(cli, *a); });
}

void AddTokenImport(CLI::App& token, Cli& cli) {
  auto a = std::make_shared<ImportArgs>();
  auto* sub = token.add_subcommand(
      "import", "import tokens: PSKC (RFC 6030), CSV, OATH CSV or otpauth URIs (all or nothing)");
  sub->add_option("file", a->file, "file to import ('-' for standard input)")->required();
  sub->add_option("--format", a->format, "pskc, csv, oath-csv (privacyIDEA/LinOTP), uri or auto")
      ->check(CLI::IsMember({"auto", "pskc", "csv", "oath-csv", "uri"}));
  sub->add_option("--key-file", a->key_file,
                  "PSKC pre-shared key (16/24/32 bytes, raw or hex; mode 0600)");
  sub->add_option("--password-file", a->password_file, "PSKC password (first line; mode 0600)");
  sub->add_option("--id-from", a->id_from,
                  "PSKC credential ID: serial (DeviceInfo/SerialNo) or key-id (Key@Id)")
      ->check(CLI::IsMember({"serial", "key-id"}));
  AddImportFlags(*sub, a->flags);
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
