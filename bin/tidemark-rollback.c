/* tidemark-rollback: undo what an incremental export recorded, on a tidemark table or a table
 * of a DynamoDB-API endpoint. Argument parsing, printing and exit codes only; the operation is
 * TidemarkRollback (api/rollback.h), the work in rollback/. */
#include "api/rollback.h"
#include "cli/cli.h"
#include "engine/buf.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "include/tidemark.h"
#include "rollback/rollback.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "tidemark-rollback";

static void usage(void)
{
    printf(
"Usage: tidemark-rollback --from EXPORT --table NAME [--data DIR] [FILTER]... [OPTION]...\n"
"       tidemark-rollback --from EXPORT --endpoint-url URL --table-name NAME [--region R]\n"
"                         [FILTER]... [OPTION]...\n"
"Undo what an incremental export (NEW_AND_OLD_IMAGES) recorded: put each item's OldImage back,\n"
"or delete the item when it had none, on a tidemark table or on a table of any DynamoDB-API\n"
"endpoint (Amazon DynamoDB, DynamoDB Local, ScyllaDB Alternator). EXPORT is tidemark's or\n"
"Amazon DynamoDB's, a directory (DEST/AWSDynamoDB/<ExportId>) or s3://bucket/prefix/\n"
"AWSDynamoDB/<ExportId>; it is checked whole (manifests, every data file's MD5) before the\n"
"first write. A NEW_IMAGE export is refused: it has no old images.\n"
"\n"
"Per item: if it still equals the export's NewImage (absent when the record is a delete), its\n"
"OldImage is written back. If it already equals the OldImage, it is ALREADY ROLLED BACK and\n"
"left alone (so a re-run changes nothing). Otherwise it was written after the window: a\n"
"CONFLICT, skipped and reported with its current, new and old images. The check runs with the\n"
"write (inside the write transaction; on an endpoint, as a ConditionExpression), so a write\n"
"landing meanwhile is a conflict, never lost. On a tidemark table the rollback's writes go\n"
"through the change log: it can itself be exported and rolled back.\n"
"\n"
"Target:\n"
"  -f, --from EXPORT       the incremental export\n"
"  -t, --table NAME        the table (alias --table-name)\n"
"      --data DIR          data directory (default $TIDEMARK_HOME, else ~/.tidemark)\n"
"      --endpoint-url URL  a DynamoDB-API endpoint instead (credentials, region: the AWS\n"
"                          chain: AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/config, ...)\n"
"      --region R          its region (default: the AWS chain, else us-east-1)\n"
"      --profile P         its AWS profile\n"
"Filters (all that are given must hold):\n"
"      --key-values A,B    partition-key values (N compared by value, B as base64)\n"
"      --keys FILE         partition-key values, one per line ('-': stdin)\n"
"      --key-prefix P      partition keys starting with P\n"
"      --since TIME        records written at or after TIME (WriteTimestampMicros)\n"
"      --until TIME        records written before TIME\n"
"                          (TIME: as below)\n"
"      --condition EXPR    a ConditionExpression the record's NewImage must satisfy\n"
"                          (a delete's NewImage is absent: attribute_not_exists(pk) holds)\n"
"      --names JSON        its ExpressionAttributeNames ({\"#s\":\"status\"})\n"
"      --values JSON       its ExpressionAttributeValues ({\":v\":{\"S\":\"x\"}})\n"
"Options:\n"
"  -n, --dry-run           write nothing; print per item its key and each attribute from what\n"
"                          to what\n"
"      --report FILE       every item's outcome as JSON lines (then the summary) into FILE\n"
"      --json              the same JSON lines on stdout instead of the text\n"
"      --on-conflict MODE  skip (default): leave conflicts alone; overwrite: write the old\n"
"                          image anyway; fail: check every item first and write nothing if\n"
"                          any conflicts\n"
"      --ignore-summary-checksum  read an export whose manifest-summary.json no longer\n"
"                          matches manifest-summary.md5 (edited by hand, e.g. to anonymise\n"
"                          the account id); manifest-files and every data file are still\n"
"                          checked\n"
"  -j, --jobs N            writers in parallel (endpoint: connections), 1..256 (default 8)\n"
"  -q, --quiet             print nothing on stderr on success (errors still)\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Output: without --dry-run, the conflicts (and items overwritten) are printed; the summary goes\n"
"to stderr. JSON lines: {\"Action\":\"RESTORE|DELETE|ALREADY_ROLLED_BACK|CONFLICT|OVERWRITTEN\",\n"
"\"DryRun\",\"Keys\",\"WriteTimestampMicros\",\"Current\"(conflicts),\"NewImage\",\"OldImage\",\n"
"\"Changes\":[{\"Attribute\",\"From\",\"To\"}]}, the last line {\"RollbackSummary\":{...}}.\n"
"\n"
CLI_HELP_TIME
"\n"
"Examples:\n"
"  tidemark timeline --table Orders --from -2h --json          # find the bad load\n"
"  tidemark-export --table Orders --to /backups --incremental \\\n"
"      --from 2025-11-12T10:15:00Z --until 2025-11-12T10:17:00Z\n"
"  tidemark-rollback --from /backups/AWSDynamoDB/01762942560000-1a2b3c4d --table Orders -n\n"
"  tidemark-rollback --from /backups/AWSDynamoDB/01762942560000-1a2b3c4d --table Orders \\\n"
"      --report undo.jsonl\n"
"  tidemark-rollback --from s3://backups/AWSDynamoDB/01762942560000-1a2b3c4d \\\n"
"      --endpoint-url https://dynamodb.eu-west-1.amazonaws.com --table-name Orders \\\n"
"      --key-prefix cust#42 --condition 'batch = :b' --values '{\":b\":{\"S\":\"1015\"}}'\n"
"\n"
"Exit status: 0 done, 3 done with conflicts (or --on-conflict fail found some: nothing\n"
"written), 1 failed (a damaged export writes nothing), 2 usage error.\n");
}

/* ================================================================ printing */

typedef struct out {
    int json, dry;
    FILE *report;
} out;

static const char *str(const cJSON *o, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static double num(const cJSON *o, const char *name)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static void print_json(FILE *f, const cJSON *j)
{
    char *t = cJSON_PrintUnformatted(j);
    fprintf(f, "%s\n", t ? t : "{}");
    free(t);
}

static void print_image(const char *label, const cJSON *img)
{
    char *t = img ? cJSON_PrintUnformatted(img) : NULL;
    printf("  %-8s %s\n", label, t ? t : "(absent)");
    free(t);
}

/* key, what happens, and each attribute from what to what. */
static void print_text(const cJSON *r, int dry)
{
    const char *a = str(r, "Action");
    char *key = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(r, "Keys")), t[40];
    const char *what = !strcmp(a, "RESTORE") ? (dry ? "would restore" : "restored")
                     : !strcmp(a, "DELETE") ? (dry ? "would delete" : "deleted")
                     : !strcmp(a, "ALREADY_ROLLED_BACK") ? "already rolled back"
                     : !strcmp(a, "CONFLICT") ? "CONFLICT (written after the window): left alone"
                     : "CONFLICT (written after the window): overwritten";
    clock_format((int64_t)num(r, "WriteTimestampMicros"), 6, t, sizeof t);
    printf("%s %s (last written %s)\n", key ? key : "?", what, t);
    free(key);
    if (!strcmp(a, "CONFLICT") || !strcmp(a, "OVERWRITTEN")) {
        print_image("current:", cJSON_GetObjectItemCaseSensitive(r, "Current"));
        print_image("new:", cJSON_GetObjectItemCaseSensitive(r, "NewImage"));
        print_image("old:", cJSON_GetObjectItemCaseSensitive(r, "OldImage"));
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "Changes")) {
        char *f = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "From"));
        char *to = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "To"));
        printf("  %s: %s -> %s\n", str(c, "Attribute"), f ? f : "(absent)", to ? to : "(absent)");
        free(f);
        free(to);
    }
}

static int on_report(void *ctx, const cJSON *r)
{
    out *o = ctx;
    const char *a = str(r, "Action");
    if (o->report) print_json(o->report, r);
    if (o->json) print_json(stdout, r);
    else if (o->dry || !strcmp(a, "CONFLICT") || !strcmp(a, "OVERWRITTEN")) print_text(r, o->dry);
    return 0;
}

static void print_summary(const cJSON *resp, const char *from, progress *p)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(resp, "RollbackSummary");
    int dry = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "DryRun"));
    double conflicts = num(s, "Conflicts"), over = num(s, "Overwritten");
    char tail[96] = "";
    if (over) snprintf(tail, sizeof tail, ", %.0f conflicts %s", over, dry ? "would be overwritten" : "overwritten");
    cli_progress_done(p, "%s %s from %s: %.0f of %.0f records chosen: %.0f %s, %.0f %s, %.0f already "
                      "rolled back, %.0f conflicts left alone%s%s in %.2f s",
                      dry ? "dry run (nothing written) of" : "rolled back", str(s, "TableName"),
                      from, num(s, "Chosen"), num(s, "Records"), num(s, "Restored"),
                      dry ? "to restore" : "restored", num(s, "Deleted"),
                      dry ? "to delete" : "deleted", num(s, "AlreadyRolledBack"), conflicts,
                      conflicts ? " (see the report)" : "", tail, num(s, "Seconds"));
}

/* ================================================================ arguments */

/* Adds the values of a comma list, or of a file's lines, to arr. */
static int add_values(cJSON *arr, const char *list, const char *file)
{
    if (list) {
        const char *p = list;
        for (;;) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            char *v = strndup(p, n);
            if (n) cJSON_AddItemToArray(arr, cJSON_CreateString(v));
            free(v);
            if (!c) break;
            p = c + 1;
        }
        return 0;
    }
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) return cli_usage(prog, "--keys: %s: %s", file, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n) cJSON_AddItemToArray(arr, cJSON_CreateString(line));
    }
    free(line);
    if (f != stdin) fclose(f);
    return 0;
}

static int time_arg(cJSON *req, const char *opt, const char *member, const char *s)
{
    int64_t us;
    if (clock_parse(s, &us)) return cli_usage(prog, "%s: %s", opt, err_msg());
    cJSON_AddNumberToObject(req, member, (double)us);
    return 0;
}

static int json_arg(cJSON *req, const char *opt, const char *member, const char *s)
{
    cJSON *j = cJSON_Parse(s);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return cli_usage(prog, "%s: not a JSON object: %s", opt, s);
    }
    cJSON_AddItemToObject(req, member, j);
    return 0;
}

static int run(const char *data, cJSON *req, const char *report, int json, int dry)
{
    tm_db *db = NULL;
    tm_error e;
    cJSON *resp = NULL;
    out o = {json, dry, NULL};
    int code;
    const char *home = cli_home(data);
    if (report && !(o.report = fopen(report, "w"))) {
        fprintf(stderr, "%s: --report %s: %s\n", prog, report, strerror(errno));
        return CLI_FAIL;
    }
    if (tm_db_open(home, cJSON_GetObjectItemCaseSensitive(req, "EndpointUrl") ? 0 : TM_DB_READONLY,
                   &db, &e)) {
        code = cli_report(prog, "rollback", &e);
        goto out;
    }
    tm_rollback_each each = {on_report, &o, cli_progress_new(prog, "records", 0),
                             !json && !dry && !o.report};
    if (tm_rollback_run(db, req, &each, &resp, &e)) {
        progress_free(each.prog);
        code = cli_report(prog, "rollback", &e);
        goto out;
    }
    if (o.report) print_json(o.report, resp);
    if (json) print_json(stdout, resp);
    print_summary(resp, str(req, "ExportDir"), each.prog);
    code = num(cJSON_GetObjectItemCaseSensitive(resp, "RollbackSummary"), "Conflicts") > 0
               ? tm_err_exit(TM_ERR_WRITE_CONFLICT) : CLI_OK;
out:
    if (o.report && fclose(o.report) && code == CLI_OK) {
        fprintf(stderr, "%s: --report %s: %s\n", prog, report, strerror(errno));
        code = CLI_FAIL;
    }
    cJSON_Delete(resp);
    tm_db_close(db);
    return code;
}

enum { OPT_DATA = 256, OPT_ENDPOINT, OPT_REGION, OPT_PROFILE, OPT_KEYVALUES, OPT_KEYS,
       OPT_PREFIX, OPT_SINCE, OPT_UNTIL, OPT_COND, OPT_NAMES, OPT_VALUES, OPT_REPORT, OPT_JSON,
       OPT_CONFLICT, OPT_VERSION, OPT_DIRECTION, OPT_IGNORE_SUMMARY };

static const char shortopts[] = ":f:t:nj:qh";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"table", required_argument, NULL, 't'},
        {"table-name", required_argument, NULL, 't'},
        {"data", required_argument, NULL, OPT_DATA},
        {"endpoint-url", required_argument, NULL, OPT_ENDPOINT},
        {"region", required_argument, NULL, OPT_REGION},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"key-values", required_argument, NULL, OPT_KEYVALUES},
        {"keys", required_argument, NULL, OPT_KEYS},
        {"key-prefix", required_argument, NULL, OPT_PREFIX},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"condition", required_argument, NULL, OPT_COND},
        {"names", required_argument, NULL, OPT_NAMES},
        {"values", required_argument, NULL, OPT_VALUES},
        {"dry-run", no_argument, NULL, 'n'},
        {"report", required_argument, NULL, OPT_REPORT},
        {"json", no_argument, NULL, OPT_JSON},
        {"on-conflict", required_argument, NULL, OPT_CONFLICT},
        {"jobs", required_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        /* Not in --help: forward apply (tidemark-import --apply-incremental's engine). */
        {"direction", required_argument, NULL, OPT_DIRECTION},
        {"ignore-summary-checksum", no_argument, NULL, OPT_IGNORE_SUMMARY},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *report = NULL;
    int json = 0, dry = 0, c, rc = 0, have_keys = 0;
    cJSON *req = cJSON_CreateObject(), *vals = cJSON_CreateArray();
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'f': cJSON_AddStringToObject(req, "ExportDir", optarg); break;
        case 't': cJSON_AddStringToObject(req, "TableName", optarg); break;
        case OPT_DATA: data = optarg; break;
        case OPT_ENDPOINT: cJSON_AddStringToObject(req, "EndpointUrl", optarg); break;
        case OPT_REGION: cJSON_AddStringToObject(req, "Region", optarg); break;
        case OPT_PROFILE: cJSON_AddStringToObject(req, "Profile", optarg); break;
        case OPT_KEYVALUES: rc = add_values(vals, optarg, NULL), have_keys = 1; break;
        case OPT_KEYS: rc = add_values(vals, NULL, optarg), have_keys = 1; break;
        case OPT_PREFIX: cJSON_AddStringToObject(req, "KeyPrefix", optarg); break;
        case OPT_SINCE: rc = time_arg(req, "--since", "WriteTimeFromMicros", optarg); break;
        case OPT_UNTIL: rc = time_arg(req, "--until", "WriteTimeToMicros", optarg); break;
        case OPT_COND: cJSON_AddStringToObject(req, "ConditionExpression", optarg); break;
        case OPT_NAMES: rc = json_arg(req, "--names", "ExpressionAttributeNames", optarg); break;
        case OPT_VALUES: rc = json_arg(req, "--values", "ExpressionAttributeValues", optarg); break;
        case 'n': dry = 1; break;
        case OPT_REPORT: report = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_CONFLICT:
            if (strcmp(optarg, "skip") && strcmp(optarg, "overwrite") && strcmp(optarg, "fail"))
                rc = cli_usage(prog, "--on-conflict must be skip, overwrite or fail, not '%s'", optarg);
            else cJSON_AddStringToObject(req, "OnConflict", optarg);
            break;
        case 'j': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > ROLLBACK_MAX_JOBS)
                rc = cli_usage(prog, "--jobs must be a number from 1 to %d, not '%s'", ROLLBACK_MAX_JOBS, optarg);
            else cJSON_AddNumberToObject(req, "Jobs", (double)n);
            break;
        }
        case 'q': cli_set_quiet(1); break;
        case 'h': usage(); rc = -1; break;
        case OPT_VERSION: printf("%s (tidemark) %s\n", prog, ROLLBACK_VERSION); rc = -1; break;
        case OPT_DIRECTION: cJSON_AddStringToObject(req, "Direction", optarg); break;
        case OPT_IGNORE_SUMMARY: cJSON_AddTrueToObject(req, "TidemarkIgnoreSummaryChecksum"); break;
        default: rc = cli_bad_option(prog, argv, shortopts, opts);
        }
    }
    if (!rc && optind < argc) rc = cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    if (!rc && !cJSON_GetObjectItemCaseSensitive(req, "ExportDir"))
        rc = cli_usage(prog, "--from is required (the incremental export to undo)");
    if (!rc && !cJSON_GetObjectItemCaseSensitive(req, "TableName"))
        rc = cli_usage(prog, "--table is required (--table-name with --endpoint-url)");
    if (!rc && have_keys && !cJSON_GetArraySize(vals))
        rc = cli_usage(prog, "--keys/--key-values: no key values given");
    if (!rc && data && cJSON_GetObjectItemCaseSensitive(req, "EndpointUrl"))
        rc = cli_usage(prog, "--data and --endpoint-url exclude each other");
    if (rc) {
        cJSON_Delete(vals);
        cJSON_Delete(req);
        return rc < 0 ? CLI_OK : rc;
    }
    if (have_keys) cJSON_AddItemToObject(req, "KeyValues", vals);
    else cJSON_Delete(vals);
    if (dry) cJSON_AddBoolToObject(req, "DryRun", 1);
    rc = run(data, req, report, json, dry);
    cJSON_Delete(req);
    return rc;
}
