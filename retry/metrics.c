/*
 * metrics.c — the outcome families (struct hk_retry_metrics in hk_retry.h): what each attempt
 * came to (with its status class), what each delivery came to, deferrals and cancellations,
 * dead letters by reason. The decision's tables
 * (policy.c) point at these members; whoever carries out a verdict counts.
 */
#include "hk_retry.h"

#define ATTEMPTS "hookd_delivery_attempts_total"
#define ATTEMPTS_HELP                                                                              \
    "Delivery attempts finished, by outcome: succeeded (2xx), http_error (another status), "       \
    "timeout, network_error (DNS, connect, TLS, reset), blocked (private address refused) or "     \
    "invalid (the request could not be built); and status_class: 1xx, 2xx, 3xx, 4xx, 5xx, with "   \
    "410 and 429 apart, none when no status came back."
#define ATTEMPT(outcome, class)                                                                    \
    HK_COUNTER(ATTEMPTS, "outcome=\"" outcome "\",status_class=\"" class "\"", ATTEMPTS_HELP)
#define DELIVERIES "hookd_deliveries_total"
#define DELIVERIES_HELP                                                                            \
    "Deliveries (one task's request for one event, however many attempts) at their end: "          \
    "delivered (a 2xx), dead_lettered (acknowledged on the dead-letter topic) or skipped (an "     \
    "event's webhookOverrides said skip)."
#define DEFERRED "hookd_deliveries_deferred_total"
#define DEFERRED_HELP                                                                              \
    "Deliveries parked on a retry tier without a failed attempt: slow_host (its host was slow "    \
    "and its queue full) or shutdown (unfinished when the worker stopped)."
#define DLQ "hookd_dlq_records_total"
#define DLQ_HELP "Records acknowledged by Kafka on the dead-letter topic, by reason."

struct hk_retry_metrics hk_retry_metrics = {
    .attempts_succeeded = ATTEMPT("succeeded", "2xx"),
    .attempts_http_error_1xx = ATTEMPT("http_error", "1xx"),
    .attempts_http_error_3xx = ATTEMPT("http_error", "3xx"),
    .attempts_http_error_4xx = ATTEMPT("http_error", "4xx"),
    .attempts_http_error_410 = ATTEMPT("http_error", "410"),
    .attempts_http_error_429 = ATTEMPT("http_error", "429"),
    .attempts_http_error_5xx = ATTEMPT("http_error", "5xx"),
    .attempts_timeout = ATTEMPT("timeout", "none"),
    .attempts_network_error = ATTEMPT("network_error", "none"),
    .attempts_blocked = ATTEMPT("blocked", "none"),
    .attempts_invalid = ATTEMPT("invalid", "none"),
    .deliveries_delivered = HK_COUNTER(DELIVERIES, "outcome=\"delivered\"", DELIVERIES_HELP),
    .deliveries_dead_lettered =
        HK_COUNTER(DELIVERIES, "outcome=\"dead_lettered\"", DELIVERIES_HELP),
    .deliveries_skipped = HK_COUNTER(DELIVERIES, "outcome=\"skipped\"", DELIVERIES_HELP),
    .deliveries_deferred_slow_host = HK_COUNTER(DEFERRED, "reason=\"slow_host\"", DEFERRED_HELP),
    .deliveries_deferred_shutdown = HK_COUNTER(DEFERRED, "reason=\"shutdown\"", DEFERRED_HELP),
    .deliveries_cancelled = HK_COUNTER("hookd_deliveries_cancelled_total", NULL,
                                       "Deliveries given up before they started because their "
                                       "partition moved to another worker, which redelivers "
                                       "them."),
    .dlq_records_poison = HK_COUNTER(DLQ, "reason=\"poison\"", DLQ_HELP),
    .dlq_records_attempts_exhausted = HK_COUNTER(DLQ, "reason=\"attempts_exhausted\"", DLQ_HELP),
    .dlq_records_retry_disabled = HK_COUNTER(DLQ, "reason=\"retry_disabled\"", DLQ_HELP),
    .dlq_records_endpoint_gone = HK_COUNTER(DLQ, "reason=\"endpoint_gone\"", DLQ_HELP),
    .dlq_records_permanent_failure = HK_COUNTER(DLQ, "reason=\"permanent_failure\"", DLQ_HELP),
    .dlq_records_invalid_request = HK_COUNTER(DLQ, "reason=\"invalid_request\"", DLQ_HELP),
    .dlq_records_task_deleted = HK_COUNTER(DLQ, "reason=\"task_deleted\"", DLQ_HELP),
    .dlq_records_task_disabled = HK_COUNTER(DLQ, "reason=\"task_disabled\"", DLQ_HELP),
    .dlq_records_too_large = HK_COUNTER(DLQ, "reason=\"too_large\"", DLQ_HELP),
};
HK_METRICS_REGISTER("retry", hk_retry_metrics)

hk_counter *hk_retry_http_error_metric(long status)
{
    /* A status outside 100..599 (a broken server) goes to the nearest class. */
    if (status == 410)
        return &hk_retry_metrics.attempts_http_error_410;
    if (status == 429)
        return &hk_retry_metrics.attempts_http_error_429;
    if (status < 200)
        return &hk_retry_metrics.attempts_http_error_1xx;
    if (status < 400) /* a 2xx is never an error; 3xx are redirects not followed */
        return &hk_retry_metrics.attempts_http_error_3xx;
    if (status < 500)
        return &hk_retry_metrics.attempts_http_error_4xx;
    return &hk_retry_metrics.attempts_http_error_5xx;
}
