/* peer.h — the file exchange of the PyTorch peer checks (transformer_torch.c,
 * deform.c): the C test writes DIR/in.{txt,f32}, a script under tests/ reads
 * them and writes DIR/out.{txt,f32}.  A .txt line is "name n dims..." for the
 * next n float32 values of the .f32 file (tests/transformer_torch.py has the
 * Python side, read() and write()).
 */
#ifndef MM_PEER_H
#define MM_PEER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One tensor of DIR/in.{txt,f32}: "name n dims..." and its floats. */
__attribute__((unused))
static void put(FILE *txt, FILE *bin, const char *name, const float *v, size_t n,
		const char *dims)
{
	fprintf(txt, "%s %zu %s\n", name, n, dims);
	fwrite(v, sizeof *v, n, bin);
}

/* The tensors of DIR/out.{txt,f32}: names and float arrays, in file order. */
typedef struct { int n; char name[64][64]; size_t len[64]; float *v[64]; float *all; } tset;

__attribute__((unused))
static int load(tset *s, const char *dir)
{
	char p[4200];
	memset(s, 0, sizeof *s);
	snprintf(p, sizeof p, "%s/out.f32", dir);
	FILE *f = fopen(p, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long nb = ftell(f);
	rewind(f);
	s->all = malloc((size_t)nb + 1);
	size_t got = fread(s->all, 1, (size_t)nb, f);
	fclose(f);
	snprintf(p, sizeof p, "%s/out.txt", dir);
	if (got != (size_t)nb || !(f = fopen(p, "r")))
		return -1;
	char line[512];
	size_t off = 0;
	while (fgets(line, sizeof line, f) && s->n < 64) {
		if (sscanf(line, "%63s %zu", s->name[s->n], &s->len[s->n]) != 2)
			break;
		s->v[s->n] = s->all + off;
		off += s->len[s->n++];
	}
	fclose(f);
	return off * sizeof(float) == (size_t)nb ? 0 : -1;
}

__attribute__((unused))
static const float *find(const tset *s, const char *name, size_t n)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return s->len[i] == n ? s->v[i] : NULL;
	return NULL;
}

#endif
