/* Test-only, never shipped: preloaded (before the sanitizer runtime) into
 * radiusd in the sanitizer stage, it clears RTLD_DEEPBIND from every dlopen.
 * radiusd opens its modules with RTLD_DEEPBIND, and the ASan runtime refuses
 * that flag outright (google/sanitizers#611), so without this an instrumented
 * rlm_otpgate.so cannot be loaded at all. Without RTLD_DEEPBIND a module
 * binds to the global scope first. For rlm_otpgate.so that changes nothing:
 * its version script (radius_module/rlm_otpgate.map) exports one symbol, the
 * module struct, and calls between its own functions are bound at link
 * time; the libraries it shares with radiusd (libcrypto, libtalloc) are the
 * same files either way. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

__attribute__((visibility("default"))) void *dlopen(const char *file, int mode)
{
	static void *(*next_dlopen)(const char *, int);

	if (!next_dlopen) {
		/* ISO C has no cast from an object pointer to a function pointer. */
		void *symbol = dlsym(RTLD_NEXT, "dlopen");
		memcpy(&next_dlopen, &symbol, sizeof(next_dlopen));
	}
	if (!next_dlopen) return NULL;
	return next_dlopen(file, mode & ~RTLD_DEEPBIND);
}
