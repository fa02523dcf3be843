#include "lmdb_staged_import.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "otpgate/base32.h"

namespace otpgate {
namespace {

enum class Read { kOk, kMissing, kUnreadable };

// Fields 3 (state) and 22 (starttime, in clock ticks since boot) of
// /proc/PID/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted after its last ')'.
Read StartTicks(pid_t pid, uint64_t& ticks, char* state = nullptr) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == ESRCH ? Read::kMissing : Read::kUnreadable;
  char buffer[1024];
  ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return n < 0 && errno == ESRCH ? Read::kMissing : Read::kUnreadable;
  const std::string line(buffer, static_cast<size_t>(n));
  size_t end_of_name = line.rfind(')');
  if (end_of_name == std::string::npos) return Read::kUnreadable;
  std::istringstream fields(line.substr(end_of_name + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return Read::kUnreadable;
    if (i == 3 && state != nullptr) *state = field[0];
  }
  return std::sscanf(field.c_str(), "%" SCNu64, &ticks) == 1 ? Read::kOk : Read::kUnreadable;
}

std::optional<uint64_t> PidNamespace(const std::string& pid) {
  struct stat st;
  if (::stat(("/proc/" + pid + "/ns/pid").c_str(), &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.st_ino);
}

// The 16 bytes of the boot's UUID.
std::optional<std::array<uint8_t, 16>> BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string text;
  if (!in || !std::getline(in, text)) return std::nullopt;
  std::erase(text, '-');
  auto bytes = HexDecode(text);
  if (!bytes.ok() || bytes->size() != 16) return std::nullopt;
  std::array<uint8_t, 16> id{};
  std::copy_n(bytes->data(), id.size(), id.begin());
  return id;
}

void PutLe(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t GetLe(std::span<const uint8_t> in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{in[at + i]} << (8 * i);
  return v;
}

// `prefix` and the number's 16 hex digits: an import's keys in the meta
// database, in the number's order.
std::string NumberedKey(std::string_view prefix, uint64_t number) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, number);
  return std::string(prefix) + hex;
}

}  // namespace

std::vector<uint8_t> EncodeImportNumber(uint64_t number) {
  std::vector<uint8_t> out;
  PutLe(out, number, 8);
  return out;
}

std::optional<uint64_t> DecodeImportNumber(std::span<const uint8_t> bytes) {
  if (bytes.size() != 8) return std::nullopt;
  return GetLe(bytes, 0, 8);
}

std::string StagedImportKey(uint64_t number) { return NumberedKey(kStagedImportPrefix, number); }

std::string StagedImportLabelKey(uint64_t number) {
  return NumberedKey(kStagedImportLabelPrefix, number);
}

std::vector<uint8_t> EncodeImportLabel(const ImportLabel& label) {
  const size_t length = std::min(label.label.size(), kMaxImportLabel);
  std::vector<uint8_t> out(1 + length);
  out[0] = label.closed ? 1 : 0;
  std::memcpy(out.data() + 1, label.label.data(), length);
  return out;
}

Result<ImportLabel> DecodeImportLabel(std::span<const uint8_t> bytes) {
  if (bytes.empty() || bytes[0] > 1 || bytes.size() > 1 + kMaxImportLabel) {
    return Status::Corrupt("a staged import's label is malformed");
  }
  ImportLabel label;
  label.closed = bytes[0] == 1;
  label.label.assign(bytes.begin() + 1, bytes.end());
  return label;
}

std::optional<uint64_t> StagedImportNumber(std::string_view key) {
  if (!key.starts_with(kStagedImportPrefix)) return std::nullopt;
  key.remove_prefix(kStagedImportPrefix.size());
  if (key.size() != 16) return std::nullopt;
  uint64_t number = 0;
  for (char c : key) {
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    number = number << 4 | static_cast<uint64_t>(digit);
  }
  return number;
}

// u8 phase | u32 pid | u64 start_ticks | u64 pid_namespace | 16 bytes
// boot_id | u32 steps | i64 renewed_at, little-endian: 49 bytes.
constexpr size_t kEncodedBytes = 1 + 4 + 8 + 8 + 16 + 4 + 8;

std::vector<uint8_t> EncodeStagedImport(const StagedImport& import) {
  std::vector<uint8_t> out{static_cast<uint8_t>(import.phase)};
  PutLe(out, static_cast<uint32_t>(import.owner.pid), 4);
  PutLe(out, import.owner.start_ticks, 8);
  PutLe(out, import.owner.pid_namespace, 8);
  out.insert(out.end(), import.owner.boot_id.begin(), import.owner.boot_id.end());
  PutLe(out, import.steps, 4);
  PutLe(out, static_cast<uint64_t>(import.renewed_at), 8);
  return out;
}

Result<StagedImport> DecodeStagedImport(std::span<const uint8_t> bytes) {
  if (bytes.size() != kEncodedBytes || bytes[0] < 1 || bytes[0] > 3) {
    return Status::Corrupt("a staged import's state is malformed");
  }
  StagedImport import;
  import.phase = static_cast<StagedImport::Phase>(bytes[0]);
  import.owner.pid = static_cast<pid_t>(GetLe(bytes, 1, 4));
  import.owner.start_ticks = GetLe(bytes, 5, 8);
  import.owner.pid_namespace = GetLe(bytes, 13, 8);
  std::copy_n(bytes.begin() + 21, 16, import.owner.boot_id.begin());
  import.steps = static_cast<uint32_t>(GetLe(bytes, 37, 4));
  import.renewed_at = static_cast<int64_t>(GetLe(bytes, 41, 8));
  return import;
}

std::optional<ProcessIdentity> ThisProcess() {
  ProcessIdentity self;
  self.pid = ::getpid();
  // /proc must be this PID namespace's (not, e.g., after unshare -p without
  // a new /proc mount), or the PIDs it shows are another namespace's.
  char link[32] = {};
  ssize_t n = ::readlink("/proc/self", link, sizeof link - 1);
  if (n <= 0 || std::string(link, static_cast<size_t>(n)) != std::to_string(self.pid)) {
    return std::nullopt;
  }
  auto ns = PidNamespace("self");
  auto boot = BootId();
  if (StartTicks(self.pid, self.start_ticks) != Read::kOk || !ns || !boot) return std::nullopt;
  self.pid_namespace = *ns;
  self.boot_id = *boot;
  return self;
}

Liveness LivenessOf(const ProcessIdentity& process) {
  std::optional<ProcessIdentity> self = ThisProcess();
  if (!self.has_value()) return Liveness::kUnknown;
  // The namespace first: a container may have a boot ID of its own
  // (systemd-nspawn), and the initial namespace's inode is the same on
  // every boot.
  if (self->pid_namespace != process.pid_namespace) return Liveness::kUnknown;
  if (self->boot_id != process.boot_id) return Liveness::kGone;  // the host rebooted since
  uint64_t ticks = 0;
  char state = '?';
  switch (StartTicks(process.pid, ticks, &state)) {
    case Read::kMissing:
      // hidepid=2 and ProtectProc hide other users' processes as ENOENT.
      return ::kill(process.pid, 0) != 0 && errno == ESRCH ? Liveness::kGone : Liveness::kUnknown;
    case Read::kUnreadable:
      return Liveness::kUnknown;
    case Read::kOk:
      break;
  }
  if (ticks != process.start_ticks || state == 'Z' || state == 'X') return Liveness::kGone;
  return Liveness::kRunning;
}

bool Abandoned(const StagedImport& import, int64_t now) {
  if (import.phase != StagedImport::Phase::kStaging) {
    return import.phase == StagedImport::Phase::kAbandoned;
  }
  switch (LivenessOf(import.owner)) {
    case Liveness::kGone:
      return true;
    case Liveness::kUnknown:
      return now - import.renewed_at > kStagedImportLease;
    case Liveness::kRunning:
      return false;
  }
  return false;
}

}  // namespace otpgate
