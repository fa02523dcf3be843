// PSKC (RFC 6030) reading and writing, with libxml2's streaming reader.
//
// Reading is strict in one direction: a key is imported only when everything
// the file says about it is either applied or harmless (names, serials);
// anything otpgate cannot honour rejects the key with that reason. In a file
// with a MACMethod nothing unauthenticated is taken: every Data field must
// be an EncryptedValue whose ValueMAC checks.
#include "otpgate/pskc.h"

#include <fcntl.h>
#include <libxml/xmlreader.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <set>

#include "credential_id_set.h"
#include "file_util.h"
#include "otpgate/base32.h"
#include "otpgate/normalize.h"
#include "otpgate/sealing.h"
#include "text_util.h"

namespace otpgate {
namespace {

constexpr const char* kPskcNs = "urn:ietf:params:xml:ns:keyprov:pskc";
constexpr const char* kHotpUri = "urn:ietf:params:xml:ns:keyprov:pskc:hotp";
constexpr const char* kTotpUri = "urn:ietf:params:xml:ns:keyprov:pskc:totp";
constexpr const char* kPbkdf2Uri =
    "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2";
constexpr int64_t kMaxIterations = 10'000'000;
constexpr size_t kMaxValueBytes = 4096;
const Status kDtdRefused = Status::InvalidArgument("PSKC file has a DTD or entities; refused");
// Each child of KeyContainer is expanded in memory to be read. A real one
// is a few KiB; one larger than this is refused while it is being read, so
// that no file can make an expansion (up to ~30 bytes of tree per byte of
// markup) grow with it.
constexpr uint64_t kMaxElementBytes = 1 << 20;

int ReaderOptions() {
  // No network, no DTD loading, no entity substitution (XXE and "billion
  // laughs" cannot expand); a DOCTYPE is refused outright in Stream.
  return XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_NOBLANKS;
}

// The bytes a reader is given, counted, so that the expansion of one
// element can be cut off at a budget (the parser then fails).
class MeteredInput {
 public:
  using Source = std::function<ssize_t(char* buffer, size_t size)>;  // -1: error, 0: end
  explicit MeteredInput(Source source) : source_(std::move(source)) {}
  MeteredInput(const MeteredInput&) = delete;
  MeteredInput& operator=(const MeteredInput&) = delete;

  // Owned by the caller; reads through this object, which must outlive it.
  xmlTextReaderPtr NewReader() {
    return xmlReaderForIO(&Read, &Close, this, nullptr, nullptr, ReaderOptions());
  }
  // From now on, at most `bytes` more may be read.
  void Limit(uint64_t bytes) { limit_ = supplied_ + bytes; }
  void Unlimit() { limit_ = UINT64_MAX; }
  bool over_limit() const { return over_limit_; }
  bool read_failed() const { return read_failed_; }

 private:
  static int Read(void* context, char* buffer, int size) {
    auto* self = static_cast<MeteredInput*>(context);
    if (self->supplied_ >= self->limit_) {
      self->over_limit_ = true;
      return -1;
    }
    size_t want = static_cast<size_t>(
        std::min<uint64_t>(static_cast<uint64_t>(size), self->limit_ - self->supplied_));
    ssize_t got = self->source_(buffer, want);
    if (got < 0) {
      self->read_failed_ = true;
      return -1;
    }
    self->supplied_ += static_cast<uint64_t>(got);
    return static_cast<int>(got);
  }
  static int Close(void*) { return 0; }

  Source source_;
  uint64_t supplied_ = 0;
  uint64_t limit_ = UINT64_MAX;
  bool over_limit_ = false;
  bool read_failed_ = false;
};

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The part of an algorithm URI after '#' (or the whole), lower case:
// "http://www.w3.org/2001/04/xmlenc#AES128-CBC" -> "aes128-cbc".
std::string UriFragment(std::string_view uri) {
  size_t hash = uri.rfind('#');
  return Lower(hash == std::string_view::npos ? uri : uri.substr(hash + 1));
}

// --- Small DOM helpers over one expanded subtree. ---

std::string_view LocalName(const xmlNode* node) {
  return node->name != nullptr ? reinterpret_cast<const char*>(node->name) : "";
}

const xmlNode* Child(const xmlNode* parent, std::string_view name) {
  if (parent == nullptr) return nullptr;
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && LocalName(c) == name) return c;
  }
  return nullptr;
}

const xmlNode* Path(const xmlNode* node, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) node = Child(node, name);
  return node;
}

// The first child element of `parent` whose name is not in `known`, or "".
std::string UnknownChild(const xmlNode* parent, std::initializer_list<std::string_view> known) {
  if (parent == nullptr) return "";
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (std::find(known.begin(), known.end(), LocalName(c)) == known.end()) {
      return std::string(LocalName(c));
    }
  }
  return "";
}

std::string Text(const xmlNode* node) {
  if (node == nullptr) return "";
  xmlChar* content = xmlNodeGetContent(node);
  std::string text = content != nullptr ? reinterpret_cast<const char*>(content) : "";
  xmlFree(content);
  return std::string(Trim(text));
}

std::string Attr(const xmlNode* node, const char* name) {
  if (node == nullptr) return "";
  xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  std::string text = value != nullptr ? reinterpret_cast<const char*>(value) : "";
  xmlFree(value);
  return text;
}

Result<std::vector<uint8_t>> Base64(std::string_view text, std::string_view what) {
  std::string compact;
  for (char c : text) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') compact += c;
  }
  if (compact.empty()) return Status::InvalidArgument(std::string(what) + " is missing or empty");
  if (compact.size() % 4 != 0 || compact.size() > kMaxValueBytes) {
    return Status::InvalidArgument(std::string(what) + " is not valid base64");
  }
  std::vector<uint8_t> out(compact.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const uint8_t*>(compact.data()),
                          static_cast<int>(compact.size()));
  if (n < 0) return Status::InvalidArgument(std::string(what) + " is not valid base64");
  size_t pad = compact.ends_with("==") ? 2 : compact.ends_with("=") ? 1 : 0;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string Base64Encode(std::span<const uint8_t> data) {
  std::string out((data.size() + 2) / 3 * 4 + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

struct Cipher {
  const EVP_CIPHER* evp = nullptr;
  bool key_wrap = false;  // RFC 3394 AES key wrap: no IV prefix, self-authenticating
};

std::optional<Cipher> CipherFor(std::string_view uri) {
  std::string name = UriFragment(uri);
  if (name == "aes128-cbc") return Cipher{EVP_aes_128_cbc()};
  if (name == "aes192-cbc") return Cipher{EVP_aes_192_cbc()};
  if (name == "aes256-cbc") return Cipher{EVP_aes_256_cbc()};
  if (name == "tripledes-cbc") return Cipher{EVP_des_ede3_cbc()};
  if (name == "kw-aes128") return Cipher{EVP_aes_128_wrap(), true};
  if (name == "kw-aes192") return Cipher{EVP_aes_192_wrap(), true};
  if (name == "kw-aes256") return Cipher{EVP_aes_256_wrap(), true};
  return std::nullopt;
}

bool IsAsymmetric(std::string_view uri) {
  std::string name = UriFragment(uri);
  return name.starts_with("rsa-");
}

const EVP_MD* MacDigestFor(std::string_view uri) {
  std::string name = UriFragment(uri);
  if (name == "hmac-sha1") return EVP_sha1();
  if (name == "hmac-sha224") return EVP_sha224();
  if (name == "hmac-sha256") return EVP_sha256();
  if (name == "hmac-sha384") return EVP_sha384();
  if (name == "hmac-sha512") return EVP_sha512();
  return nullptr;
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// RFC 3394 key unwrap (XML Encryption kw-aes*); a wrong key fails the
// integrity check built into the wrap.
Result<SecretBytes> Unwrap(const EVP_CIPHER* cipher, const SecretBytes& key,
                           std::span<const uint8_t> wrapped) {
  if (wrapped.size() < 24 || wrapped.size() % 8 != 0) {
    return Status::InvalidArgument("key-wrapped value has a bad length");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) return Status::Internal("no cipher context");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  SecretBytes out(wrapped.size());
  int length = 0, final_length = 0;
  if (EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.data(), nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &length, wrapped.data(),
                        static_cast<int>(wrapped.size())) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.data() + length, &final_length) != 1) {
    return Status::WrongKey("key unwrap failed: wrong key or password, or the file was altered");
  }
  out.Truncate(static_cast<size_t>(length + final_length));
  return out;
}

// XML Encryption CBC: the IV is prepended; padding per XML Encryption §5.2
// (last byte = pad length, other pad bytes arbitrary).
Result<SecretBytes> DecryptCbc(const EVP_CIPHER* cipher, const SecretBytes& key,
                               std::span<const uint8_t> iv_and_ciphertext) {
  const size_t block = static_cast<size_t>(EVP_CIPHER_block_size(cipher));
  if (iv_and_ciphertext.size() < 2 * block || iv_and_ciphertext.size() % block != 0) {
    return Status::InvalidArgument("encrypted value has a bad length");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  // Room for the ciphertext (all after the IV) plus one block for Final.
  SecretBytes out(iv_and_ciphertext.size());
  int length = 0, final_length = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.data(), iv_and_ciphertext.data()) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &length, iv_and_ciphertext.data() + block,
                        static_cast<int>(iv_and_ciphertext.size() - block)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.data() + length, &final_length) != 1) {
    return Status::Internal("CBC decryption failed");
  }
  size_t total = static_cast<size_t>(length + final_length);
  uint8_t pad = total > 0 ? out.data()[total - 1] : 0;
  if (pad == 0 || pad > block || pad > total) {
    return Status::WrongKey("decryption gave bad padding: wrong key or password");
  }
  out.Truncate(total - pad);
  return out;
}

Result<SecretBytes> Decrypt(const Cipher& cipher, const SecretBytes& key,
                            std::span<const uint8_t> value) {
  if (static_cast<size_t>(EVP_CIPHER_key_length(cipher.evp)) != key.size()) {
    return Status::WrongKey("the key has " + std::to_string(key.size()) +
                            " bytes; the file's cipher needs " +
                            std::to_string(EVP_CIPHER_key_length(cipher.evp)));
  }
  return cipher.key_wrap ? Unwrap(cipher.evp, key, value) : DecryptCbc(cipher.evp, key, value);
}

Result<std::vector<uint8_t>> EncryptCbc(const SecretBytes& key, std::span<const uint8_t> plain) {
  const size_t block = 16;
  std::vector<uint8_t> out(block);
  if (RAND_bytes(out.data(), block) != 1) return Status::Internal("RNG failed");
  std::vector<uint8_t> padded(plain.begin(), plain.end());
  uint8_t pad = static_cast<uint8_t>(block - plain.size() % block);
  padded.insert(padded.end(), pad, pad);
  out.resize(block + padded.size());
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0;
  bool ok =
      ctx &&
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key.data(), out.data()) == 1 &&
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 &&
      EVP_EncryptUpdate(ctx.get(), out.data() + block, &length, padded.data(),
                        static_cast<int>(padded.size())) == 1;
  OPENSSL_cleanse(padded.data(), padded.size());
  if (!ok) return Status::Internal("AES-CBC encryption failed");
  return out;
}

std::vector<uint8_t> Hmac(const EVP_MD* md, const SecretBytes& key, std::span<const uint8_t> data) {
  std::vector<uint8_t> mac(EVP_MAX_MD_SIZE);
  unsigned length = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), mac.data(), &length);
  mac.resize(length);
  return mac;
}

bool SameMac(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<int64_t> ParseXsDateTime(std::string_view text) {
  // YYYY-MM-DDThh:mm:ss[.fraction][Z|(+|-)hh:mm]; no zone is taken as UTC.
  auto number = [&](size_t pos, size_t len) -> std::optional<int> {
    if (pos + len > text.size()) return std::nullopt;
    auto v = ParseInteger(text.substr(pos, len), 0, 9999);
    return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
  };
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  auto year = number(0, 4), month = number(5, 2), day = number(8, 2), hour = number(11, 2),
       minute = number(14, 2), second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || *month < 1 || *month > 12 ||
      *day < 1 || *day > 31 || *hour > 24 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    size_t digits = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == digits) return std::nullopt;  // fractions below a second are dropped
  }
  int64_t offset = 0;
  std::string_view zone = text.substr(pos);
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    auto zh = number(pos + 1, 2), zm = number(pos + 4, 2);
    if (!zh || !zm || *zh > 14 || *zm > 59) return std::nullopt;
    offset = (*zh * 3600 + *zm * 60) * (zone[0] == '+' ? 1 : -1);
  } else if (!zone.empty()) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

std::optional<uint64_t> DecodePskcInteger(std::span<const uint8_t> bytes) {
  // python-pskc and some servers write the decimal text; RFC 6030 writers
  // the big-endian integer. Text first, as python-pskc reads it.
  if (bytes.empty()) return std::nullopt;
  bool digits =
      std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b >= '0' && b <= '9'; });
  if (digits) {
    auto v = ParseInteger(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), 0, INT64_MAX);
    if (!v) return std::nullopt;
    return static_cast<uint64_t>(*v);
  }
  if (bytes.size() > 8) return std::nullopt;
  uint64_t value = 0;
  for (uint8_t b : bytes) value = value << 8 | b;
  return value;
}

namespace {

// The container-level parts: how the file is encrypted and MACed, and the
// keys once derived (at the first KeyPackage: RFC 6030 puts EncryptionKey
// and MACMethod before the packages).
class ContainerKeys {
 public:
  // kInvalidArgument here fails the file (the problem is the container's).
  Status ReadEncryptionKey(const xmlNode* node);
  Status ReadMacMethod(const xmlNode* node);
  // Derives the transport and MAC keys; fails the file on a missing or wrong
  // key or password.
  Status Open(const PskcOptions& options);

  bool has_mac() const { return has_mac_method_; }
  // Decrypts one EncryptedValue after checking its ValueMAC (RFC 6030
  // §6.1.1). kInvalidArgument: this key is rejected; else the file fails.
  Result<SecretBytes> OpenValue(const xmlNode* field, std::string_view name) const;

 private:
  bool has_encryption_key_ = false;
  bool pbkdf2_ = false;
  std::vector<uint8_t> salt_;
  int64_t iterations_ = 0;
  int64_t key_length_ = 0;
  const EVP_MD* prf_ = EVP_sha1();
  bool has_mac_method_ = false;
  const EVP_MD* mac_md_ = nullptr;
  std::vector<uint8_t> encrypted_mac_key_;
  std::string mac_key_cipher_uri_;
  bool opened_ = false;
  std::optional<SecretBytes> key_;
  std::optional<SecretBytes> mac_key_;
};

Status ContainerKeys::ReadEncryptionKey(const xmlNode* node) {
  has_encryption_key_ = true;
  if (Child(node, "X509Data") != nullptr || Path(node, {"KeyInfo", "X509Data"}) != nullptr) {
    return Status::InvalidArgument(
        "the file is encrypted to a certificate (RFC 6030 §6.3, asymmetric keys): not "
        "supported; ask the sender for a pre-shared key or password file");
  }
  const xmlNode* derived = Child(node, "DerivedKey");
  if (derived == nullptr) return Status::Ok();  // ds:KeyName: a pre-shared key
  const xmlNode* method = Child(derived, "KeyDerivationMethod");
  if (Lower(Attr(method, "Algorithm")) != Lower(kPbkdf2Uri)) {
    return Status::InvalidArgument("unsupported key derivation '" + Attr(method, "Algorithm") +
                                   "' (PBKDF2 only)");
  }
  const xmlNode* params = Child(method, "PBKDF2-params");
  if (params == nullptr) return Status::InvalidArgument("PBKDF2-params element is missing");
  OTPGATE_ASSIGN_OR_RETURN(salt_, Base64(Text(Path(params, {"Salt", "Specified"})), "PBKDF2 Salt"));
  auto iterations = ParseInteger(Text(Child(params, "IterationCount")), 1, kMaxIterations);
  auto length = ParseInteger(Text(Child(params, "KeyLength")), 16, 32);
  if (!iterations)
    return Status::InvalidArgument("PBKDF2 IterationCount is missing or out of range");
  if (!length) return Status::InvalidArgument("PBKDF2 KeyLength is missing or not 16..32");
  iterations_ = *iterations;
  key_length_ = *length;
  std::string prf = Lower(Attr(Child(params, "PRF"), "Algorithm"));
  if (!prf.empty()) {
    if (prf.ends_with("hmac-sha256") || prf.ends_with("hmacwithsha256"))
      prf_ = EVP_sha256();
    else if (prf.ends_with("hmac-sha512") || prf.ends_with("hmacwithsha512"))
      prf_ = EVP_sha512();
    else if (!(prf.ends_with("hmac-sha1") || prf.ends_with("hmacwithsha1"))) {
      return Status::InvalidArgument("unsupported PBKDF2 PRF '" + prf + "'");
    }
  }
  pbkdf2_ = true;
  return Status::Ok();
}

Status ContainerKeys::ReadMacMethod(const xmlNode* node) {
  has_mac_method_ = true;
  mac_md_ = MacDigestFor(Attr(node, "Algorithm"));
  if (mac_md_ == nullptr) {
    return Status::InvalidArgument("unsupported MAC algorithm '" + Attr(node, "Algorithm") + "'");
  }
  if (Child(node, "MACKeyReference") != nullptr) {
    return Status::InvalidArgument(
        "the MAC key is given by reference (MACKeyReference): not supported");
  }
  if (const xmlNode* mac_key = Child(node, "MACKey")) {
    mac_key_cipher_uri_ = Attr(Child(mac_key, "EncryptionMethod"), "Algorithm");
    if (IsAsymmetric(mac_key_cipher_uri_)) {
      return Status::InvalidArgument("the MAC key is encrypted to a certificate (" +
                                     mac_key_cipher_uri_ + "): not supported");
    }
    if (!CipherFor(mac_key_cipher_uri_)) {
      return Status::InvalidArgument("unsupported cipher '" + mac_key_cipher_uri_ +
                                     "' for the MAC key");
    }
    OTPGATE_ASSIGN_OR_RETURN(
        encrypted_mac_key_,
        Base64(Text(Path(mac_key, {"CipherData", "CipherValue"})), "MACKey CipherValue"));
  }
  return Status::Ok();
}

Status ContainerKeys::Open(const PskcOptions& options) {
  if (opened_) return Status::Ok();
  opened_ = true;
  if (!has_encryption_key_) {
    if (has_mac_method_) {
      return Status::InvalidArgument(
          "the file has a MACMethod but no EncryptionKey to open the MAC key");
    }
    return Status::Ok();
  }
  SecretBytes key;
  if (pbkdf2_) {
    if (!options.password.has_value()) {
      return Status::InvalidArgument("the file is encrypted with a password: give --password-file");
    }
    key = SecretBytes(static_cast<size_t>(key_length_));
    if (PKCS5_PBKDF2_HMAC(options.password->data(), static_cast<int>(options.password->size()),
                          salt_.data(), static_cast<int>(salt_.size()),
                          static_cast<int>(iterations_), prf_, static_cast<int>(key.size()),
                          key.data()) != 1) {
      return Status::Internal("PBKDF2 failed");
    }
  } else {
    if (!options.preshared_key.has_value()) {
      return Status::InvalidArgument(
          "the file is encrypted with a pre-shared key: give --key-file");
    }
    key = options.preshared_key->Clone();
  }
  if (has_mac_method_) {
    if (encrypted_mac_key_.empty()) {
      mac_key_ = key.Clone();  // pre-RFC drafts: the MAC key is the encryption key
    } else {
      auto mac_key = Decrypt(*CipherFor(mac_key_cipher_uri_), key, encrypted_mac_key_);
      if (!mac_key.ok()) {
        return Status::WrongKey("the MAC key does not decrypt: wrong key or password (" +
                                mac_key.status().message() + ")");
      }
      mac_key_ = std::move(mac_key).value();
    }
  }
  key_ = std::move(key);
  return Status::Ok();
}

Result<SecretBytes> ContainerKeys::OpenValue(const xmlNode* field, std::string_view name) const {
  const xmlNode* encrypted = Child(field, "EncryptedValue");
  std::string cipher_uri = Attr(Child(encrypted, "EncryptionMethod"), "Algorithm");
  std::string what(name);
  if (IsAsymmetric(cipher_uri) || Path(encrypted, {"KeyInfo", "X509Data"}) != nullptr) {
    return Status::InvalidArgument(what + " is encrypted to a certificate (" + cipher_uri +
                                   "): not supported");
  }
  if (cipher_uri.empty()) return Status::InvalidArgument(what + ": EncryptionMethod is missing");
  std::optional<Cipher> cipher = CipherFor(cipher_uri);
  if (!cipher) return Status::InvalidArgument(what + ": unsupported cipher '" + cipher_uri + "'");
  if (!key_.has_value()) {
    return Status::InvalidArgument(what + " is encrypted but the file has no EncryptionKey");
  }
  OTPGATE_ASSIGN_OR_RETURN(
      std::vector<uint8_t> value,
      Base64(Text(Path(encrypted, {"CipherData", "CipherValue"})), what + " CipherValue"));
  const xmlNode* mac_node = Child(field, "ValueMAC");
  if (mac_key_.has_value()) {
    if (mac_node == nullptr) return Status::InvalidArgument(what + " has no ValueMAC");
    OTPGATE_ASSIGN_OR_RETURN(std::vector<uint8_t> mac, Base64(Text(mac_node), what + " ValueMAC"));
    // RFC 6030: the MAC is over IV || ciphertext. Drafts (and python-pskc
    // when reading) also allow it over the plaintext: checked after decryption.
    bool over_ciphertext = SameMac(Hmac(mac_md_, *mac_key_, value), mac);
    OTPGATE_ASSIGN_OR_RETURN(SecretBytes plain, Decrypt(*cipher, *key_, value));
    if (!over_ciphertext && !SameMac(Hmac(mac_md_, *mac_key_, plain.span()), mac)) {
      return Status::WrongKey(
          what + ": ValueMAC does not match: wrong key or password, or the file was altered");
    }
    return plain;
  }
  if (!cipher->key_wrap) {
    return Status::InvalidArgument(
        what + " is CBC-encrypted without a MACMethod: it cannot be authenticated");
  }
  return Decrypt(*cipher, *key_, value);
}

// One Data field (Secret, Counter, Time, TimeInterval, TimeDrift) as bytes:
// base64 for the secret's PlainValue, decimal text for the others' (returned
// as that text), the decrypted bytes for an EncryptedValue.
struct FieldValue {
  bool encrypted = false;
  std::string text;   // PlainValue
  SecretBytes bytes;  // EncryptedValue, decrypted
};

Result<std::optional<FieldValue>> ReadField(const ContainerKeys& keys, const xmlNode* data,
                                            std::string_view name) {
  const xmlNode* field = Child(data, name);
  if (field == nullptr) return std::optional<FieldValue>();
  std::string what(name);
  std::string unknown = UnknownChild(field, {"PlainValue", "EncryptedValue", "ValueMAC"});
  if (!unknown.empty())
    return Status::InvalidArgument(what + " has an unsupported element <" + unknown + ">");
  FieldValue value;
  if (const xmlNode* plain = Child(field, "PlainValue")) {
    if (keys.has_mac()) {
      return Status::InvalidArgument(
          what + " is a PlainValue in a file with a MACMethod: not authenticated");
    }
    value.text = Text(plain);
    return std::optional<FieldValue>(std::move(value));
  }
  if (Child(field, "EncryptedValue") == nullptr) {
    return Status::InvalidArgument(what + " has neither PlainValue nor EncryptedValue");
  }
  value.encrypted = true;
  OTPGATE_ASSIGN_OR_RETURN(value.bytes, keys.OpenValue(field, name));
  return std::optional<FieldValue>(std::move(value));
}

// An integer field within [min, max] (TimeDrift may be negative when plain).
Result<std::optional<int64_t>> ReadIntegerField(const ContainerKeys& keys, const xmlNode* data,
                                                std::string_view name, int64_t min, int64_t max) {
  OTPGATE_ASSIGN_OR_RETURN(std::optional<FieldValue> field, ReadField(keys, data, name));
  if (!field.has_value()) return std::optional<int64_t>();
  std::optional<int64_t> value;
  if (field->encrypted) {
    std::optional<uint64_t> decoded = DecodePskcInteger(field->bytes.span());
    if (decoded && *decoded <= static_cast<uint64_t>(INT64_MAX))
      value = static_cast<int64_t>(*decoded);
  } else {
    value = ParseInteger(field->text, INT64_MIN, INT64_MAX);
  }
  if (!value || *value < min || *value > max) {
    return Status::InvalidArgument(std::string(name) + " is not an integer in " +
                                   std::to_string(min) + ".." + std::to_string(max));
  }
  return value;
}

// Policy, DeviceInfo dates and usage: applied, or the key is rejected.
Status ReadPolicy(const xmlNode* package, const xmlNode* key, TokenSpec& spec) {
  const xmlNode* policy = Child(key, "Policy");
  std::string unknown = UnknownChild(policy, {"StartDate", "ExpiryDate", "KeyUsage", "PINPolicy"});
  if (!unknown.empty()) return Status::InvalidArgument("Policy/" + unknown + " cannot be enforced");
  bool any_usage = false, otp_usage = false;
  std::string usages;
  for (const xmlNode* c = policy != nullptr ? policy->children : nullptr; c != nullptr;
       c = c->next) {
    if (c->type != XML_ELEMENT_NODE || LocalName(c) != "KeyUsage") continue;
    any_usage = true;
    std::string usage = Text(c);
    otp_usage |= usage == "OTP";
    usages += (usages.empty() ? "" : ", ") + usage;
  }
  if (any_usage && !otp_usage)
    return Status::InvalidArgument("key usage is " + usages + ", not OTP");
  if (const xmlNode* pin = Child(policy, "PINPolicy")) {
    std::string mode = Attr(pin, "PINUsageMode");
    if (!mode.empty() && mode != "Local") {
      return Status::InvalidArgument("PIN usage mode " + mode +
                                     " (PIN in the OTP) is not supported");
    }
  }
  // The key is valid where both the key's Policy and the device allow it.
  const xmlNode* device = Child(package, "DeviceInfo");
  for (const xmlNode* holder : {policy, device}) {
    for (auto [name, field, later] : {std::tuple{"StartDate", &spec.valid_from, true},
                                      std::tuple{"ExpiryDate", &spec.valid_until, false}}) {
      const xmlNode* node = Child(holder, name);
      if (node == nullptr) continue;
      std::optional<int64_t> when = ParseXsDateTime(Text(node));
      if (!when)
        return Status::InvalidArgument(std::string(name) + " '" + Text(node) +
                                       "' is not an xs:dateTime");
      if (*field == 0 || (later ? *when > *field : *when < *field)) *field = *when;
    }
  }
  return Status::Ok();
}

Status ReadAlgorithm(const xmlNode* key, OtpParams& params) {
  std::string algorithm = Lower(Attr(key, "Algorithm"));
  if (algorithm == kHotpUri || algorithm == "urn:ietf:params:xml:ns:keyprov:pskc#hotp") {
    params.kind = OtpKind::kHotp;
  } else if (algorithm == kTotpUri || algorithm == "urn:ietf:params:xml:ns:keyprov:pskc#totp") {
    params.kind = OtpKind::kTotp;
  } else if (algorithm.empty()) {
    return Status::InvalidArgument("Key has no Algorithm attribute");
  } else {
    return Status::InvalidArgument("not an OTP key (algorithm '" + Attr(key, "Algorithm") + "')");
  }
  const xmlNode* parameters = Child(key, "AlgorithmParameters");
  std::string unknown = UnknownChild(parameters, {"Suite", "ResponseFormat"});
  if (!unknown.empty())
    return Status::InvalidArgument("AlgorithmParameters/" + unknown + " is not supported");
  if (const xmlNode* format = Child(parameters, "ResponseFormat")) {
    std::string encoding = Attr(format, "Encoding");
    if (!encoding.empty() && Lower(encoding) != "decimal") {
      return Status::InvalidArgument("response encoding " + encoding + " is not supported");
    }
    std::string check = Lower(Attr(format, "CheckDigits"));
    if (check == "true" || check == "1") {
      return Status::InvalidArgument("CheckDigits (a Luhn digit after the code) is not supported");
    }
    auto digits = ParseInteger(Attr(format, "Length"), 6, 8);
    if (!digits)
      return Status::InvalidArgument("response length '" + Attr(format, "Length") +
                                     "' is not 6, 7 or 8");
    params.digits = static_cast<int>(*digits);
  }
  std::string suite = Text(Child(parameters, "Suite"));
  if (!suite.empty()) {
    std::string name = Lower(suite);
    auto hash = ParseHashAlgorithm(name.starts_with("hmac-") ? name.substr(5) : name);
    if (!hash.ok()) return Status::InvalidArgument("suite " + suite + " is not supported");
    params.algorithm = *hash;
  }
  return Status::Ok();
}

Status ReadData(const ContainerKeys& keys, const xmlNode* data, TokenSpec& spec,
                SecretBytes& secret) {
  std::string unknown =
      UnknownChild(data, {"Secret", "Counter", "Time", "TimeInterval", "TimeDrift"});
  if (!unknown.empty()) return Status::InvalidArgument("Data/" + unknown + " is not supported");
  OTPGATE_ASSIGN_OR_RETURN(std::optional<FieldValue> field, ReadField(keys, data, "Secret"));
  if (!field.has_value()) return Status::InvalidArgument("no key material (no Data/Secret)");
  if (field->encrypted) {
    secret = std::move(field->bytes);
  } else {
    OTPGATE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, Base64(field->text, "Secret PlainValue"));
    secret = SecretBytes(bytes);
    OPENSSL_cleanse(bytes.data(), bytes.size());
  }
  const bool totp = spec.params.kind == OtpKind::kTotp;
  OTPGATE_ASSIGN_OR_RETURN(auto counter,
                           ReadIntegerField(keys, data, "Counter", 0, kMaxHotpCounter));
  OTPGATE_ASSIGN_OR_RETURN(auto time, ReadIntegerField(keys, data, "Time", 0, kMaxT0));
  OTPGATE_ASSIGN_OR_RETURN(auto interval, ReadIntegerField(keys, data, "TimeInterval", 1, 86400));
  OTPGATE_ASSIGN_OR_RETURN(auto drift,
                           ReadIntegerField(keys, data, "TimeDrift", -1'000'000, 1'000'000));
  if (counter && totp) return Status::InvalidArgument("a TOTP key with a Counter");
  if (!totp && (time || interval || drift)) {
    return Status::InvalidArgument("an HOTP key with Time, TimeInterval or TimeDrift");
  }
  if (counter) spec.initial_counter = static_cast<uint64_t>(*counter);
  if (time) spec.params.t0 = *time;
  if (interval) spec.params.period = *interval;
  if (drift) spec.drift = *drift;
  return Status::Ok();
}

// One KeyPackage. kInvalidArgument: this key is rejected (the message is the
// reason); any other error fails the whole file.
Result<std::pair<TokenSpec, SecretBytes>> ReadKeyPackage(const ContainerKeys& keys,
                                                         const xmlNode* package,
                                                         const PskcOptions& options) {
  std::string unknown = UnknownChild(package, {"DeviceInfo", "CryptoModuleInfo", "Key"});
  if (!unknown.empty())
    return Status::InvalidArgument("KeyPackage/" + unknown + " is not supported");
  const xmlNode* key = Child(package, "Key");
  if (key == nullptr) return Status::InvalidArgument("KeyPackage has no Key");
  unknown = UnknownChild(Child(package, "DeviceInfo"),
                         {"Manufacturer", "SerialNo", "Model", "IssueNo", "DeviceBinding",
                          "StartDate", "ExpiryDate", "UserId"});
  if (!unknown.empty())
    return Status::InvalidArgument("DeviceInfo/" + unknown + " is not supported");
  unknown = UnknownChild(key, {"Issuer", "AlgorithmParameters", "KeyProfileId", "KeyReference",
                               "FriendlyName", "Data", "UserId", "Policy"});
  if (!unknown.empty()) return Status::InvalidArgument("Key/" + unknown + " is not supported");

  std::string id =
      options.id_from_key_id ? Attr(key, "Id") : Text(Path(package, {"DeviceInfo", "SerialNo"}));
  if (id.empty()) {
    return Status::InvalidArgument(options.id_from_key_id
                                       ? "Key has no Id"
                                       : "DeviceInfo has no SerialNo (try --id-from key-id)");
  }
  TokenSpec spec;
  OTPGATE_ASSIGN_OR_RETURN(spec.credential_id, NormalizeCredentialId(id));
  spec.issuer = Text(Child(key, "Issuer"));
  if (spec.issuer.empty()) spec.issuer = Text(Path(package, {"DeviceInfo", "Manufacturer"}));
  OTPGATE_RETURN_IF_ERROR(ReadAlgorithm(key, spec.params));
  OTPGATE_RETURN_IF_ERROR(ReadPolicy(package, key, spec));
  const xmlNode* data = Child(key, "Data");
  if (data == nullptr) {
    return Status::InvalidArgument(Child(key, "KeyReference") != nullptr ||
                                           Child(key, "KeyProfileId") != nullptr
                                       ? "no key material (the key is referenced, held out of band)"
                                       : "no key material (no Data element)");
  }
  SecretBytes secret;
  OTPGATE_RETURN_IF_ERROR(ReadData(keys, data, spec, secret));
  if (secret.size() < 10 || secret.size() > 128) {
    return Status::InvalidArgument(
        "secret has " + std::to_string(secret.size()) +
        " bytes; at least 10 (RFC 4226 asks for 16) and at most 128 are accepted");
  }
  OTPGATE_RETURN_IF_ERROR(spec.params.Validate());
  return std::make_pair(std::move(spec), std::move(secret));
}

Status Stream(MeteredInput& input, const PskcOptions& options, const TokenVisitor& visit) {
  xmlTextReaderPtr reader = input.NewReader();
  std::unique_ptr<xmlTextReader, decltype(&xmlFreeTextReader)> guard(reader, &xmlFreeTextReader);
  if (reader == nullptr) return Status::Unavailable("cannot read the PSKC file");
  ContainerKeys keys;
  CredentialIdSet seen;
  size_t position = 0;
  bool root_seen = false;
  int rc = xmlTextReaderRead(reader);
  while (rc == 1) {
    int type = xmlTextReaderNodeType(reader);
    if (type == XML_READER_TYPE_DOCUMENT_TYPE || type == XML_READER_TYPE_ENTITY_REFERENCE ||
        type == XML_READER_TYPE_ENTITY) {
      return kDtdRefused;
    }
    int depth = xmlTextReaderDepth(reader);
    if (type != XML_READER_TYPE_ELEMENT || depth > 1) {
      rc = xmlTextReaderRead(reader);
      continue;
    }
    const char* ns = reinterpret_cast<const char*>(xmlTextReaderConstNamespaceUri(reader));
    std::string_view name = reinterpret_cast<const char*>(xmlTextReaderConstLocalName(reader));
    if (depth == 0) {
      if (name != "KeyContainer" || ns == nullptr || std::strcmp(ns, kPskcNs) != 0) {
        return Status::InvalidArgument("not an RFC 6030 PSKC file: the root is <" +
                                       std::string(name) + "> in '" + (ns != nullptr ? ns : "") +
                                       "', not KeyContainer in " + kPskcNs);
      }
      root_seen = true;
      rc = xmlTextReaderRead(reader);
      continue;
    }
    // A child of KeyContainer: expand just this subtree, use it, skip past
    // it (the reader frees it), so memory stays bounded by one package.
    input.Limit(kMaxElementBytes);
    const xmlNode* node = xmlTextReaderExpand(reader);
    input.Unlimit();
    if (node == nullptr) {
      if (input.read_failed()) return Status::Unavailable("read error in the PSKC file");
      if (input.over_limit()) {
        return Status::InvalidArgument(
            (name == "KeyPackage" ? "key " + std::to_string(position + 1) + ": " : "") +
            "KeyContainer/" + std::string(name) + " is larger than " +
            std::to_string(kMaxElementBytes >> 10) +
            " KiB (a real one is a few KiB): refused, nothing imported");
      }
      return Status::InvalidArgument("PSKC file is not well-formed XML");
    }
    if (name == "EncryptionKey") {
      OTPGATE_RETURN_IF_ERROR(keys.ReadEncryptionKey(node));
    } else if (name == "MACMethod") {
      OTPGATE_RETURN_IF_ERROR(keys.ReadMacMethod(node));
    } else if (name == "KeyPackage") {
      OTPGATE_RETURN_IF_ERROR(keys.Open(options));
      ++position;
      auto token = ReadKeyPackage(keys, node, options);
      if (!token.ok() && token.status().code() != StatusCode::kInvalidArgument) {
        return Status(token.status().code(),
                      "key " + std::to_string(position) + ": " + token.status().message());
      }
      if (token.ok() && !seen.Insert(token->first.credential_id)) {
        token = Status::InvalidArgument("credential ID " + token->first.credential_id +
                                        " appears more than once in the file");
      }
      visit(position, std::move(token));
      if (options.progress && position % 1000 == 0) options.progress(position);
    } else if (name == "Signature") {
      return Status::InvalidArgument(
          "the file is signed (ds:Signature) and otpgate cannot verify XML signatures");
    } else {
      return Status::InvalidArgument(
          "KeyContainer/" + std::string(name) +
          " is not part of RFC 6030 (a pre-RFC draft layout?): not supported");
    }
    rc = xmlTextReaderNext(reader);
  }
  if (input.read_failed()) return Status::Unavailable("read error in the PSKC file");
  if (rc < 0 || !root_seen) {
    return Status::InvalidArgument("PSKC file is not well-formed XML (truncated or malformed)");
  }
  if (options.progress) options.progress(position);
  if (position == 0) return Status::InvalidArgument("the PSKC file has no KeyPackage");
  return Status::Ok();
}

void SilentXmlErrors(void*, const char*, ...) {}

// A DOCTYPE can only stand in the prolog, before the root element: looking
// there is enough to refuse DTDs (and so entity tricks) with a clear message.
bool PrologHasDoctype(std::string_view head) {
  size_t root = 0;
  while ((root = head.find('<', root)) != std::string_view::npos) {
    std::string_view rest = head.substr(root);
    if (rest.starts_with("<!DOCTYPE")) return true;
    if (!rest.starts_with("<?") && !rest.starts_with("<!--")) return false;
    ++root;
  }
  return false;
}

}  // namespace

Status StreamPskcFile(const std::string& path, const PskcOptions& options,
                      const TokenVisitor& visit) {
  xmlSetGenericErrorFunc(nullptr, SilentXmlErrors);
  // One open file for the prolog's look and the parse, so both see the same
  // file.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::Unavailable("cannot read " + path + ": " + std::strerror(errno));
  std::string head(64 * 1024, '\0');
  ssize_t n = ReadFully(fd.get(), head.data(), head.size());
  if (n < 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0) {
    return Status::Unavailable("cannot read " + path + ": " + std::strerror(errno));
  }
  head.resize(static_cast<size_t>(n));
  if (PrologHasDoctype(head)) return kDtdRefused;
  MeteredInput input(
      [&fd](char* buffer, size_t size) { return ReadFully(fd.get(), buffer, size); });
  return Stream(input, options, visit);
}

Result<ParsedTokens> ParsePskcFile(const std::string& path, const PskcOptions& options) {
  ParsedTokens out;
  OTPGATE_RETURN_IF_ERROR(StreamPskcFile(path, options, CollectInto(out)));
  return out;
}

Result<ParsedTokens> ParsePskcText(std::string_view xml, const PskcOptions& options) {
  xmlSetGenericErrorFunc(nullptr, SilentXmlErrors);
  if (PrologHasDoctype(xml.substr(0, 64 * 1024))) return kDtdRefused;
  ParsedTokens out;
  MeteredInput input([&xml](char* buffer, size_t size) -> ssize_t {
    size_t n = std::min(size, xml.size());
    std::memcpy(buffer, xml.data(), n);
    xml.remove_prefix(n);
    return static_cast<ssize_t>(n);
  });
  OTPGATE_RETURN_IF_ERROR(Stream(input, options, CollectInto(out)));
  return out;
}

namespace {

Result<std::string> ReadPrivate(const std::string& path, std::string_view what) {
  OTPGATE_ASSIGN_OR_RETURN(UniqueFd fd, OpenPrivateFile(path, what));
  std::string text(1024, '\0');
  ssize_t n = ReadFully(fd.get(), text.data(), text.size());
  if (n < 0) return Status::Unavailable("cannot read " + path);
  if (static_cast<size_t>(n) == text.size()) return Status::InvalidArgument(path + " is too large");
  text.resize(static_cast<size_t>(n));
  return text;
}

}  // namespace

Result<SecretBytes> LoadTransportKey(const std::string& path) {
  OTPGATE_ASSIGN_OR_RETURN(std::string text, ReadPrivate(path, "key file"));
  SecretBytes key;
  std::string_view trimmed = Trim(std::string_view(text).substr(0, text.find('\n')));
  if (trimmed.size() == 32 || trimmed.size() == 48 || trimmed.size() == 64) {
    auto hex = HexDecode(trimmed);
    if (hex.ok()) key = std::move(hex).value();
  }
  if (key.empty() && (text.size() == 16 || text.size() == 24 || text.size() == 32)) {
    key = SecretBytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }
  WipeString(text);
  if (key.empty()) {
    return Status::InvalidArgument("key file " + path +
                                   " must hold 16, 24 or 32 bytes (raw or hex)");
  }
  return key;
}

Result<std::string> LoadPasswordFile(const std::string& path) {
  OTPGATE_ASSIGN_OR_RETURN(std::string text, ReadPrivate(path, "password file"));
  std::string password(Trim(std::string_view(text).substr(0, text.find('\n'))));
  WipeString(text);
  if (password.empty()) return Status::InvalidArgument("password file " + path + " is empty");
  return password;
}

namespace {

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

namespace {

// How an export is protected: nothing, or an AES-128 key (pre-shared or
// derived from a password with PBKDF2) and an HMAC-SHA1 key for every
// value; `header` is the container's EncryptionKey and MACMethod.
struct ExportProtection {
  bool encrypt = false;
  SecretBytes key, mac_key;
  std::string header;
};

Result<ExportProtection> PrepareExportProtection(const PskcOptions& options) {
  ExportProtection p;
  p.encrypt = options.preshared_key.has_value() || options.password.has_value();
  if (!p.encrypt) return p;
  if (options.password.has_value()) {
    OTPGATE_ASSIGN_OR_RETURN(SecretBytes salt, RandomBytes(16));
    const int iterations = 100000;
    p.key = SecretBytes(16);
    if (PKCS5_PBKDF2_HMAC(options.password->data(), static_cast<int>(options.password->size()),
                          salt.data(), static_cast<int>(salt.size()), iterations, EVP_sha1(), 16,
                          p.key.data()) != 1) {
      return Status::Internal("PBKDF2 failed");
    }
    p.header +=
        "  <EncryptionKey>\n    <xenc11:DerivedKey>\n      <xenc11:KeyDerivationMethod "
        "Algorithm=\"" +
        std::string(kPbkdf2Uri) +
        "\">\n        <pkcs5:PBKDF2-params>\n          <Salt><Specified>" +
        Base64Encode(salt.span()) + "</Specified></Salt>\n          <IterationCount>" +
        std::to_string(iterations) + "</IterationCount>\n          <KeyLength>16</KeyLength>\n" +
        "        </pkcs5:PBKDF2-params>\n      </xenc11:KeyDerivationMethod>\n    "
        "</xenc11:DerivedKey>\n  </EncryptionKey>\n";
  } else {
    if (options.preshared_key->size() != 16) {
      return Status::InvalidArgument("the export key must be 16 bytes (AES-128)");
    }
    p.key = options.preshared_key->Clone();
    p.header += "  <EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></EncryptionKey>\n";
  }
  OTPGATE_ASSIGN_OR_RETURN(p.mac_key, RandomBytes(20));
  OTPGATE_ASSIGN_OR_RETURN(std::vector<uint8_t> encrypted_mac_key,
                           EncryptCbc(p.key, p.mac_key.span()));
  p.header +=
      "  <MACMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#hmac-sha1\">\n    <MACKey>\n"
      "      <xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>\n"
      "      <xenc:CipherData><xenc:CipherValue>" +
      Base64Encode(encrypted_mac_key) +
      "</xenc:CipherValue></xenc:CipherData>\n    </MACKey>\n  </MACMethod>\n";
  return p;
}

// One <KeyPackage>. In an encrypted file every field is encrypted and MACed
// (integers as 8-byte big-endian): a reader must be able to trust each.
Status AppendKeyPackage(std::string& out, const PskcExport& k, const ExportProtection& p) {
  out += "  <KeyPackage>\n    <DeviceInfo><Manufacturer>" + XmlEscape(k.issuer) +
         "</Manufacturer><SerialNo>" + XmlEscape(k.credential_id) + "</SerialNo></DeviceInfo>\n";
  out += "    <Key Id=\"" + XmlEscape(k.credential_id) + "\" Algorithm=\"" +
         (k.params.kind == OtpKind::kTotp ? kTotpUri : kHotpUri) + "\">\n";
  out += "      <Issuer>" + XmlEscape(k.issuer) + "</Issuer>\n";
  out += "      <AlgorithmParameters><Suite>HMAC-" +
         std::string(HashAlgorithmName(k.params.algorithm)) + "</Suite><ResponseFormat Length=\"" +
         std::to_string(k.params.digits) +
         "\" Encoding=\"DECIMAL\"/></AlgorithmParameters>\n      <Data>\n";
  auto field = [&](const char* name, std::span<const uint8_t> value,
                   const std::string& plain) -> Status {
    out += "        <" + std::string(name) + ">";
    if (p.encrypt) {
      OTPGATE_ASSIGN_OR_RETURN(std::vector<uint8_t> encrypted, EncryptCbc(p.key, value));
      std::vector<uint8_t> mac = Hmac(EVP_sha1(), p.mac_key, encrypted);
      out +=
          "<EncryptedValue><xenc:EncryptionMethod "
          "Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>"
          "<xenc:CipherData><xenc:CipherValue>" +
          Base64Encode(encrypted) +
          "</xenc:CipherValue></xenc:CipherData></EncryptedValue><ValueMAC>" + Base64Encode(mac) +
          "</ValueMAC>";
    } else {
      out += "<PlainValue>" + plain + "</PlainValue>";
    }
    out += "</" + std::string(name) + ">\n";
    return Status::Ok();
  };
  auto integer = [&](const char* name, int64_t value) -> Status {
    std::array<uint8_t, 8> bytes{};
    auto bits = static_cast<uint64_t>(value);
    for (int i = 7; i >= 0; --i, bits >>= 8)
      bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(bits);
    return field(name, bytes, std::to_string(value));
  };
  std::string plain_secret = p.encrypt ? "" : Base64Encode(k.secret.span());
  Status written = field("Secret", k.secret.span(), plain_secret);
  WipeString(plain_secret);
  OTPGATE_RETURN_IF_ERROR(written);
  if (k.params.kind == OtpKind::kTotp) {
    OTPGATE_RETURN_IF_ERROR(integer("Time", k.params.t0));
    OTPGATE_RETURN_IF_ERROR(integer("TimeInterval", k.params.period));
  } else {
    OTPGATE_RETURN_IF_ERROR(integer("Counter", static_cast<int64_t>(k.counter)));
  }
  out += "      </Data>\n    </Key>\n  </KeyPackage>\n";
  return Status::Ok();
}

}  // namespace

Result<std::string> WritePskc(const std::vector<PskcExport>& keys, const PskcOptions& options) {
  OTPGATE_ASSIGN_OR_RETURN(ExportProtection protection, PrepareExportProtection(options));
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<KeyContainer Version=\"1.0\" xmlns=\"" +
      std::string(kPskcNs) +
      "\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" "
      "xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\""
      " xmlns:xenc11=\"http://www.w3.org/2009/xmlenc11#\""
      " xmlns:pkcs5=\"http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#\">\n" +
      protection.header;
  for (const PskcExport& k : keys) OTPGATE_RETURN_IF_ERROR(AppendKeyPackage(out, k, protection));
  out += "</KeyContainer>\n";
  return out;
}

}  // namespace otpgate
