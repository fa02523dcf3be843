// The C ABI (otpgate.h): one place that converts C++ results and exceptions
// into codes. Nothing thrown below may escape: every entry point catches.
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>

#include "challenge.h"
#include "otpgate/audit.h"
#include "otpgate/config.h"
#include "otpgate/login_flow.h"
#include "otpgate/operations.h"
#include "otpgate/otpgate.h"

// The C enums mirror the C++ ones value for value.
#define OTPGATE_MIRRORS(c_value, cxx_value) \
  static_assert(static_cast<int>(c_value) == static_cast<int>(cxx_value), #c_value)
OTPGATE_MIRRORS(OTPGATE_ACCEPT, otpgate::Decision::kAccept);
OTPGATE_MIRRORS(OTPGATE_REJECT, otpgate::Decision::kReject);
OTPGATE_MIRRORS(OTPGATE_REPLAY, otpgate::Decision::kReplay);
OTPGATE_MIRRORS(OTPGATE_LOCKED, otpgate::Decision::kLocked);
OTPGATE_MIRRORS(OTPGATE_NO_TOKEN, otpgate::Decision::kNoToken);
OTPGATE_MIRRORS(OTPGATE_OK, otpgate::StatusCode::kOk);
OTPGATE_MIRRORS(OTPGATE_ERR_INVALID_ARGUMENT, otpgate::StatusCode::kInvalidArgument);
OTPGATE_MIRRORS(OTPGATE_ERR_NOT_FOUND, otpgate::StatusCode::kNotFound);
OTPGATE_MIRRORS(OTPGATE_ERR_ALREADY_EXISTS, otpgate::StatusCode::kAlreadyExists);
OTPGATE_MIRRORS(OTPGATE_ERR_ALREADY_BOUND, otpgate::StatusCode::kAlreadyBound);
OTPGATE_MIRRORS(OTPGATE_ERR_NOT_BOUND, otpgate::StatusCode::kNotBound);
OTPGATE_MIRRORS(OTPGATE_ERR_PERMISSION_DENIED, otpgate::StatusCode::kPermissionDenied);
OTPGATE_MIRRORS(OTPGATE_ERR_UNAVAILABLE, otpgate::StatusCode::kUnavailable);
OTPGATE_MIRRORS(OTPGATE_ERR_CORRUPT, otpgate::StatusCode::kCorrupt);
OTPGATE_MIRRORS(OTPGATE_ERR_WRONG_KEY, otpgate::StatusCode::kWrongKey);
OTPGATE_MIRRORS(OTPGATE_ERR_STORE_FULL, otpgate::StatusCode::kStoreFull);
OTPGATE_MIRRORS(OTPGATE_ERR_INTERNAL, otpgate::StatusCode::kInternal);
OTPGATE_MIRRORS(OTPGATE_ERR_FAILED_PRECONDITION, otpgate::StatusCode::kFailedPrecondition);
OTPGATE_MIRRORS(OTPGATE_ACTION_LOGIN, otpgate::Action::kLogin);
OTPGATE_MIRRORS(OTPGATE_ACTION_REGISTER, otpgate::Action::kRegister);
OTPGATE_MIRRORS(OTPGATE_ACTION_STOP, otpgate::Action::kStop);
OTPGATE_MIRRORS(OTPGATE_ANSWER_PASS, otpgate::Answer::kPass);
OTPGATE_MIRRORS(OTPGATE_ANSWER_ACCEPT, otpgate::Answer::kAccept);
OTPGATE_MIRRORS(OTPGATE_ANSWER_REJECT, otpgate::Answer::kReject);
OTPGATE_MIRRORS(OTPGATE_ANSWER_LOCKED, otpgate::Answer::kLocked);
OTPGATE_MIRRORS(OTPGATE_ANSWER_FAIL, otpgate::Answer::kFail);
OTPGATE_MIRRORS(OTPGATE_ANSWER_ASK_CODE, otpgate::Answer::kAskCode);
OTPGATE_MIRRORS(OTPGATE_ANSWER_ASK_TOKEN_AND_CODE, otpgate::Answer::kAskTokenAndCode);
OTPGATE_MIRRORS(OTPGATE_LOG_DEBUG, otpgate::AuditSeverity::kDebug);
OTPGATE_MIRRORS(OTPGATE_LOG_INFO, otpgate::AuditSeverity::kInfo);
OTPGATE_MIRRORS(OTPGATE_LOG_NOTICE, otpgate::AuditSeverity::kNotice);
OTPGATE_MIRRORS(OTPGATE_LOG_CRIT, otpgate::AuditSeverity::kCritical);
OTPGATE_MIRRORS(OTPGATE_CHALLENGE_STATE_SIZE, otpgate::kChallengeBytes);
#undef OTPGATE_MIRRORS

namespace otpgate {
namespace {

// The front end's log callback as the service's (fixed) audit sink.
class CallbackSink final : public AuditSink {
 public:
  CallbackSink(otpgate_log_fn fn, void* context) : fn_(fn), context_(context) {}
  void Record(const AuditEvent& event) override {
    if (fn_ != nullptr) {
      fn_(context_, static_cast<int>(SeverityOf(event)), FormatAuditLine(event).c_str());
    }
  }
  void Debug(std::string_view line) override {
    if (fn_ != nullptr) fn_(context_, OTPGATE_LOG_DEBUG, std::string(line).c_str());
  }

 private:
  otpgate_log_fn fn_;
  void* context_;
};

// One open service per configuration and callback in a process, shared by
// the handles that ask for it (PAM opens a handle per request). After
// fork() the child drops the parent's services: it opens its own.
class ServiceRegistry {
 public:
  Result<std::shared_ptr<OtpService>> Get(const Config& config, otpgate_log_fn fn, void* context) {
    std::string key;
    for (const OptionSpec& spec : OptionTable()) {
      key += OptionValue(config, spec.name);
      key += '\n';
    }
    key += std::to_string(reinterpret_cast<uintptr_t>(fn)) + "/" +
           std::to_string(reinterpret_cast<uintptr_t>(context));
    std::lock_guard lock(mutex_);
    if (owner_ != ::getpid()) {
      entries_.clear();
      owner_ = ::getpid();
    }
    auto it = entries_.find(key);
    if (it != entries_.end()) return it->second.service;
    auto sink = std::make_unique<CallbackSink>(fn, context);
    OTPGATE_ASSIGN_OR_RETURN(std::unique_ptr<OtpService> service,
                             OtpService::Open(config, clock_, false, sink.get()));
    Entry& entry = entries_[key];
    entry.sink = std::move(sink);
    entry.service = std::move(service);
    return entry.service;
  }

 private:
  struct Entry {
    std::unique_ptr<CallbackSink> sink;  // declared first: outlives the service
    std::shared_ptr<OtpService> service;
  };
  std::mutex mutex_;
  pid_t owner_ = 0;
  SystemClock clock_;
  std::map<std::string, Entry> entries_;
};

ServiceRegistry& Registry() {
  static auto* registry = new ServiceRegistry();  // never destroyed: used until exit
  return *registry;
}

}  // namespace
}  // namespace otpgate

// A validated configuration and, once the store could be opened, its
// service: a store missing at start-up (not yet mounted or initialised)
// does not stop the host; calls fail closed until it opens.
struct otpgate_handle {
  otpgate_front_end front_end;
  otpgate::Config config;
  otpgate_log_fn log;
  void* log_context;
  otpgate_options options;  // points into `config`
  std::mutex open_mutex;
  std::shared_ptr<otpgate::OtpService> service;  // set once, under open_mutex
  std::atomic<otpgate::OtpService*> ready{nullptr};
};

namespace {

using otpgate::Status;

void CopyString(char* out, size_t size, std::string_view text) {
  size_t n = std::min(size - 1, text.size());
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

void Clear(otpgate_result* result) {
  if (result != nullptr) {
    std::memset(result, 0, sizeof(*result));
    result->decision = OTPGATE_REJECT;
    result->answer = OTPGATE_ANSWER_FAIL;
  }
}

int Fail(otpgate_result* result, int status, std::string_view message) {
  if (result != nullptr) {
    result->status = status;
    result->answer = OTPGATE_ANSWER_FAIL;
    CopyString(result->message, sizeof(result->message), message);
  }
  return status;
}

int FromStatus(otpgate_result* result, const Status& status) {
  return Fail(result, static_cast<int>(status.code()), status.message());
}

int FromStep(otpgate_result* result, const otpgate::Step& step) {
  if (result != nullptr) {
    result->status = static_cast<int>(
        step.answer == otpgate::Answer::kFail ? step.status.code() : otpgate::StatusCode::kOk);
    result->answer = static_cast<otpgate_answer>(step.answer);
    result->action = static_cast<otpgate_action>(step.action);
    result->decision = static_cast<otpgate_decision>(step.verdict.decision);
    CopyString(result->credential_id, sizeof(result->credential_id), step.verdict.credential_id);
    result->lock_until = step.verdict.lock_until;
    CopyString(result->message, sizeof(result->message),
               step.status.ok() ? otpgate::AnswerName(step.answer) : step.status.message());
    CopyString(result->user_message, sizeof(result->user_message), step.user_message);
    result->user_message_is_error = step.user_message_is_error ? 1 : 0;
  }
  return result != nullptr ? result->status : OTPGATE_OK;
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
bool Usable(const otpgate_handle* handle, std::initializer_list<const void*> arguments) {
  if (handle == nullptr) return false;
  for (const void* argument : arguments) {
    if (argument == nullptr) return false;
  }
  return true;
}

// A request with a user and a known action.
// A C caller may store any integer in the enum field: read it as its
// underlying type (loading an out-of-range enum value is undefined in C++).
bool Valid(const otpgate_request* r) {
  if (r == nullptr || r->user == nullptr) return false;
  std::underlying_type_t<otpgate_action> action;
  std::memcpy(&action, &r->action, sizeof(action));
  return action >= OTPGATE_ACTION_CONFIGURED && action <= OTPGATE_ACTION_STOP;
}

otpgate::FlowRequest RequestOf(const otpgate_request& r, otpgate_front_end front_end) {
  otpgate::FlowRequest out;
  out.user = r.user;
  if (r.action != OTPGATE_ACTION_CONFIGURED) out.action = static_cast<otpgate::Action>(r.action);
  out.origin.front_end = front_end == OTPGATE_FRONT_END_RADIUS ? "radius" : "pam";
  out.origin.service = r.service != nullptr ? r.service : "";
  out.origin.client = r.client != nullptr ? r.client : "";
  return out;
}

// The configuration a handle asks for: the file, then the overrides, which
// must be options meant for this front end.
Status LoadConfig(const otpgate_open_args& args, otpgate::Config& config) {
  const char* path = args.config_path;
  for (size_t i = 0; args.names != nullptr && args.values != nullptr && i < args.count; ++i) {
    if (args.names[i] != nullptr && std::strcmp(args.names[i], "config") == 0) {
      path = args.values[i];  // "config" among the options names the file
    }
  }
  bool default_path = path == nullptr || path[0] == '\0';
  Status status = otpgate::LoadConfigFile(config, default_path ? otpgate::kDefaultConfigPath : path,
                                          default_path);
  Status overrides = Status::Ok();
  for (size_t i = 0; overrides.ok() && i < args.count; ++i) {
    const char* name = args.names != nullptr ? args.names[i] : nullptr;
    if (name == nullptr) {
      overrides = Status::InvalidArgument("option name is NULL");
      break;
    }
    if (std::strcmp(name, "config") == 0) continue;
    for (const otpgate::OptionSpec& spec : otpgate::OptionTable()) {
      if (spec.name == name && spec.scope == otpgate::OptionScope::kPam &&
          args.front_end == OTPGATE_FRONT_END_RADIUS) {
        overrides = Status::InvalidArgument("option " + std::string(spec.name) +
                                            " is for the PAM module only");
      }
    }
    const char* value = args.values != nullptr ? args.values[i] : nullptr;
    if (overrides.ok()) {
      overrides = value == nullptr ? otpgate::ApplyArgument(config, name)
                                   : otpgate::SetOption(config, name, value);
    }
  }
  if (!status.ok()) return status;
  if (!overrides.ok()) return overrides;
  if (args.front_end == OTPGATE_FRONT_END_RADIUS &&
      config.unenrolled == otpgate::UnenrolledPolicy::kRegister) {
    return Status::InvalidArgument(
        "unenrolled = register is for PAM; RADIUS gateways send Otpgate-Action = Register "
        "(set unenrolled = allow or deny in the otpgate module section)");
  }
  return Status::Ok();
}

// nonroot = ignore in the configuration or, when the file itself could not
// be read, in the overrides alone.
bool NonRootIgnored(const otpgate_open_args& args, const otpgate::Config& loaded) {
  otpgate::Config overrides_only;
  for (size_t i = 0; args.names != nullptr && args.values != nullptr && i < args.count; ++i) {
    if (args.names[i] != nullptr && std::strcmp(args.names[i], "nonroot") == 0 &&
        args.values[i] != nullptr) {
      (void)otpgate::SetOption(overrides_only, "nonroot", args.values[i]);
    }
  }
  return loaded.nonroot == otpgate::NonRootPolicy::kIgnore ||
         overrides_only.nonroot == otpgate::NonRootPolicy::kIgnore;
}

// The store or the config file cannot be read: the request fails closed
// (one audit line), or, for a caller that is not root with
// nonroot = ignore, is not otpgate's business (a notice).
int Unavailable(otpgate_log_fn log, void* context, otpgate_front_end front_end,
                otpgate::Action configured, bool nonroot_ignored, const otpgate_request* request,
                const Status& status, otpgate_result* result) {
  int rc = FromStatus(result, status);
  auto emit = [&](int level, const std::string& line) {
    if (log != nullptr) log(context, level, line.c_str());
  };
  // PAM only: RADIUS never lets a request through because the store is away.
  if (front_end == OTPGATE_FRONT_END_PAM && ::geteuid() != 0 && nonroot_ignored) {
    if (result != nullptr) result->answer = OTPGATE_ANSWER_PASS;
    emit(OTPGATE_LOG_NOTICE, "caller uid " + std::to_string(::geteuid()) +
                                 " is not root and cannot open the store (" + status.message() +
                                 "); nonroot=ignore: otpgate ignores this request");
    return rc;
  }
  if (result != nullptr) {
    CopyString(result->user_message, sizeof(result->user_message),
               "The one-time password service is unavailable.");
    result->user_message_is_error = 1;
  }
  if (Valid(request)) {
    otpgate::FlowRequest flow_request = RequestOf(*request, front_end);
    otpgate::AuditEvent event{otpgate::ActionName(flow_request.action.value_or(configured)),
                              flow_request.user,
                              "",
                              otpgate::StatusCodeName(status.code()),
                              status.message(),
                              "",
                              flow_request.origin};
    emit(static_cast<int>(otpgate::SeverityOf(event)), otpgate::FormatAuditLine(event));
  }
  return rc;
}

// The handle's service, opening the store if it is not open yet.
otpgate::Result<otpgate::OtpService*> ServiceOf(otpgate_handle& handle) {
  if (otpgate::OtpService* ready = handle.ready.load(std::memory_order_acquire)) return ready;
  std::lock_guard lock(handle.open_mutex);
  if (handle.service == nullptr) {
    auto service = otpgate::Registry().Get(handle.config, handle.log, handle.log_context);
    if (!service.ok()) return service.status();
    handle.service = std::move(service).value();
    handle.ready.store(handle.service.get(), std::memory_order_release);
  }
  return handle.service.get();
}

// Runs `fn` with the handle's flow, or answers for a store that cannot open.
template <typename Fn>
int WithFlow(otpgate_handle& handle, const otpgate_request* request, otpgate_result* result,
             Fn&& fn) {
  return Guarded(result, [&]() -> int {
    auto service = ServiceOf(handle);
    if (!service.ok()) {
      return Unavailable(handle.log, handle.log_context, handle.front_end, handle.config.action,
                         handle.config.nonroot == otpgate::NonRootPolicy::kIgnore, request,
                         service.status(), result);
    }
    return fn(otpgate::LoginFlow(**service));
  });
}

// The shape of an entry point on a request: clears `result`, checks the
// handle, the request and the pointers the call requires (`required`), and
// runs `fn` with the handle's flow.
template <typename Fn>
int OnRequest(otpgate_handle* handle, const otpgate_request* request,
              std::initializer_list<const void*> required, otpgate_result* result, Fn&& fn) {
  Clear(result);
  if (!Usable(handle, required) || !Valid(request)) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  return WithFlow(*handle, request, result, std::forward<Fn>(fn));
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int otpgate_abi_version(void) { return OTPGATE_ABI_VERSION; }

__attribute__((visibility("default"))) const char* otpgate_version(void) {
  return OTPGATE_VERSION_STRING;
}

__attribute__((visibility("default"))) otpgate_handle* otpgate_open(const otpgate_open_args* args,
                                                                    otpgate_result* error) {
  Clear(error);
  if (args == nullptr) {
    Fail(error, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
    return nullptr;
  }
  otpgate_handle* out = nullptr;
  Guarded(error, [&]() -> int {
    auto handle = std::make_unique<otpgate_handle>();
    otpgate::Config& c = handle->config;
    Status status = LoadConfig(*args, c);
    if (status.code() == otpgate::StatusCode::kInvalidArgument) return FromStatus(error, status);
    if (!status.ok()) {
      return Unavailable(args->log, args->log_context, args->front_end, c.action,
                         NonRootIgnored(*args, c), args->request, status, error);
    }
    handle->front_end = args->front_end;
    handle->log = args->log;
    handle->log_context = args->log_context;
    handle->options = {static_cast<otpgate_action>(c.action),
                       c.prompt.c_str(),
                       c.token_prompt.c_str(),
                       c.split,
                       c.use_first_pass,
                       c.try_first_pass,
                       c.fail_delay_ms};
    auto service = ServiceOf(*handle);  // now if it can; calls retry until it does
    out = handle.release();
    if (!service.ok()) return FromStatus(error, service.status());
    if (error != nullptr) error->answer = OTPGATE_ANSWER_ASK_CODE;
    return OTPGATE_OK;
  });
  return out;
}

__attribute__((visibility("default"))) void otpgate_close(otpgate_handle* handle) { delete handle; }

__attribute__((visibility("default"))) const otpgate_options* otpgate_options_of(
    const otpgate_handle* handle) {
  return handle != nullptr ? &handle->options : nullptr;
}

__attribute__((visibility("default"))) int otpgate_begin(otpgate_handle* handle,
                                                         const otpgate_request* request,
                                                         otpgate_result* result) {
  return OnRequest(handle, request, {}, result, [&](const otpgate::LoginFlow& flow) {
    return FromStep(result, flow.Begin(RequestOf(*request, handle->front_end)));
  });
}

__attribute__((visibility("default"))) int otpgate_begin_with_code(otpgate_handle* handle,
                                                                   const otpgate_request* request,
                                                                   const char* code,
                                                                   otpgate_result* result) {
  return OnRequest(handle, request, {code}, result, [&](const otpgate::LoginFlow& flow) {
    return FromStep(result, flow.BeginWithCode(RequestOf(*request, handle->front_end), code));
  });
}

__attribute__((visibility("default"))) int otpgate_finish(otpgate_handle* handle,
                                                          const otpgate_request* request,
                                                          const char* credential_id,
                                                          const char* code,
                                                          otpgate_result* result) {
  return OnRequest(handle, request, {}, result, [&](const otpgate::LoginFlow& flow) {
    std::optional<std::string_view> id, answer;
    if (credential_id != nullptr) id = credential_id;
    if (code != nullptr) answer = code;
    return FromStep(result, flow.Finish(RequestOf(*request, handle->front_end), id, answer));
  });
}

__attribute__((visibility("default"))) int otpgate_challenge(otpgate_handle* handle,
                                                             const otpgate_request* request,
                                                             uint8_t* state, size_t size,
                                                             size_t* length,
                                                             otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {state, length}) || !Valid(request)) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  *length = 0;
  if (size < OTPGATE_CHALLENGE_STATE_SIZE) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "State buffer too small");
  }
  return WithFlow(*handle, request, result, [&](const otpgate::LoginFlow& flow) {
    otpgate::Step step = flow.Challenge(RequestOf(*request, handle->front_end));
    if (step.answer == otpgate::Answer::kAskCode) {
      std::memcpy(state, step.challenge_state.data(), step.challenge_state.size());
      *length = step.challenge_state.size();
    }
    return FromStep(result, step);
  });
}

__attribute__((visibility("default"))) int otpgate_finish_challenge(
    otpgate_handle* handle, const otpgate_request* request, const uint8_t* state,
    size_t state_length, const char* code, otpgate_result* result) {
  return OnRequest(handle, request, {state}, result, [&](const otpgate::LoginFlow& flow) {
    std::optional<std::string_view> answer;
    if (code != nullptr) answer = code;
    otpgate::FlowRequest flow_request = RequestOf(*request, handle->front_end);
    flow_request.action = otpgate::Action::kLogin;
    return FromStep(result, flow.FinishChallenge(flow_request, {state, state_length}, answer));
  });
}

__attribute__((visibility("default"))) int otpgate_account(otpgate_handle* handle,
                                                           const otpgate_request* request,
                                                           otpgate_result* result) {
  return OnRequest(handle, request, {}, result, [&](const otpgate::LoginFlow& flow) {
    return FromStep(result, flow.Account(RequestOf(*request, handle->front_end)));
  });
}

__attribute__((visibility("default"))) int otpgate_refuse(otpgate_handle* handle,
                                                          const otpgate_request* request,
                                                          const char* reason,
                                                          otpgate_result* result) {
  return OnRequest(handle, request, {reason}, result, [&](const otpgate::LoginFlow& flow) {
    return FromStep(result, flow.Refuse(RequestOf(*request, handle->front_end), reason));
  });
}

__attribute__((visibility("default"))) int otpgate_split_point(otpgate_handle* handle,
                                                               const char* user, const char* field,
                                                               size_t length, size_t* code_offset,
                                                               otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {user, field, code_offset})) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  *code_offset = length;
  otpgate_request request{user, OTPGATE_ACTION_LOGIN, nullptr, nullptr};
  return WithFlow(*handle, &request, result, [&](const otpgate::LoginFlow& flow) {
    auto point = flow.SplitPoint(user, std::string_view(field, length));
    if (!point.ok()) return FromStatus(result, point.status());
    if (point->has_value()) *code_offset = **point;
    if (result != nullptr) result->answer = OTPGATE_ANSWER_ASK_CODE;
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

__attribute__((visibility("default"))) const char* otpgate_answer_name(otpgate_answer answer) {
  return otpgate::AnswerName(static_cast<otpgate::Answer>(answer)).data();
}

}  // extern "C"
