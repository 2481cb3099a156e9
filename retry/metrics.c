/*
 * metrics.c — the outcome families (struct hk_retry_metrics in hk_retry.h): what each attempt
 * came to, deferrals and cancellations, dead letters by reason. The decision's tables
 * (policy.c) point at these members; whoever carries out a verdict counts.
 */
#include "hk_retry.h"

#define DELIVERIES "hookd_deliveries_total"
#define DELIVERIES_HELP                                                                            \
    "Delivery attempts by outcome: succeeded (2xx), http_error (another status), timeout, "        \
    "network_error (DNS, connect, TLS, reset), blocked (private address refused) or invalid "      \
    "(the request could not be built)."
#define DEFERRED "hookd_deliveries_deferred_total"
#define DEFERRED_HELP                                                                              \
    "Deliveries parked on a retry tier without a failed attempt: slow_host (its host was slow "    \
    "and its queue full) or shutdown (unfinished when the worker stopped)."
#define DLQ "hookd_dlq_records_total"
#define DLQ_HELP "Records acknowledged by Kafka on the dead-letter topic, by reason."

struct hk_retry_metrics hk_retry_metrics = {
    .deliveries_succeeded = HK_COUNTER(DELIVERIES, "outcome=\"succeeded\"", DELIVERIES_HELP),
    .deliveries_http_error = HK_COUNTER(DELIVERIES, "outcome=\"http_error\"", DELIVERIES_HELP),
    .deliveries_timeout = HK_COUNTER(DELIVERIES, "outcome=\"timeout\"", DELIVERIES_HELP),
    .deliveries_network_error =
        HK_COUNTER(DELIVERIES, "outcome=\"network_error\"", DELIVERIES_HELP),
    .deliveries_blocked = HK_COUNTER(DELIVERIES, "outcome=\"blocked\"", DELIVERIES_HELP),
    .deliveries_invalid = HK_COUNTER(DELIVERIES, "outcome=\"invalid\"", DELIVERIES_HELP),
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
