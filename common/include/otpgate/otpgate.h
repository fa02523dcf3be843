/* otpgate's C ABI: what the front ends (the PAM module, the FreeRADIUS
 * module written in C) call. The decisions a front end makes before and
 * around the prompt live behind it (login_flow.h): a front end asks what
 * otpgate_begin says to ask, hands the answers to otpgate_finish, and maps
 * otpgate_answer to its host's return codes with one table.
 *
 * Conventions (every function):
 *  - Nothing is thrown: no C++ exception crosses this boundary; failures
 *    come back as OTPGATE_ERR_* codes with a message.
 *  - `result`/`error` may be NULL (the return value still carries the
 *    status); when not NULL it is cleared and then filled on success and on
 *    failure. Every other pointer argument must be non-NULL unless its
 *    comment says otherwise; a NULL one gives OTPGATE_ERR_INVALID_ARGUMENT.
 *  - The library allocates nothing the caller frees except the handle
 *    (otpgate_close). Strings it returns are owned by the library (static,
 *    or owned by the handle and valid until otpgate_close).
 *  - Strings passed in are copied if kept; codes and passwords are never
 *    kept or logged (not even with debug = yes).
 *  - Threads: one handle may be used from many threads at once (radiusd's
 *    pool, a threaded PAM application). otpgate_open/otpgate_close are
 *    thread-safe too. A handle must not be used in a child after fork().
 *  - Audit lines and debug lines go to the log callback given at open,
 *    from the thread that made the call; the callback must be thread-safe
 *    and must not call back into otpgate.
 */
#ifndef OTPGATE_OTPGATE_H_
#define OTPGATE_OTPGATE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this ABI: a front end built against another refuses to run. */
#define OTPGATE_ABI_VERSION 3

/* Buffer sizes in otpgate_result (each includes the terminating NUL). */
#define OTPGATE_ID_SIZE 72 /* a credential ID: at most 64 bytes, normalised */
#define OTPGATE_MESSAGE_SIZE 256
/* The State of a RADIUS challenge (version, nonce, expiry, tag:
 * docs/security.md); a buffer of this size holds any State the core issues. */
#define OTPGATE_CHALLENGE_STATE_SIZE 41

typedef struct otpgate_handle otpgate_handle;

/* The core's answer to a well-formed request (mirrors otpgate::Decision). */
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

/* The flow (mirrors otpgate::Action). */
typedef enum {
  OTPGATE_ACTION_CONFIGURED = -1, /* the `action` option */
  OTPGATE_ACTION_LOGIN = 0,
  OTPGATE_ACTION_REGISTER = 1,
  OTPGATE_ACTION_STOP = 2,
} otpgate_action;

/* What the front end does next, or answers (mirrors otpgate::Answer). */
typedef enum {
  OTPGATE_ANSWER_PASS = 0, /* not otpgate's business: PAM_IGNORE; RADIUS: the password decides */
  OTPGATE_ANSWER_ACCEPT = 1,
  OTPGATE_ANSWER_REJECT = 2,
  OTPGATE_ANSWER_LOCKED = 3,
  OTPGATE_ANSWER_FAIL = 4, /* the store cannot decide: fail closed */
  OTPGATE_ANSWER_ASK_CODE = 5,
  OTPGATE_ANSWER_ASK_TOKEN_AND_CODE = 6,
} otpgate_answer;

/* Which host the handle serves: options meant for another host are refused
 * in its own option list (the shared config file may carry them). */
typedef enum {
  OTPGATE_FRONT_END_PAM = 0,
  OTPGATE_FRONT_END_RADIUS = 1,
} otpgate_front_end;

/* Log levels of the callback (mirror otpgate::AuditSeverity). */
enum {
  OTPGATE_LOG_DEBUG = 0,  /* only with debug = yes */
  OTPGATE_LOG_INFO = 1,   /* an accept */
  OTPGATE_LOG_NOTICE = 2, /* a refusal */
  OTPGATE_LOG_CRIT = 3,   /* the store could not decide */
};
/* `line` is one complete audit line (audit.h: action=... outcome=...) or a
 * debug line, NUL-terminated, valid during the call only. */
typedef void (*otpgate_log_fn)(void* context, int level, const char* line);

typedef struct {
  int status;                              /* OTPGATE_OK or OTPGATE_ERR_* */
  otpgate_answer answer;                   /* what to do or answer (also set when status != OK) */
  otpgate_action action;                   /* the flow that runs: pass it back to otpgate_finish */
  otpgate_decision decision;               /* the core's decision, when it made one */
  char credential_id[OTPGATE_ID_SIZE];     /* the token that decided, or "" */
  int64_t lock_until;                      /* epoch seconds, > now when locked */
  char message[OTPGATE_MESSAGE_SIZE];      /* why, for logs; never a code or secret */
  char user_message[OTPGATE_MESSAGE_SIZE]; /* for the user; "" = say nothing */
  int user_message_is_error;               /* 1: an error (PAM_ERROR_MSG), 0: information */
} otpgate_result;

/* Who is asking, for the audit trail. */
typedef struct {
  const char* user;
  otpgate_action action;
  const char* service; /* the PAM service, or NULL */
  const char* client;  /* the RADIUS client's address, or NULL */
} otpgate_request;

typedef struct {
  otpgate_front_end front_end;
  const char* config_path;   /* NULL: the default path, and a missing file is fine */
  const char* const* names;  /* `count` option overrides, same names as the file;
                                "config" among them names the file instead */
  const char* const* values; /* a NULL value: a bare boolean flag ("debug") */
  size_t count;
  otpgate_log_fn log; /* NULL: no audit trail */
  void* log_context;
  /* NULL at start-up; the request that needs the handle otherwise: a config
   * file that cannot be read is then audited as that request's decision. */
  const otpgate_request* request;
} otpgate_open_args;

/* The ABI version the library was built with (OTPGATE_ABI_VERSION). */
int otpgate_abi_version(void);
/* The otpgate release, e.g. "0.3.0". */
const char* otpgate_version(void);

/* Reads the configuration (the file, then the overrides; unknown and
 * out-of-range options, and options meant for another front end, are
 * OTPGATE_ERR_INVALID_ARGUMENT) and opens the store. Handles with the same
 * configuration and callback share one open store in the process.
 * Returns NULL when the configuration is bad or cannot be read; then
 * error->answer is OTPGATE_ANSWER_FAIL, or OTPGATE_ANSWER_PASS when the
 * caller is not root and `nonroot = ignore` (a notice is logged).
 * When only the store cannot be opened yet, the handle is returned with
 * error->status saying why: every call retries, fails closed (audited, or
 * PASS under the same nonroot rule) until the store opens. */
otpgate_handle* otpgate_open(const otpgate_open_args* args, otpgate_result* error);
void otpgate_close(otpgate_handle* handle); /* NULL is fine */

/* The front-end options of an open handle (owned by the handle). */
typedef struct {
  otpgate_action action;    /* the configured flow */
  const char* prompt;       /* the code prompt (RADIUS: the challenge's Reply-Message) */
  const char* token_prompt; /* PAM: the credential-ID prompt */
  int split;                /* the code comes appended to the password */
  int use_first_pass;       /* PAM */
  int try_first_pass;       /* PAM */
  int fail_delay_ms;        /* PAM */
} otpgate_options;
const otpgate_options* otpgate_options_of(const otpgate_handle* handle);

/* Before the prompt: PASS, REJECT, LOCKED, FAIL, ASK_CODE or
 * ASK_TOKEN_AND_CODE in result->answer (result must not be NULL).
 * Audited unless it asks. */
int otpgate_begin(otpgate_handle* handle, const otpgate_request* request, otpgate_result* result);
/* otpgate_begin for a front end that holds the code already: the one
 * otpgate_split_point took off the password (must not be NULL). A login is
 * decided at once, as otpgate_finish would after otpgate_begin (ACCEPT,
 * REJECT, LOCKED or FAIL; audited), without otpgate_begin's separate read
 * of the user's state: one round trip less on a PostgreSQL store. A user
 * whose token has gone by then is REJECT (not the unenrolled policy). For
 * another action, or when the store cannot be opened, it answers as
 * otpgate_begin, and `code` is not used. */
int otpgate_begin_with_code(otpgate_handle* handle, const otpgate_request* request,
                            const char* code, otpgate_result* result);
/* The answers: `code` (NULL: the client sent none) and, for a registration,
 * `credential_id` (else NULL). request->action: result->action from
 * otpgate_begin. ACCEPT, REJECT, LOCKED or FAIL; always audited. */
int otpgate_finish(otpgate_handle* handle, const otpgate_request* request,
                   const char* credential_id, const char* code, otpgate_result* result);
/* RADIUS round one, after otpgate_begin said ASK_CODE for a login: writes
 * the State to send with the Access-Challenge to state[0..*length), where
 * `size` >= OTPGATE_CHALLENGE_STATE_SIZE (else OTPGATE_ERR_INVALID_ARGUMENT).
 * Any server sharing the store and the master key can redeem it, once,
 * until it expires (the `challenge_timeout` option). ASK_CODE, or FAIL
 * (audited). */
int otpgate_challenge(otpgate_handle* handle, const otpgate_request* request, uint8_t* state,
                      size_t size, size_t* length, otpgate_result* result);
/* RADIUS round two: a login's otpgate_finish with the State the client sent
 * back (`state_length` bytes, checked here: any length is accepted and a
 * wrong one refused) and the code (NULL: the client sent none). A State
 * that is forged, another user's, expired or already used anywhere in the
 * pool is REJECT with its reason in result->message (state-forged-or-other-
 * user, state-expired, state-used). ACCEPT, REJECT, LOCKED or FAIL; always
 * audited. */
int otpgate_finish_challenge(otpgate_handle* handle, const otpgate_request* request,
                             const uint8_t* state, size_t state_length, const char* code,
                             otpgate_result* result);
/* The account phase (PAM acct_mgmt): PASS (no token), LOCKED (audited),
 * ACCEPT, or FAIL. */
int otpgate_account(otpgate_handle* handle, const otpgate_request* request, otpgate_result* result);
/* A refusal the front end decided (e.g. an unknown RADIUS State): audited
 * with `reason` (a short word), REJECT with a user message. */
int otpgate_refuse(otpgate_handle* handle, const otpgate_request* request, const char* reason,
                   otpgate_result* result);
/* split: where the code starts in a password+code `field` of `length`
 * bytes. *code_offset = length when the field is all password. */
int otpgate_split_point(otpgate_handle* handle, const char* user, const char* field, size_t length,
                        size_t* code_offset, otpgate_result* result);

const char* otpgate_decision_name(otpgate_decision decision);
const char* otpgate_status_name(int status);
const char* otpgate_answer_name(otpgate_answer answer);

#ifdef __cplusplus
}
#endif

#endif /* OTPGATE_OTPGATE_H_ */
