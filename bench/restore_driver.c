/* restore_driver.c: builds and checks the restore benchmark's table quickly, in-process
 * against table.h (bench/30-restore.sh compiles and runs it; it is not part of the programs).
 *
 *   restore_driver build HOME TABLE ITEMS.jsonl UPDATES.tsv T0 SPAN N BATCH
 *     creates TABLE (user_id:S, sk:S) at T0 - 1 h, loads ITEMS.jsonl, enables PITR at T0 (a
 *     snapshot), then applies N updates in batches of BATCH spread over SPAN seconds after T0
 *     (clock stepped per batch; the default daily snapshot policy runs as the time passes).
 *     Update u sets item idx's tokens to v (xorshift, seed 42), exactly like the PostgreSQL
 *     side of the benchmark; UPDATES.tsv gets "idx<TAB>v<TAB>time_us" per update in order.
 *   restore_driver check HOME TABLE
 *     prints "count sum_tokens rowhash" over every item: rowhash = sum of the first 15 hex
 *     digits of md5("<user_id>|<sk>|<tokens>") as a number: order-independent, the same
 *     digest the Python and SQL sides compute. */
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/item.h"
#include "engine/table.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *what)
{
    fprintf(stderr, "restore_driver: %s: %s\n", what, err_msg());
    exit(1);
}

static uint64_t rng = 42;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---- build ---- */

static int build(char **a)
{
    const char *home = a[0], *name = a[1], *items = a[2], *updates = a[3];
    int64_t t0 = strtoll(a[4], NULL, 10) * CLOCK_US_PER_SEC;
    int64_t span = strtoll(a[5], NULL, 10) * CLOCK_US_PER_SEC;
    long n = atol(a[6]), batch = atol(a[7]);
    FILE *f = fopen(items, "r");
    if (!f) { perror(items); return 1; }
    char **lines = NULL;
    size_t nl = 0, cap = 0, len = 0;
    char *line = NULL;
    ssize_t r;
    while ((r = getline(&line, &len, f)) > 0) {
        if (nl == cap) lines = realloc(lines, (cap = cap ? cap * 2 : 1 << 16) * sizeof *lines);
        lines[nl++] = strndup(line, (size_t)r);
    }
    fclose(f);
    free(line);

    key_schema ks;
    memset(&ks, 0, sizeof ks);
    snprintf(ks.hash_name, sizeof ks.hash_name, "user_id");
    ks.hash_type = AV_S;
    snprintf(ks.range_name, sizeof ks.range_name, "sk");
    ks.range_type = AV_S;
    table_create_opts co = TABLE_CREATE_OPTS_INIT;   /* daily snapshots */
    co.durability = LOG_SYNC_NONE;                   /* building fast; restore is measured */
    clock_set_us(t0 - 3600 * CLOCK_US_PER_SEC);
    if (table_create(home, name, &ks, &co, NULL)) die("create");
    table *t;
    /* Bulk mode, as batch-write: LMDB commits joined; the snapshot policy runs at each one. */
    if (table_open(home, name, TABLE_BULK, &t)) die("open");
    table_batch *b = NULL;
    for (size_t i = 0; i < nl; i++) {
        item *it;
        if (!b && table_batch_begin(t, &b)) die("batch");
        if (item_parse_json(lines[i], strlen(lines[i]), ITEM_PARSE_WRAPPED, &it)) die("parse");
        if (table_batch_put(b, it)) die("put");
        item_free(it);
        if ((i + 1) % 10000 == 0 || i + 1 == nl) {
            if (table_batch_commit(b)) die("commit");
            b = NULL;
        }
    }
    clock_set_us(t0);
    if (table_set_pitr(t, 1, 35)) die("pitr");

    FILE *uf = fopen(updates, "w");
    if (!uf) { perror(updates); return 1; }
    long nb = (n + batch - 1) / batch;
    int64_t last = 0;
    char num[16];
    av tok;
    memset(&tok, 0, sizeof tok);
    tok.type = AV_N;
    tok.u.bytes = num;
    for (long k = 0, done = 0; k < nb; k++) {
        int64_t at = t0 + 60 * CLOCK_US_PER_SEC + (int64_t)((double)span * (double)k / (double)nb);
        clock_set_us(at);
        if (table_batch_begin(t, &b)) die("batch");
        int64_t stamp = at > last ? at : last + 1;
        for (long j = 0; j < batch && done < n; j++, done++) {
            size_t idx = (size_t)(rnd() % nl);
            unsigned v = (unsigned)(1 + rnd() % 4000);
            item *it;
            if (item_parse_json(lines[idx], strlen(lines[idx]), ITEM_PARSE_WRAPPED, &it)) die("parse");
            tok.len = (uint32_t)snprintf(num, sizeof num, "%u", v);
            if (item_put(it, "tokens", &tok) || table_batch_put(b, it)) die("update");
            item_free(it);
            fprintf(uf, "%zu\t%u\t%" PRId64 "\n", idx, v, stamp);
            last = stamp++;
        }
        if (table_batch_commit(b)) die("commit");
    }
    if (fclose(uf)) { perror(updates); return 1; }
    table_info ti;
    table_describe(t, &ti);
    if (ti.last_write_us != last) {
        fprintf(stderr, "restore_driver: last write at %" PRId64 ", expected %" PRId64 "\n",
                ti.last_write_us, last);
        return 1;
    }
    table_close(t);
    for (size_t i = 0; i < nl; i++) free(lines[i]);
    free(lines);
    return 0;
}

/* ---- check ---- */

typedef struct sums {
    uint64_t count, tokens;
    unsigned __int128 rowhash;
} sums;

static int sum_fn(void *ctx, const void *key, size_t kn, const void *img, size_t in)
{
    (void)key;
    (void)kn;
    sums *s = ctx;
    item *it;
    if (item_decode(img, in, &it)) return -1;
    const av *pk = item_get(it, "user_id"), *sk = item_get(it, "sk"), *tk = item_get(it, "tokens");
    if (!pk || !sk || !tk) { item_free(it); return -1; }
    char line[1024];
    int n = snprintf(line, sizeof line, "%.*s|%.*s|%.*s", (int)pk->len, pk->u.bytes, (int)sk->len,
                     sk->u.bytes, (int)tk->len, tk->u.bytes);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdn;
    EVP_Digest(line, (size_t)n, md, &mdn, EVP_md5(), NULL);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++) h = h << 8 | md[i];
    s->rowhash += h >> 4;                      /* the first 15 hex digits */
    s->tokens += strtoull(tk->u.bytes, NULL, 10);
    s->count++;
    item_free(it);
    return 0;
}

static int check(char **a)
{
    table *t;
    table_read *r;
    sums s = {0, 0, 0};
    if (table_open(a[0], a[1], TABLE_RDONLY, &t)) die("open");
    if (table_read_begin(t, &r)) die("read");
    if (table_read_scan(r, 0, UINT32_MAX, sum_fn, &s)) die("scan");
    table_read_end(r);
    table_close(t);
    char dec[64];
    int i = 63;
    dec[i] = '\0';
    unsigned __int128 x = s.rowhash;
    do { dec[--i] = (char)('0' + (int)(x % 10)); x /= 10; } while (x);
    printf("%" PRIu64 " %" PRIu64 " %s\n", s.count, s.tokens, dec + i);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 10 && !strcmp(argv[1], "build")) return build(argv + 2);
    if (argc == 4 && !strcmp(argv[1], "check")) return check(argv + 2);
    fprintf(stderr, "usage: restore_driver build HOME TABLE ITEMS UPDATES T0 SPAN N BATCH\n"
                    "       restore_driver check HOME TABLE\n");
    return 2;
}
