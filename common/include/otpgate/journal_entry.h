// The audit journal's value types (see common/src/journal.h for how the
// journal is chained and what it protects against).
#ifndef OTPGATE_JOURNAL_ENTRY_H_
#define OTPGATE_JOURNAL_ENTRY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace otpgate {

constexpr size_t kJournalHashBytes = 32;
using JournalHash = std::array<uint8_t, kJournalHashBytes>;

// One decision or administrative change. Never a code, a password or a
// secret. Every text field is at most 255 bytes (longer text is cut).
struct JournalEntry {
  uint64_t sequence = 0;  // 1, 2, 3, ... with no gaps; assigned on append
  int64_t time = 0;       // epoch seconds, from the request's clock
  std::string action;     // login, register, stop, provision, import, unlock, ...
  std::string user;
  std::string token;    // credential ID, empty if none
  std::string outcome;  // a DecisionName, "ok", or a StatusCodeName
  std::string reason;
  std::string front_end;  // pam, radius, cli
  std::string client;     // PAM service and remote host, RADIUS client, CLI user
  JournalHash chain{};    // HMAC chain value after this entry
};

// Which entries `otpgate audit` prints (all conditions must hold).
struct JournalFilter {
  int64_t since = 0;  // time >= since
  std::optional<std::string> user;
  std::optional<std::string> token;
};

// The result of checking the chain. `ok` false: `first_bad` names the
// position (sequence) where it breaks and `problem` says how.
struct JournalCheck {
  bool ok = true;
  uint64_t first_sequence = 0;  // first entry present (checkpoint + 1)
  uint64_t last_sequence = 0;   // 0 if empty
  uint64_t entries = 0;
  uint64_t checkpoint = 0;  // entries up to here were pruned
  JournalHash head{};       // chain value of the last entry (record it off-host)
  uint64_t first_bad = 0;
  std::string problem;
};

// Lower-case hex of a chain value (64 characters).
std::string JournalHashHex(const JournalHash& hash);

}  // namespace otpgate

#endif  // OTPGATE_JOURNAL_ENTRY_H_
