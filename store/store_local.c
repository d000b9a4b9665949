/* store_local.c: the local-directory backend -- key "a/b/c" is the file DIR/a/b/c.
 *
 * CRASH SAFETY
 *   A put writes DIR/a/b/.store-tmp-XXXXXX, fsyncs it, renames it to DIR/a/b/c and fsyncs
 *   DIR/a/b (and every directory it had to create, from the top down). A crash leaves either the
 *   old object, or the new one, plus perhaps a temp file that listings never show.
 * METADATA
 *   The object's MD5 (its ETag) and storage class ride along as extended attributes
 *   user.tidemark.md5 and user.tidemark.storage-class, so head and list need not read the file.
 *   A file system without user xattrs, or a file put there by hand, has etag "" and STANDARD.
 * LISTING
 *   Recursive, sorted byte-wise by key like S3; directories are not keys, empty ones are pruned on
 *   delete. */
#include "store/store_internal.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define TMP_PREFIX ".store-tmp-"
#define XA_MD5 "user.tidemark.md5"
#define XA_CLASS "user.tidemark.storage-class"

int store_local_open(store *s, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
        return err_set(TM_EINVAL, "destination %s exists and is not a directory", path);
    (void)s;
    return 0;
}

static int join(const store *s, const char *fkey, buf *out)
{
    int rc = buf_puts(out, s->dir);
    if (!rc) rc = buf_putc(out, '/');
    if (!rc) rc = buf_puts(out, fkey);
    return rc;
}

/* The directory plays the bucket: its absence is a missing bucket. */
static int missing_root(const store *s, const char *fkey)
{
    struct stat st;
    if (stat(s->dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    if (fkey) return err_set(TM_ENOTFOUND, "local store %s: no such directory (key %s)", s->dir, fkey);
    return err_set(TM_ENOTFOUND, "local store %s: no such directory", s->dir);
}

static void read_xattrs(int fd, const char *path, store_object_info *info)
{
    ssize_t n = fd >= 0 ? fgetxattr(fd, XA_MD5, info->etag, sizeof info->etag - 1)
                        : getxattr(path, XA_MD5, info->etag, sizeof info->etag - 1);
    info->etag[n > 0 ? n : 0] = '\0';
    n = fd >= 0 ? fgetxattr(fd, XA_CLASS, info->storage_class, sizeof info->storage_class - 1)
                : getxattr(path, XA_CLASS, info->storage_class, sizeof info->storage_class - 1);
    if (n <= 0) snprintf(info->storage_class, sizeof info->storage_class, "STANDARD");
    else info->storage_class[n] = '\0';
}

/* ================================================================================================
 * Writer
 * ============================================================================================== */

struct store_local_writer {
    store *s;
    char *path, *tmp, *fkey, *sc;
    int fd;
};

/* mkdir -p the parent of path, then fsync every directory that gained an entry. */
static int make_parents(const store *s, const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    if (fsx_exists(dir)) return 0;
    char top[PATH_MAX];  /* the highest directory that exists already */
    snprintf(top, sizeof top, "%s", dir);
    while (!fsx_exists(top) && strlen(top) > 1) {
        char *sl = strrchr(top, '/');
        if (sl == top) sl[1] = '\0';
        else *sl = '\0';
    }
    int rc = fsx_mkdirs(dir, 0755);
    if (rc) return err_wrap(rc, "local store %s: ", s->dir);
    /* Every new directory is an entry in its parent: fsync from dir's parent up to top. */
    for (;;) {
        if ((rc = fsx_fsync_parent(dir))) return rc;
        char *sl = strrchr(dir, '/');
        if (!sl || sl == dir) break;
        *sl = '\0';
        if (strlen(dir) <= strlen(top)) break;
    }
    return 0;
}

int store_local_writer_open(store *s, const char *fkey, const char *storage_class,
                            struct store_local_writer **out)
{
    *out = NULL;
    buf p = BUF_INIT, t = BUF_INIT;
    struct store_local_writer *w = NULL;
    int rc = join(s, fkey, &p);
    if (rc) goto out;
    if ((rc = make_parents(s, p.data))) goto out;
    if ((rc = buf_append(&t, p.data, (size_t)(strrchr(p.data, '/') - p.data))) ||
        (rc = buf_puts(&t, "/" TMP_PREFIX "XXXXXX")))
        goto out;
    if (!(w = calloc(1, sizeof *w))) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    w->s = s;
    w->fd = mkostemp(t.data, O_CLOEXEC);
    if (w->fd < 0) {
        rc = err_sys(TM_EIO, errno, "local store %s: create temp file for key %s", s->dir, fkey);
        goto out;
    }
    fchmod(w->fd, 0644);
    w->tmp = buf_detach(&t);
    w->path = buf_detach(&p);
    w->fkey = strdup(fkey);
    w->sc = storage_class ? strdup(storage_class) : NULL;
    if (!w->fkey || (storage_class && !w->sc)) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    *out = w;
    w = NULL;
out:
    if (w) store_local_writer_abort(w);
    buf_free(&p);
    buf_free(&t);
    return rc;
}

int store_local_writer_write(struct store_local_writer *w, const void *p, size_t n)
{
    int rc = fsx_write_all(w->fd, p, n);
    if (rc) err_wrap(rc, "local store %s: key %s: ", w->s->dir, w->fkey);
    return rc;
}

static void set_xattrs(int fd, const char *md5_hex, const char *sc)
{
    /* Best effort: without user xattrs we report etag "" and STANDARD (see METADATA). */
    if (md5_hex) fsetxattr(fd, XA_MD5, md5_hex, strlen(md5_hex), 0);
    if (sc) fsetxattr(fd, XA_CLASS, sc, strlen(sc), 0);
}

int store_local_writer_commit(struct store_local_writer *w, const char *md5_hex)
{
    int rc = 0;
    set_xattrs(w->fd, md5_hex, w->sc);
    if (fsync(w->fd) < 0) {
        rc = err_sys(TM_EIO, errno, "local store %s: fsync %s", w->s->dir, w->tmp);
        goto out;
    }
    if (close(w->fd) < 0) {
        w->fd = -1;
        rc = err_sys(TM_EIO, errno, "local store %s: close %s", w->s->dir, w->tmp);
        goto out;
    }
    w->fd = -1;
    if (rename(w->tmp, w->path) < 0) {
        rc = err_sys(TM_EIO, errno, "local store %s: rename to key %s", w->s->dir, w->fkey);
        goto out;
    }
    free(w->tmp);
    w->tmp = NULL;
    rc = fsx_fsync_parent(w->path);
out:
    store_local_writer_abort(w);
    return rc;
}

void store_local_writer_abort(struct store_local_writer *w)
{
    if (!w) return;
    int saved = errno;
    if (w->fd >= 0) close(w->fd);
    if (w->tmp) unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w->fkey);
    free(w->sc);
    free(w);
    errno = saved;
}

/* ================================================================================================
 * Reader and head
 * ============================================================================================== */

struct store_local_reader {
    int fd;
    uint64_t pos, end;
};

/* Opens the file of fkey; TM_ENOTFOUND for a missing key, a directory, or a missing root. */
static int open_key(store *s, const char *fkey, int *fd, struct stat *st)
{
    buf p = BUF_INIT;
    int rc = join(s, fkey, &p);
    *fd = -1;
    if (rc) goto out;
    *fd = open(p.data, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            if (!(rc = missing_root(s, fkey)))
                rc = err_set(TM_ENOTFOUND, "local store %s: no such key %s", s->dir, fkey);
        } else {
            rc = err_sys(TM_EIO, errno, "local store %s: open key %s", s->dir, fkey);
        }
        goto out;
    }
    if (fstat(*fd, st) < 0) {
        rc = err_sys(TM_EIO, errno, "local store %s: stat key %s", s->dir, fkey);
        goto out;
    }
    if (!S_ISREG(st->st_mode)) rc = err_set(TM_ENOTFOUND, "local store %s: no such key %s", s->dir, fkey);
out:
    if (rc && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    buf_free(&p);
    return rc;
}

static void fill_info(int fd, const struct stat *st, store_object_info *info)
{
    info->size = (uint64_t)st->st_size;
    info->last_modified = (int64_t)st->st_mtime;
    read_xattrs(fd, NULL, info);
}

int store_local_reader_open(store *s, const char *fkey, uint64_t off, uint64_t len,
                            store_object_info *info, struct store_local_reader **out)
{
    *out = NULL;
    int fd;
    struct stat st;
    int rc = open_key(s, fkey, &fd, &st);
    if (rc) return rc;
    fill_info(fd, &st, info);
    uint64_t size = (uint64_t)st.st_size;
    if (off > 0 && off >= size) {
        close(fd);
        return err_set(TM_EINVAL, "local store %s: key %s: range starts at %llu, past the end (%llu)",
                       s->dir, fkey, (unsigned long long)off, (unsigned long long)size);
    }
    struct store_local_reader *r = malloc(sizeof *r);
    if (!r) {
        close(fd);
        return err_set(TM_ENOMEM, "out of memory");
    }
    r->fd = fd;
    r->pos = off;
    r->end = len >= size - off ? size : off + len;
    *out = r;
    return 0;
}

int store_local_reader_read(struct store_local_reader *r, void *p, size_t n, size_t *got)
{
    *got = 0;
    if (r->pos >= r->end) return 0;
    if (n > r->end - r->pos) n = (size_t)(r->end - r->pos);
    for (;;) {
        ssize_t k = pread(r->fd, p, n, (off_t)r->pos);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return err_sys(TM_EIO, errno, "local store: read at offset %llu",
                                  (unsigned long long)r->pos);
        if (k == 0) return err_set(TM_EIO, "local store: file shrank while being read");
        r->pos += (uint64_t)k;
        *got = (size_t)k;
        return 0;
    }
}

void store_local_reader_close(struct store_local_reader *r)
{
    if (!r) return;
    close(r->fd);
    free(r);
}

int store_local_head(store *s, const char *fkey, store_object_info *info)
{
    int fd;
    struct stat st;
    int rc = open_key(s, fkey, &fd, &st);
    if (rc) return rc;
    fill_info(fd, &st, info);
    close(fd);
    return 0;
}

/* ================================================================================================
 * List
 * ============================================================================================== */

struct keyvec {
    char **v;
    size_t n, cap;
};

static int keyvec_push(struct keyvec *kv, const char *k)
{
    if (kv->n == kv->cap) {
        size_t cap = kv->cap ? kv->cap * 2 : 256;
        char **v = realloc(kv->v, cap * sizeof *v);
        if (!v) return err_set(TM_ENOMEM, "out of memory");
        kv->v = v;
        kv->cap = cap;
    }
    if (!(kv->v[kv->n] = strdup(k))) return err_set(TM_ENOMEM, "out of memory");
    kv->n++;
    return 0;
}

/* Collects the keys of regular files under dir/rel (rel "" or ending in '/') that start with
 * fprefix. Depth is bounded by the 1024-byte key limit. */
static int walk(const store *s, buf *rel, const char *fprefix, struct keyvec *kv)
{
    buf path = BUF_INIT;
    int rc = 0;
    DIR *d = NULL;
    size_t plen = strlen(fprefix);
    if ((rc = buf_puts(&path, s->dir)) || (rc = buf_putc(&path, '/')) ||
        (rc = buf_append(&path, rel->data, rel->len)))
        goto out;
    if (!(d = opendir(path.data))) {
        if (errno != ENOENT && errno != ENOTDIR)
            rc = err_sys(TM_EIO, errno, "local store %s: list %s", s->dir, path.data);
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
            continue;
        size_t mark = rel->len;
        if ((rc = buf_puts(rel, e->d_name))) goto out;
        /* Prune subtrees that cannot match: rel must be a prefix of fprefix or the reverse. */
        size_t m = rel->len < plen ? rel->len : plen;
        if (memcmp(rel->data, fprefix, m) == 0) {
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, 0) == 0) {
                if (S_ISDIR(st.st_mode)) {
                    if ((rc = buf_putc(rel, '/'))) goto out;
                    if (rel->len <= 1024 + 1 && (rc = walk(s, rel, fprefix, kv))) goto out;
                } else if (S_ISREG(st.st_mode) && rel->len >= plen) {
                    if ((rc = keyvec_push(kv, rel->data))) goto out;
                }
            }
        }
        rel->len = mark;
        rel->data[mark] = '\0';
    }
out:
    if (d) closedir(d);
    buf_free(&path);
    return rc;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_local_list(store *s, const char *fprefix, size_t strip, int dirs, store_list_fn fn,
                     void *ctx)
{
    struct keyvec kv = {NULL, 0, 0};
    buf rel = BUF_INIT, path = BUF_INIT;
    int rc = missing_root(s, NULL);
    if (rc) return rc;
    if ((rc = buf_puts(&rel, ""))) goto out;
    if ((rc = walk(s, &rel, fprefix, &kv))) goto out;
    if (kv.n) qsort(kv.v, kv.n, sizeof *kv.v, cmp_keys);
    size_t plen = strlen(fprefix);
    const char *last_dir = NULL;
    size_t last_len = 0;
    for (size_t i = 0; i < kv.n; i++) {
        store_entry e;
        memset(&e, 0, sizeof e);
        const char *k = kv.v[i];
        if (dirs) {
            const char *sl = strchr(k + plen, '/');
            if (!sl) continue;
            size_t len = (size_t)(sl - k) + 1;
            if (last_dir && len == last_len && !memcmp(last_dir, k, len)) continue;
            last_dir = k;
            last_len = len;
            char save = k[len];
            kv.v[i][len] = '\0';
            e.key = k + strip;
            rc = fn(ctx, &e);
            kv.v[i][len] = save;
            if (rc) goto out;
            continue;
        }
        buf_reset(&path);
        if ((rc = join(s, k, &path))) goto out;
        struct stat st;
        if (stat(path.data, &st) < 0) continue;  /* deleted meanwhile */
        e.key = k + strip;
        e.size = (uint64_t)st.st_size;
        e.last_modified = (int64_t)st.st_mtime;
        store_object_info info;
        memset(&info, 0, sizeof info);
        read_xattrs(-1, path.data, &info);
        memcpy(e.etag, info.etag, sizeof e.etag);
        memcpy(e.storage_class, info.storage_class, sizeof e.storage_class);
        if ((rc = fn(ctx, &e))) goto out;
    }
out:
    for (size_t i = 0; i < kv.n; i++) free(kv.v[i]);
    free(kv.v);
    buf_free(&rel);
    buf_free(&path);
    return rc;
}

/* ================================================================================================
 * Delete and copy
 * ============================================================================================== */

int store_local_delete(store *s, const char *fkey)
{
    buf p = BUF_INIT;
    int rc = join(s, fkey, &p);
    if (rc) goto out;
    if (unlink(p.data) < 0) {
        if (errno != ENOENT && errno != ENOTDIR && errno != EISDIR)
            rc = err_sys(TM_EIO, errno, "local store %s: delete key %s", s->dir, fkey);
        goto out;
    }
    if ((rc = fsx_fsync_parent(p.data))) goto out;
    /* Prune directories the delete left empty, as S3 has no directories to leave behind. */
    size_t root = strlen(s->dir);
    for (;;) {
        char *sl = strrchr(p.data, '/');
        if (!sl || (size_t)(sl - p.data) <= root) break;
        *sl = '\0';
        if (rmdir(p.data) < 0) break;
        fsx_fsync_parent(p.data);
    }
out:
    buf_free(&p);
    return rc;
}

int store_local_copy(store *s, const char *fsrc, const char *fdst, const char *storage_class)
{
    int fd = -1;
    struct stat st;
    struct store_local_writer *w = NULL;
    store_md5_ctx *md5 = NULL;
    char *buffer = NULL;
    store_object_info info;
    memset(&info, 0, sizeof info);
    int rc = open_key(s, fsrc, &fd, &st);
    if (rc) goto out;
    read_xattrs(fd, NULL, &info);
    if (!storage_class && info.storage_class[0] && strcmp(info.storage_class, "STANDARD"))
        storage_class = info.storage_class;
    if ((rc = store_local_writer_open(s, fdst, storage_class, &w))) goto out;
    if (!(md5 = store_md5_new()) || !(buffer = malloc(1 << 20))) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t k = read(fd, buffer, 1 << 20);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            rc = err_sys(TM_EIO, errno, "local store %s: read key %s", s->dir, fsrc);
            goto out;
        }
        if (k == 0) break;
        store_md5_update(md5, buffer, (size_t)k);
        if ((rc = store_local_writer_write(w, buffer, (size_t)k))) goto out;
    }
    unsigned char d[16];
    char hex[33];
    store_md5_final(md5, d);
    md5 = NULL;
    store_hex(d, 16, hex);
    rc = store_local_writer_commit(w, hex);
    w = NULL;
out:
    store_local_writer_abort(w);
    store_md5_free(md5);
    free(buffer);
    if (fd >= 0) close(fd);
    return rc;
}
