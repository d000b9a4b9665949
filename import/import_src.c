/* import_src.c: what an import reads: resolving SOURCE into a list of data files (an export
 * directory with its manifests, a prefix, one object, or the entries of an archive), local or
 * S3 through store/, and streaming archive entries with libarchive.
 *
 * Archives are read twice, never extracted: the first pass reads only the small marker files
 * (manifests, .md5, tidemark-schema.json) and the names of the data entries, reading and
 * discarding the rest so that the bomb limits apply; the second pass streams the data entries
 * the first pass chose. Two passes because manifests and the schema may come after the data
 * in an archive (tar writes in directory order), and both decide what the data means. */
#include "import/import_src.h"
#include "engine/err.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MARKER_MAX ((size_t)64 << 20)   /* a manifest or schema file read into memory */

/* ---- small helpers ------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int import_is_archive_name(const char *name)
{
    static const char *const ext[] = {".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd",
                                      ".tzst", ".zip", ".tar.xz", ".tar.bz2"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (ends_with(name, ext[i])) return 1;
    return 0;
}

static const char *base_name(const char *k)
{
    const char *s = strrchr(k, '/');
    return s ? s + 1 : k;
}

static int add_input(import_source *src, const char *key, long mi, uint64_t size)
{
    if (src->n == src->cap) {
        size_t nc = src->cap ? src->cap * 2 : 16;
        import_input *ni = realloc(src->inputs, nc * sizeof *ni);
        if (!ni) return err_set(TM_ENOMEM, "out of memory (inputs)");
        src->inputs = ni;
        src->cap = nc;
    }
    import_input *in = &src->inputs[src->n];
    memset(in, 0, sizeof *in);
    in->key = strdup(key);
    in->mi = mi;
    in->size = size;
    buf p = BUF_INIT;
    int rc = 0;
    if (src->archive) {
        rc = buf_printf(&p, "%s!/%s", src->archive_ptr, key);
    } else if (store_is_s3(src->st)) {
        rc = store_full_key(src->st, key, &p);
    } else {
        rc = buf_printf(&p, "%s/%s", store_root(src->st), key);
    }
    in->ptr_key = buf_detach(&p);
    if (!rc && (!in->key || !in->ptr_key)) rc = err_set(TM_ENOMEM, "out of memory (inputs)");
    if (rc) {
        free(in->key);
        free(in->ptr_key);
        buf_free(&p);
        return rc;
    }
    src->n++;
    return 0;
}

void import_source_close(import_source *src)
{
    if (!src) return;
    for (size_t i = 0; i < src->n; i++) {
        free(src->inputs[i].key);
        free(src->inputs[i].ptr_key);
    }
    free(src->inputs);
    import_manifest_free(&src->man);
    store_close(src->st);
    free(src->archive_key);
    free(src->archive_ptr);
    free(src->export_sub);
    free(src->display);
    buf_free(&src->schema_table);
    memset(src, 0, sizeof *src);
}

/* ---- export manifests ------------------------------------------------------------------- */

/* The manifests and schema of an export, from wherever they were read. text[i] NULL: absent. */
typedef struct marker_set {
    buf summary, summary_md5, files, files_md5, schema;
    int have_summary, have_summary_md5, have_files, have_files_md5, have_schema;
} marker_set;

static void markers_init(marker_set *m)
{
    buf b = BUF_INIT_MAX(MARKER_MAX + 1);
    memset(m, 0, sizeof *m);
    m->summary = m->summary_md5 = m->files = m->files_md5 = m->schema = b;
}

static void markers_free(marker_set *m)
{
    buf_free(&m->summary);
    buf_free(&m->summary_md5);
    buf_free(&m->files);
    buf_free(&m->files_md5);
    buf_free(&m->schema);
}

/* Checks and parses what was found; where is for messages. */
static int markers_apply(import_source *src, marker_set *m, const char *where)
{
    int rc;
    if (m->have_schema) {
        if ((rc = import_schema_parse(m->schema.data, m->schema.len, &src->schema,
                                      &src->schema_table)))
            return err_wrap(rc, "%s: ", where);
        src->have_schema = 1;
    }
    if (!m->have_summary && !m->have_files) return 0;
    if (!m->have_summary)
        return err_set(TM_ECORRUPT, "%s: the export is incomplete: manifest-files.json without "
                       "manifest-summary.json (still running, or interrupted)", where);
    if (!m->have_files)
        return err_set(TM_ECORRUPT, "%s: manifest-files.json is missing", where);
    if (m->have_summary_md5 &&
        (rc = import_manifest_check_md5("manifest-summary.json", m->summary.data, m->summary.len,
                                        m->summary_md5.data, m->summary_md5.len)))
        return err_wrap(rc, "%s: ", where);
    if (m->have_files_md5 &&
        (rc = import_manifest_check_md5("manifest-files.json", m->files.data, m->files.len,
                                        m->files_md5.data, m->files_md5.len)))
        return err_wrap(rc, "%s: ", where);
    if ((rc = import_manifest_parse_summary(&src->man, m->summary.data, m->summary.len)) ||
        (rc = import_manifest_parse_files(&src->man, m->files.data, m->files.len)))
        return err_wrap(rc, "%s: ", where);
    src->have_manifest = 1;
    return 0;
}

/* Reads one marker object of the store if it exists. */
static int get_marker(store *st, const char *sub, const char *name, buf *out, int *have)
{
    buf k = BUF_INIT;
    int rc = buf_printf(&k, "%s%s", sub, name);
    if (!rc) rc = store_get_all(st, k.data, MARKER_MAX, out);
    if (rc == TM_ENOTFOUND) rc = 0;
    else if (!rc) *have = 1;
    buf_free(&k);
    if (out->data == NULL) buf_puts(out, "");
    return rc;
}

/* ---- directories and prefixes ----------------------------------------------------------- */

typedef struct listing {
    store_entry *e;
    size_t n;
} listing;

static int cmp_entry_key(const void *k, const void *e)
{
    return strcmp(k, ((const store_entry *)e)->key);
}

static const store_entry *listing_find(const listing *l, const char *key)
{
    return bsearch(key, l->e, l->n, sizeof *l->e, cmp_entry_key);
}

/* The export directory inside a listing: "" when the manifests are at the top, else the one
 * directory holding manifest-summary.json or manifest-files.json. 1 if found, 0 if none. */
static int find_export(const listing *l, buf *sub, const char *display)
{
    const char *found = NULL;
    size_t found_len = 0;
    int count = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *k = l->e[i].key, *b = base_name(k);
        if (strcmp(b, "manifest-summary.json") && strcmp(b, "manifest-files.json")) continue;
        size_t dl = (size_t)(b - k);
        if (found && dl == found_len && !strncmp(found, k, dl)) continue;
        /* the shallowest wins only if it is at the top; otherwise two exports are ambiguous */
        if (dl == 0) { found = k; found_len = 0; count = 1; break; }
        if (!found) { found = k; found_len = dl; }
        count++;
    }
    if (!found) return 0;
    if (count > 1)
        return err_set(TM_EINVAL, "%s holds more than one export (%.*s and others): give the "
                       "export directory itself (.../AWSDynamoDB/<ExportId>/)", display,
                       (int)found_len, found);
    buf_reset(sub);
    int rc = buf_printf(sub, "%.*s", (int)found_len, found);
    return rc ? rc : 1;
}

static int open_dir(import_source *src)
{
    int rc;
    listing l = {NULL, 0};
    buf sub = BUF_INIT;
    marker_set m;
    markers_init(&m);
    if ((rc = store_list_all(src->st, src->prefix_filter ? src->prefix_filter : "", &l.e, &l.n)))
        goto out;
    if (!src->prefix_filter && (rc = find_export(&l, &sub, src->display)) < 0) goto out;
    if (rc == 1) {
        src->export_sub = strdup(sub.data);
        if (!src->export_sub) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
        if ((rc = get_marker(src->st, sub.data, "manifest-summary.json", &m.summary, &m.have_summary)) ||
            (rc = get_marker(src->st, sub.data, "manifest-summary.md5", &m.summary_md5, &m.have_summary_md5)) ||
            (rc = get_marker(src->st, sub.data, "manifest-files.json", &m.files, &m.have_files)) ||
            (rc = get_marker(src->st, sub.data, "manifest-files.md5", &m.files_md5, &m.have_files_md5)) ||
            (rc = get_marker(src->st, sub.data, "tidemark-schema.json", &m.schema, &m.have_schema)))
            goto out;
        if ((rc = markers_apply(src, &m, src->display))) goto out;
        /* Every listed file must be there before any work starts. */
        for (size_t i = 0; i < src->man.nfiles; i++) {
            buf k = BUF_INIT;
            if ((rc = buf_printf(&k, "%s%s", sub.data, src->man.files[i].rel))) goto out;
            const store_entry *e = listing_find(&l, k.data);
            if (!e) {
                rc = err_set(TM_ENOTFOUND, "data file %s listed in manifest-files.json is "
                             "missing from %s (dataFileS3Key %s)", src->man.files[i].rel,
                             src->display, src->man.files[i].key);
                buf_free(&k);
                goto out;
            }
            rc = add_input(src, k.data, (long)i, e->size);
            buf_free(&k);
            if (rc) goto out;
        }
    } else {
        /* A plain directory or prefix of data files. */
        rc = 0;
        if ((rc = get_marker(src->st, "", "tidemark-schema.json", &m.schema, &m.have_schema)) ||
            (rc = markers_apply(src, &m, src->display)))
            goto out;
        for (size_t i = 0; i < l.n; i++) {
            if (import_is_marker(l.e[i].key)) continue;
            if ((rc = add_input(src, l.e[i].key, -1, l.e[i].size))) goto out;
        }
        if (src->n == 0) {
            rc = err_set(TM_ENOTFOUND, "no data files in %s", src->display);
            goto out;
        }
    }
out:
    store_entries_free(l.e, l.n);
    buf_free(&sub);
    markers_free(&m);
    return rc;
}

/* ---- archives ----------------------------------------------------------------------------- */

typedef struct arch_io {
    store_reader *r;
    char block[256 << 10];
    uint64_t raw;        /* bytes read from the archive object */
} arch_io;

static la_ssize_t arch_read_cb(struct archive *a, void *ctx, const void **out)
{
    arch_io *io = ctx;
    size_t got = 0;
    int rc = store_reader_read(io->r, io->block, sizeof io->block, &got);
    if (rc) {
        archive_set_error(a, EIO, "%s", err_msg());
        return -1;
    }
    io->raw += got;
    *out = io->block;
    return (la_ssize_t)got;
}

struct import_archive {
    struct archive *a;
    arch_io *io;
    import_source *src;
    import_dec_budget *budget;
    uint64_t entry_bytes;    /* entry bytes read out of the archive so far */
    char path[4096];
};

static void archive_end(import_archive *x)
{
    if (!x) return;
    if (x->a) archive_read_free(x->a);
    if (x->io) store_reader_close(x->io->r);
    free(x->io);
    free(x);
}

static int archive_begin(import_source *src, import_dec_budget *budget, import_archive **out)
{
    int rc = 0;
    *out = NULL;
    import_archive *x = calloc(1, sizeof *x);
    if (!x || !(x->io = calloc(1, sizeof *x->io))) {
        free(x);
        return err_set(TM_ENOMEM, "out of memory (archive)");
    }
    x->src = src;
    x->budget = budget;
    if ((rc = store_reader_open(src->st, src->archive_key, NULL, &x->io->r))) goto out;
    if (!(x->a = archive_read_new())) { rc = err_set(TM_ENOMEM, "out of memory (libarchive)"); goto out; }
    /* Only what we mean to read: no external-program filters, no exotic formats. */
    archive_read_support_filter_gzip(x->a);
    archive_read_support_filter_zstd(x->a);
    archive_read_support_filter_bzip2(x->a);
    archive_read_support_filter_xz(x->a);
    archive_read_support_format_tar(x->a);
    archive_read_support_format_gnutar(x->a);
    archive_read_support_format_zip_streamable(x->a);
    if (archive_read_open2(x->a, x->io, NULL, arch_read_cb, NULL, NULL) != ARCHIVE_OK) {
        rc = err_set(TM_ECORRUPT, "%s: not a readable archive: %s", src->display,
                     archive_error_string(x->a));
        goto out;
    }
    *out = x;
    x = NULL;
out:
    archive_end(x);
    return rc;
}

/* The next regular-file entry, its path checked and normalised ("./" dropped) into x->path.
 * 1 found, 0 at the end. */
static int archive_next(import_archive *x)
{
    struct archive_entry *e;
    for (;;) {
        int r = archive_read_next_header(x->a, &e);
        if (r == ARCHIVE_EOF) return 0;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return err_set(TM_ECORRUPT, "%s: bad archive: %s", x->src->archive_ptr,
                           archive_error_string(x->a));
        const char *p = archive_entry_pathname(e);
        if (!p) return err_set(TM_ECORRUPT, "%s: archive entry without a name", x->src->archive_ptr);
        if (p[0] == '/' || (p[0] && p[1] == ':'))
            return err_set(TM_ECORRUPT, "%s: archive entry \"%s\" has an absolute path: refused",
                           x->src->archive_ptr, p);
        while (p[0] == '.' && p[1] == '/') p += 2;
        size_t n = strlen(p);
        if (n >= sizeof x->path)
            return err_set(TM_ECORRUPT, "%s: archive entry name too long", x->src->archive_ptr);
        memcpy(x->path, p, n + 1);
        while (n > 0 && x->path[n - 1] == '/') x->path[--n] = '\0';   /* "dir/" entries */
        if (n == 0) continue;
        if (!import_path_safe(x->path))
            return err_set(TM_ECORRUPT, "%s: archive entry \"%s\" has a \"..\" or empty path "
                           "segment: refused", x->src->archive_ptr, p);
        if (archive_entry_filetype(e) != AE_IFREG) continue;   /* dirs, links: never followed */
        return 1;
    }
}

/* Entry data, with the outer-layer bomb check (entry bytes vs archive bytes). */
static int archive_data(import_archive *x, void *p, size_t n, size_t *got)
{
    la_ssize_t r = archive_read_data(x->a, p, n);
    if (r < 0)
        return err_set(TM_ECORRUPT, "%s: entry %s: %s", x->src->archive_ptr, x->path,
                       archive_error_string(x->a));
    *got = (size_t)r;
    x->entry_bytes += (uint64_t)r;
    import_dec_budget *b = x->budget;
    if (b && b->max_ratio && x->entry_bytes > b->ratio_grace &&
        x->entry_bytes / (x->io->raw ? x->io->raw : 1) > b->max_ratio)
        return err_set(TM_ELIMIT, "%s: archive expands more than %llu:1 (a compression bomb?) "
                       "(--max-ratio)", x->src->archive_ptr, (unsigned long long)b->max_ratio);
    if (b && b->max_total && x->entry_bytes > b->max_total)
        return err_set(TM_ELIMIT, "%s: archive holds more than %llu bytes (--max-decompressed)",
                       x->src->archive_ptr, (unsigned long long)b->max_total);
    return 0;
}

int import_archive_read(void *ctx, void *p, size_t n, size_t *got)
{
    return archive_data(ctx, p, n, got);
}

const char *import_archive_path(const import_archive *x) { return x->path; }

/* Reads the current entry into out (bounded), or discards it when out is NULL. */
static int archive_slurp(import_archive *x, buf *out)
{
    char tmp[65536];
    for (;;) {
        size_t got;
        int rc = archive_data(x, tmp, sizeof tmp, &got);
        if (rc) return rc;
        if (got == 0) return 0;
        if (out) {
            if (out->len + got > MARKER_MAX)
                return err_set(TM_ELIMIT, "%s: entry %s larger than %zu bytes", x->src->archive_ptr,
                               x->path, MARKER_MAX);
            if ((rc = buf_append(out, tmp, got))) return rc;
        }
    }
}

typedef struct arch_entry {
    char *path;
    uint64_t size;
} arch_entry;

/* Pass 1: markers into memory, data entry names into a list. */
static int archive_scan(import_source *src, import_dec_budget *budget)
{
    int rc;
    import_archive *x = NULL;
    marker_set m;
    markers_init(&m);
    arch_entry *ents = NULL;
    size_t nents = 0, cap = 0;
    char *export_dir = NULL;
    if ((rc = archive_begin(src, budget, &x))) goto out;
    while ((rc = archive_next(x)) == 1) {
        const char *b = base_name(x->path);
        size_t dl = (size_t)(b - x->path);
        buf *into = NULL;
        int *have = NULL;
        if (!strcmp(b, "manifest-summary.json")) { into = &m.summary; have = &m.have_summary; }
        else if (!strcmp(b, "manifest-summary.md5")) { into = &m.summary_md5; have = &m.have_summary_md5; }
        else if (!strcmp(b, "manifest-files.json")) { into = &m.files; have = &m.have_files; }
        else if (!strcmp(b, "manifest-files.md5")) { into = &m.files_md5; have = &m.have_files_md5; }
        else if (!strcmp(b, "tidemark-schema.json")) { into = &m.schema; have = &m.have_schema; }
        if (into) {
            if (*have)
                { rc = err_set(TM_EINVAL, "%s holds more than one %s: give one export per "
                               "archive", src->display, b); goto out; }
            if (strcmp(b, "tidemark-schema.json")) {
                if (export_dir && (strlen(export_dir) != dl || strncmp(export_dir, x->path, dl)))
                    { rc = err_set(TM_EINVAL, "%s holds manifests in two directories: give one "
                                   "export per archive", src->display); goto out; }
                if (!export_dir && !(export_dir = strndup(x->path, dl)))
                    { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
            }
            *have = 1;
            if ((rc = archive_slurp(x, into))) goto out;
            if (!into->data) buf_puts(into, "");
            continue;
        }
        if ((rc = archive_slurp(x, NULL))) goto out;
        if (import_is_marker(x->path)) continue;
        if (nents == cap) {
            cap = cap ? cap * 2 : 64;
            arch_entry *ne = realloc(ents, cap * sizeof *ne);
            if (!ne) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
            ents = ne;
        }
        if (!(ents[nents].path = strdup(x->path))) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
        ents[nents++].size = x->entry_bytes;
    }
    if (rc < 0) goto out;
    if ((rc = markers_apply(src, &m, src->display))) goto out;
    if (src->have_manifest) {
        src->export_sub = strdup(export_dir ? export_dir : "");
        /* in archive order, only the listed files */
        char *seen = calloc(src->man.nfiles + 1, 1);
        if (!seen || !src->export_sub) { free(seen); rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
        size_t dl = strlen(src->export_sub);
        for (size_t i = 0; i < nents && !rc; i++) {
            if (strncmp(ents[i].path, src->export_sub, dl)) continue;
            long mi = import_manifest_find(&src->man, ents[i].path + dl);
            if (mi < 0) continue;
            if (seen[mi]++) {
                rc = err_set(TM_ECORRUPT, "%s: entry %s appears twice", src->display, ents[i].path);
                break;
            }
            rc = add_input(src, ents[i].path, mi, ents[i].size);
        }
        for (size_t i = 0; i < src->man.nfiles && !rc; i++)
            if (!seen[i])
                rc = err_set(TM_ENOTFOUND, "data file %s listed in manifest-files.json is "
                             "missing from %s (dataFileS3Key %s)", src->man.files[i].rel,
                             src->display, src->man.files[i].key);
        free(seen);
        if (rc) goto out;
    } else {
        for (size_t i = 0; i < nents; i++)
            if ((rc = add_input(src, ents[i].path, -1, ents[i].size))) goto out;
        if (src->n == 0) {
            rc = err_set(TM_ENOTFOUND, "no data files in %s", src->display);
            goto out;
        }
    }
out:
    for (size_t i = 0; i < nents; i++) free(ents[i].path);
    free(ents);
    free(export_dir);
    markers_free(&m);
    archive_end(x);
    return rc;
}

int import_source_archive_each(import_source *src, import_dec_budget *budget,
                               import_entry_fn fn, void *ctx)
{
    int rc;
    import_archive *x = NULL;
    size_t next = 0;
    if ((rc = archive_begin(src, budget, &x))) goto out;
    while (next < src->n && (rc = archive_next(x)) == 1) {
        if (strcmp(x->path, src->inputs[next].key) != 0) continue;
        if ((rc = fn(ctx, next, x))) goto out;
        next++;
    }
    if (rc < 0) goto out;
    rc = 0;
    if (next < src->n)
        rc = err_set(TM_ECORRUPT, "%s: entry %s not found on the second read (the archive "
                     "changed while importing)", src->display, src->inputs[next].key);
out:
    archive_end(x);
    return rc;
}

/* ---- resolving SOURCE ------------------------------------------------------------------- */

typedef struct first_ctx {
    int found;
    char key[1100];
    uint64_t size;
} first_ctx;

static int first_cb(void *ctx, const store_entry *e)
{
    first_ctx *c = ctx;
    c->found = 1;
    snprintf(c->key, sizeof c->key, "%s", e->key);
    c->size = e->size;
    return 1;   /* one is enough: the listing stops after its first page */
}

/* The first key under prefix (in byte order, so an object named exactly prefix comes first).
 * A LIST rather than a HEAD: its refusals carry the S3 error code. */
static int first_key(store *st, const char *prefix, first_ctx *c)
{
    memset(c, 0, sizeof *c);
    int rc = store_list(st, prefix, first_cb, c);
    if (rc == 1 || rc == TM_ENOTFOUND) rc = 0;
    return rc;
}

/* Opens parent (a store destination) and decides what key means inside it. */
static int resolve_in(import_source *src, const char *parent, const char *key,
                      const store_options *so, int local_kind)
{
    int rc;
    first_ctx fc;
    memset(&fc, 0, sizeof fc);
    if ((rc = store_open(parent, so, &src->st))) return rc;
    /* local_kind: 1 file, 2 directory, 3 absent, 0 unknown (S3) */
    if ((local_kind == 0 || local_kind == 1) && key[0]) {
        if (local_kind == 0 && (rc = first_key(src->st, key, &fc))) return rc;
        if (local_kind == 1 || (fc.found && !strcmp(fc.key, key))) {
            if (import_is_archive_name(key)) {
                src->archive = 1;
                src->archive_key = strdup(key);
                buf p = BUF_INIT;
                if (store_is_s3(src->st)) store_full_key(src->st, key, &p);
                else buf_printf(&p, "%s/%s", store_root(src->st), key);
                src->archive_ptr = buf_detach(&p);
                if (!src->archive_key || !src->archive_ptr) return err_set(TM_ENOMEM, "out of memory");
                return 0;
            }
            marker_set m;
            markers_init(&m);
            rc = get_marker(src->st, "", "tidemark-schema.json", &m.schema, &m.have_schema);
            if (!rc) rc = markers_apply(src, &m, src->display);
            markers_free(&m);
            if (!rc) rc = add_input(src, key, -1, fc.size);
            return rc;
        }
    }
    if (!key[0] || local_kind == 2) return open_dir(src);
    /* S3: "key/" is a directory; else a plain prefix of keys */
    buf d = BUF_INIT;
    if ((rc = buf_printf(&d, "%s/", key)) || (rc = first_key(src->st, d.data, &fc))) {
        buf_free(&d);
        return rc;
    }
    buf_free(&d);
    if (fc.found) {
        buf sub = BUF_INIT;
        store_close(src->st);
        src->st = NULL;
        rc = buf_printf(&sub, "%s%s%s", parent, ends_with(parent, "/") ? "" : "/", key);
        if (!rc) rc = store_open(sub.data, so, &src->st);
        buf_free(&sub);
        return rc ? rc : open_dir(src);
    }
    if ((rc = first_key(src->st, key, &fc))) return rc;
    if (!fc.found) return err_set(TM_ENOTFOUND, "%s: no such object, directory or prefix", src->display);
    src->prefix_filter = key;
    rc = open_dir(src);
    src->prefix_filter = NULL;
    return rc;
}

int import_source_open(const char *from, const store_options *so, import_dec_budget *budget,
                       import_source *src)
{
    int rc = 0;
    memset(src, 0, sizeof *src);
    buf tn = BUF_INIT;
    src->schema_table = tn;
    if (!from || !*from) return err_set(TM_EINVAL, "no source (--from)");
    if (!(src->display = strdup(from))) return err_set(TM_ENOMEM, "out of memory");
    char *path = strdup(!strncmp(from, "file://", 7) ? from + 7 : from);
    if (!path) return err_set(TM_ENOMEM, "out of memory");
    if (!strncmp(path, "s3://", 5)) {
        char *rest = path + 5;
        char *sl = strchr(rest, '/');
        size_t n = strlen(path);
        if (!sl || !sl[1] || path[n - 1] == '/') {
            rc = resolve_in(src, path, "", so, 2);
        } else {
            char *last = strrchr(path, '/');
            *last = '\0';
            rc = resolve_in(src, path, last + 1, so, 0);
        }
    } else {
        struct stat st;
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/') path[--n] = '\0';
        int exists = stat(path, &st) == 0, e = errno;
        if (exists && S_ISDIR(st.st_mode)) {
            char *real = realpath(path, NULL);
            rc = resolve_in(src, real ? real : path, "", so, 2);
            free(real);
        } else if (exists && !S_ISREG(st.st_mode)) {
            rc = err_set(TM_EINVAL, "%s is not a regular file or directory", from);
        } else if (!exists && e != ENOENT) {
            rc = err_sys(TM_EIO, e, "%s", from);
        } else {
            char *last = strrchr(path, '/');
            const char *parent = ".", *key = path;
            if (last == path) { parent = "/"; key = path + 1; }
            else if (last) { *last = '\0'; parent = path; key = last + 1; }
            struct stat pst;
            char *real = realpath(parent, NULL);   /* "." and ".." make poor bucket names */
            if (!exists && (stat(parent, &pst) != 0 || !S_ISDIR(pst.st_mode)))
                rc = err_set(TM_ENOTFOUND, "%s: no such file or directory", from);
            else
                rc = resolve_in(src, real ? real : parent, key, so, exists ? 1 : 3);
            free(real);
        }
    }
    if (!rc && src->archive) rc = archive_scan(src, budget);
    if (!rc) {
        snprintf(src->bucket, sizeof src->bucket, "%s", store_bucket(src->st));
        const char *pre = store_prefix(src->st);
        snprintf(src->key_prefix, sizeof src->key_prefix, "%s%s%s", pre,
                 pre[0] && src->export_sub && src->export_sub[0] ? "/" : "",
                 src->export_sub ? src->export_sub : "");
    }
    free(path);
    return rc;
}
