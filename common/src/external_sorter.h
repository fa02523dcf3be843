// ExternalSorter: (key, value) entries handed back in key order, with memory
// bounded by one run. A staged import (OtpService::ProvisionEach) sorts its
// records by credential ID through it before storing them: a file in random
// order stored as it comes makes every 10,000-token step of an LMDB import
// dirty (and copy on write) nearly one B-tree page per token; in key order a
// step touches a few hundred.
//
// Entries are kept in memory until they fill `run_bytes`; each full run is
// sorted and written to one unnamed temporary file (O_TMPFILE, mode 0600,
// gone when the process is, even after kill -9); ForEach merges the runs.
// If everything fits in one run, nothing is written. The file holds what
// the caller gives: the import gives its encoded records, whose secrets are
// sealed (sealing.h), never clear. Not thread-safe.
#ifndef OTPGATE_SRC_EXTERNAL_SORTER_H_
#define OTPGATE_SRC_EXTERNAL_SORTER_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "file_util.h"
#include "otpgate/status.h"

namespace otpgate {

// Where temporary files go: $TMPDIR if set to an absolute path, else
// /var/tmp (on disk, not in memory, on Debian; sort(1) honours TMPDIR too).
std::string TemporaryDirectory();

// Free space an import's temporary file leaves on its file system.
inline constexpr uint64_t kTemporarySpaceReserve = 64 << 20;

class ExternalSorter {
 public:
  // `directory`: where the temporary file is created, if one is needed.
  // `expected_entries` (0: unknown): how many entries will be added. Before
  // each run is written, its file system must have room for every entry not
  // yet written (unknown: for this run), at this run's average size, plus
  // kTemporarySpaceReserve, or the call fails at once instead of filling the
  // disk (often /var, the store's too).
  ExternalSorter(std::string directory, size_t run_bytes, size_t expected_entries = 0);
  ~ExternalSorter();
  ExternalSorter(const ExternalSorter&) = delete;
  ExternalSorter& operator=(const ExternalSorter&) = delete;

  // Keys compare bytewise (as LMDB's default order does). Entries with equal
  // keys come back in an unspecified order. kUnavailable if the temporary
  // file cannot be created or written, or lacks room (naming the directory);
  // after such an error every call returns it.
  Status Add(std::string_view key, std::span<const uint8_t> value);
  // Calls `visit` once per entry added, in key order; stops at its first
  // error and returns it. May be called more than once; Add after ForEach
  // is kInternal. The views are valid during the call only.
  Status ForEach(
      const std::function<Status(std::string_view key, std::span<const uint8_t> value)>& visit);

  size_t size() const { return entries_; }
  const std::string& directory() const { return directory_; }
  size_t runs_written() const { return runs_.size(); }

 private:
  struct Run {
    uint64_t offset;  // in the file
    uint64_t bytes;
  };
  class RunReader;
  // Sorts the run in memory and appends it to the file; a failure leaves
  // the file's runs unknown, so it is kept in broken_.
  Status WriteRun();
  Status AppendRun();
  Status OpenFile();
  void SortRun();

  Status CheckRoom();  // before a run is written: see the constructor

  std::string directory_;
  size_t run_bytes_;
  size_t expected_entries_;
  Status broken_;  // a failed write: the file's runs are no longer known
  // The run being filled: entries end to end as u32 key length, u32 value
  // length, key, value; `offsets_` points at each.
  std::vector<char> run_;
  std::vector<uint32_t> offsets_;
  UniqueFd file_;
  uint64_t file_bytes_ = 0;
  std::vector<Run> runs_;
  size_t entries_ = 0;
  size_t spilled_entries_ = 0;  // in runs_
  bool sealed_ = false;         // ForEach has run: the last run is in place
};

}  // namespace otpgate

#endif  // OTPGATE_SRC_EXTERNAL_SORTER_H_
