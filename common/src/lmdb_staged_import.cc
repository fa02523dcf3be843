#include "lmdb_staged_import.h"

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace otpgate {
namespace {

// Field 22 of /proc/PID/stat (starttime, in clock ticks since boot);
// nullopt if there is no such process. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
std::optional<uint64_t> StartTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  size_t end_of_name = line.rfind(')');
  if (end_of_name == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(end_of_name + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return std::nullopt;
  }
  uint64_t ticks = 0;
  if (std::sscanf(field.c_str(), "%" SCNu64, &ticks) != 1) return std::nullopt;
  return ticks;
}

}  // namespace

std::string StagedImportKey(uint64_t number) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, number);
  return std::string(kStagedImportPrefix) + hex;
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

// u8 phase | u32 pid | u64 start_ticks, little-endian.
std::vector<uint8_t> EncodeStagedImport(const StagedImport& import) {
  std::vector<uint8_t> out{static_cast<uint8_t>(import.phase)};
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(uint32_t(import.pid) >> (8 * i)));
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(import.start_ticks >> (8 * i)));
  return out;
}

Result<StagedImport> DecodeStagedImport(std::span<const uint8_t> bytes) {
  if (bytes.size() != 13 || bytes[0] < 1 || bytes[0] > 3) {
    return Status::Corrupt("a staged import's state is malformed");
  }
  StagedImport import;
  import.phase = static_cast<StagedImport::Phase>(bytes[0]);
  uint32_t pid = 0;
  for (int i = 0; i < 4; ++i) pid |= uint32_t{bytes[1 + i]} << (8 * i);
  import.pid = static_cast<pid_t>(pid);
  for (int i = 0; i < 8; ++i) import.start_ticks |= uint64_t{bytes[5 + i]} << (8 * i);
  return import;
}

StagedImport StagingHere() {
  StagedImport import;
  import.pid = ::getpid();
  import.start_ticks = StartTicks(import.pid).value_or(0);
  return import;
}

bool StillStaging(const StagedImport& import) {
  if (import.phase != StagedImport::Phase::kStaging) return false;
  std::optional<uint64_t> ticks = StartTicks(import.pid);
  return ticks.has_value() && *ticks == import.start_ticks;
}

}  // namespace otpgate
