/* testutil.h: what several unit tests share, so that each is written once: a temporary
 * directory, a tidemark home with a tm_db handle (the api tests' fixture), an operation called
 * on request text, CreateTable from key specs, an item parsed from DynamoDB JSON, a small file
 * written, stderr captured, a monotonic clock reading.
 *
 * Everything is static inline: a test takes what it uses and links nothing more (an unused
 * function is not emitted, so engine-only tests do not need the api). Include it after
 * <cmocka.h>; the helpers fail the running test through cmocka. */
#ifndef TIDEMARK_TESTUTIL_H
#define TIDEMARK_TESTUTIL_H

#include "include/tidemark.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/item.h"
#include "engine/key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- files and time --------------------------------------------------------------------- */

/* Makes a new directory $TMPDIR/<tag>-XXXXXX (/tmp without TMPDIR) into dir; 0 or -1. */
static inline int tu_tmpdir(char *dir, size_t n, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, n, "%s/%s-XXXXXX", t && *t ? t : "/tmp", tag);
    return mkdtemp(dir) ? 0 : -1;
}

static inline void tu_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* Seconds on the monotonic clock. */
static inline double tu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- stderr capture ---------------------------------------------------------------------- */

/* What is printed to stderr between tu_capture_begin and tu_capture_end goes to a temp file;
 * tu_capture_end returns its first 4 KB (valid until the next capture). One at a time. */
static inline int *tu_saved_fd(void)
{
    static int fd = -1;
    return &fd;
}

static inline void tu_capture_begin(void)
{
    char path[] = "/tmp/tm-capture-XXXXXX";
    fflush(stderr);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);               /* the open descriptor keeps it until the end */
    *tu_saved_fd() = dup(2);
    dup2(fd, 2);
    close(fd);
}

static inline const char *tu_capture_end(void)
{
    static char captured[4096];
    fflush(stderr);
    assert_true(lseek(2, 0, SEEK_SET) == 0);
    ssize_t n = read(2, captured, sizeof captured - 1);
    captured[n > 0 ? n : 0] = '\0';
    dup2(*tu_saved_fd(), 2);
    close(*tu_saved_fd());
    *tu_saved_fd() = -1;
    return captured;
}

/* ---- items ------------------------------------------------------------------------------ */

/* The item of a DynamoDB JSON text; fails the test naming the text when it does not parse. */
static inline item *tu_item(const char *json)
{
    item *it = NULL;
    int rc = item_parse_json(json, strlen(json), 0, &it);
    if (rc) fail_msg("parse %s: %s", json, err_msg());
    return it;
}

/* ---- the api fixture -------------------------------------------------------------------- */

typedef struct tu_api {
    char home[256];
    char dest[300];             /* home/exports-dest: a place to export to */
    tm_db *db;
} tu_api;

/* A setup: a new home $TMPDIR/<tag>-XXXXXX opened with tm_db_open(flags) into *state. */
static inline int tu_api_setup(void **state, const char *tag, int flags)
{
    tu_api *f = calloc(1, sizeof *f);
    tm_error e;
    if (!f || tu_tmpdir(f->home, sizeof f->home, tag)) return -1;
    snprintf(f->dest, sizeof f->dest, "%s/exports-dest", f->home);
    if (tm_db_open(f->home, flags, &f->db, &e)) return -1;
    *state = f;
    return 0;
}

static inline int tu_api_teardown(void **state)
{
    tu_api *f = *state;
    tm_db_close(f->db);
    fsx_rmtree(f->home);
    free(f);
    return 0;
}

/* Calls op on the JSON text req; returns the kind. *resp (may be NULL) gets the response, NULL
 * on failure; e (may be NULL) the error. */
static inline int tu_call(tm_db *db, const char *op, const char *req, cJSON **resp, tm_error *e)
{
    cJSON *r = cJSON_Parse(req), *out = NULL;
    tm_error local;
    if (!r) fail_msg("bad request text: %s", req);
    if (!e) e = &local;
    memset(e, 0, sizeof *e);
    int k = tm_call(db, op, r, &out, e);
    cJSON_Delete(r);
    if (k) assert_null(out);
    if (resp) *resp = out;
    else cJSON_Delete(out);
    return k;
}

/* CreateTable name with a HASH key and, if range is not NULL, a RANGE key, each given as
 * "name:S" (key_parse_spec); fails the test unless it succeeds. */
static inline void tu_create_table(tm_db *db, const char *name, const char *hash, const char *range)
{
    char req[1400], keys[600], defs[600];
    const char *spec[2] = {hash, range};
    size_t kl = 0, dl = 0;
    for (int i = 0; i < 2 && spec[i]; i++) {
        char an[KEY_NAME_MAX + 1];
        av_type t;
        assert_int_equal(key_parse_spec(spec[i], an, &t), 0);
        kl += (size_t)snprintf(keys + kl, sizeof keys - kl, "%s{\"AttributeName\":\"%s\",\"KeyType\":\"%s\"}",
                               i ? "," : "", an, i ? "RANGE" : "HASH");
        dl += (size_t)snprintf(defs + dl, sizeof defs - dl, "%s{\"AttributeName\":\"%s\",\"AttributeType\":\"%s\"}",
                               i ? "," : "", an, t == AV_S ? "S" : t == AV_N ? "N" : "B");
    }
    snprintf(req, sizeof req, "{\"TableName\":\"%s\",\"KeySchema\":[%s],\"AttributeDefinitions\":[%s]}",
             name, keys, defs);
    tm_error e;
    if (tu_call(db, "CreateTable", req, NULL, &e)) fail_msg("CreateTable %s: %s", name, e.message);
}

#endif
