/* layout_test.c: unit tests of export/layout (the AWS export layout's one reader): the path
 * rule, summaries, record lines, and the record reader on the real AWS samples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/err.h"
#include "export/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void test_path_rule(void **state)
{
    (void)state;
    static const struct { const char *key, *root, *id; int where; const char *rel; } cases[] = {
        {"p/AWSDynamoDB/01-ab/data/x.json.gz", "p/", "01-ab", LAYOUT_IN_EXPORT, "data/x.json.gz"},
        {"AWSDynamoDB/01-ab/data/x.json.gz", "", "01-ab", LAYOUT_IN_EXPORT, "data/x.json.gz"},
        {"p/AWSDynamoDB/data/x.json.gz", "p/", "01-ab", LAYOUT_IN_SHARED, "x.json.gz"},
        {"q/AWSDynamoDB/01-ab/data/x.json.gz", NULL, "01-ab", LAYOUT_IN_EXPORT, "data/x.json.gz"},
        /* refused: another prefix, another export, '..', no AWSDynamoDB/ */
        {"q/AWSDynamoDB/01-ab/data/x.json.gz", "p/", "01-ab", 0, NULL},
        {"p/AWSDynamoDB/02-cd/data/x.json.gz", "p/", "01-ab", 0, NULL},
        {"p/AWSDynamoDB/01-ab/../../x", "p/", "01-ab", 0, NULL},
        {"p/AWSDynamoDB/01-ab/data//x", "p/", "01-ab", 0, NULL},
        {"elsewhere/x.json.gz", NULL, "01-ab", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        layout_file f;
        memset(&f, 0, sizeof f);
        snprintf(f.key, sizeof f.key, "%s", cases[i].key);
        int rc = layout_file_resolve(&f, cases[i].root, cases[i].id);
        if (cases[i].where) {
            if (rc) fail_msg("case %zu refused: %s", i, err_msg());
            assert_int_equal(f.where, cases[i].where);
            assert_string_equal(f.rel, cases[i].rel);
        } else if (rc != TM_ECORRUPT) {
            fail_msg("case %zu (%s) accepted", i, cases[i].key);
        }
    }
}

static void test_summary(void **state)
{
    (void)state;
    static const char s[] =
        "{\"version\":\"2020-06-30\",\"exportArn\":\"arn:aws:dynamodb:r:1:table/T/export/01-ab\","
        "\"s3Prefix\":null,\"manifestFilesS3Key\":\"p/q/AWSDynamoDB/01-ab/manifest-files.json\","
        "\"itemCount\":3,\"outputFormat\":\"DYNAMODB_JSON\"}";
    layout_summary ls;
    assert_int_equal(layout_summary_parse(s, strlen(s), &ls), 0);
    assert_string_equal(ls.folder, "p/q/AWSDynamoDB/01-ab/");
    assert_string_equal(ls.root, "p/q/");
    assert_string_equal(ls.export_id, "01-ab");
    assert_true(ls.prefix_null);
    assert_int_equal(ls.item_count, 3);
    assert_false(ls.aws_order);   /* members missing */
    assert_true(ls.object);
    static const char bad[] = "{\"manifestFilesS3Key\":\"p/AWSDynamoDB/01-ab/other.json\","
                              "\"itemCount\":7,\"tableId\":\"t-1\"}";
    assert_int_equal(layout_summary_parse(bad, strlen(bad), &ls), TM_ECORRUPT);
    /* No location, but an object: its members are read all the same (describe, verify). */
    assert_true(ls.object);
    assert_int_equal(ls.item_count, 7);
    assert_string_equal(ls.table_id, "t-1");
    assert_int_equal(layout_summary_parse("[1]", 3, &ls), TM_ECORRUPT);
    assert_false(ls.object);
    char n[64];
    layout_md5_name("manifest-files.json", n, sizeof n);
    assert_string_equal(n, "manifest-files.md5");
}

static void test_records(void **state)
{
    (void)state;
    layout_record r;
    char why[256];
    static const char full[] = "{\"Item\":{\"pk\":{\"S\":\"a\"}}}";
    assert_int_equal(layout_record_parse(0, full, strlen(full), &r, why, sizeof why), 0);
    assert_non_null(r.new_image);
    layout_record_clear(&r);
    static const char upd[] = "{\"Metadata\":{\"WriteTimestampMicros\":{\"N\":\"1768386096366933\"}},"
                              "\"Keys\":{\"pk\":{\"S\":\"a\"}},\"OldImage\":{\"pk\":{\"S\":\"a\"}},"
                              "\"NewImage\":{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"2\"}}}";
    assert_int_equal(layout_record_parse(1, upd, strlen(upd), &r, why, sizeof why), 0);
    assert_non_null(r.keys);
    assert_non_null(r.old_image);
    assert_non_null(r.new_image);
    assert_true(r.write_us == 1768386096366933LL);
    layout_record_clear(&r);
    static const char del[] = "{\"Metadata\":{\"WriteTimestampMicros\":{\"N\":\"5\"}},"
                              "\"Keys\":{\"pk\":{\"S\":\"a\"}},\"OldImage\":{\"pk\":{\"S\":\"a\"}}}";
    assert_int_equal(layout_record_parse(1, del, strlen(del), &r, why, sizeof why), 0);
    assert_null(r.new_image);
    layout_record_clear(&r);
    static const char order[] = "{\"Keys\":{\"pk\":{\"S\":\"a\"}},\"Metadata\":{}}";
    assert_int_equal(layout_record_parse(1, order, strlen(order), &r, why, sizeof why), TM_EINVAL);
    assert_non_null(strstr(why, "in that order"));
    assert_int_equal(layout_record_parse(0, upd, strlen(upd), &r, why, sizeof why), TM_EINVAL);
}

/* The reader on AWS's own export: every record, after every checksum; then a copy whose data
 * file is altered gives nothing at all. */
static void test_reader_aws_sample(void **state)
{
    (void)state;
    const char *root = getenv("TM_ROOT") ? getenv("TM_ROOT") : ".";
    char dir[1024], cmd[2600], tmp[] = "/tmp/layout_test.XXXXXX";
    snprintf(dir, sizeof dir, "%s/../shared/aws-samples/full-export-with-prefix-2020/demo_prefix/"
             "AWSDynamoDB/01605130432834-8a918b87", root);
    struct stat sb;
    if (stat(dir, &sb) != 0) skip();
    layout_reader *r = NULL;
    assert_int_equal(layout_reader_open(dir, NULL, &r), 0);
    layout_record rec;
    int n = 0, rc;
    while ((rc = layout_reader_next(r, &rec)) == 1) {
        assert_non_null(rec.new_image);
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    assert_string_equal(layout_reader_summary(r)->root, "demo_prefix/");
    layout_reader_close(r);

    assert_non_null(mkdtemp(tmp));
    /* one byte more at the end of the largest data file */
    snprintf(cmd, sizeof cmd, "cp -r '%s/../shared/aws-samples/full-export-with-prefix-2020/"
             "demo_prefix' '%s/' && printf x >> \"$(ls -S '%s'/demo_prefix/AWSDynamoDB/*/data/"
             "*.json.gz | head -1)\"", root, tmp, tmp);
    assert_int_equal(system(cmd), 0);
    snprintf(dir, sizeof dir, "%s/demo_prefix/AWSDynamoDB/01605130432834-8a918b87", tmp);
    assert_int_equal(layout_reader_open(dir, NULL, &r), TM_ECORRUPT);
    assert_null(r);
    assert_non_null(strstr(err_msg(), "does not match its md5Checksum"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    assert_int_equal(system(cmd), 0);
}

/* AWS's sample with its summary's account id anonymised (as bug reports and fixtures do): refused
 * naming manifest-summary.md5, read whole with ignore_summary_checksum; the option does not
 * excuse a changed manifest-files.json. */
static void test_reader_edited_summary(void **state)
{
    (void)state;
    const char *root = getenv("TM_ROOT") ? getenv("TM_ROOT") : ".";
    char src[1024], dir[1024], cmd[3000], tmp[] = "/tmp/layout_test.XXXXXX";
    snprintf(src, sizeof src, "%s/../shared/aws-samples/full-export-with-prefix-2020/demo_prefix",
             root);
    struct stat sb;
    if (stat(src, &sb) != 0) skip();
    assert_non_null(mkdtemp(tmp));
    snprintf(dir, sizeof dir, "%s/demo_prefix/AWSDynamoDB/01605130432834-8a918b87", tmp);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s/' && sed -i -E 's/:[0-9]{12}:/:123456789012:/g' "
             "'%s/manifest-summary.json' && grep -q 123456789012 '%s/manifest-summary.json'", src,
             tmp, dir, dir);
    assert_int_equal(system(cmd), 0);
    layout_reader *r = NULL;
    assert_int_equal(layout_reader_open(dir, NULL, &r), TM_ECORRUPT);
    assert_null(r);
    assert_non_null(strstr(err_msg(), "manifest-summary.md5"));
    assert_non_null(strstr(err_msg(), "--ignore-summary-checksum"));
    assert_null(strstr(err_msg(), "summary.json.md5"));
    layout_reader_options o = LAYOUT_READER_OPTIONS_INIT;
    o.ignore_summary_checksum = 1;
    assert_int_equal(layout_reader_open_with(dir, NULL, &o, &r), 0);
    layout_record rec;
    int n = 0, rc;
    while ((rc = layout_reader_next(r, &rec)) == 1) n++;
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    assert_non_null(strstr(layout_reader_summary(r)->export_arn, ":123456789012:"));
    layout_reader_close(r);
    /* manifest-files.json is still checked against its .md5 */
    snprintf(cmd, sizeof cmd, "sed -i 's/\"itemCount\":1,/\"itemCount\":2,/' '%s/manifest-files.json'",
             dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(layout_reader_open_with(dir, NULL, &o, &r), TM_ECORRUPT);
    assert_non_null(strstr(err_msg(), "manifest-files.md5"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_edited_summary),
        cmocka_unit_test(test_path_rule),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_reader_aws_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
