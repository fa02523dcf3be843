// The shipped module loads with every symbol resolved (RTLD_NOW) and exports
// the PAM entry points and nothing of the core.
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
