/*
 * policy.c — the retry policy: tiers from HOOKD_RETRY_DELAYS, the decision of what follows an
 * attempt (hk_retry_decide) and the reason table. Pure functions; the worker acts on the
 * verdict.
 */
#include "hk_retry.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* A delay is digits and a unit, nothing else (hk_parse_duration): the text becomes a topic name
 * (<prefix>retry.<delay>), so a sign, a space or any other byte strtoull would let through is
 * refused. */
int hk_retry_policy_init(hk_retry_policy *policy, const char *delays, int default_max_attempts,
                         const char *field, hk_error *err)
{
    memset(policy, 0, sizeof *policy);
    policy->default_max_attempts = default_max_attempts;
    char *copy = hk_strdup(delays ? delays : ""), *rest = copy;
    int rc = HK_OK;
    for (char *tok = strsep(&rest, ","); tok; tok = strsep(&rest, ",")) {
        while (isspace((unsigned char)*tok))
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && isspace((unsigned char)e[-1]))
            *--e = '\0';
        /* Nothing but spaces: "needs at least one delay" below. */
        if (!*tok && !rest && policy->tiers == 0)
            break;
        if (!*tok) { /* "5s,,5m", "5s,", ",5s": a delay left out by mistake, never a tier */
            rc = hk_error_set(err, HK_EINVAL, field,
                              "an empty delay (two commas in a row, or one at an end)");
            break;
        }
        if (policy->tiers == HK_RETRY_MAX_TIERS) {
            rc = hk_error_set(err, HK_EINVAL, field, "at most %d tiers", HK_RETRY_MAX_TIERS);
            break;
        }
        uint64_t ms;
        if (strlen(tok) >= sizeof policy->names[0] || !hk_parse_duration(tok, &ms)) {
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

static int max_attempts(const hk_retry_policy *policy, bool retry_enabled, int max)
{
    if (!retry_enabled)
        return 1;
    return max > 0 ? max : policy->default_max_attempts;
}

int hk_retry_max_attempts(const hk_retry_policy *policy, const hk_task *task)
{
    return max_attempts(policy, task->retry_enabled, task->max_attempts);
}

size_t hk_retry_tier_for_attempt(const hk_retry_policy *policy, int attempt)
{
    size_t tier = attempt > 1 ? (size_t)(attempt - 1) : 0;
    return tier < policy->tiers ? tier : policy->tiers - 1;
}

/* The reason table: each reason's text (a dead letter's "reason", as operators and the
 * integration tests read it) and, for DEAD, its hookd_dlq_records_total member. */
static const struct {
    const char *text;
    hk_counter *dlq;
} reasons[HK_REASON_COUNT] = {
    [HK_REASON_DELIVERED] = {"delivered", NULL},
    [HK_REASON_RETRYING] = {"retrying", NULL},
    [HK_REASON_DEFERRED] = {"deferred: its host is slow", NULL},
    [HK_REASON_HANDED_OFF] = {"handed off: the worker is stopping", NULL},
    [HK_REASON_CANCELLED] = {"cancelled: the partition moved", NULL},
    [HK_REASON_EXHAUSTED] = {"attempts exhausted",
                             &hk_retry_metrics.dlq_records_attempts_exhausted},
    [HK_REASON_RETRY_DISABLED] = {"retry disabled", &hk_retry_metrics.dlq_records_retry_disabled},
    [HK_REASON_GONE] = {"endpoint gone (HTTP 410); task disabled",
                        &hk_retry_metrics.dlq_records_endpoint_gone},
    [HK_REASON_PERMANENT] = {"permanent failure", &hk_retry_metrics.dlq_records_permanent_failure},
    [HK_REASON_INVALID_REQUEST] = {"invalid request",
                                   &hk_retry_metrics.dlq_records_invalid_request},
    [HK_REASON_TASK_DELETED] = {"task deleted", &hk_retry_metrics.dlq_records_task_deleted},
    [HK_REASON_TASK_DISABLED] = {"task disabled", &hk_retry_metrics.dlq_records_task_disabled},
    [HK_REASON_TOO_LARGE] = {"record too large", &hk_retry_metrics.dlq_records_too_large},
};

const char *hk_retry_reason_text(hk_retry_reason reason)
{
    return reason < HK_REASON_COUNT ? reasons[reason].text : "unknown";
}

hk_counter *hk_retry_reason_dlq_metric(hk_retry_reason reason)
{
    return reason < HK_REASON_COUNT ? reasons[reason].dlq : NULL;
}

/* The failure table: hookd_delivery_attempts_total's member (http_error's by status class) for a
 * finished attempt that failed so, and whether retrying can fix it at all. The worker's own kinds
 * (task gone, record too large) end no attempt: nothing is counted there. */
static const struct {
    hk_counter *outcome;
    bool permanent;
} failures[] = {
    [HK_FAILURE_NONE] = {&hk_retry_metrics.attempts_succeeded, false},
    [HK_FAILURE_HTTP] = {NULL, false}, /* by status: hk_retry_http_error_metric */
    [HK_FAILURE_TIMEOUT] = {&hk_retry_metrics.attempts_timeout, false},
    [HK_FAILURE_NETWORK] = {&hk_retry_metrics.attempts_network_error, false},
    [HK_FAILURE_BLOCKED] = {&hk_retry_metrics.attempts_blocked, true},
    [HK_FAILURE_UNSENDABLE] = {&hk_retry_metrics.attempts_invalid, true},
    [HK_FAILURE_INVALID_REQUEST] = {&hk_retry_metrics.attempts_invalid, true},
    [HK_FAILURE_TASK_GONE] = {NULL, true},
    [HK_FAILURE_TASK_DISABLED] = {NULL, true},
    [HK_FAILURE_RECORD_TOO_LARGE] = {NULL, true},
};

/* The 4xx rule (decisions: "a 4xx answer is final"): a client error says the request itself is
 * refused, so the same bytes would be refused for the ~27 hours of the default tiers. Final,
 * except the three that say "later": 408 Request Timeout, 425 Too Early, 429 Too Many Requests.
 * 410 Gone is final and disables the task (decided before this). 3xx and 5xx are retried. */
static bool final_status(long status)
{
    return status >= 400 && status < 500 && status != 408 && status != 425 && status != 429;
}

uint64_t hk_retry_delay_ms(const hk_retry_policy *policy, size_t tier, long http_status,
                           const char *retry_after, uint64_t now_ms)
{
    uint64_t delay = policy->delays_ms[tier];
    uint64_t cap = policy->delays_ms[policy->tiers - 1], asked;
    if ((http_status == 429 || http_status == 503) &&
        hk_retry_after_ms(retry_after, now_ms, &asked)) {
        if (asked > cap)
            asked = cap;
        if (asked > delay)
            delay = asked; /* later, never earlier */
    }
    return delay;
}

static hk_retry_verdict dead(hk_retry_verdict v, hk_retry_reason reason)
{
    v.kind = HK_RETRY_DEAD;
    v.reason = reason;
    return v;
}

hk_retry_verdict hk_retry_decide(const hk_retry_policy *policy, const hk_retry_facts *f)
{
    hk_retry_verdict v = {.kind = HK_RETRY_DONE, .reason = HK_REASON_DELIVERED, .counted = NULL};
    switch (f->transport) {
    case HK_TRANSPORT_CANCELLED:
        if (f->handing_off && f->owns_partition) {
            /* The worker is stopping: the same attempt to its tier, due at once, for whichever
             * worker takes the tier next. */
            v.kind = HK_RETRY_AGAIN;
            v.reason = HK_REASON_HANDED_OFF;
            v.tier = hk_retry_tier_for_attempt(policy, f->attempt);
            v.same_attempt = true;
            v.deferrals = f->deferrals > 0 ? f->deferrals : 1;
            v.counted = &hk_retry_metrics.deliveries_deferred_shutdown;
            return v;
        }
        /* Never sent, and its partition is another worker's now: no attempt to record. */
        v.kind = HK_RETRY_DROP;
        v.reason = HK_REASON_CANCELLED;
        v.counted = &hk_retry_metrics.deliveries_cancelled;
        return v;
    case HK_TRANSPORT_DEFERRED:
        /* Never sent: its host is slow and enough wait for it already. Parked on a tier as the
         * same attempt: the first tier first, then, deferred again and again, the next tiers
         * (as attempts would be), so a host slow for long does not cycle through the first. */
        v.kind = HK_RETRY_AGAIN;
        v.reason = HK_REASON_DEFERRED;
        v.deferrals = f->deferrals + 1;
        v.tier = hk_retry_tier_for_attempt(policy, v.deferrals);
        v.delay_ms = policy->delays_ms[v.tier];
        v.same_attempt = true;
        v.counted = &hk_retry_metrics.deliveries_deferred_slow_host;
        return v;
    case HK_TRANSPORT_OK:
        v.counted = &hk_retry_metrics.attempts_succeeded;
        return v;
    case HK_TRANSPORT_RETRY:
    case HK_TRANSPORT_ERROR:
        break;
    }
    hk_retry_failure kind = f->failure;
    if ((size_t)kind >= sizeof failures / sizeof failures[0])
        kind = HK_FAILURE_NETWORK;
    v.counted = kind == HK_FAILURE_HTTP ? hk_retry_http_error_metric(f->http_status)
                                        : failures[kind].outcome;
    switch (kind) {
    case HK_FAILURE_TASK_GONE:
        return dead(v, HK_REASON_TASK_DELETED);
    case HK_FAILURE_TASK_DISABLED:
        return dead(v, HK_REASON_TASK_DISABLED);
    case HK_FAILURE_RECORD_TOO_LARGE:
        return dead(v, HK_REASON_TOO_LARGE);
    case HK_FAILURE_INVALID_REQUEST:
        return dead(v, HK_REASON_INVALID_REQUEST);
    default:
        break;
    }
    if (f->http_status == 410) {
        /* The receiver says the endpoint is gone for good: stop sending to it at all. */
        v.disable_task = true;
        return dead(v, HK_REASON_GONE);
    }
    if (f->transport == HK_TRANSPORT_ERROR || failures[kind].permanent ||
        final_status(f->http_status))
        return dead(v, HK_REASON_PERMANENT);
    if (f->attempt >= max_attempts(policy, f->retry_enabled, f->max_attempts))
        return dead(v, f->retry_enabled ? HK_REASON_EXHAUSTED : HK_REASON_RETRY_DISABLED);
    v.kind = HK_RETRY_AGAIN;
    v.reason = HK_REASON_RETRYING;
    v.tier = hk_retry_tier_for_attempt(policy, f->attempt);
    v.delay_ms = hk_retry_delay_ms(policy, v.tier, f->http_status, f->retry_after, f->now_ms);
    return v;
}

void hk_retry_tier_topic(const hk_retry_policy *policy, const char *prefix, size_t tier,
                         char out[HK_TOPIC_NAME_MAX + 1])
{
    snprintf(out, HK_TOPIC_NAME_MAX + 1, "%sretry.%s", prefix,
             policy->names[tier < policy->tiers ? tier : 0]);
}
