/*
 * fuzz_retry_after.c — the Retry-After parser (hk_retry_after_ms) and the delay it feeds
 * (hk_retry_delay_ms).
 * Input: NUL-separated fields
 *   header value \0 now (first 8 bytes) \0 seconds for an HTTP date (first 8 bytes)
 *   \0 status selector (first byte) \0 tier (first byte)
 * Checked: a value of digits is that many seconds; a value it reads as a date, written back as
 * one, reads the same; any time of years 1970..9999 written as an IMF-fixdate reads back to
 * itself; the delay of a tier is never earlier than the tier's own and never past the last.
 */
#include <ctype.h>
#include <time.h>

#include "fuzz_common.h"
#include "hk_retry.h"

enum { F_VALUE, F_NOW, F_DATE, F_STATUS, F_TIER, F_COUNT };

#define MAX_SECONDS (100ULL * 365 * 86400) /* the parser's bound on delta-seconds */
#define YEAR_10000 253402300800ULL         /* 10000-01-01T00:00:00Z */

static bool imf_fixdate(uint64_t s, char out[64])
{
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return false;
    return strftime(out, 64, "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0;
}

/* The value as delta-seconds, the way RFC 9110 writes them (spaces around allowed here). */
static bool as_seconds(const char *v, unsigned long long *s)
{
    while (*v == ' ')
        v++;
    if (!isdigit((unsigned char)*v))
        return false;
    unsigned long long n = 0;
    bool overflow = false;
    for (; isdigit((unsigned char)*v); v++) {
        if (n > (~0ULL - 9) / 10)
            overflow = true;
        n = n * 10 + (unsigned long long)(*v - '0');
    }
    while (*v == ' ')
        v++;
    if (*v)
        return false;
    *s = overflow ? ~0ULL : n;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_fuzz_fields ff;
    hk_fuzz_split(data, size, F_COUNT, &ff);
    const char *value = ff.f[F_VALUE];
    uint64_t now = hk_fuzz_u64(ff.f[F_NOW], ff.len[F_NOW]) % (YEAR_10000 * 1000);

    uint64_t ms = 0;
    bool ok = hk_retry_after_ms(value, now, &ms);
    unsigned long long secs;
    if (as_seconds(value, &secs)) {
        HK_FUZZ_CHECK(ok == (secs <= MAX_SECONDS), "'%s' read %d", value, ok);
        HK_FUZZ_CHECK(!ok || ms == secs * 1000, "'%s' read as %llu ms", value,
                      (unsigned long long)ms);
    } else if (ok) {
        /* A date: the moment it names is now + ms (or at or before now when ms is 0). */
        if (ms > 0) {
            char again[64];
            uint64_t at_s = (now + ms) / 1000;
            HK_FUZZ_CHECK((now + ms) % 1000 == 0, "'%s' is not a whole second", value);
            HK_FUZZ_CHECK(imf_fixdate(at_s, again), "format");
            uint64_t ms2 = 0;
            HK_FUZZ_CHECK(hk_retry_after_ms(again, now, &ms2) && ms2 == ms,
                          "'%s' read as %llu, '%s' as %llu", value, (unsigned long long)ms, again,
                          (unsigned long long)ms2);
        }
    }
    HK_FUZZ_CHECK(!hk_retry_after_ms(NULL, now, &ms), "NULL read as a value");

    /* Any moment of years 1970..9999, written as an HTTP date, reads back exactly. */
    uint64_t at = hk_fuzz_u64(ff.f[F_DATE], ff.len[F_DATE]) % YEAR_10000;
    char date[64];
    HK_FUZZ_CHECK(imf_fixdate(at, date), "format %llu", (unsigned long long)at);
    ms = 0;
    HK_FUZZ_CHECK(hk_retry_after_ms(date, now, &ms), "'%s' refused", date);
    HK_FUZZ_CHECK(ms == (at * 1000 > now ? at * 1000 - now : 0), "'%s' at now %llu read as %llu",
                  date, (unsigned long long)now, (unsigned long long)ms);

    /* The delay: the tier's, or what a 429/503 asked for, capped at the last tier's. */
    hk_retry_policy policy;
    hk_error err = {0};
    HK_FUZZ_CHECK(hk_retry_policy_init(&policy, "5s,1m,30m,2h", 5, "delays", &err) == HK_OK, "%s",
                  err.msg);
    static const long statuses[] = {0, 200, 429, 500, 503, 410};
    long status = statuses[(ff.len[F_STATUS] ? (unsigned char)ff.f[F_STATUS][0] : 0) % 6];
    size_t tier = (ff.len[F_TIER] ? (unsigned char)ff.f[F_TIER][0] : 0) % policy.tiers;
    uint64_t delay = hk_retry_delay_ms(&policy, tier, status, value, now);
    uint64_t own = policy.delays_ms[tier], cap = policy.delays_ms[policy.tiers - 1];
    HK_FUZZ_CHECK(delay >= own, "delay %llu before the tier's", (unsigned long long)delay);
    HK_FUZZ_CHECK(delay <= (own > cap ? own : cap), "delay %llu past the cap",
                  (unsigned long long)delay);
    if (status != 429 && status != 503)
        HK_FUZZ_CHECK(delay == own, "Retry-After honoured on status %ld", status);
    else if (hk_retry_after_ms(value, now, &ms))
        HK_FUZZ_CHECK(delay == (ms > cap   ? cap
                                : ms > own ? ms
                                           : own),
                      "delay %llu", (unsigned long long)delay);

    hk_fuzz_fields_free(&ff);
    return 0;
}
