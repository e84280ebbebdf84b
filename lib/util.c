#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
		return MM_OK;
	}
	size_t n = strlen(path) + 32;
	a->path = strdup(path);
	a->tmp = malloc(n);
	if (!a->path || !a->tmp) {
		free(a->path);
		free(a->tmp);
		return mm_errf(e, MM_ENOMEM, "%s: out of memory", path);
	}
	snprintf(a->tmp, n, "%s.tmp.%ld", path, (long)getpid());
	a->f = fopen(a->tmp, "wb");
	if (!a->f) {
		mm_errf(e, MM_EIO, "%s: cannot create: %s", a->tmp, strerror(errno));
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
