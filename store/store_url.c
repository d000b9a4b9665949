/* store_url.c: what a --to / --from string names, checked before anything is opened, so that a
 * typo is refused instead of becoming a local directory ("s3:/bucket/x" once wrote a
 * directory named "s3:").
 *
 * ACCEPTED
 *   s3://BUCKET[/PREFIX]   exactly "s3://", lowercase (as the aws CLI), then a bucket
 *   file:///DIR            a local directory
 *   DIR                    anything else without a scheme: a local directory, relative or not
 * REFUSED (TM_EINVAL, the message names the string and the accepted forms)
 *   "s3:/b", "s3:b", "S3://b", "s3:///b", "s3://"   (an S3 location written wrong)
 *   "http://…", "gs://…", any SCHEME:// other than s3 and file
 *   "file://" with nothing after it */
#include "store/store_internal.h"
#include "engine/err.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define ACCEPTED "s3://BUCKET[/PREFIX], a local directory, or file:///DIR"

/* Length of a URL scheme at the start of s ("s3" in "s3:..."), 0 if there is none. */
static size_t scheme_len(const char *s)
{
    size_t i = 0;
    if (!isalpha((unsigned char)s[0])) return 0;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.') i++;
    return s[i] == ':' ? i : 0;
}

int store_url_check(const char *dest)
{
    if (!dest || !*dest) return err_set(TM_EINVAL, "empty location (accepted: " ACCEPTED ")");
    size_t n = scheme_len(dest);
    if (n == 2 && !strncasecmp(dest, "s3", 2)) {
        if (strncmp(dest, "s3://", 5))
            return err_set(TM_EINVAL, "\"%s\" is not a valid S3 location: write s3://BUCKET/PREFIX "
                           "(lowercase s3, two slashes; accepted: " ACCEPTED ")", dest);
        if (!dest[5] || dest[5] == '/')
            return err_set(TM_EINVAL, "\"%s\" names no bucket: write s3://BUCKET/PREFIX "
                           "(accepted: " ACCEPTED ")", dest);
        return 0;
    }
    if (n && !strncmp(dest + n, "://", 3)) {
        if (n == 4 && !strncmp(dest, "file", 4))
            return dest[7] ? 0 : err_set(TM_EINVAL, "\"%s\" names no directory (accepted: "
                                         ACCEPTED ")", dest);
        return err_set(TM_EINVAL, "\"%s\": unsupported scheme '%.*s' (accepted: " ACCEPTED ")",
                       dest, (int)n, dest);
    }
    return 0;
}
