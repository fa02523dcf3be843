// The C ABI (otpgate.h): one place that converts C++ results and exceptions
// into codes. Nothing thrown below may escape: every entry point catches.
#include <cstring>
#include <initializer_list>
#include <exception>
#include <memory>
#include <new>

#include "otpgate/config.h"
#include "otpgate/operations.h"
#include "otpgate/otpgate.h"

struct otpgate_handle {
  otpgate::SystemClock clock;
  std::unique_ptr<otpgate::OtpService> service;
};

namespace {

void CopyString(char* out, size_t size, std::string_view text) {
  size_t n = std::min(size - 1, text.size());
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

void Clear(otpgate_result* result) {
  if (result != nullptr) {
    std::memset(result, 0, sizeof(*result));
  }
}

int Fail(otpgate_result* result, int status, std::string_view message) {
  if (result != nullptr) {
    result->status = status;
    result->decision = OTPGATE_REJECT;
    CopyString(result->message, sizeof(result->message), message);
  }
  return status;
}

int FromStatus(otpgate_result* result, const otpgate::Status& status) {
  return Fail(result, static_cast<int>(status.code()), status.message());
}

int FromVerdict(otpgate_result* result, const otpgate::Result<otpgate::Verdict>& verdict) {
  if (!verdict.ok()) {
    return FromStatus(result, verdict.status());
  }
  if (result != nullptr) {
    result->status = OTPGATE_OK;
    result->decision = static_cast<otpgate_decision>(static_cast<int>(verdict->decision));
    CopyString(result->credential_id, sizeof(result->credential_id), verdict->credential_id);
    result->lock_until = verdict->lock_until;
    CopyString(result->message, sizeof(result->message), otpgate::DecisionName(verdict->decision));
  }
  return OTPGATE_OK;
}

// Runs `fn`, turning any exception (allocation failure, ...) into an error.
template <typename Fn>
int Guarded(otpgate_result* result, Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Fail(result, OTPGATE_ERR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return Fail(result, OTPGATE_ERR_INTERNAL, e.what());
  } catch (...) {
    return Fail(result, OTPGATE_ERR_INTERNAL, "unexpected exception");
  }
}

// An open handle and every pointer argument present.
bool Usable(otpgate_handle* handle, std::initializer_list<const void*> arguments) {
  if (handle == nullptr || handle->service == nullptr) return false;
  for (const void* argument : arguments) {
    if (argument == nullptr) return false;
  }
  return true;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) otpgate_handle* otpgate_open(
    const char* config_path, const char* const* names, const char* const* values, size_t count,
    otpgate_result* error) {
  Clear(error);
  otpgate_handle* out = nullptr;
  Guarded(error, [&]() -> int {
    otpgate::Config config;
    bool default_path = config_path == nullptr || config_path[0] == '\0';
    otpgate::Status status = otpgate::LoadConfigFile(
        config, default_path ? otpgate::kDefaultConfigPath : config_path, default_path);
    for (size_t i = 0; status.ok() && i < count; ++i) {
      if (names[i] == nullptr || values[i] == nullptr) {
        status = otpgate::Status::InvalidArgument("option name or value is NULL");
      } else {
        status = otpgate::SetOption(config, names[i], values[i]);
      }
    }
    if (!status.ok()) {
      return FromStatus(error, status);
    }
    auto handle = std::make_unique<otpgate_handle>();
    auto service = otpgate::OtpService::Open(config, handle->clock);
    if (!service.ok()) {
      return FromStatus(error, service.status());
    }
    handle->service = std::move(service).value();
    handle->service->set_origin("radius", "");  // this ABI's one caller is the FreeRADIUS glue
    out = handle.release();
    return OTPGATE_OK;
  });
  return out;
}

__attribute__((visibility("default"))) void otpgate_close(otpgate_handle* handle) {
  delete handle;
}

__attribute__((visibility("default"))) int otpgate_verify(otpgate_handle* handle,
                                                          const char* user, const char* code,
                                                          otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {user, code})) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  return Guarded(result, [&] { return FromVerdict(result, handle->service->Verify(user, code)); });
}

__attribute__((visibility("default"))) int otpgate_register(otpgate_handle* handle,
                                                            const char* user,
                                                            const char* credential_id,
                                                            const char* code,
                                                            otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {user, credential_id, code})) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  return Guarded(result, [&] {
    return FromVerdict(result, handle->service->Register(user, credential_id, code));
  });
}

__attribute__((visibility("default"))) int otpgate_stop(otpgate_handle* handle, const char* user,
                                                        const char* code,
                                                        otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {user, code})) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  return Guarded(result, [&] { return FromVerdict(result, handle->service->Stop(user, code)); });
}

__attribute__((visibility("default"))) int otpgate_get_user_state(otpgate_handle* handle,
                                                                  const char* user,
                                                                  otpgate_user_state* state,
                                                                  otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {user, state})) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  std::memset(state, 0, sizeof(*state));
  return Guarded(result, [&] {
    auto got = handle->service->GetUserState(user);
    if (!got.ok()) return FromStatus(result, got.status());
    state->enrolled = got->enrolled() ? 1 : 0;
    state->locked = got->locked() ? 1 : 0;
    state->lock_until = got->lock_until;
    state->digits = got->digits.value_or(0);
    if (result != nullptr) result->status = OTPGATE_OK;
    return static_cast<int>(OTPGATE_OK);
  });
}

__attribute__((visibility("default"))) const char* otpgate_decision_name(
    otpgate_decision decision) {
  return otpgate::DecisionName(static_cast<otpgate::Decision>(decision)).data();
}

__attribute__((visibility("default"))) const char* otpgate_status_name(int status) {
  return otpgate::StatusCodeName(static_cast<otpgate::StatusCode>(status)).data();
}

}  // extern "C"
