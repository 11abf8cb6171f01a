/*
 * A small strict JSON reader (objects, arrays, strings with escapes,
 * numbers, literals; depth-limited) and the byte buffer the agent writes
 * JSON and frames into. Malformed input yields NULL, never a crash.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define MAX_DEPTH 16

struct parser {
	const char *p, *end;
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct jval *new_val(enum jtype t)
{
	struct jval *v = calloc(1, sizeof(*v));

	if (v)
		v->type = t;
	return v;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= c - '0';
		else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
		else return -1;
	}
	*out = v;
	return 0;
}

static int put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) { u[0] = cp; n = 1; }
	else if (cp < 0x800) { u[0] = 0xc0 | (cp >> 6); u[1] = 0x80 | (cp & 0x3f); n = 2; }
	else if (cp < 0x10000) { u[0] = 0xe0 | (cp >> 12); u[1] = 0x80 | ((cp >> 6) & 0x3f); u[2] = 0x80 | (cp & 0x3f); n = 3; }
	else { u[0] = 0xf0 | (cp >> 18); u[1] = 0x80 | ((cp >> 12) & 0x3f); u[2] = 0x80 | ((cp >> 6) & 0x3f); u[3] = 0x80 | (cp & 0x3f); n = 4; }
	return buf_put(b, u, n);
}

/* Parses a string at ps->p (on the opening quote) into a NUL-terminated copy. */
static char *parse_str(struct parser *ps, size_t *len)
{
	struct buf b = {0};

	ps->p++;
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = *ps->p++;
		if (c < 0x20)
			goto fail;
		if (c != '\\') {
			if (buf_put(&b, &c, 1)) goto fail;
			continue;
		}
		if (ps->p >= ps->end) goto fail;
		c = *ps->p++;
		const char *map = strchr("\"\"\\\\//b\bf\fn\nr\rt\t", c);
		if (c == 'u') {
			unsigned cp, lo;
			if (ps->end - ps->p < 4 || hex4(ps->p, &cp)) goto fail;
			ps->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) ||
				    lo < 0xdc00 || lo >= 0xe000)
					goto fail;
				ps->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				goto fail;
			}
			if (put_utf8(&b, cp)) goto fail;
		} else if (c && map && ((map - "\"\"\\\\//b\bf\fn\nr\rt\t") % 2) == 0) {
			if (buf_put(&b, map + 1, 1)) goto fail;
		} else {
			goto fail;
		}
	}
	if (ps->p >= ps->end) goto fail;
	ps->p++;
	if (buf_put(&b, "", 1)) goto fail;
	*len = b.len - 1;
	return b.data;
fail:
	buf_free(&b);
	return NULL;
}

static int push_item(struct jval *v, struct jval *item, char *key)
{
	struct jval **items = realloc(v->items, (v->len + 1) * sizeof(*items));

	if (!items) return -1;
	v->items = items;
	if (v->type == J_OBJ) {
		char **keys = realloc(v->keys, (v->len + 1) * sizeof(*keys));
		if (!keys) return -1;
		v->keys = keys;
		v->keys[v->len] = key;
	}
	v->items[v->len++] = item;
	return 0;
}

static struct jval *parse_val(struct parser *ps, int depth)
{
	struct jval *v = NULL;

	skip_ws(ps);
	if (ps->p >= ps->end || depth > MAX_DEPTH)
		return NULL;
	char c = *ps->p;
	if (c == '"') {
		size_t len;
		char *s = parse_str(ps, &len);
		if (!s || !(v = new_val(J_STR))) { free(s); return NULL; }
		v->str = s;
		v->len = len;
		return v;
	}
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		if (!(v = new_val(c == '{' ? J_OBJ : J_ARR))) return NULL;
		ps->p++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == close) { ps->p++; return v; }
		for (;;) {
			char *key = NULL;
			size_t klen;
			skip_ws(ps);
			if (v->type == J_OBJ) {
				if (ps->p >= ps->end || *ps->p != '"' || !(key = parse_str(ps, &klen))) goto fail;
				skip_ws(ps);
				if (ps->p >= ps->end || *ps->p != ':') { free(key); goto fail; }
				ps->p++;
			}
			struct jval *item = parse_val(ps, depth + 1);
			if (!item || push_item(v, item, key)) { json_free(item); free(key); goto fail; }
			skip_ws(ps);
			if (ps->p >= ps->end) goto fail;
			if (*ps->p == ',') { ps->p++; continue; }
			if (*ps->p == close) { ps->p++; return v; }
			goto fail;
		}
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		char tmp[64];
		size_t n = 0;
		while (ps->p + n < ps->end && n < sizeof(tmp) - 1 && strchr("+-0123456789.eE", ps->p[n]))
			n++;
		memcpy(tmp, ps->p, n);
		tmp[n] = 0;
		char *endp;
		double d = strtod(tmp, &endp);
		if (endp != tmp + n || n == 0 || !(v = new_val(J_NUM))) return NULL;
		v->num = d;
		ps->p += n;
		return v;
	}
	static const struct { const char *w; enum jtype t; double n; } lits[] = {
		{"true", J_BOOL, 1}, {"false", J_BOOL, 0}, {"null", J_NULL, 0}};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(lits[i].w);
		if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, lits[i].w, n)) {
			if (!(v = new_val(lits[i].t))) return NULL;
			v->num = lits[i].n;
			ps->p += n;
			return v;
		}
	}
	return NULL;
fail:
	json_free(v);
	return NULL;
}

struct jval *json_parse(const char *buf, size_t len)
{
	struct parser ps = {buf, buf + len};
	struct jval *v = parse_val(&ps, 0);

	skip_ws(&ps);
	if (v && ps.p != ps.end) {
		json_free(v);
		return NULL;
	}
	return v;
}

void json_free(struct jval *v)
{
	if (!v) return;
	for (size_t i = 0; i < v->len && v->items; i++) {
		json_free(v->items[i]);
		if (v->keys) free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

const struct jval *json_get(const struct jval *obj, const char *key, enum jtype type)
{
	if (!obj || obj->type != J_OBJ) return NULL;
	for (size_t i = 0; i < obj->len; i++)
		if (!strcmp(obj->keys[i], key))
			return obj->items[i]->type == type ? obj->items[i] : NULL;
	return NULL;
}

int buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n) cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d) return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) return -1;
	return buf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void buf_json_str(struct buf *b, const char *s)
{
	buf_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = *s;
		if (c == '"' || c == '\\') { buf_put(b, "\\", 1); buf_put(b, s, 1); }
		else if (c < 0x20) buf_printf(b, "\\u%04x", c);
		else buf_put(b, s, 1);
	}
	buf_put(b, "\"", 1);
}

/* Drops n bytes from the front (a read offset, compacted when half the buffer is spent). */
void buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len) {
		b->off = b->len = 0;
	} else if (b->off > b->cap / 2) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
}

void buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
