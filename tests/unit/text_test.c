/* text_test.c: unit tests of engine/text (JSON quoting, base64, UTF-8, human sizes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/err.h"
#include "engine/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON strings ---------------------------------------------------------------------- */

static void test_json_str(void **state)
{
    (void)state;
    static const struct { const char *in; size_t n; unsigned flags; const char *out; } cases[] = {
        {"", 0, 0, "\"\""},
        {"plain text longer than eight", 28, 0, "\"plain text longer than eight\""},
        {"a\"b\\c", 5, 0, "\"a\\\"b\\\\c\""},
        {"\b\f\n\r\t", 5, 0, "\"\\b\\f\\n\\r\\t\""},
        {"\x01\x1f", 2, 0, "\"\\u0001\\u001f\""},
        {"nul\0in", 6, 0, "\"nul\\u0000in\""},
        {"0123456789abcdef\"", 17, 0, "\"0123456789abcdef\\\"\""},   /* escape after a word */
        {"h\xc3\xa9\x7f", 4, 0, "\"h\xc3\xa9\x7f\""},                  /* trusted: as is */
        {"\xff", 1, 0, "\"\xff\""},
        {"h\xc3\xa9", 3, TEXT_JSON_SAFE, "\"h\xc3\xa9\""},
        {"\xf0\x9f\x98\x80", 4, TEXT_JSON_SAFE, "\"\xf0\x9f\x98\x80\""},
        {"a\xff" "b", 3, TEXT_JSON_SAFE, "\"a\\ufffdb\""},
        {"\xc3", 1, TEXT_JSON_SAFE, "\"\\ufffd\""},                   /* truncated */
        {"\xed\xa0\x80", 3, TEXT_JSON_SAFE, "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
        {"\x7f\n", 2, TEXT_JSON_SAFE, "\"\\u007f\\n\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b = BUF_INIT;
        assert_int_equal(buf_puts(&b, "x"), 0);
        assert_int_equal(text_json_str(&b, cases[i].in, cases[i].n, cases[i].flags), 0);
        if (strcmp(b.data + 1, cases[i].out) != 0)
            fail_msg("case %zu: got [%s], want [%s]", i, b.data + 1, cases[i].out);
        assert_int_equal(b.len, 1 + strlen(cases[i].out));
        buf_free(&b);
    }
}

static void test_json_cstr(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_int_equal(text_json_cstr(&b, NULL), 0);
    assert_int_equal(text_json_cstr(&b, "k\"\x80"), 0);
    assert_string_equal(b.data, "null\"k\\\"\\ufffd\"");
    buf_free(&b);
}

/* Many escapes grow the output far past the first reservation; a ceiling stops it cleanly. */
static void test_json_str_growth_and_limit(void **state)
{
    (void)state;
    char in[1000];
    memset(in, '\x01', sizeof in);
    buf b = BUF_INIT;
    assert_int_equal(text_json_str(&b, in, sizeof in, 0), 0);
    assert_int_equal(b.len, 2 + 6 * sizeof in);
    assert_int_equal(b.data[b.len - 1], '"');
    buf_free(&b);

    buf small = BUF_INIT_MAX(100);
    assert_int_equal(buf_puts(&small, "keep"), 0);
    assert_int_equal(text_json_str(&small, in, 50, 0), TM_ELIMIT);
    assert_string_equal(small.data, "keep");   /* nothing half-written */
    buf_free(&small);
}

/* ---- base64 ---------------------------------------------------------------------------- */

static void test_b64(void **state)
{
    (void)state;
    static const struct { const char *raw; size_t n; const char *b64; } cases[] = {
        {"", 0, ""}, {"f", 1, "Zg=="}, {"fo", 2, "Zm8="}, {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg=="}, {"fooba", 5, "Zm9vYmE="}, {"foobar", 6, "Zm9vYmFy"},
        {"\x00\xff\xfe", 3, "AP/+"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char o[16];
        assert_int_equal(text_b64(cases[i].raw, cases[i].n, o), strlen(cases[i].b64));
        assert_string_equal(o, cases[i].b64);
        buf e = BUF_INIT, d = BUF_INIT;
        assert_int_equal(text_b64_encode(cases[i].raw, cases[i].n, &e), 0);
        assert_string_equal(e.data, cases[i].b64);
        assert_int_equal(text_b64_decode(cases[i].b64, strlen(cases[i].b64), &d), 0);
        assert_int_equal(d.len, cases[i].n);
        if (cases[i].n) assert_memory_equal(d.data, cases[i].raw, cases[i].n);
        buf_free(&e);
        buf_free(&d);
    }
    static const char *const bad[] = {"Zg", "Zg=", "Z===", "====", "Zg==Zg==", "Zm9v\n", "Zm-v",
                                      "Zm9v====", "Zg=a", "=Zg="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf d = BUF_INIT;
        if (text_b64_decode(bad[i], strlen(bad[i]), &d) != TM_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
        assert_non_null(strstr(err_msg(), "invalid base64"));
        buf_free(&d);
    }
}

static void test_b64_decode16(void **state)
{
    (void)state;
    unsigned char d[16];
    char e[25];
    assert_int_equal(text_b64_decode16("OXDoJgXH0Qm7NI/JTp7swA==", 24, d), 0);
    text_b64(d, 16, e);
    assert_string_equal(e, "OXDoJgXH0Qm7NI/JTp7swA==");
    assert_int_equal(text_b64_decode16("OXDoJgXH0Qm7NI/JTp7swA=", 23, d), -1);
    assert_int_equal(text_b64_decode16("OXDoJgXH0Qm7NI/JTp7swB==", 24, d), -1);  /* not canonical */
    assert_int_equal(text_b64_decode16("OXDoJgXH0Qm7NI/JTp7s!A==", 24, d), -1);
    assert_int_equal(text_b64_decode16("YWJjZGVmZ2hpamtsbW5vcHE=", 24, d), -1); /* 17 bytes */
}

/* ---- UTF-8 ----------------------------------------------------------------------------- */

static void test_utf8(void **state)
{
    (void)state;
    static const struct { const char *s; size_t n; int ok; } cases[] = {
        {"", 0, 1},
        {"plain ascii, long enough for words", 34, 1},
        {"h\xc3\xa9", 3, 1},
        {"\xe2\x82\xac", 3, 1},
        {"\xf0\x9f\x98\x80", 4, 1},
        {"\xf4\x8f\xbf\xbf", 4, 1},            /* U+10FFFF */
        {"\xc3", 1, 0},                        /* truncated */
        {"0123456789\xc3", 11, 0},             /* truncated after a word */
        {"\x80", 1, 0},                        /* stray continuation */
        {"\xc0\xaf", 2, 0},                    /* overlong */
        {"\xe0\x80\xaf", 3, 0},                /* overlong */
        {"\xed\xa0\x80", 3, 0},                /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0},            /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (text_utf8_valid(cases[i].s, cases[i].n) != cases[i].ok)
            fail_msg("case %zu: want %d", i, cases[i].ok);
    assert_int_equal(text_utf8_seq("a", 1), 1);
    assert_int_equal(text_utf8_seq("\xe2\x82\xac", 3), 3);
    assert_int_equal(text_utf8_seq("\xe2\x82\xac", 2), 0);
}

/* ---- sizes ----------------------------------------------------------------------------- */

static void test_human_bytes(void **state)
{
    (void)state;
    static const struct { double b; const char *s; } cases[] = {
        {0, "0 B"}, {512, "512 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
        {3.5 * 1024 * 1024, "3.5 MiB"}, {2.0 * 1024 * 1024 * 1024 * 1024 * 1024, "2048.0 TiB"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char o[32];
        text_human_bytes(cases[i].b, o, sizeof o);
        assert_string_equal(o, cases[i].s);
    }
}

static void test_parse_size(void **state)
{
    (void)state;
    static const struct { const char *s; uint64_t v; } ok[] = {
        {"0", 0}, {"4096", 4096}, {"8K", 8192}, {"8k", 8192}, {"8KB", 8192}, {"8KiB", 8192},
        {"8kib", 8192}, {"64M", 64ull << 20}, {"1gb", 1ull << 30}, {"2T", 2ull << 40},
        {"512B", 512}, {"18446744073709551615", UINT64_MAX},
        {"16777215T", 16777215ull << 40},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 7;
        assert_int_equal(text_parse_size(ok[i].s, &v), 0);
        assert_true(v == ok[i].v);
    }
    static const char *const bad[] = {
        "", "K", "B", "-1", "+1", " 1", "1 ", "1.5G", "1X", "8iB", "8Ki B", "8KK", "8KBB", "0x10",
        "1E", "16E0", "16777216T", "18446744073709551616", "99999999999999999999K",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 7;
        assert_int_equal(text_parse_size(bad[i], &v), TM_EINVAL);
        assert_true(v == 7); /* untouched */
        assert_non_null(strstr(err_msg(), "bad size '"));
    }
    text_parse_size("1X", &(uint64_t){0});
    assert_string_equal(err_msg(), "bad size '1X': a number of bytes with an optional K, M, G or T"
                                   " suffix (1K = 1024)");
    text_parse_size("16777216T", &(uint64_t){0});
    assert_string_equal(err_msg(), "bad size '16777216T': too large");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_json_cstr),
        cmocka_unit_test(test_json_str_growth_and_limit),
        cmocka_unit_test(test_b64),
        cmocka_unit_test(test_b64_decode16),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_human_bytes),
        cmocka_unit_test(test_parse_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
