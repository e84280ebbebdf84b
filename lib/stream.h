/* stream.h — reading and writing record streams.
 *
 * A stream is a sequence of msgpack maps (records), either plain or inside
 * zstd frames.  Readers detect the zstd magic; concatenated frames, and a
 * plain stream following a compressed one (`cat a.zst b.msgpack`), are one
 * stream.  An empty input is a valid, empty stream.  A frame or a record cut
 * short is MM_ETRUNC, never a silent end; undecodable bytes are MM_ECORRUPT.
 *
 * Memory is bounded: one record at a time plus the codec buffers.  A record
 * larger than MM_MAX_RECORD bytes (env MMOE_MAX_RECORD overrides) is
 * MM_ELIMIT, so a hostile length header cannot make the reader buffer
 * gigabytes.
 *
 * Writers compress with zstd (checksums on).  Levels: 1 to 22 are zstd's,
 * negative levels are zstd's fast ones (`zstd --fast=N` is level -N: faster,
 * larger), 0 writes plain msgpack.  MM_LEVEL_DEFAULT means MMOE_ZSTD_LEVEL
 * if set, else 3.  A writer opened on a path
 * writes to "<path>.tmp.<pid>" and renames it over <path> at
 * mm_writer_close(); mm_writer_abort() removes the temporary.
 */
#ifndef MM_STREAM_H
#define MM_STREAM_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "record.h"

#define MM_MAX_RECORD ((size_t)1 << 30)

/* The level argument of the writers that asks for mm_zstd_level_default(). */
#define MM_LEVEL_DEFAULT INT_MIN
/* The default of the tools whose output is mostly float tensors (the
 * encoders): zstd compresses 32-bit floats little (1.32x at level 3, 1.19x
 * at -1 on encode-vision's token grids) and level -1 is several times faster
 * to write and to read. */
#define MM_LEVEL_TENSORS (-1)

typedef struct mm_reader mm_reader;
typedef struct mm_writer mm_writer;

/* path NULL or "-" is stdin.  The name is used in messages. */
mm_status mm_reader_open(mm_reader **out, const char *path, mm_err *e);
/* Read from an open FILE (not closed by mm_reader_close).  The reader reads
 * its file descriptor directly, so that records arrive as soon as they are
 * written: hand f over before reading anything from it. */
mm_status mm_reader_fdopen(mm_reader **out, FILE *f, const char *name, mm_err *e);
/* Read from a memory buffer (not copied: must outlive the reader). */
mm_status mm_reader_mem(mm_reader **out, const void *buf, size_t len, const char *name, mm_err *e);
/* Next record: MM_OK and *rec (caller frees with mm_rec_free), MM_EOF at a
 * clean end, or an error whose message names the input and the record index. */
mm_status mm_reader_next(mm_reader *rd, mm_rec **rec, mm_err *e);
/* The next record as its msgpack bytes, checked as mm_reader_next checks
 * it (well-formed msgpack, a map with string keys) but not decoded: MM_OK
 * and *buf, *len (valid until the next call on rd), MM_EOF or an error.
 * For pass-through without looking inside (mm_writer_put_raw). */
mm_status mm_reader_next_raw(mm_reader *rd, const void **buf, size_t *len, mm_err *e);
/* Records returned so far. */
uint64_t mm_reader_count(const mm_reader *rd);
/* Compressed and decompressed bytes consumed so far. */
uint64_t mm_reader_bytes_in(const mm_reader *rd);
const char *mm_reader_name(const mm_reader *rd);
void mm_reader_close(mm_reader *rd);

/* path NULL or "-" is stdout (never renamed).  level: see above; a level
 * outside mm_zstd_level_min()..mm_zstd_level_max() is clamped by zstd. */
mm_status mm_writer_open(mm_writer **out, const char *path, int level, mm_err *e);
mm_status mm_writer_fdopen(mm_writer **out, FILE *f, const char *name, int level, mm_err *e);
mm_status mm_writer_put(mm_writer *w, const mm_rec *r, mm_err *e);
/* Write one already-packed msgpack map (bytes are not checked). */
mm_status mm_writer_put_raw(mm_writer *w, const void *buf, size_t len, mm_err *e);
/* Push everything written so far down the pipe (ends a zstd block). */
mm_status mm_writer_flush(mm_writer *w, mm_err *e);
/* Finish the frame, flush, fsync+rename for files; checks every write.
 * Frees w in all cases. */
mm_status mm_writer_close(mm_writer *w, mm_err *e);
/* Drop a writer after an error: the temporary is removed, the target untouched. */
void mm_writer_abort(mm_writer *w);
uint64_t mm_writer_count(const mm_writer *w);

/* MMOE_ZSTD_LEVEL when it is set to a valid level, else fallback. */
int mm_zstd_level_env(int fallback);
/* The level writers use when given MM_LEVEL_DEFAULT: mm_zstd_level_env(3). */
int mm_zstd_level_default(void);
/* The range of levels zstd accepts (the fast levels are negative). */
int mm_zstd_level_min(void);
int mm_zstd_level_max(void);

#endif
