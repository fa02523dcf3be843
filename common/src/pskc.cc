// PSKC (RFC 6030) reading and writing, with libxml2's streaming reader.
#include "otpgate/pskc.h"

#include <libxml/xmlreader.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <unordered_set>

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
constexpr const char* kTotpUriAlt = "urn:ietf:params:xml:ns:keyprov:pskc#totp";
constexpr const char* kPbkdf2Uri = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2";
constexpr int64_t kMaxIterations = 10'000'000;
constexpr size_t kMaxValueBytes = 4096;
const Status kDtdRefused = Status::InvalidArgument("PSKC file has a DTD or entities; refused");

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
  if (compact.empty() || compact.size() % 4 != 0 || compact.size() > kMaxValueBytes) {
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

// "2006-05-01T00:00:00Z" -> epoch seconds.
std::optional<int64_t> ParseUtc(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr || (*end != 'Z' && *end != '\0')) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

const EVP_CIPHER* CipherFor(std::string_view uri) {
  if (uri == "http://www.w3.org/2001/04/xmlenc#aes128-cbc") return EVP_aes_128_cbc();
  if (uri == "http://www.w3.org/2001/04/xmlenc#aes192-cbc") return EVP_aes_192_cbc();
  if (uri == "http://www.w3.org/2001/04/xmlenc#aes256-cbc") return EVP_aes_256_cbc();
  return nullptr;
}

const EVP_MD* MacDigestFor(std::string_view uri) {
  if (uri == "http://www.w3.org/2000/09/xmldsig#hmac-sha1") return EVP_sha1();
  if (uri == "http://www.w3.org/2001/04/xmldsig-more#hmac-sha224") return EVP_sha224();
  if (uri == "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256") return EVP_sha256();
  if (uri == "http://www.w3.org/2001/04/xmldsig-more#hmac-sha384") return EVP_sha384();
  if (uri == "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512") return EVP_sha512();
  return nullptr;
}

// XML Encryption CBC: the IV is prepended; padding per XML Encryption §5.2
// (last byte = pad length, other pad bytes arbitrary).
Result<SecretBytes> DecryptCbc(const EVP_CIPHER* cipher, const SecretBytes& key,
                               std::span<const uint8_t> iv_and_ciphertext) {
  const size_t block = 16;
  if (static_cast<size_t>(EVP_CIPHER_key_length(cipher)) != key.size()) {
    return Status::InvalidArgument("the key has " + std::to_string(key.size()) +
                                   " bytes; the file's cipher needs " +
                                   std::to_string(EVP_CIPHER_key_length(cipher)));
  }
  if (iv_and_ciphertext.size() < 2 * block || iv_and_ciphertext.size() % block != 0) {
    return Status::Corrupt("encrypted value has a bad length");
  }
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  // Room for the ciphertext (all after the IV) plus one block for Final.
  SecretBytes out(iv_and_ciphertext.size());
  int length = 0, final_length = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.data(), iv_and_ciphertext.data()) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &length, iv_and_ciphertext.data() + block,
                        static_cast<int>(iv_and_ciphertext.size() - block)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.data() + length, &final_length) != 1) {
    return Status::Internal("AES-CBC decryption failed");
  }
  size_t total = static_cast<size_t>(length + final_length);
  uint8_t pad = total > 0 ? out.data()[total - 1] : 0;
  if (pad == 0 || pad > block || pad > total) {
    return Status::WrongKey("decryption gave bad padding: wrong key or password");
  }
  out.Truncate(total - pad);
  return out;
}

Result<std::vector<uint8_t>> EncryptCbc(const SecretBytes& key, std::span<const uint8_t> plain) {
  const size_t block = 16;
  std::vector<uint8_t> out(block);
  if (RAND_bytes(out.data(), block) != 1) return Status::Internal("RNG failed");
  std::vector<uint8_t> padded(plain.begin(), plain.end());
  uint8_t pad = static_cast<uint8_t>(block - plain.size() % block);
  padded.insert(padded.end(), pad, pad);
  out.resize(block + padded.size());
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  int length = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, key.data(), out.data()) == 1 &&
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

// One key of the file, as read; secrets still encrypted where they were.
struct RawKey {
  size_t position = 0;
  std::string reject;  // non-empty: this key is rejected, with this reason
  TokenSpec spec;
  SecretBytes plain_secret;
  std::vector<uint8_t> encrypted_secret;  // IV || ciphertext
  std::string cipher_uri;
  std::vector<uint8_t> value_mac;
};

// The container-level parts: how the file is encrypted and MACed.
struct Container {
  bool have_encryption_key = false;
  bool pbkdf2 = false;
  std::vector<uint8_t> salt;
  int64_t iterations = 0;
  int64_t key_length = 0;
  const EVP_MD* prf = EVP_sha1();
  std::string mac_uri;
  std::vector<uint8_t> encrypted_mac_key;
  std::string mac_key_cipher_uri;
};

Status ReadEncryptionKey(const xmlNode* node, Container& c) {
  c.have_encryption_key = true;
  const xmlNode* derived = Child(node, "DerivedKey");
  if (derived == nullptr) return Status::Ok();  // ds:KeyName: a pre-shared key
  const xmlNode* method = Child(derived, "KeyDerivationMethod");
  if (Attr(method, "Algorithm") != kPbkdf2Uri) {
    return Status::InvalidArgument("unsupported key derivation '" + Attr(method, "Algorithm") +
                                   "' (PBKDF2 only)");
  }
  const xmlNode* params = Child(method, "PBKDF2-params");
  OTPGATE_ASSIGN_OR_RETURN(c.salt, Base64(Text(Path(params, {"Salt", "Specified"})), "PBKDF2 salt"));
  auto iterations = ParseInteger(Text(Child(params, "IterationCount")), 1, kMaxIterations);
  auto length = ParseInteger(Text(Child(params, "KeyLength")), 16, 32);
  if (!iterations || !length) return Status::InvalidArgument("bad PBKDF2 parameters");
  c.iterations = *iterations;
  c.key_length = *length;
  std::string prf = Attr(Child(params, "PRF"), "Algorithm");
  if (!prf.empty()) {
    if (prf.ends_with("hmac-sha256") || prf.ends_with("hmacWithSHA256")) c.prf = EVP_sha256();
    else if (prf.ends_with("hmac-sha512") || prf.ends_with("hmacWithSHA512")) c.prf = EVP_sha512();
    else if (!(prf.ends_with("hmac-sha1") || prf.ends_with("hmacWithSHA1"))) {
      return Status::InvalidArgument("unsupported PBKDF2 PRF '" + prf + "'");
    }
  }
  c.pbkdf2 = true;
  return Status::Ok();
}

Status ReadMacMethod(const xmlNode* node, Container& c) {
  c.mac_uri = Attr(node, "Algorithm");
  if (MacDigestFor(c.mac_uri) == nullptr) {
    return Status::InvalidArgument("unsupported MAC algorithm '" + c.mac_uri + "'");
  }
  const xmlNode* mac_key = Child(node, "MACKey");
  if (mac_key != nullptr) {
    c.mac_key_cipher_uri = Attr(Child(mac_key, "EncryptionMethod"), "Algorithm");
    OTPGATE_ASSIGN_OR_RETURN(c.encrypted_mac_key,
                             Base64(Text(Path(mac_key, {"CipherData", "CipherValue"})), "MACKey"));
  }
  return Status::Ok();
}

RawKey ReadKeyPackage(const xmlNode* package, size_t position, const PskcOptions& options) {
  RawKey raw;
  raw.position = position;
  const xmlNode* key = Child(package, "Key");
  if (key == nullptr) {
    raw.reject = "KeyPackage has no Key";
    return raw;
  }
  std::string serial = Text(Path(package, {"DeviceInfo", "SerialNo"}));
  std::string key_id = Attr(key, "Id");
  std::string id = options.id_from_key_id ? key_id : serial;
  auto fail = [&](std::string why) -> RawKey {
    raw.reject = std::move(why);
    return std::move(raw);
  };
  if (id.empty()) {
    return fail(options.id_from_key_id ? "Key has no Id" : "DeviceInfo has no SerialNo (try --id-from key-id)");
  }
  auto normalized = NormalizeCredentialId(id);
  if (!normalized.ok()) return fail(normalized.status().message());
  raw.spec.credential_id = *normalized;

  std::string algorithm = Attr(key, "Algorithm");
  if (algorithm == kHotpUri) {
    raw.spec.params.kind = OtpKind::kHotp;
  } else if (algorithm == kTotpUri || algorithm == kTotpUriAlt) {
    raw.spec.params.kind = OtpKind::kTotp;
  } else {
    return fail("not an OTP key (algorithm '" + algorithm + "')");
  }
  std::string usage = Text(Path(key, {"Policy", "KeyUsage"}));
  if (!usage.empty() && usage != "OTP") return fail("key usage is " + usage + ", not OTP");

  const xmlNode* format = Path(key, {"AlgorithmParameters", "ResponseFormat"});
  if (format != nullptr) {
    std::string encoding = Attr(format, "Encoding");
    if (!encoding.empty() && encoding != "DECIMAL") return fail("response encoding " + encoding + " is not supported");
    auto digits = ParseInteger(Attr(format, "Length"), 6, 8);
    if (!digits) return fail("response length " + Attr(format, "Length") + " is not 6, 7 or 8");
    raw.spec.params.digits = static_cast<int>(*digits);
  }
  std::string suite = Text(Path(key, {"AlgorithmParameters", "Suite"}));
  if (!suite.empty()) {
    auto hash = ParseHashAlgorithm(suite.starts_with("HMAC-") ? suite.substr(5) : suite);
    if (!hash.ok()) return fail("suite " + suite + " is not supported");
    raw.spec.params.algorithm = *hash;
  }
  raw.spec.issuer = Text(Child(key, "Issuer"));
  if (raw.spec.issuer.empty()) raw.spec.issuer = Text(Path(package, {"DeviceInfo", "Manufacturer"}));

  const xmlNode* data = Child(key, "Data");
  if (const xmlNode* counter = Path(data, {"Counter", "PlainValue"})) {
    auto value = ParseInteger(Text(counter), 0, kMaxHotpCounter);
    if (!value) return fail("bad Counter");
    raw.spec.initial_counter = static_cast<uint64_t>(*value);
  }
  if (const xmlNode* interval = Path(data, {"TimeInterval", "PlainValue"})) {
    auto value = ParseInteger(Text(interval), 1, 86400);
    if (!value) return fail("bad TimeInterval");
    raw.spec.params.period = *value;
  }
  if (const xmlNode* time = Path(data, {"Time", "PlainValue"})) {
    auto value = ParseInteger(Text(time), 0, kMaxT0);
    if (!value) return fail("bad Time");
    raw.spec.params.t0 = *value;
  }
  for (auto [name, field] : {std::pair{"StartDate", &raw.spec.valid_from},
                             std::pair{"ExpiryDate", &raw.spec.valid_until}}) {
    std::string text = Text(Path(key, {"Policy", name}));
    if (text.empty()) continue;
    auto when = ParseUtc(text);
    if (!when) return fail(std::string("bad ") + name);
    *field = *when;
  }

  const xmlNode* secret = Child(data, "Secret");
  if (secret == nullptr) return fail("no key material (the key is derived out of band)");
  if (const xmlNode* plain = Child(secret, "PlainValue")) {
    auto bytes = Base64(Text(plain), "Secret");
    if (!bytes.ok()) return fail(bytes.status().message());
    raw.plain_secret = SecretBytes(*bytes);
    OPENSSL_cleanse(bytes->data(), bytes->size());
  } else if (const xmlNode* encrypted = Child(secret, "EncryptedValue")) {
    raw.cipher_uri = Attr(Child(encrypted, "EncryptionMethod"), "Algorithm");
    auto bytes = Base64(Text(Path(encrypted, {"CipherData", "CipherValue"})), "EncryptedValue");
    if (!bytes.ok()) return fail(bytes.status().message());
    raw.encrypted_secret = std::move(bytes).value();
    if (const xmlNode* mac = Child(secret, "ValueMAC")) {
      auto mac_bytes = Base64(Text(mac), "ValueMAC");
      if (!mac_bytes.ok()) return fail(mac_bytes.status().message());
      raw.value_mac = std::move(mac_bytes).value();
    }
  } else {
    return fail("no key material");
  }
  return raw;
}

// Turns the container's key material into the secrets, or fails the file.
Status OpenSecrets(const Container& c, std::vector<RawKey>& keys, const PskcOptions& options) {
  bool any_encrypted = false;
  for (const RawKey& k : keys) any_encrypted |= k.reject.empty() && !k.encrypted_secret.empty();
  if (!any_encrypted) return Status::Ok();

  SecretBytes key;
  if (c.pbkdf2) {
    if (!options.password.has_value()) {
      return Status::InvalidArgument("the file is encrypted with a password: give --password-file");
    }
    key = SecretBytes(static_cast<size_t>(c.key_length));
    if (PKCS5_PBKDF2_HMAC(options.password->data(), static_cast<int>(options.password->size()),
                          c.salt.data(), static_cast<int>(c.salt.size()),
                          static_cast<int>(c.iterations), c.prf,
                          static_cast<int>(key.size()), key.data()) != 1) {
      return Status::Internal("PBKDF2 failed");
    }
  } else {
    if (!options.preshared_key.has_value()) {
      return Status::InvalidArgument("the file is encrypted with a pre-shared key: give --key-file");
    }
    key = options.preshared_key->Clone();
  }
  // RFC 6030 §6.1.1: the MAC key is encrypted like the secrets, and every
  // encrypted value carries a MAC over IV || ciphertext. The MACs are all
  // checked before any secret is decrypted or accepted.
  const EVP_MD* md = MacDigestFor(c.mac_uri);
  if (md == nullptr || c.encrypted_mac_key.empty()) {
    return Status::InvalidArgument("encrypted secrets without a MACMethod/MACKey are not accepted");
  }
  const EVP_CIPHER* mac_cipher = CipherFor(c.mac_key_cipher_uri);
  if (mac_cipher == nullptr) {
    return Status::InvalidArgument("unsupported encryption '" + c.mac_key_cipher_uri + "'");
  }
  auto mac_key = DecryptCbc(mac_cipher, key, c.encrypted_mac_key);
  if (!mac_key.ok()) {
    return mac_key.status().code() == StatusCode::kInvalidArgument
               ? mac_key.status()
               : Status::WrongKey("the MAC key does not decrypt: wrong key or password");
  }
  for (const RawKey& k : keys) {
    if (!k.reject.empty() || k.encrypted_secret.empty()) continue;
    if (CipherFor(k.cipher_uri) == nullptr) {
      return Status::InvalidArgument("key " + std::to_string(k.position) + ": unsupported encryption '" +
                                     k.cipher_uri + "'");
    }
    if (k.value_mac.empty()) {
      return Status::InvalidArgument("key " + std::to_string(k.position) + ": encrypted secret without ValueMAC");
    }
    std::vector<uint8_t> mac = Hmac(md, *mac_key, k.encrypted_secret);
    if (mac.size() != k.value_mac.size() ||
        CRYPTO_memcmp(mac.data(), k.value_mac.data(), mac.size()) != 0) {
      return Status::WrongKey("key " + std::to_string(k.position) +
                              ": ValueMAC does not match: wrong key or password, or the file was altered");
    }
  }
  for (RawKey& k : keys) {
    if (!k.reject.empty() || k.encrypted_secret.empty()) continue;
    auto secret = DecryptCbc(CipherFor(k.cipher_uri), key, k.encrypted_secret);
    if (!secret.ok()) return Status::WrongKey("key " + std::to_string(k.position) + ": " + secret.status().message());
    k.plain_secret = std::move(secret).value();
  }
  return Status::Ok();
}

Result<ParsedTokens> Parse(xmlTextReaderPtr reader, const PskcOptions& options) {
  std::unique_ptr<xmlTextReader, decltype(&xmlFreeTextReader)> guard(reader, &xmlFreeTextReader);
  if (reader == nullptr) return Status::Unavailable("cannot read the PSKC file");
  Container container;
  std::vector<RawKey> keys;
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
        return Status::InvalidArgument("not a PSKC file (no KeyContainer in " + std::string(kPskcNs) + ")");
      }
      root_seen = true;
      rc = xmlTextReaderRead(reader);
      continue;
    }
    // A child of KeyContainer: expand just this subtree, use it, skip past
    // it (the reader frees it), so memory stays bounded by one package.
    const xmlNode* node = xmlTextReaderExpand(reader);
    if (node == nullptr) return Status::InvalidArgument("PSKC file is not well-formed XML");
    if (name == "EncryptionKey") {
      OTPGATE_RETURN_IF_ERROR(ReadEncryptionKey(node, container));
    } else if (name == "MACMethod") {
      OTPGATE_RETURN_IF_ERROR(ReadMacMethod(node, container));
    } else if (name == "KeyPackage") {
      keys.push_back(ReadKeyPackage(node, keys.size() + 1, options));
      if (options.progress && keys.size() % 1000 == 0) options.progress(keys.size());
    }
    rc = xmlTextReaderNext(reader);
  }
  if (rc < 0 || !root_seen) {
    return Status::InvalidArgument("PSKC file is not well-formed XML (truncated or malformed)");
  }
  if (options.progress) options.progress(keys.size());
  OTPGATE_RETURN_IF_ERROR(OpenSecrets(container, keys, options));

  ParsedTokens out;
  std::unordered_set<std::string> seen;
  for (RawKey& k : keys) {
    if (k.reject.empty() && (k.plain_secret.size() < 10 || k.plain_secret.size() > 128)) {
      k.reject = "secret has " + std::to_string(k.plain_secret.size()) +
                 " bytes; at least 10 (RFC 4226 asks for 16) and at most 128 are accepted";
    }
    if (k.reject.empty() && !seen.insert(k.spec.credential_id).second) {
      k.reject = "credential ID " + k.spec.credential_id + " appears more than once in the file";
    }
    if (!k.reject.empty()) {
      out.rejected.push_back({k.position, k.reject});
      continue;
    }
    out.tokens.emplace_back(std::move(k.spec), std::move(k.plain_secret));
  }
  return out;
}

int ReaderOptions() {
  // No network, no DTD loading, no entity substitution (XXE and "billion
  // laughs" cannot expand); a DOCTYPE is refused outright in Parse.
  return XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_NOBLANKS;
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

Result<ParsedTokens> ParsePskcFile(const std::string& path, const PskcOptions& options) {
  xmlSetGenericErrorFunc(nullptr, SilentXmlErrors);
  std::string head(64 * 1024, '\0');
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    head.resize(std::fread(head.data(), 1, head.size(), f));
    std::fclose(f);
  } else {
    return Status::Unavailable("cannot read " + path);
  }
  if (PrologHasDoctype(head)) return kDtdRefused;
  return Parse(xmlReaderForFile(path.c_str(), nullptr, ReaderOptions()), options);
}

Result<ParsedTokens> ParsePskcText(std::string_view xml, const PskcOptions& options) {
  xmlSetGenericErrorFunc(nullptr, SilentXmlErrors);
  if (PrologHasDoctype(xml.substr(0, 64 * 1024))) return kDtdRefused;
  return Parse(xmlReaderForMemory(xml.data(), static_cast<int>(xml.size()), nullptr, nullptr,
                                  ReaderOptions()),
               options);
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
    return Status::InvalidArgument("key file " + path + " must hold 16, 24 or 32 bytes (raw or hex)");
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
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

Result<std::string> WritePskc(const std::vector<PskcExport>& keys, const PskcOptions& options) {
  bool encrypt = options.preshared_key.has_value() || options.password.has_value();
  SecretBytes key, mac_key;
  std::string header;
  if (encrypt) {
    if (options.password.has_value()) {
      OTPGATE_ASSIGN_OR_RETURN(SecretBytes salt, RandomBytes(16));
      const int iterations = 100000;
      key = SecretBytes(16);
      if (PKCS5_PBKDF2_HMAC(options.password->data(), static_cast<int>(options.password->size()),
                            salt.data(), static_cast<int>(salt.size()), iterations, EVP_sha1(), 16,
                            key.data()) != 1) {
        return Status::Internal("PBKDF2 failed");
      }
      header += "  <EncryptionKey>\n    <xenc11:DerivedKey>\n      <xenc11:KeyDerivationMethod Algorithm=\"" +
                std::string(kPbkdf2Uri) + "\">\n        <pkcs5:PBKDF2-params>\n          <Salt><Specified>" +
                Base64Encode(salt.span()) + "</Specified></Salt>\n          <IterationCount>" +
                std::to_string(iterations) + "</IterationCount>\n          <KeyLength>16</KeyLength>\n" +
                "        </pkcs5:PBKDF2-params>\n      </xenc11:KeyDerivationMethod>\n    </xenc11:DerivedKey>\n  </EncryptionKey>\n";
    } else {
      if (options.preshared_key->size() != 16) {
        return Status::InvalidArgument("the export key must be 16 bytes (AES-128)");
      }
      key = options.preshared_key->Clone();
      header += "  <EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></EncryptionKey>\n";
    }
    OTPGATE_ASSIGN_OR_RETURN(mac_key, RandomBytes(20));
    OTPGATE_ASSIGN_OR_RETURN(std::vector<uint8_t> encrypted_mac_key, EncryptCbc(key, mac_key.span()));
    header += "  <MACMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#hmac-sha1\">\n    <MACKey>\n"
              "      <xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>\n"
              "      <xenc:CipherData><xenc:CipherValue>" +
              Base64Encode(encrypted_mac_key) + "</xenc:CipherValue></xenc:CipherData>\n    </MACKey>\n  </MACMethod>\n";
  }
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<KeyContainer Version=\"1.0\" xmlns=\"" +
      std::string(kPskcNs) +
      "\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\""
      " xmlns:xenc11=\"http://www.w3.org/2009/xmlenc11#\""
      " xmlns:pkcs5=\"http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#\">\n" +
      header;
  for (const PskcExport& k : keys) {
    out += "  <KeyPackage>\n    <DeviceInfo><Manufacturer>" + XmlEscape(k.issuer) +
           "</Manufacturer><SerialNo>" + XmlEscape(k.credential_id) + "</SerialNo></DeviceInfo>\n";
    out += "    <Key Id=\"" + XmlEscape(k.credential_id) + "\" Algorithm=\"" +
           (k.params.kind == OtpKind::kTotp ? kTotpUri : kHotpUri) + "\">\n";
    out += "      <Issuer>" + XmlEscape(k.issuer) + "</Issuer>\n";
    out += "      <AlgorithmParameters><Suite>HMAC-" + std::string(HashAlgorithmName(k.params.algorithm)) +
           "</Suite><ResponseFormat Length=\"" + std::to_string(k.params.digits) +
           "\" Encoding=\"DECIMAL\"/></AlgorithmParameters>\n      <Data>\n        <Secret>";
    if (encrypt) {
      OTPGATE_ASSIGN_OR_RETURN(std::vector<uint8_t> encrypted, EncryptCbc(key, k.secret.span()));
      std::vector<uint8_t> mac = Hmac(EVP_sha1(), mac_key, encrypted);
      out += "<EncryptedValue><xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/>"
             "<xenc:CipherData><xenc:CipherValue>" +
             Base64Encode(encrypted) + "</xenc:CipherValue></xenc:CipherData></EncryptedValue><ValueMAC>" +
             Base64Encode(mac) + "</ValueMAC>";
    } else {
      out += "<PlainValue>" + Base64Encode(k.secret.span()) + "</PlainValue>";
    }
    out += "</Secret>\n";
    if (k.params.kind == OtpKind::kTotp) {
      out += "        <Time><PlainValue>" + std::to_string(k.params.t0) + "</PlainValue></Time>\n" +
             "        <TimeInterval><PlainValue>" + std::to_string(k.params.period) +
             "</PlainValue></TimeInterval>\n";
    } else {
      out += "        <Counter><PlainValue>" + std::to_string(k.counter) + "</PlainValue></Counter>\n";
    }
    out += "      </Data>\n    </Key>\n  </KeyPackage>\n";
  }
  out += "</KeyContainer>\n";
  return out;
}

}  // namespace otpgate
