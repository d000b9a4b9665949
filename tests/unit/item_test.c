/* item_test.c: unit tests of engine/item (DynamoDB JSON codec, binary encoding, limits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/err.h"
#include "engine/item.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Test JSON is written with ' for " to keep the tables readable. */
static char *q2d(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'') *p = '"';
    return d;
}

static int parse_q(const char *qjson, unsigned flags, item **out)
{
    char *j = q2d(qjson);
    int rc = item_parse_json(j, strlen(j), flags, out);
    free(j);
    return rc;
}

static item *must_parse(const char *json, size_t len, unsigned flags)
{
    item *it = NULL;
    int rc = item_parse_json(json, len, flags, &it);
    if (rc) print_error("parse failed: %s: %s\n", err_name(rc), err_msg());
    assert_int_equal(rc, 0);
    assert_non_null(it);
    return it;
}

/* JSON -> item -> JSON; item -> binary -> item -> binary; binary -> JSON; JSON -> item again. */
static void check_round_trip(const item *it, const char *want_json)
{
    buf js = BUF_INIT, bin = BUF_INIT, bin2 = BUF_INIT, js2 = BUF_INIT, bin3 = BUF_INIT;
    assert_int_equal(item_write_json(it, &js), 0);
    if (want_json) assert_string_equal(js.data, want_json);
    assert_int_equal(item_encode(it, &bin), 0);
    item *d = NULL;
    int rc = item_decode(bin.data, bin.len, &d);
    if (rc) print_error("decode: %s\n", err_msg());
    assert_int_equal(rc, 0);
    assert_true(av_equal(&(av){AV_M, item_count(it), {.attrs = (av_attr *)item_attr(it, 0)}},
                         &(av){AV_M, item_count(d), {.attrs = (av_attr *)item_attr(d, 0)}}));
    assert_int_equal(item_encode(d, &bin2), 0);
    assert_int_equal(bin.len, bin2.len);
    assert_memory_equal(bin.data, bin2.data, bin.len);
    assert_int_equal(item_bin_write_json(bin.data, bin.len, &js2), 0);
    assert_string_equal(js.data, js2.data);
    item *r = must_parse(js.data, js.len, ITEM_PARSE_NOLIMITS);
    assert_int_equal(item_encode(r, &bin3), 0);
    assert_int_equal(bin.len, bin3.len);
    assert_memory_equal(bin.data, bin3.data, bin.len);
    assert_int_equal(item_size(r), item_size(it));
    item *dup = item_dup(it);
    buf bin4 = BUF_INIT;
    assert_int_equal(item_encode(dup, &bin4), 0);
    assert_int_equal(bin.len, bin4.len);
    assert_memory_equal(bin.data, bin4.data, bin.len);
    item_free(dup);
    item_free(r);
    item_free(d);
    buf_free(&js);
    buf_free(&bin);
    buf_free(&bin2);
    buf_free(&js2);
    buf_free(&bin3);
    buf_free(&bin4);
}

/* ------------------------------------------------------------------------------------- */

static const struct { const char *in, *out; } round_trips[] = {
    {"{'s':{'S':'hello'}}", NULL},
    {"{'s':{'S':''}}", NULL},
    {"{'n':{'N':'-12.5'}}", NULL},
    {"{'b':{'B':'AAEC/w=='}}", NULL},
    {"{'b':{'B':''}}", NULL},
    {"{'ss':{'SS':['b','a','c']}}", "{'ss':{'SS':['a','b','c']}}"},
    {"{'ns':{'NS':['10','9','-1','0.5']}}", "{'ns':{'NS':['-1','0.5','9','10']}}"},
    {"{'bs':{'BS':['AQ==','AA==','/w==']}}", "{'bs':{'BS':['AA==','AQ==','/w==']}}"},
    {"{'m':{'M':{'z':{'N':'1'},'a':{'S':'x'}}}}", "{'m':{'M':{'a':{'S':'x'},'z':{'N':'1'}}}}"},
    {"{'m':{'M':{}}}", NULL},
    {"{'l':{'L':[{'S':'x'},{'N':'1'},{'L':[]},{'M':{}}]}}", NULL},
    {"{'l':{'L':[]}}", NULL},
    {"{'z':{'NULL':true}}", NULL},
    {"{'t':{'BOOL':true},'f':{'BOOL':false}}", "{'f':{'BOOL':false},'t':{'BOOL':true}}"},
    {" { 'b' : { 'S' : 'x' } , 'a' : { 'N' : '007' } } ", "{'a':{'N':'7'},'b':{'S':'x'}}"},
    {"{'ab':{'S':'1'},'a':{'S':'2'},'b':{'S':'3'}}", "{'a':{'S':'2'},'ab':{'S':'1'},'b':{'S':'3'}}"},
    {"{'u':{'S':'\xc2\xbf\xe2\x82\xac\xf0\x9f\x98\x80'}}", NULL},
    {"{'deep':{'M':{'a':{'L':[{'M':{'b':{'SS':['x']},'c':{'NS':['1E2']}}}]}}}}",
     "{'deep':{'M':{'a':{'L':[{'M':{'b':{'SS':['x']},'c':{'NS':['100']}}}]}}}}"},
    {"{}", NULL},
};

static void test_round_trip_every_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof round_trips / sizeof round_trips[0]; i++) {
        item *it = NULL;
        int rc = parse_q(round_trips[i].in, 0, &it);
        if (rc) print_error("case %zu: %s\n", i, err_msg());
        assert_int_equal(rc, 0);
        char *want = q2d(round_trips[i].out ? round_trips[i].out : round_trips[i].in);
        check_round_trip(it, want);
        free(want);
        item_free(it);
    }
}

/* Escapes: JSON-escaped input decodes to bytes; output escapes " \ and controls only. */
static void test_string_escapes(void **state)
{
    (void)state;
    const char *in = "{\"s\":{\"S\":\"q\\\" b\\\\ s\\/ n\\n t\\t c\\u0001 z\\u0000 e\\u00e9 "
                     "p\\ud83d\\ude00\"}}";
    item *it = must_parse(in, strlen(in), 0);
    const av *v = item_get(it, "s");
    assert_non_null(v);
    const char want[] = "q\" b\\ s/ n\n t\t c\x01 z\0 e\xc3\xa9 p\xf0\x9f\x98\x80";
    assert_int_equal(v->len, sizeof want - 1);
    assert_memory_equal(v->u.bytes, want, sizeof want - 1);
    check_round_trip(it, "{\"s\":{\"S\":\"q\\\" b\\\\ s/ n\\n t\\t c\\u0001 z\\u0000 e\xc3\xa9 "
                         "p\xf0\x9f\x98\x80\"}}");
    item_free(it);
}

/* ------------------------------------------------------------------------------------- */

static const struct { const char *in, *out; } numbers[] = {
    {"00042", "42"}, {"1.5E2", "150"}, {"1.0", "1"}, {"-0", "0"}, {"-0.000", "0"}, {"+5", "5"},
    {"0", "0"}, {"0E99999", "0"}, {".5", "0.5"}, {"5.", "5"}, {"1e0", "1"}, {"-1.2300e-3", "-0.00123"},
    {"123.456e1", "1234.56"}, {"123.456E-1", "12.3456"}, {"1E+2", "100"}, {"0.0010", "0.001"},
    {"100", "100"}, {"-100.5000", "-100.5"}, {"12e-1", "1.2"},
    /* 38 significant digits, trailing zeros are not significant */
    {"12345678901234567890123456789012345678", "12345678901234567890123456789012345678"},
    {"1234567890123456789012345678901234567800000", "1234567890123456789012345678901234567800000"},
    {"0.00012345678901234567890123456789012345678", "0.00012345678901234567890123456789012345678"},
};

static const struct { const char *in, *why; } bad_numbers[] = {
    {"123456789012345678901234567890123456789", "more than 38 significant digits"},
    {"1.23456789012345678901234567890123456789", "more than 38 significant digits"},
    {"1000000000000000000000000000000000000001", "more than 38 significant digits"},
    {"1E126", "magnitude larger"},
    {"10E125", "magnitude larger"},
    {"-1E126", "magnitude larger"},
    {"1E-131", "magnitude smaller"},
    {"0.1E-130", "magnitude smaller"},
    {"1E+999999999999999999999", "magnitude larger"},
    {"1E-999999999999999999999", "magnitude smaller"},
    {"", "not a number"}, {"abc", "not a number"}, {"-", "not a number"}, {".", "not a number"},
    {"1e", "exponent without digits"}, {"--1", "not a number"}, {"1.2.3", "more than one decimal point"},
    {" 1", "not a number"}, {"1 ", "not a number"}, {"NaN", "not a number"},
    {"Infinity", "not a number"}, {"0x10", "not a number"}, {"1e+", "exponent without digits"},
};

/* The range edges, written out: 38 nines and 88 zeros; "0." 129 zeros "1". */
static void test_number_range_edges(void **state)
{
    (void)state;
    char big[200], tiny[200];
    memset(big, '9', 38);
    memset(big + 38, '0', 88);
    big[126] = '\0';
    memcpy(tiny, "0.", 2);
    memset(tiny + 2, '0', 129);
    memcpy(tiny + 131, "1", 2);
    static const struct { const char *in; int which, neg; } cases[] = {
        {"9.9999999999999999999999999999999999999E+125", 0, 0},
        {"-9.9999999999999999999999999999999999999E+125", 0, 1},
        {"99999999999999999999999999999999999999E88", 0, 0},
        {"1E-130", 1, 0}, {"-1E-130", 1, 1}, {"0.1E-129", 1, 0}, {"10E-131", 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b = BUF_INIT, want = BUF_INIT;
        if (cases[i].neg) buf_putc(&want, '-');
        buf_puts(&want, cases[i].which ? tiny : big);
        int rc = num_canonical(cases[i].in, strlen(cases[i].in), &b);
        if (rc) print_error("%s: %s\n", cases[i].in, err_msg());
        assert_int_equal(rc, 0);
        assert_string_equal(b.data, want.data);
        /* and the same through an item, both directions */
        buf js = BUF_INIT;
        buf_printf(&js, "{\"n\":{\"N\":\"%s\"}}", cases[i].in);
        item *it = must_parse(js.data, js.len, 0);
        assert_string_equal(item_get(it, "n")->u.bytes, want.data);
        check_round_trip(it, NULL);
        item_free(it);
        buf_free(&js);
        buf_free(&b);
        buf_free(&want);
    }
}

static void test_number_canonical(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        buf_reset(&b);
        int rc = num_canonical(numbers[i].in, strlen(numbers[i].in), &b);
        if (rc) print_error("%s: %s\n", numbers[i].in, err_msg());
        assert_int_equal(rc, 0);
        assert_string_equal(b.data, numbers[i].out);
        /* canonical text is a fixed point */
        buf c = BUF_INIT;
        assert_int_equal(num_canonical(b.data, b.len, &c), 0);
        assert_string_equal(c.data, b.data);
        buf_free(&c);
    }
    for (size_t i = 0; i < sizeof bad_numbers / sizeof bad_numbers[0]; i++) {
        buf_reset(&b);
        int rc = num_canonical(bad_numbers[i].in, strlen(bad_numbers[i].in), &b);
        assert_int_equal(rc, TM_EINVAL);
        if (!strstr(err_msg(), bad_numbers[i].why))
            fail_msg("%s: message '%s' lacks '%s'", bad_numbers[i].in, err_msg(), bad_numbers[i].why);
    }
    buf_free(&b);
}

/* Sorted ascending by value. */
static const char *const sorted_numbers[] = {
    "-99999999999999999999999999999999999999000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000",
    "-1E100", "-12345678901234567890123456789012345678", "-1000", "-999.99", "-10", "-9.5", "-9",
    "-1.0000000000000000000000000000000000001", "-1", "-0.5", "-0.05", "-1E-129", "-1E-130", "0",
    "1E-130", "2E-130", "1E-129", "0.05", "0.0500000000000000000000000000000000001", "0.5", "1",
    "1.0000000000000000000000000000000000001", "1.5", "2", "9", "10", "10.01", "99", "100", "101",
    "12345678901234567890123456789012345678", "1E100",
    "9.9999999999999999999999999999999999999E+125",
};

static void test_number_compare(void **state)
{
    (void)state;
    size_t n = sizeof sorted_numbers / sizeof sorted_numbers[0];
    buf *c = calloc(n, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        c[i].max = BUF_DEFAULT_MAX;
        assert_int_equal(num_canonical(sorted_numbers[i], strlen(sorted_numbers[i]), &c[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int want = i < j ? -1 : i > j ? 1 : 0;
            int got = num_compare(c[i].data, c[i].len, c[j].data, c[j].len);
            if ((got > 0) - (got < 0) != want)
                fail_msg("num_compare(%s, %s) = %d, want %d", c[i].data, c[j].data, got, want);
        }
    for (size_t i = 0; i < n; i++) buf_free(&c[i]);
    free(c);
}

/* ------------------------------------------------------------------------------------- */

static const struct { const char *json; int code; const char *msg; } rejections[] = {
    /* invalid JSON */
    {"", TM_EINVAL, "invalid JSON: unexpected end of input"},
    {"{'a':{'S':'x'}", TM_EINVAL, "unexpected end of input, expected ',' or '}'"},
    {"{'a':{'S':'x'}}}", TM_EINVAL, "invalid JSON at offset 15: trailing characters"},
    {"{'a' {'S':'x'}}", TM_EINVAL, "invalid JSON at offset 5: expected ':'"},
    {"{a:{'S':'x'}}", TM_EINVAL, "expected an attribute name"},
    {"{'a':{'S':'x'},}", TM_EINVAL, "expected an attribute name"},
    {"{'a':{'S':'x\\q'}}", TM_EINVAL, "attribute 'a': invalid JSON at offset 12: invalid escape"},
    {"{'a':{'S':'x\ny'}}", TM_EINVAL, "attribute 'a': invalid JSON at offset 12: control character"},
    {"{'a':{'S':'\\ud800'}}", TM_EINVAL, "attribute 'a': invalid JSON at offset 11: unpaired surrogate"},
    {"{'a':{'S':'\\udc00x'}}", TM_EINVAL, "unpaired surrogate"},
    {"{'a':{'S':'\\u12'}}", TM_EINVAL, "invalid \\u escape"},
    {"[]", TM_EINVAL, "expected '{'"},
    {"{'a':{'L':[{'S':'x'} {'S':'y'}]}}", TM_EINVAL, "attribute 'a': invalid JSON at offset 21: expected ',' or ']'"},
    /* invalid UTF-8 */
    {"{'a':{'S':'\xff'}}", TM_EINVAL, "attribute 'a': invalid UTF-8 at offset 11"},
    {"{'a':{'S':'\xc0\x80'}}", TM_EINVAL, "attribute 'a': invalid UTF-8"},        /* overlong */
    {"{'a':{'S':'\xed\xa0\x80'}}", TM_EINVAL, "attribute 'a': invalid UTF-8"},    /* surrogate */
    {"{'a':{'S':'\xf4\x90\x80\x80'}}", TM_EINVAL, "attribute 'a': invalid UTF-8"},/* > U+10FFFF */
    {"{'a':{'S':'\xe2\x82'}}", TM_EINVAL, "attribute 'a': invalid UTF-8"},        /* truncated */
    {"{'m':{'M':{'x\xff':{'S':'1'}}}}", TM_EINVAL, "attribute 'm': invalid UTF-8 at offset 13"},
    /* types */
    {"{'a':{'X':'1'}}", TM_EINVAL, "attribute 'a': unknown type \"X\""},
    {"{'a':{}}", TM_EINVAL, "attribute 'a': value has no type"},
    {"{'a':{'S':'x','N':'1'}}", TM_EINVAL, "attribute 'a': value has more than one type member"},
    {"{'a':{'S':1}}", TM_EINVAL, "attribute 'a': S value must be a JSON string"},
    {"{'a':{'N':1}}", TM_EINVAL, "attribute 'a': N value must be a JSON string"},
    {"{'a':{'BOOL':'true'}}", TM_EINVAL, "attribute 'a': BOOL value must be true or false"},
    {"{'a':{'NULL':false}}", TM_EINVAL, "attribute 'a': NULL value must be true"},
    {"{'a':{'L':{}}}", TM_EINVAL, "attribute 'a': L value must be a JSON array"},
    {"{'a':{'M':[]}}", TM_EINVAL, "attribute 'a': M value must be a JSON object"},
    {"{'a':{'SS':'x'}}", TM_EINVAL, "attribute 'a': SS value must be a JSON array of strings"},
    {"{'a':{'NS':[1]}}", TM_EINVAL, "attribute 'a': number set elements must be JSON strings"},
    {"{'a':'x'}", TM_EINVAL, "attribute 'a': expected a typed value"},
    {"{'a':{'L':[{'S':'x'},{'N':'y'}]}}", TM_EINVAL, "attribute 'a[1]': invalid number \"y\""},
    /* numbers */
    {"{'n':{'N':'123456789012345678901234567890123456789'}}", TM_EINVAL,
     "attribute 'n': invalid number \"123456789012345678901234567890123456789\": more than 38 significant digits"},
    {"{'n':{'N':'1E126'}}", TM_EINVAL, "attribute 'n': invalid number \"1E126\": magnitude larger"},
    {"{'n':{'N':'1E-131'}}", TM_EINVAL, "attribute 'n': invalid number \"1E-131\": magnitude smaller"},
    {"{'m':{'M':{'ns':{'NS':['1','x']}}}}", TM_EINVAL, "attribute 'm.ns': invalid number \"x\""},
    /* base64 */
    {"{'b':{'B':'AQI'}}", TM_EINVAL, "attribute 'b': invalid base64"},
    {"{'b':{'B':'AQ=I'}}", TM_EINVAL, "attribute 'b': invalid base64"},
    {"{'b':{'B':'A===' }}", TM_EINVAL, "attribute 'b': invalid base64"},
    {"{'b':{'B':'AQ==AQ=='}}", TM_EINVAL, "attribute 'b': invalid base64"},
    {"{'b':{'B':'AQ-_'}}", TM_EINVAL, "attribute 'b': invalid base64"},
    {"{'b':{'B':'AQ I'}}", TM_EINVAL, "attribute 'b': invalid base64"},
    {"{'b':{'BS':['AQ==','!!!!']}}", TM_EINVAL, "attribute 'b': invalid base64"},
    /* sets */
    {"{'meta':{'M':{'tags':{'SS':['x','y','x']}}}}", TM_EINVAL,
     "attribute 'meta.tags': duplicate value \"x\" in string set"},
    {"{'n':{'NS':['1','1.0']}}", TM_EINVAL, "attribute 'n': duplicate value \"1\" in number set"},
    {"{'n':{'NS':['100','1E2']}}", TM_EINVAL, "attribute 'n': duplicate value \"100\" in number set"},
    {"{'b':{'BS':['AQI=','AQI=']}}", TM_EINVAL, "attribute 'b': duplicate value \"AQI=\" in binary set"},
    {"{'s':{'SS':[]}}", TM_EINVAL, "attribute 's': empty string set"},
    {"{'n':{'NS':[ ]}}", TM_EINVAL, "attribute 'n': empty number set"},
    {"{'b':{'BS':[]}}", TM_EINVAL, "attribute 'b': empty binary set"},
    {"{'l':{'L':[{'M':{'s':{'SS':[]}}}]}}", TM_EINVAL, "attribute 'l[0].s': empty string set"},
    /* names */
    {"{'':{'S':'x'}}", TM_EINVAL, "empty attribute name"},
    {"{'a':{'S':'x'},'a':{'S':'y'}}", TM_EINVAL, "attribute 'a': duplicate attribute name"},
    {"{'m':{'M':{'k':{'S':'x'},'k':{'N':'1'}}}}", TM_EINVAL, "attribute 'm.k': duplicate attribute name"},
};

static void test_rejections_name_the_attribute(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejections / sizeof rejections[0]; i++) {
        item *it = (item *)1;
        int rc = parse_q(rejections[i].json, ITEM_PARSE_WRAPPED, &it);
        assert_null(it);
        if (rc != rejections[i].code || !strstr(err_msg(), rejections[i].msg))
            fail_msg("case %zu %s: got %s '%s', want %s containing '%s'", i, rejections[i].json,
                     err_name(rc), err_msg(), err_name(rejections[i].code), rejections[i].msg);
    }
}

/* ------------------------------------------------------------------------------------- */

/* {"a": <wraps x {"M":{"n": ...}} around {"S":"leaf"}>} or the same with L. */
static char *deep_item(int wraps, int list)
{
    buf b = BUF_INIT;
    buf_puts(&b, "{\"a\":");
    for (int i = 0; i < wraps; i++) buf_puts(&b, list ? "{\"L\":[" : "{\"M\":{\"n\":");
    buf_puts(&b, "{\"S\":\"leaf\"}");
    for (int i = 0; i < wraps; i++) buf_puts(&b, list ? "]}" : "}}");
    buf_puts(&b, "}");
    return buf_detach(&b);
}

static void test_depth_limit(void **state)
{
    (void)state;
    for (int list = 0; list < 2; list++) {
        /* the attribute is level 1: 31 wraps put the leaf at level 32 (accepted), 32 at 33 */
        char *ok = deep_item(31, list), *bad = deep_item(32, list);
        item *it = must_parse(ok, strlen(ok), 0);
        check_round_trip(it, ok);
        item_free(it);
        it = NULL;
        assert_int_equal(item_parse_json(bad, strlen(bad), 0, &it), TM_ELIMIT);
        assert_null(it);
        assert_non_null(strstr(err_msg(), "nesting deeper than 32 levels"));
        assert_non_null(strstr(err_msg(), list ? "attribute 'a[0][0]" : "attribute 'a.n.n"));
        free(ok);
        free(bad);
    }
    /* an empty map at level 32 is fine: it holds nothing at level 33 */
    buf b = BUF_INIT;
    buf_puts(&b, "{\"a\":");
    for (int i = 0; i < 31; i++) buf_puts(&b, "{\"M\":{\"n\":");
    buf_puts(&b, "{\"M\":{}}");
    for (int i = 0; i < 31; i++) buf_puts(&b, "}}");
    buf_puts(&b, "}");
    item *it = must_parse(b.data, b.len, 0);
    check_round_trip(it, b.data);
    item_free(it);
    buf_free(&b);
}

/* {"pk":{"S":"k"},"d":{"S":"xxx..."}} whose size is exactly total. */
static char *sized_item(size_t total, size_t *len)
{
    size_t fill = total - (2 + 1) - 1;
    buf b = BUF_INIT;
    buf_puts(&b, "{\"pk\":{\"S\":\"k\"},\"d\":{\"S\":\"");
    buf_reserve(&b, fill + 8);
    memset(b.data + b.len, 'x', fill);
    b.len += fill;
    buf_puts(&b, "\"}}");
    *len = b.len;
    return buf_detach(&b);
}

static void test_item_size_limit(void **state)
{
    (void)state;
    size_t n;
    char *ok = sized_item(ITEM_MAX_BYTES, &n);
    item *it = must_parse(ok, n, 0);
    assert_int_equal(item_size(it), 409600);
    assert_int_equal(item_check_size(it), 0);
    item_free(it);
    free(ok);

    char *big = sized_item(ITEM_MAX_BYTES + 1, &n);
    it = NULL;
    assert_int_equal(item_parse_json(big, n, 0, &it), TM_ELIMIT);
    assert_null(it);
    assert_non_null(strstr(err_msg(), "item size 409601 bytes exceeds the limit of 409600 bytes"));
    assert_non_null(strstr(err_msg(), "largest: attribute 'd'"));
    /* expression value maps skip the check; item_check_size still applies it */
    it = must_parse(big, n, ITEM_PARSE_NOLIMITS);
    assert_int_equal(item_check_size(it), TM_ELIMIT);
    item_free(it);
    free(big);
}

static const struct { const char *json; size_t size; } sizes[] = {
    /* the Developer Guide example: 5 + 5 + 5 + 7 */
    {"{'id':{'S':'abc'},'n':{'N':'12345'},'flag':{'BOOL':true},'l':{'L':[{'S':'xy'}]}}", 22},
    {"{'n':{'N':'0'}}", 1 + 1},
    {"{'n':{'N':'-1'}}", 1 + 2},
    {"{'n':{'N':'1000'}}", 1 + 2},                       /* 1 significant digit */
    {"{'n':{'N':'1.23'}}", 1 + 3},                       /* 3 digits: 2 + 1 */
    {"{'n':{'N':'12345678901234567890123456789012345678'}}", 1 + 20},
    {"{'b':{'B':'AAECAw=='}}", 1 + 4},
    {"{'s':{'S':'\xc2\xbf'}}", 1 + 2},
    {"{'z':{'NULL':true}}", 2},
    {"{'m':{'M':{'ab':{'S':'xyz'},'c':{'N':'1'}}}}", 1 + 3 + (2 + 3 + 1) + (1 + 2 + 1)},
    {"{'e':{'M':{}},'f':{'L':[]}}", 1 + 3 + 1 + 3},
    {"{'ss':{'SS':['a','bc']},'ns':{'NS':['1','22']},'bs':{'BS':['AA==']}}", 2 + 3 + 2 + 4 + 2 + 1},
};

static void test_item_size_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        item *it = NULL;
        assert_int_equal(parse_q(sizes[i].json, 0, &it), 0);
        if (item_size(it) != sizes[i].size)
            fail_msg("%s: size %zu, want %zu", sizes[i].json, item_size(it), sizes[i].size);
        item_free(it);
    }
}

static void test_name_length_limit(void **state)
{
    (void)state;
    for (int over = 0; over < 2; over++) {
        size_t nl = ITEM_MAX_NAME + (size_t)over;
        buf b = BUF_INIT;
        buf_puts(&b, "{\"");
        buf_reserve(&b, nl);
        memset(b.data + b.len, 'n', nl);
        b.len += nl;
        buf_puts(&b, "\":{\"S\":\"x\"}}");
        item *it = NULL;
        int rc = item_parse_json(b.data, b.len, 0, &it);
        if (!over) {
            assert_int_equal(rc, 0);
            assert_int_equal(item_attr(it, 0)->name_len, ITEM_MAX_NAME);
            check_round_trip(it, b.data);
        } else {
            assert_int_equal(rc, TM_ELIMIT);
            assert_non_null(strstr(err_msg(), "attribute name longer than 65535 bytes"));
        }
        item_free(it);
        buf_free(&b);
    }
}

/* ------------------------------------------------------------------------------------- */

static void test_wrapped(void **state)
{
    (void)state;
    static const struct { const char *json; const char *want; } cases[] = {
        {"{'Item':{'pk':{'S':'x'}}}", "{'pk':{'S':'x'}}"},                 /* the export line */
        {" {'Item' : {'pk':{'S':'x'}} } ", "{'pk':{'S':'x'}}"},
        {"{'Item':{}}", "{}"},
        {"{'Item':{'S':'x'}}", "{'Item':{'S':'x'}}"},                     /* an attribute Item */
        {"{'Item':{'S':{'S':'x'}}}", "{'S':{'S':'x'}}"},                  /* wrapper of attr S */
        {"{'Item':{'M':{'M':{}}}}", "{'M':{'M':{}}}"},                    /* wrapper */
        {"{'Item':{'M':{'M':{'M':{}}}}}", "{'Item':{'M':{'M':{'M':{}}}}}"}, /* a map attribute */
        {"{'Item':{'S':'x'},'b':{'N':'1'}}", "{'Item':{'S':'x'},'b':{'N':'1'}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        item *it = NULL;
        int rc = parse_q(cases[i].json, ITEM_PARSE_WRAPPED, &it);
        if (rc) print_error("%s: %s\n", cases[i].json, err_msg());
        assert_int_equal(rc, 0);
        buf js = BUF_INIT;
        assert_int_equal(item_write_json(it, &js), 0);
        char *want = q2d(cases[i].want);
        assert_string_equal(js.data, want);
        free(want);
        buf_free(&js);
        item_free(it);
    }
    /* without the flag the wrapper is just an attribute named Item... that is not a typed value */
    item *it = NULL;
    assert_int_equal(parse_q("{'Item':{'pk':{'S':'x'}}}", 0, &it), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "attribute 'Item': unknown type \"pk\""));
    /* a broken wrapped item reports the inner attribute */
    assert_int_equal(parse_q("{'Item':{'pk':{'S':5}}}", ITEM_PARSE_WRAPPED, &it), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "attribute 'pk': S value must be a JSON string"));
}

/* ------------------------------------------------------------------------------------- */

static void test_av_compare_order(void **state)
{
    (void)state;
    /* DynamoDB orders S by UTF-8 bytes: "Z" (5A) < "a" (61) < "¿" (C2 BF) */
    const char *s[] = {"", "Z", "a", "a\x01", "ab", "b", "\xc2\xbf"};
    for (size_t i = 0; i < 7; i++)
        for (size_t j = 0; j < 7; j++) {
            av a = {AV_S, (uint32_t)strlen(s[i]), {.bytes = s[i]}};
            av b = {AV_S, (uint32_t)strlen(s[j]), {.bytes = s[j]}};
            int c = av_compare(&a, &b);
            assert_int_equal((c > 0) - (c < 0), i < j ? -1 : i > j ? 1 : 0);
        }
    /* B unsigned: 0x7f < 0x80 */
    av b1 = {AV_B, 1, {.bytes = "\x7f"}}, b2 = {AV_B, 1, {.bytes = "\x80"}};
    assert_true(av_compare(&b1, &b2) < 0);
    av n1 = {AV_N, 2, {.bytes = "-5"}}, n2 = {AV_N, 1, {.bytes = "3"}};
    assert_true(av_compare(&n1, &n2) < 0);
    assert_true(av_compare(&n2, &n1) > 0);
}

/* ------------------------------------------------------------------------------------- */

static void test_put_get_remove_dup(void **state)
{
    (void)state;
    item *it = item_new();
    assert_non_null(it);
    av s = {AV_S, 3, {.bytes = "abc"}};
    assert_int_equal(item_put(it, "b", &s), 0);
    av n = {AV_N, 6, {.bytes = "001.50"}};
    assert_int_equal(item_put(it, "a", &n), 0);
    /* a hand-built map out of order and a set with duplicates get canonicalised */
    av members[] = {{AV_N, 3, {.bytes = "1.0"}}, {AV_N, 1, {.bytes = "1"}}, {AV_N, 2, {.bytes = "-2"}}};
    av_attr attrs[] = {{"z", 1, {AV_NS, 3, {.elems = members}}}, {"y", 1, {AV_NULL, 0, {.bytes = NULL}}}};
    av m = {AV_M, 2, {.attrs = attrs}};
    assert_int_equal(item_put(it, "c", &m), 0);
    for (int i = 0; i < 40; i++) {      /* grow past the first capacity */
        char name[16];
        snprintf(name, sizeof name, "k%02d", i);
        av v = {AV_BOOL, 0, {.boolean = i & 1}};
        assert_int_equal(item_put(it, name, &v), 0);
    }
    assert_int_equal(item_count(it), 43);
    const av *g = item_get(it, "a");
    assert_non_null(g);
    assert_string_equal(g->u.bytes, "1.5");
    assert_null(item_get(it, "zz"));
    buf js = BUF_INIT;
    assert_int_equal(item_write_json(it, &js), 0);
    assert_non_null(strstr(js.data, "{\"a\":{\"N\":\"1.5\"},\"b\":{\"S\":\"abc\"},\"c\":{\"M\":{\"y\":"
                                    "{\"NULL\":true},\"z\":{\"NS\":[\"-2\",\"1\"]}}},\"k00\":"));
    check_round_trip(it, NULL);
    /* replace */
    av s2 = {AV_S, 1, {.bytes = "q"}};
    assert_int_equal(item_put(it, "b", &s2), 0);
    assert_string_equal(item_get(it, "b")->u.bytes, "q");
    assert_int_equal(item_count(it), 43);
    /* remove; absent is not an error */
    assert_int_equal(item_remove(it, "a"), 0);
    assert_int_equal(item_remove(it, "a"), 0);
    assert_null(item_get(it, "a"));
    assert_int_equal(item_count(it), 42);
    assert_string_equal(item_attr(it, 0)->name, "b");
    item *d = item_dup(it);
    check_round_trip(d, NULL);
    buf e1 = BUF_INIT, e2 = BUF_INIT;
    item_encode(it, &e1);
    item_encode(d, &e2);
    assert_int_equal(e1.len, e2.len);
    assert_memory_equal(e1.data, e2.data, e1.len);
    /* rejections name the attribute */
    av bad = {AV_N, 6, {.bytes = "1e9999"}};
    assert_int_equal(item_put(it, "x", &bad), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "attribute 'x': invalid number"));
    av empty = {AV_SS, 0, {.elems = NULL}};
    assert_int_equal(item_put(it, "e", &empty), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "attribute 'e': empty string set"));
    av_attr dupa[] = {{"k", 1, {AV_NULL, 0, {.bytes = NULL}}}, {"k", 1, {AV_NULL, 0, {.bytes = NULL}}}};
    av dm = {AV_M, 2, {.attrs = dupa}};
    assert_int_equal(item_put(it, "m", &dm), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "attribute 'm.k': duplicate attribute name"));
    assert_int_equal(item_put(it, "", &s), TM_EINVAL);
    assert_null(item_get(it, "x"));
    item_free(d);
    item_free(it);
    item_free(NULL);
    buf_free(&js);
    buf_free(&e1);
    buf_free(&e2);
}

static void test_put_depth(void **state)
{
    (void)state;
    /* level 1 = the attribute; 31 maps around a leaf is the deepest allowed */
    av leaf = {AV_S, 1, {.bytes = "x"}};
    av vals[33];
    av_attr attrs[33];
    av cur = leaf;
    for (int i = 0; i < 32; i++) {
        attrs[i] = (av_attr){"n", 1, cur};
        vals[i] = (av){AV_M, 1, {.attrs = &attrs[i]}};
        cur = vals[i];
        item *it = item_new();
        int rc = item_put(it, "a", &cur);
        assert_int_equal(rc, i + 1 <= 31 ? 0 : TM_ELIMIT);
        if (rc) assert_non_null(strstr(err_msg(), "nesting deeper than 32 levels"));
        item_free(it);
    }
}

/* ------------------------------------------------------------------------------------- */

static item *parse_or_die(const char *q)
{
    item *it = NULL;
    int rc = parse_q(q, 0, &it);
    if (rc) print_error("%s\n", err_msg());
    assert_int_equal(rc, 0);
    return it;
}

static void test_bin_find_and_keys(void **state)
{
    (void)state;
    item *it = parse_or_die("{'user_id':{'S':'u1'},'sk':{'N':'5'},'meta':{'M':{'a':{'L':[{'S':'x'}]}}},"
                            "'text':{'S':'hi'}}");
    buf bin = BUF_INIT, js = BUF_INIT;
    assert_int_equal(item_encode(it, &bin), 0);
    const void *vp;
    size_t vn;
    assert_int_equal(item_bin_find(bin.data, bin.len, "text", 4, &vp, &vn), 0);
    assert_non_null(vp);
    av v;
    assert_int_equal(av_decode_bin(vp, vn, it, &v), 0);
    assert_true(av_equal(&v, item_get(it, "text")));
    assert_int_equal(item_bin_find(bin.data, bin.len, "meta", 4, &vp, &vn), 0);
    assert_int_equal(av_decode_bin(vp, vn, it, &v), 0);
    assert_true(av_equal(&v, item_get(it, "meta")));
    assert_int_equal(item_bin_find(bin.data, bin.len, "nope", 4, &vp, &vn), 0);
    assert_null(vp);
    assert_int_equal(vn, 0);
    assert_int_equal(item_bin_find(bin.data, bin.len, "zzz", 3, &vp, &vn), 0);
    assert_null(vp);
    const char *names[] = {"user_id", "sk"};
    assert_int_equal(item_bin_write_keys_json(bin.data, bin.len, names, 2, &js), 0);
    assert_string_equal(js.data, "{\"user_id\":{\"S\":\"u1\"},\"sk\":{\"N\":\"5\"}}");
    buf_reset(&js);
    assert_int_equal(item_bin_write_keys_json(bin.data, bin.len, names, 1, &js), 0);
    assert_string_equal(js.data, "{\"user_id\":{\"S\":\"u1\"}}");
    /* av JSON helpers */
    buf_reset(&js);
    assert_int_equal(av_write_json(item_get(it, "meta"), &js), 0);
    assert_string_equal(js.data, "{\"M\":{\"a\":{\"L\":[{\"S\":\"x\"}]}}}");
    av p;
    assert_int_equal(av_parse_json(js.data, js.len, "meta", it, &p), 0);
    assert_true(av_equal(&p, item_get(it, "meta")));
    assert_int_equal(av_parse_json("{\"N\":\"x\"}", 9, "v", it, &p), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "attribute 'v': invalid number \"x\""));
    buf_free(&bin);
    buf_free(&js);
    item_free(it);
}

/* Every truncation and every single-byte change of a valid encoding is either rejected or,
 * when accepted, re-encodes to the same bytes. Plus hand-made invalid encodings. */
static void test_decode_robust(void **state)
{
    (void)state;
    item *it = parse_or_die("{'a':{'S':'x\xc2\xbf'},'b':{'B':'AAE='},'c':{'SS':['a','b']},"
                            "'d':{'NS':['-1','2.5']},'e':{'BS':['AA==']},'f':{'M':{'g':{'N':'7'}}},"
                            "'h':{'L':[{'NULL':true},{'BOOL':true}]}}");
    buf bin = BUF_INIT;
    assert_int_equal(item_encode(it, &bin), 0);
    for (size_t n = 0; n < bin.len; n++) {
        item *d = (item *)1;
        assert_int_equal(item_decode(bin.data, n, &d), TM_ECORRUPT);
        assert_null(d);
        buf js = BUF_INIT;
        assert_int_equal(item_bin_write_json(bin.data, n, &js), TM_ECORRUPT);
        assert_int_equal(js.len, 0);
        buf_free(&js);
    }
    unsigned char *copy = malloc(bin.len);
    for (size_t i = 0; i < bin.len; i++)
        for (int delta = 1; delta < 256; delta += 17) {
            memcpy(copy, bin.data, bin.len);
            copy[i] = (unsigned char)(copy[i] + delta);
            item *d = NULL;
            if (item_decode(copy, bin.len, &d) == 0) {
                buf e = BUF_INIT;
                assert_int_equal(item_encode(d, &e), 0);
                assert_int_equal(e.len, bin.len);
                assert_memory_equal(e.data, copy, bin.len);
                buf_free(&e);
                item_free(d);
            }
            buf js = BUF_INIT;
            (void)item_bin_write_json(copy, bin.len, &js);
            buf_free(&js);
        }
    free(copy);
    static const struct { const char *bytes; size_t n; const char *why; } bad[] = {
        {"\x02\x00", 2, "version"},
        {"\x01\x80\x00", 3, "attribute count"},                       /* overlong varint */
        {"\x01\x01\x01" "a\x09" "x", 6, "trailing"},
        {"\x01\x02\x01" "b\x09\x01" "a\x09", 8, "not strictly increasing"},
        {"\x01\x02\x01" "a\x09\x01" "a\x09", 8, "not strictly increasing"},
        {"\x01\x01\x01" "a\x0a\x02", 6, "BOOL"},
        {"\x01\x01\x01" "a\x02\x02" "01", 8, "canonical"},
        {"\x01\x01\x01" "a\x04\x02\x01" "b\x01" "a", 10, "strictly increasing"},
        {"\x01\x01\x01" "a\x04\x00", 6, "set count"},
        {"\x01\x01\x01" "a\x01\x01\xff", 7, "UTF-8"},
        {"\x01\x01\x00\x09\x00\x00", 6, "name length"},
        {"\x01\x01\x01" "a\x0b", 5, "unknown type"},
        {"\x01\x01\x01" "a\x07\x02\x00\x00\x00\x00\x00", 11, "container size mismatch"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        item *d = NULL;
        assert_int_equal(item_decode(bad[i].bytes, bad[i].n, &d), TM_ECORRUPT);
        if (!strstr(err_msg(), bad[i].why)) fail_msg("case %zu: '%s' lacks '%s'", i, err_msg(), bad[i].why);
    }
    /* depth: a 33rd level in binary is rejected too */
    buf deep = BUF_INIT;
    char *j = deep_item(31, 1);
    item *ok = must_parse(j, strlen(j), 0);
    assert_int_equal(item_encode(ok, &deep), 0);
    item *d = NULL;
    assert_int_equal(item_decode(deep.data, deep.len, &d), 0);
    item_free(d);
    item_free(ok);
    free(j);
    buf_free(&deep);
    buf_free(&bin);
    item_free(it);
}

/* A chat item as the bulk loader sees it, to pin the export format end to end. */
static void test_chat_item(void **state)
{
    (void)state;
    const char *line = "{\"Item\":{\"user_id\":{\"S\":\"user#000123\"},\"sk\":{\"S\":\"thread#00042#1700000000037\"},"
                       "\"text\":{\"S\":\"the quick brown fox\"},\"tokens\":{\"N\":\"1234\"},"
                       "\"meta\":{\"M\":{\"model\":{\"S\":\"m1\"},\"temp\":{\"N\":\"0.7\"},\"ok\":{\"BOOL\":true}}}}}";
    item *it = must_parse(line, strlen(line), ITEM_PARSE_WRAPPED);
    check_round_trip(it, "{\"meta\":{\"M\":{\"model\":{\"S\":\"m1\"},\"ok\":{\"BOOL\":true},\"temp\":{\"N\":\"0.7\"}}},"
                         "\"sk\":{\"S\":\"thread#00042#1700000000037\"},\"text\":{\"S\":\"the quick brown fox\"},"
                         "\"tokens\":{\"N\":\"1234\"},\"user_id\":{\"S\":\"user#000123\"}}");
    item_free(it);
}

/* The JSON writer scans eight bytes at a time: every escape class at every position of a string
 * (inside and past the last full word) must still be escaped and read back as it was. */
static void test_escape_every_position(void **state)
{
    (void)state;
    const unsigned char specials[] = {'"', '\\', '\n', 0x01, 0x1f, '\t', 0x7f, 0xc3};
    for (size_t len = 1; len <= 19; len++)
        for (size_t pos = 0; pos < len; pos++)
            for (size_t c = 0; c < sizeof specials; c++) {
                char raw[32];
                memset(raw, 'a', len);
                raw[pos] = (char)specials[c];
                if (specials[c] == 0xc3) {   /* a 2-byte UTF-8 sequence, kept as is */
                    if (pos + 1 >= len) continue;
                    raw[pos + 1] = (char)0xa9;
                }
                item *it = item_new(), *back = NULL;
                av v = {.type = AV_S, .len = (uint32_t)len, .u.bytes = raw};
                assert_int_equal(item_put(it, "s", &v), 0);
                buf j = BUF_INIT, bin = BUF_INIT;
                assert_int_equal(item_encode(it, &bin), 0);
                assert_int_equal(item_bin_write_json(bin.data, bin.len, &j), 0);
                for (size_t i = 0; i < j.len; i++) assert_true((unsigned char)j.data[i] >= 0x20);
                assert_int_equal(item_parse_json(j.data, j.len, 0, &back), 0);
                const av *got = item_get(back, "s");
                assert_non_null(got);
                assert_int_equal(got->len, len);
                assert_memory_equal(got->u.bytes, raw, len);
                item_free(it);
                item_free(back);
                buf_free(&j);
                buf_free(&bin);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_number_canonical),
        cmocka_unit_test(test_number_range_edges),
        cmocka_unit_test(test_number_compare),
        cmocka_unit_test(test_rejections_name_the_attribute),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_item_size_limit),
        cmocka_unit_test(test_item_size_rules),
        cmocka_unit_test(test_name_length_limit),
        cmocka_unit_test(test_wrapped),
        cmocka_unit_test(test_av_compare_order),
        cmocka_unit_test(test_put_get_remove_dup),
        cmocka_unit_test(test_put_depth),
        cmocka_unit_test(test_bin_find_and_keys),
        cmocka_unit_test(test_decode_robust),
        cmocka_unit_test(test_chat_item),
        cmocka_unit_test(test_escape_every_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
