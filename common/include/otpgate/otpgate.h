/* otpgate's C ABI: what the FreeRADIUS glue (written in C) calls.
 *
 * Every function is noexcept in effect: no C++ exception ever crosses this
 * boundary; failures come back as OTPGATE_ERR_* codes with a message.
 * A handle is safe to use from many threads at once (radiusd's pool).
 * Codes and secrets passed in are never logged or kept.
 */
#ifndef OTPGATE_OTPGATE_H_
#define OTPGATE_OTPGATE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct otpgate_handle otpgate_handle;

/* The answer to a well-formed request (mirrors otpgate::Decision). */
typedef enum {
  OTPGATE_ACCEPT = 0,
  OTPGATE_REJECT = 1,
  OTPGATE_REPLAY = 2,
  OTPGATE_LOCKED = 3,
  OTPGATE_NO_TOKEN = 4,
} otpgate_decision;

/* Status codes (mirror otpgate::StatusCode; 0 is success). */
enum {
  OTPGATE_OK = 0,
  OTPGATE_ERR_INVALID_ARGUMENT = 1,
  OTPGATE_ERR_NOT_FOUND = 2,
  OTPGATE_ERR_ALREADY_EXISTS = 3,
  OTPGATE_ERR_ALREADY_BOUND = 4,
  OTPGATE_ERR_NOT_BOUND = 5,
  OTPGATE_ERR_PERMISSION_DENIED = 6,
  OTPGATE_ERR_UNAVAILABLE = 7,
  OTPGATE_ERR_CORRUPT = 8,
  OTPGATE_ERR_WRONG_KEY = 9,
  OTPGATE_ERR_STORE_FULL = 10,
  OTPGATE_ERR_INTERNAL = 11,
  OTPGATE_ERR_FAILED_PRECONDITION = 12,
};

typedef struct {
  int status;                 /* OTPGATE_OK or OTPGATE_ERR_* */
  otpgate_decision decision;  /* meaningful when status == OTPGATE_OK */
  char credential_id[72];     /* the token that decided, or "" */
  int64_t lock_until;         /* epoch seconds, > now when locked */
  char message[256];          /* why, for logs; never a code or secret */
} otpgate_result;

/* Opens the store named by the configuration: the config file at
 * `config_path` (NULL: the default; a missing default file is fine), then
 * `count` name/value overrides (same names as the config file). On failure
 * returns NULL and fills `error` (if not NULL). */
otpgate_handle* otpgate_open(const char* config_path, const char* const* names,
                             const char* const* values, size_t count, otpgate_result* error);
void otpgate_close(otpgate_handle* handle);

/* The bank's flows; each fills `result` and returns result->status. */
int otpgate_verify(otpgate_handle* handle, const char* user, const char* code,
                   otpgate_result* result);
int otpgate_register(otpgate_handle* handle, const char* user, const char* credential_id,
                     const char* code, otpgate_result* result);
int otpgate_stop(otpgate_handle* handle, const char* user, const char* code,
                 otpgate_result* result);

/* What a front end needs before it asks for a code. */
typedef struct {
  int enrolled;        /* the user has at least one bound token */
  int locked;          /* every active token is locked now */
  int64_t lock_until;  /* earliest unlock, when locked */
  int digits;          /* digits the active tokens expect (0 if none) */
} otpgate_user_state;
int otpgate_get_user_state(otpgate_handle* handle, const char* user, otpgate_user_state* state,
                           otpgate_result* result);

const char* otpgate_decision_name(otpgate_decision decision);
const char* otpgate_status_name(int status);

#ifdef __cplusplus
}
#endif

#endif /* OTPGATE_OTPGATE_H_ */
