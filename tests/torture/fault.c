/* fault.c: an LD_PRELOAD library for the torture harness that makes one call of a program fail,
 * the way a dying disk does. Only calls on regular files count (stdout, pipes and sockets are
 * left alone, and so are stdout and stderr), so that acks and messages still get out.
 *   TM_FAULT_OP     fsync (fsync, fdatasync, msync), write (write, pwrite, writev, pwritev,
 *                   copy_file_range) or
 *                   rename (rename, renameat)
 *   TM_FAULT_AT     N: the Nth such call fails, and with TM_FAULT_STICKY=1 every one after it
 *   TM_FAULT_ERRNO  EIO (default), ENOSPC or EDQUOT
 *   TM_FAULT_COUNT  FILE: at exit, append "<op> <calls>" (how many calls a clean run makes,
 *                   to spread the fault points over them)
 * Built by tests/torture/torture.sh: cc -shared -fPIC -o fault.so fault.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static atomic_long calls;

static const char *fault_op(void)
{
    const char *s = getenv("TM_FAULT_OP");
    return s ? s : "";
}

static int fault_errno(void)
{
    const char *s = getenv("TM_FAULT_ERRNO");
    if (s && !strcmp(s, "ENOSPC")) return ENOSPC;
    if (s && !strcmp(s, "EDQUOT")) return EDQUOT;
    return EIO;
}

static int is_file(int fd)
{
    struct stat st;
    return fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);  /* not stdout: acks go on */
}

/* 1 if this call (of kind op, already known to touch a regular file) must fail. */
static int fault_hit(const char *op)
{
    if (strcmp(fault_op(), op)) return 0;
    long n = atomic_fetch_add(&calls, 1) + 1;
    const char *at = getenv("TM_FAULT_AT");
    if (!at) return 0;
    long want = atol(at);
    const char *sticky = getenv("TM_FAULT_STICKY");
    if (n == want || (sticky && *sticky == '1' && n > want && want > 0)) {
        errno = fault_errno();
        return 1;
    }
    return 0;
}

__attribute__((destructor)) static void fault_report(void)
{
    const char *f = getenv("TM_FAULT_COUNT");
    if (!f || !*fault_op()) return;
    FILE *o = fopen(f, "a");
    if (!o) return;
    fprintf(o, "%s %ld\n", fault_op(), (long)atomic_load(&calls));
    fclose(o);
}

#define REAL(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)

int fsync(int fd)
{
    REAL(fsync);
    if (is_file(fd) && fault_hit("fsync")) return -1;
    return real(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    if (is_file(fd) && fault_hit("fsync")) return -1;
    return real(fd);
}

int msync(void *addr, size_t len, int flags)
{
    REAL(msync);
    if ((flags & MS_SYNC) && fault_hit("fsync")) return -1;
    return real(addr, len, flags);
}

ssize_t write(int fd, const void *b, size_t n)
{
    REAL(write);
    if (is_file(fd) && fault_hit("write")) return -1;
    return real(fd, b, n);
}

ssize_t pwrite(int fd, const void *b, size_t n, off_t off)
{
    REAL(pwrite);
    if (is_file(fd) && fault_hit("write")) return -1;
    return real(fd, b, n, off);
}

ssize_t pwrite64(int fd, const void *b, size_t n, off_t off)
{
    REAL(pwrite64);
    if (is_file(fd) && fault_hit("write")) return -1;
    return real(fd, b, n, off);
}

ssize_t writev(int fd, const struct iovec *v, int n)
{
    REAL(writev);
    if (is_file(fd) && fault_hit("write")) return -1;
    return real(fd, v, n);
}

ssize_t pwritev(int fd, const struct iovec *v, int n, off_t off)
{
    REAL(pwritev);
    if (is_file(fd) && fault_hit("write")) return -1;
    return real(fd, v, n, off);
}

int rename(const char *a, const char *b)
{
    REAL(rename);
    if (fault_hit("rename")) return -1;
    return real(a, b);
}

int renameat(int da, const char *a, int db, const char *b)
{
    REAL(renameat);
    if (fault_hit("rename")) return -1;
    return real(da, a, db, b);
}

ssize_t copy_file_range(int in, off_t *ioff, int out, off_t *ooff, size_t n, unsigned flags)
{
    REAL(copy_file_range);
    if (is_file(out) && fault_hit("write")) return -1;
    return real(in, ioff, out, ooff, n, flags);
}
