/* tidemark-restore: restore a table to any time of its PITR window into a new table, or show
 * the plan. Argument parsing, printing and exit codes only; the work is in restore/ and pitr/. */
#include "api/backup.h"
#include "cli/cli.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/text.h"
#include "include/tidemark.h"
#include "restore/restore.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "tidemark-restore";

static void usage(void)
{
    printf(
"Usage: tidemark-restore --table NAME --target NEW (--time TIME | --latest) [OPTION]...\n"
"Restore table NAME as it was at TIME (every write up to and including TIME) into the new\n"
"table NEW. NEW gets NAME's key schema and settings; point-in-time recovery starts disabled\n"
"on it. TIME must lie in NAME's restorable window (tidemark pitr status --table NAME).\n"
"\n"
"The restore plans the cheapest path: forward from a snapshot taken before TIME, or backward\n"
"from the live table or a later snapshot by undoing the log. The source keeps taking writes\n"
"meanwhile. NEW appears only when it is complete; an interrupted restore leaves no table.\n"
"\n"
"  -t, --table NAME        source table (alias --source-table-name)\n"
"  -T, --target NEW        table to create; must not exist (alias --target-table-name)\n"
"      --time TIME         the time to restore to, in any form below\n"
"                          (alias --restore-date-time)\n"
"      --latest            the latest restorable time (alias --use-latest-restorable-time)\n"
"  -n, --dry-run           print the plan (direction, seed, segments, estimated bytes and\n"
"                          time) and write nothing\n"
"      --json              print the RestoreTableToPointInTime response as the aws CLI\n"
"                          prints it (or the plan as JSON)\n"
"  -q, --quiet             print nothing on stderr on success (errors still)\n"
"      --data DIR          data directory (default $TIDEMARK_HOME, else ~/.tidemark)\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
CLI_HELP_TIME
"\n"
"Restoring from a full export (tidemark's or AWS's) into a new table is tidemark-import's job:\n"
"  tidemark-import --help\n"
"\n"
"Examples:\n"
"  tidemark-restore --table Orders --target Orders_1014 --time 2025-11-12T10:14:59Z\n"
"  tidemark-restore --table Orders --target Orders_1014 --time -90m --dry-run\n"
"  tidemark-restore --table Orders --target Orders_now --latest --json\n"
"\n"
"Exit status: 0 restored (or planned), 1 failed (nothing was created), 2 usage error\n"
"(a bad table name too).\n");
}

enum { OPT_TIME = 256, OPT_LATEST, OPT_JSON, OPT_DATA, OPT_VERSION, OPT_DIRECTION };

/* The RestoreTableToPointInTime request for the options. */
static cJSON *request(const restore_options *o)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "SourceTableName", o->source);
    cJSON_AddStringToObject(r, "TargetTableName", o->target);
    if (o->time_us == PITR_LATEST) cJSON_AddBoolToObject(r, "UseLatestRestorableTime", 1);
    else tm_json_time(r, "RestoreDateTime", o->time_us);
    if (o->direction != PITR_AUTO)
        cJSON_AddStringToObject(r, "TidemarkDirection", o->direction == PITR_FORWARD ? "forward"
                                                                                 : "backward");
    return r;
}

static int print_plan(tm_db *db, const cJSON *req, const restore_options *o, int json)
{
    tm_error e;
    cJSON *resp = NULL;
    if (tm_restore_plan(db, req, &resp, &e)) return cli_report(prog, "plan", &e);
    if (json) {
        char *t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(resp, "Plan"));
        printf("%s\n", t);
        free(t);
    } else {
        printf("restore %s into %s (dry run: nothing written)\n%s", o->source, o->target,
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(resp, "Text")));
    }
    cJSON_Delete(resp);
    return CLI_OK;
}

static double num(const cJSON *o, const char *name)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static const char *str(const cJSON *o, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static int run(const restore_options *o, int dry, int json)
{
    tm_db *db = NULL;
    tm_error e;
    int code;
    if (tm_db_open(o->home, TM_DB_READONLY, &db, &e)) return cli_report(prog, "restore", &e);
    cJSON *req = request(o), *resp = NULL;
    if (dry) {
        code = print_plan(db, req, o, json);
        goto out;
    }
    tm_backup_run br = TM_BACKUP_RUN_INIT;
    br.prog = cli_progress_new(prog, "restoring: log records", 0);
    if (tm_restore_run(db, req, &br, &resp, &e)) {
        progress_free(br.prog);
        code = cli_report(prog, "restore", &e);
        goto out;
    }
    const cJSON *td = cJSON_GetObjectItemCaseSensitive(resp, "TableDescription");
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(td, "RestoreSummary");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(td, "TidemarkRestoreStats");
    char t[40], hb[32];
    clock_format(tm_json_time_us(num(rs, "RestoreDateTime")), 6, t, sizeof t);
    text_human_bytes(num(td, "TableSizeBytes"), hb, sizeof hb);
    cli_progress_done(br.prog, "restored %s at %s into %s: %.0f items, %s (%s from %s at seq "
                      "%.0f, %.0f log records) in %.2f s", o->source, t, o->target,
                      num(td, "ItemCount"), hb, str(st, "Direction"), str(st, "Seed"),
                      num(st, "SeedSeq"), num(st, "LogRecords"), num(st, "Seconds"));
    if (json) {
        api_backup_strip(resp);
        char *text = tm_awscli_json("RestoreTableToPointInTime", resp);
        fputs(text ? text : "", stdout);
        free(text);
    }
    code = CLI_OK;
out:
    cJSON_Delete(req);
    cJSON_Delete(resp);
    tm_db_close(db);
    return code;
}

static const char shortopts[] = ":t:T:nqh";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"table", required_argument, NULL, 't'},
        {"source-table-name", required_argument, NULL, 't'},
        {"target", required_argument, NULL, 'T'},
        {"target-table-name", required_argument, NULL, 'T'},
        {"time", required_argument, NULL, OPT_TIME},
        {"restore-date-time", required_argument, NULL, OPT_TIME},
        {"latest", no_argument, NULL, OPT_LATEST},
        {"use-latest-restorable-time", no_argument, NULL, OPT_LATEST},
        {"dry-run", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"data", required_argument, NULL, OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        /* Not in --help: forces a plan direction (tests and benchmarks compare them). */
        {"direction", required_argument, NULL, OPT_DIRECTION},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *time_s = NULL;
    int latest = 0, dry = 0, json = 0, c;
    restore_options o = RESTORE_OPTIONS_INIT;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 't': o.source = optarg; break;
        case 'T': o.target = optarg; break;
        case OPT_TIME: time_s = optarg; break;
        case OPT_LATEST: latest = 1; break;
        case 'n': dry = 1; break;
        case OPT_JSON: json = 1; break;
        case 'q': cli_set_quiet(1); break;
        case OPT_DATA: data = optarg; break;
        case 'h': usage(); return CLI_OK;
        case OPT_VERSION: printf("%s (tidemark) %s\n", prog, RESTORE_VERSION); return CLI_OK;
        case OPT_DIRECTION:
            if (!strcmp(optarg, "forward")) o.direction = PITR_FORWARD;
            else if (!strcmp(optarg, "backward")) o.direction = PITR_BACKWARD;
            else if (!strcmp(optarg, "auto")) o.direction = PITR_AUTO;
            else return cli_usage(prog, "--direction must be forward, backward or auto, not "
                                  "'%s'", optarg);
            break;
        default: return cli_bad_option(prog, argv, shortopts, opts);
        }
    }
    if (optind < argc) return cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    if (!o.source) return cli_usage(prog, "--table is required");
    if (!o.target) return cli_usage(prog, "--target is required (the new table's name)");
    if (!time_s == !latest) return cli_usage(prog, "give exactly one of --time and --latest");
    if (time_s) {
        if (clock_parse(time_s, &o.time_us)) return cli_usage(prog, "--time: %s", err_msg());
    } else {
        o.time_us = PITR_LATEST;
    }
    o.home = cli_home(data);
    return run(&o, dry, json);
}
