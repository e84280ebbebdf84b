#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stream.h"

const char *cli_prog = "mmoe";
bool cli_quiet = false;

void cli_init(int argc, char **argv, const char *prog)
{
	(void)argc;
	(void)argv;
	cli_prog = prog;
	/* Numbers are read and written in the C locale, whatever the user's. */
	setlocale(LC_ALL, "C");
	/* A closed pipe must be an error we report (EPIPE), not a silent death. */
	signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
	/* Records come and go one at a time, their tensors in fresh blocks: with
	 * glibc's starting thresholds the freed top of the heap goes back to the
	 * system after each record and comes back as page faults
	 * (mmoe-encode-vision, 2,000 64x64 PNG records, all encoders: 11,426
	 * faults and 0.47 s, against 2,110 and 0.37 s with these).  They are the
	 * bounds of glibc's own adjustment, which starts only once a large block
	 * has been freed: mmap above 32 MiB, trim above twice that. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
	cli_cleanup_init();
}

static void vmsg(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", cli_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	cli_abort_outputs();
	exit(code);
}

static char cur_input[512];

void cli_set_input(const char *name)
{
	snprintf(cur_input, sizeof cur_input, "%s", name ? name : "");
}

void cli_die_err(const mm_err *e)
{
	if (cur_input[0] && strncmp(e->msg, "record ", 7) == 0)
		fprintf(stderr, "%s: %s: %s\n", cli_prog, cur_input, e->msg);
	else
		fprintf(stderr, "%s: %s\n", cli_prog, e->msg);
	cli_abort_outputs();
	exit(mm_status_exit(e->status));
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void cli_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help'.\n", cli_prog);
	cli_abort_outputs();
	exit(MM_EXIT_USAGE);
}

void cli_bad_option(int c, char **argv)
{
	const char *a = argv[optind - 1];
	if (c == ':') {
		if (strncmp(a, "--", 2) == 0)
			cli_usage("option '%s' needs a value", a);
		cli_usage("option '-%c' needs a value", optopt);
	}
	if (strncmp(a, "--", 2) == 0) {
		/* getopt_long gives '?' for "--help=x" too, with optopt set to the
		 * option's value ('h'): name the long option as written */
		const char *eq = strchr(a, '=');
		int n = eq ? (int)(eq - a) : (int)strlen(a);
		if (eq && optopt)
			cli_usage("option '%.*s' takes no value", n, a);
		cli_usage("unknown option '%.*s'", n, a);
	}
	if (optopt)
		cli_usage("unknown option '-%c'", optopt);
	cli_usage("unknown option '%s'", a);
}

void cli_version(void)
{
	printf("%s %s (commit %s)\n", cli_prog, MM_VERSION, MM_COMMIT);
	exit(cli_finish());
}

long long cli_int(const char *opt, const char *s, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		cli_usage("option %s: '%s' is not an integer", opt, s);
	if (v < min || v > max)
		cli_usage("option %s: %lld is out of range [%lld, %lld]", opt, v, min, max);
	return v;
}

double cli_double(const char *opt, const char *s, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		cli_usage("option %s: '%s' is not a finite number", opt, s);
	if (v < min || v > max)
		cli_usage("option %s: %g is out of range [%g, %g]", opt, v, min, max);
	return v;
}

int cli_level(const char *s)
{
	return (int)cli_int("--level", s, mm_zstd_level_min(), mm_zstd_level_max());
}

uint64_t cli_u64(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	if (*s == '-')
		cli_usage("option %s: '%s' must not be negative", opt, s);
	/* decimal only: "010" is ten, not eight, and "0x10" is refused */
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		cli_usage("option %s: '%s' is not an unsigned integer", opt, s);
	return v;
}

const char *cli_field(const char *opt, const char *name)
{
	if (!*name)
		cli_usage("option %s: the field name is empty", opt);
	return name;
}

void cli_output_field(const char *opt, const char *name, const char *const *reads, size_t nreads)
{
	static const char *const reserved[] = {"id", "label", "split"};
	cli_field(opt, name);
	for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
		if (!strcmp(name, reserved[i]))
			cli_usage("option %s: '%s' is a reserved field (id, label and split are never "
				"written over)", opt, name);
	for (size_t i = 0; i < nreads; i++)
		if (reads[i] && !strcmp(name, reads[i]))
			cli_usage("option %s: '%s' is a field this run reads; give the output another name",
				opt, name);
}

char **cli_split(const char *s, char sep, size_t *n)
{
	size_t k = 1;
	for (const char *p = s; *p; p++)
		k += *p == sep;
	char **v = calloc(k + 1, sizeof *v);
	char *dup = strdup(s);
	if (!v || !dup)
		cli_die(MM_EXIT_USAGE, "out of memory");
	size_t i = 0;
	char *p = dup;
	for (;;) {
		char *q = strchr(p, sep);
		if (q)
			*q = 0;
		if (*p)
			v[i++] = p;
		if (!q)
			break;
		p = q + 1;
	}
	v[i] = NULL;
	if (i == 0)
		free(dup);   /* no string points into it: nothing would free it */
	if (n)
		*n = i;
	return v;
}

void cli_check_binary_stdout(bool force)
{
	if (!force && isatty(STDOUT_FILENO))
		cli_usage("refusing to write binary records to a terminal "
			"(redirect stdout, pipe it to 'mmoe cat --json', or use --force)");
}

int cli_finish(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: error writing standard output: %s\n", cli_prog, strerror(errno));
		cli_abort_outputs();
		exit(MM_EXIT_USAGE);
	}
	if (fclose(stdout) != 0) {
		fprintf(stderr, "%s: error closing standard output: %s\n", cli_prog, strerror(errno));
		cli_abort_outputs();
		exit(MM_EXIT_USAGE);
	}
	return MM_EXIT_OK;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, const char *what, uint64_t total)
{
	p->what = what;
	p->n = 0;
	p->total = total;
	p->t0 = p->last = now();
	p->on = !cli_quiet && isatty(STDERR_FILENO);
}

void cli_progress_tick(cli_progress *p, uint64_t n)
{
	p->n = n;
	if (!p->on || (n & 255))
		return;
	double t = now();
	if (t - p->last < 0.25)
		return;
	p->last = t;
	if (p->total)
		fprintf(stderr, "\r%s: %s %llu/%llu (%.0f/s)  ", cli_prog, p->what,
			(unsigned long long)n, (unsigned long long)p->total, n / (t - p->t0));
	else
		fprintf(stderr, "\r%s: %s %llu (%.0f/s)  ", cli_prog, p->what,
			(unsigned long long)n, n / (t - p->t0));
}

void cli_progress_end(cli_progress *p)
{
	if (p->on && p->last > p->t0)
		fputs("\r\033[K", stderr);
}

/* The short option string of opts: ':' (we report errors, not getopt), then
 * each letter once (aliases share theirs), followed by ':' for a required
 * value and '::' for an optional one.  Only letters and ':' are in it, so
 * strchr finds a letter already there. */
static const char *shortopts(const struct option *opts)
{
	static char s[3 * 128 + 2];
	size_t n = 0;
	s[n++] = ':';
	s[n] = 0;
	for (const struct option *o = opts; o->name; o++) {
		if (o->flag || o->val <= 0 || o->val >= 128 || !isalnum(o->val) || strchr(s + 1, o->val))
			continue;
		s[n++] = (char)o->val;
		if (o->has_arg != no_argument)
			s[n++] = ':';
		if (o->has_arg == optional_argument)
			s[n++] = ':';
		s[n] = 0;
	}
	return s;
}

int cli_getopt(int argc, char **argv, const struct option *opts, const cli_moved *moved)
{
	static const struct option *built;
	static const char *shorts;
	if (built != opts) {
		shorts = shortopts(opts);
		built = opts;
	}
	int c = getopt_long(argc, argv, shorts, opts, NULL);
	/* optopt is a letter the table no longer has only when the user wrote it
	 * as a short option: no long option of opts returns it. */
	if (c == '?' && moved)
		for (const cli_moved *m = moved; m->letter; m++)
			if (m->letter == optopt)
				cli_usage("-%c %s", m->letter, m->msg);
	return c;
}
