#include "err.h"

#include <stdio.h>
#include <string.h>

mm_status mm_verrf(mm_err *e, mm_status st, const char *fmt, va_list ap)
{
	if (e) {
		e->status = st;
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	}
	return st;
}

mm_status mm_errf(mm_err *e, mm_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mm_verrf(e, st, fmt, ap);
	va_end(ap);
	return st;
}

mm_status mm_err_prefix(mm_err *e, const char *fmt, ...)
{
	char pre[512], old[sizeof e->msg];
	va_list ap;
	if (!e)
		return MM_OK;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	snprintf(e->msg, sizeof e->msg, "%.500s: %.500s", pre, old);
	return e->status;
}

const char *mm_status_name(mm_status st)
{
	switch (st) {
	case MM_OK: return "ok";
	case MM_EOF: return "end of stream";
	case MM_MISSING: return "missing field";
	case MM_ETYPE: return "wrong type";
	case MM_EVALUE: return "bad value";
	case MM_ECORRUPT: return "corrupt input";
	case MM_ETRUNC: return "truncated input";
	case MM_ELIMIT: return "limit exceeded";
	case MM_EIO: return "I/O error";
	case MM_ENOMEM: return "out of memory";
	case MM_EUSAGE: return "usage error";
	}
	return "unknown status";
}

int mm_status_exit(mm_status st)
{
	switch (st) {
	case MM_OK:
	case MM_EOF:
		return MM_EXIT_OK;
	case MM_EIO:
	case MM_ENOMEM:
	case MM_EUSAGE:
		return MM_EXIT_USAGE;
	default:
		return MM_EXIT_DATA;
	}
}
