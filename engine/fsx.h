/* fsx.h: file-system helpers that keep the durability rules in one place.
 *
 * Atomic replace: temp file in the same directory, write, fsync, rename, fsync the directory.
 * Nothing is ever left half-written under its final name. */
#ifndef TIDEMARK_FSX_H
#define TIDEMARK_FSX_H

#include "engine/buf.h"
#include <stddef.h>

int fsx_write_atomic(const char *path, const void *data, size_t len);
/* The same with the file's bytes in two pieces (a header and a body; body may be NULL). The temp
 * file is "<path>.tmp.<pid>": a reader of the directory ignores or removes such names. */
int fsx_write_atomic2(const char *path, const void *a, size_t an, const void *b, size_t bn);
int fsx_read_file(const char *path, size_t max, buf *out);  /* TM_ENOTFOUND if absent */
int fsx_fsync_dir(const char *dir);
int fsx_fsync_parent(const char *path);
int fsx_mkdirs(const char *path, int mode);                 /* mkdir -p */
int fsx_rmtree(const char *path);                           /* rm -rf; absent is fine */
int fsx_exists(const char *path);
int fsx_write_all(int fd, const void *p, size_t n);         /* retries short writes and EINTR */
int fsx_pread_all(int fd, void *p, size_t n, long long off); /* TM_ECORRUPT on short read */
/* Gives [off, off+len) of fd real blocks (posix_fallocate; a range inside the file keeps its
 * size, one past its end extends it). So a write through a shared map into that range cannot
 * fail for want of space (it would be a SIGBUS). A full disk: TM_EIO, detail
 * "<path>: reserving N bytes at offset O: No space left on device". */
int fsx_allocate(int fd, long long off, long long len, const char *path);
/* Sum of file sizes under a directory (recursive). */
long long fsx_du(const char *path);

#endif
