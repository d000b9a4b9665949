/* tidemark-import: import an export (tidemark's or Amazon DynamoDB's) or a dump of DynamoDB
 * JSON / CSV files, local, on S3 or in an archive, into a new table. Argument parsing, printing
 * and exit codes only; the work is in import/. */
#include "engine/buf.h"
#include "engine/cli.h"
#include "engine/err.h"
#include "engine/key.h"
#include "import/import.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "tidemark-import";

static void usage(void)
{
    printf(
"Usage: tidemark-import --from SOURCE --table NEW [OPTION]...\n"
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
"      --json                print the result as an ImportTableDescription (with\n"
"                            SkippedEntries: archive links that were not read)\n"
"      --data DIR            data directory (default $TIDEMARK_HOME, else ~/.tidemark)\n"
"      --endpoint-url URL    S3 endpoint (default $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL)\n"
"      --profile NAME        AWS profile for credentials and region (default $AWS_PROFILE)\n"
"      --region R, --account A   for the ARNs of --json (as tidemark-export: default\n"
"                            $TIDEMARK_REGION, $AWS_REGION, us-east-1; $TIDEMARK_ACCOUNT,\n"
"                            $AWS_ACCOUNT_ID, 000000000000)\n"
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
"\n"
"Exit status: 0 imported, 1 failed (no table was created), 2 usage error,\n"
"3 imported with rejected items (see the error count and the error log).\n");
}

enum {
    OPT_FORMAT = 256, OPT_COMPRESSION, OPT_CSV_HEADER, OPT_CSV_DELIM, OPT_ERROR_LOG,
    OPT_MAX_ERRORS, OPT_JSON, OPT_DATA, OPT_VERSION, OPT_MAX_LINE, OPT_MAX_DEC, OPT_MAX_RATIO,
    OPT_SORT_MEM, OPT_THREADS, OPT_ENDPOINT, OPT_PROFILE, OPT_REGION, OPT_ACCOUNT,
};

static volatile sig_atomic_t cancelled;
static char *header_copy;        /* --csv-header, split in place */
static const char **header;

static void free_args(void)
{
    free(header);
    free(header_copy);
}

static void on_signal(int sig)
{
    (void)sig;
    cancelled = 1;
}

/* "64M" -> bytes. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-') return -1;
    uint64_t m = 1;
    switch (*end) {
    case 'k': case 'K': m = 1ull << 10; end++; break;
    case 'm': case 'M': m = 1ull << 20; end++; break;
    case 'g': case 'G': m = 1ull << 30; end++; break;
    case 't': case 'T': m = 1ull << 40; end++; break;
    default: break;
    }
    if ((*end == 'i' || *end == 'I') && m > 1) end++;
    if ((*end == 'b' || *end == 'B')) end++;
    if (*end || (v && m > UINT64_MAX / v)) return -1;
    *out = v * m;
    return 0;
}

static int parse_delim(const char *s, char *out)
{
    if (!strcmp(s, "tab") || !strcmp(s, "\\t") || !strcmp(s, "\t")) { *out = '\t'; return 0; }
    if (!strcmp(s, "space") || !strcmp(s, " ")) { *out = ' '; return 0; }
    if (strlen(s) == 1 && strchr(",;:|", s[0])) { *out = s[0]; return 0; }
    return -1;
}

/* Splits "a,b,c" into names (strings point into the copy). */
static int split_header(char *s, const char ***names, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    const char **v = calloc(cap, sizeof *v);
    if (!v) return -1;
    size_t k = 0;
    for (char *tok = s;;) {
        char *c = strchr(tok, ',');
        if (c) *c = '\0';
        v[k++] = tok;
        if (!c) break;
        tok = c + 1;
    }
    *names = v;
    *n = k;
    return 0;
}

int main(int argc, char **argv)
{
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
        {"data", required_argument, NULL, OPT_DATA},
        {"max-line-bytes", required_argument, NULL, OPT_MAX_LINE},
        {"max-decompressed", required_argument, NULL, OPT_MAX_DEC},
        {"max-ratio", required_argument, NULL, OPT_MAX_RATIO},
        {"sort-memory", required_argument, NULL, OPT_SORT_MEM},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"endpoint-url", required_argument, NULL, OPT_ENDPOINT},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"region", required_argument, NULL, OPT_REGION},
        {"account", required_argument, NULL, OPT_ACCOUNT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    import_options o = IMPORT_OPTIONS_INIT;
    key_schema ks;
    memset(&ks, 0, sizeof ks);
    const char *data = NULL, *key = NULL, *sort_key = NULL;
    int json = 0, c, v;
    uint64_t n;
    /* A fixed threshold: glibc otherwise raises it as big blocks are freed, and buffers of
     * 1 MiB then stay in the heap, fragmented, so that memory creeps up with the input. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    opterr = 0;
    atexit(free_args);   /* every early return (usage errors) frees them too */
    while ((c = getopt_long(argc, argv, ":f:t:k:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': o.from = optarg; break;
        case 't': o.table = optarg; break;
        case 'k': key = optarg; break;
        case 's': sort_key = optarg; break;
        case OPT_FORMAT:
            if ((v = import_format_parse(optarg)) < 0)
                return cli_usage(prog, "--input-format must be DYNAMODB_JSON or CSV, not '%s'%s",
                                 optarg, strcasecmp(optarg, "ION") ? "" : " (ION is not supported)");
            o.format = (import_format)v;
            break;
        case OPT_COMPRESSION:
            if ((v = import_compression_parse(optarg)) < 0)
                return cli_usage(prog, "--compression must be auto, gzip, zstd or none, not '%s'",
                                 optarg);
            o.compression = (import_compression)v;
            break;
        case OPT_CSV_HEADER:
            free(header_copy);
            free(header);
            header = NULL;
            if (!(header_copy = strdup(optarg)) ||
                split_header(header_copy, &header, &o.csv_header_n))
                return cli_fail(prog, "--csv-header", err_set(TM_ENOMEM, "out of memory"));
            o.csv_header = header;
            break;
        case OPT_CSV_DELIM:
            if (parse_delim(optarg, &o.csv_delimiter))
                return cli_usage(prog, "--csv-delimiter must be one of , ; : | tab space, not "
                                 "'%s'", optarg);
            break;
        case OPT_ERROR_LOG: o.error_log = optarg; break;
        case OPT_MAX_ERRORS:
            if (parse_size(optarg, &n)) return cli_usage(prog, "--max-errors needs a number, not '%s'", optarg);
            o.max_errors = n;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_DATA: data = optarg; break;
        case OPT_MAX_LINE:
            if (parse_size(optarg, &n) || n < 16 || n > (1u << 30))
                return cli_usage(prog, "--max-line-bytes needs a size from 16 to 1G, not '%s'", optarg);
            o.max_line = (size_t)n;
            break;
        case OPT_MAX_DEC:
            if (parse_size(optarg, &n)) return cli_usage(prog, "--max-decompressed needs a size, not '%s'", optarg);
            o.max_decompressed = n;
            break;
        case OPT_MAX_RATIO:
            if (parse_size(optarg, &n)) return cli_usage(prog, "--max-ratio needs a number, not '%s'", optarg);
            o.max_ratio = n;
            break;
        case OPT_SORT_MEM:
            if (parse_size(optarg, &n) || n < (1u << 20) || n > ((uint64_t)1 << 40))
                return cli_usage(prog, "--sort-memory needs a size of at least 1M, not '%s'", optarg);
            o.sort_memory = (size_t)n;
            break;
        case OPT_THREADS:
            if (parse_size(optarg, &n) || n < 1 || n > 64)
                return cli_usage(prog, "--threads needs a number from 1 to 64, not '%s'", optarg);
            o.threads = (int)n;
            break;
        case OPT_ENDPOINT: o.endpoint_url = optarg; break;
        case OPT_PROFILE: o.profile = optarg; break;
        case OPT_REGION: o.region = optarg; break;
        case OPT_ACCOUNT: o.account = optarg; break;
        case 'h': usage(); return CLI_OK;
        case OPT_VERSION: printf("%s (tidemark) %s\n", prog, IMPORT_VERSION); return CLI_OK;
        case ':': return cli_usage(prog, "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage(prog, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    if (!o.from) return cli_usage(prog, "--from is required (what to import)");
    if (!o.table) return cli_usage(prog, "--table is required (the new table's name)");
    if (sort_key && !key) return cli_usage(prog, "--sort-key needs --key");
    if (key) {
        if (key_parse_spec(key, ks.hash_name, &ks.hash_type))
            return cli_usage(prog, "--key: %s", err_msg());
        if (sort_key && key_parse_spec(sort_key, ks.range_name, &ks.range_type))
            return cli_usage(prog, "--sort-key: %s", err_msg());
        if (sort_key && !strcmp(ks.hash_name, ks.range_name))
            return cli_usage(prog, "--key and --sort-key name the same attribute");
        o.ks = &ks;
    }
    if (o.csv_header && o.format == IMPORT_FMT_DYNAMODB_JSON)
        return cli_usage(prog, "--csv-header is for --input-format CSV");
    if (o.format == IMPORT_FMT_CSV && !key)
        return cli_usage(prog, "CSV needs --key NAME:TYPE (and --sort-key if the table has one)");
    o.home = cli_home(data);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    o.cancel = &cancelled;
    o.prog = progress_new(prog, "importing", 0);

    import_result r;
    int rc = import_run(&o, &r);
    int code;
    if (r.nsamples > 0) {
        for (int i = 0; i < r.nsamples; i++) fprintf(stderr, "%s: rejected: %s\n", prog, r.samples[i]);
        if (r.error_count > (uint64_t)r.nsamples)
            fprintf(stderr, "%s: ... and %" PRIu64 " more rejected items%s\n", prog,
                    r.error_count - (uint64_t)r.nsamples,
                    o.error_log ? "" : " (--error-log FILE lists them all)");
    }
    if (rc) {
        progress_free(o.prog);
        code = cli_fail(prog, "import failed", rc);
        if (rc == TM_EINVAL && !strcmp(r.failure_code, "ValidationException")) code = CLI_USAGE;
    } else {
        double s = (double)(r.end_us - r.start_us) / 1e6;
        progress_done(o.prog, "imported %" PRIu64 " items into %s (%" PRIu64 " in the table, %"
                      PRIu64 " rejected) from %" PRIu64 " files, %.1f MiB in %.2f s (%.0f items/s)",
                      r.imported_items, o.table, r.table_items, r.error_count, r.files,
                      (double)r.processed_bytes / 1048576.0, s,
                      s > 0 ? (double)r.processed_items / s : 0.0);
        code = r.error_count ? CLI_PARTIAL : CLI_OK;
    }
    if (json) {
        buf out = BUF_INIT;
        if (rc && !r.bucket[0] && !strncmp(o.from, "s3://", 5)) {
            /* The source was never opened: the failure still names the bucket and prefix
             * given (after cli_fail: a malformed URL's err_set must not replace its detail). */
            buf bk = BUF_INIT, pf = BUF_INIT;
            if (!store_s3_split(o.from, &bk, &pf)) {
                snprintf(r.bucket, sizeof r.bucket, "%s", bk.data);
                snprintf(r.key_prefix, sizeof r.key_prefix, "%s", pf.data);
            }
            buf_free(&bk);
            buf_free(&pf);
        }
        if (!import_result_json(&o, &r, &out)) {
            buf_putc(&out, '\n');
            fputs(out.data, stdout);
        }
        buf_free(&out);
    }
    return code;
}
