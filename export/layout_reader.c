/* layout_reader.c: an export's records, one at a time, for rollback and forward apply: nothing
 * is handed out before the whole export checks out (manifests against their .md5 files, every
 * data file against its md5Checksum), so an undo never starts from a damaged export.
 *
 * Cost: every data file is read twice, once for its MD5 (raw bytes, no decoding) and once to
 * decode it; the line counts are checked as each file ends. Memory: one decode buffer and one
 * line (at most LINE_MAX_BYTES). */
#include "export/layout.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES ((size_t)16 << 20)
#define READ_BLOCK     ((size_t)1 << 20)

struct layout_reader {
    layout_reader_options o;
    layout_loc loc;
    layout_summary sum;
    layout_file *files;
    size_t nfiles, next;          /* next: the file to open after the current one */
    const layout_file *cur;
    store_reader *sr;
    layout_dec *dec;
    buf text;                     /* decoded bytes not yet returned as lines */
    size_t start;                 /* first byte of text not yet returned */
    uint64_t lines;               /* lines of the current file so far */
    layout_record rec;
    unsigned char *blk;
    char tmp[PATH_MAX];           /* a bundle's temporary directory, removed on close */
};

/* ---- open: every check before the first record ------------------------------------------- */

static int get_checked(layout_reader *r, const char *name, const char *md5_name, size_t max,
                       buf *out)
{
    buf m = BUF_INIT;
    int rc = layout_loc_get(&r->loc, name, max, out);
    if (rc == TM_ENOTFOUND && !strcmp(name, LAYOUT_SUMMARY))
        rc = err_set(TM_ENOTFOUND, "%s: no complete export there (no " LAYOUT_SUMMARY ")",
                     r->loc.dir);
    else if (rc == TM_ENOTFOUND) rc = err_set(TM_ECORRUPT, "%s: %s is missing", r->loc.dir, name);
    int summary = !strcmp(name, LAYOUT_SUMMARY);
    if (!rc && summary && r->o.ignore_summary_checksum) goto out;   /* told to */
    if (!rc && (rc = layout_loc_get(&r->loc, md5_name, 1024, &m)) == TM_ENOTFOUND)
        rc = err_set(TM_ECORRUPT, "%s: %s is missing", r->loc.dir, md5_name);
    if (!rc && summary) rc = layout_check_summary_md5(out->data ? out->data : "", out->len,
                                                      m.data, m.len);
    else if (!rc) rc = layout_check_md5(name, out->data ? out->data : "", out->len, m.data, m.len);
out:
    buf_free(&m);
    return rc;
}

static int add_file(layout_reader *r, const char *line, size_t n, size_t *cap, uint64_t lineno)
{
    layout_file f;
    int rc = layout_file_parse(line, n, &f);
    if (!rc && (!f.have_count || !f.have_md5))
        rc = err_set(TM_ECORRUPT, "no itemCount or no valid md5Checksum");
    if (!rc) rc = layout_file_resolve(&f, r->sum.root, r->sum.export_id);
    if (rc) return err_wrap(rc, LAYOUT_FILES " line %llu: ", (unsigned long long)lineno);
    if (r->nfiles == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        layout_file *nf = realloc(r->files, nc * sizeof *nf);
        if (!nf) return err_set(TM_ENOMEM, "out of memory (manifest)");
        r->files = nf;
        *cap = nc;
    }
    r->files[r->nfiles++] = f;
    return 0;
}

static int read_manifests(layout_reader *r)
{
    buf b = BUF_INIT;
    int rc = get_checked(r, LAYOUT_SUMMARY, LAYOUT_SUMMARY_MD5, LAYOUT_SUMMARY_MAX, &b);
    if (!rc) rc = layout_summary_parse(b.data, b.len, &r->sum);
    if (!rc && !r->sum.have_item_count)
        rc = err_set(TM_ECORRUPT, LAYOUT_SUMMARY ": no itemCount");
    buf_reset(&b);
    if (!rc) rc = get_checked(r, LAYOUT_FILES, LAYOUT_FILES_MD5, LAYOUT_FILES_MAX, &b);
    size_t cap = 0, start = 0;
    uint64_t lineno = 0, sum = 0;
    while (!rc && start < b.len) {
        char *nl = memchr(b.data + start, '\n', b.len - start);
        size_t end = nl ? (size_t)(nl - b.data) : b.len;
        lineno++;
        if (end > start) rc = add_file(r, b.data + start, end - start, &cap, lineno);
        if (!rc && end > start) sum += r->files[r->nfiles - 1].item_count;
        start = end + 1;
    }
    if (!rc && sum != r->sum.item_count)
        rc = err_set(TM_ECORRUPT, LAYOUT_FILES " lists %llu items in all, " LAYOUT_SUMMARY
                     " says %llu", (unsigned long long)sum, (unsigned long long)r->sum.item_count);
    buf_free(&b);
    return rc;
}

/* The raw bytes of one data file against its md5Checksum. */
static int check_file(layout_reader *r, const layout_file *f)
{
    store *st;
    char key[1400];
    store_reader *sr = NULL;
    store_md5_ctx *m = NULL;
    int rc = layout_loc_data(&r->loc, f, &st, key, sizeof key);
    if (!rc && (rc = store_reader_open(st, key, NULL, &sr)) == TM_ENOTFOUND)
        rc = err_set(TM_ECORRUPT, "%s: missing data file", f->key);
    if (!rc && !(m = store_md5_new())) rc = err_set(TM_ENOMEM, "out of memory");
    while (!rc) {
        size_t got;
        if ((rc = store_reader_read(sr, r->blk, READ_BLOCK, &got)) || !got) break;
        store_md5_update(m, r->blk, got);
    }
    if (!rc) {
        unsigned char d[16];
        store_md5_final(m, d);
        m = NULL;
        if (memcmp(d, f->md5, 16))
            rc = err_set(TM_ECORRUPT, "%s does not match its md5Checksum %s (altered or "
                         "truncated)", f->key, f->md5_b64);
    }
    store_md5_free(m);
    store_reader_close(sr);
    return rc;
}

int layout_reader_open(const char *dir, const store_options *so, layout_reader **out)
{
    return layout_reader_open_with(dir, so, NULL, out);
}

int layout_reader_open_with(const char *dir, const store_options *so,
                            const layout_reader_options *o, layout_reader **out)
{
    *out = NULL;
    layout_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->blk = malloc(READ_BLOCK))) {
        if (r) free(r);
        return err_set(TM_ENOMEM, "out of memory");
    }
    if (o) r->o = *o;
    r->text = (buf)BUF_INIT_MAX(LINE_MAX_BYTES + READ_BLOCK);
    char bundle[PATH_MAX], unpacked[PATH_MAX + 64];
    int rc = 0;
    if (layout_bundle_find(dir, bundle, sizeof bundle)) {
        rc = layout_bundle_open(bundle, r->tmp, sizeof r->tmp, unpacked, sizeof unpacked);
        if (rc) r->tmp[0] = '\0';
        dir = unpacked;
    }
    if (!rc) rc = layout_loc_open(dir, so, &r->loc);
    if (!rc) rc = read_manifests(r);
    for (size_t i = 0; !rc && i < r->nfiles; i++) rc = check_file(r, &r->files[i]);
    if (rc) {
        layout_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

const layout_summary *layout_reader_summary(const layout_reader *r) { return &r->sum; }

/* ---- records ----------------------------------------------------------------------------- */

static void close_file(layout_reader *r)
{
    layout_dec_close(r->dec);
    store_reader_close(r->sr);
    r->dec = NULL;
    r->sr = NULL;
    r->cur = NULL;
    buf_reset(&r->text);
    r->start = 0;
    r->lines = 0;
}

static int open_file(layout_reader *r)
{
    store *st;
    char key[1400];
    r->cur = &r->files[r->next++];
    int rc = layout_loc_data(&r->loc, r->cur, &st, key, sizeof key);
    if (!rc) rc = store_reader_open(st, key, NULL, &r->sr);
    if (!rc) rc = layout_dec_open(LAYOUT_CODEC_AUTO, key, layout_store_read, r->sr, NULL, &r->dec);
    return rc ? err_wrap(rc, "%s: ", r->cur->key) : 0;
}

/* The current file has ended: its last line and its count. */
static int end_file(layout_reader *r)
{
    int rc = 0;
    if (r->text.len > r->start)
        rc = err_set(TM_ECORRUPT, "%s: the last line has no newline", r->cur->key);
    else if (r->lines != r->cur->item_count)
        rc = err_set(TM_ECORRUPT, "%s: itemCount %llu but %llu lines", r->cur->key,
                     (unsigned long long)r->cur->item_count, (unsigned long long)r->lines);
    close_file(r);
    return rc;
}

/* Decodes more of the current file into text (dropping what was returned). 0 at its end. */
static int more(layout_reader *r, size_t *got)
{
    if (r->start) {
        memmove(r->text.data, r->text.data + r->start, r->text.len - r->start);
        r->text.len -= r->start;
        r->start = 0;
    }
    if (r->text.len > LINE_MAX_BYTES)
        return err_set(TM_ELIMIT, "%s: a line longer than %zu bytes", r->cur->key,
                       LINE_MAX_BYTES);
    int rc = buf_reserve(&r->text, READ_BLOCK);
    if (!rc) rc = layout_dec_read(r->dec, r->text.data + r->text.len, READ_BLOCK, got);
    if (rc) return err_wrap(rc, "%s: ", r->cur->key);
    r->text.len += *got;
    return 0;
}

int layout_reader_next(layout_reader *r, layout_record *rec)
{
    int rc;
    layout_record_clear(&r->rec);
    for (;;) {
        if (!r->cur) {
            if (r->next == r->nfiles) return 0;
            if ((rc = open_file(r))) return rc;
        }
        char *nl = r->text.len > r->start
                       ? memchr(r->text.data + r->start, '\n', r->text.len - r->start) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - (r->text.data + r->start));
            char why[512];
            r->lines++;
            rc = layout_record_parse(r->sum.incremental, r->text.data + r->start, n, &r->rec,
                                     why, sizeof why);
            r->start += n + 1;
            if (rc) return err_wrap(rc, "%s line %llu: ", r->cur->key,
                                    (unsigned long long)r->lines);
            *rec = r->rec;
            return 1;
        }
        size_t got;
        if ((rc = more(r, &got))) return rc;
        if (!got && (rc = end_file(r))) return rc;
    }
}

void layout_reader_close(layout_reader *r)
{
    if (!r) return;
    close_file(r);
    layout_record_clear(&r->rec);
    layout_loc_close(&r->loc);
    if (r->tmp[0]) fsx_rmtree(r->tmp);
    free(r->files);
    buf_free(&r->text);
    free(r->blk);
    free(r);
}
