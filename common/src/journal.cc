#include "journal.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <string>

#include "otpgate/otp.h"

namespace otpgate {
namespace {

constexpr uint8_t kJournalVersion = 1;
constexpr size_t kMaxField = 255;
constexpr std::string_view kKeyLabel = "otpgate journal chain v1";
constexpr std::string_view kCheckpointName = kJournalCheckpointMeta;
constexpr std::string_view kCheckpointLabel = "otpgate journal checkpoint v1";

void PutU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

uint64_t GetU64(std::span<const uint8_t> in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | in[i];
  return v;
}

// The text fields in canonical order (const or not, as `e` is).
template <typename Entry>
auto TextFields(Entry& e) {
  return std::array{&e.action, &e.user, &e.token, &e.outcome, &e.reason, &e.front_end, &e.client};
}

// The canonical bytes of everything but the chain value.
std::vector<uint8_t> Canonical(const JournalEntry& e) {
  std::vector<uint8_t> out;
  out.reserve(96);
  out.push_back(kJournalVersion);
  PutU64(out, e.sequence);
  PutU64(out, static_cast<uint64_t>(e.time));
  for (const std::string* field : TextFields(e)) {
    size_t n = std::min(field->size(), kMaxField);
    out.push_back(static_cast<uint8_t>(n));
    out.insert(out.end(), field->begin(), field->begin() + static_cast<ptrdiff_t>(n));
  }
  return out;
}

}  // namespace

std::string JournalHashHex(const JournalHash& hash) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : hash) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::vector<uint8_t> EncodeJournalEntry(const JournalEntry& entry) {
  std::vector<uint8_t> out = Canonical(entry);
  out.insert(out.end(), entry.chain.begin(), entry.chain.end());
  return out;
}

Result<JournalEntry> DecodeJournalEntry(std::span<const uint8_t> bytes) {
  if (bytes.size() < 1 + 16 + kJournalHashBytes || bytes[0] != kJournalVersion) {
    return Status::Corrupt("journal entry has an unknown format");
  }
  JournalEntry e;
  e.sequence = GetU64(bytes.subspan(1));
  e.time = static_cast<int64_t>(GetU64(bytes.subspan(9)));
  size_t at = 17;
  const size_t end = bytes.size() - kJournalHashBytes;
  for (std::string* field : TextFields(e)) {
    if (at >= end || at + 1 + bytes[at] > end) {
      return Status::Corrupt("journal entry is truncated");
    }
    field->assign(reinterpret_cast<const char*>(bytes.data() + at + 1), bytes[at]);
    at += 1 + bytes[at];
  }
  if (at != end) {
    return Status::Corrupt("journal entry has trailing bytes");
  }
  std::copy(bytes.begin() + static_cast<ptrdiff_t>(end), bytes.end(), e.chain.begin());
  return e;
}

Journal::Journal(const MasterKey& master) : key_(master.Derive(kKeyLabel)) {}

Result<JournalHash> Journal::Chain(const JournalHash& previous,
                                   std::span<const uint8_t> canonical) const {
  std::vector<uint8_t> message(previous.begin(), previous.end());
  message.insert(message.end(), canonical.begin(), canonical.end());
  uint8_t mac[64];
  if (ComputeHmac(HashAlgorithm::kSha256, key_.span(), message, mac) != kJournalHashBytes) {
    return Status::Unavailable("the journal's chain value cannot be computed");
  }
  JournalHash out;
  std::copy_n(mac, out.size(), out.begin());
  return out;
}

Result<std::vector<uint8_t>> Journal::EncodeCheckpoint(const Checkpoint& checkpoint) const {
  std::vector<uint8_t> out(kCheckpointLabel.begin(), kCheckpointLabel.end());
  PutU64(out, checkpoint.sequence);
  out.insert(out.end(), checkpoint.chain.begin(), checkpoint.chain.end());
  OTPGATE_ASSIGN_OR_RETURN(JournalHash mac, Chain(JournalHash{}, out));
  out.erase(out.begin(), out.begin() + static_cast<ptrdiff_t>(kCheckpointLabel.size()));
  out.insert(out.end(), mac.begin(), mac.end());
  return out;  // sequence | chain | mac
}

Result<std::optional<Journal::Checkpoint>> Journal::LoadCheckpoint(Txn& txn) const {
  OTPGATE_ASSIGN_OR_RETURN(auto stored, txn.GetMeta(kCheckpointName));
  if (!stored.has_value()) return std::optional<Checkpoint>();
  if (stored->size() != 8 + 2 * kJournalHashBytes) {
    return Status::Corrupt("journal checkpoint is malformed");
  }
  Checkpoint checkpoint;
  checkpoint.sequence = GetU64(*stored);
  std::copy_n(stored->begin() + 8, kJournalHashBytes, checkpoint.chain.begin());
  OTPGATE_ASSIGN_OR_RETURN(std::vector<uint8_t> expected, EncodeCheckpoint(checkpoint));
  if (CRYPTO_memcmp(expected.data(), stored->data(), expected.size()) != 0) {
    return Status::Corrupt("journal checkpoint does not authenticate (forged or wrong key)");
  }
  return std::optional<Checkpoint>(checkpoint);
}

Status Journal::Append(Txn& txn, JournalEntry entry) const {
  OTPGATE_ASSIGN_OR_RETURN(auto last, txn.LastJournalEntry());
  JournalHash previous{};
  if (last.has_value()) {
    OTPGATE_ASSIGN_OR_RETURN(JournalEntry tail, DecodeJournalEntry(last->second));
    entry.sequence = last->first + 1;
    previous = tail.chain;
  } else {
    OTPGATE_ASSIGN_OR_RETURN(auto checkpoint, LoadCheckpoint(txn));
    entry.sequence = checkpoint.has_value() ? checkpoint->sequence + 1 : 1;
    if (checkpoint.has_value()) previous = checkpoint->chain;
  }
  OTPGATE_ASSIGN_OR_RETURN(entry.chain, Chain(previous, Canonical(entry)));
  return txn.AppendJournalEntry(entry.sequence, EncodeJournalEntry(entry));
}

Status Journal::Read(Txn& txn, const JournalFilter& filter,
                     const std::function<Status(const JournalEntry&)>& fn) const {
  return txn.ForEachJournalEntry(0, [&](uint64_t sequence, std::span<const uint8_t> bytes) {
    auto entry = DecodeJournalEntry(bytes);
    if (!entry.ok()) {
      return Status::Corrupt("journal entry " + std::to_string(sequence) + ": " +
                             entry.status().message());
    }
    if (entry->time < filter.since || (filter.user && entry->user != *filter.user) ||
        (filter.token && entry->token != *filter.token)) {
      return Status::Ok();
    }
    return fn(*entry);
  });
}

Result<JournalCheck> Journal::Verify(Txn& txn) const {
  JournalCheck check;
  auto checkpoint = LoadCheckpoint(txn);
  if (!checkpoint.ok()) {
    check.ok = false;
    check.problem = checkpoint.status().message();
    return check;
  }
  JournalHash previous{};
  if (checkpoint->has_value()) {
    check.checkpoint = (*checkpoint)->sequence;
    previous = (*checkpoint)->chain;
  }
  uint64_t expected = check.checkpoint + 1;
  check.first_sequence = expected;
  auto fail = [&](uint64_t where, std::string problem) {
    check.ok = false;
    check.first_bad = where;
    check.problem = std::move(problem);
    return Status::FailedPrecondition("stop");  // ends the walk; check.ok says why
  };
  Status walk = txn.ForEachJournalEntry(0, [&](uint64_t key, std::span<const uint8_t> bytes) {
    const std::string at = "entry " + std::to_string(key);
    if (key < expected) {
      return fail(key, at + " lies before the checkpoint at " + std::to_string(check.checkpoint));
    }
    if (key > expected) {
      return fail(expected, "entries " + std::to_string(expected) + " to " +
                                std::to_string(key - 1) + " are missing (removed)");
    }
    auto entry = DecodeJournalEntry(bytes);
    if (!entry.ok()) return fail(key, at + " is malformed: " + entry.status().message());
    if (entry->sequence != key) {
      return fail(key, at + " holds the entry numbered " + std::to_string(entry->sequence) +
                           " (entries reordered or moved)");
    }
    OTPGATE_ASSIGN_OR_RETURN(JournalHash chain, Chain(previous, Canonical(*entry)));
    if (CRYPTO_memcmp(chain.data(), entry->chain.data(), chain.size()) != 0) {
      return fail(key, at + " was altered: its chain value does not match");
    }
    previous = chain;
    check.last_sequence = key;
    ++check.entries;
    ++expected;
    return Status::Ok();
  });
  if (!walk.ok() && check.ok) return walk;  // a store error, not a broken chain
  check.head = previous;
  return check;
}

Result<uint64_t> Journal::PruneBefore(Txn& txn, int64_t before) const {
  OTPGATE_ASSIGN_OR_RETURN(JournalCheck check, Verify(txn));
  if (!check.ok) {
    return Status::Corrupt("journal does not verify (" + check.problem + "); not pruning");
  }
  Checkpoint cut;
  uint64_t removed = 0;
  bool reached = false;  // the first entry that stays
  Status walk = txn.ForEachJournalEntry(0, [&](uint64_t sequence, std::span<const uint8_t> bytes) {
    OTPGATE_ASSIGN_OR_RETURN(JournalEntry entry, DecodeJournalEntry(bytes));
    if (entry.time >= before) {
      reached = true;
      return Status::FailedPrecondition("stop");  // ends the walk
    }
    cut = Checkpoint{sequence, entry.chain};
    ++removed;
    return Status::Ok();
  });
  if (!walk.ok() && !reached) return walk;
  if (removed == 0) return uint64_t{0};
  OTPGATE_RETURN_IF_ERROR(txn.EraseJournalThrough(cut.sequence));
  OTPGATE_ASSIGN_OR_RETURN(std::vector<uint8_t> checkpoint, EncodeCheckpoint(cut));
  OTPGATE_RETURN_IF_ERROR(txn.PutMeta(kCheckpointName, checkpoint));
  return removed;
}

}  // namespace otpgate
