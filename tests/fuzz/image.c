/* tests/fuzz/image.c — the PNG/JPEG decoders and the area resize as a fuzz target.
 *
 * libFuzzer:  make fuzz   (clang -fsanitize=fuzzer,address,undefined)
 * Replayer:   cc -DMM_FUZZ_REPLAY ... tests/fuzz/image.c → a program that
 *             decodes every file named on its command line once
 *             (tests/image-fuzz.t does this over tests/fuzz/corpus/image).
 *
 * Every input is decoded with a 1-megapixel limit (so that a hostile header
 * is refused, not mistaken for an out-of-memory bug); a decoded image is
 * resized down and up, encoded as PNG and decoded again: the copy must be
 * the same pixels.  Errors are fine; crashes, leaks, hangs and sanitizer
 * reports are bugs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

#define FUZZ_MAX_PIXELS ((uint64_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mm_image im, small, big, back;
	mm_err e;
	unsigned char *png;
	size_t len;
	float f[7 * 5 * 3];

	if (mm_image_decode(&im, data, size, FUZZ_MAX_PIXELS, &e) != MM_OK) {
		if (im.px != NULL)
			abort(); /* a failed decode leaves no image */
		return 0;
	}
	if (im.c != 3 || im.w <= 0 || im.h <= 0)
		abort();
	if (mm_image_resize_area(&im, 7, 5, &small, &e) == MM_OK)
		mm_image_free(&small);
	(void)mm_image_resize_area_f(&im, 7, 5, f, &e);
	if (mm_image_resize_area(&im, im.w + 3, im.h + 1, &big, &e) == MM_OK)
		mm_image_free(&big);
	if (mm_png_encode(&im, &png, &len, &e) == MM_OK) {
		if (mm_image_decode(&back, png, len, FUZZ_MAX_PIXELS, &e) != MM_OK ||
				back.w != im.w || back.h != im.h ||
				memcmp(back.px, im.px, (size_t)im.w * im.h * 3) != 0)
			abort(); /* our own PNG must round-trip exactly */
		mm_image_free(&back);
		free(png);
	}
	mm_image_free(&im);
	return 0;
}

#include "replay.h"
