// The C ABI (otpgate.h): one place that converts C++ results and exceptions
// into codes. Nothing thrown below may escape: every entry point catches.
#include "otpgate/otpgate.h"

#include <unistd.h>

#include <cstring>
#include <exception>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <new>

#include "otpgate/audit.h"
#include "otpgate/config.h"
#include "otpgate/login_flow.h"
#include "otpgate/operations.h"

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
  Result<std::shared_ptr<OtpService>> Get(const Config& config, otpgate_log_fn fn,
                                          void* context) {
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

struct otpgate_handle {
  otpgate_front_end front_end;
  std::shared_ptr<otpgate::OtpService> service;
  otpgate::LoginFlow flow;
  otpgate_options options;
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
    result->status = static_cast<int>(step.answer == otpgate::Answer::kFail ? step.status.code()
                                                                           : otpgate::StatusCode::kOk);
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
  if (handle == nullptr || handle->service == nullptr) return false;
  for (const void* argument : arguments) {
    if (argument == nullptr) return false;
  }
  return true;
}

// A request with a user and a known action.
bool Valid(const otpgate_request* r) {
  return r != nullptr && r->user != nullptr && r->action >= OTPGATE_ACTION_CONFIGURED &&
         r->action <= OTPGATE_ACTION_STOP;
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
  bool default_path = args.config_path == nullptr || args.config_path[0] == '\0';
  Status status = otpgate::LoadConfigFile(
      config, default_path ? otpgate::kDefaultConfigPath : args.config_path, default_path);
  Status overrides = Status::Ok();
  for (size_t i = 0; overrides.ok() && i < args.count; ++i) {
    const char* name = args.names != nullptr ? args.names[i] : nullptr;
    if (name == nullptr) {
      overrides = Status::InvalidArgument("option name is NULL");
      break;
    }
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

// A caller that is not root and cannot get at the store, with
// nonroot = ignore: not otpgate's business (read from the overrides alone
// when the file itself is what it cannot read).
bool IgnoredNonRoot(const otpgate_open_args& args, const otpgate::Config& loaded,
                    const Status& status) {
  if (::geteuid() == 0 || status.code() == otpgate::StatusCode::kInvalidArgument) return false;
  otpgate::Config overrides_only;
  for (size_t i = 0; args.names != nullptr && i < args.count; ++i) {
    if (args.names[i] != nullptr && std::strcmp(args.names[i], "nonroot") == 0 &&
        args.values != nullptr && args.values[i] != nullptr) {
      (void)otpgate::SetOption(overrides_only, "nonroot", args.values[i]);
    }
  }
  return loaded.nonroot == otpgate::NonRootPolicy::kIgnore ||
         overrides_only.nonroot == otpgate::NonRootPolicy::kIgnore;
}

void Log(const otpgate_open_args& args, int level, const std::string& line) {
  if (args.log != nullptr) args.log(args.log_context, level, line.c_str());
}

// Opening failed: the caller's answer, and a line for the request it was for.
int OpenFailed(const otpgate_open_args& args, const otpgate::Config& config, const Status& status,
               otpgate_result* error) {
  int rc = FromStatus(error, status);
  if (IgnoredNonRoot(args, config, status)) {
    if (error != nullptr) error->answer = OTPGATE_ANSWER_PASS;
    Log(args, OTPGATE_LOG_NOTICE,
        "caller uid " + std::to_string(::geteuid()) +
            " is not root and cannot open the store (" + status.message() +
            "); nonroot=ignore: otpgate ignores this request");
    return rc;
  }
  if (error != nullptr) {
    CopyString(error->user_message, sizeof(error->user_message),
               "The one-time password service is unavailable.");
    error->user_message_is_error = 1;
  }
  if (Valid(args.request)) {
    otpgate::FlowRequest request = RequestOf(*args.request, args.front_end);
    otpgate::Action action = request.action.value_or(config.action);
    otpgate::AuditEvent event{otpgate::ActionName(action), request.user, "",
                              otpgate::StatusCodeName(status.code()), status.message(), "",
                              request.origin};
    Log(args, static_cast<int>(otpgate::SeverityOf(event)), otpgate::FormatAuditLine(event));
  }
  return rc;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int otpgate_abi_version(void) {
  return OTPGATE_ABI_VERSION;
}

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
    otpgate::Config config;
    Status status = LoadConfig(*args, config);
    if (!status.ok()) return OpenFailed(*args, config, status, error);
    auto service = otpgate::Registry().Get(config, args->log, args->log_context);
    if (!service.ok()) return OpenFailed(*args, config, service.status(), error);
    const otpgate::Config& c = (*service)->config();
    out = new otpgate_handle{args->front_end, *service, otpgate::LoginFlow(**service),
                             otpgate_options{static_cast<otpgate_action>(c.action),
                                             c.prompt.c_str(), c.token_prompt.c_str(), c.split,
                                             c.use_first_pass, c.try_first_pass,
                                             c.fail_delay_ms}};
    if (error != nullptr) error->answer = OTPGATE_ANSWER_ASK_CODE;
    return OTPGATE_OK;
  });
  return out;
}

__attribute__((visibility("default"))) void otpgate_close(otpgate_handle* handle) {
  delete handle;
}

__attribute__((visibility("default"))) const otpgate_options* otpgate_options_of(
    const otpgate_handle* handle) {
  return handle != nullptr ? &handle->options : nullptr;
}

__attribute__((visibility("default"))) int otpgate_begin(otpgate_handle* handle,
                                                         const otpgate_request* request,
                                                         otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {}) || !Valid(request)) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  return Guarded(result, [&] {
    return FromStep(result, handle->flow.Begin(RequestOf(*request, handle->front_end)));
  });
}

__attribute__((visibility("default"))) int otpgate_finish(otpgate_handle* handle,
                                                          const otpgate_request* request,
                                                          const char* credential_id,
                                                          const char* code,
                                                          otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {}) || !Valid(request)) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  return Guarded(result, [&] {
    std::optional<std::string_view> id, answer;
    if (credential_id != nullptr) id = credential_id;
    if (code != nullptr) answer = code;
    return FromStep(result, handle->flow.Finish(RequestOf(*request, handle->front_end), id,
                                                answer));
  });
}

__attribute__((visibility("default"))) int otpgate_account(otpgate_handle* handle,
                                                           const otpgate_request* request,
                                                           otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {}) || !Valid(request)) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  return Guarded(result, [&] {
    return FromStep(result, handle->flow.Account(RequestOf(*request, handle->front_end)));
  });
}

__attribute__((visibility("default"))) int otpgate_refuse(otpgate_handle* handle,
                                                          const otpgate_request* request,
                                                          const char* reason,
                                                          otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {reason}) || !Valid(request)) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  return Guarded(result, [&] {
    return FromStep(result, handle->flow.Refuse(RequestOf(*request, handle->front_end), reason));
  });
}

__attribute__((visibility("default"))) int otpgate_split_point(otpgate_handle* handle,
                                                               const char* user,
                                                               const char* field, size_t length,
                                                               size_t* code_offset,
                                                               otpgate_result* result) {
  Clear(result);
  if (!Usable(handle, {user, field, code_offset})) {
    return Fail(result, OTPGATE_ERR_INVALID_ARGUMENT, "missing argument");
  }
  *code_offset = length;
  return Guarded(result, [&] {
    auto point = handle->flow.SplitPoint(user, std::string_view(field, length));
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
