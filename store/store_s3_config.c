/* store_s3_config.c: S3 (and other AWS services') settings resolved the way the AWS CLI and SDKs
 * do it.
 *
 * Order for each setting: the store option, then the environment, then the profile in the shared
 * files, then the default (see store.h CONFIGURATION). Files are INI: "[name]" sections in the
 * credentials file, "[profile name]" (or "[default]") in the config file; "key = value" lines;
 * '#' and ';' comments; indented lines belong to a nested block ("s3 =") and are skipped.
 * Secrets are never put into error details, and are wiped on free. */
#include "store/store_internal.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ATTEMPTS 5

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* Expands "~/" with $HOME. */
static char *expand_home(const char *path)
{
    const char *home = getenv("HOME");
    if (path[0] == '~' && path[1] == '/' && home) {
        size_t n = strlen(home) + strlen(path);
        char *p = malloc(n);
        if (p) snprintf(p, n, "%s%s", home, path + 1);
        return p;
    }
    return strdup(path);
}

/* Reads `key` of `section` from an INI file; NULL when absent. *found_section is set when the
 * section exists. Returns a malloc'd value. */
static char *ini_get(const char *path, const char *section, const char *key, int *found_section)
{
    buf f = BUF_INIT;
    char *val = NULL, *p = expand_home(path);
    if (!p || fsx_read_file(p, 1 << 20, &f) || !f.data) goto out;
    int in = 0;
    char *save = NULL;
    for (char *line = strtok_r(f.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        while (n && isspace((unsigned char)line[n - 1])) line[--n] = '\0';
        if (n == 0 || line[0] == '#' || line[0] == ';') continue;
        if (isspace((unsigned char)line[0])) continue;  /* nested block */
        if (line[0] == '[') {
            char *close = strchr(line, ']');
            if (!close) continue;
            *close = '\0';
            char *name = line + 1;
            while (isspace((unsigned char)*name)) name++;
            size_t l = strlen(name);
            while (l && isspace((unsigned char)name[l - 1])) name[--l] = '\0';
            in = !strcmp(name, section);
            if (in && found_section) *found_section = 1;
            continue;
        }
        if (!in) continue;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        char *k = line, *v = eq + 1;
        *eq = '\0';
        size_t kl = strlen(k);
        while (kl && isspace((unsigned char)k[kl - 1])) k[--kl] = '\0';
        while (isspace((unsigned char)*v)) v++;
        if (!strcmp(k, key) && *v) {
            free(val);
            val = strdup(v);
        }
    }
out:
    if (f.data) memset(f.data, 0, f.len);  /* may hold secrets */
    buf_free(&f);
    free(p);
    return val;
}

/* `key` for the profile: the credentials file first when creds_file, then the config file. */
static char *profile_get(const char *profile, const char *key, int creds_file, int *found)
{
    char *v = NULL;
    if (creds_file) {
        const char *cf = env("AWS_SHARED_CREDENTIALS_FILE");
        v = ini_get(cf ? cf : "~/.aws/credentials", profile, key, found);
    }
    if (!v) {
        const char *cf = env("AWS_CONFIG_FILE");
        char section[300];
        if (!strcmp(profile, "default")) snprintf(section, sizeof section, "default");
        else snprintf(section, sizeof section, "profile %s", profile);
        v = ini_get(cf ? cf : "~/.aws/config", section, key, found);
        if (!v && !strcmp(profile, "default"))  /* "[profile default]" is accepted too */
            v = ini_get(cf ? cf : "~/.aws/config", "profile default", key, found);
    }
    return v;
}

static char *first(const char *a, const char *b, const char *c)
{
    const char *v = a ? a : b ? b : c;
    return v ? strdup(v) : NULL;
}

int store_s3_config_load(const store_options *o, store_s3_config *c)
{
    return store_aws_config_load(o, "S3", c);
}

/* The chain's credentials into c (environment, then the profile's); TM_EINVAL with the reason
 * when there are none. *profile_out: the profile read (static or o's). */
static int load_credentials(const store_options *o, store_aws_config *c, const char **profile_out)
{
    int found = 0;
    const char *profile = o->profile ? o->profile : env("AWS_PROFILE");
    int explicit_profile = profile != NULL;
    if (!profile) profile = "default";
    *profile_out = profile;
    if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
        c->access_key = strdup(env("AWS_ACCESS_KEY_ID"));
        c->secret_key = strdup(env("AWS_SECRET_ACCESS_KEY"));
        c->session_token = first(env("AWS_SESSION_TOKEN"), NULL, NULL);
        return 0;
    }
    c->access_key = profile_get(profile, "aws_access_key_id", 1, &found);
    c->secret_key = profile_get(profile, "aws_secret_access_key", 1, &found);
    c->session_token = profile_get(profile, "aws_session_token", 1, &found);
    if (c->access_key && c->secret_key) return 0;
    return explicit_profile && !found
               ? err_set(TM_EINVAL, "AWS profile \"%s\" not found in the shared credentials or "
                                    "config file", profile)
               : err_set(TM_EINVAL, "no AWS credentials: set AWS_ACCESS_KEY_ID and "
                                    "AWS_SECRET_ACCESS_KEY, or aws_access_key_id and "
                                    "aws_secret_access_key in profile \"%s\"", profile);
}

int store_aws_credentials_check(const store_options *o)
{
    store_aws_config c;
    const char *profile;
    memset(&c, 0, sizeof c);
    int rc = load_credentials(o, &c, &profile);
    store_aws_config_free(&c);
    return rc;
}

int store_aws_config_load(const store_options *o, const char *service, store_aws_config *c)
{
    memset(c, 0, sizeof *c);
    char *tmp = NULL;
    const char *profile;
    int rc = load_credentials(o, c, &profile);
    if (rc) goto out;

    tmp = profile_get(profile, "region", 0, NULL);
    c->region = first(o->region, env("AWS_REGION"), env("AWS_DEFAULT_REGION"));
    if (!c->region) c->region = strdup(tmp ? tmp : "us-east-1");
    free(tmp);

    tmp = profile_get(profile, "endpoint_url", 0, NULL);
    char svc_env[64];
    snprintf(svc_env, sizeof svc_env, "AWS_ENDPOINT_URL_%s", service);
    c->endpoint = first(o->endpoint_url, env(svc_env), env("AWS_ENDPOINT_URL"));
    if (!c->endpoint && tmp) c->endpoint = strdup(tmp);
    free(tmp);

    tmp = profile_get(profile, "ca_bundle", 0, NULL);
    c->ca_bundle = first(o->ca_bundle, env("AWS_CA_BUNDLE"), tmp);
    free(tmp);

    c->max_attempts = o->max_attempts;
    if (!c->max_attempts) {
        tmp = profile_get(profile, "max_attempts", 0, NULL);
        const char *v = env("AWS_MAX_ATTEMPTS") ? env("AWS_MAX_ATTEMPTS") : tmp;
        if (v) {
            char *e;
            long n = strtol(v, &e, 10);
            if (*e || n < 1 || n > 100) {
                rc = err_set(TM_EINVAL, "bad max_attempts \"%s\" (1..100)", v);
                free(tmp);
                tmp = NULL;
                goto out;
            }
            c->max_attempts = (int)n;
        }
        free(tmp);
        tmp = NULL;
    }
    if (!c->max_attempts) c->max_attempts = DEFAULT_ATTEMPTS;

    if (!c->access_key || !c->secret_key || !c->region) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    if (c->endpoint && strncmp(c->endpoint, "http://", 7) && strncmp(c->endpoint, "https://", 8)) {
        rc = err_set(TM_EINVAL, "endpoint URL \"%s\" must start with http:// or https://",
                     c->endpoint);
        goto out;
    }
    for (const char *r = c->region; *r; r++) {
        if (!isalnum((unsigned char)*r) && *r != '-') {
            rc = err_set(TM_EINVAL, "bad region \"%s\"", c->region);
            goto out;
        }
    }
out:
    if (rc) store_aws_config_free(c);
    return rc;
}

static void wipe_free(char *p)
{
    if (!p) return;
    volatile char *v = p;
    while (*v) *v++ = 0;
    free(p);
}

void store_s3_config_free(store_s3_config *c)
{
    store_aws_config_free(c);
}

void store_aws_config_free(store_aws_config *c)
{
    wipe_free(c->access_key);
    wipe_free(c->secret_key);
    wipe_free(c->session_token);
    free(c->region);
    free(c->endpoint);
    free(c->ca_bundle);
    memset(c, 0, sizeof *c);
}
