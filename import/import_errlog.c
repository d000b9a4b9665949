/* import_errlog.c: the import's error log.
 *
 * FORMAT (one line per rejected item, FORMATS.md section 4, the way AWS ImportTable logs to
 * CloudWatch):
 *   {"itemS3Pointer":{"bucket":"<bucket>","key":"<key>","itemIndex":<n>},"errorMessages":["<why>"]}
 * The file is written as the import goes (it is a log, not a result), then fsync'd at the end,
 * so that what was rejected can be read even when the import fails part way. */
#include "engine/item.h"
#include "import/import_internal.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the log ---------------------------------------------------------------------------- */

struct import_errlog {
    int fd;
    char *path;
    buf line;
    int err;        /* sticky */
};

int import_errlog_open(const char *path, import_errlog **out)
{
    *out = NULL;
    import_errlog *l = calloc(1, sizeof *l);
    if (!l) return err_set(TM_ENOMEM, "out of memory (error log)");
    l->fd = -1;
    buf init = BUF_INIT_MAX(1 << 20);
    l->line = init;
    if (path) {
        l->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (l->fd < 0) {
            int e = errno;
            free(l);
            return err_sys(TM_EIO, e, "error log %s", path);
        }
        if (!(l->path = strdup(path))) {
            close(l->fd);
            free(l);
            return err_set(TM_ENOMEM, "out of memory (error log)");
        }
    }
    *out = l;
    return 0;
}

int import_errlog_add(import_errlog *l, const char *bucket, const char *key, uint64_t index,
                      const char *msg)
{
    if (!l || l->fd < 0) return 0;
    if (l->err) return l->err;
    buf *b = &l->line;
    buf_reset(b);
    int rc = buf_puts(b, "{\"itemS3Pointer\":{\"bucket\":");
    if (!rc) rc = text_json_str(b, bucket, strlen(bucket), TEXT_JSON_SAFE);
    if (!rc) rc = buf_puts(b, ",\"key\":");
    if (!rc) rc = text_json_str(b, key, strlen(key), TEXT_JSON_SAFE);
    if (!rc) rc = buf_printf(b, ",\"itemIndex\":%llu},\"errorMessages\":[", (unsigned long long)index);
    if (!rc) rc = text_json_str(b, msg, strnlen(msg, 4096), TEXT_JSON_SAFE);
    if (!rc) rc = buf_puts(b, "]}\n");
    if (!rc && (rc = fsx_write_all(l->fd, b->data, b->len)))
        err_wrap(rc, "error log %s: ", l->path);
    if (rc) l->err = rc;
    return rc;
}

int import_errlog_close(import_errlog *l)
{
    if (!l) return 0;
    int rc = l->err;
    if (l->fd >= 0) {
        if (!rc && fsync(l->fd) != 0) rc = err_sys(TM_EIO, errno, "fsync of error log %s", l->path);
        if (close(l->fd) != 0 && !rc) rc = err_sys(TM_EIO, errno, "closing error log %s", l->path);
    }
    buf_free(&l->line);
    free(l->path);
    free(l);
    return rc;
}
