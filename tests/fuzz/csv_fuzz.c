/* csv_fuzz.c: fuzz target for the streaming CSV parser (import/import_csv.c).
 *
 * The first byte picks the delimiter and the chunk size; the rest is fed in chunks. Checks the
 * parser's promises: every field is NUL-terminated at its length, records are bounded, the
 * record index rises by one, and feeding the same input whole gives the same records. */
#include "engine/buf.h"
#include "import/import_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct acc {
    buf out;
    uint64_t next_index;
} acc;

static int on_rec(void *ctx, const import_csv_rec *r)
{
    acc *a = ctx;
    if (r->index != a->next_index++) abort();
    if (r->error) return buf_printf(&a->out, "!%s\n", r->error);
    if (r->nfields == 0 || r->nfields > IMPORT_CSV_MAX_FIELDS) abort();
    size_t total = 0;
    for (size_t i = 0; i < r->nfields; i++) {
        if (r->fields[i][r->lens[i]] != '\0') abort();
        total += r->lens[i];
        buf_append(&a->out, r->fields[i], r->lens[i]);
        buf_putc(&a->out, '\x1f');
    }
    if (total > 256) abort();   /* max_record below */
    return buf_putc(&a->out, '\n');
}

static void run(char delim, const uint8_t *p, size_t n, size_t step, acc *a)
{
    import_csv *c = NULL;
    if (import_csv_new(delim, 256, &c)) abort();
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        if (import_csv_feed(c, p + i, k, on_rec, a)) abort();
    }
    if (import_csv_finish(c, on_rec, a)) abort();
    import_csv_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char delims[] = {',', ';', ':', '|', '\t', ' '};
    if (size < 1) return 0;
    char delim = delims[data[0] % 6];
    size_t step = (size_t)(data[0] >> 3) + 1;
    acc a1 = {BUF_INIT, 0}, a2 = {BUF_INIT, 0};
    run(delim, data + 1, size - 1, step, &a1);
    run(delim, data + 1, size - 1, size, &a2);
    if (a1.out.len != a2.out.len || (a1.out.len && memcmp(a1.out.data, a2.out.data, a1.out.len)))
        abort();
    buf_free(&a1.out);
    buf_free(&a2.out);
    return 0;
}
