#include "libpq_loader.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace otpgate::libpq {
namespace {

// The soname of libpq since PostgreSQL 8.0; Debian's libpq5.
constexpr const char* kLibrary = "libpq.so.5";

Result<const Functions*> LoadOnce() {
  // Never closed: connections and their threads may outlive any one store.
  void* handle = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return Status::Unavailable(std::string("a PostgreSQL store needs ") + kLibrary +
                               " (Debian package libpq5): " + (why != nullptr ? why : "not found"));
  }
  static Functions functions;
#define OTPGATE_LIBPQ_RESOLVE(name)                                                 \
  functions.name = reinterpret_cast<decltype(&::name)>(::dlsym(handle, #name));     \
  if (functions.name == nullptr) {                                                  \
    return Status::Unavailable(std::string(kLibrary) +                              \
                               " has no " #name                                     \
                               " (otpgate needs libpq of PostgreSQL 14 or later)"); \
  }
  OTPGATE_LIBPQ_FUNCTIONS(OTPGATE_LIBPQ_RESOLVE)
#undef OTPGATE_LIBPQ_RESOLVE
  return &functions;
}

}  // namespace

Result<const Functions*> Load() {
  static std::once_flag once;
  static Result<const Functions*> loaded = Status::Internal("libpq not loaded");
  std::call_once(once, [] { loaded = LoadOnce(); });
  return loaded;
}

}  // namespace otpgate::libpq
