/* report.c: errors for people, with their exit status from the api's error table (the one
 * source of exit statuses, api/errors.c). Apart from cli.c so that what uses only the rest of
 * cli/ (cli_test) links without the api. */
#include "cli/cli.h"
#include "engine/err.h"
#include "include/tidemark.h"

#include <stdio.h>

int cli_report(const char *prog, const char *what, const tm_error *e)
{
    const char *cmd = cli_command();
    char pre[256] = "";
    snprintf(pre, sizeof pre, "%s%s%s%s", cmd ? cmd : "", cmd ? ": " : "", what && *what ? what : "",
             what && *what ? ": " : "");
    if (tm_err_named(e->kind))
        fprintf(stderr, "%s: %s%s: %s\n", prog, pre, tm_err_name(e->kind), e->message);
    else
        fprintf(stderr, "%s: %s%s\n", prog, pre, e->message);
    return tm_err_exit(e->kind);
}

int cli_fail(const char *prog, const char *what, int rc)
{
    tm_error e = {0, ""};
    if (!tm_error_from(&e, rc, NULL)) return CLI_OK;
    return cli_report(prog, what, &e);
}
