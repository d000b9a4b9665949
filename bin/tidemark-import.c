/* tidemark-import: import an export (tidemark's or Amazon DynamoDB's) or a dump of DynamoDB
 * JSON / CSV files, local, on S3 or in an archive, into a new table. argv -> ImportTable
 * request (api/backup.h) -> print; exit codes from the error table. The work is in import/. */
#include "api/backup.h"
#include "api/rollback.h"
#include "cli/cli.h"
#include "engine/err.h"
#include "engine/key.h"
#include "import/import.h"   /* IMPORT_VERSION and the option names' parsers */
#include "include/tidemark.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *prog = "tidemark-import";

static void usage(void)
{
    printf(
"Usage: tidemark-import --from SOURCE --table NEW [OPTION]...\n"
"       tidemark-import --apply-incremental EXPORT (--table T | --endpoint-url URL\n"
"                       --table-name T) [--dry-run] [--on-conflict MODE] [--json]\n"
"Import SOURCE into the new table NEW. NEW appears only when the import is complete: a\n"
"failed or interrupted import leaves no table. Point-in-time recovery starts disabled.\n"
"\n"
"SOURCE is a local path or s3://bucket/key, and one of:\n"
"  an export directory  .../AWSDynamoDB/<ExportId>/ written by tidemark-export or by Amazon\n"
"                       DynamoDB (manifests are read: only the files they list, each checked\n"
"                       against its MD5 and item count); a directory holding one export below\n"
"                       it works too\n"
"  a directory/prefix   every data file under it (s3://b/dump/ or s3://b/dump/part-); marker\n"
"                       and manifest files are skipped\n"
"  a file or object     items.json.gz, dump.csv, ...\n"
"  an archive           .tar .tar.gz .tgz .tar.zst .zip, streamed (never extracted); entries\n"
"                       with absolute or '..' paths are refused\n"
"Compression (gzip, zstd or none) is detected by magic bytes.\n"
"\n"
"  -f, --from SOURCE         what to import (alias --s3-bucket-source)\n"
"  -t, --table NEW           the table to create; must not exist\n"
"  -k, --key NAME:TYPE       partition key (TYPE S, N or B); needed unless SOURCE is a\n"
"                            tidemark export, which carries its key schema\n"
"  -s, --sort-key NAME:TYPE  sort key\n"
"      --input-format FMT    DYNAMODB_JSON (one {\"Item\":{...}} per line) or CSV; default:\n"
"                            guessed: CSV for *.csv[.gz|.zst], else DYNAMODB_JSON (an export\n"
"                            is always DYNAMODB_JSON); when none of the first lines parses,\n"
"                            the import stops and names the option\n"
"      --compression C       auto (default), gzip, zstd or none\n"
"      --csv-header a,b,c    column names; then the first line of each file is data\n"
"                            (default: the first line of each file is its header)\n"
"      --csv-delimiter D     one of , ; : | tab space (default ,)\n"
"                            CSV: key columns get their key type, other columns become\n"
"                            strings (S); an empty cell adds no attribute\n"
"      --error-log FILE      write each rejected item as one JSON line (AWS style)\n"
"      --max-errors N        fail (no table) once more than N items are rejected\n"
"                            (default: no limit; rejected items are skipped)\n"
"      --json                print the ImportTableDescription as the aws CLI prints it\n"
"                            (aws dynamodb import-table), with tidemark's SkippedEntries\n"
"                            (archive links that were not read) and ErrorLog; a failed\n"
"                            import prints its FAILED description\n"
"  -q, --quiet               print nothing on stderr on success (errors and rejected\n"
"                            items still)\n"
"      --data DIR            data directory (default $TIDEMARK_HOME, else ~/.tidemark)\n"
"      --endpoint-url URL    import into table NEW of this DynamoDB-API endpoint (Amazon\n"
"                            DynamoDB, ScyllaDB Alternator, dynalite, tidemark serve) by\n"
"                            BatchWriteItem, --threads connections (default 8), retrying\n"
"                            unprocessed items and throttling with backoff; the table is\n"
"                            created (on demand) when missing, from --key/--sort-key or the\n"
"                            export's schema, else its own key schema is used. A failed or\n"
"                            interrupted import deletes the table it created (as AWS\n"
"                            ImportTable leaves none); items it wrote into a table that\n"
"                            existed stay there, and the error says how many. --region\n"
"                            picks its region\n"
"      --s3-endpoint-url URL S3 endpoint of SOURCE (default $AWS_ENDPOINT_URL_S3,\n"
"                            $AWS_ENDPOINT_URL)\n"
"      --profile NAME        AWS profile for credentials and region (default $AWS_PROFILE)\n"
"      --region R, --account A   for the ARNs of --json (as tidemark-export: default\n"
"                            $TIDEMARK_REGION, $AWS_REGION, us-east-1; $TIDEMARK_ACCOUNT,\n"
"                            $AWS_ACCOUNT_ID, 000000000000)\n"
"      --ignore-summary-checksum  import an export whose manifest-summary.json does not\n"
"                            match manifest-summary.md5 (edited by hand, e.g. an account id\n"
"                            anonymised); manifest-files.json and every data file must\n"
"                            still verify\n"
"  -h, --help                show this help and exit\n"
"      --version             show the version and exit\n"
"\n"
"Limits against hostile input (SIZE takes K, M, G suffixes):\n"
"      --max-line-bytes SIZE       longest line or CSV record (default 1M); longer ones\n"
"                                  are rejected items\n"
"      --max-decompressed SIZE     total decompressed bytes (default 1T)\n"
"      --max-ratio N               decompressed:compressed ratio of a file past its first\n"
"                                  64 MiB (default 1000; 0 turns it off)\n"
"      --sort-memory SIZE          memory for sorting before spilling to disk (default 256M)\n"
"      --threads N                 files read in parallel (default: cores, at most 4)\n"
"\n"
"Rejected items (bad JSON, invalid values, missing or mistyped keys, over 400 KB) are skipped\n"
"and counted; the error log names each one: {\"itemS3Pointer\":{\"bucket\":..,\"key\":..,\n"
"\"itemIndex\":N},\"errorMessages\":[..]} (local files: bucket = the directory's name, key =\n"
"the file's path; itemIndex = line number - 1, or CSV record number after the header).\n"
"Duplicate keys are not errors: the later item wins.\n"
"\n"
"Examples:\n"
"  tidemark-import --from ./exports/AWSDynamoDB/01605130432834-8a918b87 --table Orders_copy\n"
"  tidemark-import --from s3://prod-exports/AWSDynamoDB/01605130432834-8a918b87/ \\\n"
"      --table Orders_dev --key pk:S --sort-key sk:S --error-log import-errors.jsonl\n"
"  tidemark-import --from users.csv --table Users --key user_id:N\n"
"  tidemark-import --from dump.tar.zst --table Chats --key user_id:S --sort-key sk:S --json\n"
"  tidemark-import --from ./exports/AWSDynamoDB/01605130432834-8a918b87 --table-name Orders \\\n"
"      --endpoint-url https://dynamodb.eu-west-1.amazonaws.com --threads 16\n"
"\n"
"Replay: --apply-incremental EXPORT applies an incremental export forward onto an existing\n"
"table whose items match the export's OldImages: each NewImage is written (or the item\n"
"deleted); an item that already equals its NewImage is left alone; any other is a CONFLICT,\n"
"left alone (--on-conflict overwrite writes it anyway, fail writes nothing; --dry-run writes\n"
"nothing). It is tidemark-rollback's engine with the images swapped. On a tidemark table the\n"
"exports applied are recorded in the table's directory, starting from the full export the\n"
"table was imported from: an export that does not start where the last one ended (a gap),\n"
"or starts earlier (a repeat, an overlap), is refused naming both times.\n"
"  tidemark-import --from /b/AWSDynamoDB/01762900000000-aaaaaaaa --table Orders2\n"
"  tidemark-import --apply-incremental /b/AWSDynamoDB/01762903600000-bbbbbbbb --table Orders2\n"
"  Exit status: 0 applied, 3 applied with conflicts (or fail found some: nothing written),\n"
"  1 failed or refused (a gap or a repeat), 2 usage error.\n"
"\n"
"Exit status: 0 imported, 1 failed (no table was created or is left; with --endpoint-url\n"
"into an existing table, what was written stays; no credentials too), 2 usage error (a bad\n"
"table name too),\n"
"3 imported with rejected items (see the error count and the error log).\n");
}

enum {
    OPT_FORMAT = 256, OPT_COMPRESSION, OPT_CSV_HEADER, OPT_CSV_DELIM, OPT_ERROR_LOG,
    OPT_MAX_ERRORS, OPT_JSON, OPT_DATA, OPT_VERSION, OPT_MAX_LINE, OPT_MAX_DEC, OPT_MAX_RATIO,
    OPT_SORT_MEM, OPT_THREADS, OPT_ENDPOINT, OPT_PROFILE, OPT_REGION, OPT_ACCOUNT,
    OPT_IGNORE_SUMMARY, OPT_S3ENDPOINT, OPT_APPLY, OPT_DRY_RUN, OPT_ON_CONFLICT,
};

static const char shortopts[] = ":f:t:k:s:qh";
static const struct option opts[] = {
    {"from", required_argument, NULL, 'f'},
    {"s3-bucket-source", required_argument, NULL, 'f'},
    {"table", required_argument, NULL, 't'},
    {"table-name", required_argument, NULL, 't'},
    {"key", required_argument, NULL, 'k'},
    {"sort-key", required_argument, NULL, 's'},
    {"input-format", required_argument, NULL, OPT_FORMAT},
    {"compression", required_argument, NULL, OPT_COMPRESSION},
    {"input-compression-type", required_argument, NULL, OPT_COMPRESSION},
    {"csv-header", required_argument, NULL, OPT_CSV_HEADER},
    {"csv-delimiter", required_argument, NULL, OPT_CSV_DELIM},
    {"error-log", required_argument, NULL, OPT_ERROR_LOG},
    {"max-errors", required_argument, NULL, OPT_MAX_ERRORS},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"data", required_argument, NULL, OPT_DATA},
    {"max-line-bytes", required_argument, NULL, OPT_MAX_LINE},
    {"max-decompressed", required_argument, NULL, OPT_MAX_DEC},
    {"max-ratio", required_argument, NULL, OPT_MAX_RATIO},
    {"sort-memory", required_argument, NULL, OPT_SORT_MEM},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"endpoint-url", required_argument, NULL, OPT_ENDPOINT},
    {"s3-endpoint-url", required_argument, NULL, OPT_S3ENDPOINT},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"region", required_argument, NULL, OPT_REGION},
    {"account", required_argument, NULL, OPT_ACCOUNT},
    {"ignore-summary-checksum", no_argument, NULL, OPT_IGNORE_SUMMARY},
    {"apply-incremental", required_argument, NULL, OPT_APPLY},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"on-conflict", required_argument, NULL, OPT_ON_CONFLICT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static volatile sig_atomic_t cancelled;

/* What the command line says, besides the request members it adds as they come. */
typedef struct args {
    const char *from, *table, *key, *sort_key, *data;
    const char *apply, *on_conflict;   /* --apply-incremental EXPORT */
    int dry_run;
    int json, format;          /* -1: guessed */
    int csv_header;
    cJSON *req;                /* the request being built */
} args;

static void on_signal(int sig)
{
    (void)sig;
    cancelled = 1;
}

static int parse_delim(const char *s, char *out)
{
    if (!strcmp(s, "tab") || !strcmp(s, "\\t") || !strcmp(s, "\t")) { *out = '\t'; return 0; }
    if (!strcmp(s, "space") || !strcmp(s, " ")) { *out = ' '; return 0; }
    if (strlen(s) == 1 && strchr(",;:|", s[0])) { *out = s[0]; return 0; }
    return -1;
}

/* ---- the request ---- */

/* The request's InputFormatOptions.Csv, made on first use. */
static cJSON *csv_options(cJSON *req)
{
    cJSON *f = cJSON_GetObjectItemCaseSensitive(req, "InputFormatOptions");
    if (!f) f = cJSON_AddObjectToObject(req, "InputFormatOptions");
    cJSON *c = cJSON_GetObjectItemCaseSensitive(f, "Csv");
    return c ? c : cJSON_AddObjectToObject(f, "Csv");
}

/* "a,b,c" as the request's HeaderList (replacing an earlier one). */
static void csv_header(cJSON *req, const char *s)
{
    cJSON *c = csv_options(req), *h = cJSON_CreateArray();
    cJSON_DeleteItemFromObjectCaseSensitive(c, "HeaderList");
    for (const char *p = s;; p++) {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        char *name = strndup(p, n);
        cJSON_AddItemToArray(h, cJSON_CreateString(name ? name : ""));
        free(name);
        if (!q) break;
        p = q;
    }
    cJSON_AddItemToObject(c, "HeaderList", h);
}

/* TableCreationParameters: TableName, and the key schema of --key/--sort-key. */
static int table_params(const args *a)
{
    cJSON *tc = cJSON_AddObjectToObject(a->req, "TableCreationParameters");
    cJSON_AddStringToObject(tc, "TableName", a->table);
    if (!a->key) return -1;
    char name[2][KEY_NAME_MAX + 1];
    av_type t[2];
    if (key_parse_spec(a->key, name[0], &t[0])) return cli_usage(prog, "--key: %s", err_msg());
    if (a->sort_key && key_parse_spec(a->sort_key, name[1], &t[1]))
        return cli_usage(prog, "--sort-key: %s", err_msg());
    if (a->sort_key && !strcmp(name[0], name[1]))
        return cli_usage(prog, "--key and --sort-key name the same attribute");
    cJSON *defs = cJSON_AddArrayToObject(tc, "AttributeDefinitions");
    cJSON *ks = cJSON_AddArrayToObject(tc, "KeySchema");
    for (int i = 0; i < (a->sort_key ? 2 : 1); i++) {
        cJSON *d = cJSON_CreateObject(), *k = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "AttributeName", name[i]);
        cJSON_AddStringToObject(d, "AttributeType", t[i] == AV_N ? "N" : t[i] == AV_B ? "B" : "S");
        cJSON_AddStringToObject(k, "AttributeName", name[i]);
        cJSON_AddStringToObject(k, "KeyType", i ? "RANGE" : "HASH");
        cJSON_AddItemToArray(defs, d);
        cJSON_AddItemToArray(ks, k);
    }
    return -1;
}

/* A size option as a request number: -1, or the usage error's exit status. */
static int size_member(args *a, const char *member, const char *opt, const char *v, uint64_t lo,
                       uint64_t hi)
{
    uint64_t n;
    if (cli_size_option(prog, opt, v, lo, hi, &n)) return CLI_USAGE;
    cJSON_AddNumberToObject(a->req, member, (double)n);
    return -1;
}

/* One option into a; -1 to go on, -2 for getopt's complaint, else the exit status. */
static int option(args *a, int c, const char *v)
{
    cJSON *r = a->req;
    char d[2] = "";
    switch (c) {
    case 'f': a->from = v; break;
    case 't': a->table = v; break;
    case 'k': a->key = v; break;
    case 's': a->sort_key = v; break;
    case OPT_FORMAT:
        if ((a->format = import_format_parse(v)) < 0)
            return cli_usage(prog, "--input-format must be DYNAMODB_JSON or CSV, not '%s'%s", v,
                             strcasecmp(v, "ION") ? "" : " (ION is not supported)");
        cJSON_DeleteItemFromObjectCaseSensitive(r, "InputFormat");
        cJSON_AddStringToObject(r, "InputFormat", import_format_name((import_format)a->format));
        break;
    case OPT_COMPRESSION:
        if ((c = import_compression_parse(v)) < 0)
            return cli_usage(prog, "--compression must be auto, gzip, zstd or none, not '%s'", v);
        cJSON_DeleteItemFromObjectCaseSensitive(r, "InputCompressionType");
        cJSON_AddStringToObject(r, "InputCompressionType", import_compression_name((import_compression)c));
        break;
    case OPT_CSV_HEADER: csv_header(r, v); a->csv_header = 1; break;
    case OPT_CSV_DELIM:
        if (parse_delim(v, d))
            return cli_usage(prog, "--csv-delimiter must be one of , ; : | tab space, not '%s'", v);
        cJSON_DeleteItemFromObjectCaseSensitive(csv_options(r), "Delimiter");
        cJSON_AddStringToObject(csv_options(r), "Delimiter", d);
        break;
    case OPT_ERROR_LOG: cJSON_AddStringToObject(r, "TidemarkErrorLog", v); break;
    case OPT_MAX_ERRORS:
        return size_member(a, "TidemarkMaxErrors", "--max-errors", v, 0, UINT64_MAX);
    case OPT_MAX_LINE:
        return size_member(a, "TidemarkMaxLineBytes", "--max-line-bytes", v, 16, 1u << 30);
    case OPT_MAX_DEC:
        return size_member(a, "TidemarkMaxDecompressed", "--max-decompressed", v, 0, UINT64_MAX);
    case OPT_MAX_RATIO:
        return size_member(a, "TidemarkMaxRatio", "--max-ratio", v, 0, UINT64_MAX);
    case OPT_SORT_MEM:
        return size_member(a, "TidemarkSortMemory", "--sort-memory", v, 1u << 20, (uint64_t)1 << 40);
    case OPT_THREADS:
        return size_member(a, "TidemarkThreads", "--threads", v, 1, 64);
    case OPT_ENDPOINT: cJSON_AddStringToObject(r, "TidemarkTableEndpointUrl", v); break;
    case OPT_S3ENDPOINT: cJSON_AddStringToObject(r, "TidemarkEndpointUrl", v); break;
    case OPT_PROFILE: cJSON_AddStringToObject(r, "TidemarkProfile", v); break;
    case OPT_REGION: cJSON_AddStringToObject(r, "TidemarkRegion", v); break;
    case OPT_ACCOUNT: cJSON_AddStringToObject(r, "TidemarkAccount", v); break;
    case OPT_IGNORE_SUMMARY: cJSON_AddTrueToObject(r, "TidemarkIgnoreSummaryChecksum"); break;
    case OPT_APPLY: a->apply = v; break;
    case OPT_DRY_RUN: a->dry_run = 1; break;
    case OPT_ON_CONFLICT: a->on_conflict = v; break;
    case OPT_JSON: a->json = 1; break;
    case 'q': cli_set_quiet(1); break;
    case OPT_DATA: a->data = v; break;
    case 'h': usage(); return CLI_OK;
    case OPT_VERSION: printf("%s (tidemark) %s\n", prog, IMPORT_VERSION); return CLI_OK;
    default: return -2;
    }
    return -1;
}

/* What the command line must say before anything is opened; -1: fine. */
static int check(args *a)
{
    if (a->apply) {
        if (a->from) return cli_usage(prog, "--apply-incremental and --from exclude each other");
        if (!a->table) return cli_usage(prog, "--table is required (the table to apply to)");
        if (a->on_conflict && strcmp(a->on_conflict, "skip") && strcmp(a->on_conflict, "overwrite") &&
            strcmp(a->on_conflict, "fail"))
            return cli_usage(prog, "--on-conflict must be skip, overwrite or fail, not '%s'",
                             a->on_conflict);
        return -1;
    }
    if (a->dry_run || a->on_conflict)
        return cli_usage(prog, "--dry-run and --on-conflict are for --apply-incremental");
    if (!a->from) return cli_usage(prog, "--from is required (what to import)");
    if (!a->table) return cli_usage(prog, "--table is required (the new table's name)");
    if (a->sort_key && !a->key) return cli_usage(prog, "--sort-key needs --key");
    if (a->csv_header && a->format == IMPORT_FMT_DYNAMODB_JSON)
        return cli_usage(prog, "--csv-header is for --input-format CSV");
    if (a->format == IMPORT_FMT_CSV && !a->key)
        return cli_usage(prog, "CSV needs --key NAME:TYPE (and --sort-key if the table has one)");
    cJSON_AddStringToObject(a->req, "TidemarkSource", a->from);
    return table_params(a);
}

/* ---- output ---- */

static const cJSON *get(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = get(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The first rejected items, and how many more there were. */
static void print_rejected(const cJSON *x, int error_log)
{
    const cJSON *s;
    double shown = 0;
    cJSON_ArrayForEach(s, get(x, "TidemarkRejected")) {
        fprintf(stderr, "%s: rejected: %s\n", prog, cJSON_GetStringValue(s));
        shown++;
    }
    if (shown && num(x, "ErrorCount") > shown)
        fprintf(stderr, "%s: ... and %.0f more rejected items%s\n", prog, num(x, "ErrorCount") - shown,
                error_log ? "" : " (--error-log FILE lists them all)");
}

static void summary(progress *p, const char *table, const cJSON *x)
{
    double s = num(x, "EndTime") - num(x, "StartTime");
    cli_progress_done(p, "imported %.0f items into %s (%.0f in the table, %.0f rejected) from %.0f "
                      "files, %.1f MiB in %.2f s (%.0f items/s)", num(x, "ImportedItemCount"), table,
                      num(x, "TidemarkTableItemCount"), num(x, "ErrorCount"), num(x, "TidemarkFiles"),
                      num(x, "ProcessedSizeBytes") / 1048576.0, s,
                      s > 0 ? num(x, "ProcessedItemCount") / s : 0.0);
}

static void print_json(cJSON *resp)
{
    api_backup_strip(resp);
    char *t = tm_awscli_json("ImportTable", resp);
    fputs(t ? t : "", stdout);
    free(t);
}

static void on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int run(const args *a)
{
    tm_db *db = NULL;
    tm_error e;
    tm_backup_run br = TM_BACKUP_RUN_INIT;
    cJSON *resp = NULL;
    int code;
    int remote = get(a->req, "TidemarkTableEndpointUrl") != NULL;
    if (!remote && tm_db_open(cli_home(a->data), 0, &db, &e))
        return cli_report(prog, "import failed", &e);
    on_signals();
    br.cancel = &cancelled;
    br.prog = cli_progress_new(prog, "importing", 0);
    int k = remote ? tm_import_remote_run(NULL, a->req, &br, &resp, &e)
                   : tm_import_run(db, a->req, &br, &resp, &e);
    cJSON *out = k ? br.failed : resp;
    const cJSON *x = get(out, "ImportTableDescription");
    print_rejected(x, get(a->req, "TidemarkErrorLog") != NULL);
    if (k) {
        progress_free(br.prog);
        code = cli_report(prog, "import failed", &e);
    } else {
        summary(br.prog, a->table, x);
        code = num(x, "ErrorCount") ? CLI_PARTIAL : CLI_OK;
    }
    if (a->json && out) print_json(out);
    cJSON_Delete(br.failed);
    cJSON_Delete(resp);
    tm_db_close(db);
    return code;
}

/* ---- --apply-incremental: TidemarkRollback with Direction APPLY ---- */

static int on_applied(void *ctx, const cJSON *r)
{
    const int *json = ctx;
    const char *act = cJSON_GetStringValue(get(r, "Action"));
    if (*json) {
        char *t = cJSON_PrintUnformatted(r);
        printf("%s\n", t ? t : "{}");
        free(t);
    } else if (act && (!strcmp(act, "CONFLICT") || !strcmp(act, "OVERWRITTEN"))) {
        char *k = cJSON_PrintUnformatted(get(r, "Keys")), *c = cJSON_PrintUnformatted(get(r, "Current"));
        printf("%s CONFLICT (not as the export's OldImage): %s\n  current: %s\n", k ? k : "?",
               strcmp(act, "CONFLICT") ? "overwritten" : "left alone", c ? c : "(absent)");
        free(k);
        free(c);
    }
    return 0;
}

/* The import request's members as TidemarkRollback's. */
static void apply_request(const args *a, cJSON *req)
{
    static const char *const same[][2] = {{"TidemarkTableEndpointUrl", "EndpointUrl"},
        {"TidemarkRegion", "Region"}, {"TidemarkProfile", "Profile"},
        {"TidemarkEndpointUrl", "ExportEndpointUrl"}, {"TidemarkProfile", "ExportProfile"}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        const char *v = cJSON_GetStringValue(get(a->req, same[i][0]));
        if (v) cJSON_AddStringToObject(req, same[i][1], v);
    }
    cJSON_AddStringToObject(req, "ExportDir", a->apply);
    cJSON_AddStringToObject(req, "TableName", a->table);
    cJSON_AddStringToObject(req, "Direction", "APPLY");
    if (a->on_conflict) cJSON_AddStringToObject(req, "OnConflict", a->on_conflict);
    if (a->dry_run) cJSON_AddTrueToObject(req, "DryRun");
    if (cJSON_IsTrue(get(a->req, "TidemarkIgnoreSummaryChecksum")))
        cJSON_AddTrueToObject(req, "TidemarkIgnoreSummaryChecksum");
}

static int apply_run(const args *a)
{
    tm_db *db = NULL;
    tm_error e;
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    int code, remote = get(a->req, "TidemarkTableEndpointUrl") != NULL;
    apply_request(a, req);
    if (tm_db_open(cli_home(a->data), remote ? TM_DB_READONLY : 0, &db, &e)) {
        cJSON_Delete(req);
        return cli_report(prog, "apply failed", &e);
    }
    tm_rollback_each each = {on_applied, (void *)&a->json, cli_progress_new(prog, "records", 0),
                             !a->json};
    if (tm_rollback_run(db, req, &each, &resp, &e)) {
        progress_free(each.prog);
        code = cli_report(prog, "apply failed", &e);
    } else {
        const cJSON *s = get(resp, "RollbackSummary");
        if (a->json) on_applied((void *)&a->json, resp);
        cli_progress_done(each.prog, "%s %s to %s: %.0f of %.0f records: %.0f written, %.0f "
                          "deleted, %.0f already applied, %.0f conflicts left alone, %.0f "
                          "overwritten in %.2f s", a->dry_run ? "dry run (nothing written) of"
                          : "applied", a->apply, a->table, num(s, "Chosen"), num(s, "Records"),
                          num(s, "Restored"), num(s, "Deleted"), num(s, "AlreadyRolledBack"),
                          num(s, "Conflicts"), num(s, "Overwritten"), num(s, "Seconds"));
        code = num(s, "Conflicts") > 0 ? tm_err_exit(TM_ERR_WRITE_CONFLICT) : CLI_OK;
    }
    cJSON_Delete(req);
    cJSON_Delete(resp);
    tm_db_close(db);
    return code;
}

int main(int argc, char **argv)
{
    args a = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, -1, 0, cJSON_CreateObject()};
    int c, r = -1;
    /* A fixed threshold: glibc otherwise raises it as big blocks are freed, and buffers of
     * 1 MiB then stay in the heap, fragmented, so that memory creeps up with the input. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    opterr = 0;
    while (r == -1 && (c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1)
        if ((r = option(&a, c, optarg)) == -2) r = cli_bad_option(prog, argv, shortopts, opts);
    if (r == -1 && optind < argc) r = cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    if (r == -1) r = check(&a);
    if (r == -1) r = a.apply ? apply_run(&a) : run(&a);
    cJSON_Delete(a.req);
    return r;
}
