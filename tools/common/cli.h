/* cli.h — the glue every mmoe tool shares (not part of lib/: this may exit).
 *
 * Conventions (see STYLE.md and man/mmoe.1):
 *   - diagnostics go to stderr as "mmoe-<tool>: <message>"; stdout is data;
 *   - --help prints usage to stdout and exits 0; --version likewise;
 *   - a usage error prints one line plus "Try 'mmoe-x --help'." and exits 2;
 *   - bad data exits 1 (MM_EXIT_DATA), I/O and system errors exit 2;
 *   - a failed write to stdout (closed pipe, full disk) is an error (exit 2);
 *   - binary records are not written to a terminal unless --force.
 * Typical tool main():
 *     cli_init(argc, argv, "mmoe-cat");
 *     while ((c = cli_getopt(argc, argv, opts, moved)) != -1) ...
 *     if (st != MM_OK) cli_die_err(&e);   // prints and exits with the status's code
 *     return cli_finish();                // checks stdout, returns 0
 */
#ifndef MM_CLI_H
#define MM_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

#include "err.h"

extern const char *cli_prog;   /* "mmoe-cat" */
extern bool cli_quiet;         /* -q: no progress, no summaries */

/* Sets the program name and the C locale, ignores SIGPIPE (a closed pipe is
 * a write error we report) and starts the output cleanup (cli_cleanup_init). */
void cli_init(int argc, char **argv, const char *prog);

/* Outputs (tools/common/cleanup.c).  Every file a tool writes goes through an
 * mm_atomic (mm_writer_open, mm_atomic_open, mm_model_save, ...), and every
 * open one is known here: cli_die, cli_die_err, cli_usage and a failing
 * cli_finish abort them all (targets untouched, temporaries removed), and
 * SIGINT, SIGTERM and SIGHUP remove the temporaries, then end the program by
 * the same signal.  A tool never aborts an output itself before dying, and
 * never from an atexit handler.  SIGKILL leaves the temporary; the next run
 * writing the same target removes it (lib/util.h). */
void cli_cleanup_init(void);
/* Abort every open output (done by the dying functions below). */
void cli_abort_outputs(void);
noreturn void cli_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
noreturn void cli_die_err(const mm_err *e);
/* The input whose records are being read, for messages: cli_die_err puts it
 * before a message that begins with "record " (the record getters name the
 * record and the field, not the input), as mmoe-records(5) promises.
 * Set it when a reader is opened; the name is copied; NULL forgets it. */
void cli_set_input(const char *name);
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Usage error: message, hint to --help, exit 2. */
noreturn void cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The usage error for what cli_getopt returned as c ('?' or ':'): an unknown
 * option or one without its value, named as the user wrote it:
 *     while ((c = cli_getopt(argc, argv, opts, moved)) != -1)
 *             switch (c) { ... default: cli_bad_option(c, argv); } */
noreturn void cli_bad_option(int c, char **argv);
/* The option family (man/mmoe.1, OPTIONS COMMON TO ALL TOOLS): a short
 * letter stands for the same long option in every tool that has it, and a
 * long option has the same letter (or none) in every tool.  The options many
 * tools share are spelled once here; a tool's table lists them as
 *     static const struct option opts[] = { CLI_OPT_OUTPUT, CLI_OPT_FORCE, ... };
 * and handles CLI_FORCE and CLI_LEVEL (long-only) like its own values. */
enum { CLI_FORCE = 0x1000, CLI_LEVEL };
#define CLI_OPT_OUTPUT  { "output", required_argument, NULL, 'o' }
#define CLI_OPT_QUIET   { "quiet", no_argument, NULL, 'q' }
#define CLI_OPT_HELP    { "help", no_argument, NULL, 'h' }
#define CLI_OPT_VERSION { "version", no_argument, NULL, 'V' }
#define CLI_OPT_THREADS { "threads", required_argument, NULL, 'j' }
#define CLI_OPT_SEED    { "seed", required_argument, NULL, 's' }
#define CLI_OPT_LABEL   { "label", required_argument, NULL, 'l' }
#define CLI_OPT_FEATURE { "feature", required_argument, NULL, 'f' }
#define CLI_OPT_FORMAT  { "format", required_argument, NULL, 'F' }
#define CLI_OPT_FORCE   { "force", no_argument, NULL, CLI_FORCE }
#define CLI_OPT_LEVEL   { "level", required_argument, NULL, CLI_LEVEL }

/* A letter a tool had and no longer has, with what replaced it; the error
 * reads "<prog>: -<letter> <msg>", e.g. {'j', "is now --threads elsewhere;
 * for JSON use -J/--json"}.  Tables end with {0}. */
typedef struct cli_moved {
	int letter;
	const char *msg;
} cli_moved;
/* getopt_long over opts, whose letters (val, an ASCII letter or digit) are
 * the short options: the short option string is built from the table, so the
 * two cannot disagree.  A letter of moved is a usage error naming its
 * replacement; other errors come back as ':' or '?' for cli_bad_option.
 * opts must stay the same table for the whole parse. */
int cli_getopt(int argc, char **argv, const struct option *opts, const cli_moved *moved);
/* Print "<prog> <version> (commit <c>)" to stdout and exit 0. */
noreturn void cli_version(void);

/* Option parsers: a bad value is a usage error naming the option. */
long long cli_int(const char *opt, const char *s, long long min, long long max);
double cli_double(const char *opt, const char *s, double min, double max);
/* The value of --level: a zstd level, mm_zstd_level_min() (the fast levels
 * are negative) to mm_zstd_level_max(); 0 is plain msgpack. */
int cli_level(const char *s);
/* Decimal digits only (a seed "010" is 10; "0x10" and "-1" are refused). */
uint64_t cli_u64(const char *opt, const char *s);
/* A field name given to option opt (as the user spelled it, "--feature"):
 * an empty name is a usage error, the same in every tool.  Returns name. */
const char *cli_field(const char *opt, const char *name);
/* A field a tool writes, named by option opt: besides cli_field, it must not
 * be one of the reserved fields id, label and split, nor any of the fields
 * this run reads (reads[0..nreads), NULL entries skipped): writing over them
 * would silently change the data the next stage reads.  A usage error. */
void cli_output_field(const char *opt, const char *name, const char *const *reads, size_t nreads);
/* Split "a,b,c" into a NULL-terminated malloc'ed array (strings too). */
char **cli_split(const char *s, char sep, size_t *n);

/* Refuse to write binary records to a terminal unless force. */
void cli_check_binary_stdout(bool force);
/* --threads N: the library's thread count for its parallel kernels
 * (mm_set_threads, gemm.h; 0 leaves it at 1); OpenBLAS itself stays on one
 * thread, so results are the same bits for any N. */
void cli_set_threads(int n);

/* Flush and check stdout; exit 2 on error, else return 0. */
int cli_finish(void);

/* Progress line on stderr, only on a terminal and unless -q; at most 4 per s. */
typedef struct cli_progress {
	const char *what;
	uint64_t n, total;
	double t0, last;
	bool on;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *what, uint64_t total);
void cli_progress_tick(cli_progress *p, uint64_t n);
void cli_progress_end(cli_progress *p);

#endif
