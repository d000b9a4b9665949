/* store_http.c: what every AWS-API client over libcurl shares -- the S3 backend and remote/'s
 * DynamoDB client: libcurl's one-time global set-up, which transport failures are worth another
 * try, and the backoff between tries (exponential, capped, "equal jitter": half the step fixed,
 * half random, so that many clients throttled at once do not come back at once). */
#include "store/store.h"
#include "engine/err.h"

#include <curl/curl.h>
#include <pthread.h>
#include <time.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int store_curl_init(void)
{
    pthread_once(&curl_once, curl_init);
    return curl_init_rc ? err_set(TM_EIO, "curl_global_init failed") : 0;
}

void store_curl_transport(void *curl, long timeout_s, const char *ca_bundle, char *errbuf)
{
    CURL *c = curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout_s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_bundle) curl_easy_setopt(c, CURLOPT_CAINFO, ca_bundle);
    errbuf[0] = '\0';
}

int store_curl_retryable(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_COULDNT_RESOLVE_HOST:
        return 1;
    default:
        return 0;
    }
}

static uint64_t rng_next(void)
{
    static _Thread_local uint64_t st;
    if (!st) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        st = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&st;
        if (!st) st = 0x9E3779B97F4A7C15ull;
    }
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    return st;
}

void store_backoff(int base_ms, int cap_ms, int attempt)
{
    uint64_t step = (uint64_t)base_ms << (attempt - 1 < 20 ? attempt - 1 : 20);
    if (step > (uint64_t)cap_ms) step = (uint64_t)cap_ms;
    uint64_t ms = step / 2 + rng_next() % (step / 2 + 1);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0) {
    }
}
