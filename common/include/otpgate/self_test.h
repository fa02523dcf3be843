// A known-answer self-test of the build: the RFC 4226 Appendix D and
// RFC 6238 Appendix B vectors, base32, and a seal/open round trip. Run by the
// Debian postinst (`otpgate selftest`) so that a broken build refuses to
// configure.
#ifndef OTPGATE_SELF_TEST_H_
#define OTPGATE_SELF_TEST_H_

#include "otpgate/status.h"

namespace otpgate {

// OK, or kInternal naming the first vector that failed.
Status RunSelfTest();

}  // namespace otpgate

#endif  // OTPGATE_SELF_TEST_H_
