/* serve.h: `tidemark serve`, the DynamoDB JSON 1.0 protocol over HTTP in front of the operations
 * layer (include/tidemark.h). The server parses, authenticates and dispatches; every operation is
 * tm_call's. What it adds: the HTTP shape (POST /, X-Amz-Target DynamoDB_20120810.<Op>,
 * application/x-amz-json-1.0, x-amz-crc32 on every response), SigV4 verification, limits, and
 * background runs of the long operations (export, import, restore) that answer IN_PROGRESS at
 * once, as AWS does.
 *
 * Errors: serve_run returns 0 after a clean stop, or a kind (include/tidemark.h) with e set. */
#ifndef TIDEMARK_SERVE_H
#define TIDEMARK_SERVE_H

#include "include/tidemark.h"

#include <signal.h>
#include <stddef.h>

#define SERVE_MAX_BODY ((size_t)16 << 20)   /* DynamoDB's request size limit: 16 MB */

typedef struct serve_options {
    const char *home;              /* data directory */
    const char *listen;            /* "HOST:PORT"; NULL: 127.0.0.1:8000; port 0: any free one */
    int no_auth;                   /* accept unsigned requests (local development) */
    const char *credentials;       /* file of "ACCESS_KEY_ID SECRET" lines; NULL: environment */
    size_t max_body;               /* 0: SERVE_MAX_BODY */
    unsigned max_connections;      /* 0: 1024 */
    unsigned timeout_s;            /* idle connection timeout; 0: 120 */
    /* Lines for the operator (start, stop, auth mode, job ends); NULL: none. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    /* Called once listening, with the port bound (a test's --listen 127.0.0.1:0). */
    void (*ready)(void *ctx, unsigned port);
} serve_options;

#define SERVE_OPTIONS_INIT {NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL, NULL}

/* Serves until *stop becomes non-zero (a signal handler sets it), then stops accepting,
 * finishes the requests in flight and the background jobs, and returns. */
int serve_run(const serve_options *o, volatile sig_atomic_t *stop, tm_error *e);

#endif
