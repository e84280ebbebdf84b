/* image.c — PNG/JPEG codecs over memory buffers, area resize, safe paths.
 *
 * Both codec libraries report errors by longjmp (libpng through png_error,
 * libjpeg through the error manager's error_exit, which by default calls
 * exit()).  Every codec function below installs its own handler that records
 * the message and longjmps back to the function, which then frees what it
 * allocated and returns a status.  Locals modified between setjmp and
 * longjmp are volatile.
 */
#include "image.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include "util.h"

mm_status mm_image_alloc(mm_image *im, int w, int h, int c, mm_err *e)
{
	memset(im, 0, sizeof *im);
	if (w <= 0 || h <= 0 || c <= 0 || c > 4)
		return mm_errf(e, MM_EVALUE, "bad image shape %dx%dx%d", w, h, c);
	size_t n = (size_t)w * (size_t)h;
	if (n > SIZE_MAX / (size_t)c)
		return mm_errf(e, MM_ELIMIT, "image %dx%d too large", w, h);
	im->px = calloc(n * (size_t)c, 1);
	if (!im->px)
		return mm_errf(e, MM_ENOMEM, "image %dx%d: out of memory", w, h);
	im->w = w;
	im->h = h;
	im->c = c;
	return MM_OK;
}

void mm_image_free(mm_image *im)
{
	if (!im)
		return;
	free(im->px);
	memset(im, 0, sizeof *im);
}

/* ---- growing memory buffer shared by both encoders ---- */

typedef struct membuf {
	unsigned char *p;
	size_t n, cap;
	int oom;
} membuf;

static int membuf_put(membuf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n)
			cap *= 2;
		unsigned char *q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return -1;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}

/* ---- PNG ---- */

typedef struct png_ctx {
	jmp_buf jb;
	char msg[256];
	/* reading */
	const unsigned char *in;
	size_t len, pos;
	int truncated;
	/* writing */
	membuf out;
} png_ctx;

static void png_err_cb(png_structp png, png_const_charp msg)
{
	png_ctx *c = png_get_error_ptr(png);
	snprintf(c->msg, sizeof c->msg, "%s", msg);
	longjmp(c->jb, 1);
}

static void png_warn_cb(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg; /* warnings (bad ancillary CRCs, ...) are not errors */
}

static void png_write_cb(png_structp png, png_bytep data, png_size_t n)
{
	png_ctx *c = png_get_io_ptr(png);
	if (membuf_put(&c->out, data, n) != 0)
		png_error(png, "out of memory");
}

static void png_flush_cb(png_structp png)
{
	(void)png;
}

mm_status mm_png_encode(const mm_image *im, unsigned char **buf, size_t *len, mm_err *e)
{
	png_ctx ctx;
	png_structp png = NULL;
	png_infop info = NULL;
	int type;

	*buf = NULL;
	*len = 0;
	if (!im || !im->px || im->w <= 0 || im->h <= 0)
		return mm_errf(e, MM_EVALUE, "PNG encode: empty image");
	switch (im->c) {
	case 1: type = PNG_COLOR_TYPE_GRAY; break;
	case 2: type = PNG_COLOR_TYPE_GRAY_ALPHA; break;
	case 3: type = PNG_COLOR_TYPE_RGB; break;
	case 4: type = PNG_COLOR_TYPE_RGB_ALPHA; break;
	default:
		return mm_errf(e, MM_EVALUE, "PNG encode: %d channels (want 1 to 4)", im->c);
	}
	memset(&ctx, 0, sizeof ctx);
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_err_cb, png_warn_cb);
	if (!png)
		return mm_errf(e, MM_ENOMEM, "PNG encode: out of memory");
	info = png_create_info_struct(png);
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return mm_errf(e, MM_ENOMEM, "PNG encode: out of memory");
	}
	if (setjmp(ctx.jb)) {
		png_destroy_write_struct(&png, &info);
		free(ctx.out.p);
		return mm_errf(e, ctx.out.oom ? MM_ENOMEM : MM_EVALUE, "PNG encode: %s", ctx.msg);
	}
	png_set_write_fn(png, &ctx, png_write_cb, png_flush_cb);
	png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8, type,
			PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	size_t stride = (size_t)im->w * (size_t)im->c;
	for (int y = 0; y < im->h; y++)
		png_write_row(png, (png_const_bytep)(im->px + (size_t)y * stride));
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	*buf = ctx.out.p;
	*len = ctx.out.n;
	return MM_OK;
}
