/* layout_bundle.c: an archived export (AWSDynamoDB/<ExportId>.tar.zst, written by
 * tidemark-lifecycle apply on a local destination) read by every reader of the layout: it is
 * unpacked to a private temporary directory, so the checks and the reading stay those of a
 * folder. The one unbundler: lifecycle verify uses it too. */
#include "export/layout.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

int layout_bundle_find(const char *dir, char *out, size_t n)
{
    char p[PATH_MAX];
    size_t len;
    if (!strncmp(dir, "s3://", 5) || (len = strlen(dir)) + sizeof LAYOUT_BUNDLE_EXT >= sizeof p)
        return 0;
    snprintf(p, sizeof p, "%s", dir);
    while (len > 1 && p[len - 1] == '/') p[--len] = '\0';
    if (ends_with(p, LAYOUT_BUNDLE_EXT)) {
        if (!is_file(p)) return 0;
    } else {
        struct stat sb;
        if (stat(p, &sb) == 0) return 0;            /* a folder (or anything) there: not a bundle */
        strcat(p, LAYOUT_BUNDLE_EXT);
        if (!is_file(p)) return 0;
    }
    return (size_t)snprintf(out, n, "%s", p) < n;
}

/* One entry's data into path (its folders made). */
static int extract_entry(struct archive *a, const char *archive_path, const char *name,
                         const char *path)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    *strrchr(d, '/') = '\0';
    int rc = fsx_mkdirs(d, 0755);
    FILE *f = rc ? NULL : fopen(path, "wb");
    if (!rc && !f) return err_sys(TM_EIO, errno, "%s", path);
    if (rc) return rc;
    char b[1 << 16];
    la_ssize_t got;
    while ((got = archive_read_data(a, b, sizeof b)) > 0)
        if (fwrite(b, 1, (size_t)got, f) != (size_t)got) {
            rc = err_sys(TM_EIO, errno, "%s", path);
            break;
        }
    if (fclose(f) && !rc) rc = err_sys(TM_EIO, errno, "%s", path);
    if (!rc && got < 0)
        rc = err_set(TM_ECORRUPT, "%s: %s: %s", archive_path, name, archive_error_string(a));
    return rc;
}

int layout_unbundle(const char *archive_path, const char *dir)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    int rc = 0;
    archive_read_support_format_tar(a);
    archive_read_support_filter_zstd(a);
    if (archive_read_open_filename(a, archive_path, 1 << 16) != ARCHIVE_OK)
        rc = err_set(TM_ECORRUPT, "%s: %s", archive_path, archive_error_string(a));
    while (!rc) {
        int k = archive_read_next_header(a, &e);
        if (k == ARCHIVE_EOF) break;
        if (k != ARCHIVE_OK) {
            rc = err_set(TM_ECORRUPT, "%s: %s", archive_path, archive_error_string(a));
            break;
        }
        const char *p = archive_entry_pathname(e);
        char path[PATH_MAX];
        /* entries outside the bundle's folder (absolute, "..") are never written */
        if (archive_entry_filetype(e) != AE_IFREG || !p || !layout_path_safe(p)) continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, p) >= sizeof path)
            rc = err_set(TM_ELIMIT, "%s: %s: path too long", archive_path, p);
        else rc = extract_entry(a, archive_path, p, path);
    }
    archive_read_free(a);
    return rc;
}

/* The temporary directory beside DEST (same file system as the bundle), else in TMPDIR. */
static int make_tmp(const char *bundle, char *out, size_t n)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", bundle);
    for (int up = 0; up < 2; up++) {
        char *sl = strrchr(d, '/');
        if (!sl) snprintf(d, sizeof d, ".");
        else if (sl == d) d[1] = '\0';
        else *sl = '\0';
    }
    snprintf(out, n, "%s/.tidemark-unbundle-XXXXXX", d);
    if (mkdtemp(out)) return 0;
    const char *t = getenv("TMPDIR");
    snprintf(out, n, "%s/tidemark-unbundle-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(out) ? 0 : err_sys(TM_EIO, errno, "%s: a temporary directory", out);
}

int layout_bundle_open(const char *bundle, char *tmp, size_t tn, char *dir, size_t dn)
{
    const char *base = strrchr(bundle, '/');
    base = base ? base + 1 : bundle;
    int rc = make_tmp(bundle, tmp, tn);
    if (rc) return rc;
    if ((rc = layout_unbundle(bundle, tmp))) {
        fsx_rmtree(tmp);
        return rc;
    }
    snprintf(dir, dn, "%s/" LAYOUT_ROOT "%.*s", tmp,
             (int)(strlen(base) - strlen(LAYOUT_BUNDLE_EXT)), base);
    return 0;
}
