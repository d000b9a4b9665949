/* tidemark-export: full and incremental exports in Amazon DynamoDB's format to a directory or
 * S3, and list/describe/verify of exports. argv -> request -> operation (api/backup.h:
 * ExportTableToPointInTime, ListExports, DescribeExport, TidemarkExportVerify) -> print; exit
 * codes from the error table. The format is specified at the top of export/export.c. */
#include "api/backup.h"
#include "cli/cli.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/text.h"
#include "export/export.h"   /* EXPORT_VERSION, EXPORT_JOBS_MAX */
#include "include/tidemark.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *prog = "tidemark-export";

static void usage(void)
{
    printf(
"Usage: tidemark-export --table NAME --to DEST [--time TIME] [OPTION]...\n"
"       tidemark-export --table NAME --to DEST --incremental --from TIME [--until TIME]\n"
"                       [--view NEW_AND_OLD_IMAGES|NEW_IMAGE] [OPTION]...\n"
"       tidemark-export --resume DEST/AWSDynamoDB/ID [--jobs N]\n"
"       tidemark-export --endpoint-url URL --table-name NAME --to DEST [--segments N]\n"
"       tidemark-export list DEST [--json]\n"
"       tidemark-export describe DEST/AWSDynamoDB/ID [--json]\n"
"       tidemark-export verify DEST/AWSDynamoDB/ID [--ignore-summary-checksum] [--json]\n"
"\n"
"Export table NAME in Amazon DynamoDB's export format (DYNAMODB_JSON) to DEST, a directory or\n"
"s3://bucket/prefix. The files land under DEST/AWSDynamoDB/<ExportId>/ exactly as AWS lays them\n"
"out (_started, data/*.json.gz, manifest-files.json/.md5, manifest-summary.json/.md5), plus\n"
"tidemark-schema.json, which lets tidemark-import recreate the table without flags.\n"
"\n"
"FULL export (default): without --time, the table at one consistent moment while writers go on\n"
"(no PITR needed); with --time, the table as it was at TIME, which must lie in its PITR window.\n"
"INCREMENTAL export: the net change of every item written in [--from, --until): one record per\n"
"item with its image at --from (OldImage) and just before --until (NewImage). Data files go to\n"
"the shared DEST/AWSDynamoDB/data/ folder, as AWS does. AWS allows windows of 15 minutes to\n"
"24 hours; tidemark allows any window inside the PITR window (--from not before the earliest\n"
"restorable time, --until not in the future). An empty window is a valid export of 0 records.\n"
"\n"
"  -t, --table NAME        table to export (alias --table-name)\n"
"  -o, --to DEST           directory or s3://bucket/prefix (alias --s3-destination)\n"
"      --s3-bucket B       a directory's export will be copied to s3://B/P (aws s3 cp\n"
"      --s3-prefix P       --recursive DEST s3://B/P): record B and P as s3Bucket, s3Prefix\n"
"                          and in every key (default: the directory's name, no prefix)\n"
"      --time TIME         FULL: export the state at TIME (alias --export-time)\n"
"  -i, --incremental       INCREMENTAL export (alias --export-type INCREMENTAL_EXPORT)\n"
"      --from TIME         start of the window, inclusive (alias --export-from-time)\n"
"      --until TIME        end of the window, exclusive; default now (alias --export-to-time)\n"
"      --view VIEW         NEW_AND_OLD_IMAGES (default) or NEW_IMAGE (alias\n"
"                          --export-view-type)\n"
"      --compression C     gzip (default, as AWS) or zstd (.json.zst files; AWS ImportTable\n"
"                          reads ZSTD, but AWS's export readers, Glue, Athena and the like\n"
"                          expect gzip)\n"
"      --level N           compression level (gzip 1..12, default 6; zstd 1..19, default 3)\n"
"  -j, --jobs N            compression threads (default 1); a full export gets at least N\n"
"                          partitions (key-hash ranges, one or more data files each)\n"
"      --max-file-size SZ  start a new data file past SZ compressed bytes (K, M, G suffixes;\n"
"                          default 256M)\n"
"      --region R          region in the ARNs (default $TIDEMARK_REGION, $AWS_REGION,\n"
"                          $AWS_DEFAULT_REGION, else us-east-1)\n"
"      --account A         account in the ARNs (default $TIDEMARK_ACCOUNT, $AWS_ACCOUNT_ID,\n"
"                          else 000000000000)\n"
"      --resume DIR        continue an interrupted export DEST/AWSDynamoDB/ID with the\n"
"                          parameters it was started with; finished files are kept\n"
"      --tmp-dir DIR       spill files of large incremental windows (default $TMPDIR, /tmp)\n"
"      --endpoint-url URL  export table NAME of this DynamoDB-API endpoint (Amazon DynamoDB,\n"
"                          ScyllaDB Alternator, dynalite, tidemark serve): a FULL export by\n"
"                          parallel Scan, the same files; --region also picks its region.\n"
"                          Killed or failed, the same command continues it: each segment\n"
"                          from its last saved position. (list, describe and verify: the\n"
"                          S3 endpoint, as --s3-endpoint-url)\n"
"      --segments N        --endpoint-url: Scan segments read in parallel (default 4)\n"
"      --checkpoint-size SZ  --endpoint-url: save each segment's position every SZ of\n"
"                          items (default 32M)\n"
"      --s3-endpoint-url URL  S3 endpoint (default $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL)\n"
"      --profile NAME      AWS profile for credentials and region (default $AWS_PROFILE)\n"
"      --json              print the response as the aws CLI prints it (aws dynamodb\n"
"                          export-table-to-point-in-time, describe-export, list-exports);\n"
"                          a failed export prints its FAILED ExportDescription\n"
"  -q, --quiet             print nothing on stderr on success (errors still)\n"
"      --data DIR          data directory (default $TIDEMARK_HOME, else ~/.tidemark)\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
CLI_HELP_TIME
"Progress goes to stderr on a terminal; otherwise one summary line.\n"
"On success the export's directory (DEST/AWSDynamoDB/<ExportId>) is printed on stdout.\n"
"An interrupted export never has a manifest-summary.json; describe shows it FAILED or\n"
"IN_PROGRESS and --resume finishes it, unless it was killed in its first moment, before it\n"
"recorded its state (_started but no tidemark-export-state.json): run that one again.\n"
"verify also checks tidemark-schema.json's checksum (an older tidemark's has none: only its\n"
"shape is checked, and verify says so). A manifest-summary.json edited by hand (an account id\n"
"anonymised) no longer matches manifest-summary.md5: verify --ignore-summary-checksum accepts\n"
"it when everything else verifies (tidemark-import and tidemark-rollback take it too).\n"
"\n"
"Examples:\n"
"  tidemark-export --table Orders --to /backups/orders --jobs 4\n"
"  tidemark-export --table Orders --to s3://backups/orders --time 2025-11-12T10:14:59Z\n"
"  tidemark-export --table Orders --to s3://backups/orders --incremental --from -1h\n"
"  tidemark-export --table Orders --to /backups/orders --compression zstd\n"
"  tidemark-export list /backups/orders\n"
"  tidemark-export verify /backups/orders/AWSDynamoDB/01731405600000-8a918b87\n"
"  tidemark-export --resume /backups/orders/AWSDynamoDB/01731405600000-8a918b87\n"
"  tidemark-export --endpoint-url https://dynamodb.eu-west-1.amazonaws.com \\\n"
"      --table-name Orders --to s3://backups/orders --segments 16\n"
"\n"
"Exit status: 0 success (verify: all checks pass), 1 failure (verify: a problem found),\n"
"2 usage error (a bad table name too).\n");
}

enum {
    OPT_TIME = 256, OPT_FROM, OPT_UNTIL, OPT_VIEW, OPT_COMPRESSION, OPT_LEVEL, OPT_MAXFILE,
    OPT_REGION, OPT_ACCOUNT, OPT_RESUME, OPT_TMP, OPT_ENDPOINT, OPT_PROFILE, OPT_JSON, OPT_DATA,
    OPT_VERSION, OPT_EXPORT_TYPE, OPT_NCMEM, OPT_S3BUCKET, OPT_S3PREFIX, OPT_IGNORE_SUMMARY,
    OPT_S3ENDPOINT, OPT_SEGMENTS, OPT_CHECKPOINT, OPT_SCANLIMIT,
};

static const char shortopts[] = ":t:o:ij:qh";
static const struct option opts[] = {
    {"table", required_argument, NULL, 't'},
    {"table-name", required_argument, NULL, 't'},
    {"to", required_argument, NULL, 'o'},
    {"s3-destination", required_argument, NULL, 'o'},
    {"s3-bucket", required_argument, NULL, OPT_S3BUCKET},
    {"s3-prefix", required_argument, NULL, OPT_S3PREFIX},
    {"ignore-summary-checksum", no_argument, NULL, OPT_IGNORE_SUMMARY},
    {"time", required_argument, NULL, OPT_TIME},
    {"export-time", required_argument, NULL, OPT_TIME},
    {"incremental", no_argument, NULL, 'i'},
    {"export-type", required_argument, NULL, OPT_EXPORT_TYPE},
    {"from", required_argument, NULL, OPT_FROM},
    {"export-from-time", required_argument, NULL, OPT_FROM},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"export-to-time", required_argument, NULL, OPT_UNTIL},
    {"view", required_argument, NULL, OPT_VIEW},
    {"export-view-type", required_argument, NULL, OPT_VIEW},
    {"compression", required_argument, NULL, OPT_COMPRESSION},
    {"level", required_argument, NULL, OPT_LEVEL},
    {"jobs", required_argument, NULL, 'j'},
    {"max-file-size", required_argument, NULL, OPT_MAXFILE},
    {"region", required_argument, NULL, OPT_REGION},
    {"account", required_argument, NULL, OPT_ACCOUNT},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"tmp-dir", required_argument, NULL, OPT_TMP},
    {"endpoint-url", required_argument, NULL, OPT_ENDPOINT},
    {"s3-endpoint-url", required_argument, NULL, OPT_S3ENDPOINT},
    {"segments", required_argument, NULL, OPT_SEGMENTS},
    {"total-segments", required_argument, NULL, OPT_SEGMENTS},
    {"checkpoint-size", required_argument, NULL, OPT_CHECKPOINT},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"data", required_argument, NULL, OPT_DATA},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    /* Not in --help: the grouping memory of incremental exports (tests force spills). */
    {"netchange-mem", required_argument, NULL, OPT_NCMEM},
    /* Not in --help: Limit per Scan page of --endpoint-url (tests make many small pages). */
    {"scan-limit", required_argument, NULL, OPT_SCANLIMIT},
    {NULL, 0, NULL, 0},
};

static const char *const commands[] = {"list", "describe", "verify"};

/* What the command line says; times in µs (0: not given). */
typedef struct args {
    const char *table, *dest, *region, *account, *resume, *tmp_dir, *endpoint, *profile, *data;
    const char *time_s, *from_s, *until_s, *view, *compression, *s3_bucket, *s3_prefix;
    const char *s3_endpoint;
    int incremental, json, level, jobs, ignore_summary, segments, scan_limit;
    uint64_t max_file, ncmem, checkpoint;
    int64_t time_us, from_us, until_us;
} args;

/* ---- output ---- */

/* A response as `aws dynamodb <operation>` prints it, without tidemark's extras. */
static void print_json(const char *operation, cJSON *resp)
{
    api_backup_strip(resp);
    char *t = tm_awscli_json(operation, resp);
    fputs(t ? t : "", stdout);
    free(t);
}

static const cJSON *get(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

static const char *str(const cJSON *o, const char *name)
{
    const char *s = cJSON_GetStringValue(get(o, name));
    return s ? s : "";
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = get(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A wire time member as ISO-8601 UTC with milliseconds; 0 when absent. */
static int wire_time(const cJSON *o, const char *name, char *out, size_t n)
{
    const cJSON *v = get(o, name);
    if (!cJSON_IsNumber(v)) return 0;
    clock_format(tm_json_time_us(v->valuedouble), 3, out, n);
    return 1;
}

static void print_desc(const cJSON *x)
{
    const cJSON *inc = get(x, "IncrementalExportSpecification");
    char t[40], t2[40];
    printf("ExportId:        %s\n", str(x, "TidemarkExportId"));
    printf("Status:          %s\n", str(x, "ExportStatus"));
    if (get(x, "FailureMessage")) printf("Failure:         %s\n", str(x, "FailureMessage"));
    printf("Type:            %s\n", str(x, "ExportType"));
    printf("Table:           %s (%s)\n", str(x, "TidemarkTableName"), str(x, "TableId"));
    printf("ExportArn:       %s\n", str(x, "ExportArn"));
    if (!inc && wire_time(x, "ExportTime", t, sizeof t)) printf("ExportTime:      %s\n", t);
    if (inc && wire_time(inc, "ExportFromTime", t, sizeof t) && wire_time(inc, "ExportToTime", t2, sizeof t2)) {
        printf("Window:          [%s, %s)\n", t, t2);
        printf("View:            %s\n", str(inc, "ExportViewType"));
    }
    if (wire_time(x, "StartTime", t, sizeof t)) printf("StartTime:       %s\n", t);
    if (wire_time(x, "EndTime", t, sizeof t)) printf("EndTime:         %s\n", t);
    printf("ItemCount:       %.0f\n", num(x, "ItemCount"));
    printf("BilledSizeBytes: %.0f\n", num(x, "BilledSizeBytes"));
    printf("DataFiles:       %.0f\n", num(x, "TidemarkDataFiles"));
    printf("S3Bucket:        %s\n", str(x, "S3Bucket"));
    printf("S3Prefix:        %s\n", get(x, "S3Prefix") ? str(x, "S3Prefix") : "(none)");
    printf("Location:        %s\n", str(x, "TidemarkLocation"));
}

static void print_list(const cJSON *resp)
{
    const cJSON *s;
    printf("%-25s %-11s %-18s %12s  %-24s %s\n", "EXPORT ID", "STATUS", "TYPE", "ITEMS", "TIME",
           "TABLE");
    cJSON_ArrayForEach(s, get(resp, "ExportSummaries")) {
        char t[40] = "-";
        if (num(s, "TidemarkTime")) wire_time(s, "TidemarkTime", t, sizeof t);
        printf("%-25s %-11s %-18s %12.0f  %-24s %s\n", str(s, "TidemarkExportId"),
               str(s, "ExportStatus"), str(s, "ExportType"), num(s, "TidemarkItemCount"), t,
               str(s, "TidemarkTableName"));
    }
}

static void print_verify(const char *dir, const cJSON *r)
{
    const cJSON *p;
    double files = num(r, "DataFiles"), lines = num(r, "Lines"), problems = num(r, "ProblemCount");
    char hb[32];
    cJSON_ArrayForEach(p, get(r, "Problems")) printf("PROBLEM %s: %s\n", str(p, "What"), str(p, "Detail"));
    text_human_bytes(num(r, "Bytes"), hb, sizeof hb);
    if (cJSON_IsTrue(get(r, "Valid"))) {
        printf("OK %s: %.0f data file%s, %.0f items, %s: every checksum, etag, count and line "
               "verified\n", dir, files, files == 1 ? "" : "s", lines, hb);
        if (cJSON_IsTrue(get(r, "SummaryChecksumIgnored")))
            printf("NOTE manifest-summary.json does not match manifest-summary.md5 (edited by "
                   "hand?): accepted as told (--ignore-summary-checksum)\n");
        if (!strcmp(str(r, "Schema"), "UNCHECKED"))
            printf("NOTE tidemark-schema.json has no checksum (schema version 1, an older "
                   "tidemark): only its JSON shape was checked\n");
    } else {
        printf("FAILED %s: %.0f problem%s (%.0f of %.0f data files ok)\n", dir, problems,
               problems == 1 ? "" : "s", num(r, "DataFilesOk"), files);
    }
}

/* ---- list / describe / verify ---- */

/* These read exports only: the data directory is checked when one was named (a typo is
 * refused, not taken for an empty one), and may be missing when it is the default. */
static const char *read_home(const args *a)
{
    const char *env = getenv("TIDEMARK_HOME");
    return a->data || (env && *env) ? cli_home_existing(prog, a->data) : cli_home(NULL);
}

static int run_command(const args *a, const char *cmd, const char *arg)
{
    const char *home = read_home(a);
    if (!home) return CLI_FAIL;
    tm_db *db = NULL;
    tm_error e;
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    int list = !strcmp(cmd, "list"), verify = !strcmp(cmd, "verify"), k;
    cJSON_AddStringToObject(req, list ? "TidemarkDestination" : "TidemarkExportDir", arg);
    const char *s3 = a->s3_endpoint ? a->s3_endpoint : a->endpoint;   /* no table here */
    if (s3) cJSON_AddStringToObject(req, "TidemarkEndpointUrl", s3);
    if (a->profile) cJSON_AddStringToObject(req, "TidemarkProfile", a->profile);
    if (verify && a->ignore_summary) cJSON_AddTrueToObject(req, "TidemarkIgnoreSummaryChecksum");
    progress *p = verify ? cli_progress_new(prog, "verifying", 0) : NULL;
    if (!(k = tm_db_open(home, 0, &db, &e)))
        k = list ? tm_list_exports(db, req, &resp, &e) : verify ? tm_export_verify(db, req, &resp, &e)
                                                              : tm_describe_export(db, req, &resp, &e);
    progress_free(p);
    int code = CLI_OK;
    if (k) {
        code = cli_report(prog, cmd, &e);
    } else if (verify) {
        char *t = a->json ? tm_json_text(resp, TM_TIMES_AWSCLI) : NULL;
        if (a->json) fputs(t ? t : "", stdout);
        else print_verify(arg, resp);
        free(t);
        if (!cJSON_IsTrue(get(resp, "Valid"))) code = CLI_FAIL;
    } else if (a->json) {
        print_json(list ? "ListExports" : "DescribeExport", resp);
    } else if (list) {
        print_list(resp);
    } else {
        print_desc(get(resp, "ExportDescription"));
    }
    cJSON_Delete(req);
    cJSON_Delete(resp);
    tm_db_close(db);
    return code;
}

/* ---- the export ---- */

static void add_time(cJSON *o, const char *name, int64_t us)
{
    if (us) tm_json_time(o, name, us);
}

/* The ExportTableToPointInTime request for the arguments. */
static cJSON *request(const args *a)
{
    cJSON *r = cJSON_CreateObject();
    if (a->resume) {
        cJSON_AddStringToObject(r, "TidemarkResume", a->resume);
    } else {
        cJSON_AddStringToObject(r, "TableName", a->table);
        if (a->region) cJSON_AddStringToObject(r, "TidemarkRegion", a->region);
        if (a->account) cJSON_AddStringToObject(r, "TidemarkAccount", a->account);
        cJSON_AddStringToObject(r, "TidemarkDestination", a->dest);
        if (a->s3_bucket) cJSON_AddStringToObject(r, "S3Bucket", a->s3_bucket);
        if (a->s3_prefix) cJSON_AddStringToObject(r, "S3Prefix", a->s3_prefix);
        add_time(r, "ExportTime", a->time_us);
        cJSON_AddStringToObject(r, "ExportType", a->incremental ? "INCREMENTAL_EXPORT" : "FULL_EXPORT");
        if (a->incremental) {
            cJSON *s = cJSON_AddObjectToObject(r, "IncrementalExportSpecification");
            add_time(s, "ExportFromTime", a->from_us);
            add_time(s, "ExportToTime", a->until_us);
            if (a->view) cJSON_AddStringToObject(s, "ExportViewType", a->view);
        }
        if (a->compression) cJSON_AddStringToObject(r, "TidemarkCompression", a->compression);
        if (a->level) cJSON_AddNumberToObject(r, "TidemarkCompressionLevel", a->level);
        if (a->max_file) cJSON_AddNumberToObject(r, "TidemarkMaxFileBytes", (double)a->max_file);
        if (a->ncmem) cJSON_AddNumberToObject(r, "TidemarkNetchangeMemory", (double)a->ncmem);
        if (a->tmp_dir) cJSON_AddStringToObject(r, "TidemarkTmpDir", a->tmp_dir);
    }
    if (a->jobs) cJSON_AddNumberToObject(r, "TidemarkJobs", a->jobs);
    if (a->s3_endpoint) cJSON_AddStringToObject(r, "TidemarkEndpointUrl", a->s3_endpoint);
    if (a->profile) cJSON_AddStringToObject(r, "TidemarkProfile", a->profile);
    if (a->endpoint) {   /* a remote table's export */
        cJSON_AddStringToObject(r, "TidemarkTableEndpointUrl", a->endpoint);
        if (a->segments) cJSON_AddNumberToObject(r, "TidemarkSegments", a->segments);
        if (a->scan_limit) cJSON_AddNumberToObject(r, "TidemarkScanLimit", a->scan_limit);
        if (a->checkpoint) cJSON_AddNumberToObject(r, "TidemarkCheckpointBytes", (double)a->checkpoint);
    }
    return r;
}

static void summary(progress *p, const cJSON *x)
{
    char hb[32];
    double files = num(x, "TidemarkDataFiles");
    int full = !strcmp(str(x, "ExportType"), "FULL_EXPORT");
    text_human_bytes(num(x, "BilledSizeBytes"), hb, sizeof hb);
    double el = progress_elapsed(p);
    cli_progress_done(p, "exported %s (%s): %.0f %s in %.0f data file%s, %s of JSON, in %.2f s "
                      "-> %s", str(x, "TidemarkTableName"), str(x, "ExportType"),
                      num(x, "ItemCount"), full ? "items" : "records", files, files == 1 ? "" : "s",
                      hb, el, str(x, "TidemarkLocation"));
}

static int run_export(const args *a)
{
    tm_db *db = NULL;
    tm_error e;
    tm_backup_run br = TM_BACKUP_RUN_INIT;
    const char *what = a->resume ? "resume" : "export";
    int code = CLI_OK;
    if (!a->endpoint && tm_db_open(cli_home(a->data), TM_DB_READONLY, &db, &e))
        return cli_report(prog, what, &e);
    cJSON *req = request(a), *resp = NULL;
    br.prog = cli_progress_new(prog, "exporting", 0);
    if (a->endpoint ? tm_export_remote_run(NULL, req, &br, &resp, &e)
                    : tm_export_run(db, req, &br, &resp, &e)) {
        progress_free(br.prog);
        code = cli_report(prog, what, &e);
        if (a->json && br.failed) print_json("ExportTableToPointInTime", br.failed);
    } else {
        const cJSON *x = get(resp, "ExportDescription");
        summary(br.prog, x);
        if (a->json) print_json("ExportTableToPointInTime", resp);
        else printf("%s\n", str(x, "TidemarkLocation"));
    }
    cJSON_Delete(br.failed);
    cJSON_Delete(req);
    cJSON_Delete(resp);
    tm_db_close(db);
    return code;
}

/* ---- arguments ---- */

/* A size option of at least one byte: -1 to go on, else the usage error's exit status. */
static int size_option(const char *opt, const char *v, uint64_t *out)
{
    return cli_size_option(prog, opt, v, 1, UINT64_MAX, out) ? CLI_USAGE : -1;
}

/* One option into a; -1 to go on, else the exit status. */
static int option(args *a, int c, const char *v)
{
    switch (c) {
    case 't': a->table = v; break;
    case 'o': a->dest = v; break;
    case OPT_S3BUCKET: a->s3_bucket = v; break;
    case OPT_S3PREFIX: a->s3_prefix = v; break;
    case OPT_IGNORE_SUMMARY: a->ignore_summary = 1; break;
    case OPT_TIME: a->time_s = v; break;
    case 'i': a->incremental = 1; break;
    case OPT_EXPORT_TYPE:
        if (!strcmp(v, "INCREMENTAL_EXPORT")) a->incremental = 1;
        else if (!strcmp(v, "FULL_EXPORT")) a->incremental = 0;
        else return cli_usage(prog, "--export-type must be FULL_EXPORT or INCREMENTAL_EXPORT");
        break;
    case OPT_FROM: a->from_s = v; break;
    case OPT_UNTIL: a->until_s = v; break;
    case OPT_VIEW:
        if (strcmp(v, "NEW_AND_OLD_IMAGES") && strcmp(v, "NEW_IMAGE"))
            return cli_usage(prog, "--view must be NEW_AND_OLD_IMAGES or NEW_IMAGE, not '%s'", v);
        a->view = v;
        break;
    case OPT_COMPRESSION:
        if (strcasecmp(v, "gzip") && strcasecmp(v, "zstd"))
            return cli_usage(prog, "--compression must be gzip or zstd, not '%s'", v);
        a->compression = v;
        break;
    case OPT_LEVEL:
        a->level = atoi(v);
        if (a->level < 1 || a->level > 22) return cli_usage(prog, "--level: bad level '%s'", v);
        break;
    case 'j':
        a->jobs = atoi(v);
        if (a->jobs < 1 || a->jobs > EXPORT_JOBS_MAX)
            return cli_usage(prog, "--jobs must be 1..%d, not '%s'", EXPORT_JOBS_MAX, v);
        break;
    case OPT_MAXFILE:
        return size_option("--max-file-size", v, &a->max_file);
    case OPT_NCMEM:
        return size_option("--netchange-mem", v, &a->ncmem);
    case OPT_REGION: a->region = v; break;
    case OPT_ACCOUNT: a->account = v; break;
    case OPT_RESUME: a->resume = v; break;
    case OPT_TMP: a->tmp_dir = v; break;
    case OPT_ENDPOINT: a->endpoint = v; break;
    case OPT_S3ENDPOINT: a->s3_endpoint = v; break;
    case OPT_SEGMENTS:
        a->segments = atoi(v);
        if (a->segments < 1 || a->segments > 256)
            return cli_usage(prog, "--segments must be 1..256, not '%s'", v);
        break;
    case OPT_SCANLIMIT:
        if ((a->scan_limit = atoi(v)) < 1) return cli_usage(prog, "--scan-limit: bad number '%s'", v);
        break;
    case OPT_CHECKPOINT:
        return size_option("--checkpoint-size", v, &a->checkpoint);
    case OPT_PROFILE: a->profile = v; break;
    case OPT_JSON: a->json = 1; break;
    case 'q': cli_set_quiet(1); break;
    case OPT_DATA: a->data = v; break;
    case 'h': usage(); return CLI_OK;
    case OPT_VERSION: printf("%s (tidemark) %s\n", prog, EXPORT_VERSION); return CLI_OK;
    default: return -2;
    }
    return -1;
}

/* The export's own checks of the times (a usage error names the option). -1: fine. */
static int check_export(args *a)
{
    if (a->resume) {
        if (a->table || a->dest || a->time_s || a->from_s || a->until_s || a->incremental ||
            a->s3_bucket || a->s3_prefix)
            return cli_usage(prog, "--resume takes the export's own parameters: give only the "
                             "directory (and --jobs, --data)");
        if (a->endpoint && !a->s3_endpoint) {   /* no table here: the S3 endpoint, as before */
            a->s3_endpoint = a->endpoint;
            a->endpoint = NULL;
        }
        return -1;
    }
    if (!a->table) return cli_usage(prog, "--table is required");
    if (a->endpoint && (a->time_s || a->incremental || a->from_s || a->until_s))
        return cli_usage(prog, "--endpoint-url exports the remote table as it is now (a full "
                         "export by Scan): no --time, --incremental, --from or --until");
    if (!a->endpoint && (a->segments || a->checkpoint || a->scan_limit))
        return cli_usage(prog, "--segments and --checkpoint-size are for --endpoint-url");
    if (!a->dest) return cli_usage(prog, "--to is required (a directory or s3://bucket/prefix)");
    if (a->incremental) {
        if (a->time_s) return cli_usage(prog, "--time is for full exports; an incremental export "
                                        "takes --from and --until");
        if (!a->from_s) return cli_usage(prog, "--incremental needs --from");
        if (clock_parse(a->from_s, &a->from_us)) return cli_usage(prog, "--from: %s", err_msg());
        if (a->until_s && clock_parse(a->until_s, &a->until_us))
            return cli_usage(prog, "--until: %s", err_msg());
        if (a->until_s && a->until_us <= a->from_us)
            return cli_usage(prog, "--until must be after --from");
    } else {
        if (a->from_s || a->until_s) return cli_usage(prog, "--from and --until need --incremental");
        if (a->time_s && clock_parse(a->time_s, &a->time_us))
            return cli_usage(prog, "--time: %s", err_msg());
        if (a->time_s && a->time_us <= 0) return cli_usage(prog, "--time: before 1970");
    }
    return -1;
}

int main(int argc, char **argv)
{
    args a;
    int c, r;
    memset(&a, 0, sizeof a);
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1)
        if ((r = option(&a, c, optarg)) != -1)
            return r == -2 ? cli_bad_option(prog, argv, shortopts, opts) : r;
    if (optind < argc) {
        const char *cmd = argv[optind];
        if (strcmp(cmd, "list") && strcmp(cmd, "describe") && strcmp(cmd, "verify"))
            return cli_unknown_command(prog, cmd, commands, 3, sizeof *commands);
        if (optind + 2 != argc)
            return cli_usage(prog, "%s takes one %s", cmd,
                             strcmp(cmd, "list") ? "export directory (DEST/AWSDynamoDB/ID)"
                                                 : "destination (DEST)");
        if (a.table || a.dest || a.resume)
            return cli_usage(prog, "%s takes no --table, --to or --resume", cmd);
        return run_command(&a, cmd, argv[optind + 1]);
    }
    if ((r = check_export(&a)) != -1) return r;
    return run_export(&a);
}
