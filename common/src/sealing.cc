#include "otpgate/sealing.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>

#include "file_util.h"
#include "openssl_fetch.h"
#include "otpgate/otp.h"

namespace otpgate {
namespace {

constexpr uint8_t kSealVersion = 1;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

// EVP_aes_256_gcm() would make every EVP_*Init_ex fetch the implementation
// again by name (openssl_fetch.h).
EVP_CIPHER* Aes256Gcm() {
  static std::atomic<EVP_CIPHER*> cached{nullptr};
  return FetchOnce(cached, EVP_CIPHER_fetch, EVP_CIPHER_free, "AES-256-GCM");
}

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

}  // namespace

Result<SecretBytes> RandomBytes(size_t n) {
  SecretBytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    return Status::Internal("the random number generator failed");
  }
  return out;
}

Result<MasterKey> MasterKey::Load(const std::string& path) {
  OTPGATE_ASSIGN_OR_RETURN(UniqueFd fd, OpenPrivateFile(path, "master key"));
  SecretBytes key(kMasterKeyBytes + 1);
  ssize_t got = ReadFully(fd.get(), key.data(), key.size());
  if (got < 0) {
    return Status::Unavailable("master key " + path + ": " + std::strerror(errno));
  }
  if (static_cast<size_t>(got) != kMasterKeyBytes) {
    return Status::Corrupt("master key " + path +
                           " must be exactly 32 bytes (otpgate init makes one)");
  }
  key.Truncate(kMasterKeyBytes);
  return MasterKey(std::move(key));
}

Status MasterKey::Create(const std::string& path) {
  OTPGATE_RETURN_IF_ERROR(MakeParentDirectory(path, 0700));
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) {
    if (errno == EEXIST) {
      return Status::AlreadyExists("master key " + path + " already exists; not overwritten");
    }
    return Status::Unavailable("cannot create master key " + path + ": " + std::strerror(errno));
  }
  OTPGATE_ASSIGN_OR_RETURN(SecretBytes key, RandomBytes(kMasterKeyBytes));
  // The umask may have cleared bits we asked for; make the mode exact.
  if (::fchmod(fd.get(), 0600) != 0 || WriteFully(fd.get(), key.data(), key.size()) != 0 ||
      ::fsync(fd.get()) != 0) {
    int saved = errno;
    ::unlink(path.c_str());
    return Status::Unavailable("cannot write master key " + path + ": " + std::strerror(saved));
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> MasterKey::Seal(std::span<const uint8_t> plaintext,
                                             std::string_view aad) const {
  std::vector<uint8_t> out(1 + kNonceBytes + plaintext.size() + kTagBytes);
  out[0] = kSealVersion;
  uint8_t* nonce = out.data() + 1;
  uint8_t* ciphertext = nonce + kNonceBytes;
  uint8_t* tag = ciphertext + plaintext.size();
  if (RAND_bytes(nonce, kNonceBytes) != 1) {
    return Status::Internal("the random number generator failed");
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  const EVP_CIPHER* cipher = Aes256Gcm();
  if (!ctx || cipher == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key_.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, reinterpret_cast<const uint8_t*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ciphertext, &length, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ciphertext + length, &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1) {
    return Status::Internal("AES-256-GCM encryption failed");
  }
  return out;
}

Result<SecretBytes> MasterKey::Open(std::span<const uint8_t> sealed, std::string_view aad) const {
  if (sealed.size() < 1 + kNonceBytes + kTagBytes || sealed[0] != kSealVersion) {
    return Status::Corrupt("sealed secret is malformed");
  }
  const uint8_t* nonce = sealed.data() + 1;
  const uint8_t* ciphertext = nonce + kNonceBytes;
  size_t ciphertext_size = sealed.size() - 1 - kNonceBytes - kTagBytes;
  // EVP_CTRL_GCM_SET_TAG takes a non-const pointer; copy the tag.
  uint8_t tag[kTagBytes];
  std::memcpy(tag, ciphertext + ciphertext_size, kTagBytes);
  SecretBytes plaintext(ciphertext_size);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  // Only the final check is about the record; any earlier failure is
  // OpenSSL's, and must not send an operator looking for tampering.
  const EVP_CIPHER* cipher = Aes256Gcm();
  if (!ctx || cipher == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key_.data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, reinterpret_cast<const uint8_t*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plaintext.data(), &length, ciphertext,
                        static_cast<int>(ciphertext_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1) {
    return Status::Internal("OpenSSL cannot decrypt AES-256-GCM");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), plaintext.data() + length, &length) != 1) {
    return Status::Corrupt("sealed secret does not authenticate (wrong key, tampered, or moved)");
  }
  return plaintext;
}

SecretBytes MasterKey::Derive(std::string_view label) const {
  SecretBytes out(64);
  if (ComputeHmac(HashAlgorithm::kSha256, key_.span(),
                  {reinterpret_cast<const uint8_t*>(label.data()), label.size()},
                  out.data()) != 32) {
    return SecretBytes();
  }
  out.Truncate(32);
  return out;
}

}  // namespace otpgate
