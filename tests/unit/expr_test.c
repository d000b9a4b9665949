/* expr_test.c: unit tests of the expression module: update, condition and key-condition
 * expressions, their error messages, and the key ranges Query reads (checked against key
 * encodings of sample values, so they hold whatever key.c's exact byte format is). */
#include "engine/err.h"
#include "engine/expr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

static char *to_json(const item *it)
{
    buf b = BUF_INIT;
    assert_int_equal(item_write_json(it, &b), 0);
    return buf_detach(&b);
}

/* ---------------------------------------------------------------- update */

typedef struct ucase {
    const char *item, *expr, *names, *values;
    const char *want;      /* resulting item, or NULL when an error is expected */
    const char *err;       /* substring of the error message */
} ucase;

static const ucase ucases[] = {
    {"{\"pk\":{\"S\":\"a\"}}", "SET a = :v, b = :w", NULL,
     "{\":v\":{\"S\":\"x\"},\":w\":{\"N\":\"2\"}}",
     "{\"a\":{\"S\":\"x\"},\"b\":{\"N\":\"2\"},\"pk\":{\"S\":\"a\"}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"c\":{\"S\":\"1\"},\"d\":{\"BOOL\":true}}", "REMOVE c, d", NULL, NULL,
     "{\"pk\":{\"S\":\"a\"}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"c\":{\"S\":\"1\"}}", "set a = :v remove c", NULL, "{\":v\":{\"NULL\":true}}",
     "{\"a\":{\"NULL\":true},\"pk\":{\"S\":\"a\"}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"1.5\"}}", "SET n = n + :d", NULL, "{\":d\":{\"N\":\"-2\"}}",
     "{\"n\":{\"N\":\"-0.5\"},\"pk\":{\"S\":\"a\"}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"10\"}}", "SET n = n - :d", NULL, "{\":d\":{\"N\":\"0.001\"}}",
     "{\"n\":{\"N\":\"9.999\"},\"pk\":{\"S\":\"a\"}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"99999999999999999999999999999999999999\"}}", "SET n = n + :d",
     NULL, "{\":d\":{\"N\":\"1\"}}",
     "{\"n\":{\"N\":\"100000000000000000000000000000000000000\"},\"pk\":{\"S\":\"a\"}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"12345678901234567890123456789012345678\"}}", "SET n = n + :d",
     NULL, "{\":d\":{\"N\":\"0.5\"}}", NULL, "UpdateExpression"},
    {"{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"-5\"}}", "SET n = :d - n", NULL, "{\":d\":{\"N\":\"5\"}}",
     "{\"n\":{\"N\":\"10\"},\"pk\":{\"S\":\"a\"}}", NULL},
    {"{\"pk\":{\"S\":\"a\"}}", "SET #c = if_not_exists(#c, :z)", "{\"#c\":\"count\"}",
     "{\":z\":{\"N\":\"0\"}}", "{\"count\":{\"N\":\"0\"},\"pk\":{\"S\":\"a\"}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"count\":{\"N\":\"7\"}}", "SET #c = if_not_exists(#c, :z)",
     "{\"#c\":\"count\"}", "{\":z\":{\"N\":\"0\"}}", "{\"count\":{\"N\":\"7\"},\"pk\":{\"S\":\"a\"}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"l\":{\"L\":[{\"N\":\"1\"}]}}", "SET l = list_append(l, :m)", NULL,
     "{\":m\":{\"L\":[{\"S\":\"x\"}]}}", "{\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"}]},\"pk\":{\"S\":\"a\"}}",
     NULL},
    /* right-hand sides read the item as it was */
    {"{\"pk\":{\"S\":\"a\"},\"x\":{\"N\":\"1\"},\"y\":{\"N\":\"2\"}}", "SET x = y, y = x", NULL, NULL,
     "{\"pk\":{\"S\":\"a\"},\"x\":{\"N\":\"2\"},\"y\":{\"N\":\"1\"}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"3\"}}", "ADD n :d, s :s", NULL,
     "{\":d\":{\"N\":\"4\"},\":s\":{\"SS\":[\"b\",\"a\"]}}",
     "{\"n\":{\"N\":\"7\"},\"pk\":{\"S\":\"a\"},\"s\":{\"SS\":[\"a\",\"b\"]}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"s\":{\"SS\":[\"a\",\"b\",\"c\"]}}", "DELETE s :s", NULL,
     "{\":s\":{\"SS\":[\"b\",\"z\"]}}", "{\"pk\":{\"S\":\"a\"},\"s\":{\"SS\":[\"a\",\"c\"]}}", NULL},
    {"{\"pk\":{\"S\":\"a\"},\"s\":{\"SS\":[\"a\"]}}", "DELETE s :s", NULL, "{\":s\":{\"SS\":[\"a\"]}}",
     "{\"pk\":{\"S\":\"a\"}}", NULL},
    /* errors */
    {"{\"pk\":{\"S\":\"a\"},\"n\":{\"S\":\"x\"}}", "SET n = n + :d", NULL, "{\":d\":{\"N\":\"1\"}}", NULL,
     "operand type"},
    {"{\"pk\":{\"S\":\"a\"}}", "SET n = m + :d", NULL, "{\":d\":{\"N\":\"1\"}}", NULL,
     "does not exist in the item: 'm'"},
    {"{\"pk\":{\"S\":\"a\"}}", "SET a = :v", NULL, NULL, NULL, "':v' is not defined"},
    {"{\"pk\":{\"S\":\"a\"}}", "SET #a = :v", NULL, "{\":v\":{\"S\":\"x\"}}", NULL,
     "'#a' is not defined"},
    {"{\"pk\":{\"S\":\"a\"}}", "SET a = :v, a = :v", NULL, "{\":v\":{\"S\":\"x\"}}", NULL,
     "Two document paths overlap"},
    {"{\"pk\":{\"S\":\"a\"}}", "SET a = :v REMOVE a", NULL, "{\":v\":{\"S\":\"x\"}}", NULL,
     "Two document paths overlap"},
    {"{\"pk\":{\"S\":\"a\"}}", "SET a = :v SET b = :v", NULL, "{\":v\":{\"S\":\"x\"}}", NULL,
     "can only be used once"},
    {"{\"pk\":{\"S\":\"a\"}}", "SET a == :v", NULL, "{\":v\":{\"S\":\"x\"}}", NULL,
     "column 8, token \"=\""},
    {"{\"pk\":{\"S\":\"a\"}}", "SET a = :v,", NULL, "{\":v\":{\"S\":\"x\"}}", NULL, "end of expression"},
    {"{\"pk\":{\"S\":\"a\"}}", "UPDATE a = :v", NULL, "{\":v\":{\"S\":\"x\"}}", NULL,
     "expected SET, REMOVE, ADD or DELETE"},
    {"{\"pk\":{\"S\":\"a\"}}", "SET a.b = :v", NULL, "{\":v\":{\"S\":\"x\"}}", NULL, "top-level"},
    {"{\"pk\":{\"S\":\"a\"}}", "SET a = :v $", NULL, "{\":v\":{\"S\":\"x\"}}", NULL,
     "unexpected character"},
    {"{\"pk\":{\"S\":\"a\"}}", "", NULL, NULL, NULL, "empty"},
    {"{\"pk\":{\"S\":\"a\"}}", "ADD s :v", NULL, "{\":v\":{\"S\":\"x\"}}", NULL, "operand type: S"},
};

static void test_update_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ucases / sizeof *ucases; i++) {
        const ucase *c = &ucases[i];
        expr_env *env = NULL;
        expr_update *u = NULL;
        item *it = tu_item(c->item);
        int rc = expr_env_new(c->names, c->values, &env);
        if (rc) fail_msg("case %zu: env: %s", i, err_msg());
        rc = expr_update_parse(c->expr, env, &u);
        if (!rc) rc = expr_update_apply(u, it);
        if (c->want) {
            if (rc) fail_msg("case %zu (%s): %s", i, c->expr, err_msg());
            char *got = to_json(it);
            if (strcmp(got, c->want)) fail_msg("case %zu (%s): got %s want %s", i, c->expr, got, c->want);
            free(got);
        } else {
            if (rc != TM_EINVAL) fail_msg("case %zu (%s): rc %d, want EINVAL", i, c->expr, rc);
            if (!strstr(err_msg(), c->err))
                fail_msg("case %zu (%s): message '%s' lacks '%s'", i, c->expr, err_msg(), c->err);
            /* a failed update leaves the item as it was */
            item *orig = tu_item(c->item);
            char *got = to_json(it), *want = to_json(orig);
            assert_string_equal(got, want);
            free(got);
            free(want);
            item_free(orig);
        }
        expr_update_free(u);
        expr_env_free(env);
        item_free(it);
    }
}

static void test_update_keys(void **state)
{
    (void)state;
    key_schema ks = {"pk", AV_S, "sk", AV_N};
    expr_env *env = NULL;
    expr_update *u = NULL;
    assert_int_equal(expr_env_new(NULL, "{\":v\":{\"N\":\"1\"}}", &env), 0);
    assert_int_equal(expr_update_parse("SET sk = :v", env, &u), 0);
    assert_int_equal(expr_update_check_keys(u, &ks), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "Cannot update attribute sk"));
    expr_update_free(u);
    assert_int_equal(expr_update_parse("SET other = :v", env, &u), 0);
    assert_int_equal(expr_update_check_keys(u, &ks), 0);
    expr_update_free(u);
    expr_env_free(env);
}

/* ---------------------------------------------------------------- conditions */

typedef struct ccase {
    const char *item;      /* NULL: the item does not exist */
    const char *expr;
    int want;              /* 1 true, 0 false, -1 parse error */
    const char *err;
} ccase;

static const char *cvalues =
    "{\":one\":{\"N\":\"1\"},\":ten\":{\"N\":\"10\"},\":x\":{\"S\":\"x\"},\":ab\":{\"S\":\"ab\"},"
    "\":ts\":{\"S\":\"S\"},\":tn\":{\"S\":\"N\"},\":l\":{\"L\":[]},\":b\":{\"B\":\"AAE=\"}}";
static const char *citem =
    "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"5\"},\"s\":{\"S\":\"abc\"},\"m\":{\"M\":{\"k1\":{\"N\":\"1\"}}},"
    "\"l\":{\"L\":[{\"S\":\"x\"},{\"N\":\"10\"}]},\"ss\":{\"SS\":[\"x\",\"y\"]},\"bin\":{\"B\":\"AAEC\"}}";

static const ccase ccases[] = {
    {NULL, "attribute_not_exists(pk)", 1, NULL},
    {NULL, "attribute_exists(pk)", 0, NULL},
    {NULL, "n <> :one", 0, NULL},
    {"*", "attribute_exists(pk)", 1, NULL},
    {"*", "attribute_not_exists(pk)", 0, NULL},
    {"*", "n = :one", 0, NULL},
    {"*", "n > :one AND n < :ten", 1, NULL},
    {"*", "n >= :ten OR n <= :one", 0, NULL},
    {"*", "NOT n = :one", 1, NULL},
    {"*", "NOT (n > :one AND n < :ten)", 0, NULL},
    {"*", "n > :one AND (s = :x OR s = :ab)", 0, NULL},
    {"*", "n BETWEEN :one AND :ten", 1, NULL},
    {"*", "n IN (:one, :ten)", 0, NULL},
    {"*", "m.k1 IN (:one, :ten)", 1, NULL},
    {"*", "m.in = :one", -1, "keyword"},
    {"*", "l[1] = :ten", 1, NULL},
    {"*", "l[5] = :ten", 0, NULL},
    {"*", "begins_with(s, :ab)", 1, NULL},
    {"*", "begins_with(s, :x)", 0, NULL},
    {"*", "begins_with(bin, :b)", 1, NULL},
    {"*", "contains(s, :ab)", 1, NULL},
    {"*", "contains(ss, :x)", 1, NULL},
    {"*", "contains(l, :ten)", 1, NULL},
    {"*", "attribute_type(s, :ts) and attribute_type(n, :tn)", 1, NULL},
    {"*", "size(s) = :one", 0, NULL},
    {"*", "size(l) > :one", 1, NULL},
    {"*", "n < :x", 0, NULL},             /* different types: false, not an error */
    {"*", "n <> :x", 1, NULL},
    {"*", "#s = :x", -1, "'#s' is not defined"},
    {"*", "n = :nope", -1, "':nope' is not defined"},
    {"*", "n = :one AND", -1, "end of expression"},
    {"*", "(n = :one", -1, "expected )"},
    {"*", "n :one", -1, "column 3"},
    {"*", "n = :one n = :one", -1, "missing AND/OR"},
    {"*", "frobnicate(n)", -1, "unknown function"},
    {"*", "AND = :one", -1, "keyword"},
    {"*", "n BETWEEN :one :ten", -1, "expected AND"},
    {"*", "", -1, "empty"},
};

static void test_condition_table(void **state)
{
    (void)state;
    expr_env *env = NULL;
    assert_int_equal(expr_env_new("{\"#n\":\"n\"}", cvalues, &env), 0);
    item *full = tu_item(citem);
    for (size_t i = 0; i < sizeof ccases / sizeof *ccases; i++) {
        const ccase *c = &ccases[i];
        expr_cond *cond = NULL;
        int rc = expr_cond_parse(c->expr, env, &cond);
        if (c->want < 0) {
            if (rc != TM_EINVAL) fail_msg("case %zu (%s): rc %d, want EINVAL", i, c->expr, rc);
            if (!strstr(err_msg(), c->err) || !strstr(err_msg(), "Invalid ConditionExpression"))
                fail_msg("case %zu (%s): message '%s' lacks '%s'", i, c->expr, err_msg(), c->err);
            continue;
        }
        if (rc) fail_msg("case %zu (%s): %s", i, c->expr, err_msg());
        int got = -1;
        assert_int_equal(expr_cond_eval(cond, c->item ? full : NULL, &got), 0);
        if (got != c->want) fail_msg("case %zu (%s): got %d want %d", i, c->expr, got, c->want);
        /* the write glue says ConditionalCheckFailed exactly when the condition is false */
        expr_write w = {cond, NULL};
        rc = expr_write_check(&w, c->item ? full : NULL);
        assert_int_equal(rc, c->want ? 0 : TM_ECONDITION);
        expr_cond_free(cond);
    }
    item_free(full);
    expr_env_free(env);
}

static void test_env(void **state)
{
    (void)state;
    expr_env *env = NULL;
    assert_int_equal(expr_env_new("[1]", NULL, &env), TM_EINVAL);
    assert_null(env);
    assert_int_equal(expr_env_new("{\"n\":\"x\"}", NULL, &env), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "invalid key 'n'"));
    assert_int_equal(expr_env_new("{\"#n\":3}", NULL, &env), TM_EINVAL);
    assert_int_equal(expr_env_new(NULL, "{\"v\":{\"S\":\"x\"}}", &env), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "invalid key 'v'"));
    assert_int_equal(expr_env_new(NULL, "{\":v\":{\"Q\":\"x\"}}", &env), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "ExpressionAttributeValues"));
    /* unused names and values are refused, as DynamoDB does */
    assert_int_equal(expr_env_new("{\"#a\":\"a\",\"#b\":\"b\"}", "{\":v\":{\"S\":\"x\"}}", &env), 0);
    expr_cond *c = NULL;
    assert_int_equal(expr_cond_parse("#a = :v", env, &c), 0);
    assert_int_equal(expr_env_check_unused(env), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "#b"));
    expr_cond_free(c);
    assert_int_equal(expr_cond_parse("#b = :v", env, &c), 0);
    assert_int_equal(expr_env_check_unused(env), 0);
    expr_cond_free(c);
    expr_env_free(env);
}

/* ---------------------------------------------------------------- key conditions */

typedef struct kcase {
    const char *expr;
    expr_sk_op op;         /* expected op, or -1 for an error */
    const char *err;
} kcase;

static const kcase kcases[] = {
    {"pk = :p", EXPR_SK_NONE, NULL},
    {"pk = :p AND sk = :a", EXPR_SK_EQ, NULL},
    {"sk < :a AND pk = :p", EXPR_SK_LT, NULL},
    {"pk = :p and sk <= :a", EXPR_SK_LE, NULL},
    {"pk = :p AND :a < sk", EXPR_SK_GT, NULL},
    {"(pk = :p) AND (sk >= :a)", EXPR_SK_GE, NULL},
    {"#p = :p AND #s BETWEEN :a AND :b", EXPR_SK_BETWEEN, NULL},
    {"pk = :p AND begins_with(sk, :a)", EXPR_SK_BEGINS, NULL},
    {"sk = :a", -1, "missed key schema element: pk"},
    {"pk = :p OR sk = :a", -1, "Invalid operator used in KeyConditionExpression: OR"},
    {"pk = :p AND sk <> :a", -1, "Invalid operator used in KeyConditionExpression: <>"},
    {"pk = :p AND other = :a", -1, "'other' is not a key attribute"},
    {"pk < :p", -1, "only takes an equality"},
    {"pk = :n", -1, "does not match schema type"},
    {"pk = :p AND sk = :n", -1, "does not match schema type"},
    {"pk = :p AND sk BETWEEN :b AND :a", -1, "upper bound"},
    {"pk = :p AND sk = :a AND sk = :b", -1, "at most one"},
    {"pk = :p AND contains(sk, :a)", -1, "contains"},
    {"pk = :p AND NOT sk = :a", -1, "NOT"},
    {"pk = :p AND sk = sk", -1, ":value"},
};

static void test_keycond_table(void **state)
{
    (void)state;
    key_schema ks = {"pk", AV_S, "sk", AV_S};
    expr_env *env = NULL;
    assert_int_equal(expr_env_new("{\"#p\":\"pk\",\"#s\":\"sk\"}",
                                  "{\":p\":{\"S\":\"u1\"},\":a\":{\"S\":\"a\"},\":b\":{\"S\":\"b\"},"
                                  "\":n\":{\"N\":\"1\"}}", &env), 0);
    for (size_t i = 0; i < sizeof kcases / sizeof *kcases; i++) {
        const kcase *c = &kcases[i];
        expr_keycond k;
        int rc = expr_keycond_parse(c->expr, env, &ks, &k);
        if ((int)c->op < 0) {
            if (rc != TM_EINVAL) fail_msg("case %zu (%s): rc %d, want EINVAL", i, c->expr, rc);
            if (!strstr(err_msg(), c->err))
                fail_msg("case %zu (%s): message '%s' lacks '%s'", i, c->expr, err_msg(), c->err);
            continue;
        }
        if (rc) fail_msg("case %zu (%s): %s", i, c->expr, err_msg());
        assert_int_equal(k.op, c->op);
        assert_non_null(k.pk);
    }
    expr_env_free(env);

    /* begins_with needs S or B sort keys */
    key_schema ksn = {"pk", AV_S, "sk", AV_N};
    expr_keycond k;
    assert_int_equal(expr_env_new(NULL, "{\":p\":{\"S\":\"u1\"},\":a\":{\"N\":\"1\"}}", &env), 0);
    assert_int_equal(expr_keycond_parse("pk = :p AND begins_with(sk, :a)", env, &ksn, &k), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "only allowed on S and B"));
    expr_env_free(env);
}

static int buf_lt(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = memcmp(a, b, n);
    return c ? c < 0 : an < bn;
}

/* Does encoded key k lie in [lo, hi)? */
static int in_range(const buf *k, const buf *lo, const buf *hi)
{
    if (buf_lt(k->data, k->len, lo->data, lo->len)) return 0;
    return !hi->len || buf_lt(k->data, k->len, hi->data, hi->len);
}

static int sk_holds(const expr_keycond *k, const av *pk, const av *v)
{
    if (!av_equal(pk, k->pk)) return 0;
    int c1 = k->sk1 ? av_compare(v, k->sk1) : 0;
    switch (k->op) {
    case EXPR_SK_NONE: return 1;
    case EXPR_SK_EQ: return c1 == 0;
    case EXPR_SK_LT: return c1 < 0;
    case EXPR_SK_LE: return c1 <= 0;
    case EXPR_SK_GT: return c1 > 0;
    case EXPR_SK_GE: return c1 >= 0;
    case EXPR_SK_BETWEEN: return c1 >= 0 && av_compare(v, k->sk2) <= 0;
    case EXPR_SK_BEGINS: return v->len >= k->sk1->len && !memcmp(v->u.bytes, k->sk1->u.bytes, k->sk1->len);
    }
    return 0;
}

/* For every operator and bound drawn from the samples, the range holds exactly the keys whose
 * sort key satisfies the condition, in every partition of the sample. */
static void check_ranges(av_type t, const char *const *samples, size_t ns)
{
    key_schema ks = {"pk", AV_S, "sk", t};
    static const char *ops[] = {"", " AND sk = :a", " AND sk < :a", " AND sk <= :a", " AND sk > :a",
                                " AND sk >= :a", " AND sk BETWEEN :a AND :b",
                                " AND begins_with(sk, :a)"};
    static const char *tag[] = {"?", "S", "N", "B"};
    static const char *pks[] = {"u1", "u2", "u10"};
    buf vals = BUF_INIT;
    for (size_t a = 0; a < ns; a++)
        for (size_t b = 0; b < ns; b++)
            for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
                if (o == 7 && t == AV_N) continue;
                buf_reset(&vals);
                buf_printf(&vals, "{\":p\":{\"S\":\"u1\"},\":a\":{\"%s\":\"%s\"},\":b\":{\"%s\":\"%s\"}}",
                           tag[t], samples[a], tag[t], samples[b]);
                expr_env *env = NULL;
                expr_keycond k;
                char text[128];
                snprintf(text, sizeof text, "pk = :p%s", ops[o]);
                assert_int_equal(expr_env_new(NULL, vals.data, &env), 0);
                int rc = expr_keycond_parse(text, env, &ks, &k);
                if (rc == TM_EINVAL && o == 6) { expr_env_free(env); continue; }  /* a > b */
                if (rc) fail_msg("%s with %s: %s", text, vals.data, err_msg());
                buf lo = BUF_INIT, hi = BUF_INIT;
                assert_int_equal(expr_keycond_range(&k, &ks, &lo, &hi), 0);
                for (size_t p = 0; p < 3; p++)
                    for (size_t s = 0; s < ns; s++) {
                        char ij[256];
                        snprintf(ij, sizeof ij, "{\"pk\":{\"S\":\"%s\"},\"sk\":{\"%s\":\"%s\"}}", pks[p],
                                 tag[t], samples[s]);
                        item *it = tu_item(ij);
                        buf key = BUF_INIT;
                        if (key_encode_item(&ks, it, &key)) fail_msg("%s: %s", ij, err_msg());
                        int want = sk_holds(&k, item_get(it, "pk"), item_get(it, "sk"));
                        if (in_range(&key, &lo, &hi) != want)
                            fail_msg("%s with %s: key %s is %s the range", text, vals.data, ij,
                                     want ? "outside" : "inside");
                        buf_free(&key);
                        item_free(it);
                    }
                buf_free(&lo);
                buf_free(&hi);
                expr_env_free(env);
            }
    buf_free(&vals);
}

static void test_keycond_ranges(void **state)
{
    (void)state;
    static const char *s[] = {"Z", "a", "ab", "abc", "ab\\u0000", "b", "\xc2\xbf", "a\\u00ff",
                              "\xef\xbf\xbf", "\xef\xbf\xbf\xef\xbf\xbf"};
    static const char *n[] = {"-1E+20", "-10", "-1.5", "-0.001", "0", "0.001", "1", "1.5", "2", "10",
                              "12345678901234567890123456789012345678", "1E+125"};
    static const char *b[] = {"AA==", "AAA=", "AQ==", "AQI=", "/w==", "//8=", "gA==", "f/8="};
    check_ranges(AV_S, s, sizeof s / sizeof *s);
    check_ranges(AV_N, n, sizeof n / sizeof *n);
    check_ranges(AV_B, b, sizeof b / sizeof *b);
}

static void test_segments(void **state)
{
    (void)state;
    uint32_t lo, hi, prev_hi = 0;
    for (uint32_t total = 1; total <= 7; total++)
        for (uint32_t s = 0; s < total; s++) {
            assert_int_equal(expr_segment_bounds(s, total, &lo, &hi), 0);
            if (s == 0) assert_int_equal(lo, 0);
            else assert_int_equal(lo, prev_hi + 1);
            if (s == total - 1) assert_int_equal(hi, UINT32_MAX);
            assert_true(hi >= lo);
            prev_hi = hi;
        }
    assert_int_equal(expr_segment_bounds(4, 4, &lo, &hi), TM_EINVAL);
    assert_int_equal(expr_segment_bounds(0, 0, &lo, &hi), TM_EINVAL);
}

/* ---------------------------------------------------------------- limits */

/* s repeated n times, appended to b. */
static void put_rep(buf *b, const char *s, int n)
{
    for (int i = 0; i < n; i++) assert_int_equal(buf_append(b, s, strlen(s)), 0);
}

static void want_einval(int rc, const char *kind, const char *what)
{
    if (rc != TM_EINVAL) fail_msg("rc %d, want EINVAL with '%s'", rc, what);
    if ((kind && !strstr(err_msg(), kind)) || !strstr(err_msg(), what))
        fail_msg("message '%s' lacks '%s' / '%s'", err_msg(), kind ? kind : "", what);
}

/* Deep nesting is an error, never a stack overflow: 2000 parentheses are 4,006 bytes, under
 * the size limit (the crash began at 1,909), in every kind of expression. */
static void test_nesting(void **state)
{
    (void)state;
    key_schema ks = {"pk", AV_S, "sk", AV_S};
    expr_env *env = NULL;
    expr_cond *c = NULL;
    expr_keycond k;
    buf b = BUF_INIT;
    item *it = tu_item("{\"pk\":{\"S\":\"u1\"},\"a\":{\"S\":\"x\"}}");
    assert_int_equal(expr_env_new(NULL, "{\":v\":{\"S\":\"x\"},\":p\":{\"S\":\"u1\"}}", &env), 0);

    put_rep(&b, "(", 2000);
    buf_printf(&b, "a = :v");
    put_rep(&b, ")", 2000);
    assert_true(b.len < EXPR_MAX_BYTES);
    want_einval(expr_cond_parse(b.data, env, &c), "Invalid ConditionExpression",
                "nested too deeply; nesting depth: 301 at column 301");
    assert_null(c);
    buf_reset(&b);
    put_rep(&b, "(", 2000);
    buf_printf(&b, "pk = :p");
    put_rep(&b, ")", 2000);
    want_einval(expr_keycond_parse(b.data, env, &ks, &k), "Invalid KeyConditionExpression",
                "nested too deeply");

    /* at the bound: parsed and evaluated */
    buf_reset(&b);
    put_rep(&b, "(", EXPR_MAX_DEPTH);
    buf_printf(&b, "a = :v");
    put_rep(&b, ")", EXPR_MAX_DEPTH);
    assert_int_equal(expr_cond_parse(b.data, env, &c), 0);
    int got = 0;
    assert_int_equal(expr_cond_eval(c, it, &got), 0);
    assert_int_equal(got, 1);
    expr_cond_free(c);
    buf_reset(&b);
    put_rep(&b, "(", EXPR_MAX_DEPTH);
    buf_printf(&b, "pk = :p");
    put_rep(&b, ")", EXPR_MAX_DEPTH);
    assert_int_equal(expr_keycond_parse(b.data, env, &ks, &k), 0);

    /* NOT nests too; 299 NOTs and a comparison are 300 operators: accepted, and NOT^299 is NOT */
    buf_reset(&b);
    put_rep(&b, "NOT ", 299);
    buf_printf(&b, "a = :v");
    assert_int_equal(expr_cond_parse(b.data, env, &c), 0);
    assert_int_equal(expr_cond_eval(c, it, &got), 0);
    assert_int_equal(got, 0);
    expr_cond_free(c);
    buf_free(&b);
    item_free(it);
    expr_env_free(env);
}

/* DynamoDB's expression limits, each at the bound (accepted) and one past it (refused with
 * DynamoDB's words). */
static void test_limits(void **state)
{
    (void)state;
    key_schema ks = {"pk", AV_S, "sk", AV_S};
    expr_env *env = NULL;
    expr_cond *c = NULL;
    expr_update *u = NULL;
    expr_keycond k;
    buf b = BUF_INIT;
    assert_int_equal(expr_env_new(NULL, "{\":v\":{\"N\":\"1\"},\":p\":{\"S\":\"u1\"}}", &env), 0);

    /* 4 KB: 4096 bytes are accepted, 4097 are not, whatever the bytes are */
    buf_printf(&b, "a = :v");
    put_rep(&b, " ", EXPR_MAX_BYTES - 6);
    assert_int_equal(expr_cond_parse(b.data, env, &c), 0);
    expr_cond_free(c);
    buf_putc(&b, ' ');
    want_einval(expr_cond_parse(b.data, env, &c), "Invalid ConditionExpression",
                "Expression size has exceeded the maximum allowed size; expression size: 4097");
    buf_reset(&b);
    buf_printf(&b, "SET a = :v");
    put_rep(&b, " ", EXPR_MAX_BYTES - 10 + 1);
    want_einval(expr_update_parse(b.data, env, &u), "Invalid UpdateExpression",
                "expression size: 4097");
    assert_null(u);
    buf_reset(&b);
    buf_printf(&b, "pk = :p");
    put_rep(&b, " ", EXPR_MAX_BYTES - 7 + 1);
    want_einval(expr_keycond_parse(b.data, env, &ks, &k), "Invalid KeyConditionExpression",
                "expression size: 4097");
    /* the case: 5,506 bytes of a valid condition */
    buf_reset(&b);
    buf_printf(&b, "a = :v");
    put_rep(&b, " OR a = :v", 550);
    want_einval(expr_cond_parse(b.data, env, &c), NULL, "expression size: 5506");

    /* 300 operators: 150 comparisons, 149 OR and one NOT; one NOT more is too many */
    buf_reset(&b);
    buf_printf(&b, "NOT a=:v");
    put_rep(&b, " OR a=:v", 149);
    assert_int_equal(expr_cond_parse(b.data, env, &c), 0);
    expr_cond_free(c);
    buf_reset(&b);
    buf_printf(&b, "NOT NOT a=:v");
    put_rep(&b, " OR a=:v", 149);
    want_einval(expr_cond_parse(b.data, env, &c), "Invalid ConditionExpression",
                "The expression contains too many operators; operator count: 301");
    /* in updates, + - and functions count; SET's = does not */
    buf_reset(&b);
    buf_printf(&b, "SET a0=:v+:v");
    for (int i = 1; i < 300; i++) buf_printf(&b, ",a%d=:v+:v", i);
    assert_int_equal(expr_update_parse(b.data, env, &u), 0);
    expr_update_free(u);
    buf_printf(&b, ",b=if_not_exists(b,:v)");
    want_einval(expr_update_parse(b.data, env, &u), "Invalid UpdateExpression",
                "too many operators; operator count: 301");

    /* IN takes 100 operands */
    buf_reset(&b);
    buf_printf(&b, "a IN (:v");
    put_rep(&b, ",:v", 99);
    buf_printf(&b, ")");
    assert_int_equal(expr_cond_parse(b.data, env, &c), 0);
    expr_cond_free(c);
    buf_reset(&b);
    buf_printf(&b, "a IN (:v");
    put_rep(&b, ",:v", 100);
    buf_printf(&b, ")");
    want_einval(expr_cond_parse(b.data, env, &c), "Invalid ConditionExpression",
                "The IN operator is provided with too many operands; number of operands: 101");
    expr_env_free(env);
    env = NULL;

    /* a placeholder is at most 255 bytes, names and values alike */
    char key[EXPR_MAX_PLACEHOLDER + 2];
    memset(key, 'n', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    for (int lead = 0; lead < 2; lead++)
        for (int len = EXPR_MAX_PLACEHOLDER; len <= EXPR_MAX_PLACEHOLDER + 1; len++) {
            key[0] = lead ? ':' : '#';
            buf_reset(&b);
            buf_printf(&b, lead ? "{\"%.*s\":{\"S\":\"x\"}}" : "{\"%.*s\":\"x\"}", len, key);
            int rc = expr_env_new(lead ? NULL : b.data, lead ? b.data : NULL, &env);
            if (len == EXPR_MAX_PLACEHOLDER) assert_int_equal(rc, 0);
            else want_einval(rc, lead ? "ExpressionAttributeValues" : "ExpressionAttributeNames",
                             "contains a key that is too long");
            expr_env_free(env);
            env = NULL;
        }

    /* names and values add up to at most 2 MB */
    for (int over = 0; over < 2; over++) {
        /* ":v" (2) + "#n" "a" (3) + the string: exactly the limit, or one byte more */
        size_t n = EXPR_MAX_SUBST - 5 + (size_t)over;
        buf_reset(&b);
        buf_printf(&b, "{\":v\":{\"S\":\"");
        for (size_t i = 0; i < n; i++) buf_putc(&b, 'x');
        buf_printf(&b, "\"}}");
        int rc = expr_env_new("{\"#n\":\"a\"}", b.data, &env);
        if (!over) assert_int_equal(rc, 0);
        else want_einval(rc, NULL, "ExpressionAttributeNames and ExpressionAttributeValues exceed "
                         "the maximum allowed size: 2097153 bytes");
        expr_env_free(env);
        env = NULL;
    }
    buf_free(&b);
}

/* ---------------------------------------------------------------- projection */

typedef struct pcase {
    const char *expr, *names;
    const char *want;      /* projected item, or the start of the error message */
    int ok;
} pcase;

static void test_projection(void **state)
{
    (void)state;
    static const char *src = "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"1\"},\"name\":{\"S\":\"x\"},"
                             "\"m\":{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"L\":[{\"S\":\"b0\"},{\"S\":\"b1\"},"
                             "{\"M\":{\"c\":{\"S\":\"deep\"},\"d\":{\"S\":\"no\"}}}]}}}}";
    static const pcase cases[] = {
        {"n, pk", NULL, "{\"n\":{\"N\":\"1\"},\"pk\":{\"S\":\"k\"}}", 1},
        {"#nm", "{\"#nm\":\"name\"}", "{\"name\":{\"S\":\"x\"}}", 1},
        {"missing, n", NULL, "{\"n\":{\"N\":\"1\"}}", 1},
        {"missing", NULL, "{}", 1},
        {"m.a", NULL, "{\"m\":{\"M\":{\"a\":{\"N\":\"1\"}}}}", 1},
        /* list elements keep their order and close up; a map keeps only what was named */
        {"m.b[2].c, m.b[0]", NULL, "{\"m\":{\"M\":{\"b\":{\"L\":[{\"S\":\"b0\"},{\"M\":{\"c\":{\"S\":\"deep\"}}}]}}}}", 1},
        {"m.b[7], n.x, m.a.z", NULL, "{}", 1},
        {"n, n", NULL, "Invalid ProjectionExpression: Two document paths overlap", 0},
        {"m, m.a", NULL, "Invalid ProjectionExpression: Two document paths overlap", 0},
        {"m.b[0], m.b.c", NULL, "Invalid ProjectionExpression: Two document paths conflict", 0},
        {"", NULL, "Invalid ProjectionExpression: The expression can not be empty", 0},
        {"n,", NULL, "Invalid ProjectionExpression: syntax error", 0},
        {"#x", NULL, "Invalid ProjectionExpression: column 1: name placeholder '#x' is not defined", 0},
    };
    item *it = tu_item(src);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const pcase *c = &cases[i];
        expr_env *env = NULL;
        expr_proj *p = NULL;
        item *out = NULL;
        assert_int_equal(expr_env_new(c->names, NULL, &env), 0);
        int rc = expr_proj_parse(c->expr, env, &p);
        if (!c->ok) {
            if (rc != TM_EINVAL || strncmp(err_msg(), c->want, strlen(c->want)))
                fail_msg("%s: got %d %s", c->expr, rc, err_msg());
        } else {
            if (rc) fail_msg("%s: %s", c->expr, err_msg());
            assert_int_equal(expr_proj_apply(p, it, &out), 0);
            char *j = to_json(out);
            if (strcmp(j, c->want)) fail_msg("%s: got %s, want %s", c->expr, j, c->want);
            free(j);
        }
        item_free(out);
        expr_proj_free(p);
        expr_env_free(env);
    }
    item_free(it);
}

/* UPDATED_OLD and UPDATED_NEW name the attributes an update touches. */
static void test_update_names(void **state)
{
    (void)state;
    expr_env *env = NULL;
    expr_update *u = NULL;
    assert_int_equal(expr_env_new("{\"#g\":\"gone\"}", "{\":d\":{\"N\":\"1\"},\":s\":{\"SS\":[\"x\"]}}", &env), 0);
    assert_int_equal(expr_update_parse("SET n = n + :d REMOVE #g ADD s :s", env, &u), 0);
    assert_int_equal(expr_update_count(u), 3);
    assert_string_equal(expr_update_name(u, 0), "n");
    assert_string_equal(expr_update_name(u, 1), "gone");
    assert_string_equal(expr_update_name(u, 2), "s");
    expr_update_free(u);
    expr_env_free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_table),   cmocka_unit_test(test_update_keys),
        cmocka_unit_test(test_condition_table), cmocka_unit_test(test_env),
        cmocka_unit_test(test_keycond_table),  cmocka_unit_test(test_keycond_ranges),
        cmocka_unit_test(test_segments),       cmocka_unit_test(test_limits),
        cmocka_unit_test(test_nesting),        cmocka_unit_test(test_projection),
        cmocka_unit_test(test_update_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
