// The tamper-evident audit journal (private to the core).
//
// Every decision and administrative change is appended, inside the write
// transaction that makes the change (so it costs no commit or fsync of its
// own, and an aborted change leaves no entry), under the next sequence
// number. Each entry carries a chain value:
//
//   chain(n) = HMAC-SHA256(journal key, chain(n-1) || canonical(n))
//
// where chain(0) is 32 zero bytes (or the checkpoint's chain value once old
// entries are pruned) and the journal key is derived from the master key
// (MasterKey::Derive), so it exists only where the key does.
//
// What this protects against, for someone who can write the store but does
// not hold the master key: editing an entry, inserting one, removing one in
// the middle or at the start, or reordering entries all break the chain at
// that place, and Verify says where. A forged checkpoint does not
// authenticate. What it cannot detect on its own: removing the newest
// entries (or rolling back the whole store to an older copy), because the
// remaining chain is still valid. Against that, record the head (sequence
// and chain value, printed by `otpgate audit --verify`) somewhere the
// attacker cannot write, and compare (--expect-head). Someone who also holds
// the master key can rewrite the journal at will (and mint tokens anyway).
//
// Canonical form (version 1): u8 version=1 | u64 sequence (big-endian) |
// i64 time (big-endian) | for action, user, token, outcome, reason,
// front_end, client: u8 length, bytes. Stored value: canonical | chain (32).
#ifndef OTPGATE_SRC_JOURNAL_H_
#define OTPGATE_SRC_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "otpgate/journal_entry.h"
#include "otpgate/sealing.h"
#include "otpgate/status.h"
#include "otpgate/store.h"

namespace otpgate {

std::vector<uint8_t> EncodeJournalEntry(const JournalEntry& entry);  // canonical | chain
// kCorrupt for a truncated, padded or unknown-version value.
Result<JournalEntry> DecodeJournalEntry(std::span<const uint8_t> bytes);

class Journal {
 public:
  explicit Journal(const MasterKey& master);

  // Appends `entry` (its sequence and chain are assigned here) in `txn`.
  Status Append(Txn& txn, JournalEntry entry) const;
  // Calls `fn` for every entry that matches `filter`, oldest first. Does not
  // check the chain (Verify does).
  Status Read(Txn& txn, const JournalFilter& filter,
              const std::function<Status(const JournalEntry&)>& fn) const;
  // Checks the whole chain from the checkpoint (or the start). A broken
  // chain is a JournalCheck with ok == false, not an error status.
  Result<JournalCheck> Verify(Txn& txn) const;
  // Removes the oldest entries whose time is before `before` (stopping at
  // the first that is not) and records a checkpoint from which the rest
  // still verifies. Refuses (kCorrupt) when the journal does not verify.
  // Returns how many entries were removed.
  Result<uint64_t> PruneBefore(Txn& txn, int64_t before) const;

 private:
  struct Checkpoint {
    uint64_t sequence = 0;
    JournalHash chain{};
  };
  // kUnavailable if the MAC cannot be computed (no key, OpenSSL failed).
  Result<JournalHash> Chain(const JournalHash& previous, std::span<const uint8_t> canonical) const;
  Result<std::vector<uint8_t>> EncodeCheckpoint(const Checkpoint& checkpoint) const;
  // nullopt if there is none; kCorrupt if it does not authenticate.
  Result<std::optional<Checkpoint>> LoadCheckpoint(Txn& txn) const;

  SecretBytes key_;
};

}  // namespace otpgate

#endif  // OTPGATE_SRC_JOURNAL_H_
