/* tidemark-export: full and incremental exports in Amazon DynamoDB's format to a directory or
 * S3, and list/describe/verify of exports. Argument parsing, printing and exit codes only; the
 * work is in export/ (the format is specified at the top of export/export.c). */
#include "engine/buf.h"
#include "engine/cli.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "export/export.h"
#include "store/store.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "tidemark-export";

static void usage(void)
{
    printf(
"Usage: tidemark-export --table NAME --to DEST [--time TIME] [OPTION]...\n"
"       tidemark-export --table NAME --to DEST --incremental --from TIME [--until TIME]\n"
"                       [--view NEW_AND_OLD_IMAGES|NEW_IMAGE] [OPTION]...\n"
"       tidemark-export --resume DEST/AWSDynamoDB/ID [--jobs N]\n"
"       tidemark-export list DEST [--json]\n"
"       tidemark-export describe DEST/AWSDynamoDB/ID [--json]\n"
"       tidemark-export verify DEST/AWSDynamoDB/ID [--json]\n"
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
"      --time TIME         FULL: export the state at TIME (alias --export-time)\n"
"  -i, --incremental       INCREMENTAL export (alias --export-type INCREMENTAL_EXPORT)\n"
"      --from TIME         start of the window, inclusive (alias --export-from-time)\n"
"      --until TIME        end of the window, exclusive; default now (alias --export-to-time)\n"
"      --view VIEW         NEW_AND_OLD_IMAGES (default) or NEW_IMAGE (alias\n"
"                          --export-view-type)\n"
"      --compression C     gzip (default, as AWS) or zstd (.json.zst files; AWS ImportTable\n"
"                          reads ZSTD too)\n"
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
"      --endpoint-url URL  S3 endpoint (default $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL)\n"
"      --profile NAME      AWS profile for credentials and region (default $AWS_PROFILE)\n"
"      --json              print the ExportDescription (DescribeExport's shape) as JSON\n"
"      --data DIR          data directory (default $TIDEMARK_HOME, else ~/.tidemark)\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"TIME: ISO-8601 UTC (2025-11-12T10:14:59Z, optional .ffffff), epoch seconds, or relative to\n"
"now (-90m, -2h, -7d). Progress goes to stderr on a terminal; otherwise one summary line.\n"
"On success the export's directory (DEST/AWSDynamoDB/<ExportId>) is printed on stdout.\n"
"An interrupted export never has a manifest-summary.json; describe shows it FAILED or\n"
"IN_PROGRESS and --resume finishes it, unless it was killed in its first moment, before it\n"
"recorded its state (_started but no tidemark-export-state.json): run that one again.\n"
"verify also checks tidemark-schema.json's checksum (an older tidemark's has none: only its\n"
"shape is checked, and verify says so).\n"
"\n"
"Examples:\n"
"  tidemark-export --table Orders --to /backups/orders --jobs 4\n"
"  tidemark-export --table Orders --to s3://backups/orders --time 2025-11-12T10:14:59Z\n"
"  tidemark-export --table Orders --to s3://backups/orders --incremental --from -1h\n"
"  tidemark-export --table Orders --to /backups/orders --compression zstd\n"
"  tidemark-export list /backups/orders\n"
"  tidemark-export verify /backups/orders/AWSDynamoDB/01731405600000-8a918b87\n"
"  tidemark-export --resume /backups/orders/AWSDynamoDB/01731405600000-8a918b87\n"
"\n"
"Exit status: 0 success (verify: all checks pass), 1 failure (verify: a problem found),\n"
"2 usage error.\n");
}

enum {
    OPT_TIME = 256, OPT_FROM, OPT_UNTIL, OPT_VIEW, OPT_COMPRESSION, OPT_LEVEL, OPT_MAXFILE,
    OPT_REGION, OPT_ACCOUNT, OPT_RESUME, OPT_TMP, OPT_ENDPOINT, OPT_PROFILE, OPT_JSON, OPT_DATA,
    OPT_VERSION, OPT_EXPORT_TYPE, OPT_NCMEM,
};

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s) return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'B') end += *end == 'i' ? (end[1] == 'B' ? 2 : 1) : 1;
    if (*end || !v) return -1;
    *out = v;
    return 0;
}

static void human(double b, char *out, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) { b /= 1024; i++; }
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static void print_json_desc(const export_desc *d)
{
    buf b = BUF_INIT;
    export_desc_json(d, &b);
    buf_putc(&b, '\n');
    fputs(b.data, stdout);
    buf_free(&b);
}

static void print_desc(const export_desc *d)
{
    char t[40];
    printf("ExportId:        %s\n", d->id);
    printf("Status:          %s\n", d->status);
    if (d->failure[0]) printf("Failure:         %s\n", d->failure);
    printf("Type:            %s\n", export_type_name(d->type));
    printf("Table:           %s (%s)\n", d->table_name, d->table_id);
    printf("ExportArn:       %s\n", d->export_arn);
    if (d->type == EXPORT_FULL && d->export_time_us) {
        clock_format(d->export_time_us, 3, t, sizeof t);
        printf("ExportTime:      %s\n", t);
    }
    if (d->type == EXPORT_INCREMENTAL) {
        clock_format(d->from_us, 3, t, sizeof t);
        printf("Window:          [%s, ", t);
        clock_format(d->to_us, 3, t, sizeof t);
        printf("%s)\n", t);
        printf("View:            %s\n", export_view_name(d->view));
    }
    if (d->start_us) {
        clock_format(d->start_us, 3, t, sizeof t);
        printf("StartTime:       %s\n", t);
    }
    if (d->end_us) {
        clock_format(d->end_us, 3, t, sizeof t);
        printf("EndTime:         %s\n", t);
    }
    printf("ItemCount:       %" PRIu64 "\n", d->item_count);
    printf("BilledSizeBytes: %" PRIu64 "\n", d->billed_bytes);
    printf("DataFiles:       %" PRIu64 "\n", d->files);
    printf("S3Bucket:        %s\n", d->bucket);
    printf("S3Prefix:        %s\n", d->prefix[0] ? d->prefix : "(none)");
    printf("Location:        %s\n", d->dir);
}

/* ---- list / describe / verify ---- */

static int cmd_list(const char *dest, const store_options *so, int json)
{
    export_desc *v = NULL;
    size_t n = 0;
    int rc = export_list(dest, so, &v, &n);
    if (rc) return cli_fail(prog, "list", rc);
    buf b = BUF_INIT;
    if (json) {
        buf_puts(&b, "{\"ExportSummaries\":[");
        for (size_t i = 0; i < n; i++) {
            buf_printf(&b, "%s{\"ExportArn\":\"%s\",\"ExportStatus\":\"%s\",\"ExportType\":\"%s\"}",
                       i ? "," : "", v[i].export_arn, v[i].status, export_type_name(v[i].type));
        }
        buf_puts(&b, "]}\n");
    } else {
        buf_printf(&b, "%-25s %-11s %-18s %12s  %-24s %s\n", "EXPORT ID", "STATUS", "TYPE",
                   "ITEMS", "TIME", "TABLE");
        for (size_t i = 0; i < n; i++) {
            char t[40] = "-";
            int64_t tt = v[i].type == EXPORT_FULL ? v[i].export_time_us : v[i].to_us;
            if (tt) clock_format(tt, 3, t, sizeof t);
            buf_printf(&b, "%-25s %-11s %-18s %12" PRIu64 "  %-24s %s\n", v[i].id, v[i].status,
                       export_type_name(v[i].type), v[i].item_count, t, v[i].table_name);
        }
    }
    fputs(b.data, stdout);
    buf_free(&b);
    free(v);
    return CLI_OK;
}

static int cmd_describe(const char *dir, const store_options *so, int json)
{
    export_desc d;
    int rc = export_describe(dir, so, &d);
    if (rc) return cli_fail(prog, "describe", rc);
    if (json) print_json_desc(&d);
    else print_desc(&d);
    return CLI_OK;
}

typedef struct vrep {
    int json;
    buf *out;
    int n;
} vrep;

static void json_str(buf *b, const char *s)
{
    buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') buf_printf(b, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) buf_printf(b, "\\u%04x", *s);
        else buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

static void on_problem(void *ctx, const char *what, const char *detail)
{
    vrep *r = ctx;
    if (r->json) {
        buf_puts(r->out, r->n ? "," : "");
        buf_puts(r->out, "{\"What\":");
        json_str(r->out, what);
        buf_puts(r->out, ",\"Detail\":");
        json_str(r->out, detail);
        buf_puts(r->out, "}");
    } else {
        printf("PROBLEM %s: %s\n", what, detail);
    }
    r->n++;
}

static int cmd_verify(const char *dir, const store_options *so, int json)
{
    buf b = BUF_INIT;
    vrep r = {json, &b, 0};
    export_verify_stats st;
    progress *p = progress_new(prog, "verifying", 0);
    int rc = export_verify(dir, so, on_problem, &r, &st);
    if (rc && rc != TM_ECORRUPT) {
        progress_free(p);
        buf_free(&b);
        return cli_fail(prog, "verify", rc);
    }
    char hb[32];
    human((double)st.bytes, hb, sizeof hb);
    static const char *const schema[] = {"NONE", "CHECKED", "UNCHECKED", "BAD"};
    if (json) {
        printf("{\"Valid\":%s,\"DataFiles\":%" PRIu64 ",\"DataFilesOk\":%" PRIu64
               ",\"ItemCount\":%" PRIu64 ",\"Lines\":%" PRIu64 ",\"Bytes\":%" PRIu64
               ",\"Schema\":\"%s\",\"Problems\":[%s]}\n", rc ? "false" : "true", st.files,
               st.files_ok, st.items, st.lines, st.bytes, schema[st.schema], b.data ? b.data : "");
    } else if (!rc) {
        printf("OK %s: %" PRIu64 " data file%s, %" PRIu64 " items, %s: every checksum, etag, "
               "count and line verified\n", dir, st.files, st.files == 1 ? "" : "s", st.lines, hb);
        if (st.schema == EXPORT_SCHEMA_UNCHECKED)
            printf("NOTE tidemark-schema.json has no checksum (schema version 1, an older "
                   "tidemark): only its JSON shape was checked\n");
    } else {
        printf("FAILED %s: %" PRIu64 " problem%s (%" PRIu64 " of %" PRIu64 " data files ok)\n",
               dir, st.problems, st.problems == 1 ? "" : "s", st.files_ok, st.files);
    }
    progress_free(p);
    buf_free(&b);
    return rc ? CLI_FAIL : CLI_OK;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"table", required_argument, NULL, 't'},
        {"table-name", required_argument, NULL, 't'},
        {"to", required_argument, NULL, 'o'},
        {"s3-destination", required_argument, NULL, 'o'},
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
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"json", no_argument, NULL, OPT_JSON},
        {"data", required_argument, NULL, OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        /* Not in --help: the grouping memory of incremental exports (tests force spills). */
        {"netchange-mem", required_argument, NULL, OPT_NCMEM},
        {NULL, 0, NULL, 0},
    };
    export_options o = EXPORT_OPTIONS_INIT;
    store_options so = STORE_OPTIONS_INIT;
    const char *data = NULL, *time_s = NULL, *from_s = NULL, *until_s = NULL, *resume = NULL;
    int json = 0, incremental = 0, c;
    uint64_t v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":t:o:ij:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': o.table = optarg; break;
        case 'o': o.dest = optarg; break;
        case OPT_TIME: time_s = optarg; break;
        case 'i': incremental = 1; break;
        case OPT_EXPORT_TYPE:
            if (!strcmp(optarg, "INCREMENTAL_EXPORT")) incremental = 1;
            else if (!strcmp(optarg, "FULL_EXPORT")) incremental = 0;
            else return cli_usage(prog, "--export-type must be FULL_EXPORT or INCREMENTAL_EXPORT");
            break;
        case OPT_FROM: from_s = optarg; break;
        case OPT_UNTIL: until_s = optarg; break;
        case OPT_VIEW:
            if (!strcmp(optarg, "NEW_AND_OLD_IMAGES")) o.view = EXPORT_VIEW_NEW_AND_OLD;
            else if (!strcmp(optarg, "NEW_IMAGE")) o.view = EXPORT_VIEW_NEW;
            else return cli_usage(prog, "--view must be NEW_AND_OLD_IMAGES or NEW_IMAGE, not '%s'",
                                  optarg);
            break;
        case OPT_COMPRESSION:
            if (!strcasecmp(optarg, "gzip")) o.compression = EXPORT_GZIP;
            else if (!strcasecmp(optarg, "zstd")) o.compression = EXPORT_ZSTD;
            else return cli_usage(prog, "--compression must be gzip or zstd, not '%s'", optarg);
            break;
        case OPT_LEVEL:
            o.level = atoi(optarg);
            if (o.level < 1 || o.level > 22) return cli_usage(prog, "--level: bad level '%s'",
                                                              optarg);
            break;
        case 'j':
            o.jobs = atoi(optarg);
            if (o.jobs < 1 || o.jobs > EXPORT_JOBS_MAX)
                return cli_usage(prog, "--jobs must be 1..%d, not '%s'", EXPORT_JOBS_MAX, optarg);
            break;
        case OPT_MAXFILE:
            if (parse_size(optarg, &o.max_file_bytes))
                return cli_usage(prog, "--max-file-size: bad size '%s'", optarg);
            break;
        case OPT_NCMEM:
            if (parse_size(optarg, &v)) return cli_usage(prog, "--netchange-mem: bad size '%s'",
                                                         optarg);
            o.netchange_mem = (size_t)v;
            break;
        case OPT_REGION: o.region = optarg; break;
        case OPT_ACCOUNT: o.account = optarg; break;
        case OPT_RESUME: resume = optarg; break;
        case OPT_TMP: o.tmp_dir = optarg; break;
        case OPT_ENDPOINT: so.endpoint_url = optarg; break;
        case OPT_PROFILE: so.profile = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_DATA: data = optarg; break;
        case 'h': usage(); return CLI_OK;
        case OPT_VERSION: printf("%s (tidemark) %s\n", prog, EXPORT_VERSION); return CLI_OK;
        case ':': return cli_usage(prog, "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage(prog, "unknown option '%s'", argv[optind - 1]);
        }
    }
    o.store = &so;
    o.home = cli_home(data);

    if (optind < argc) {
        const char *cmd = argv[optind];
        if (strcmp(cmd, "list") && strcmp(cmd, "describe") && strcmp(cmd, "verify"))
            return cli_usage(prog, "unknown command '%s' (list, describe, verify)", cmd);
        if (optind + 2 != argc)
            return cli_usage(prog, "%s takes one %s", cmd,
                             strcmp(cmd, "list") ? "export directory (DEST/AWSDynamoDB/ID)"
                                                 : "destination (DEST)");
        if (o.table || o.dest || resume)
            return cli_usage(prog, "%s takes no --table, --to or --resume", cmd);
        const char *arg = argv[optind + 1];
        if (!strcmp(cmd, "list")) return cmd_list(arg, &so, json);
        if (!strcmp(cmd, "describe")) return cmd_describe(arg, &so, json);
        return cmd_verify(arg, &so, json);
    }

    int rc;
    export_desc d;
    if (resume) {
        if (o.table || o.dest || time_s || from_s || until_s || incremental)
            return cli_usage(prog, "--resume takes the export's own parameters: give only the "
                             "directory (and --jobs, --data)");
        o.prog = progress_new(prog, "exporting", 0);
        rc = export_resume(resume, &o, &d);
        if (rc) {
            progress_free(o.prog);
            return cli_fail(prog, "resume", rc);
        }
    } else {
        if (!o.table) return cli_usage(prog, "--table is required");
        if (!o.dest) return cli_usage(prog, "--to is required (a directory or s3://bucket/prefix)");
        if (incremental) {
            o.type = EXPORT_INCREMENTAL;
            if (time_s) return cli_usage(prog, "--time is for full exports; an incremental export "
                                         "takes --from and --until");
            if (!from_s) return cli_usage(prog, "--incremental needs --from");
            if (clock_parse(from_s, &o.from_us)) return cli_usage(prog, "--from: %s", err_msg());
            if (until_s && clock_parse(until_s, &o.to_us))
                return cli_usage(prog, "--until: %s", err_msg());
            if (until_s && o.to_us <= o.from_us)
                return cli_usage(prog, "--until must be after --from");
        } else {
            if (from_s || until_s) return cli_usage(prog, "--from and --until need --incremental");
            if (time_s && clock_parse(time_s, &o.time_us))
                return cli_usage(prog, "--time: %s", err_msg());
            if (time_s && o.time_us <= 0) return cli_usage(prog, "--time: before 1970");
        }
        o.prog = progress_new(prog, "exporting", 0);
        rc = export_run(&o, &d);
        if (rc) {
            progress_free(o.prog);
            return cli_fail(prog, "export", rc);
        }
    }
    char hb[32];
    human((double)d.billed_bytes, hb, sizeof hb);
    double el = progress_elapsed(o.prog);
    progress_done(o.prog, "exported %s (%s): %" PRIu64 " %s in %" PRIu64 " data file%s, %s of "
                  "JSON, in %.2f s -> %s", d.table_name, export_type_name(d.type), d.item_count,
                  d.type == EXPORT_FULL ? "items" : "records", d.files, d.files == 1 ? "" : "s",
                  hb, el, d.dir);
    if (json) print_json_desc(&d);
    else printf("%s\n", d.dir);
    return CLI_OK;
}
