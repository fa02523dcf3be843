// otpgate backup DIR / otpgate restore DIR: a consistent hot copy of the
// store, with the master key that opens it (unless --no-key), a manifest and
// SHA-256 checksums; and the checked way back.
//
// Backup directory (mode 0700, every file 0600):
//   data.mdb    compacted copy of the store (one read snapshot; PAM and
//               RADIUS go on deciding meanwhile)
//   master.key  the key (absent with --no-key)
//   MANIFEST    "otpgate-backup 1", "created <ISO 8601>", "store <path>",
//               "key included|not-included", then "sha256 <hex> <file>" lines
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "otpgate/sealing.h"
#include "otpgate/secret.h"
#include "otpgate/store.h"
#include "private_file.h"

namespace otpgate::cli {
namespace {

constexpr char kManifestHeader[] = "otpgate-backup 1";

struct BackupArgs {
  std::string dir;
  bool no_key = false;
  bool force = false;
};

Result<std::string> FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Status::Internal("SHA-256 unavailable");
  }
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Status::Unavailable("cannot read " + path);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof(byte), "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

// A new private directory, or an existing empty one made private.
Status MakeBackupDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return Status::Ok();
  if (errno != EEXIST) {
    return Status::Unavailable("cannot create " + dir + ": " + std::strerror(errno));
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec) || !std::filesystem::is_empty(dir, ec)) {
    return Status::AlreadyExists(dir + " exists and is not an empty directory");
  }
  return ::chmod(dir.c_str(), 0700) == 0 ? Status::Ok()
                                         : Status::Unavailable("cannot chmod " + dir);
}

void SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

int Backup(Cli& cli, const BackupArgs& a) {
  const std::string dir = Cli::Absolute(a.dir);
  // The key is checked (mode, size) before anything is written.
  auto key = MasterKey::Load(cli.config().master_key);
  if (!key.ok()) return cli.Error(key.status());
  // A PostgreSQL store refuses (and says what to use instead) before a
  // directory is made.
  Status status = IsPostgresLocation(cli.config().store) ? Status::Ok() : MakeBackupDirectory(dir);
  if (status.ok()) status = cli.service().BackupStore(dir + "/data.mdb");
  std::vector<std::string> files = {"data.mdb"};
  if (status.ok() && !a.no_key) {
    auto bytes = ReadWholeFile(cli.config().master_key);
    status = bytes.ok() ? WritePrivateFile(dir + "/master.key", *bytes) : bytes.status();
    if (bytes.ok()) WipeString(*bytes);
    files.push_back("master.key");
  }
  std::string manifest = std::string(kManifestHeader) + "\ncreated " +
                         FormatTime(cli.clock().Now()) + "\nstore " + cli.config().store +
                         "\nkey " + (a.no_key ? "not-included" : "included") + "\n";
  for (const std::string& file : files) {
    if (!status.ok()) break;
    auto sum = FileSha256(dir + "/" + file);
    if (!sum.ok()) status = sum.status();
    if (sum.ok()) manifest += "sha256 " + *sum + " " + file + "\n";
  }
  if (status.ok()) status = WritePrivateFile(dir + "/MANIFEST", manifest);
  if (!status.ok()) return cli.Error(status);
  SyncDirectory(dir);
  if (a.no_key) {
    std::cerr << "otpgate: warning: the master key is not in " << dir << "; the copy opens only "
              << "with " << cli.config().master_key << " (save them together)\n";
  }
  Fields f;
  f.AddBool("ok", true).Add("result", "backed up to " + dir).AddBool("key_included", !a.no_key);
  return cli.Print(f, 0);
}

// The manifest's "sha256 HEX FILE" lines, each checked against the file.
Result<std::map<std::string, std::string>> CheckManifest(const std::string& dir) {
  auto text = ReadWholeFile(dir + "/MANIFEST");
  if (!text.ok()) return Status::NotFound(dir + " has no MANIFEST: not an otpgate backup");
  std::istringstream lines(*text);
  std::string line;
  std::getline(lines, line);
  if (line != kManifestHeader) {
    return Status::InvalidArgument(dir + "/MANIFEST is not an otpgate backup manifest");
  }
  std::map<std::string, std::string> sums;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string kind, hex, file;
    words >> kind >> hex >> file;
    if (kind != "sha256") continue;
    if (file.find('/') != std::string::npos) {
      return Status::InvalidArgument("MANIFEST names a file outside the backup: " + file);
    }
    OTPGATE_ASSIGN_OR_RETURN(std::string actual, FileSha256(dir + "/" + file));
    if (actual != hex) return Status::Corrupt(dir + "/" + file + " does not match its checksum");
    sums[file] = hex;
  }
  if (sums.count("data.mdb") == 0) return Status::Corrupt(dir + "/MANIFEST lists no data.mdb");
  return sums;
}

// Streams `from` into the new file `to` (mode 0600, never an existing path).
Status CopyPrivate(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return Status::Unavailable("cannot read " + from + ": " + std::strerror(errno));
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    ::close(in);
    return Status::Unavailable("cannot create " + to + ": " + std::strerror(errno));
  }
  std::vector<char> buffer(1 << 16);
  ssize_t n = 0;
  bool ok = true;
  while (ok && (n = ::read(in, buffer.data(), buffer.size())) > 0) {
    ok = ::write(out, buffer.data(), static_cast<size_t>(n)) == n;
  }
  ok = ok && n == 0 && ::fsync(out) == 0;
  ok = ::close(out) == 0 && ok;
  ::close(in);
  return ok ? Status::Ok() : Status::Unavailable("cannot copy " + from + " to " + to);
}

// The parent directory of `path`, created private (one level) if missing.
Status MakeParentOf(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (parent.empty() || ::mkdir(parent.c_str(), 0700) == 0 || errno == EEXIST) {
    return Status::Ok();
  }
  return Status::Unavailable("cannot create " + parent + ": " + std::strerror(errno));
}

// Checks the copy in `staging` (key check, journal), then moves it into
// place. Returns what the copy holds.
// Gives the restored file `path` the group and permission bits (at most
// `max_mode`) of the file it replaces, so that a store shared with the
// otpgate group (FreeRADIUS) stays usable by the group after a restore.
Status KeepAccessOf(const struct stat& replaced, const std::string& path, mode_t max_mode) {
  if (::chown(path.c_str(), static_cast<uid_t>(-1), replaced.st_gid) != 0 ||
      ::chmod(path.c_str(), replaced.st_mode & max_mode) != 0) {
    return Status::Unavailable("cannot give " + path +
                               " the access of the file it replaces: " + std::strerror(errno));
  }
  return Status::Ok();
}

// Restore writes LMDB stores only; said before the backup is even read.
Status RefusePostgresRestore() {
  return Status::FailedPrecondition(
      "otpgate restore writes LMDB stores only; restore a PostgreSQL store with PostgreSQL's "
      "own tools, or restore to an LMDB directory and copy it into an empty PostgreSQL store "
      "with 'otpgate store copy' (see docs/scale-out.md)");
}

// Restore refuses before touching anything: no live store replaced without
// --force, and a key to open the copy with.
Status CheckRestoreTarget(const Config& config, bool has_key, bool force) {
  std::error_code ec;
  if (std::filesystem::exists(config.store + "/data.mdb", ec) && !force) {
    return Status::AlreadyExists("store " + config.store +
                                 " exists; restore does not overwrite a live store (stop PAM and "
                                 "RADIUS use of it, then pass --force)");
  }
  if (!has_key && !std::filesystem::exists(config.master_key, ec)) {
    return Status::NotFound("the backup has no key and " + config.master_key +
                            " does not exist: nothing can open the copy");
  }
  return Status::Ok();
}

// The staged copy, opened with the key it will be used with: the store's
// key check, its token count and its journal verified end to end.
struct CheckedCopy {
  size_t tokens = 0;
  JournalCheck journal;
};

Result<CheckedCopy> CheckStagedCopy(const Config& staged, const Clock& clock) {
  CheckedCopy copy;
  {
    OTPGATE_ASSIGN_OR_RETURN(auto service, OtpService::Open(staged, clock));
    OTPGATE_ASSIGN_OR_RETURN(auto list, service->List());
    copy.tokens = list.size();
    OTPGATE_ASSIGN_OR_RETURN(copy.journal, service->VerifyJournal());
  }  // closed before the files move
  if (!copy.journal.ok) {
    return Status::Corrupt("the copy's journal does not verify at entry " +
                           std::to_string(copy.journal.first_bad) + ": " + copy.journal.problem);
  }
  return copy;
}

// The backup's key takes the configured key's place, keeping that file's
// access; a different key is replaced only with --force.
Status InstallBackupKey(const std::string& key_path, const std::string& backup_key, bool force) {
  auto current = ReadWholeFile(key_path);
  auto saved = ReadWholeFile(backup_key);
  Status status;
  if (current.ok() && saved.ok() && *current != *saved && !force) {
    status = Status::WrongKey("the key at " + key_path +
                              " is not the backup's key (pass --force to replace it)");
  } else if (!current.ok() || *current != *saved) {
    struct stat old_key {};
    const bool replacing = ::stat(key_path.c_str(), &old_key) == 0;
    std::error_code ec;
    std::filesystem::remove(key_path, ec);
    status = MakeParentOf(key_path);
    if (status.ok()) status = CopyPrivate(backup_key, key_path);
    if (status.ok() && replacing) status = KeepAccessOf(old_key, key_path, 0640);
  }
  if (current.ok()) WipeString(*current);
  if (saved.ok()) WipeString(*saved);
  return status;
}

// The checked copy takes the store's place: the staging directory is
// renamed to a missing store, or its data.mdb into an existing one.
Status MoveIntoPlace(const std::string& staging, const std::string& target) {
  std::error_code ec;
  std::filesystem::remove(staging + "/master.key", ec);
  std::filesystem::remove(staging + "/lock.mdb", ec);
  Status status;
  if (!std::filesystem::exists(target, ec)) {
    status = MakeParentOf(target);
    if (status.ok() && ::rename(staging.c_str(), target.c_str()) != 0) {
      status = Status::Unavailable("cannot move " + staging + " to " + target);
    }
  } else {
    // The store directory stays; the new data.mdb takes the access of the
    // one it replaces (or, if there was none, of the directory's group).
    struct stat old_data {};
    if (::stat((target + "/data.mdb").c_str(), &old_data) != 0 &&
        ::stat(target.c_str(), &old_data) == 0) {
      old_data.st_mode &= 0660;  // a directory's x bits mean nothing for a file
    }
    status = KeepAccessOf(old_data, staging + "/data.mdb", 0660);
    if (status.ok() &&
        ::rename((staging + "/data.mdb").c_str(), (target + "/data.mdb").c_str()) != 0) {
      status = Status::Unavailable("cannot replace " + target + "/data.mdb");
    }
  }
  if (status.ok()) SyncDirectory(target);
  return status;
}

int Restore(Cli& cli, const BackupArgs& a) {
  Status status = cli.LoadConfig();
  if (!status.ok()) return cli.Error(status);
  const Config& config = cli.config();
  if (IsPostgresLocation(config.store)) return cli.Error(RefusePostgresRestore());
  const std::string dir = Cli::Absolute(a.dir);
  auto sums = CheckManifest(dir);
  if (!sums.ok()) return cli.Error(sums.status());
  const bool has_key = sums->count("master.key") > 0;
  status = CheckRestoreTarget(config, has_key, a.force);
  if (!status.ok()) return cli.Error(status);
  // Staging beside the target, so that the final step is a rename.
  const std::string staging = config.store + ".restore-" + std::to_string(::getpid());
  std::error_code ec;
  std::filesystem::remove_all(staging, ec);
  if (::mkdir(staging.c_str(), 0700) != 0) {
    return cli.Error(Status::Unavailable("cannot create " + staging + ": " + std::strerror(errno)));
  }
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } cleanup{staging};
  status = CopyPrivate(dir + "/data.mdb", staging + "/data.mdb");
  Config staged = config;
  staged.store = staging;
  if (status.ok() && has_key) {
    staged.master_key = staging + "/master.key";
    status = CopyPrivate(dir + "/master.key", staged.master_key);
  }
  if (!status.ok()) return cli.Error(status);
  auto copy = CheckStagedCopy(staged, cli.clock());
  if (!copy.ok()) return cli.Error(copy.status());
  if (has_key) status = InstallBackupKey(config.master_key, staged.master_key, a.force);
  if (status.ok()) status = MoveIntoPlace(staging, config.store);
  if (!status.ok()) return cli.Error(status);
  const JournalCheck& journal = copy->journal;
  Fields f;
  f.AddBool("ok", true)
      .Add("result", "restored " + config.store + " from " + dir)
      .Add("tokens", static_cast<int64_t>(copy->tokens))
      .Add("journal_entries", static_cast<int64_t>(journal.entries))
      .Add("journal_head",
           std::to_string(journal.last_sequence) + ":" + JournalHashHex(journal.head));
  return cli.Print(f, 0);
}

}  // namespace

void AddBackupCommands(CLI::App& app, Cli& cli) {
  auto a = std::make_shared<BackupArgs>();
  auto* backup = app.add_subcommand(
      "backup", "copy the store (hot, consistent) and its key into a new directory");
  backup->add_option("dir", a->dir, "new or empty directory")->required();
  backup->add_flag("--no-key", a->no_key,
                   "leave the master key out (keep it safe elsewhere: the copy needs it)");
  cli.Run(backup, [&cli, a] { return Backup(cli, *a); });

  auto* restore =
      app.add_subcommand("restore", "check a backup (checksums, key, journal) and restore it");
  restore->add_option("dir", a->dir, "a directory written by otpgate backup")->required();
  restore->add_flag("--force", a->force,
                    "replace an existing store (and a different key); stop its users first");
  cli.Run(
      restore, [&cli, a] { return Restore(cli, *a); }, false);
}

}  // namespace otpgate::cli
