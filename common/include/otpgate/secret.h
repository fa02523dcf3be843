// SecretBytes: a move-only byte buffer that wipes itself (OPENSSL_cleanse).
// Every secret (token seed, master key, unsealed data) lives in one.
#ifndef OTPGATE_SECRET_H_
#define OTPGATE_SECRET_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace otpgate {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size) : bytes_(size) {}
  explicit SecretBytes(std::span<const uint8_t> data) : bytes_(data.begin(), data.end()) {}
  ~SecretBytes() { Wipe(); }

  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {
    other.bytes_.clear();
  }
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  std::span<const uint8_t> span() const { return bytes_; }
  // Shrinks after wiping the tail; never reallocates.
  void Truncate(size_t size);
  // An explicit copy, so that copies of secrets are visible in the code.
  SecretBytes Clone() const { return SecretBytes(span()); }
  bool operator==(const SecretBytes& other) const;  // constant time for equal sizes

 private:
  void Wipe();
  std::vector<uint8_t> bytes_;
};

// Wipes a std::string that held a secret (a typed code, a URI with a secret).
void WipeString(std::string& s);

}  // namespace otpgate

#endif  // OTPGATE_SECRET_H_
