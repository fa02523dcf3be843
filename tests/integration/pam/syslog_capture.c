/* A test's syslog: preloaded into a PAM application, it appends every
 * syslog() line of the process (the module's audit lines, libpam's
 * pam_syslog) to the file named by OTPGATE_TEST_SYSLOG, as
 * "<priority> <text>", one write per line. Test-only: never shipped. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT void vsyslog(int priority, const char *format, va_list ap)
{
	const char *path = getenv("OTPGATE_TEST_SYSLOG");
	char line[4096];
	int n, m, fd;

	if (!path) return;
	n = snprintf(line, sizeof(line), "<%d> ", priority);
	m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, format, ap);
	if (m < 0) return;
	n += m < (int) (sizeof(line) - (size_t) n - 1) ? m : (int) (sizeof(line) - (size_t) n - 2);
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) return;
	if (write(fd, line, (size_t) n) < 0) { /* nothing to do */ }
	close(fd);
}

EXPORT void syslog(int priority, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	vsyslog(priority, format, ap);
	va_end(ap);
}

EXPORT void __vsyslog_chk(int priority, int flag, const char *format, va_list ap)
{
	(void) flag;
	vsyslog(priority, format, ap);
}

EXPORT void __syslog_chk(int priority, int flag, const char *format, ...)
{
	va_list ap;
	(void) flag;
	va_start(ap, format);
	vsyslog(priority, format, ap);
	va_end(ap);
}

EXPORT void openlog(const char *ident, int option, int facility) { (void) ident; (void) option; (void) facility; }
EXPORT void closelog(void) {}
