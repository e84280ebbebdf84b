/* tap.h — a minimal TAP producer for the C unit tests (run under prove).
 *
 *   ok(cond, "what %d", i);      one test point
 *   near(a, b, tol, "what");     |a-b| <= tol*(1+|b|), prints both on failure
 *   return tap_done();           plan line at the end; exit 1 if any failed
 */
#ifndef MM_TAP_H
#define MM_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_fail;

/* One test point: its "ok N - ..." or "not ok N - ..." line. */
__attribute__((unused))
static int tap_point(int cond, const char *fmt, va_list ap)
{
	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	putchar('\n');
	if (!cond)
		tap_fail++;
	return cond;
}

__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_point(cond, fmt, ap);
	va_end(ap);
	fflush(stdout);
	return cond;
}

__attribute__((format(printf, 4, 5), unused))
static int near(double a, double b, double tol, const char *fmt, ...)
{
	va_list ap;
	int cond = fabs(a - b) <= tol * (1 + fabs(b));
	va_start(ap, fmt);
	tap_point(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got %.9g, expected %.9g (tol %g)\n", a, b, tol);
	fflush(stdout);
	return cond;
}

__attribute__((unused))
static void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

__attribute__((unused))
static int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_fail ? 1 : 0;
}

#endif
