/*
 * metrics.c — the families delivery counts in (struct hk_delivery_metrics in hk_delivery.h):
 * attempts' latency, requests in flight and waiting, per-host queue depth and failures.
 */
#include "hk_delivery.h"

/* Upper bounds in ms, from 5 ms to 30 s (the default timeout); +Inf is implicit. */
static const uint64_t attempt_bounds_ms[] = {5,   10,   25,   50,   100,   250,
                                             500, 1000, 2500, 5000, 10000, 30000};

/* From 1 ms to 30 s: a request starts at once unless a limit holds it. */
static const uint64_t queue_bounds_ms[] = {1,   2,   5,    10,   25,   50,    100,
                                           250, 500, 1000, 2500, 5000, 10000, 30000};

struct hk_delivery_metrics hk_delivery_metrics = {
    .delivery_attempt_duration_seconds =
        HK_HISTOGRAM_MS("hookd_delivery_attempt_duration_seconds",
                        "Time from a request's start to its response or failure, per attempt sent.",
                        attempt_bounds_ms),
    .delivery_queue_seconds = HK_HISTOGRAM_MS(
        "hookd_delivery_queue_seconds",
        "Time a request waited in hookd before its start, for a free slot (HOOKD_MAX_INFLIGHT, "
        "HOOKD_MAX_INFLIGHT_PER_HOST); per attempt sent.",
        queue_bounds_ms),
    .requests_in_flight =
        HK_GAUGE("hookd_requests_in_flight", NULL, "Webhook requests being sent now."),
    .requests_queued = HK_GAUGE("hookd_requests_queued", NULL,
                                "Webhook requests waiting for a free slot (global or per host)."),
    /* summed over the shards' engines; a label per destination ever seen would grow without
     * bound, so only the deepest */
    .host_queue_depth = HK_METRIC_SET(
        "hookd_host_queue_depth",
        "Requests waiting for a slot per destination (scheme://host:port); only the 50 deepest "
        "hosts, refreshed every second.",
        HK_MERGE_SUM, HK_DELIVERY_HOSTS_SHOWN),
    /* only the hosts failing most: a sketch of 64 per engine (engine_internal.h) */
    .host_failed_attempts = HK_METRIC_SET(
        "hookd_host_failed_attempts",
        "Failed attempts per destination (scheme://host:port) over the last minute, a sliding "
        "estimate; only the 50 hosts failing most, refreshed every second.",
        HK_MERGE_SUM, HK_DELIVERY_HOSTS_SHOWN),
};
HK_METRICS_REGISTER("delivery", hk_delivery_metrics)
