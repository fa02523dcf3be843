// How the LMDB store keeps a staged import (Store::WriteStaged) apart from
// live data (private header).
//
// A staged import writes its tokens in several write transactions, each
// record marked with the import's number (TokenRecord::staged_by), and
// makes them all visible at once by one last commit that marks the import
// published. Its state lives in the meta database:
//   "staged-import-last" -> u64: the last number handed out (numbers are
//       never reused)
//   "staged-import/" + 16 hex digits of the number -> StagedImport
// A record is visible iff its staged_by is 0 or names a published import.
// An import that failed, or whose process died (pid and start time no
// longer match a running process on this host: an LMDB store is local), is
// abandoned: its records are invisible, and the next staged import removes
// them and its meta entry. A published import's entry is kept while records
// may still carry its number (a write of such a record clears it).
#ifndef OTPGATE_SRC_LMDB_STAGED_IMPORT_H_
#define OTPGATE_SRC_LMDB_STAGED_IMPORT_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "otpgate/status.h"

namespace otpgate {

inline constexpr std::string_view kLastStagedImportMeta = "staged-import-last";
inline constexpr std::string_view kStagedImportPrefix = "staged-import/";

struct StagedImport {
  enum class Phase : uint8_t { kStaging = 1, kPublished = 2, kAbandoned = 3 };
  Phase phase = Phase::kStaging;
  pid_t pid = 0;             // the importing process
  uint64_t start_ticks = 0;  // its start time (/proc/PID/stat), against pid reuse
};

std::string StagedImportKey(uint64_t number);
// The number in a key made by StagedImportKey; nullopt for any other key.
std::optional<uint64_t> StagedImportNumber(std::string_view key);

std::vector<uint8_t> EncodeStagedImport(const StagedImport& import);
Result<StagedImport> DecodeStagedImport(std::span<const uint8_t> bytes);  // kCorrupt

// A staging import run by this process.
StagedImport StagingHere();
// True while `import` is staging and its process is still running.
bool StillStaging(const StagedImport& import);

}  // namespace otpgate

#endif  // OTPGATE_SRC_LMDB_STAGED_IMPORT_H_
