/* cli_report_test.c: errors for people (cli/report.c): the message's separators, the
 * exception's name where the error table says people act on it, the sub-command's name, and
 * the exit status taken from the api's error table (not a second mapping in cli/), also under
 * --quiet. Apart from cli_test because it links the api. stderr is captured into a temp file. */
#include "cli/cli.h"
#include "engine/err.h"
#include "include/tidemark.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

static void test_fail_separators(void **state)
{
    (void)state;
    tu_capture_begin();
    err_set(TM_EINVAL, "key attribute 'sk': missing");
    int code = cli_fail("tidemark", "get-item", TM_EINVAL);
    err_set(TM_ECONFLICT, "The conditional request failed");
    int code3 = cli_fail("tidemark", NULL, TM_ECONFLICT);
    const char *out = tu_capture_end();
    assert_int_equal(code, CLI_FAIL);
    assert_int_equal(code3, CLI_PARTIAL);
    assert_string_equal(out, "tidemark: get-item: key attribute 'sk': missing\n"
                             "tidemark: The conditional request failed\n");
}

/* Every engine code exits as its kind in the error table says: one source. */
static void test_exit_from_table(void **state)
{
    (void)state;
    static const int codes[] = {TM_EINVAL, TM_ENOTFOUND, TM_EEXIST, TM_ECORRUPT, TM_ECONDITION,
                                TM_ERANGE, TM_EMISSING, TM_EIO, TM_EBUSY, TM_ECONFLICT, TM_ENOMEM};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        tm_error e;
        err_set(codes[i], "detail");
        int kind = tm_error_from(&e, codes[i], NULL);
        tu_capture_begin();
        int code = cli_fail("p", "w", codes[i]);
        tu_capture_end();
        assert_int_equal(code, tm_err_exit(kind));
    }
    err_set(TM_ECONDITION, "The conditional request failed");
    tu_capture_begin();
    assert_int_equal(cli_fail("p", NULL, TM_ECONDITION), CLI_PARTIAL);   /* a conflict: 3 (was 1) */
    tu_capture_end();
    assert_int_equal(cli_fail("p", NULL, 0), CLI_OK);
}

static void test_report(void **state)
{
    (void)state;
    tm_error named, plain, bad;
    tm_error_set(&named, TM_ERR_CONDITIONAL_CHECK_FAILED, "The conditional request failed");
    tm_error_set(&plain, TM_ERR_RESOURCE_NOT_FOUND, "table Nope not found");
    tm_error_set(&bad, TM_ERR_BAD_PARAMETER, "bad table name 'a/b'");
    tu_capture_begin();
    int c1 = cli_report("tidemark-restore", "restore failed", &named);
    cli_set_command("describe-table");
    int c2 = cli_report("tidemark", NULL, &plain);
    int c3 = cli_report("tidemark", "", &bad);
    cli_set_command(NULL);
    const char *out = tu_capture_end();
    assert_int_equal(c1, 3);
    assert_int_equal(c2, 1);
    assert_int_equal(c3, 2);
    assert_string_equal(out, "tidemark-restore: restore failed: ConditionalCheckFailedException: "
                             "The conditional request failed\n"
                             "tidemark: describe-table: table Nope not found\n"
                             "tidemark: describe-table: bad table name 'a/b'\n");
}

static void test_quiet_errors_show(void **state)
{
    (void)state;
    cli_set_quiet(1);
    tu_capture_begin();
    err_set(TM_EIO, "disk full");
    cli_fail("tidemark", "batch-write", TM_EIO);
    const char *out = tu_capture_end();
    cli_set_quiet(0);
    assert_string_equal(out, "tidemark: batch-write: disk full\n");   /* errors still show */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_separators),
        cmocka_unit_test(test_exit_from_table),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_quiet_errors_show),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
