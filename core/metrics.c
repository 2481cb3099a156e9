/*
 * metrics.c — process-wide counters, one per outcome, rendered in Prometheus text format.
 * Relaxed atomics: counters are read for dashboards, never to synchronise anything.
 */
#include "hk_core.h"

#include <stdatomic.h>

static _Atomic uint64_t counters[HK_M__COUNT];

static const struct {
    const char *name;
    const char *help;
} metric_info[HK_M__COUNT] = {
    [HK_M_EVENTS_CONSUMED] = {"hookd_events_consumed_total", "Job events consumed from Kafka."},
    [HK_M_EVENTS_POISON] = {"hookd_events_poison_total",
                            "Events refused as poison (bad JSON, missing field, too large) and "
                            "sent to the dead-letter topic."},
    [HK_M_EVENTS_NO_MATCH] = {"hookd_events_unmatched_total",
                              "Events whose flow had no task with a matching trigger."},
    [HK_M_DELIVERIES_STARTED] = {"hookd_delivery_attempts_total", "Delivery attempts started."},
    [HK_M_DELIVERIES_OK] = {"hookd_deliveries_succeeded_total", "Attempts answered with 2xx."},
    [HK_M_DELIVERIES_FAILED] = {"hookd_deliveries_failed_total",
                                "Attempts that failed (status, timeout, network, TLS)."},
    [HK_M_DELIVERIES_BLOCKED] = {"hookd_deliveries_blocked_total",
                                 "Attempts refused by the private-address guard."},
    [HK_M_DELIVERIES_INVALID] = {"hookd_deliveries_invalid_total",
                                 "Deliveries that could not be built (e.g. a bad override)."},
    [HK_M_DELIVERIES_CANCELLED] = {"hookd_deliveries_cancelled_total",
                                   "Deliveries given up before they started because their "
                                   "partition moved to another worker, which redelivers them."},
    [HK_M_DLQ_PUBLISHED] = {"hookd_dlq_published_total",
                            "Messages acknowledged by Kafka on the dead-letter topic."},
    [HK_M_DLQ_FAILED] = {"hookd_dlq_publish_errors_total",
                         "Dead-letter publishes that failed and were tried again."},
    [HK_M_RETRIES_PUBLISHED] = {"hookd_retries_published_total",
                                "Failed deliveries acknowledged by Kafka on a retry tier."},
    [HK_M_RETRIES_CONSUMED] = {"hookd_retries_consumed_total",
                               "Retry records taken from a tier once due."},
    [HK_M_RETRIES_FOREIGN] = {"hookd_retries_foreign_total",
                              "Retry records skipped because another consumer group (another "
                              "deployment sharing the tier topics) wrote them."},
    [HK_M_TIER_HOLDS] = {"hookd_tier_holds_total",
                         "Times a retry tier's partition was paused because its next record "
                         "was not yet due (it resumes on a timer at the due time)."},
    [HK_M_TASKS_DISABLED] = {"hookd_tasks_disabled_total",
                             "Webhook tasks disabled because the receiver answered 410 Gone."},
    [HK_M_TASKS_DISABLE_FAILED] = {"hookd_task_disable_errors_total",
                                   "Tasks a 410 Gone should have disabled, left enabled because "
                                   "Redis refused or failed; the next 410 tries again."},
    [HK_M_DELIVERIES_DEFERRED] = {"hookd_deliveries_deferred_total",
                                  "Deliveries parked on the first retry tier, not attempted, "
                                  "because their host's queue was full (not a failed attempt)."},
    [HK_M_OUTCOMES_PUBLISHED] = {"hookd_outcomes_published_total",
                                 "Attempt outcomes acknowledged on hookd.deliveries."},
    [HK_M_OUTCOMES_FAILED] = {"hookd_outcomes_publish_errors_total",
                              "Attempt outcomes that could not be published."},
    [HK_M_HISTORY_WRITTEN] = {"hookd_history_written_total",
                              "Attempt records written to the job history in Redis."},
    [HK_M_HISTORY_DROPPED] = {"hookd_history_dropped_total",
                              "Attempt records dropped because the history queue was full."},
    [HK_M_OFFSETS_STORED] = {"hookd_offsets_stored_total",
                             "Times a partition's offset moved forward."},
    [HK_M_REBALANCES] = {"hookd_rebalances_total", "Consumer group rebalances."},
    [HK_M_STORE_RELOADS] = {"hookd_task_reloads_total", "Task cache reloads from Redis."},
    [HK_M_STORE_RELOAD_ERRORS] = {"hookd_task_reload_errors_total",
                                  "Task cache reload failures and unreadable tasks skipped."},
    [HK_M_API_REQUESTS] = {"hookd_api_requests_total", "Admin API requests answered (/v1)."},
    [HK_M_API_UNAUTHORIZED] = {"hookd_api_unauthorized_total",
                               "Admin API requests refused with 401 (no or wrong bearer token)."},
    [HK_M_API_CLIENT_ERRORS] = {"hookd_api_client_errors_total",
                                "Admin API requests answered with another 4xx (invalid input, "
                                "not found, the flow limit, too large)."},
    [HK_M_API_SERVER_ERRORS] = {"hookd_api_server_errors_total",
                                "Admin API requests answered with 5xx (Redis unavailable)."},
};

void hk_metric_add(hk_metric m, uint64_t n)
{
    atomic_fetch_add_explicit(&counters[m], n, memory_order_relaxed);
}

uint64_t hk_metric_get(hk_metric m)
{
    return atomic_load_explicit(&counters[m], memory_order_relaxed);
}

const char *hk_metric_name(hk_metric m)
{
    return metric_info[m].name;
}

const char *hk_metric_help(hk_metric m)
{
    return metric_info[m].help;
}

void hk_metrics_render(hk_buf *out)
{
    for (int m = 0; m < HK_M__COUNT; m++) {
        hk_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", metric_info[m].name,
                      metric_info[m].help, metric_info[m].name, metric_info[m].name,
                      (unsigned long long)hk_metric_get((hk_metric)m));
    }
}
