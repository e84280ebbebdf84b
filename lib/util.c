#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

void *mm_alloc_aligned(size_t n, size_t size)
{
	void *p = NULL;
	if (size && n > SIZE_MAX / size)
		return NULL;
	size_t bytes = n * size;
	bytes = (bytes + 63) & ~(size_t)63;
	if (bytes == 0)
		bytes = 64;
	if (posix_memalign(&p, 64, bytes) != 0)
		return NULL;
	return p;
}

size_t mm_vec_argmax(const float *x, size_t n)
{
	size_t best = 0;
	for (size_t i = 1; i < n; i++)
		if (x[i] > x[best] || (isnan(x[best]) && !isnan(x[i])))
			best = i;
	return best;
}

void mm_vec_softmax(float *x, size_t n)
{
	if (n == 0)
		return;
	float mx = x[mm_vec_argmax(x, n)];
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += exp((double)x[i] - mx);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(exp((double)x[i] - mx) / s);
}

static void (*on_opening)(mm_atomic *a);
static void (*on_closed)(mm_atomic *a);

void mm_atomic_observe(void (*opening)(mm_atomic *a), void (*closed)(mm_atomic *a))
{
	on_opening = opening;
	on_closed = closed;
}

/* This host's name as it appears in temporary names: letters, digits, '-'
 * and '_' only (a '.' would make the pid ambiguous), at most 63 bytes. */
static void host_tag(char *buf, size_t size)
{
	char h[256] = "";
	if (gethostname(h, sizeof h - 1) != 0 || !*h)
		strcpy(h, "localhost");
	size_t n = 0;
	for (const char *p = h; *p && n + 1 < size && n < 63; p++) {
		unsigned char c = (unsigned char)*p;
		buf[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' ? (char)c : '_';
	}
	buf[n] = 0;
}

int mm_atomic_tmpname(char *buf, size_t size, const char *path)
{
	char host[64];
	host_tag(host, sizeof host);
	return snprintf(buf, size, "%s.tmp.%s.%ld", path, host, (long)getpid());
}

/* Remove "<path>.tmp.<this host>.<pid>" files whose pid is not alive here
 * (see util.h).  Best effort: any failure leaves the files alone. */
static void remove_stale(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char dir[4096], prefix[512], host[64];
	if (slash) {
		size_t n = (size_t)(slash - path);
		if (n >= sizeof dir)
			return;
		memcpy(dir, path, n);
		dir[n] = 0;
		if (n == 0)
			strcpy(dir, "/");
	} else {
		strcpy(dir, ".");
	}
	host_tag(host, sizeof host);
	int plen = snprintf(prefix, sizeof prefix, "%s.tmp.%s.", base, host);
	if (plen <= 0 || (size_t)plen >= sizeof prefix)
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, (size_t)plen) != 0)
			continue;
		const char *p = de->d_name + plen;
		size_t k = strspn(p, "0123456789");
		if (k == 0 || k > 9 || p[k] != 0 || *p == '0')
			continue;
		long pid = strtol(p, NULL, 10);
		if (pid == (long)getpid())
			continue;
		/* EPERM: alive under another user; only ESRCH means no such process */
		if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

mm_status mm_atomic_open(mm_atomic *a, const char *path, mm_err *e)
{
	memset(a, 0, sizeof *a);
	/* A device or FIFO (-o /dev/null) is written in place: renaming a
	 * temporary over it would replace the device with a regular file. */
	struct stat sb;
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
		a->path = strdup(path);
		if (!a->path)
			return mm_errf(e, MM_ENOMEM, "%s: out of memory", path);
		a->f = fopen(path, "wb");
		if (!a->f) {
			mm_errf(e, MM_EIO, "%s: cannot open: %s", path, strerror(errno));
			free(a->path);
			a->path = NULL;
			return MM_EIO;
		}
		if (on_opening)
			on_opening(a);
		return MM_OK;
	}
	size_t n = strlen(path) + 96;
	a->path = strdup(path);
	a->tmp = malloc(n);
	if (!a->path || !a->tmp) {
		free(a->path);
		free(a->tmp);
		return mm_errf(e, MM_ENOMEM, "%s: out of memory", path);
	}
	mm_atomic_tmpname(a->tmp, n, path);
	remove_stale(path);
	if (on_opening)
		on_opening(a);
	a->f = fopen(a->tmp, "wb");
	if (!a->f) {
		int err = errno;
		if (on_closed)
			on_closed(a);
		mm_errf(e, MM_EIO, "%s: cannot create: %s", a->tmp, strerror(err));
		free(a->path);
		free(a->tmp);
		a->path = a->tmp = NULL;
		return MM_EIO;
	}
	return MM_OK;
}

mm_status mm_atomic_commit(mm_atomic *a, mm_err *e)
{
	mm_status st = MM_OK;
	if (fflush(a->f) != 0 || ferror(a->f))
		st = mm_errf(e, MM_EIO, "%s: write error: %s", a->path, strerror(errno));
	else if (a->tmp && fsync(fileno(a->f)) != 0 && errno != EINVAL)
		st = mm_errf(e, MM_EIO, "%s: fsync: %s", a->path, strerror(errno));
	if (fclose(a->f) != 0 && st == MM_OK)
		st = mm_errf(e, MM_EIO, "%s: close: %s", a->path, strerror(errno));
	a->f = NULL;
	if (st == MM_OK && a->tmp && rename(a->tmp, a->path) != 0)
		st = mm_errf(e, MM_EIO, "%s: rename: %s", a->path, strerror(errno));
	if (st != MM_OK && a->tmp)
		unlink(a->tmp);
	if (on_closed)
		on_closed(a);
	free(a->path);
	free(a->tmp);
	a->path = a->tmp = NULL;
	return st;
}

void mm_atomic_abort(mm_atomic *a)
{
	if (a->f)
		fclose(a->f);
	if (a->tmp)
		unlink(a->tmp);
	if (a->path && on_closed)
		on_closed(a);
	free(a->path);
	free(a->tmp);
	memset(a, 0, sizeof *a);
}

mm_status mm_read_file(const char *path, size_t limit, char **buf, size_t *len, mm_err *e)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 65536, n = 0;
	char *b;
	*buf = NULL;
	*len = 0;
	if (!f)
		return mm_errf(e, MM_EIO, "%s: %s", path, strerror(errno));
	b = malloc(cap + 1);
	if (!b)
		goto nomem;
	for (;;) {
		if (n == cap) {
			if (limit && cap >= limit + 1)
				break;
			size_t ncap = cap * 2;
			char *nb = realloc(b, ncap + 1);
			if (!nb)
				goto nomem;
			b = nb;
			cap = ncap;
		}
		size_t k = fread(b + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
		if (limit && n > limit)
			break;
	}
	if (ferror(f)) {
		mm_errf(e, MM_EIO, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	if (limit && n > limit) {
		mm_errf(e, MM_ELIMIT, "%s: larger than the limit of %zu bytes", path, limit);
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	b[n] = 0;
	*buf = b;
	*len = n;
	return MM_OK;
nomem:
	mm_errf(e, MM_ENOMEM, "%s: out of memory", path);
fail:
	free(b);
	if (f != stdin)
		fclose(f);
	return e ? e->status : MM_EIO;
}

double mm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
