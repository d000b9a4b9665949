/* err.h: error codes shared by every module, and the one-line detail of the last error.
 *
 * A fallible function returns 0 or one of the negative codes below. The detail (path, offset,
 * errno text, HTTP status, S3 error code) is recorded once, where the error is found, with
 * err_set(); callers pass the code up unchanged. The detail is thread-local.
 * The enum is append-only: codes are never renumbered. */
#ifndef TIDEMARK_ERR_H
#define TIDEMARK_ERR_H

enum {
    TM_OK         = 0,
    TM_EIO        = -1,  /* I/O or anything unexpected */
    TM_ENOMEM     = -2,
    TM_EINVAL     = -3,  /* bad input: JSON, item, argument */
    TM_ENOTFOUND  = -4,  /* table, item, object, export not found */
    TM_EEXIST     = -5,  /* target already exists */
    TM_ECORRUPT   = -6,  /* checksum or format failure in stored data */
    TM_ECONDITION = -7,  /* a condition expression failed */
    TM_ERANGE     = -8,  /* a time outside the restorable window */
    TM_EMISSING   = -9,  /* a log segment or snapshot a plan needs is gone */
    TM_EREMOTE    = -10, /* a remote store refused or failed */
    TM_EBUSY      = -11, /* locked by another process */
    TM_ELIMIT     = -12, /* a size, depth or count limit was exceeded */
    TM_ECONFLICT  = -13, /* a later write would be clobbered */
};

/* Records code and detail for this thread; returns code so that `return err_set(...)` reads well. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As err_set, appending ": <strerror(errnum)>". */
int err_sys(int code, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the current detail with more context ("file x.json.gz: " + detail). Returns code. */
int err_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The detail of the last error on this thread ("" if none). Valid until the next err_ call. */
const char *err_msg(void);
void err_clear(void);
/* A short stable name for a code: "EINVAL", ... */
const char *err_name(int code);

#endif
