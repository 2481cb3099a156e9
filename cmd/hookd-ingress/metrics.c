/*
 * metrics.c — hookd-ingress's families: requests by outcome, refusals by reason, the time to
 * Kafka's acknowledgement, the endpoints loaded, readiness, waits claimed, expired, put back
 * and live.
 */
#include "ingress.h"

#include <string.h>

#define REQUESTS "hookd_ingress_requests_total"
#define REJECTED "hookd_ingress_rejected_total"
#define REQUESTS_HELP "Requests to /in/ answered, by outcome."
#define REJECTED_HELP "Requests answered 404, by reason (each logged with its endpoint's id)."

static const uint64_t ack_bounds_ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};

static struct ingress_metrics {
    hk_counter requests[ING__OUTCOMES];
    hk_counter rejected[ING_REJECT__COUNT - 1]; /* [reason - 1]: NONE is never counted */
    hk_counter slow_clients;
    hk_histogram ack_seconds;
    hk_gauge endpoints;
    hk_gauge ready;
    hk_counter waits[ING__WAIT_EVENTS];
    hk_gauge waits_live;
} ingress_metrics = {
    .requests =
        {
            [ING_ACCEPTED] = HK_COUNTER(REQUESTS, "outcome=\"accepted\"", REQUESTS_HELP),
            [ING_DUPLICATE] = HK_COUNTER(REQUESTS, "outcome=\"duplicate\"", REQUESTS_HELP),
            [ING_CHALLENGE] = HK_COUNTER(REQUESTS, "outcome=\"challenge\"", REQUESTS_HELP),
            [ING_REJECTED] = HK_COUNTER(REQUESTS, "outcome=\"rejected\"", REQUESTS_HELP),
            [ING_MALFORMED] = HK_COUNTER(REQUESTS, "outcome=\"malformed\"", REQUESTS_HELP),
            [ING_TOO_LARGE] = HK_COUNTER(REQUESTS, "outcome=\"too_large\"", REQUESTS_HELP),
            [ING_UNAVAILABLE] = HK_COUNTER(REQUESTS, "outcome=\"unavailable\"", REQUESTS_HELP),
        },
    .rejected =
        {
#define R(reason, label) [(reason)-1] = HK_COUNTER(REJECTED, "reason=\"" label "\"", REJECTED_HELP)
            R(ING_REJECT_UNKNOWN, "unknown_endpoint"),
            R(ING_REJECT_DISABLED, "disabled"),
            R(HK_REJECT_MISSING_SIGNATURE, "missing_signature"),
            R(HK_REJECT_MALFORMED_SIGNATURE, "malformed_signature"),
            R(HK_REJECT_BAD_SIGNATURE, "bad_signature"),
            R(HK_REJECT_STALE_TIMESTAMP, "stale_timestamp"),
            R(HK_REJECT_BAD_BODY_HASH, "bad_body_hash"),
            R(HK_REJECT_MISSING_CREDENTIALS, "missing_credentials"),
            R(HK_REJECT_WRONG_CREDENTIALS, "wrong_credentials"),
            R(HK_REJECT_NOT_A_CHALLENGE, "not_a_challenge"),
            R(HK_REJECT_WRONG_VERIFY_TOKEN, "wrong_verify_token"),
            R(HK_REJECT_NOT_CONFIGURED, "not_configured"),
#undef R
        },
    .slow_clients = HK_COUNTER("hookd_ingress_slow_clients_total", NULL,
                               "Connections shut down because their request headers were not "
                               "in within 5 s, or its body within HOOKD_INGRESS_BODY_TIMEOUT_MS "
                               "of them (a client trickling them)."),
    .ack_seconds = HK_HISTOGRAM_MS("hookd_ingress_ack_seconds",
                                   "From a request's arrival to Kafka's acknowledgement of its "
                                   "record.",
                                   ack_bounds_ms),
    .endpoints = HK_GAUGE("hookd_ingress_endpoints", NULL, "Inbound endpoints loaded."),
    .ready = HK_GAUGE("hookd_ingress_ready", NULL,
                      "1 when /readyz answers 200, else 0 (the workers' is hookd_ready)."),
    .waits =
        {
            [ING_WAITS_CLAIMED] = HK_COUNTER("hookd_ingress_waits_claimed_total", NULL,
                                             "Waits claimed by an accepted request (each once; "
                                             "listed in its record's matchedWaits)."),
            [ING_WAITS_EXPIRED] = HK_COUNTER("hookd_ingress_waits_expired_total", NULL,
                                             "Waits removed unclaimed because their TTL passed."),
            [ING_WAITS_RESTORED] =
                HK_COUNTER("hookd_ingress_waits_restored_total", NULL,
                           "Claimed waits put back because their record did not reach Kafka, "
                           "or because the process holding them died first."),
        },
    .waits_live = HK_GAUGE("hookd_ingress_waits_live", NULL,
                           "Live waits on the endpoints loaded, as the last sweep counted them "
                           "(every 5 s)."),
};
HK_METRICS_REGISTER("hookd-ingress", ingress_metrics)

void ing_count(ing_outcome outcome)
{
    hk_counter_add(&ingress_metrics.requests[outcome], 1);
}

void ing_count_rejected(ing_reject reason)
{
    if (reason > HK_REJECT_NONE && reason < ING_REJECT__COUNT)
        hk_counter_add(&ingress_metrics.rejected[reason - 1], 1);
}

void ing_count_slow_client(void)
{
    hk_counter_add(&ingress_metrics.slow_clients, 1);
}

void ing_observe_ack(uint64_t ms)
{
    hk_histogram_observe_ms(&ingress_metrics.ack_seconds, ms);
}

void ing_set_endpoints(int64_t n)
{
    hk_gauge_set(&ingress_metrics.endpoints, n);
}

void ing_set_ready(bool ready)
{
    hk_gauge_set(&ingress_metrics.ready, ready);
}

void ing_count_waits(ing_wait_event what, uint64_t n)
{
    if (n)
        hk_counter_add(&ingress_metrics.waits[what], n);
}

void ing_set_waits_live(int64_t n)
{
    hk_gauge_set(&ingress_metrics.waits_live, n);
}
