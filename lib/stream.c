/* stream.c — record streams: msgpack maps, plain or in zstd frames.
 *
 * Reading.  Raw input bytes land in rd->raw.  In zstd mode they are
 * decompressed straight into the msgpack unpacker's buffer; in plain mode
 * they are copied there.  The mode is decided at every boundary where it can
 * change: at the start of input and after every complete zstd frame (next
 * bytes are a zstd or skippable magic, or plain msgpack), and, in plain mode,
 * at every record boundary (a record is a map, whose first byte is never
 * 0x28 or 0x5?, so a zstd magic there cannot be confused with data).
 *
 * Before the unpacker sees a record, scan() walks its bytes without building
 * anything: it finds where the record ends and checks every declared length
 * and element count against MMOE_MAX_RECORD and against the bytes that can
 * still follow.  msgpack-c allocates an array's or map's elements as soon as
 * it reads the header, so a 5-byte "array of 4G elements" would otherwise
 * reserve 100 GB; a bin header claiming 4 GB is refused before its payload is
 * buffered.  The unpacker then parses only complete records.
 *
 * Each decoded record takes over the unpacker's zone (zero copy; the zone
 * keeps the unpacker buffer chunk it points into alive), so records outlive
 * the next call and memory stays one record plus the codec buffers.
 *
 * Failure modes are errors, never an early end: a zstd frame that stops
 * before its end (MM_ETRUNC), bytes left that do not complete a record
 * (MM_ETRUNC), a checksum or format error (MM_ECORRUPT), a msgpack parse
 * error (MM_ECORRUPT), a record over the size limit (MM_ELIMIT).
 */
#include "stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "util.h"

#define RAW_CHUNK (128 * 1024)
/* First chunk of a record's zone (see mm_reader_next). */
#define ZONE_CHUNK 480
/* Nesting msgpack-c's unpacker supports (MSGPACK_EMBED_STACK_SIZE). */
#define SCAN_MAX_DEPTH 32

struct mm_reader {
	FILE *f;
	bool own;
	char *name;
	const unsigned char *raw; /* points at rawbuf or at caller memory */
	unsigned char *rawbuf;
	size_t pos, len, cap;     /* unread raw bytes are raw[pos..len) */
	bool eof;                 /* no more raw input after raw[len) */
	ZSTD_DStream *zd;
	bool zmode, frame_open;
	bool boundary;            /* the unpacker is between records */
	/* scan() state for the record being buffered, positions from up.off */
	int scan_depth;           /* open containers; -1: no record started */
	size_t scan_pos;          /* bytes of the record walked so far */
	uint64_t scan_top;        /* keys + values of the record's map */
	uint64_t scan_left[SCAN_MAX_DEPTH + 1]; /* values still due per level */
	/* the record's keys as (offset from up.off, length), for the duplicate check */
	struct rd_key { size_t off; uint32_t len; uint32_t i; uint64_t h; } *keys;
	size_t nkeys, keycap;
	msgpack_unpacker up;
	msgpack_unpacked res;
	uint64_t count, bytes_in;
	size_t max_record;
};

static bool is_zstd_magic(const unsigned char *b)
{
	return (b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) ||
		((b[0] & 0xf0) == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18);
}

static mm_status rd_err(mm_reader *rd, mm_err *e, mm_status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static mm_status rd_err(mm_reader *rd, mm_err *e, mm_status st, const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return mm_errf(e, st, "%s: record %llu: %s", rd->name, (unsigned long long)rd->count, what);
}

/* Read more raw input; keeps unread bytes.  Returns MM_OK (maybe with eof set). */
static mm_status raw_more(mm_reader *rd, mm_err *e)
{
	if (rd->eof)
		return MM_OK;
	if (rd->pos > 0 && rd->pos == rd->len)
		rd->pos = rd->len = 0;
	if (rd->len == rd->cap) {
		if (rd->pos > 0) {
			memmove(rd->rawbuf, rd->rawbuf + rd->pos, rd->len - rd->pos);
			rd->len -= rd->pos;
			rd->pos = 0;
		} else {
			size_t ncap = rd->cap * 2;
			unsigned char *nb = realloc(rd->rawbuf, ncap);
			if (!nb)
				return mm_errf(e, MM_ENOMEM, "%s: out of memory", rd->name);
			rd->rawbuf = nb;
			rd->raw = nb;
			rd->cap = ncap;
		}
	}
	/* read(2), not fread(3): fread waits until the whole buffer is full, so a
	 * record flushed down a pipe (mm_writer_flush) would sit here until 128 KB
	 * more arrived or the writer ended. */
	ssize_t k;
	do
		k = read(fileno(rd->f), rd->rawbuf + rd->len, rd->cap - rd->len);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return mm_errf(e, MM_EIO, "%s: read error: %s", rd->name, strerror(errno));
	if (k == 0)
		rd->eof = true;
	rd->len += (size_t)k;
	rd->bytes_in += (size_t)k;
	return MM_OK;
}

/* Make at least n unread raw bytes available unless the input ends first. */
static mm_status raw_need(mm_reader *rd, size_t n, mm_err *e)
{
	while (rd->len - rd->pos < n && !rd->eof) {
		mm_status st = raw_more(rd, e);
		if (st != MM_OK)
			return st;
	}
	return MM_OK;
}

/* Put bytes the unpacker holds but has not parsed back in front of the raw
 * input (used when a zstd frame follows plain records). */
static mm_status unread(mm_reader *rd, mm_err *e)
{
	size_t k = rd->up.used - rd->up.off;
	size_t avail = rd->len - rd->pos;
	unsigned char *nb = malloc(k + avail + RAW_CHUNK);
	if (!nb)
		return mm_errf(e, MM_ENOMEM, "%s: out of memory", rd->name);
	memcpy(nb, rd->up.buffer + rd->up.off, k);
	memcpy(nb + k, rd->raw + rd->pos, avail);
	free(rd->rawbuf);
	rd->rawbuf = nb;
	rd->raw = nb;
	rd->cap = k + avail + RAW_CHUNK;
	rd->pos = 0;
	rd->len = k + avail;
	rd->up.free += k;
	rd->up.used = rd->up.off;
	return MM_OK;
}

/* Feed the unpacker.  *fed is false only at the clean end of the input. */
static mm_status feed(mm_reader *rd, bool *fed, mm_err *e)
{
	mm_status st;
	*fed = false;
	for (;;) {
		if (!rd->zmode) {
			if ((st = raw_need(rd, 1, e)) != MM_OK)
				return st;
			size_t avail = rd->len - rd->pos;
			if (avail == 0)
				return MM_OK;
			if (avail > RAW_CHUNK)
				avail = RAW_CHUNK;
			if (!msgpack_unpacker_reserve_buffer(&rd->up, avail))
				return mm_errf(e, MM_ENOMEM, "%s: out of memory", rd->name);
			memcpy(msgpack_unpacker_buffer(&rd->up), rd->raw + rd->pos, avail);
			msgpack_unpacker_buffer_consumed(&rd->up, avail);
			rd->pos += avail;
			*fed = true;
			return MM_OK;
		}
		if (!rd->frame_open) {
			/* Between frames: another frame, plain msgpack, or the end. */
			if ((st = raw_need(rd, 4, e)) != MM_OK)
				return st;
			size_t avail = rd->len - rd->pos;
			if (avail == 0)
				return MM_OK;
			if (avail < 4 || !is_zstd_magic(rd->raw + rd->pos)) {
				rd->zmode = false;
				continue;
			}
			rd->frame_open = true;
		}
		size_t want = ZSTD_DStreamOutSize();
		if (!msgpack_unpacker_reserve_buffer(&rd->up, want))
			return mm_errf(e, MM_ENOMEM, "%s: out of memory", rd->name);
		ZSTD_outBuffer out = {msgpack_unpacker_buffer(&rd->up), msgpack_unpacker_buffer_capacity(&rd->up), 0};
		ZSTD_inBuffer in = {rd->raw + rd->pos, rd->len - rd->pos, 0};
		size_t r = ZSTD_decompressStream(rd->zd, &out, &in);
		if (ZSTD_isError(r))
			return rd_err(rd, e, MM_ECORRUPT, "corrupt zstd data: %s", ZSTD_getErrorName(r));
		rd->pos += in.pos;
		msgpack_unpacker_buffer_consumed(&rd->up, out.pos);
		if (r == 0)
			rd->frame_open = false;
		if (out.pos > 0) {
			*fed = true;
			return MM_OK;
		}
		if (r == 0)
			continue;
		if (in.pos == 0 && rd->pos == rd->len) {
			if (rd->eof)
				return rd_err(rd, e, MM_ETRUNC, "truncated input: the zstd frame ends early");
			if ((st = raw_more(rd, e)) != MM_OK)
				return st;
		}
	}
}

static mm_status reader_init(mm_reader *rd, const char *name, mm_err *e)
{
	rd->name = strdup(name ? name : "-");
	rd->zd = ZSTD_createDStream();
	rd->boundary = true;
	rd->scan_depth = -1;
	rd->max_record = MM_MAX_RECORD;
	const char *lim = getenv("MMOE_MAX_RECORD");
	if (lim && *lim) {
		char *end;
		unsigned long long v = strtoull(lim, &end, 10);
		if (!*end && v > 0)
			rd->max_record = (size_t)v;
	}
	msgpack_unpacked_init(&rd->res);
	if (!rd->name || !rd->zd || !msgpack_unpacker_init(&rd->up, 64 * 1024))
		return mm_errf(e, MM_ENOMEM, "%s: out of memory", name ? name : "-");
	ZSTD_initDStream(rd->zd);
	return MM_OK;
}

mm_status mm_reader_fdopen(mm_reader **out, FILE *f, const char *name, mm_err *e)
{
	mm_reader *rd = calloc(1, sizeof *rd);
	*out = NULL;
	if (!rd)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	rd->f = f;
	rd->cap = RAW_CHUNK;
	rd->rawbuf = malloc(rd->cap);
	rd->raw = rd->rawbuf;
	mm_status st = reader_init(rd, name, e);
	if (st == MM_OK && !rd->rawbuf)
		st = mm_errf(e, MM_ENOMEM, "out of memory");
	if (st != MM_OK) {
		mm_reader_close(rd);
		return st;
	}
	rd->zmode = true; /* decided at the first boundary */
	*out = rd;
	return MM_OK;
}

mm_status mm_reader_open(mm_reader **out, const char *path, mm_err *e)
{
	*out = NULL;
	if (!path || strcmp(path, "-") == 0)
		return mm_reader_fdopen(out, stdin, "<stdin>", e);
	FILE *f = fopen(path, "rb");
	if (!f)
		return mm_errf(e, MM_EIO, "%s: %s", path, strerror(errno));
	mm_status st = mm_reader_fdopen(out, f, path, e);
	if (st != MM_OK) {
		fclose(f);
		return st;
	}
	(*out)->own = true;
	return MM_OK;
}

mm_status mm_reader_mem(mm_reader **out, const void *buf, size_t len, const char *name, mm_err *e)
{
	mm_reader *rd = calloc(1, sizeof *rd);
	*out = NULL;
	if (!rd)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	rd->raw = buf;
	rd->len = len;
	rd->cap = len;
	rd->eof = true;
	rd->bytes_in = len;
	mm_status st = reader_init(rd, name ? name : "<memory>", e);
	if (st != MM_OK) {
		mm_reader_close(rd);
		return st;
	}
	rd->zmode = true;
	*out = rd;
	return MM_OK;
}


static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The type of the msgpack value starting with byte b, as mm_obj_typename says it. */
static const char *byte_typename(unsigned b)
{
	if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3))
		return "an integer";
	if (b <= 0x8f || b == 0xde || b == 0xdf)
		return "a map";
	if (b <= 0x9f || b == 0xdc || b == 0xdd)
		return "an array";
	if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb))
		return "a string";
	switch (b) {
	case 0xc0: return "nil";
	case 0xc2:
	case 0xc3: return "a boolean";
	case 0xc4:
	case 0xc5:
	case 0xc6: return "binary data";
	case 0xca:
	case 0xcb: return "a float";
	case 0xc1: return "the invalid byte 0xc1";
	default: return "an extension value";
	}
}

static int key_cmp(const void *a, const void *b)
{
	const struct rd_key *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* A record whose map has the same key twice is refused (mmoe-records(5)):
 * tools read the first copy where JSON readers keep the last, so the two
 * would disagree silently.  p is the record's first byte.  Small maps are
 * compared pairwise; larger ones sorted by a hash of the key. */
static mm_status check_keys(mm_reader *rd, const unsigned char *p, mm_err *e)
{
	size_t n = rd->nkeys, a = 0, b = 0;
	bool dup = false;
	if (n <= 16) {
		for (b = 1; b < n && !dup; b++)
			for (a = 0; a < b && !dup; a++)
				dup = rd->keys[a].len == rd->keys[b].len &&
					!memcmp(p + rd->keys[a].off, p + rd->keys[b].off, rd->keys[a].len);
		a--, b--;
	} else {
		for (size_t i = 0; i < n; i++) {
			uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
			for (uint32_t j = 0; j < rd->keys[i].len; j++)
				h = (h ^ p[rd->keys[i].off + j]) * 1099511628211ULL;
			rd->keys[i].h = h;
		}
		qsort(rd->keys, n, sizeof *rd->keys, key_cmp);
		for (size_t i = 1; i < n && !dup; i++)
			for (size_t j = i; j-- > 0 && rd->keys[j].h == rd->keys[i].h && !dup;)
				if (rd->keys[j].len == rd->keys[i].len &&
						!memcmp(p + rd->keys[j].off, p + rd->keys[i].off, rd->keys[i].len))
					dup = true, a = j, b = i;
	}
	if (!dup)
		return MM_OK;
	const struct rd_key *k = &rd->keys[b];
	char shown[72];
	size_t m = k->len < 64 ? k->len : 64;
	for (size_t i = 0; i < m; i++) {
		unsigned char c = p[k->off + i];
		shown[i] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
	}
	shown[m] = 0;
	return rd_err(rd, e, MM_EVALUE, "the key \"%s%s\" appears twice (keys %u and %u); "
		"a record's keys must be distinct", shown, k->len > 64 ? "..." : "",
		rd->keys[a].i, k->i);
}

/* Where a record should start, bytes that are not a map.  If they look like
 * a zstd frame header whose magic number is damaged or cut (at least two of
 * its four bytes in place, or all of a shorter rest of the input), say so:
 * "expected a map, got an integer" would send the user looking at the data. */
static mm_status not_a_map(mm_reader *rd, const unsigned char *p, size_t avail, mm_err *e)
{
	static const unsigned char magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	size_t n = avail < 4 ? avail : 4, same = 0;
	for (size_t i = 0; i < n; i++)
		same += p[i] == magic[i];
	if (n < 4 && same == n && rd->eof && rd->pos == rd->len)
		return rd_err(rd, e, MM_ETRUNC, "truncated input: the stream ends inside a zstd frame "
			"header (%zu of its 4 magic bytes)", n);
	if (n == 4 && same >= 2)
		return rd_err(rd, e, MM_ECORRUPT, "corrupt zstd data: the frame header's magic number "
			"is damaged (%02x %02x %02x %02x, expected 28 b5 2f fd)", p[0], p[1], p[2], p[3]);
	return rd_err(rd, e, MM_ETYPE, "expected a map, got %s", byte_typename(p[0]));
}

/* Walk the bytes of the record being buffered (see the top of the file).
 * MM_OK with *done: the whole record is in the unpacker's buffer.
 * MM_OK without *done: more bytes are needed.  Otherwise an error. */
static mm_status scan(mm_reader *rd, bool *done, mm_err *e)
{
	const unsigned char *p = (const unsigned char *)rd->up.buffer + rd->up.off;
	size_t avail = rd->up.used - rd->up.off;
	*done = false;
	if (rd->scan_depth < 0) {
		rd->scan_depth = 0;
		rd->scan_left[0] = 1;
		rd->scan_pos = 0;
		rd->nkeys = 0;
	}
	for (;;) {
		while (rd->scan_left[rd->scan_depth] == 0) {
			if (rd->scan_depth == 0) {
				/* the last value's payload may still be on its way */
				*done = rd->scan_pos <= avail;
				return *done ? check_keys(rd, p, e) : MM_OK;
			}
			rd->scan_depth--;
		}
		size_t pos = rd->scan_pos;
		if (pos >= avail)
			return MM_OK;
		unsigned b = p[pos];
		/* a record is a map whose keys are strings (as mm_rec_from_object checks) */
		if (rd->scan_depth == 0 && !((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf))
			return not_a_map(rd, p + pos, avail - pos, e);
		if (rd->scan_depth == 1 && rd->scan_left[1] % 2 == 0 &&
				!((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)))
			return rd_err(rd, e, MM_ETYPE, "key %llu is %s, expected a string",
				(unsigned long long)(rd->scan_top - rd->scan_left[1]) / 2, byte_typename(b));
		size_t hdr = 1;      /* type byte + length/count bytes (+ ext type) */
		int nlen = 0;        /* big-endian length bytes after the type byte */
		uint64_t len = 0;    /* payload bytes after the header */
		uint64_t count = 0;  /* values inside a container */
		bool container = false;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
			/* fixint, nil, false, true */
		} else if (b <= 0x8f) {
			count = 2 * (uint64_t)(b & 0x0f), container = true;
		} else if (b <= 0x9f) {
			count = b & 0x0f, container = true;
		} else if (b <= 0xbf) {
			len = b & 0x1f;
		} else if (b == 0xc1) {
			return rd_err(rd, e, MM_ECORRUPT, "corrupt data: byte 0xc1 is not msgpack");
		} else if (b <= 0xc6) {             /* bin 8/16/32 */
			nlen = 1 << (b - 0xc4);
		} else if (b <= 0xc9) {             /* ext 8/16/32: length, then type */
			nlen = 1 << (b - 0xc7);
		} else if (b <= 0xcb) {             /* float 32/64 */
			len = b == 0xca ? 4 : 8;
		} else if (b <= 0xd3) {             /* uint, int 8..64 */
			len = (uint64_t)1 << ((b - 0xcc) & 3);
		} else if (b <= 0xd8) {             /* fixext 1..16: type + data */
			len = 1 + ((uint64_t)1 << (b - 0xd4));
		} else if (b <= 0xdb) {             /* str 8/16/32 */
			nlen = 1 << (b - 0xd9);
		} else if (b <= 0xdd) {             /* array 16/32 */
			nlen = b == 0xdc ? 2 : 4, container = true;
		} else {                            /* map 16/32 */
			nlen = b == 0xde ? 2 : 4, container = true;
		}
		if (nlen) {
			if (pos + 1 + (size_t)nlen > avail)
				return MM_OK;
			uint64_t v = be(p + pos + 1, nlen);
			hdr = 1 + (size_t)nlen;
			if (container)
				count = b >= 0xde ? 2 * v : v;
			else
				len = v + (b >= 0xc7 && b <= 0xc9);   /* ext: the type byte */
		}
		uint64_t end = (uint64_t)pos + hdr + len;
		if (rd->scan_depth == 1 && rd->scan_left[1] % 2 == 0 && end <= rd->max_record) {
			if (rd->nkeys == rd->keycap) {
				size_t ncap = rd->keycap ? 2 * rd->keycap : 64;
				struct rd_key *nk = realloc(rd->keys, ncap * sizeof *nk);
				if (!nk)
					return mm_errf(e, MM_ENOMEM, "%s: out of memory", rd->name);
				rd->keys = nk;
				rd->keycap = ncap;
			}
			rd->keys[rd->nkeys] = (struct rd_key){ pos + hdr, (uint32_t)len, (uint32_t)rd->nkeys, 0 };
			rd->nkeys++;
		}
		if (end > rd->max_record) {
			const char *what = (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb) ? "a string" :
				b >= 0xc4 && b <= 0xc6 ? "binary data" :
				(b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8) ? "an extension value" : "a value";
			return rd_err(rd, e, MM_ELIMIT, "%s of %llu bytes makes the record larger than "
				"the limit of %zu bytes (MMOE_MAX_RECORD)", what, (unsigned long long)len,
				rd->max_record);
		}
		if (container) {
			/* every element takes at least one byte */
			if (count > rd->max_record - end)
				return rd_err(rd, e, MM_ELIMIT, "a container claims %llu elements, more than "
					"the record size limit of %zu bytes allows (MMOE_MAX_RECORD)",
					(unsigned long long)count, rd->max_record);
			/* msgpack-c refuses any container, even an empty one, inside 32 open ones */
			if (rd->scan_depth == SCAN_MAX_DEPTH)
				return rd_err(rd, e, MM_ELIMIT, "containers nested deeper than %d levels",
					SCAN_MAX_DEPTH);
		}
		rd->scan_left[rd->scan_depth]--;
		rd->scan_pos = (size_t)end;
		if (rd->scan_depth == 0)
			rd->scan_top = count;
		if (container && count)
			rd->scan_left[++rd->scan_depth] = count;
	}
}

/* Buffer the next whole record (scanned) in the unpacker: MM_OK, MM_EOF or an error. */
static mm_status buffer_record(mm_reader *rd, mm_err *e)
{
	mm_status st;
	for (;;) {
		/* In plain mode, a zstd frame may start at a record boundary. */
		if (!rd->zmode && rd->boundary) {
			size_t k = rd->up.used - rd->up.off;
			if (k < 4 && !(rd->eof && rd->pos == rd->len)) {
				bool fed;
				if ((st = feed(rd, &fed, e)) != MM_OK)
					return st;
				if (fed)
					continue;
			}
			k = rd->up.used - rd->up.off;
			if (k >= 4 && is_zstd_magic((unsigned char *)rd->up.buffer + rd->up.off)) {
				if ((st = unread(rd, e)) != MM_OK)
					return st;
				rd->zmode = true;
				rd->frame_open = false;
			}
		}
		bool done;
		if ((st = scan(rd, &done, e)) != MM_OK)
			return st;
		if (done)
			return MM_OK;
		/* Need more bytes. */
		size_t pending = rd->up.used - rd->up.off;
		rd->boundary = rd->scan_pos == 0 && pending == 0;
		bool fed;
		if ((st = feed(rd, &fed, e)) != MM_OK)
			return st;
		if (!fed) {
			if (pending > 0)
				return rd_err(rd, e, MM_ETRUNC, "truncated input: the stream ends inside a record");
			rd->boundary = true;
			rd->scan_depth = -1;
			return MM_EOF;
		}
	}
}

mm_status mm_reader_next(mm_reader *rd, mm_rec **rec, mm_err *e)
{
	*rec = NULL;
	mm_status st = buffer_record(rd, e);
	if (st != MM_OK)
		return st;
	/* The zone the record will own.  msgpack-c would make an 8 KB one; a
	 * chunk this small is a "small" malloc for glibc, where an 8 KB one per
	 * record made malloc consolidate its free lists every time (10% of the
	 * run).  The zone grows by itself for records that need more. */
	if (!rd->up.z && !(rd->up.z = msgpack_zone_new(ZONE_CHUNK)))
		return rd_err(rd, e, MM_ENOMEM, "out of memory");
	msgpack_unpack_return ret = msgpack_unpacker_next(&rd->up, &rd->res);
	if (ret == MSGPACK_UNPACK_PARSE_ERROR)
		return rd_err(rd, e, MM_ECORRUPT, "corrupt data: not a valid msgpack record");
	if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
		return rd_err(rd, e, MM_ENOMEM, "out of memory decoding a record of %zu bytes",
			rd->scan_pos);
	if (ret != MSGPACK_UNPACK_SUCCESS)   /* the scan saw a whole record */
		return rd_err(rd, e, MM_ECORRUPT, "msgpack error %d on a complete record", (int)ret);
	rd->boundary = true;
	rd->scan_depth = -1;
	msgpack_zone *z = msgpack_unpacked_release_zone(&rd->res);
	if (!z) /* a scalar needs no zone; the record check below rejects it */
		z = msgpack_zone_new(1024);
	if (!z)
		return rd_err(rd, e, MM_ENOMEM, "out of memory");
	st = mm_rec_from_object(rec, z, &rd->res.data, rd->count, e);
	if (st != MM_OK) {
		mm_err_prefix(e, "%s", rd->name);
		return st;
	}
	rd->count++;
	return MM_OK;
}

mm_status mm_reader_next_raw(mm_reader *rd, const void **buf, size_t *len, mm_err *e)
{
	*buf = NULL;
	*len = 0;
	mm_status st = buffer_record(rd, e);
	if (st != MM_OK)
		return st;
	/* The scan checked the record as mm_reader_next would (a map with string
	 * keys, well-formed msgpack): hand out its bytes and step over them. */
	*buf = rd->up.buffer + rd->up.off;
	*len = rd->scan_pos;
	rd->up.off += rd->scan_pos;
	rd->boundary = true;
	rd->scan_depth = -1;
	rd->count++;
	return MM_OK;
}

uint64_t mm_reader_count(const mm_reader *rd) { return rd->count; }
uint64_t mm_reader_bytes_in(const mm_reader *rd) { return rd->bytes_in; }
const char *mm_reader_name(const mm_reader *rd) { return rd->name; }

void mm_reader_close(mm_reader *rd)
{
	if (!rd)
		return;
	msgpack_unpacked_destroy(&rd->res);
	msgpack_unpacker_destroy(&rd->up);
	if (rd->zd)
		ZSTD_freeDStream(rd->zd);
	if (rd->own && rd->f)
		fclose(rd->f);
	free(rd->rawbuf);
	free(rd->keys);
	free(rd->name);
	free(rd);
}

/* ---- writer ---- */

struct mm_writer {
	FILE *f;
	mm_atomic at;
	bool atomic;
	char *name;
	int level;
	ZSTD_CCtx *cc;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	unsigned char *out;
	size_t out_cap;
	uint64_t count;
	bool failed;
};

#define PACK_BATCH (256 * 1024)

int mm_zstd_level_min(void)
{
	return ZSTD_minCLevel();
}

int mm_zstd_level_max(void)
{
	return ZSTD_maxCLevel();
}

int mm_zstd_level_env(int fallback)
{
	const char *s = getenv("MMOE_ZSTD_LEVEL");
	if (s && *s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (!*end && v >= ZSTD_minCLevel() && v <= ZSTD_maxCLevel())
			return (int)v;
	}
	return fallback;
}

int mm_zstd_level_default(void)
{
	return mm_zstd_level_env(3);
}

static mm_status wr_write(mm_writer *w, const void *p, size_t n, mm_err *e)
{
	if (n && fwrite(p, 1, n, w->f) != n) {
		w->failed = true;
		return mm_errf(e, MM_EIO, "%s: write error: %s", w->name, strerror(errno));
	}
	return MM_OK;
}

/* Compress (or copy) the packed bytes; mode is a ZSTD_EndDirective. */
static mm_status wr_drain(mm_writer *w, ZSTD_EndDirective mode, mm_err *e)
{
	mm_status st;
	if (w->failed)
		return mm_errf(e, MM_EIO, "%s: earlier write error", w->name);
	if (w->level == 0) {
		st = wr_write(w, w->sb.data, w->sb.size, e);
		msgpack_sbuffer_clear(&w->sb);
		if (st == MM_OK && mode != ZSTD_e_continue && fflush(w->f) != 0) {
			w->failed = true;
			return mm_errf(e, MM_EIO, "%s: write error: %s", w->name, strerror(errno));
		}
		return st;
	}
	ZSTD_inBuffer in = {w->sb.data, w->sb.size, 0};
	for (;;) {
		ZSTD_outBuffer out = {w->out, w->out_cap, 0};
		size_t r = ZSTD_compressStream2(w->cc, &out, &in, mode);
		if (ZSTD_isError(r)) {
			w->failed = true;
			return mm_errf(e, MM_EIO, "%s: zstd: %s", w->name, ZSTD_getErrorName(r));
		}
		if ((st = wr_write(w, w->out, out.pos, e)) != MM_OK)
			return st;
		if (mode == ZSTD_e_continue ? in.pos == in.size : r == 0)
			break;
	}
	msgpack_sbuffer_clear(&w->sb);
	if (mode != ZSTD_e_continue && fflush(w->f) != 0) {
		w->failed = true;
		return mm_errf(e, MM_EIO, "%s: write error: %s", w->name, strerror(errno));
	}
	return MM_OK;
}

static mm_status writer_init(mm_writer *w, int level, mm_err *e)
{
	w->level = level == MM_LEVEL_DEFAULT ? mm_zstd_level_default() : level;
	msgpack_sbuffer_init(&w->sb);
	msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
	if (w->level != 0) {
		w->cc = ZSTD_createCCtx();
		w->out_cap = ZSTD_CStreamOutSize();
		w->out = malloc(w->out_cap);
		if (!w->cc || !w->out)
			return mm_errf(e, MM_ENOMEM, "out of memory");
		ZSTD_CCtx_setParameter(w->cc, ZSTD_c_compressionLevel, w->level);
		ZSTD_CCtx_setParameter(w->cc, ZSTD_c_checksumFlag, 1);
	}
	return MM_OK;
}

static void writer_free(mm_writer *w)
{
	msgpack_sbuffer_destroy(&w->sb);
	if (w->cc)
		ZSTD_freeCCtx(w->cc);
	free(w->out);
	free(w->name);
	free(w);
}

mm_status mm_writer_fdopen(mm_writer **out, FILE *f, const char *name, int level, mm_err *e)
{
	mm_writer *w = calloc(1, sizeof *w);
	*out = NULL;
	if (!w)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	w->f = f;
	w->name = strdup(name ? name : "<stdout>");
	mm_status st = writer_init(w, level, e);
	if (st == MM_OK && !w->name)
		st = mm_errf(e, MM_ENOMEM, "out of memory");
	if (st != MM_OK) {
		writer_free(w);
		return st;
	}
	*out = w;
	return MM_OK;
}

mm_status mm_writer_open(mm_writer **out, const char *path, int level, mm_err *e)
{
	*out = NULL;
	if (!path || strcmp(path, "-") == 0)
		return mm_writer_fdopen(out, stdout, "<stdout>", level, e);
	mm_status st = mm_writer_fdopen(out, NULL, path, level, e);
	if (st != MM_OK)
		return st;
	mm_writer *w = *out;
	/* opened in place: whoever observes atomic files (mm_atomic_observe)
	 * keeps this address until the commit or the abort */
	if ((st = mm_atomic_open(&w->at, path, e)) != MM_OK) {
		writer_free(w);
		*out = NULL;
		return st;
	}
	w->f = w->at.f;
	w->atomic = true;
	return MM_OK;
}

mm_status mm_writer_put(mm_writer *w, const mm_rec *r, mm_err *e)
{
	if (mm_rec_pack(r, &w->pk))
		return mm_errf(e, MM_ENOMEM, "%s: out of memory packing record %llu", w->name,
			(unsigned long long)w->count);
	w->count++;
	if (w->sb.size >= PACK_BATCH)
		return wr_drain(w, ZSTD_e_continue, e);
	return MM_OK;
}

mm_status mm_writer_put_raw(mm_writer *w, const void *buf, size_t len, mm_err *e)
{
	if (msgpack_sbuffer_write(&w->sb, buf, len))
		return mm_errf(e, MM_ENOMEM, "%s: out of memory", w->name);
	w->count++;
	if (w->sb.size >= PACK_BATCH)
		return wr_drain(w, ZSTD_e_continue, e);
	return MM_OK;
}

mm_status mm_writer_flush(mm_writer *w, mm_err *e)
{
	return wr_drain(w, ZSTD_e_flush, e);
}

mm_status mm_writer_close(mm_writer *w, mm_err *e)
{
	mm_status st = wr_drain(w, ZSTD_e_end, e);
	if (w->atomic) {
		if (st == MM_OK)
			st = mm_atomic_commit(&w->at, e);
		else
			mm_atomic_abort(&w->at);
	}
	writer_free(w);
	return st;
}

void mm_writer_abort(mm_writer *w)
{
	if (!w)
		return;
	if (w->atomic)
		mm_atomic_abort(&w->at);
	writer_free(w);
}

uint64_t mm_writer_count(const mm_writer *w) { return w->count; }
