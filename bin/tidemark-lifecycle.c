/* tidemark-lifecycle: retention of logs and snapshots, S3 lifecycle rules on exports, verify,
 * report. argv -> request -> operation (api/lifecycle.c) -> print -> exit status. */
#include "cli/cli.h"
#include "engine/fsx.h"
#include "engine/buf.h"
#include "include/tidemark.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "tidemark-lifecycle";

static void usage(void)
{
    printf(
"Usage: tidemark-lifecycle COMMAND [OPTION]...\n"
"Keeps the point-in-time window without keeping everything forever, and ages exports.\n"
"\n"
"Commands:\n"
"  run [--table T]        per table: delete the log segments and snapshots no second of the\n"
"                         PITR window needs (refused, naming the second, when a restore plan\n"
"                         would be lost; never what a running restore, export or rollback\n"
"                         holds); a new base snapshot when more than the replay budget of log\n"
"                         lies after the newest one; sealed segments older than N days\n"
"                         recompressed LZ4 -> zstd; deleted tables past their period removed\n"
"  apply --rules FILE --target DEST\n"
"                         S3 lifecycle rules (Rules[]: ID, Prefix or Filter.Prefix, Status,\n"
"                         Transitions[] Days + StorageClass, Expiration.Days) applied to whole\n"
"                         exports by export time; a full export and its incrementals expire\n"
"                         together; on a local directory GLACIER/DEEP_ARCHIVE/GLACIER_IR bundle\n"
"                         the export into AWSDynamoDB/<ExportId>.tar.zst (tidemark-import reads it)\n"
"  verify [--table T] [DEST] [--full]\n"
"                         every segment and record, snapshot, and export checksum; only what\n"
"                         changed since the last clean check is read, unless --full\n"
"  report [--table T] [--target DEST]\n"
"                         window, log bytes per day, snapshots, what the next run would delete\n"
"                         and why; exports by age and storage class\n"
"\n"
"Options:\n"
"  -t, --table NAME       one table (default: all)\n"
"      --target DEST      a directory or s3://bucket/prefix holding exports\n"
"      --rules FILE       the lifecycle configuration (JSON)\n"
"  -n, --dry-run          say what would be done, do nothing\n"
"      --full             verify: re-read everything\n"
"      --replay-budget BYTES  run: log bytes after the newest snapshot before a new one\n"
"                         (default 256 MiB)\n"
"      --recompress-days N    run: recompress segments older than N days (default 7; -1 never)\n"
"      --json             print the response as JSON\n"
"  -q, --quiet            print nothing on stderr on success\n"
"      --data DIR         data directory (default $TIDEMARK_HOME, else ~/.tidemark)\n"
"  -h, --help             show this help and exit\n"
"      --version          show the version and exit\n"
"\n"
"Examples (cron):\n"
"  15 3 * * *  tidemark-lifecycle run\n"
"  tidemark-lifecycle apply --rules rules.json --target s3://backups/orders --dry-run\n"
"  tidemark-lifecycle verify --table Orders\n"
"\n"
"Exit status: 0 done, 1 failed or damage found, 2 usage error, 3 done but retention was\n"
"refused for a table (a second of its window would have lost its restore plan).\n");
}

enum { OPT_TARGET = 256, OPT_RULES, OPT_FULL, OPT_JSON, OPT_DATA, OPT_VERSION, OPT_BUDGET, OPT_DAYS };

static const char *str(const cJSON *o, const char *n)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, n));
}

/* Text output: one line per action, problem or export. */
static void print_actions(const cJSON *list, const char *indent, int dry)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, list)
        printf("%s%s%s %s: %s\n", indent, dry ? "would " : "", str(a, "Action"), str(a, "Object"),
               str(a, "Reason"));
}

static void print_text(const char *cmd, const cJSON *r)
{
    int dry = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "DryRun"));
    const cJSON *t, *x;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "Tables")) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(t, "Window");
        printf("table %s: ", str(t, "TableName"));
        if (str(w, "EarliestRestorableDateTime"))
            printf("window %s .. %s\n", str(w, "EarliestRestorableDateTime"), str(w, "LatestRestorableDateTime"));
        else
            printf("point-in-time recovery %s\n", w ? "disabled" : "unknown");
        if (str(t, "Error")) printf("  error: %s\n", str(t, "Error"));
        if (str(t, "Refused")) printf("  refused: %s\n", str(t, "Refused"));
        if (!strcmp(cmd, "report")) {
            printf("  log: %.0f bytes in %.0f segments\n",
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "LogBytes")),
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "LogSegments")));
            cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(t, "LogBytesPerDay"))
                printf("    %s  %.0f bytes  %.0f segments\n", str(x, "Day"),
                       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "Bytes")),
                       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "Segments")));
            cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(t, "Snapshots"))
                printf("  snapshot %s at %s, %.0f bytes\n", str(x, "Name"), str(x, "Time"),
                       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "Bytes")));
            print_actions(cJSON_GetObjectItemCaseSensitive(t, "NextRun"), "  next run: ", 0);
        } else {
            print_actions(cJSON_GetObjectItemCaseSensitive(t, "Actions"), "  ", dry);
        }
    }
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(r, "DeletedTables"))
        printf("deleted table %s: deleted %s, restorable %s .. %s, kept until %s\n",
               str(x, "TableName"), str(x, "DeletionTime"), str(x, "EarliestRestorableDateTime"),
               str(x, "LatestRestorableDateTime"), str(x, "KeptUntil"));
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(r, "DeletedTablesPurged"))
        printf("%sremove deleted table %s (deleted %s, kept until %s)\n", dry ? "would " : "",
               str(x, "TableName"), str(x, "DeletionTime"), str(x, "KeptUntil"));
    const cJSON *exps = cJSON_GetObjectItemCaseSensitive(r, "Exports");
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(r, "Destinations"))
        exps = cJSON_GetObjectItemCaseSensitive(d, "Exports");
    cJSON_ArrayForEach(x, exps) {
        printf("export %s  %s  %3.0f days  %-12s %s", str(x, "ExportId"), str(x, "Type"),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "AgeDays")),
               str(x, "StorageClass"), str(x, "Action"));
        if (str(x, "ToStorageClass")) printf(" -> %s", str(x, "ToStorageClass"));
        if (str(x, "Chain")) printf("  (chain of %s)", str(x, "Chain"));
        if (str(x, "Reason")) printf("  %s%s", dry && strcmp(str(x, "Action"), "keep") ? "would: " : "", str(x, "Reason"));
        if (str(x, "Error")) printf("  error: %s", str(x, "Error"));
        printf("\n");
    }
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(r, "Problems"))
        printf("problem: %s: %s\n", str(x, "Where"), str(x, "What"));
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(r, "Checked");
    const cJSON *un = cJSON_GetObjectItemCaseSensitive(r, "Unchanged");
    if (ck)
        printf("verified %.0f segments (%.0f unchanged), %.0f records, %.0f snapshots (%.0f "
               "unchanged), %.0f exports (%.0f unchanged); %.0f bytes read\n",
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ck, "Segments")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(un, "Segments")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ck, "Records")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ck, "Snapshots")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(un, "Snapshots")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ck, "Exports")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(un, "Exports")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "BytesRead")));
}

static const char *home_of(const char *data)
{
    static char def[4096];
    if (data) return data;
    if (getenv("TIDEMARK_HOME")) return getenv("TIDEMARK_HOME");
    snprintf(def, sizeof def, "%s/.tidemark", getenv("HOME") ? getenv("HOME") : ".");
    return def;
}

static const char *const commands[] = {"run", "apply", "verify", "report"};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"table", required_argument, NULL, 't'},
        {"target", required_argument, NULL, OPT_TARGET},
        {"rules", required_argument, NULL, OPT_RULES},
        {"dry-run", no_argument, NULL, 'n'},
        {"full", no_argument, NULL, OPT_FULL},
        {"replay-budget", required_argument, NULL, OPT_BUDGET},
        {"recompress-days", required_argument, NULL, OPT_DAYS},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"data", required_argument, NULL, OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    static const char shortopts[] = ":t:nqh";
    const char *table = NULL, *target = NULL, *rules = NULL, *data = NULL, *budget = NULL, *days = NULL;
    int dry = 0, full = 0, json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 't': table = optarg; break;
        case OPT_TARGET: target = optarg; break;
        case OPT_RULES: rules = optarg; break;
        case 'n': dry = 1; break;
        case OPT_FULL: full = 1; break;
        case OPT_BUDGET: budget = optarg; break;
        case OPT_DAYS: days = optarg; break;
        case OPT_JSON: json = 1; break;
        case 'q': cli_set_quiet(1); break;
        case OPT_DATA: data = optarg; break;
        case 'h': usage(); return CLI_OK;
        case OPT_VERSION: printf("%s (tidemark) 0.1\n", prog); return CLI_OK;
        default: return cli_bad_option(prog, argv, shortopts, opts);
        }
    }
    if (optind >= argc) return cli_usage(prog, "a command is required: run, apply, verify or report");
    const char *cmd = argv[optind++];
    size_t ci = 0;
    while (ci < 4 && strcmp(commands[ci], cmd)) ci++;
    if (ci == 4) return cli_unknown_command(prog, cmd, commands, 4, sizeof *commands);
    cli_set_command(cmd);
    if (optind < argc && !strcmp(cmd, "verify") && !target) target = argv[optind++];
    if (optind < argc) return cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    cJSON *req = cJSON_CreateObject();
    if (table) cJSON_AddStringToObject(req, "TableName", table);
    if (dry) cJSON_AddBoolToObject(req, "DryRun", 1);
    const char *op = "TidemarkLifecycleRun";
    if (!strcmp(cmd, "run")) {
        if (budget) cJSON_AddNumberToObject(req, "TidemarkReplayBudgetBytes", strtod(budget, NULL));
        if (days) cJSON_AddNumberToObject(req, "TidemarkRecompressDays", strtod(days, NULL));
    } else if (!strcmp(cmd, "apply")) {
        op = "TidemarkLifecycleApply";
        if (!rules || !target) {
            cJSON_Delete(req);
            return cli_usage(prog, "apply needs --rules FILE and --target DEST");
        }
        buf b = BUF_INIT;
        if (fsx_read_file(rules, 16u << 20, &b)) {
            cJSON_Delete(req);
            return cli_fail(prog, rules, -4);
        }
        cJSON_AddStringToObject(req, "Rules", b.data ? b.data : "");
        buf_free(&b);
        cJSON_AddStringToObject(req, "Destination", target);
    } else if (!strcmp(cmd, "verify")) {
        op = "TidemarkLifecycleVerify";
        if (target) cJSON_AddStringToObject(req, "Destination", target);
        if (full) cJSON_AddBoolToObject(req, "Full", 1);
    } else {
        op = "TidemarkLifecycleReport";
        if (target) cJSON_AddStringToObject(req, "Destination", target);
    }
    tm_db *db = NULL;
    tm_error e;
    cJSON *resp = NULL;
    int code = CLI_OK;
    if (tm_db_open(home_of(data), 0, &db, &e)) {
        cJSON_Delete(req);
        return cli_report(prog, NULL, &e);
    }
    int k = tm_call(db, op, req, &resp, &e);
    if (resp) {
        if (json) {
            char *t = cJSON_Print(resp);
            printf("%s\n", t);
            free(t);
        } else {
            print_text(cmd, resp);
        }
    }
    if (k) code = cli_report(prog, NULL, &e);
    cJSON_Delete(resp);
    cJSON_Delete(req);
    tm_db_close(db);
    return code;
}
