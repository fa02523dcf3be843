// The shipped module loads with every symbol resolved (RTLD_NOW) and exports
// the PAM entry points and nothing of the core. Loading it does not load libpq:
// every sshd or su process pays for each library it pulls in, and only a
// postgresql:// store needs libpq (common/src/libpq_loader.h).
#include <dlfcn.h>
#include <gtest/gtest.h>

TEST(PamModuleSymbols, LoadsNowAndExportsOnlyPamEntryPoints) {
  void* module = dlopen(OTPGATE_PAM_MODULE, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(module, nullptr) << dlerror();
  for (const char* name : {"pam_sm_authenticate", "pam_sm_setcred", "pam_sm_acct_mgmt"}) {
    EXPECT_NE(dlsym(module, name), nullptr) << name;
  }
  for (const char* name :
       {"otpgate_open", "otpgate_verify", "pam_sm_chauthtok", "pam_sm_open_session",
        "_ZN7otpgate10OtpService4OpenERKNS_6ConfigERKNS_5ClockEb"}) {
    EXPECT_EQ(dlsym(module, name), nullptr) << name << " must not be exported";
  }
  dlclose(module);
}

TEST(PamModuleSymbols, LoadingTheModuleDoesNotLoadLibpq) {
  ASSERT_EQ(dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD), nullptr)
      << "this test binary must not link libpq itself";
  void* module = dlopen(OTPGATE_PAM_MODULE, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(module, nullptr) << dlerror();
  void* libpq = dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD);
  EXPECT_EQ(libpq, nullptr) << "pam_otpgate.so pulled in libpq at load time";
  if (libpq != nullptr) dlclose(libpq);
  dlclose(module);
}
