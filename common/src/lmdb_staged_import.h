// How the LMDB store keeps a staged import (Store::WriteStaged) apart from
// live data (private header).
//
// A staged import writes its tokens in several write transactions ("steps"),
// each record marked with the import's number (TokenRecord::staged_by,
// record version 2), and makes them all visible at once by one last commit
// that marks the import published. Its state lives in the meta database:
//   "staged-import-last" -> u64: the last number handed out (never reused)
//   "staged-import/" + 16 hex digits of the number -> StagedImport
//   "staged-import-label/" + the same 16 hex digits -> ImportLabel, for an
//     import started by a release that keeps labels (removed with the
//     entry; an earlier release removing the entry leaves it behind)
// A record is visible iff its staged_by is 0 or names a published import.
// The first staged import sets the store's schema to kStagedSchemaVersion,
// so that an otpgate too old to know version 2 records refuses the store
// instead of calling them corrupt one by one.
//
// An import is abandoned when it failed (its process marks it so) or when
// its process is gone (Liveness: same PID namespace, and an earlier boot, or
// the PID gone, reused or a zombie; an LMDB store is local to its host). An
// import whose process cannot be judged (another PID namespace, /proc
// hidden) counts as running while its lease lasts: kStagedImportLease
// seconds from its start or its last step (by the wall clock), after which
// it is abandoned too (if it still ran, its next step fails: see below).
// Only an import marked abandoned in a write transaction is removed, and
// every step first checks in its own transaction that its import is still
// staging and still its own: so a step never writes under an import that
// is being removed, and a published import is never removed.
#ifndef OTPGATE_SRC_LMDB_STAGED_IMPORT_H_
#define OTPGATE_SRC_LMDB_STAGED_IMPORT_H_

#include <sys/types.h>

#include <array>
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
inline constexpr std::string_view kStagedImportLabelPrefix = "staged-import-label/";
// The schema of an LMDB store that has held a staged import (store.h's
// kSchemaVersion is the schema of one that has not).
inline constexpr uint32_t kStagedSchemaVersion = 2;

// Who runs an import: enough to tell, from this host, whether it still runs.
struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_ticks = 0;           // /proc/PID/stat field 22
  uint64_t pid_namespace = 0;         // inode of /proc/PID/ns/pid
  std::array<uint8_t, 16> boot_id{};  // /proc/sys/kernel/random/boot_id
};

struct StagedImport {
  enum class Phase : uint8_t { kStaging = 1, kPublished = 2, kAbandoned = 3 };
  Phase phase = Phase::kStaging;
  ProcessIdentity owner;
  uint32_t steps = 0;      // steps committed; 0: no record to remove
  int64_t renewed_at = 0;  // Unix seconds of its start or its last step
};

inline constexpr int64_t kStagedImportLease = 600;

// The caller's name for an import (Store::WriteStaged's label), and whether
// its end was reported (its `abandoned` ran, in the transaction that set
// `closed`), so that it is never reported twice. Kept apart from the
// import's entry, whose 49-byte form every release since staging reads
// (a published one's, to tell its records visible, for ever).
struct ImportLabel {
  std::string label;  // at most kMaxImportLabel bytes
  bool closed = false;
};
inline constexpr size_t kMaxImportLabel = 255;
std::string StagedImportLabelKey(uint64_t number);
// u8 closed (0 or 1) | the label.
std::vector<uint8_t> EncodeImportLabel(const ImportLabel& label);
Result<ImportLabel> DecodeImportLabel(std::span<const uint8_t> bytes);  // kCorrupt

// The value of kLastStagedImportMeta: u64, little-endian.
std::vector<uint8_t> EncodeImportNumber(uint64_t number);
std::optional<uint64_t> DecodeImportNumber(std::span<const uint8_t> bytes);  // nullopt: malformed

std::string StagedImportKey(uint64_t number);
// The number in a key made by StagedImportKey; nullopt for any other key.
std::optional<uint64_t> StagedImportNumber(std::string_view key);

std::vector<uint8_t> EncodeStagedImport(const StagedImport& import);
Result<StagedImport> DecodeStagedImport(std::span<const uint8_t> bytes);  // kCorrupt

// This process; nullopt if /proc cannot tell who it is (then nothing can
// be staged: WriteStaged runs in one transaction instead).
std::optional<ProcessIdentity> ThisProcess();

enum class Liveness { kRunning, kGone, kUnknown };
Liveness LivenessOf(const ProcessIdentity& process);

// True if `import` is abandoned, or staging with its process gone, or
// staging with a process that cannot be judged and a lease past at `now`.
bool Abandoned(const StagedImport& import, int64_t now);

}  // namespace otpgate

#endif  // OTPGATE_SRC_LMDB_STAGED_IMPORT_H_
