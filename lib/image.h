/* image.h — decoding, encoding and resizing raster images; safe image paths.
 *
 * An mm_image is an 8-bit raster with c interleaved channels (c = 3, RGB, for
 * everything the decoders return; the PNG encoder also takes c = 1 and 4).
 * It owns px (w*h*c bytes, row-major, no padding); mm_image_free() frees it.
 *
 * Decoders read PNG (libpng) and JPEG (libjpeg-turbo, libjpeg API) from
 * memory, detect the format from the magic bytes, and always return RGB8:
 *   - grey and grey+alpha become R = G = B;
 *   - palette images are expanded (tRNS becomes alpha);
 *   - 16-bit samples are scaled to 8 bits with rounding (v * 255 / 65535);
 *   - alpha is composited on white: out = (c*a + 255*(255-a)) / 255, rounded;
 *   - CMYK/YCCK JPEGs (Adobe, inverted) are converted to RGB.
 * The width*height of the header is checked against a pixel limit before any
 * pixel buffer is allocated (MM_ELIMIT); a 100000x100000 header costs nothing.
 * Undecodable data is MM_ECORRUPT, data that ends too early MM_ETRUNC; the
 * message says which format and what went wrong.  Decoders never exit (the
 * libjpeg error manager longjmps back) and are safe to call from several
 * threads at once on different images.
 */
#ifndef MM_IMAGE_H
#define MM_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "record.h"

typedef struct mm_image {
	int w, h, c;     /* width, height, channels */
	uint8_t *px;     /* w*h*c bytes, owned */
} mm_image;

/* Default pixel limit of the decoders: 64 megapixels. */
#define MM_IMAGE_MAX_PIXELS ((uint64_t)64 << 20)
/* Largest image file mm_image_load_field() reads: 256 MiB. */
#define MM_IMAGE_MAX_FILE ((size_t)256 << 20)

typedef enum mm_image_format {
	MM_IMG_UNKNOWN = 0,
	MM_IMG_PNG,
	MM_IMG_JPEG,
} mm_image_format;

/* Allocate a w x h x c image (pixels zeroed). */
mm_status mm_image_alloc(mm_image *im, int w, int h, int c, mm_err *e);
/* Free px and zero the struct; NULL and an empty image are fine. */
void mm_image_free(mm_image *im);

/* PNG-encode im (c = 1 grey, 3 RGB or 4 RGBA, 8 bits) into a malloc'ed
 * buffer *buf of *len bytes (caller frees).  Deterministic bytes. */
mm_status mm_png_encode(const mm_image *im, unsigned char **buf, size_t *len, mm_err *e);
/* JPEG-encode im (c = 1 or 3) at quality 1..100 (baseline, 4:2:0 for RGB). */
mm_status mm_jpeg_encode(const mm_image *im, int quality, unsigned char **buf,
		size_t *len, mm_err *e);

/* The format from the first bytes (PNG signature, JPEG SOI marker). */
mm_image_format mm_image_sniff(const void *buf, size_t len);
const char *mm_image_format_name(mm_image_format f);

/* Decode a PNG or JPEG held in memory into an RGB8 image (c = 3).
 * max_pixels 0 means MM_IMAGE_MAX_PIXELS.  On error *im is left empty. */
mm_status mm_image_decode(mm_image *im, const void *buf, size_t len,
		uint64_t max_pixels, mm_err *e);
mm_status mm_png_decode(mm_image *im, const void *buf, size_t len,
		uint64_t max_pixels, mm_err *e);
mm_status mm_jpeg_decode(mm_image *im, const void *buf, size_t len,
		uint64_t max_pixels, mm_err *e);
/* The same, for an image that will be shrunk to min_w x min_h (0, 0: keep
 * the full size): a JPEG larger than that is decoded at the smallest
 * reduced scale M/8 (M = 1..8, libjpeg-turbo's scaled IDCT) whose output is
 * at least min_w x min_h, which skips most of the work of the IDCT and of
 * the colour conversion.  An area resize of the result to min_w x min_h
 * differs from decode-then-resize by little (tests/unit/image.c states
 * the bound); PNG has no such mode and decodes in full. */
mm_status mm_image_decode_scaled(mm_image *im, const void *buf, size_t len,
		uint64_t max_pixels, int min_w, int min_h, mm_err *e);

/* Area-averaging resize (box filter over the exact footprint of each output
 * pixel, fractional source pixels weighted by their covered fraction).  Exact:
 * sums are kept in integers, so a 2x2 -> 1x1 resize is the mean of the four
 * pixels and a constant image stays constant, for any ratio (up- or down-).
 * mm_image_resize_area() rounds to the nearest 8-bit value into a new image
 * *dst (same channel count); mm_image_resize_area_f() writes the unrounded
 * values scaled to [0, 1] as h*w*c floats (row-major, interleaved) into out. */
mm_status mm_image_resize_area(const mm_image *src, int w, int h, mm_image *dst, mm_err *e);
mm_status mm_image_resize_area_f(const mm_image *src, int w, int h, float *out, mm_err *e);

/* Resolve an image path from a record.  Unless allow_any, path must be
 * relative, contain no ".." component, and its real path (symlinks followed,
 * realpath(3)) must lie inside the real path of root; root NULL or "" is the
 * current directory.  With allow_any, absolute paths are taken as they are
 * and relative ones are joined to root.  *out is malloc'ed (caller frees).
 * A path that does not exist is MM_EVALUE (bad data: exit status 1), an
 * escape MM_EVALUE too, an unreadable root MM_EIO. */
mm_status mm_path_resolve(const char *root, const char *path, bool allow_any,
		char **out, mm_err *e);

/* Where image fields come from and how big they may be. */
typedef struct mm_image_src {
	const char *root;     /* --image-root (NULL: current directory) */
	bool allow_any;       /* --allow-any-path */
	uint64_t max_pixels;  /* 0: MM_IMAGE_MAX_PIXELS */
	int min_w, min_h;     /* the working size, for mm_image_decode_scaled (0: full) */
} mm_image_src;

/* Load the image of field `field` of record r: a bin value holds PNG/JPEG
 * bytes, a string value is a path resolved by mm_path_resolve() under
 * src->root.  Absent field: MM_MISSING; another type: MM_ETYPE.  Every message
 * names the record and the field ("record 3 (id \"a\"): field \"image\": ..."). */
mm_status mm_image_load_field(mm_rec *r, const char *field, const mm_image_src *src,
		mm_image *im, mm_err *e);

#endif
