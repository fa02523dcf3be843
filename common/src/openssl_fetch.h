// FetchOnce: an OpenSSL 3 algorithm fetched once per process, for the hot
// paths that would otherwise fetch it by name on every call. A failed fetch
// is not cached (the next call tries again), so a transient failure does not
// leave a long-lived process (radiusd) refusing until it is restarted.
// Thread-safe; the fetched algorithm is never freed.
#ifndef OTPGATE_SRC_OPENSSL_FETCH_H_
#define OTPGATE_SRC_OPENSSL_FETCH_H_

#include <openssl/types.h>

#include <atomic>

namespace otpgate {

// `cached` must be a static of the caller's, one per algorithm.
template <typename Algorithm>
Algorithm* FetchOnce(std::atomic<Algorithm*>& cached,
                     Algorithm* (*fetch)(OSSL_LIB_CTX*, const char*, const char*),
                     void (*release)(Algorithm*), const char* name) {
  Algorithm* algorithm = cached.load(std::memory_order_acquire);
  if (algorithm != nullptr) return algorithm;
  algorithm = fetch(nullptr, name, nullptr);
  Algorithm* expected = nullptr;
  if (algorithm != nullptr && !cached.compare_exchange_strong(expected, algorithm)) {
    release(algorithm);  // another thread cached one first
    return expected;
  }
  return algorithm;
}

}  // namespace otpgate

#endif  // OTPGATE_SRC_OPENSSL_FETCH_H_
