// libpq, loaded when a PostgreSQL store is first opened (private to the
// core).
//
// Why it is not linked: libpq brings some twenty libraries of its own (TLS,
// Kerberos, LDAP, SASL, ...). Loading them took about 4 ms in every process
// that loads the core - every sshd login through pam_otpgate, whatever its
// store - while only a PostgreSQL store uses them.
#ifndef OTPGATE_SRC_LIBPQ_LOADER_H_
#define OTPGATE_SRC_LIBPQ_LOADER_H_

#include <libpq-fe.h>

#include "otpgate/status.h"

namespace otpgate::libpq {

// Every libpq function the PostgreSQL store calls, by its own name.
// clang-format off
#define OTPGATE_LIBPQ_FUNCTIONS(X) \
  X(PQclear) \
  X(PQcmdStatus) \
  X(PQcmdTuples) \
  X(PQconnectPoll) \
  X(PQconnectStartParams) \
  X(PQconninfoFree) \
  X(PQconninfoParse) \
  X(PQconsumeInput) \
  X(PQenterPipelineMode) \
  X(PQerrorMessage) \
  X(PQexitPipelineMode) \
  X(PQfinish) \
  X(PQfreemem) \
  X(PQgetResult) \
  X(PQgetisnull) \
  X(PQgetlength) \
  X(PQgetvalue) \
  X(PQisBusy) \
  X(PQntuples) \
  X(PQpipelineStatus) \
  X(PQpipelineSync) \
  X(PQresultErrorField) \
  X(PQresultErrorMessage) \
  X(PQresultStatus) \
  X(PQsendPrepare) \
  X(PQsendQuery) \
  X(PQsendQueryParams) \
  X(PQsendQueryPrepared) \
  X(PQsetNoticeProcessor) \
  X(PQsocket) \
  X(PQstatus) \
  X(PQtransactionStatus)
// clang-format on

struct Functions {
#define OTPGATE_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  OTPGATE_LIBPQ_FUNCTIONS(OTPGATE_LIBPQ_MEMBER)
#undef OTPGATE_LIBPQ_MEMBER
};

// Loads libpq.so.5 and resolves every function, once per process (later
// calls return the first result). kUnavailable, naming the package, if the
// library or a function is missing. Thread-safe.
Result<const Functions*> Load();

}  // namespace otpgate::libpq

#endif  // OTPGATE_SRC_LIBPQ_LOADER_H_
