/* fsx.c: atomic replace, directory fsync, mkdir -p, rm -rf (see fsx.h). */
#include "engine/fsx.h"
#include "engine/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsx_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return err_sys(TM_EIO, errno, "write");
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int fsx_pread_all(int fd, void *p, size_t n, long long off)
{
    char *c = p;
    while (n) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return err_sys(TM_EIO, errno, "read at offset %lld", off);
        }
        if (r == 0) return err_set(TM_ECORRUPT, "unexpected end of file at offset %lld", off);
        c += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

int fsx_allocate(int fd, long long off, long long len, const char *path)
{
    int e;
    if (len <= 0) return 0;
    /* posix_fallocate returns the error (it does not set errno); EINTR: try again. */
    while ((e = posix_fallocate(fd, (off_t)off, (off_t)len)) == EINTR) {}
    if (e == EOPNOTSUPP || e == ENOSYS) return 0;   /* cannot reserve here: best effort */
    if (e) return err_sys(TM_EIO, e, "%s: reserving %lld bytes at offset %lld", path, len, off);
    return 0;
}

int fsx_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return err_sys(TM_EIO, errno, "open directory %s", dir);
    int rc = 0;
    if (fsync(fd) < 0) rc = err_sys(TM_EIO, errno, "fsync directory %s", dir);
    close(fd);
    return rc;
}

int fsx_fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return fsx_fsync_dir(".");
    if (slash == dir) slash[1] = '\0';
    else *slash = '\0';
    return fsx_fsync_dir(dir);
}

int fsx_write_atomic(const char *path, const void *data, size_t len)
{
    return fsx_write_atomic2(path, data, len, NULL, 0);
}

int fsx_write_atomic2(const char *path, const void *data, size_t len, const void *b, size_t bn)
{
    char tmp[PATH_MAX];
    int rc = 0, fd = -1;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
        return err_set(TM_EINVAL, "path too long: %s", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return err_sys(TM_EIO, errno, "create %s", tmp);
    if ((rc = fsx_write_all(fd, data, len)) || (bn && (rc = fsx_write_all(fd, b, bn)))) {
        err_wrap(rc, "%s: ", tmp);
        goto out;
    }
    if (fsync(fd) < 0) {
        rc = err_sys(TM_EIO, errno, "fsync %s", tmp);
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = err_sys(TM_EIO, errno, "close %s", tmp);
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        rc = err_sys(TM_EIO, errno, "rename %s to %s", tmp, path);
        goto out;
    }
    rc = fsx_fsync_parent(path);
out:
    if (fd >= 0) close(fd);
    if (rc) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
    }
    return rc;
}

int fsx_read_file(const char *path, size_t max, buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(TM_ENOTFOUND, "%s: no such file", path);
        return err_sys(TM_EIO, errno, "open %s", path);
    }
    int rc = 0;
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = err_sys(TM_EIO, errno, "read %s", path);
            break;
        }
        if (r == 0) break;
        if (out->len + (size_t)r > max) {
            rc = err_set(TM_ELIMIT, "%s: larger than %zu bytes", path, max);
            break;
        }
        if ((rc = buf_append(out, chunk, (size_t)r))) break;
    }
    close(fd);
    return rc;
}

int fsx_mkdirs(const char *path, int mode)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return err_set(TM_EINVAL, "path too long: %s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
            return err_sys(TM_EIO, errno, "mkdir %s", p);
        *s = '/';
    }
    if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) return err_sys(TM_EIO, errno, "mkdir %s", p);
    return 0;
}

int fsx_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int fsx_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : err_sys(TM_EIO, errno, "stat %s", path);
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) < 0 && errno != ENOENT) return err_sys(TM_EIO, errno, "unlink %s", path);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) return err_sys(TM_EIO, errno, "opendir %s", path);
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if ((rc = fsx_rmtree(sub))) break;
    }
    closedir(d);
    if (!rc && rmdir(path) < 0 && errno != ENOENT) rc = err_sys(TM_EIO, errno, "rmdir %s", path);
    return rc;
}

long long fsx_du(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) return 0;
    if (!S_ISDIR(st.st_mode)) return (long long)st.st_size;
    long long total = 0;
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        total += fsx_du(sub);
    }
    closedir(d);
    return total;
}
