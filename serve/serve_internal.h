/* serve_internal.h: what the files of serve/ share: SigV4 verification (auth.c) and the
 * background runs of the long operations (jobs.c). */
#ifndef TIDEMARK_SERVE_INTERNAL_H
#define TIDEMARK_SERVE_INTERNAL_H

#include "serve/serve.h"

#include <stddef.h>
#include <stdint.h>

/* ---- one request as auth sees it ---- */
typedef struct serve_header {
    const char *name;              /* as received: compare without case */
    const char *value;             /* as received; repeated headers joined with "," */
} serve_header;

typedef struct serve_request {
    const char *method, *path;
    serve_header *q;               /* query arguments (decoded), in arrival order */
    size_t nq;
    serve_header *h;               /* headers */
    size_t nh;
    const char *body;
    size_t len;
} serve_request;

/* The header's value (name in any case), or NULL. */
const char *serve_header_get(const serve_request *r, const char *lname);

/* ---- auth.c: SigV4 ---- */
typedef struct serve_auth serve_auth;
/* Loads the key pairs: from file (lines "ACCESS_KEY_ID SECRET" or "ACCESS_KEY_ID:SECRET", '#'
 * comments), else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. No pair at all is an error (the
 * operator asks for --no-auth instead). */
int auth_open(const char *file, serve_auth **out, tm_error *e);
void auth_free(serve_auth *a);
size_t auth_count(const serve_auth *a);
/* 0 when r carries a valid SigV4 signature of a known key for service dynamodb, else the
 * kind: MissingAuthenticationToken (no Authorization), UnrecognizedClient (unknown key id),
 * InvalidSignature (anything else wrong, with what in e->message). now_s: the clock. */
int auth_check(const serve_auth *a, const serve_request *r, int64_t now_s, tm_error *e);

/* ---- jobs.c: export, import and restore in the background ---- */
typedef struct serve_jobs serve_jobs;
/* Re-runs the restores a killed server left unfinished (their journal in <home>/serve-jobs/). */
int jobs_open(tm_db *db, void (*log)(void *, const char *), void *log_ctx, serve_jobs **out,
              tm_error *e);
/* Waits for the running jobs (imports are cancelled: they end FAILED), then frees. */
void jobs_close(serve_jobs *j);
/* 1 if the operation is one jobs runs in the background. */
int jobs_handles(const char *operation);
/* Answers the operation at once (IN_PROGRESS, CREATING) and runs it on its own thread. */
int jobs_start(serve_jobs *j, const char *operation, const cJSON *req, cJSON **resp, tm_error *e);

#endif
