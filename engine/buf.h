/* buf.h: growable byte buffers with a hard maximum (after curl's dynbuf).
 *
 * A buffer that grows from input has a ceiling: going past it is TM_ELIMIT, not an allocation.
 * The struct is transparent because the hot paths (codec, log, export) append in tight loops.
 * data is always NUL-terminated when non-NULL (the NUL is not counted in len). */
#ifndef TIDEMARK_BUF_H
#define TIDEMARK_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    char *data;
    size_t len, cap, max;
} buf;

#define BUF_DEFAULT_MAX ((size_t)1 << 30)
#define BUF_INIT {NULL, 0, 0, BUF_DEFAULT_MAX}
#define BUF_INIT_MAX(m) {NULL, 0, 0, (m)}

/* Makes room for add more bytes (+ NUL). TM_ELIMIT past max, TM_ENOMEM on allocation failure. */
int buf_reserve(buf *b, size_t add);
int buf_append(buf *b, const void *p, size_t n);
int buf_puts(buf *b, const char *s);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(buf *b);          /* len = 0, keeps memory */
void buf_free(buf *b);           /* frees memory; b stays usable */
char *buf_detach(buf *b);        /* caller owns the returned data (free()); b becomes empty */

static inline int buf_putc(buf *b, char c)
{
    if (b->len + 2 > b->cap) {
        int rc = buf_reserve(b, 1);
        if (rc) return rc;
    }
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

/* Little-endian fixed-width appenders used by the binary encodings. */
int buf_put_u32le(buf *b, uint32_t v);
int buf_put_u64le(buf *b, uint64_t v);
int buf_put_varint(buf *b, uint64_t v);   /* LEB128 */

static inline uint32_t rd_u32le(const void *p)
{
    const unsigned char *c = p;
    return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}
static inline uint64_t rd_u64le(const void *p)
{
    const unsigned char *c = p;
    return (uint64_t)rd_u32le(c) | (uint64_t)rd_u32le(c + 4) << 32;
}
static inline void wr_u32le(void *p, uint32_t v)
{
    unsigned char *c = p;
    c[0] = (unsigned char)v; c[1] = (unsigned char)(v >> 8);
    c[2] = (unsigned char)(v >> 16); c[3] = (unsigned char)(v >> 24);
}
static inline void wr_u64le(void *p, uint64_t v)
{
    wr_u32le(p, (uint32_t)v);
    wr_u32le((char *)p + 4, (uint32_t)(v >> 32));
}
/* Reads a LEB128 varint from [*p, end); advances *p. Returns 0, or -1 when truncated/overlong. */
int rd_varint(const unsigned char **p, const unsigned char *end, uint64_t *v);

#endif
