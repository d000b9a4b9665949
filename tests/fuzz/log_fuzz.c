/* log_fuzz.c: fuzz target for the log segment and record parser (engine/log.c). The input is one
 * segment file; it is named after the first seq and codec its header claims (so the header
 * checks get past the name), then listed, verified, read both ways, looked up by time, and
 * finally recovered by a writer, which may truncate it. Then the same again with every checksum
 * made right, so that mutations reach the rules behind the checksums (seq, time, commit flags,
 * lengths, compressed payloads). Nothing may crash, hang or leak. */
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/log.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *ctx, const char *segment, uint64_t offset, const char *what)
{
    (void)segment;
    (void)offset;
    (void)what;
    (*(int *)ctx)++;
}

static void read_all(const char *dir, uint64_t from, uint64_t to, int direction)
{
    log_reader *r;
    log_record rec;
    if (log_reader_open(dir, from, to, direction, &r)) return;
    uint64_t sum = 0;
    int n = 0;
    while (log_reader_next(r, &rec) == 1 && n++ < 1000000) {
        /* Touch every byte the reader hands out: a bad pointer shows under ASan. */
        const uint8_t *k = rec.key, *o = rec.old_img, *w = rec.new_img;
        for (uint32_t i = 0; i < rec.key_len; i++) sum += k[i];
        for (uint32_t i = 0; i < rec.old_len; i++) sum += o[i];
        for (uint32_t i = 0; i < rec.new_len; i++) sum += w[i];
    }
    log_reader_close(r);
    if (sum == 1) fputc(0, stderr); /* keep the loop */
}

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the checksums the format has (offsets from the spec in engine/log.c). */
static void fix_sums(uint8_t *p, size_t n)
{
    if (n < 80) return;
    if (p[6] == 0) {
        size_t o = 80;
        while (o + 37 <= n) {
            uint64_t len = 37 + (uint64_t)u32(p + o + 17) + u32(p + o + 21) + u32(p + o + 25);
            if (len > n - o) break;
            put64(p + o + len - 8, XXH3_64bits(p + o, (size_t)len - 8));
            o += (size_t)len;
        }
    } else {
        put64(p + 56, n - 80);
        put64(p + 64, XXH3_64bits(p + 80, n - 80));
    }
    put64(p + 72, XXH3_64bits(p, 72));
}

static void run(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size);
    uint8_t *fixed = malloc(size + 1);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    fix_sums(fixed, size);
    if (size < 80 || memcmp(fixed, data, size)) run(fixed, size);
    free(fixed);
    return 0;
}

static void run(const uint8_t *data, size_t size)
{
    static const char *const ext[] = {"log", "lz4", "zst"};
    char dir[] = "/tmp/tm-log-fuzz-XXXXXX", path[256];
    if (!mkdtemp(dir)) return;
    uint64_t first = 1;
    unsigned codec = 0;
    if (size >= 16) {
        first = 0;
        for (int i = 7; i >= 0; i--) first = first << 8 | data[8 + i];
        codec = data[6] < 3 ? data[6] : 0;
    }
    snprintf(path, sizeof path, "%s/%016llx.%s", dir, (unsigned long long)first, ext[codec]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644); /* no fsync: speed */
    int ok = fd >= 0 && (size == 0 || write(fd, data, size) == (ssize_t)size);
    if (fd >= 0) close(fd);
    if (ok) {
        int problems = 0;
        uint64_t records = 0, seq = 0;
        log_segment *segs = NULL;
        size_t n = 0;
        log_verify(dir, ignore, &problems, &records);
        if (log_list(dir, &segs, &n) == 0) free(segs);
        read_all(dir, 1, UINT64_MAX, LOG_FORWARD);
        read_all(dir, 1, UINT64_MAX, LOG_BACKWARD);
        read_all(dir, first + 1, first + 3, LOG_FORWARD);
        read_all(dir, first + 1, first + 3, LOG_BACKWARD);
        log_seq_at_time(dir, 0, &seq);
        log_seq_at_time(dir, INT64_MAX, &seq);
        log *l;
        log_options o = LOG_OPTIONS_INIT;
        o.sync = LOG_SYNC_NONE;
        if (log_open(dir, &o, &l) == 0) {
            log_recovery rec;
            if (log_begin(l, &rec) == 0) read_all(dir, 1, UINT64_MAX, LOG_FORWARD);
            log_close(l);
        }
    }
    fsx_rmtree(dir);
}
