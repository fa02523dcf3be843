// PSKC (RFC 6030) key containers: the seed files token vendors deliver.
//
// Whole-file semantics: the container's keys are all checked first. A wrong
// pre-shared key or password, a ValueMAC that does not match, an unsupported
// encryption or MAC algorithm, malformed XML, or any DTD rejects the whole
// file (a Status); problems of single keys (no key material, not an OTP key,
// a secret too short, a duplicate ID) reject that key only, with a reason.
#ifndef OTPGATE_PSKC_H_
#define OTPGATE_PSKC_H_

#include <functional>
#include <optional>
#include <span>
#include <string>

#include "otpgate/secret.h"
#include "otpgate/status.h"
#include "otpgate/token_import.h"

namespace otpgate {

struct PskcOptions {
  // RFC 6030 §6.1: pre-shared key (16, 24 or 32 bytes: AES-128/192/256-CBC).
  std::optional<SecretBytes> preshared_key;
  // RFC 6030 §6.2: password for the PBKDF2-derived key.
  std::optional<std::string> password;
  // The credential ID is DeviceInfo/SerialNo (default) or Key@Id.
  bool id_from_key_id = false;
  // Called every so often with the number of keys read so far.
  std::function<void(size_t)> progress;
};

// Reads the container in `path`, streaming: memory stays bounded by one
// KeyPackage (plus the set of credential IDs seen, for duplicates), whatever
// the number of keys. Each key goes to `visit` in file order, as a token or
// a kInvalidArgument reason. A returned error fails the whole file (the
// visitor may already have seen some keys: callers that store must read
// the file twice or hold the tokens until it returns OK). A file without
// any KeyPackage is an error.
//
// What is read: every Data field (Secret, Counter, Time, TimeInterval,
// TimeDrift) plain or encrypted; in a file with a MACMethod every field must
// be encrypted with a ValueMAC that checks, else the key is rejected. Dates
// of the key's Policy and of the DeviceInfo bound its validity. Anything
// that cannot be applied (CheckDigits, PIN in the OTP, transaction limits,
// unknown elements, challenge-response keys) rejects the key with that reason.
Status StreamPskcFile(const std::string& path, const PskcOptions& options,
                      const TokenVisitor& visit);
// The same, collected; `rejected[i].line` is the 1-based position of the
// key in the file.
Result<ParsedTokens> ParsePskcFile(const std::string& path, const PskcOptions& options);
// The same from memory (tests, fuzzing).
Result<ParsedTokens> ParsePskcText(std::string_view xml, const PskcOptions& options);

// xs:dateTime (YYYY-MM-DDThh:mm:ss, optional fraction, optional Z or
// +hh:mm/-hh:mm; no zone is read as UTC) to epoch seconds.
std::optional<int64_t> ParseXsDateTime(std::string_view text);
// An encrypted integer field's plaintext: decimal text (as python-pskc and
// some servers write it) or a big-endian integer of at most 8 bytes.
std::optional<uint64_t> DecodePskcInteger(std::span<const uint8_t> bytes);

// The transport key of --key-file: 16, 24 or 32 bytes, raw or as hex; the
// password of --password-file: its first line. Both files must be private
// (no group/other access), like the master key.
Result<SecretBytes> LoadTransportKey(const std::string& path);
Result<std::string> LoadPasswordFile(const std::string& path);

// Writes tokens as a PSKC container: plaintext, or with secrets encrypted
// (AES-128-CBC, HMAC-SHA1 ValueMAC) under `preshared_key` (16 bytes) or a
// key derived from `password` (PBKDF2-HMAC-SHA1, random salt).
struct PskcExport {
  std::string credential_id;
  OtpParams params;
  SecretBytes secret;
  std::string issuer;
  uint64_t counter = 0;
};
Result<std::string> WritePskc(const std::vector<PskcExport>& keys, const PskcOptions& options);

}  // namespace otpgate

#endif  // OTPGATE_PSKC_H_
