/*
 * metrics.c — the families the pipeline counts in (struct hk_pipeline_metrics in
 * hk_pipeline.h): events refused or unmatched, outcome records, dead-letter and tier publishes
 * (and what failed of them), the end-to-end latency.
 */
#include "hk_pipeline.h"

#define PUBLISH_ERRORS(kind)                                                                       \
    HK_COUNTER("hookd_dlq_publish_errors_total", "kind=\"" kind "\"",                              \
               "Publishes of the delivery path Kafka refused or did not acknowledge, by kind: "    \
               "dead_letter and retry (a tier record) are published again (the offset waits) or, " \
               "when too large, cut (a dead letter) or dead-lettered (a retry record); outcome "   \
               "(the outcome topic, best effort) is not; event (an operational event) is "         \
               "published again, or lost when too large.")

/* From 100 ms (an event delivered at once) to a day (the default tiers span about 27 hours). */
static const uint64_t end_to_end_bounds_ms[] = {100,     250,     500,      1000,     2500,
                                                5000,    10000,   30000,    60000,    300000,
                                                1800000, 7200000, 21600000, 43200000, 86400000};

/* From 1 ms (a fetch answered at once) to 30 s (a worker far behind: the lag tells the rest). */
static const uint64_t pickup_bounds_ms[] = {1,   2,   5,    10,   25,   50,    100,
                                            250, 500, 1000, 2500, 5000, 10000, 30000};

struct hk_pipeline_metrics hk_pipeline_metrics = {
    .events_poison = HK_COUNTER("hookd_events_poison_total", NULL,
                                "Events refused as poison (bad JSON, missing field, too large) "
                                "and sent to the dead-letter topic."),
    .events_unmatched = HK_COUNTER("hookd_events_unmatched_total", NULL,
                                   "Events whose flow had no task with a matching trigger."),
    .overrides_unknown = HK_COUNTER("hookd_overrides_unknown_total", NULL,
                                    "webhookOverrides entries naming no webhook task of the "
                                    "event's flow (logged as event.override.unknown, and said "
                                    "in the event's outcomes)."),
    .outcomes_published = HK_COUNTER("hookd_outcomes_published_total", NULL,
                                     "Attempt outcomes acknowledged on hookd.deliveries."),
    .dlq_publish_errors_dead_letter = PUBLISH_ERRORS("dead_letter"),
    .dlq_publish_errors_retry = PUBLISH_ERRORS("retry"),
    .dlq_publish_errors_outcome = PUBLISH_ERRORS("outcome"),
    .dlq_publish_errors_event = PUBLISH_ERRORS("event"),
    .delivery_end_to_end_seconds = HK_HISTOGRAM_MS(
        "hookd_delivery_end_to_end_seconds",
        "Time from an event's time (its finishedAt; when it has none, when hookd first consumed "
        "it) to its delivery's 2xx, retries included; one per delivery delivered.",
        end_to_end_bounds_ms),
    .event_pickup_seconds = HK_HISTOGRAM_MS(
        "hookd_event_pickup_seconds",
        "Age of a job event when hookd takes it from its partition, from its Kafka timestamp "
        "(set by its producer, or the broker's with LogAppendTime): the broker, the fetch, "
        "librdkafka's prefetch queue and hookd's back-pressure together.",
        pickup_bounds_ms),
    .retries_foreign = HK_COUNTER("hookd_retries_foreign_total", NULL,
                                  "Retry records skipped because another consumer group "
                                  "(another deployment sharing the tier topics) wrote them."),
    .retries_published = HK_COUNTER_VEC("hookd_retries_published_total", "tier",
                                        "Deliveries acknowledged by Kafka on a retry tier (failed "
                                        "attempts and deferrals), by tier."),
    .retries_consumed = HK_COUNTER_VEC("hookd_retries_consumed_total", "tier",
                                       "Retry records taken from a tier once due, by tier."),
    .rate_limited = HK_COUNTER("hookd_rate_limited_total", NULL,
                               "Deliveries that waited for a slot of their task's rateLimit "
                               "(never failed, never counted as an attempt)."),
    .rate_waiting = HK_GAUGE("hookd_rate_waiting", NULL,
                             "Deliveries waiting now for a slot of their task's rateLimit."),
    .rate_lease_errors = HK_COUNTER("hookd_rate_lease_errors_total", NULL,
                                    "Leases of rateLimit slots Redis did not answer (asked "
                                    "again a second later; the deliveries keep waiting)."),
    .operational_events = HK_COUNTER("hookd_operational_events_total", NULL,
                                     "Operational events (task.disabled) acknowledged on "
                                     "hookd.events."),
    .operational_event_errors = HK_COUNTER("hookd_operational_event_errors_total", NULL,
                                           "Operational events that could not be published "
                                           "(refused as too large)."),
    .operational_events_foreign = HK_COUNTER("hookd_operational_events_foreign_total", NULL,
                                             "Operational events on hookd.events skipped "
                                             "because another consumer group (deployment) "
                                             "published them."),
};
HK_METRICS_REGISTER("pipeline", hk_pipeline_metrics)

void hk_pipeline_metrics_set_tiers(const char *const *names, size_t n)
{
    hk_counter_vec_set_labels(&hk_pipeline_metrics.retries_published, names, n);
    hk_counter_vec_set_labels(&hk_pipeline_metrics.retries_consumed, names, n);
}
