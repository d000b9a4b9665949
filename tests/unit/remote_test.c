/* remote_test.c: the DynamoDB client (remote/ddb.h) against real and fake endpoints.
 *
 * The test starts, on free ports of 127.0.0.1, and stops by pid:
 *   dynalite (npm, .deps/node_modules/dynalite, installed by scripts/deps.sh): tables, items,
 *     conditional writes, batch writes from many threads, parallel scans, missing tables
 *   tests/data/remote/fake_ddb.py: throttling, 500s, 4xx that must not be retried, a bad
 *     x-amz-crc32, UnprocessedItems, and the connections it saw (keep-alive)
 *   ../shared/tools/sigv4-check.py through tests/data/remote/sigv4_ddb.py, in front of dynalite
 *     (dynalite checks no signature): a right and a wrong secret. SKIP when the tool is absent.
 * It prints ddb_batch_write's items/s to dynalite with 1, 8 and 32 connections (measured, not
 * asserted). */
#include "remote/ddb.h"
#include "engine/err.h"
#include "engine/key.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* On failure, says why. */
#define ok(x)                                                                     \
    do {                                                                          \
        int rc_ = (x);                                                            \
        if (rc_) fail_msg("%s = %d (%s): %s", #x, rc_, err_name(rc_), err_msg()); \
    } while (0)
#define SECRET "remote-test-secret-0123456789"

static pid_t dyn_pid, fake_pid, proxy_pid;
static int dyn_port, fake_port, proxy_port;
static char root[4096], logdir[64];

/* ================================================================================================
 * Servers
 * ============================================================================================== */

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_true(s >= 0);
    ok(bind(s, (struct sockaddr *)&a, sizeof a));
    ok(getsockname(s, (struct sockaddr *)&a, &l));
    close(s);
    return ntohs(a.sin_port);
}

/* Runs argv with its output in logdir/name; the child dies with this process. */
static pid_t spawn(char *const argv[], const char *name)
{
    char log[128];
    snprintf(log, sizeof log, "%s/%s", logdir, name);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int port_open(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    return r == 0;
}

static void wait_port(int port, pid_t pid, const char *what)
{
    struct timespec nap = {0, 50 * 1000000L};
    for (int i = 0; i < 400; i++) {  /* 20 s */
        if (port_open(port)) return;
        if (waitpid(pid, NULL, WNOHANG) == pid) fail_msg("%s exited before listening", what);
        nanosleep(&nap, NULL);
    }
    fail_msg("%s does not listen on %d", what, port);
}

static void stop(pid_t *pid)
{
    if (*pid <= 0) return;
    kill(*pid, SIGTERM);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

static void isolate_env(void)
{
    static const char *const unset[] = {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
                                        "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN",
                                        "AWS_MAX_ATTEMPTS", "AWS_CA_BUNDLE", "AWS_DEFAULT_REGION"};
    for (size_t i = 0; i < sizeof unset / sizeof *unset; i++) unsetenv(unset[i]);
    setenv("AWS_ACCESS_KEY_ID", "AKIDREMOTETEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials", 1);
}

static int group_setup(void **state)
{
    (void)state;
    isolate_env();
    snprintf(logdir, sizeof logdir, "/tmp/remote_test.XXXXXX");
    if (!mkdtemp(logdir)) return -1;
    snprintf(root, sizeof root, "%s", getenv("TM_ROOT") ? getenv("TM_ROOT") : ".");
    char cli[4200], fake[4200], wrap[4200], tool[4200], p1[16], p2[16], p3[16];
    snprintf(cli, sizeof cli, "%s/.deps/node_modules/dynalite/cli.js", root);
    snprintf(fake, sizeof fake, "%s/tests/data/remote/fake_ddb.py", root);
    snprintf(wrap, sizeof wrap, "%s/tests/data/remote/sigv4_ddb.py", root);
    snprintf(tool, sizeof tool, "%s/../shared/tools/sigv4-check.py", root);
    if (access(cli, R_OK)) {
        fprintf(stderr, "remote_test: %s missing: run scripts/deps.sh\n", cli);
        return -1;
    }
    dyn_port = free_port();
    snprintf(p1, sizeof p1, "%d", dyn_port);
    char *dyn[] = {"node", cli, "--host", "127.0.0.1", "--port", p1, "--createTableMs", "20",
                   "--deleteTableMs", "20", NULL};
    dyn_pid = spawn(dyn, "dynalite.log");
    fake_port = free_port();
    snprintf(p2, sizeof p2, "%d", fake_port);
    char *fk[] = {"python3", fake, p2, NULL};
    fake_pid = spawn(fk, "fake.log");
    if (!access(tool, R_OK)) {
        proxy_port = free_port();
        snprintf(p3, sizeof p3, "%d", proxy_port);
        char *px[] = {"python3", wrap, tool, p3, p1, "AKIDREMOTETEST", SECRET, "us-east-1", NULL};
        proxy_pid = spawn(px, "sigv4.log");
    }
    wait_port(dyn_port, dyn_pid, "dynalite");
    wait_port(fake_port, fake_pid, "fake_ddb.py");
    if (proxy_pid) wait_port(proxy_port, proxy_pid, "sigv4-check.py");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    stop(&proxy_pid);
    stop(&fake_pid);
    stop(&dyn_pid);
    static const char *const logs[] = {"dynalite.log", "fake.log", "sigv4.log"};
    char p[128];
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++) {
        snprintf(p, sizeof p, "%s/%s", logdir, logs[i]);
        unlink(p);
    }
    rmdir(logdir);
    return 0;
}

/* ================================================================================================
 * Helpers
 * ============================================================================================== */

static ddb_client *client_at(int port, int conns, int attempts)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    ddb_config cfg = DDB_CONFIG_INIT;
    cfg.endpoint_url = url;
    cfg.max_connections = conns;
    cfg.max_attempts = attempts;
    cfg.retry_base_ms = 2;
    ddb_client *c;
    ok(ddb_client_open(&cfg, &c));
    return c;
}

static cJSON *json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *json(const char *fmt, ...)
{
    char s[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_Parse(s);
    if (!j) fail_msg("bad JSON in test: %s", s);
    return j;
}

/* ddb_call with a request written as text. */
static int call(ddb_client *c, const char *op, const char *req, cJSON **resp, ddb_error *e)
{
    cJSON *r = json("%s", req);
    int rc = ddb_call(c, op, r, resp, e);
    cJSON_Delete(r);
    return rc;
}

static void create_table(ddb_client *c, const char *name)
{
    char req[1024];
    snprintf(req, sizeof req,
             "{\"TableName\":\"%s\",\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
             "\"AttributeType\":\"S\"}],\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":"
             "\"HASH\"}],\"ProvisionedThroughput\":{\"ReadCapacityUnits\":5,"
             "\"WriteCapacityUnits\":5}}", name);
    cJSON *resp;
    ok(call(c, "CreateTable", req, &resp, NULL));
    cJSON_Delete(resp);
    ok(ddb_wait_active(c, name, 10000, NULL));
}

/* n items {"pk": "<prefix>NNNNN", "n": i, "pad": 100 bytes}. */
static cJSON **make_items(const char *prefix, size_t n)
{
    cJSON **v = calloc(n, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = json("{\"pk\":{\"S\":\"%s%05zu\"},\"n\":{\"N\":\"%zu\"},\"pad\":{\"S\":\"%0100zu\"}}",
                    prefix, i, i, i);
    return v;
}

static void free_items(cJSON **v, size_t n)
{
    for (size_t i = 0; i < n; i++) cJSON_Delete(v[i]);
    free(v);
}

static const char *attr(const cJSON *it, const char *name, const char *type)
{
    return cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, name), type));
}

/* ================================================================================================
 * Configuration
 * ============================================================================================== */

static void test_config(void **state)
{
    (void)state;
    ddb_client *c;
    ddb_config cfg = DDB_CONFIG_INIT;
    cfg.region = "eu-west-1";
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1", 1);  /* not ours */
    ok(ddb_client_open(&cfg, &c));
    assert_string_equal(ddb_client_endpoint(c), "https://dynamodb.eu-west-1.amazonaws.com");
    ddb_client_close(c);

    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2", 1);
    setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:3/", 1);
    ok(ddb_client_open(&cfg, &c));
    assert_string_equal(ddb_client_endpoint(c), "http://127.0.0.1:3");
    ddb_client_close(c);
    unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
    ok(ddb_client_open(&cfg, &c));
    assert_string_equal(ddb_client_endpoint(c), "http://127.0.0.1:2");
    ddb_client_close(c);
    cfg.endpoint_url = "http://127.0.0.1:4";
    ok(ddb_client_open(&cfg, &c));
    assert_string_equal(ddb_client_endpoint(c), "http://127.0.0.1:4");
    ddb_client_close(c);
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_S3");

    cfg.endpoint_url = "ftp://x";
    assert_int_equal(ddb_client_open(&cfg, &c), TM_EINVAL);
    assert_null(c);
    cfg.endpoint_url = NULL;
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(ddb_client_open(&cfg, &c), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "no AWS credentials"));
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    cfg.max_connections = -1;
    assert_int_equal(ddb_client_open(&cfg, &c), TM_EINVAL);
    ddb_client_close(NULL);
}

/* ================================================================================================
 * Against dynalite
 * ============================================================================================== */

static void test_put_get(void **state)
{
    (void)state;
    ddb_client *c = client_at(dyn_port, 4, 3);
    create_table(c, "t_items");
    cJSON *d;
    ok(ddb_describe_table(c, "t_items", &d, NULL));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "TableName")), "t_items");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "TableStatus")), "ACTIVE");
    cJSON_Delete(d);

    cJSON *resp;
    ok(call(c, "PutItem",
            "{\"TableName\":\"t_items\",\"Item\":{\"pk\":{\"S\":\"a\"},\"v\":{\"S\":\"one\"},"
            "\"n\":{\"N\":\"42\"}}}", &resp, NULL));
    cJSON_Delete(resp);
    ok(call(c, "GetItem", "{\"TableName\":\"t_items\",\"Key\":{\"pk\":{\"S\":\"a\"}}}", &resp,
            NULL));
    const cJSON *it = cJSON_GetObjectItem(resp, "Item");
    assert_string_equal(attr(it, "v", "S"), "one");
    assert_string_equal(attr(it, "n", "N"), "42");
    cJSON_Delete(resp);
    ddb_client_close(c);
}

static void test_conditional_write(void **state)
{
    (void)state;
    ddb_client *c = client_at(dyn_port, 2, 3);
    const char *put = "{\"TableName\":\"t_items\",\"Item\":{\"pk\":{\"S\":\"cond\"},\"v\":{\"S\":"
                      "\"first\"}},\"ConditionExpression\":\"attribute_not_exists(pk)\"}";
    cJSON *resp;
    ddb_error e;
    ok(call(c, "PutItem", put, &resp, &e));
    cJSON_Delete(resp);
    assert_int_equal(call(c, "PutItem", put, &resp, &e), TM_ECONDITION);
    assert_non_null(resp);  /* the error answer */
    cJSON_Delete(resp);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.type, "ConditionalCheckFailedException");
    assert_int_equal(e.attempts, 1);
    assert_non_null(strstr(err_msg(), "PutItem"));
    assert_non_null(strstr(err_msg(), "HTTP 400 ConditionalCheckFailedException"));
    ddb_client_close(c);
}

/* A TableDescription's key schema: the one parser of key.h, its detail after "DescribeTable: ". */
static void test_key_schema(void **state)
{
    (void)state;
    key_schema ks;
    cJSON *d = cJSON_Parse("{\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
                           "{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],\"AttributeDefinitions\":["
                           "{\"AttributeName\":\"pk\",\"AttributeType\":\"B\"},"
                           "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"}]}");
    assert_int_equal(ddb_key_schema(d, &ks), 0);
    assert_string_equal(ks.hash_name, "pk");
    assert_int_equal(ks.hash_type, AV_B);
    assert_string_equal(ks.range_name, "sk");
    assert_int_equal(ks.range_type, AV_N);
    cJSON_Delete(d);
    d = cJSON_Parse("{\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
                    "{\"AttributeName\":\"x\",\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":["
                    "{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},{\"AttributeName\":\"x\",\"AttributeType\":\"S\"}]}");
    assert_int_equal(ddb_key_schema(d, &ks), TM_EREMOTE);
    assert_string_equal(err_msg(), "DescribeTable: KeySchema: more than one HASH key");
    cJSON_Delete(d);
}

static void test_missing_table(void **state)
{
    (void)state;
    ddb_client *c = client_at(dyn_port, 2, 3);
    cJSON *resp, *d;
    ddb_error e;
    assert_int_equal(call(c, "GetItem", "{\"TableName\":\"nope\",\"Key\":{\"pk\":{\"S\":\"a\"}}}",
                          &resp, &e), TM_ENOTFOUND);
    assert_string_equal(e.type, "ResourceNotFoundException");
    assert_int_equal(e.status, 400);
    assert_int_equal(e.attempts, 1);
    assert_true(e.message[0]);
    assert_int_equal(ddb_describe_table(c, "nope", &d, &e), TM_ENOTFOUND);
    assert_null(d);
    /* A ValidationException from a real server: not retried, TM_EREMOTE. */
    assert_int_equal(call(c, "GetItem", "{\"TableName\":\"t_items\"}", &resp, &e), TM_EREMOTE);
    assert_string_equal(e.type, "ValidationException");
    assert_int_equal(e.attempts, 1);
    ddb_client_close(c);
}

/* ddb_wait_deleted: returns once DescribeTable says ResourceNotFound; a table that stays is
 * TM_ELIMIT naming it. */
static void test_wait_deleted(void **state)
{
    (void)state;
    ddb_client *c = client_at(dyn_port, 2, 3);
    cJSON *resp, *d;
    create_table(c, "t_gone");
    assert_int_equal(ddb_wait_deleted(c, "t_gone", 200, NULL), TM_ELIMIT);
    assert_non_null(strstr(err_msg(), "DynamoDB table t_gone still exists after 200 ms (ACTIVE)"));
    ok(call(c, "DeleteTable", "{\"TableName\":\"t_gone\"}", &resp, NULL));
    cJSON_Delete(resp);
    ok(ddb_wait_deleted(c, "t_gone", 10000, NULL));
    assert_int_equal(ddb_describe_table(c, "t_gone", &d, NULL), TM_ENOTFOUND);
    assert_int_equal(ddb_wait_active(c, "t_gone", 10000, NULL), TM_ENOTFOUND);
    ddb_client_close(c);
}

struct writer {
    ddb_client *c;
    const char *table;
    cJSON **items;
    size_t n;
    int rc;
};

static void *write_part(void *arg)
{
    struct writer *w = arg;
    w->rc = ddb_batch_write(w->c, w->table, (const cJSON *const *)w->items, w->n, NULL, NULL,
                            NULL);
    return NULL;
}

struct segment {
    ddb_client *c;
    const char *table;
    int seg, total, pages, rc;
    size_t count;
    int *seen;                   /* per item number, shared */
    pthread_mutex_t *mu;
};

static void *scan_part(void *arg)
{
    struct segment *s = arg;
    ddb_scan_options o = DDB_SCAN_OPTIONS_INIT;
    o.segment = s->seg;
    o.total_segments = s->total;
    o.limit = 40;
    ddb_scan *it;
    if ((s->rc = ddb_scan_open(s->c, s->table, &o, &it))) return NULL;
    const cJSON *items, *x;
    int r;
    while ((r = ddb_scan_next(it, &items, NULL)) == 1) {
        s->pages++;
        cJSON_ArrayForEach(x, items) {
            const char *n = attr(x, "n", "N");
            pthread_mutex_lock(s->mu);
            if (n) s->seen[atoi(n)]++;
            pthread_mutex_unlock(s->mu);
            s->count++;
        }
    }
    s->rc = r;
    ddb_scan_close(it);
    return NULL;
}

/* 1000 items written by 8 threads at once (125 each, one client of 8 connections), read back
 * by a parallel scan of 4 segments: every item exactly once, with its own values. */
static void test_batch_and_parallel_scan(void **state)
{
    (void)state;
    ddb_client *c = client_at(dyn_port, 8, 5);
    create_table(c, "t_batch");
    enum { N = 1000, T = 8, S = 4 };
    cJSON **items = make_items("k", N);
    struct writer w[T];
    pthread_t tid[T];
    for (int i = 0; i < T; i++) {
        w[i] = (struct writer){c, "t_batch", items + i * (N / T), N / T, -99};
        ok(pthread_create(&tid[i], NULL, write_part, &w[i]));
    }
    for (int i = 0; i < T; i++) pthread_join(tid[i], NULL);
    for (int i = 0; i < T; i++) assert_int_equal(w[i].rc, 0);

    int seen[N] = {0};
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct segment sg[S];
    for (int i = 0; i < S; i++) {
        sg[i] = (struct segment){c, "t_batch", i, S, 0, -99, 0, seen, &mu};
        ok(pthread_create(&tid[i], NULL, scan_part, &sg[i]));
    }
    size_t total = 0;
    for (int i = 0; i < S; i++) {
        pthread_join(tid[i], NULL);
        ok(sg[i].rc);
        total += sg[i].count;
        printf("remote_test: segment %d of %d: %zu items in %d pages\n", i, S, sg[i].count,
               sg[i].pages);
    }
    assert_int_equal(total, N);
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
    free_items(items, N);
    ddb_client_close(c);
}

/* A scan stopped after a page resumes from ddb_scan_position and reads the rest, no item twice. */
static void test_scan_resume(void **state)
{
    (void)state;
    ddb_client *c = client_at(dyn_port, 2, 3);
    ddb_scan_options o = DDB_SCAN_OPTIONS_INIT;
    o.limit = 300;
    ddb_scan *it;
    const cJSON *items;
    ok(ddb_scan_open(c, "t_batch", &o, &it));
    assert_null(ddb_scan_position(it));
    assert_int_equal(ddb_scan_next(it, &items, NULL), 1);
    assert_int_equal(cJSON_GetArraySize(items), 300);
    cJSON *pos = cJSON_Duplicate(ddb_scan_position(it), 1);
    assert_non_null(pos);
    ddb_scan_close(it);

    o.start_key = pos;
    o.limit = 0;
    ok(ddb_scan_open(c, "t_batch", &o, &it));
    assert_true(cJSON_Compare(ddb_scan_position(it), pos, 1));
    int n = 0, r;
    while ((r = ddb_scan_next(it, &items, NULL)) == 1) n += cJSON_GetArraySize(items);
    ok(r);
    assert_null(ddb_scan_position(it));
    assert_int_equal(ddb_scan_next(it, &items, NULL), 0);
    assert_int_equal(n, 700);
    ddb_scan_close(it);
    cJSON_Delete(pos);

    o.start_key = NULL;
    o.total_segments = 2;
    o.segment = 2;
    assert_int_equal(ddb_scan_open(c, "t_batch", &o, &it), TM_EINVAL);
    assert_null(it);
    ddb_client_close(c);
}

/* Deletes by key with threads inside ddb_batch_write: the table is empty after. */
static void test_batch_delete(void **state)
{
    (void)state;
    ddb_client *c = client_at(dyn_port, 4, 5);
    enum { N = 1000 };
    cJSON **keys = calloc(N, sizeof *keys);
    assert_non_null(keys);
    for (int i = 0; i < N; i++) keys[i] = json("{\"pk\":{\"S\":\"k%05d\"}}", i);
    ddb_batch_options bo = DDB_BATCH_OPTIONS_INIT;
    bo.deletes = 1;
    bo.threads = 4;
    ddb_batch_stats st;
    ok(ddb_batch_write(c, "t_batch", (const cJSON *const *)keys, N, &bo, &st, NULL));
    assert_int_equal(st.written, N);
    assert_int_equal(st.requests, N / 25);
    cJSON *resp;
    ok(call(c, "Scan", "{\"TableName\":\"t_batch\",\"Select\":\"COUNT\"}", &resp, NULL));
    assert_int_equal(cJSON_GetObjectItem(resp, "Count")->valueint, 0);
    cJSON_Delete(resp);
    /* A batch to a missing table fails whole, naming it. */
    assert_int_equal(ddb_batch_write(c, "nope", (const cJSON *const *)keys, N, &bo, &st, NULL),
                     TM_ENOTFOUND);
    assert_non_null(strstr(err_msg(), "BatchWriteItem"));
    for (int i = 0; i < N; i++) cJSON_Delete(keys[i]);
    free(keys);
    ddb_client_close(c);
}

/* ================================================================================================
 * Retries, against the fake endpoint
 * ============================================================================================== */

static void test_retry_throttling(void **state)
{
    (void)state;
    ddb_client *c = client_at(fake_port, 2, 5);
    cJSON *resp;
    ddb_error e;
    ok(call(c, "ThrottleTwice", "{}", &resp, &e));
    assert_int_equal(e.attempts, 3);
    assert_int_equal(e.status, 200);
    assert_int_equal(cJSON_GetObjectItem(resp, "Tries")->valueint, 3);
    cJSON_Delete(resp);
    ok(call(c, "ProvThrottle", "{}", &resp, &e));
    assert_int_equal(e.attempts, 2);
    cJSON_Delete(resp);
    uint64_t calls, retries;
    ddb_client_counts(c, &calls, &retries);
    assert_int_equal(calls, 2);
    assert_int_equal(retries, 3);
    ddb_client_close(c);
}

static void test_retry_limit_500(void **state)
{
    (void)state;
    ddb_client *c = client_at(fake_port, 2, 4);
    cJSON *resp;
    ddb_error e;
    assert_int_equal(call(c, "Always500", "{}", &resp, &e), TM_EREMOTE);
    assert_null(resp);
    assert_int_equal(e.attempts, 4);
    assert_int_equal(e.status, 500);
    assert_string_equal(e.type, "InternalServerError");
    assert_string_equal(e.message, "boom");
    assert_non_null(strstr(err_msg(), "HTTP 500 InternalServerError: boom"));
    assert_non_null(strstr(err_msg(), "gave up after 4 attempts"));
    /* Not JSON: the body becomes the message, on one line. */
    assert_int_equal(call(c, "NotJson500", "{}", &resp, &e), TM_EREMOTE);
    assert_int_equal(e.status, 500);
    assert_string_equal(e.type, "");
    assert_non_null(strstr(e.message, "bad gateway"));
    assert_null(strchr(err_msg(), '\n'));
    ddb_client_close(c);
}

static void test_no_retry_4xx(void **state)
{
    (void)state;
    ddb_client *c = client_at(fake_port, 2, 5);
    cJSON *resp;
    ddb_error e;
    assert_int_equal(call(c, "Validation", "{}", &resp, &e), TM_EREMOTE);
    assert_int_equal(e.attempts, 1);
    assert_string_equal(e.type, "ValidationException");
    assert_string_equal(e.message, "bad shape");  /* from "Message" */
    assert_int_equal(call(c, "CondFail", "{}", &resp, &e), TM_ECONDITION);
    assert_int_equal(e.attempts, 1);
    /* The error answer comes back: its Item is the item as it is now. */
    assert_non_null(resp);
    assert_string_equal(attr(cJSON_GetObjectItem(resp, "Item"), "pk", "S"), "now");
    cJSON_Delete(resp);
    ddb_client_close(c);
}

static void test_retry_bad_crc(void **state)
{
    (void)state;
    ddb_client *c = client_at(fake_port, 1, 3);
    cJSON *resp;
    ddb_error e;
    ok(call(c, "BadCrcOnce", "{}", &resp, &e));
    assert_int_equal(e.attempts, 2);
    assert_int_equal(cJSON_GetObjectItem(resp, "Tries")->valueint, 2);
    cJSON_Delete(resp);
    ddb_client_close(c);
}

static void test_connection_refused(void **state)
{
    (void)state;
    ddb_client *c = client_at(free_port(), 1, 3);
    cJSON *resp;
    ddb_error e;
    assert_int_equal(call(c, "ListTables", "{}", &resp, &e), TM_EREMOTE);
    assert_int_equal(e.status, 0);
    assert_int_equal(e.attempts, 3);
    assert_non_null(strstr(err_msg(), "gave up after 3 attempts"));
    ddb_client_close(c);
}

/* The fake server leaves half of every request unprocessed: the batch writer sends the rest
 * again until all are taken (6 threads on 2 connections); with one round only, it says how many
 * were left. */
static void test_unprocessed_items(void **state)
{
    (void)state;
    ddb_client *c = client_at(fake_port, 2, 3);  /* threads wait for the 2 connections */
    enum { N = 160 };
    cJSON **items = make_items("u", N);
    ddb_batch_options bo = DDB_BATCH_OPTIONS_INIT;
    bo.threads = 6;
    ddb_batch_stats st;
    ok(ddb_batch_write(c, "t_fake", (const cJSON *const *)items, N, &bo, &st, NULL));
    assert_int_equal(st.written, N);
    assert_true(st.unprocessed > 0);
    assert_true(st.requests > 3);
    cJSON *resp;
    ok(call(c, "Written", "{}", &resp, NULL));
    assert_int_equal(cJSON_GetObjectItem(resp, "Count")->valueint, N);
    cJSON_Delete(resp);

    bo.max_rounds = 1;
    assert_int_equal(ddb_batch_write(c, "t_fake2", (const cJSON *const *)items, 25, &bo, &st,
                                     NULL), TM_EREMOTE);
    assert_non_null(strstr(err_msg(), "12 items still unprocessed after 1 rounds"));
    assert_int_equal(st.written, 13);
    free_items(items, N);
    ddb_client_close(c);
}

/* Sequential calls on a one-connection client use one connection (keep-alive). */
static void test_keep_alive(void **state)
{
    (void)state;
    ddb_client *c = client_at(fake_port, 1, 1);
    cJSON *resp;
    ok(call(c, "Conns", "{}", &resp, NULL));
    int before = cJSON_GetObjectItem(resp, "Count")->valueint;
    cJSON_Delete(resp);
    for (int i = 0; i < 20; i++) {
        ok(call(c, "Echo", "{\"i\":1}", &resp, NULL));
        assert_int_equal(cJSON_GetObjectItem(resp, "i")->valueint, 1);
        cJSON_Delete(resp);
    }
    ok(call(c, "Conns", "{}", &resp, NULL));
    assert_int_equal(cJSON_GetObjectItem(resp, "Count")->valueint, before);
    cJSON_Delete(resp);
    ddb_client_close(c);
}

/* What a request carries: the protocol's headers, a SigV4 scope for dynamodb that signs the
 * session token; a server repeating the token in an error does not get it into ours. */
static void test_headers_and_token(void **state)
{
    (void)state;
    setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLETOKEN", 1);
    ddb_client *c = client_at(fake_port, 1, 1);
    unsetenv("AWS_SESSION_TOKEN");
    cJSON *resp;
    ddb_error e;
    ok(call(c, "Headers", "{}", &resp, &e));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(resp, "Target")),
                        "DynamoDB_20120810.Headers");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(resp, "ContentType")),
                        "application/x-amz-json-1.0");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(resp, "Token")),
                        "FQoGZXIvYXdzEXAMPLETOKEN");
    const char *auth = cJSON_GetStringValue(cJSON_GetObjectItem(resp, "Authorization"));
    assert_non_null(auth);
    assert_non_null(strstr(auth, "AWS4-HMAC-SHA256 Credential=AKIDREMOTETEST/"));
    assert_non_null(strstr(auth, "/us-east-1/dynamodb/aws4_request"));
    assert_non_null(strstr(auth, "x-amz-security-token"));
    assert_non_null(strstr(auth, "x-amz-target"));
    cJSON_Delete(resp);

    assert_int_equal(call(c, "LeakToken", "{}", &resp, &e), TM_EREMOTE);
    assert_null(strstr(e.message, "EXAMPLETOKEN"));
    assert_null(strstr(err_msg(), "EXAMPLETOKEN"));
    assert_non_null(strstr(err_msg(), "bad token [redacted]"));
    ddb_client_close(c);
}

/* ================================================================================================
 * The signature, checked by ../shared/tools/sigv4-check.py
 * ============================================================================================== */

static void test_sigv4(void **state)
{
    (void)state;
    if (!proxy_pid) {
        printf("remote_test: SKIP test_sigv4: ../shared/tools/sigv4-check.py not found\n");
        return;
    }
    ddb_client *c = client_at(proxy_port, 2, 2);
    cJSON *resp;
    ddb_error e;
    ok(call(c, "ListTables", "{}", &resp, &e));
    assert_non_null(cJSON_GetObjectItem(resp, "TableNames"));
    cJSON_Delete(resp);
    ok(call(c, "GetItem", "{\"TableName\":\"t_items\",\"Key\":{\"pk\":{\"S\":\"a\"}}}", &resp,
            &e));
    cJSON_Delete(resp);
    ddb_client_close(c);

    setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
    c = client_at(proxy_port, 2, 2);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    assert_int_equal(call(c, "ListTables", "{}", &resp, &e), TM_EREMOTE);
    assert_int_equal(e.status, 403);
    assert_int_equal(e.attempts, 1);
    assert_non_null(strstr(e.message, "SignatureDoesNotMatch"));
    ddb_client_close(c);
}

/* ================================================================================================
 * Measured, not asserted
 * ============================================================================================== */

static void test_bench_batch_write(void **state)
{
    (void)state;
    static const int conns[] = {1, 8, 32};
    enum { N = 4000 };
    cJSON **items = make_items("b", N);
    for (size_t i = 0; i < sizeof conns / sizeof *conns; i++) {
        ddb_client *c = client_at(dyn_port, conns[i], 5);
        char table[32];
        snprintf(table, sizeof table, "t_bench_%d", conns[i]);
        create_table(c, table);
        ddb_batch_options bo = DDB_BATCH_OPTIONS_INIT;
        bo.threads = conns[i];
        ddb_batch_stats st;
        double t0 = tu_now_s();
        ok(ddb_batch_write(c, table, (const cJSON *const *)items, N, &bo, &st, NULL));
        double dt = tu_now_s() - t0;
        assert_int_equal(st.written, N);
        printf("remote_test: ddb_batch_write to dynalite, %2d connections: %d items in %.2f s, "
               "%.0f items/s\n", conns[i], N, dt, N / dt);
        ddb_client_close(c);
    }
    free_items(items, N);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_conditional_write),
        cmocka_unit_test(test_missing_table),
        cmocka_unit_test(test_key_schema),
        cmocka_unit_test(test_wait_deleted),
        cmocka_unit_test(test_batch_and_parallel_scan),
        cmocka_unit_test(test_scan_resume),
        cmocka_unit_test(test_batch_delete),
        cmocka_unit_test(test_retry_throttling),
        cmocka_unit_test(test_retry_limit_500),
        cmocka_unit_test(test_no_retry_4xx),
        cmocka_unit_test(test_retry_bad_crc),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_unprocessed_items),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_headers_and_token),
        cmocka_unit_test(test_sigv4),
        cmocka_unit_test(test_bench_batch_write),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
