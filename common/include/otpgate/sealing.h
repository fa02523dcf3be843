// Sealing of token secrets at rest: AES-256-GCM under the master key.
//
// Sealed form: version (1 byte, 0x01) | nonce (12) | ciphertext | tag (16).
// The additional authenticated data binds a sealed secret to its credential
// ID, so a record copied onto another token fails to open.
#ifndef OTPGATE_SEALING_H_
#define OTPGATE_SEALING_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "otpgate/secret.h"
#include "otpgate/status.h"

namespace otpgate {

constexpr size_t kMasterKeyBytes = 32;

class MasterKey {
 public:
  // Reads a key file: exactly 32 bytes, a regular file (no symlink), owned by
  // root or by the effective user, and not readable or writable by group or
  // others. Anything else is refused with a message that says why.
  static Result<MasterKey> Load(const std::string& path);
  // Creates a new key file with 32 random bytes, mode 0600, refusing to
  // overwrite an existing file (kAlreadyExists).
  static Status Create(const std::string& path);
  static MasterKey FromBytes(SecretBytes key) { return MasterKey(std::move(key)); }

  Result<std::vector<uint8_t>> Seal(std::span<const uint8_t> plaintext, std::string_view aad) const;
  // kCorrupt when the sealed blob is malformed or does not authenticate
  // (wrong key, tampering, or a blob moved to another credential ID).
  Result<SecretBytes> Open(std::span<const uint8_t> sealed, std::string_view aad) const;
  // A 32-byte subkey for one purpose: HMAC-SHA256(master key, label). Keys
  // for different labels are independent; none reveals the master key.
  // Empty if the MAC cannot be computed (OpenSSL out of memory): whoever
  // uses a derived key refuses to work with an empty one (fail closed).
  SecretBytes Derive(std::string_view label) const;

 private:
  explicit MasterKey(SecretBytes key) : key_(std::move(key)) {}
  SecretBytes key_;
};

// Random bytes from OpenSSL's CSPRNG.
Result<SecretBytes> RandomBytes(size_t n);

}  // namespace otpgate

#endif  // OTPGATE_SEALING_H_
