/*
 * fuzz_duration.c — durations and times as an operator writes them: HOOKD_RETRY_DELAYS
 * (hk_retry_policy_init) and the RFC 3339 times of `hookctl dlq --since` (hk_parse_time; the
 * "2h" form of --since is parsed inside cmd/hookctl/dlq.c, not a library, and is not fuzzed here).
 * Input: NUL-separated fields
 *   delays \0 time \0 max attempts (first byte)
 * Checked: every tier accepted is "<digits><unit>" and worth exactly that; the tiers written
 * back as a list parse to the same policy; topics and tier lookups stay in range; an accepted
 * time formatted with hk_format_time parses back to itself.
 * Also the rules issue 12 adds: a tier name is a legal Kafka topic suffix and no delay is listed
 * twice.
 */
#include <ctype.h>

#include "fuzz_common.h"
#include "hk_retry.h"

enum { F_DELAYS, F_TIME, F_ATTEMPTS, F_COUNT };

/* "<digits><unit>" and its value in ms; false when the name is not of that form. */
static bool plain_delay(const char *name, uint64_t *ms)
{
    const char *p = name;
    unsigned long long n = 0;
    if (!isdigit((unsigned char)*p))
        return false;
    for (; isdigit((unsigned char)*p); p++) {
        if (n > 1000000000000000ULL)
            return false; /* far past any unit's bound */
        n = n * 10 + (unsigned long long)(*p - '0');
    }
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    for (size_t i = 0; i < 5; i++)
        if (strcmp(p, units[i].unit) == 0) {
            *ms = n * units[i].ms;
            return true;
        }
    return false;
}

static void check_policy(const char *delays, int max_attempts)
{
    hk_retry_policy policy;
    hk_error err = {0};
    int rc = hk_retry_policy_init(&policy, delays, max_attempts, "HOOKD_RETRY_DELAYS", &err);
    if (rc != HK_OK) {
        HK_FUZZ_CHECK(rc == HK_EINVAL, "rc %d", rc);
        HK_FUZZ_CHECK(strncmp(err.msg, "HOOKD_RETRY_DELAYS", 18) == 0, "message names no field: %s",
                      err.msg);
        return;
    }
    HK_FUZZ_CHECK(policy.tiers >= 1 && policy.tiers <= HK_RETRY_MAX_TIERS, "%zu tiers",
                  policy.tiers);
    HK_FUZZ_CHECK(policy.default_max_attempts == max_attempts, "max attempts");
    hk_buf list = {0};
    for (size_t i = 0; i < policy.tiers; i++) {
        const char *name = policy.names[i];
        HK_FUZZ_CHECK(*name && strlen(name) < sizeof policy.names[0], "tier %zu name", i);
        HK_FUZZ_CHECK(!isspace((unsigned char)name[0]) &&
                          !isspace((unsigned char)name[strlen(name) - 1]) && !strchr(name, ','),
                      "tier %zu name '%s' not trimmed", i, name);
        HK_FUZZ_CHECK(policy.delays_ms[i] > 0, "tier %zu has no delay", i);
        uint64_t ms;
        if (plain_delay(name, &ms))
            HK_FUZZ_CHECK(policy.delays_ms[i] == ms, "'%s' worth %llu ms", name,
                          (unsigned long long)policy.delays_ms[i]);
        HK_FUZZ_CHECK(plain_delay(name, &ms), "'%s' accepted: not <digits><unit>", name);
        for (size_t j = 0; j < i; j++)
            HK_FUZZ_CHECK(strcmp(policy.names[j], name) != 0, "'%s' accepted twice", name);
        char topic[HK_TOPIC_NAME_MAX + 1];
        hk_retry_tier_topic(&policy, "hookd.", i, topic);
        HK_FUZZ_CHECK(strncmp(topic, "hookd.retry.", 12) == 0 && strcmp(topic + 12, name) == 0,
                      "topic '%s' of tier '%s'", topic, name);
        for (const char *p = topic; *p; p++)
            HK_FUZZ_CHECK(isalnum((unsigned char)*p) || strchr("._-", *p),
                          "topic '%s' is not a legal Kafka topic name", topic);
        if (i)
            hk_buf_puts(&list, ",");
        hk_buf_puts(&list, name);
    }
    for (int attempt = -1; attempt < HK_RETRY_MAX_TIERS + 3; attempt++)
        HK_FUZZ_CHECK(hk_retry_tier_for_attempt(&policy, attempt) < policy.tiers,
                      "attempt %d past the tiers", attempt);

    hk_retry_policy again;
    HK_FUZZ_CHECK(hk_retry_policy_init(&again, list.data, max_attempts, "x", &err) == HK_OK,
                  "'%s' written back is refused: %s", list.data, err.msg);
    HK_FUZZ_CHECK(again.tiers == policy.tiers, "tiers");
    for (size_t i = 0; i < policy.tiers; i++)
        HK_FUZZ_CHECK(again.delays_ms[i] == policy.delays_ms[i] &&
                          strcmp(again.names[i], policy.names[i]) == 0,
                      "tier %zu", i);
    hk_buf_free(&list);
}

static void check_time(const char *text)
{
    uint64_t ms = 0;
    if (!hk_parse_time(text, &ms))
        return;
    char again[32];
    hk_format_time(ms, again);
    uint64_t ms2 = 0;
    HK_FUZZ_CHECK(hk_parse_time(again, &ms2), "'%s' read as %llu, written '%s', refused", text,
                  (unsigned long long)ms, again);
    HK_FUZZ_CHECK(ms2 == ms, "'%s' read as %llu, '%s' as %llu", text, (unsigned long long)ms, again,
                  (unsigned long long)ms2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_fuzz_fields ff;
    hk_fuzz_split(data, size, F_COUNT, &ff);
    int max_attempts = ff.len[F_ATTEMPTS] ? (unsigned char)ff.f[F_ATTEMPTS][0] : 5;
    check_policy(ff.f[F_DELAYS], max_attempts);
    check_time(ff.f[F_TIME]);
    hk_fuzz_fields_free(&ff);
    return 0;
}
