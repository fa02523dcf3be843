// Helpers shared by the unit tests: a temporary deployment (key + store) in
// a private directory, removed afterwards.
#ifndef OTPGATE_TESTS_TEST_UTIL_H_
#define OTPGATE_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "otpgate/config.h"
#include "otpgate/operations.h"
#include "otpgate/secret.h"

namespace otpgate::testing {

// tmpfs, where a commit's fsync costs nothing: for tests that make tens of
// thousands of commits to race them (the store itself always syncs).
inline constexpr const char* kMemoryFileSystem = "/dev/shm";

class TempDir {
 public:
  TempDir() : TempDir(std::filesystem::temp_directory_path().string()) {}
  explicit TempDir(const std::string& parent) {
    std::string pattern = (std::filesystem::path(parent) / "otpgate-test-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) std::abort();
    path_ = made;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline SecretBytes Bytes(std::string_view text) {
  return SecretBytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

// A Config pointing at a fresh key and store under `dir`.
inline Config TestConfig(const TempDir& dir) {
  Config config;
  config.store = dir.File("store");
  config.master_key = dir.File("master.key");
  return config;
}

}  // namespace otpgate::testing

#endif  // OTPGATE_TESTS_TEST_UTIL_H_
