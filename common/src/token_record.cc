#include "otpgate/token_record.h"

#include <cstring>

namespace otpgate {
namespace {

constexpr uint8_t kRecordVersion = 1;
constexpr uint8_t kStagedRecordVersion = 2;  // version 1 + u64 staged_by
constexpr size_t kMaxStringBytes = 1024;

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void I64(int64_t v) { Le(static_cast<uint64_t>(v), 8); }
  void U64(uint64_t v) { Le(v, 8); }
  void Bytes(const uint8_t* data, size_t n) { out_.insert(out_.end(), data, data + n); }
  void Blob(std::span<const uint8_t> data) {
    U16(static_cast<uint16_t>(data.size()));
    Bytes(data.data(), data.size());
  }
  void Str(std::string_view s) { Blob({reinterpret_cast<const uint8_t*>(s.data()), s.size()}); }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) {
      out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
  }
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool U8(uint8_t& v) {
    if (!Need(1)) return false;
    v = in_[pos_++];
    return true;
  }
  bool U32(uint32_t& v) {
    uint64_t x;
    if (!Le(x, 4)) return false;
    v = static_cast<uint32_t>(x);
    return true;
  }
  bool I64(int64_t& v) {
    uint64_t x;
    if (!Le(x, 8)) return false;
    v = static_cast<int64_t>(x);
    return true;
  }
  bool Bytes(uint8_t* out, size_t n) {
    if (!Need(n)) return false;
    std::memcpy(out, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool Blob(std::vector<uint8_t>& out) {
    uint64_t n;
    if (!Le(n, 2) || n > kMaxStringBytes || !Need(n)) return false;
    out.assign(in_.begin() + static_cast<ptrdiff_t>(pos_),
               in_.begin() + static_cast<ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }
  bool Str(std::string& out) {
    std::vector<uint8_t> bytes;
    if (!Blob(bytes)) return false;
    out.assign(bytes.begin(), bytes.end());
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  bool Need(size_t n) const { return in_.size() - pos_ >= n; }
  bool Le(uint64_t& v, int n) {
    if (!Need(static_cast<size_t>(n))) return false;
    v = 0;
    for (int i = 0; i < n; ++i) {
      v |= static_cast<uint64_t>(in_[pos_++]) << (8 * i);
    }
    return true;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

}  // namespace

std::string_view TokenStateName(TokenState state) {
  switch (state) {
    case TokenState::kUnassigned:
      return "unassigned";
    case TokenState::kActive:
      return "active";
    case TokenState::kDisabled:
      return "disabled";
  }
  return "unknown";
}

std::vector<uint8_t> EncodeTokenRecord(const TokenRecord& r) {
  Writer w;
  w.U8(r.staged_by == 0 ? kRecordVersion : kStagedRecordVersion);
  w.U8(static_cast<uint8_t>(r.state));
  w.U8(static_cast<uint8_t>(r.params.kind));
  w.U8(static_cast<uint8_t>(r.params.algorithm));
  w.U8(static_cast<uint8_t>(r.params.digits));
  w.U8(0);
  w.I64(r.params.period);
  w.I64(r.params.t0);
  w.I64(r.last_accepted);
  w.I64(r.drift);
  w.U32(r.failures);
  w.I64(r.lock_until);
  w.Bytes(r.last_failure_fingerprint.data(), r.last_failure_fingerprint.size());
  w.I64(r.created_at);
  w.I64(r.bound_at);
  w.I64(r.last_used_at);
  w.I64(r.valid_from);
  w.I64(r.valid_until);
  w.Str(r.credential_id);
  w.Str(r.owner);
  w.Str(r.issuer);
  w.Blob(r.sealed_secret);
  if (r.staged_by != 0) w.U64(r.staged_by);
  return w.Take();
}

Result<TokenRecord> DecodeTokenRecord(std::span<const uint8_t> bytes) {
  Reader in(bytes);
  TokenRecord r;
  uint8_t version, state, kind, algorithm, digits, reserved;
  if (!in.U8(version)) {
    return Status::Corrupt("token record is empty");
  }
  if (version != kRecordVersion && version != kStagedRecordVersion) {
    return Status::Corrupt("token record has unknown format version " + std::to_string(version));
  }
  bool complete = in.U8(state) && in.U8(kind) && in.U8(algorithm) && in.U8(digits) &&
                  in.U8(reserved) && in.I64(r.params.period) && in.I64(r.params.t0) &&
                  in.I64(r.last_accepted) && in.I64(r.drift) && in.U32(r.failures) &&
                  in.I64(r.lock_until) &&
                  in.Bytes(r.last_failure_fingerprint.data(), r.last_failure_fingerprint.size()) &&
                  in.I64(r.created_at) && in.I64(r.bound_at) && in.I64(r.last_used_at) &&
                  in.I64(r.valid_from) && in.I64(r.valid_until) && in.Str(r.credential_id) &&
                  in.Str(r.owner) && in.Str(r.issuer) && in.Blob(r.sealed_secret);
  if (complete && version == kStagedRecordVersion) {
    int64_t staged_by = 0;
    complete = in.I64(staged_by);
    r.staged_by = static_cast<uint64_t>(staged_by);
    if (complete && r.staged_by == 0) {
      return Status::Corrupt("staged token record has no import number");
    }
  }
  if (!complete) {
    return Status::Corrupt("token record is truncated");
  }
  if (!in.AtEnd()) {
    return Status::Corrupt("token record has trailing bytes");
  }
  if (state < 1 || state > 3) {
    return Status::Corrupt("token record has an invalid state");
  }
  r.state = static_cast<TokenState>(state);
  r.params.kind = static_cast<OtpKind>(kind);
  r.params.algorithm = static_cast<HashAlgorithm>(algorithm);
  r.params.digits = digits;
  if (!r.params.Validate().ok() || reserved != 0) {
    return Status::Corrupt("token record has invalid algorithm parameters");
  }
  // Counters and drift inside the ranges every window computation assumes
  // (otp.h); a record outside them could only have been forged or damaged.
  if (r.last_accepted < kNoneAccepted || r.last_accepted > kMaxHotpCounter ||
      r.drift < -kMaxDriftSteps || r.drift > kMaxDriftSteps || r.lock_until < 0) {
    return Status::Corrupt("token record has an out-of-range counter, drift or lock time");
  }
  if (r.credential_id.empty() || r.sealed_secret.empty()) {
    return Status::Corrupt("token record lacks its credential ID or secret");
  }
  if ((r.state == TokenState::kUnassigned) != r.owner.empty()) {
    return Status::Corrupt("token record's owner does not match its state");
  }
  return r;
}

Result<TokenRecord> DecodeStoredToken(std::string_view credential_id,
                                      std::span<const uint8_t> bytes) {
  auto record = DecodeTokenRecord(bytes);
  if (!record.ok()) {
    return Status::Corrupt("token " + std::string(credential_id) + ": " +
                           record.status().message());
  }
  if (record->credential_id != credential_id) {
    return Status::Corrupt("token " + std::string(credential_id) +
                           ": record belongs to another credential ID");
  }
  return record;
}

}  // namespace otpgate
