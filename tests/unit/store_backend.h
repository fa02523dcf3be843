// The store backends the conformance suites run against (store_test.cc,
// operations_test.cc), and a real PostgreSQL for them
// (tests/postgres/server.sh, docs/recipes.md).
//
// Under CTest the fixture test `postgres.server.start` starts one server
// for the whole run and OTPGATE_TEST_PG_DIR names its directory; a test
// binary run by hand starts its own on first use and stops it at exit.
// Each test gets a fresh schema on it. Without PostgreSQL's server binaries
// the PostgreSQL instantiations skip, saying why.
#ifndef OTPGATE_TESTS_STORE_BACKEND_H_
#define OTPGATE_TESTS_STORE_BACKEND_H_

#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "test_util.h"

namespace otpgate::testing {

enum class Backend { kLmdb, kPostgres };

// A PostgreSQL server in its own directory, stopped (and removed) by the
// destructor when this object started it.
class TestPostgres {
 public:
  // Starts a private server (fault tests kill it). nullptr, with the reason
  // in `why`, if it cannot be started.
  static std::unique_ptr<TestPostgres> Start(std::string* why) {
    char dir[] = "/tmp/otpgate-pg-XXXXXX";  // reachable by `nobody`
    if (::mkdtemp(dir) == nullptr) {
      *why = "mkdtemp failed";
      return nullptr;
    }
    auto server = std::unique_ptr<TestPostgres>(new TestPostgres(dir, true));
    int rc = server->Script("start");
    if (rc != 0) {
      *why = rc == 77 ? "PostgreSQL server binaries are not installed (apt-get install postgresql)"
                      : "the test PostgreSQL did not start (see " + std::string(dir) + "/pg.log)";
      if (rc == 77) {
        server->owned_ = false;
        std::filesystem::remove_all(dir);
      }
      return nullptr;
    }
    return server;
  }

  // The server shared by this test run; nullptr with the reason in `why`.
  static TestPostgres* Shared(std::string* why) {
    static std::string reason;
    static TestPostgres* shared = [] {
      const char* dir = std::getenv("OTPGATE_TEST_PG_DIR");
      if (dir != nullptr && *dir != '\0') {
        auto* server = new TestPostgres(dir, false);
        if (server->Reachable()) return server;
        delete server;
        reason = "the shared test PostgreSQL in " + std::string(dir) +
                 " is not running (postgres.server.start skipped or failed)";
        return static_cast<TestPostgres*>(nullptr);
      }
      static std::unique_ptr<TestPostgres> own = Start(&reason);
      return own.get();
    }();
    *why = reason;
    return shared;
  }

  ~TestPostgres() {
    if (owned_) Script("stop");
  }

  // Connection string of the server's database (no schema chosen).
  std::string BaseLocation() const {
    return "host=" + dir_ + " port=5432 user=otpgate dbname=otpgate";
  }

  // A location with a fresh, empty schema: one test's own store.
  std::string NewLocation() {
    static std::atomic<int> counter{0};
    std::string schema = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    Sql("CREATE SCHEMA " + schema);
    return BaseLocation() + " options='-c search_path=" + schema + "'";
  }

  // Runs SQL on `location` (default: the server's database); true if it
  // succeeded.
  bool Sql(const std::string& sql, const std::string& location = "") {
    PGconn* conn = PQconnectdb((location.empty() ? BaseLocation() : location).c_str());
    bool ok = PQstatus(conn) == CONNECTION_OK;
    if (ok) {
      PGresult* result = PQexec(conn, sql.c_str());
      ExecStatusType status = PQresultStatus(result);
      ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
      PQclear(result);
    }
    PQfinish(conn);
    return ok;
  }

  // The first column of the first row of `sql`'s result; nullopt on error.
  std::optional<std::string> Query(const std::string& sql, const std::string& location) {
    PGconn* conn = PQconnectdb(location.c_str());
    std::optional<std::string> value;
    if (PQstatus(conn) == CONNECTION_OK) {
      PGresult* result = PQexec(conn, sql.c_str());
      if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0) {
        value = PQgetvalue(result, 0, 0);
      }
      PQclear(result);
    }
    PQfinish(conn);
    return value;
  }

  bool Kill() { return Script("kill") == 0; }        // SIGKILL the postmaster
  bool Restart() { return Script("restart") == 0; }  // after Kill
  const std::string& dir() const { return dir_; }

 private:
  TestPostgres(std::string dir, bool owned) : dir_(std::move(dir)), owned_(owned) {}

  int Script(const std::string& command) const {
    std::string line = std::string(OTPGATE_TEST_SCRIPTS_DIR) + "/postgres/server.sh " + command +
                       " '" + dir_ + "' >/dev/null";
    int status = std::system(line.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  bool Reachable() const {
    PGconn* conn = PQconnectdb(BaseLocation().c_str());
    bool ok = PQstatus(conn) == CONNECTION_OK;
    PQfinish(conn);
    return ok;
  }

  std::string dir_;
  bool owned_;
};

// A fresh store location for `backend`: a path under `dir` (LMDB) or a new
// schema on the shared server. nullopt, with the reason in `why`, when the
// backend is not available here.
inline std::optional<std::string> FreshLocation(Backend backend, const TempDir& dir,
                                                std::string* why) {
  if (backend == Backend::kLmdb) {
    return dir.File("store");
  }
  TestPostgres* server = TestPostgres::Shared(why);
  if (server == nullptr) return std::nullopt;
  return server->NewLocation();
}

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kLmdb ? "lmdb" : "postgres";
}

}  // namespace otpgate::testing

#endif  // OTPGATE_TESTS_STORE_BACKEND_H_
