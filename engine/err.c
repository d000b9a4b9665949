/* err.c: the thread-local detail of the last error (see err.h). */
#include "engine/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_MAX 1024

static _Thread_local char err_buf[ERR_MAX];

int err_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return code;
}

int err_sys(int code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err_buf)
        snprintf(err_buf + n, sizeof err_buf - (size_t)n, ": %s", strerror(errnum));
    return code;
}

int err_wrap(int code, const char *fmt, ...)
{
    char prefix[ERR_MAX], old[ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_buf, sizeof old);
    size_t pl = strlen(prefix);
    memcpy(err_buf, prefix, pl);
    size_t ol = strnlen(old, sizeof err_buf - 1 - pl);
    memcpy(err_buf + pl, old, ol);
    err_buf[pl + ol] = '\0';
    return code;
}

const char *err_msg(void) { return err_buf; }

void err_clear(void) { err_buf[0] = '\0'; }

const char *err_name(int code)
{
    switch (code) {
    case TM_OK: return "OK";
    case TM_EIO: return "EIO";
    case TM_ENOMEM: return "ENOMEM";
    case TM_EINVAL: return "EINVAL";
    case TM_ENOTFOUND: return "ENOTFOUND";
    case TM_EEXIST: return "EEXIST";
    case TM_ECORRUPT: return "ECORRUPT";
    case TM_ECONDITION: return "ECONDITION";
    case TM_ERANGE: return "ERANGE";
    case TM_EMISSING: return "EMISSING";
    case TM_EREMOTE: return "EREMOTE";
    case TM_EBUSY: return "EBUSY";
    case TM_ELIMIT: return "ELIMIT";
    case TM_ECONFLICT: return "ECONFLICT";
    }
    return "EUNKNOWN";
}
