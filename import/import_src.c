/* import_src.c: what an import reads: resolving SOURCE into a list of data files (an export
 * directory with its manifests, a prefix, one object, or the entries of an archive), local or
 * S3 through store/, and streaming archive entries with libarchive.
 *
 * Archives are read twice, never extracted: the first pass reads only the small marker files
 * (manifests, .md5, tidemark-schema.json) and the names of the data entries, reading and
 * discarding the rest so that the bomb limits apply; the second pass streams the data entries
 * the first pass chose. Two passes because manifests and the schema may come after the data
 * in an archive (tar writes in directory order), and both decide what the data means.
 *
 * Links in archives (tar symbolic and hard links, zip symbolic links, and device or fifo
 * entries) are never followed or read, the same way in tar and zip. A symbolic link's bytes are
 * not in the archive, so one that would be data (every entry of an archive without manifests,
 * a file the manifest lists, a manifest itself) makes the import fail naming it: an import
 * that says OK must hold all the data. Others are skipped with a line on stderr naming them:
 * a hard link (its bytes are read once, under the name it links to) and a link the manifest
 * does not list (not part of the export). zip keeps a file's type only in its central
 * directory, which the streaming reader never sees (it would hand a link's target path over
 * as data), so for zip the central directory is read first, from the archive's tail. */
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
    for (size_t i = 0; i < src->nskipped; i++) {
        free(src->skipped[i].entry);
        free(src->skipped[i].reason);
    }
    free(src->skipped);
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
    if (m->have_summary_md5 && !src->ignore_summary_checksum &&
        (rc = layout_check_summary_md5(m->summary.data, m->summary.len, m->summary_md5.data,
                                       m->summary_md5.len)))
        return err_wrap(rc, "%s: ", where);
    if (m->have_files_md5 &&
        (rc = layout_check_md5(LAYOUT_FILES, m->files.data, m->files.len, m->files_md5.data,
                               m->files_md5.len)))
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

/* A link entry met by the first pass: kind "symbolic link", "hard link" or "special file". */
typedef struct arch_link {
    char *path, *target;     /* target NULL: none (special files) */
    const char *kind;
} arch_link;

struct import_archive {
    struct archive *a;
    arch_io *io;
    import_source *src;
    import_dec_budget *budget;
    uint64_t entry_bytes;    /* entry bytes read out of the archive so far */
    char path[4096];
    int zip_checked;         /* zip_links has been filled (or the archive is not a zip) */
    char **zip_links;        /* names of the zip's symbolic links, from its central directory */
    size_t nzip_links;
    int collect;             /* first pass: record links in links[] */
    arch_link *links;
    size_t nlinks;
};

static void archive_end(import_archive *x)
{
    if (!x) return;
    for (size_t i = 0; i < x->nzip_links; i++) free(x->zip_links[i]);
    free(x->zip_links);
    for (size_t i = 0; i < x->nlinks; i++) {
        free(x->links[i].path);
        free(x->links[i].target);
    }
    free(x->links);
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

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Fills x->zip_links with the names of the symbolic links in the zip's central directory
 * (made on Unix, mode S_IFLNK in the high half of the external attributes). A tail or
 * directory that cannot be parsed leaves the list empty: libarchive then judges the archive. */
static int zip_read_links(import_archive *x)
{
    import_source *src = x->src;
    store_object_info info;
    buf t = BUF_INIT, cd = BUF_INIT;
    int rc = store_head(src->st, src->archive_key, &info);
    if (rc) goto out;
    /* the end record (22 bytes + a comment of up to 65535) and the zip64 locator (20) before it */
    uint64_t tail = info.size < 22 + 65535 + 20 ? info.size : 22 + 65535 + 20;
    if (tail < 22 || (rc = store_get_range(src->st, src->archive_key, info.size - tail, tail, &t)))
        goto out;
    const unsigned char *b = (const unsigned char *)t.data;
    size_t eocd = SIZE_MAX;
    for (size_t i = t.len - 22 + 1; i-- > 0;)
        if (!memcmp(b + i, "PK\5\6", 4) && i + 22 + le16(b + i + 20) == t.len) { eocd = i; break; }
    if (eocd == SIZE_MAX) goto out;
    uint64_t cd_size = le32(b + eocd + 12), cd_off = le32(b + eocd + 16);
    if ((cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) && eocd >= 20 &&
        !memcmp(b + eocd - 20, "PK\6\7", 4)) {
        buf z = BUF_INIT;
        if ((rc = store_get_range(src->st, src->archive_key, le64(b + eocd - 20 + 8), 56, &z))) goto out;
        if (z.len == 56 && !memcmp(z.data, "PK\6\6", 4)) {
            cd_size = le64((const unsigned char *)z.data + 40);
            cd_off = le64((const unsigned char *)z.data + 48);
        }
        buf_free(&z);
    }
    if (cd_size == 0 || cd_size > MARKER_MAX || cd_off >= info.size || cd_size > info.size - cd_off)
        goto out;
    if ((rc = store_get_range(src->st, src->archive_key, cd_off, cd_size, &cd))) goto out;
    const unsigned char *p = (const unsigned char *)cd.data, *end = p + cd.len;
    while (end - p >= 46 && !memcmp(p, "PK\1\2", 4)) {
        size_t nl = le16(p + 28), el = le16(p + 30), cl = le16(p + 32);
        if ((size_t)(end - p) < 46 + nl + el + cl) break;
        if (le16(p + 4) >> 8 == 3 && (le32(p + 38) >> 16 & 0170000) == 0120000) {
            char **nz = realloc(x->zip_links, (x->nzip_links + 1) * sizeof *nz);
            if (!nz) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
            x->zip_links = nz;
            if (!(nz[x->nzip_links] = strndup((const char *)p + 46, nl))) {
                rc = err_set(TM_ENOMEM, "out of memory");
                goto out;
            }
            x->nzip_links++;
        }
        p += 46 + nl + el + cl;
    }
out:
    buf_free(&t);
    buf_free(&cd);
    if (rc) err_wrap(rc, "%s: reading the zip's central directory: ", src->archive_ptr);
    return rc;
}

/* If entry e is a link or special file, its kind (and *target, malloc'd, for links). */
static int entry_link(import_archive *x, struct archive_entry *e, const char *name,
                      const char **kind, char **target)
{
    int rc;
    *kind = NULL;
    *target = NULL;
    if (!x->zip_checked) {
        x->zip_checked = 1;
        if ((archive_format(x->a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP &&
            (rc = zip_read_links(x)))
            return rc;
    }
    const char *t = NULL;
    if ((t = archive_entry_hardlink(e))) {
        *kind = "hard link";
    } else if (archive_entry_filetype(e) == AE_IFLNK) {
        *kind = "symbolic link";
        t = archive_entry_symlink(e);
    } else if (archive_entry_filetype(e) == AE_IFREG) {
        for (size_t i = 0; i < x->nzip_links && !*kind; i++)
            if (!strcmp(x->zip_links[i], name)) *kind = "symbolic link";
        if (*kind) {
            /* a zip link's data is its target */
            char tb[1024];
            la_ssize_t r = archive_read_data(x->a, tb, sizeof tb - 1);
            tb[r > 0 ? r : 0] = '\0';
            if (!(*target = strdup(tb))) return err_set(TM_ENOMEM, "out of memory");
        }
    } else if (archive_entry_filetype(e) != AE_IFDIR) {
        *kind = "special file";
    }
    if (t && !(*target = strdup(t))) return err_set(TM_ENOMEM, "out of memory");
    return 0;
}

/* The next regular-file entry, its path checked and normalised ("./" dropped) into x->path.
 * 1 found, 0 at the end. Links are skipped; the first pass records them in x->links. */
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
        const char *kind;
        char *target;
        int rc = entry_link(x, e, p, &kind, &target);
        if (rc) return rc;
        if (p[0] == '/' || (p[0] && p[1] == ':'))
            return err_set(TM_ECORRUPT, "%s: archive entry \"%s\" has an absolute path: refused",
                           x->src->archive_ptr, p);
        while (p[0] == '.' && p[1] == '/') p += 2;
        size_t n = strlen(p);
        if (n >= sizeof x->path) {
            free(target);
            return err_set(TM_ECORRUPT, "%s: archive entry name too long", x->src->archive_ptr);
        }
        memcpy(x->path, p, n + 1);
        while (n > 0 && x->path[n - 1] == '/') x->path[--n] = '\0';   /* "dir/" entries */
        if (n == 0) {
            free(target);
            continue;
        }
        if (!layout_path_safe(x->path)) {
            free(target);
            return err_set(TM_ECORRUPT, "%s: archive entry \"%s\" has a \"..\" or empty path "
                           "segment: refused", x->src->archive_ptr, p);
        }
        if (kind) {   /* never followed: the first pass decides (link_check) */
            if (x->collect) {
                arch_link *nl = realloc(x->links, (x->nlinks + 1) * sizeof *nl);
                char *path = strdup(x->path);
                if (!nl || !path) {
                    free(path);
                    free(target);
                    if (nl) x->links = nl;
                    return err_set(TM_ENOMEM, "out of memory");
                }
                x->links = nl;
                x->links[x->nlinks++] = (arch_link){path, target, kind};
            } else {
                free(target);
            }
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG) continue;   /* directories */
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

/* After the first pass: refuses a link that would be data, says on stderr which are skipped
 * and records them in src->skipped (see the top of this file). */
static int link_check(import_source *src, const import_archive *x)
{
    size_t dl = src->export_sub ? strlen(src->export_sub) : 0;
    for (size_t i = 0; i < x->nlinks; i++) {
        const arch_link *l = &x->links[i];
        int listed = src->have_manifest && !strncmp(l->path, src->export_sub, dl) &&
                     import_manifest_find(&src->man, l->path + dl) >= 0;
        int hard = !strcmp(l->kind, "hard link");
        const char *to = l->target ? (hard ? " of " : " to ") : "";
        if (listed || import_is_marker(l->path) || (!src->have_manifest && !hard))
            return err_set(TM_ECORRUPT, "%s: archive entry %s is a %s%s%s: links in an archive are never "
                           "followed; make the archive with the files themselves (tar -h, zip "
                           "without -y)", src->display, l->path, l->kind, to,
                           l->target ? l->target : "");
        const char *why = hard ? "its data is read once, under the name it links to"
                               : "not a file the manifest lists";
        fprintf(stderr, "tidemark-import: %s: archive entry %s is a %s%s%s: skipped (%s)\n",
                src->display, l->path, l->kind, to, l->target ? l->target : "", why);
        buf r = BUF_INIT;   /* the result's reason: "<kind> of/to <target>: <why>" */
        import_skip *ns = realloc(src->skipped, (src->nskipped + 1) * sizeof *ns);
        if (ns) src->skipped = ns;
        char *entry = strdup(l->path);
        if (!ns || !entry ||
            buf_printf(&r, "%s%s%s: %s", l->kind, to, l->target ? l->target : "", why)) {
            free(entry);
            buf_free(&r);
            return err_set(TM_ENOMEM, "out of memory");
        }
        src->skipped[src->nskipped++] = (import_skip){entry, buf_detach(&r)};
    }
    return 0;
}

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
    x->collect = 1;
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
        if (!src->export_sub) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
        if ((rc = link_check(src, x))) goto out;
        char *seen = calloc(src->man.nfiles + 1, 1);
        if (!seen) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
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
        if ((rc = link_check(src, x))) goto out;
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
                       int ignore_summary_checksum, import_source *src)
{
    int rc = 0;
    memset(src, 0, sizeof *src);
    src->ignore_summary_checksum = ignore_summary_checksum;
    buf tn = BUF_INIT;
    src->schema_table = tn;
    if (!from || !*from) return err_set(TM_EINVAL, "no source (--from)");
    if ((rc = store_url_check(from))) return rc;
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
