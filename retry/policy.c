/*
 * policy.c — the retry policy: tiers from HOOKD_RETRY_DELAYS and the single decision of what
 * follows an attempt. Pure functions; the worker acts on the verdict.
 */
#include "hk_retry.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A delay is digits and a unit, nothing else: the text becomes a topic name
 * (hookd.retry.<delay>), so a sign, a space or any other byte strtoull would let through is
 * refused here. */
static int parse_delay(const char *tok, uint64_t *ms)
{
    if (!isdigit((unsigned char)tok[0]))
        return HK_EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(tok, &end, 10);
    if (errno || end == tok || v == 0)
        return HK_EINVAL;
    uint64_t unit;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0)
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = 86400000;
    else
        return HK_EINVAL;
    if (v > UINT64_MAX / unit / 2)
        return HK_EINVAL;
    *ms = v * unit;
    return HK_OK;
}

int hk_retry_policy_init(hk_retry_policy *policy, const char *delays, int default_max_attempts,
                         const char *field, hk_error *err)
{
    memset(policy, 0, sizeof *policy);
    policy->default_max_attempts = default_max_attempts;
    char *copy = hk_strdup(delays ? delays : ""), *save = NULL;
    int rc = HK_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (policy->tiers == HK_RETRY_MAX_TIERS) {
            rc = hk_error_set(err, HK_EINVAL, field, "at most %d tiers", HK_RETRY_MAX_TIERS);
            break;
        }
        uint64_t ms;
        if (strlen(tok) >= sizeof policy->names[0] || parse_delay(tok, &ms) != HK_OK) {
            rc = hk_error_set(err, HK_EINVAL, field,
                              "'%s' is not a delay (a positive number with ms, s, m, h or d)", tok);
            break;
        }
        for (size_t i = 0; i < policy->tiers; i++) {
            /* Two tiers of one delay ("5s,5s", "5s,5000ms"): a tier topic twice, or two
             * topics for one delay; either way a mistake in the list. */
            if (policy->delays_ms[i] == ms) {
                rc = hk_error_set(err, HK_EINVAL, field, "'%s' repeats the delay of '%s'", tok,
                                  policy->names[i]);
                break;
            }
        }
        if (rc != HK_OK)
            break;
        policy->delays_ms[policy->tiers] = ms;
        snprintf(policy->names[policy->tiers], sizeof policy->names[0], "%s", tok);
        policy->tiers++;
    }
    free(copy);
    if (rc == HK_OK && policy->tiers == 0)
        rc = hk_error_set(err, HK_EINVAL, field, "needs at least one delay");
    return rc;
}

int hk_retry_max_attempts(const hk_retry_policy *policy, const hk_task *task)
{
    if (!task->retry_enabled)
        return 1;
    return task->max_attempts > 0 ? task->max_attempts : policy->default_max_attempts;
}

size_t hk_retry_tier_for_attempt(const hk_retry_policy *policy, int attempt)
{
    size_t tier = attempt > 1 ? (size_t)(attempt - 1) : 0;
    return tier < policy->tiers ? tier : policy->tiers - 1;
}

hk_retry_verdict hk_retry_decide(const hk_retry_policy *policy, const hk_task *task, int attempt,
                                 bool ok, bool permanent, long http_status)
{
    hk_retry_verdict v = {.kind = HK_RETRY_DONE};
    if (ok)
        return v;
    v.kind = HK_RETRY_DEAD;
    if (http_status == 410) {
        /* The receiver says the endpoint is gone for good: stop sending to it at all. */
        v.reason = "endpoint gone (HTTP 410); task disabled";
        v.disable_task = true;
        return v;
    }
    if (permanent) {
        v.reason = "permanent failure";
        return v;
    }
    if (attempt >= hk_retry_max_attempts(policy, task)) {
        v.reason = task->retry_enabled ? "attempts exhausted" : "retry disabled";
        return v;
    }
    v.kind = HK_RETRY_AGAIN;
    v.tier = hk_retry_tier_for_attempt(policy, attempt);
    v.delay_ms = policy->delays_ms[v.tier];
    return v;
}

void hk_retry_tier_topic(const hk_retry_policy *policy, size_t tier, char out[64])
{
    snprintf(out, 64, "hookd.retry.%s", policy->names[tier < policy->tiers ? tier : 0]);
}
