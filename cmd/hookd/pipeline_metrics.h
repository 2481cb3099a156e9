/*
 * pipeline_metrics.h — the families the delivery pipeline counts in (worker.c today): events
 * refused or unmatched, outcome records, dead-letter and tier publishes, and readiness. Private
 * to cmd/hookd for now; it moves with the pipeline into a module of its own, whose public header
 * then declares struct hk_pipeline_metrics. A member is named after its series: the name without
 * hookd_ and _total.
 */
#ifndef HK_PIPELINE_METRICS_H
#define HK_PIPELINE_METRICS_H

#include <stddef.h>

#include "hk_core.h"

struct hk_pipeline_metrics {
    hk_counter events_poison;           /* hookd_events_poison_total */
    hk_counter events_unmatched;        /* hookd_events_unmatched_total: no matching task */
    hk_counter outcomes_published;      /* hookd_outcomes_published_total: acknowledged */
    hk_counter outcomes_publish_errors; /* hookd_outcomes_publish_errors_total */
    hk_counter dlq_publish_errors;      /* hookd_dlq_publish_errors_total: dead letters and tier
                                           records */
    hk_counter retries_foreign;         /* hookd_retries_foreign_total: another group's records */
    hk_counter_vec retries_published;   /* hookd_retries_published_total{tier} */
    hk_counter_vec retries_consumed;    /* hookd_retries_consumed_total{tier} */
    hk_gauge ready;                     /* hookd_ready: /readyz's answer, refreshed every second */
};
extern struct hk_pipeline_metrics hk_pipeline_metrics;

/* Labels both tier families with the tiers' names ("5s"), in tier order: once, at start, before
 * anything counts. Copies them. */
void hk_pipeline_metrics_set_tiers(const char *const *names, size_t n);

#endif
