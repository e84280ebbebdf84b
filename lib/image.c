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

#include <assert.h>
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

static void png_read_cb(png_structp png, png_bytep data, png_size_t n)
{
	png_ctx *c = png_get_io_ptr(png);
	if (n > c->len - c->pos) {
		c->truncated = 1;
		png_error(png, "data ends early");
	}
	memcpy(data, c->in + c->pos, n);
	c->pos += n;
}

/* Composite an RGBA row on white into RGB, in place (dst may alias src). */
static void composite_white(uint8_t *dst, const uint8_t *src, size_t npix)
{
	for (size_t i = 0; i < npix; i++) {
		unsigned a = src[4 * i + 3];
		for (int k = 0; k < 3; k++) {
			unsigned v = src[4 * i + k];
			dst[3 * i + k] = (uint8_t)((v * a + 255u * (255u - a) + 127u) / 255u);
		}
	}
}

static mm_status pixel_limit(const char *fmt, uint64_t w, uint64_t h, uint64_t max, mm_err *e)
{
	if (max == 0)
		max = MM_IMAGE_MAX_PIXELS;
	if (w == 0 || h == 0)
		return mm_errf(e, MM_ECORRUPT, "%s: image has zero size (%llux%llu)", fmt,
				(unsigned long long)w, (unsigned long long)h);
	if (w * h > max)
		return mm_errf(e, MM_ELIMIT, "%s: image %llux%llu has %llu pixels, more than the limit of %llu",
				fmt, (unsigned long long)w, (unsigned long long)h,
				(unsigned long long)(w * h), (unsigned long long)max);
	return MM_OK;
}

mm_status mm_png_decode(mm_image *im, const void *buf, size_t len, uint64_t max_pixels, mm_err *e)
{
	png_ctx ctx;
	png_structp png;
	png_infop info;
	uint8_t *volatile raw = NULL;
	png_bytep *volatile rows = NULL;
	png_uint_32 w, h;
	int depth, ctype, inter;
	mm_status st;

	memset(im, 0, sizeof *im);
	if (len < 8)
		return mm_errf(e, MM_ETRUNC, "PNG: data ends inside the signature (%zu bytes)", len);
	if (png_sig_cmp((png_const_bytep)buf, 0, 8) != 0)
		return mm_errf(e, MM_ECORRUPT, "PNG: bad signature");
	memset(&ctx, 0, sizeof ctx);
	ctx.in = buf;
	ctx.len = len;
	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_err_cb, png_warn_cb);
	if (!png)
		return mm_errf(e, MM_ENOMEM, "PNG: out of memory");
	info = png_create_info_struct(png);
	if (!info) {
		png_destroy_read_struct(&png, NULL, NULL);
		return mm_errf(e, MM_ENOMEM, "PNG: out of memory");
	}
	if (setjmp(ctx.jb)) {
		png_destroy_read_struct(&png, &info, NULL);
		free(raw);
		free(rows);
		if (ctx.truncated)
			return mm_errf(e, MM_ETRUNC, "PNG: truncated: %s", ctx.msg);
		return mm_errf(e, MM_ECORRUPT, "PNG: corrupt: %s", ctx.msg);
	}
	png_set_read_fn(png, &ctx, png_read_cb);
	/* our own pixel limit decides, not libpng's 1000000-per-side default */
	png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
	png_read_info(png, info);
	png_get_IHDR(png, info, &w, &h, &depth, &ctype, &inter, NULL, NULL);
	st = pixel_limit("PNG", w, h, max_pixels, e);
	if (st != MM_OK) {
		png_destroy_read_struct(&png, &info, NULL);
		return st;
	}
	if (ctype == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (png_get_valid(png, info, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(png);
	if (depth == 16)
		png_set_scale_16(png);
	if (!(ctype & PNG_COLOR_MASK_COLOR))
		png_set_gray_to_rgb(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	int ch = png_get_channels(png, info);
	size_t rowbytes = png_get_rowbytes(png, info);
	if ((ch != 3 && ch != 4) || rowbytes != (size_t)w * (size_t)ch)
		png_error(png, "unexpected pixel layout after conversion");
	raw = malloc(rowbytes * h);
	rows = malloc(sizeof *rows * h);
	if (!raw || !rows) {
		ctx.out.oom = 1;
		png_error(png, "out of memory");
	}
	for (png_uint_32 y = 0; y < h; y++)
		rows[y] = raw + (size_t)y * rowbytes;
	png_read_image(png, rows);
	png_read_end(png, NULL);
	png_destroy_read_struct(&png, &info, NULL);
	free(rows);
	if (ch == 4) {
		composite_white(raw, raw, (size_t)w * h);
		uint8_t *p = realloc(raw, (size_t)w * h * 3);
		if (p)
			raw = p;
	}
	im->w = (int)w;
	im->h = (int)h;
	im->c = 3;
	im->px = raw;
	return MM_OK;
}

/* ---- JPEG ---- */

typedef struct jpeg_ctx {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	int truncated;
	char msg[JMSG_LENGTH_MAX];
	/* writing */
	struct jpeg_destination_mgr dst;
	JOCTET chunk[16384];
	membuf out;
} jpeg_ctx;

static void jpeg_error_exit_cb(j_common_ptr ci)
{
	jpeg_ctx *c = (jpeg_ctx *)ci->err;
	(*ci->err->format_message)(ci, c->msg);
	longjmp(c->jb, 1);
}

/* Warnings: a premature end of data (the memory source then fakes an EOI
 * and libjpeg would return a grey-padded image) is an error; other
 * recoverable warnings (extraneous bytes before a marker, ...) are tolerated,
 * as every common decoder does. */
static void jpeg_emit_cb(j_common_ptr ci, int level)
{
	jpeg_ctx *c = (jpeg_ctx *)ci->err;
	if (level < 0) {
		c->pub.num_warnings++;
		if (c->pub.msg_code == JWRN_JPEG_EOF) {
			c->truncated = 1;
			(*ci->err->format_message)(ci, c->msg);
			longjmp(c->jb, 1);
		}
	}
}

static void jpeg_output_cb(j_common_ptr ci)
{
	(void)ci; /* never print */
}

static void jpeg_init_err(jpeg_ctx *c)
{
	jpeg_std_error(&c->pub);
	c->pub.error_exit = jpeg_error_exit_cb;
	c->pub.emit_message = jpeg_emit_cb;
	c->pub.output_message = jpeg_output_cb;
}

static mm_status jpeg_decode(mm_image *im, const void *buf, size_t len, uint64_t max_pixels,
		int min_w, int min_h, mm_err *e);

mm_status mm_jpeg_decode(mm_image *im, const void *buf, size_t len, uint64_t max_pixels, mm_err *e)
{
	return jpeg_decode(im, buf, len, max_pixels, 0, 0, e);
}

/* The smallest M of M/8 whose output (libjpeg's ceil(dim * M / 8)) is at
 * least the wanted size on both sides; 8 when none is smaller. */
static int jpeg_scale(unsigned w, unsigned h, int min_w, int min_h)
{
	if (min_w <= 0 || min_h <= 0)
		return 8;
	for (int m = 1; m < 8; m++)
		if ((w * (unsigned)m + 7) / 8 >= (unsigned)min_w && (h * (unsigned)m + 7) / 8 >= (unsigned)min_h)
			return m;
	return 8;
}

static mm_status jpeg_decode(mm_image *im, const void *buf, size_t len, uint64_t max_pixels,
		int min_w, int min_h, mm_err *e)
{
	struct jpeg_decompress_struct ci;
	jpeg_ctx *c;
	uint8_t *volatile raw = NULL;
	mm_status st;

	memset(im, 0, sizeof *im);
	if (len < 3)
		return mm_errf(e, MM_ETRUNC, "JPEG: data ends inside the first marker (%zu bytes)", len);
	if (len > ULONG_MAX)
		return mm_errf(e, MM_ELIMIT, "JPEG: data too large");
	/* heap, not stack: the context is 17 KB and threads may have small stacks */
	c = calloc(1, sizeof *c);
	if (!c)
		return mm_errf(e, MM_ENOMEM, "JPEG: out of memory");
	memset(&ci, 0, sizeof ci);
	jpeg_init_err(c);
	ci.err = &c->pub;
	if (setjmp(c->jb)) {
		jpeg_destroy_decompress(&ci);
		free(raw);
		if (c->truncated)
			st = mm_errf(e, MM_ETRUNC, "JPEG: truncated: %s", c->msg);
		else
			st = mm_errf(e, MM_ECORRUPT, "JPEG: corrupt: %s", c->msg);
		free(c);
		return st;
	}
	jpeg_create_decompress(&ci);
	jpeg_mem_src(&ci, (const unsigned char *)buf, (unsigned long)len);
	jpeg_read_header(&ci, TRUE);
	st = pixel_limit("JPEG", ci.image_width, ci.image_height, max_pixels, e);
	if (st != MM_OK) {
		jpeg_destroy_decompress(&ci);
		free(c);
		return st;
	}
	int cmyk = ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK;
	ci.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
	ci.scale_num = (unsigned)jpeg_scale(ci.image_width, ci.image_height, min_w, min_h);
	ci.scale_denom = 8;
	jpeg_start_decompress(&ci);
	int ch = ci.output_components;
	if (ch != (cmyk ? 4 : 3)) {
		snprintf(c->msg, sizeof c->msg, "unexpected %d output components", ch);
		longjmp(c->jb, 1);
	}
	size_t w = ci.output_width, h = ci.output_height;
	raw = malloc(w * h * (size_t)ch);
	if (!raw) {
		jpeg_destroy_decompress(&ci);
		free(c);
		return mm_errf(e, MM_ENOMEM, "JPEG: image %zux%zu: out of memory", w, h);
	}
	while (ci.output_scanline < ci.output_height) {
		JSAMPROW row = raw + (size_t)ci.output_scanline * w * (size_t)ch;
		jpeg_read_scanlines(&ci, &row, 1);
	}
	jpeg_finish_decompress(&ci);
	jpeg_destroy_decompress(&ci);
	free(c);
	if (cmyk) {
		/* Adobe writes inverted CMYK: R = C*K/255 on the stored values. */
		uint8_t *p = raw;
		for (size_t i = 0; i < w * h; i++) {
			unsigned k = p[4 * i + 3];
			for (int j = 0; j < 3; j++)
				p[3 * i + j] = (uint8_t)((p[4 * i + j] * k + 127u) / 255u);
		}
		uint8_t *q = realloc(raw, w * h * 3);
		if (q)
			raw = q;
	}
	im->w = (int)w;
	im->h = (int)h;
	im->c = 3;
	im->px = raw;
	return MM_OK;
}

static void jdst_init(j_compress_ptr ci)
{
	jpeg_ctx *c = (jpeg_ctx *)ci->err;
	c->dst.next_output_byte = c->chunk;
	c->dst.free_in_buffer = sizeof c->chunk;
}

static boolean jdst_empty(j_compress_ptr ci)
{
	jpeg_ctx *c = (jpeg_ctx *)ci->err;
	if (membuf_put(&c->out, c->chunk, sizeof c->chunk) != 0)
		ERREXIT(ci, JERR_OUT_OF_MEMORY);
	c->dst.next_output_byte = c->chunk;
	c->dst.free_in_buffer = sizeof c->chunk;
	return TRUE;
}

static void jdst_term(j_compress_ptr ci)
{
	jpeg_ctx *c = (jpeg_ctx *)ci->err;
	size_t n = sizeof c->chunk - c->dst.free_in_buffer;
	if (membuf_put(&c->out, c->chunk, n) != 0)
		ERREXIT(ci, JERR_OUT_OF_MEMORY);
}

mm_status mm_jpeg_encode(const mm_image *im, int quality, unsigned char **buf, size_t *len, mm_err *e)
{
	struct jpeg_compress_struct ci;
	jpeg_ctx *c;
	mm_status st;

	*buf = NULL;
	*len = 0;
	if (!im || !im->px || im->w <= 0 || im->h <= 0)
		return mm_errf(e, MM_EVALUE, "JPEG encode: empty image");
	if (im->c != 1 && im->c != 3)
		return mm_errf(e, MM_EVALUE, "JPEG encode: %d channels (want 1 or 3)", im->c);
	if (quality < 1 || quality > 100)
		return mm_errf(e, MM_EVALUE, "JPEG encode: quality %d not in 1..100", quality);
	c = calloc(1, sizeof *c);
	if (!c)
		return mm_errf(e, MM_ENOMEM, "JPEG encode: out of memory");
	memset(&ci, 0, sizeof ci);
	jpeg_init_err(c);
	ci.err = &c->pub;
	if (setjmp(c->jb)) {
		jpeg_destroy_compress(&ci);
		free(c->out.p);
		st = mm_errf(e, c->out.oom ? MM_ENOMEM : MM_EVALUE, "JPEG encode: %s", c->msg);
		free(c);
		return st;
	}
	jpeg_create_compress(&ci);
	c->dst.init_destination = jdst_init;
	c->dst.empty_output_buffer = jdst_empty;
	c->dst.term_destination = jdst_term;
	ci.dest = &c->dst;
	ci.image_width = (JDIMENSION)im->w;
	ci.image_height = (JDIMENSION)im->h;
	ci.input_components = im->c;
	ci.in_color_space = im->c == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, quality, TRUE);
	jpeg_start_compress(&ci, TRUE);
	size_t stride = (size_t)im->w * (size_t)im->c;
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = im->px + (size_t)ci.next_scanline * stride;
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	*buf = c->out.p;
	*len = c->out.n;
	free(c);
	return MM_OK;
}

/* ---- format detection ---- */

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

mm_image_format mm_image_sniff(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	if (len >= 8 && memcmp(p, png_sig, 8) == 0)
		return MM_IMG_PNG;
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return MM_IMG_JPEG;
	return MM_IMG_UNKNOWN;
}

const char *mm_image_format_name(mm_image_format f)
{
	switch (f) {
	case MM_IMG_PNG: return "PNG";
	case MM_IMG_JPEG: return "JPEG";
	default: return "unknown";
	}
}

mm_status mm_image_decode(mm_image *im, const void *buf, size_t len, uint64_t max_pixels, mm_err *e)
{
	return mm_image_decode_scaled(im, buf, len, max_pixels, 0, 0, e);
}

mm_status mm_image_decode_scaled(mm_image *im, const void *buf, size_t len, uint64_t max_pixels,
		int min_w, int min_h, mm_err *e)
{
	const unsigned char *p = buf;
	memset(im, 0, sizeof *im);
	switch (mm_image_sniff(buf, len)) {
	case MM_IMG_PNG:
		return mm_png_decode(im, buf, len, max_pixels, e);
	case MM_IMG_JPEG:
		return jpeg_decode(im, buf, len, max_pixels, min_w, min_h, e);
	default:
		break;
	}
	if (len == 0)
		return mm_errf(e, MM_ECORRUPT, "empty image data");
	if (len < 8 && memcmp(p, png_sig, len) == 0)
		return mm_errf(e, MM_ETRUNC, "PNG: data ends inside the signature (%zu bytes)", len);
	if (len < 3 && p[0] == 0xff && (len < 2 || p[1] == 0xd8))
		return mm_errf(e, MM_ETRUNC, "JPEG: data ends inside the first marker (%zu bytes)", len);
	char hex[3 * 8 + 1] = "";
	for (size_t i = 0; i < len && i < 8; i++)
		snprintf(hex + 3 * i, 4, "%s%02x", i ? " " : "", p[i]);
	return mm_errf(e, MM_ECORRUPT, "not a PNG or JPEG image (starts with %s)", hex);
}

/* ---- area resize ----
 *
 * One axis of n source pixels mapped onto m output pixels: in units where a
 * source pixel is m long and an output pixel n long, output o covers
 * [o*n, (o+1)*n) and source i covers [i*m, (i+1)*m).  The weight of i in o is
 * the integer length of the overlap; the weights of one output sum to n.
 * The 2-D value is sum wx*wy*v / (nx*ny), computed exactly in integers.
 */
typedef struct axis_map {
	int *first;     /* first source index of output o */
	int *count;     /* number of source pixels of output o */
	uint32_t *w;    /* weights, stride `span` per output */
	int span;
} axis_map;

static void axis_free(axis_map *a)
{
	free(a->first);
	free(a->count);
	free(a->w);
}

static int axis_build(axis_map *a, int n, int m)
{
	/* an output covers n/m source pixels, so touches at most ceil(n/m)+1 */
	a->span = n / m + 2;
	a->first = malloc(sizeof *a->first * (size_t)m);
	a->count = malloc(sizeof *a->count * (size_t)m);
	a->w = malloc(sizeof *a->w * (size_t)m * (size_t)a->span);
	if (!a->first || !a->count || !a->w) {
		axis_free(a);
		return -1;
	}
	for (int o = 0; o < m; o++) {
		uint64_t lo = (uint64_t)o * (uint64_t)n, hi = lo + (uint64_t)n;
		int i0 = (int)(lo / (uint64_t)m), k = 0;
		a->first[o] = i0;
		for (int i = i0; i < n && (uint64_t)i * (uint64_t)m < hi; i++) {
			uint64_t s0 = (uint64_t)i * (uint64_t)m, s1 = s0 + (uint64_t)m;
			uint64_t a0 = s0 > lo ? s0 : lo, a1 = s1 < hi ? s1 : hi;
			assert(k < a->span);
			a->w[(size_t)o * (size_t)a->span + (size_t)k++] = (uint32_t)(a1 - a0);
		}
		a->count[o] = k;
	}
	return 0;
}

/* Calls emit(row of w*c sums, denominator) per output row. */
static mm_status resize_core(const mm_image *src, int w, int h, uint8_t *out8, float *outf, mm_err *e)
{
	axis_map ax = {0}, ay = {0};
	uint64_t *acc = NULL;
	mm_status st = MM_OK;
	int c = src->c;

	if (!src->px || src->w <= 0 || src->h <= 0 || c <= 0)
		return mm_errf(e, MM_EVALUE, "resize: empty image");
	if (w <= 0 || h <= 0)
		return mm_errf(e, MM_EVALUE, "resize: bad target size %dx%d", w, h);
	if ((uint64_t)src->w > UINT32_MAX / 2 || (uint64_t)src->h > UINT32_MAX / 2)
		return mm_errf(e, MM_ELIMIT, "resize: image too large");
	if (w == src->w && h == src->h) {
		/* identity: the general path gives exactly these values, (v*n)/(n*255) */
		size_t n = (size_t)w * (size_t)h * (size_t)c;
		if (out8) {
			memcpy(out8, src->px, n);
		} else {
			float lut[256];
			for (int v = 0; v < 256; v++)
				lut[v] = (float)(v / 255.0);
			for (size_t i = 0; i < n; i++)
				outf[i] = lut[src->px[i]];
		}
		return MM_OK;
	}
	if (axis_build(&ax, src->w, w) != 0 || axis_build(&ay, src->h, h) != 0) {
		st = mm_errf(e, MM_ENOMEM, "resize: out of memory");
		goto done;
	}
	acc = malloc(sizeof *acc * (size_t)src->w * (size_t)c);
	if (!acc) {
		st = mm_errf(e, MM_ENOMEM, "resize: out of memory");
		goto done;
	}
	const uint64_t den = (uint64_t)src->w * (uint64_t)src->h;
	const size_t sstride = (size_t)src->w * (size_t)c;
	for (int oy = 0; oy < h; oy++) {
		memset(acc, 0, sizeof *acc * sstride);
		for (int k = 0; k < ay.count[oy]; k++) {
			uint64_t wy = ay.w[(size_t)oy * (size_t)ay.span + (size_t)k];
			const uint8_t *row = src->px + (size_t)(ay.first[oy] + k) * sstride;
			for (size_t i = 0; i < sstride; i++)
				acc[i] += wy * row[i];
		}
		for (int ox = 0; ox < w; ox++) {
			for (int ch = 0; ch < c; ch++) {
				uint64_t s = 0;
				for (int k = 0; k < ax.count[ox]; k++)
					s += ax.w[(size_t)ox * (size_t)ax.span + (size_t)k] *
						acc[(size_t)(ax.first[ox] + k) * (size_t)c + (size_t)ch];
				size_t o = ((size_t)oy * (size_t)w + (size_t)ox) * (size_t)c + (size_t)ch;
				if (out8)
					out8[o] = (uint8_t)((s + den / 2) / den);
				else
					outf[o] = (float)((double)s / ((double)den * 255.0));
			}
		}
	}
done:
	free(acc);
	axis_free(&ax);
	axis_free(&ay);
	return st;
}

mm_status mm_image_resize_area(const mm_image *src, int w, int h, mm_image *dst, mm_err *e)
{
	mm_status st = mm_image_alloc(dst, w, h, src->c, e);
	if (st != MM_OK)
		return st;
	st = resize_core(src, w, h, dst->px, NULL, e);
	if (st != MM_OK)
		mm_image_free(dst);
	return st;
}

mm_status mm_image_resize_area_f(const mm_image *src, int w, int h, float *out, mm_err *e)
{
	return resize_core(src, w, h, NULL, out, e);
}

/* ---- paths ---- */

static int has_dotdot(const char *p)
{
	while (*p) {
		const char *s = strchr(p, '/');
		size_t n = s ? (size_t)(s - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		if (!s)
			break;
		p = s + 1;
	}
	return 0;
}

mm_status mm_path_resolve(const char *root, const char *path, bool allow_any, char **out, mm_err *e)
{
	char *full = NULL, *real = NULL, *rroot = NULL;
	mm_status st = MM_OK;
	struct stat sb;

	*out = NULL;
	if (!root || !*root)
		root = ".";
	if (!path || !*path)
		return mm_errf(e, MM_EVALUE, "empty image path");
	if (!allow_any) {
		if (path[0] == '/')
			return mm_errf(e, MM_EVALUE, "absolute image path \"%s\" refused (see --allow-any-path)", path);
		if (has_dotdot(path))
			return mm_errf(e, MM_EVALUE, "image path \"%s\" refused: \"..\" escapes the image root", path);
	}
	if (path[0] == '/')
		full = strdup(path);
	else if (asprintf(&full, "%s/%s", root, path) < 0)
		full = NULL;
	if (!full)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	real = realpath(full, NULL);
	if (!real) {
		/* a symbolic link loop leads to no file: bad data, as a missing one */
		if (errno == ENOENT || errno == ENOTDIR)
			st = mm_errf(e, MM_EVALUE, "image file \"%s\": no such file", full);
		else if (errno == ELOOP)
			st = mm_errf(e, MM_EVALUE, "image file \"%s\": no such file (a loop of symbolic links)", full);
		else if (errno == ENOMEM)
			st = mm_errf(e, MM_ENOMEM, "out of memory");
		else
			st = mm_errf(e, MM_EIO, "image file \"%s\": %s", full, strerror(errno));
		goto done;
	}
	if (!allow_any) {
		rroot = realpath(root, NULL);
		if (!rroot) {
			st = mm_errf(e, MM_EIO, "image root \"%s\": %s", root, strerror(errno));
			goto done;
		}
		size_t n = strlen(rroot);
		if (n > 0 && rroot[n - 1] == '/')
			n--; /* root "/" */
		if (strncmp(real, rroot, n) == 0 && real[n] == 0) {
			st = mm_errf(e, MM_EVALUE, "image path \"%s\" refused: it is the image root directory "
					"itself, not an image file", path);
			goto done;
		}
		if (strncmp(real, rroot, n) != 0 || real[n] != '/') {
			st = mm_errf(e, MM_EVALUE, "image path \"%s\" refused: resolves to \"%s\", outside the image root \"%s\"",
					path, real, rroot);
			goto done;
		}
	}
	if (stat(real, &sb) != 0) {
		st = mm_errf(e, MM_EIO, "image file \"%s\": %s", real, strerror(errno));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		st = mm_errf(e, MM_EVALUE, "image file \"%s\": not a regular file", full);
		goto done;
	}
	*out = real;
	real = NULL;
done:
	free(full);
	free(real);
	free(rroot);
	return st;
}

mm_status mm_image_load_field(mm_rec *r, const char *field, const mm_image_src *src,
		mm_image *im, mm_err *e)
{
	static const mm_image_src dflt = { NULL, false, 0, 0, 0 };
	char where[256];
	mm_status st;

	memset(im, 0, sizeof *im);
	if (!src)
		src = &dflt;
	const msgpack_object *o = mm_rec_get(r, field);
	if (!o) {
		mm_rec_where(r, where, sizeof where);
		return mm_errf(e, MM_MISSING, "%s: field \"%s\": missing (expected image bytes or a path)",
				where, field);
	}
	if (o->type == MSGPACK_OBJECT_BIN) {
		st = mm_image_decode_scaled(im, o->via.bin.ptr, o->via.bin.size, src->max_pixels,
				src->min_w, src->min_h, e);
	} else if (o->type == MSGPACK_OBJECT_STR) {
		char *path = NULL, *res = NULL, *data = NULL;
		size_t n = o->via.str.size, len = 0;
		if (memchr(o->via.str.ptr, 0, n) || n > 4096) {
			st = mm_errf(e, MM_EVALUE, "bad image path (NUL byte or longer than 4096 bytes)");
		} else if (!(path = strndup(o->via.str.ptr, n))) {
			st = mm_errf(e, MM_ENOMEM, "out of memory");
		} else if ((st = mm_path_resolve(src->root, path, src->allow_any, &res, e)) == MM_OK &&
				(st = mm_read_file(res, MM_IMAGE_MAX_FILE, &data, &len, e)) == MM_OK) {
			st = mm_image_decode_scaled(im, data, len, src->max_pixels, src->min_w, src->min_h, e);
			if (st != MM_OK)
				mm_err_prefix(e, "image file \"%s\"", path);
		}
		free(data);
		free(res);
		free(path);
	} else {
		mm_rec_where(r, where, sizeof where);
		return mm_errf(e, MM_ETYPE, "%s: field \"%s\": expected image bytes (bin) or a path (string), got %s",
				where, field, mm_obj_typename(o));
	}
	if (st != MM_OK) {
		mm_rec_where(r, where, sizeof where);
		mm_err_prefix(e, "%s: field \"%s\"", where, field);
	}
	return st;
}
