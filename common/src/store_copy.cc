#include "otpgate/store_copy.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace otpgate {
namespace {

// The metadata a store holds besides its schema version (which each backend
// writes itself).
constexpr std::string_view kCopiedMeta[] = {"key-check", kJournalCheckpointMeta};

// Everything a store holds, as copied and compared.
struct Snapshot {
  std::map<std::string, std::vector<uint8_t>> tokens;  // ID -> encoded record
  std::set<std::pair<std::string, std::string>> bindings;
  std::map<std::string, std::vector<uint8_t>> meta;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> journal;  // ascending
};

Result<Snapshot> TakeSnapshot(Store& store) {
  Snapshot snap;
  OTPGATE_RETURN_IF_ERROR(store.Read([&](Txn& txn) -> Status {
    snap = Snapshot();
    std::set<std::string> owners;
    OTPGATE_RETURN_IF_ERROR(txn.ForEachToken([&](const TokenRecord& record) {
      snap.tokens[record.credential_id] = EncodeTokenRecord(record);
      if (!record.owner.empty()) owners.insert(record.owner);
      return Status::Ok();
    }));
    // The user index is reached through the owners the records name; a
    // binding to a token owned by someone else is copied as found.
    for (const std::string& owner : owners) {
      OTPGATE_ASSIGN_OR_RETURN(std::vector<std::string> ids, txn.UserTokens(owner));
      for (std::string& id : ids) snap.bindings.emplace(owner, std::move(id));
    }
    for (std::string_view name : kCopiedMeta) {
      OTPGATE_ASSIGN_OR_RETURN(auto value, txn.GetMeta(name));
      if (value.has_value()) snap.meta[std::string(name)] = std::move(*value);
    }
    return txn.ForEachJournalEntry(0, [&](uint64_t sequence, std::span<const uint8_t> entry) {
      snap.journal.emplace_back(sequence, std::vector<uint8_t>(entry.begin(), entry.end()));
      return Status::Ok();
    });
  }));
  return snap;
}

Status Compare(const Snapshot& a, const Snapshot& b) {
  if (a.tokens.size() != b.tokens.size() || a.bindings != b.bindings || a.meta != b.meta ||
      a.journal.size() != b.journal.size()) {
    return Status::Corrupt(
        "the copy differs from the source (tokens " + std::to_string(a.tokens.size()) + " vs " +
        std::to_string(b.tokens.size()) + ", bindings " + std::to_string(a.bindings.size()) +
        " vs " + std::to_string(b.bindings.size()) + ", journal entries " +
        std::to_string(a.journal.size()) + " vs " + std::to_string(b.journal.size()) + ")");
  }
  for (size_t i = 0; i < a.journal.size(); ++i) {
    if (a.journal[i] != b.journal[i]) {
      return Status::Corrupt("the copy of journal entry " + std::to_string(a.journal[i].first) +
                             " differs from the source");
    }
  }
  for (const auto& [id, bytes] : a.tokens) {
    auto it = b.tokens.find(id);
    if (it == b.tokens.end() || it->second != bytes) {
      return Status::Corrupt("the copy of token " + id + " differs from the source");
    }
  }
  return Status::Ok();
}

}  // namespace

Status CopyStore(const StoreOptions& from, const StoreOptions& to, CopyReport* report) {
  StoreOptions source_options = from;
  source_options.create = false;
  OTPGATE_ASSIGN_OR_RETURN(std::shared_ptr<Store> source, Store::Open(source_options));
  StoreOptions target_options = to;
  target_options.create = true;
  OTPGATE_ASSIGN_OR_RETURN(std::shared_ptr<Store> target, Store::Open(target_options));
  if (source.get() == target.get() || from.location == to.location) {
    return Status::InvalidArgument("store copy: source and destination are the same store");
  }
  OTPGATE_ASSIGN_OR_RETURN(Snapshot snap, TakeSnapshot(*source));
  OTPGATE_RETURN_IF_ERROR(target->Write([&](Txn& txn) -> Status {
    OTPGATE_RETURN_IF_ERROR(txn.ForEachToken([](const TokenRecord&) {
      return Status::AlreadyExists("store copy: the destination already holds tokens");
    }));
    OTPGATE_ASSIGN_OR_RETURN(auto last_entry, txn.LastJournalEntry());
    if (last_entry.has_value()) {
      return Status::AlreadyExists("store copy: the destination already holds a journal");
    }
    for (const auto& [name, value] : snap.meta) {
      OTPGATE_RETURN_IF_ERROR(txn.PutMeta(name, value));
    }
    for (const auto& [id, bytes] : snap.tokens) {
      OTPGATE_ASSIGN_OR_RETURN(TokenRecord record, DecodeTokenRecord(bytes));
      OTPGATE_RETURN_IF_ERROR(txn.PutToken(record));
    }
    for (const auto& [user, id] : snap.bindings) {
      OTPGATE_RETURN_IF_ERROR(txn.AddUserToken(user, id));
    }
    for (const auto& [sequence, entry] : snap.journal) {
      OTPGATE_RETURN_IF_ERROR(txn.AppendJournalEntry(sequence, entry));
    }
    return Status::Ok();
  }));
  OTPGATE_ASSIGN_OR_RETURN(Snapshot copied, TakeSnapshot(*target));
  OTPGATE_RETURN_IF_ERROR(Compare(snap, copied));
  if (report != nullptr) {
    *report =
        CopyReport{snap.tokens.size(), snap.bindings.size(), snap.meta.size(), snap.journal.size()};
  }
  return Status::Ok();
}

}  // namespace otpgate
