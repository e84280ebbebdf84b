/* err.h — status codes and error messages of the mmoe library.
 *
 * The library never exits and never prints.  A function that can fail returns
 * an mm_status and, when it fails, writes one human-readable line (no program
 * name, no newline) into the caller's mm_err.  Tools prefix the program name
 * and print it; tools/common/cli.h does that.
 *
 * Messages name the place: "record 12 (id \"a7\"): field \"x\": expected a
 * tensor, got a string".  Use mm_rec_where() (record.h) to build the prefix.
 */
#ifndef MM_ERR_H
#define MM_ERR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum mm_status {
	MM_OK = 0,
	MM_EOF,      /* end of stream: not an error for readers */
	MM_MISSING,  /* a field is absent (callers decide whether that is fatal) */
	MM_ETYPE,    /* a field or value has the wrong type */
	MM_EVALUE,   /* a value is out of range, NaN/Inf, shape mismatch, ... */
	MM_ECORRUPT, /* undecodable input: bad zstd frame, bad msgpack, bad image */
	MM_ETRUNC,   /* input ends inside a frame or a record */
	MM_ELIMIT,   /* input exceeds a safety limit (record size, image size) */
	MM_EIO,      /* read/write/open failed (errno text in the message) */
	MM_ENOMEM,
	MM_EUSAGE    /* bad argument from the caller (option value, path) */
} mm_status;

/* Exit statuses shared by every tool and documented in every man page. */
enum {
	MM_EXIT_OK = 0,
	MM_EXIT_DATA = 1,   /* bad or corrupt input data, failed processing */
	MM_EXIT_USAGE = 2,  /* bad command line, missing file, I/O or system error */
};

typedef struct mm_err {
	mm_status status;
	char msg[1024];
} mm_err;

/* Set e (if non-NULL) and return st: `return mm_errf(e, MM_ETYPE, "...", ...);` */
mm_status mm_errf(mm_err *e, mm_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
mm_status mm_verrf(mm_err *e, mm_status st, const char *fmt, va_list ap);
/* Prepend context to an existing message: "ctx: old message". */
mm_status mm_err_prefix(mm_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

const char *mm_status_name(mm_status st);
/* MM_EXIT_DATA for data problems, MM_EXIT_USAGE for I/O, usage and memory. */
int mm_status_exit(mm_status st);

#endif
