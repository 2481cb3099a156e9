/*
 * metrics.c — the families consumer counts in (struct hk_consumer_metrics in hk_consumer.h):
 * messages taken, offsets stored, rebalances, tier holds and each partition's lag.
 */
#include "hk_consumer.h"

struct hk_consumer_metrics hk_consumer_metrics = {
    .events_consumed = HK_COUNTER("hookd_events_consumed_total", NULL,
                                  "Messages taken from Kafka: job events and due retry records."),
    .offsets_stored =
        HK_COUNTER("hookd_offsets_stored_total", NULL, "Times a partition's offset moved forward."),
    .rebalances = HK_COUNTER("hookd_rebalances_total", NULL, "Consumer group rebalances."),
    .tier_holds = HK_COUNTER("hookd_tier_holds_total", NULL,
                             "Times a retry tier's partition was paused because its next record "
                             "was not yet due (it resumes on a timer at the due time)."),
    /* the same partition from two consumers, for a moment during a rebalance: the larger */
    .kafka_consumer_lag = HK_METRIC_SET(
        "hookd_kafka_consumer_lag",
        "Messages of an assigned partition not yet finished (its end minus the offset stored as "
        "done), from librdkafka statistics every statistics.interval.ms. A tier's lag includes "
        "records not yet due.",
        HK_MERGE_MAX, 0),
};
HK_METRICS_REGISTER("consumer", hk_consumer_metrics)
