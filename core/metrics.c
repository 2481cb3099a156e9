/*
 * metrics.c — process-wide counters, gauges, one histogram and the labelled sets, rendered in
 * the Prometheus text format. Relaxed atomics: metrics are read for dashboards, never to
 * synchronise anything. The labelled sets (per-host queue depth, per-partition lag) are
 * published whole by their owners and merged at scrape time under one mutex.
 */
#include "hk_core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------- counters --- */

static _Atomic uint64_t counters[HK_M__COUNT];

typedef struct {
    const char *name;
    const char *help; /* the family's first member carries it */
    const char *labels;
} info;

#define DELIVERIES "hookd_deliveries_total"
#define DEFERRED "hookd_deliveries_deferred_total"
#define DLQ "hookd_dlq_records_total"
#define LOOKUPS "hookd_task_cache_lookups_total"

static const info metric_info[HK_M__COUNT] = {
    [HK_M_EVENTS_CONSUMED] = {"hookd_events_consumed_total",
                              "Messages taken from Kafka: job events and due retry records."},
    [HK_M_EVENTS_POISON] = {"hookd_events_poison_total",
                            "Events refused as poison (bad JSON, missing field, too large) and "
                            "sent to the dead-letter topic."},
    [HK_M_EVENTS_NO_MATCH] = {"hookd_events_unmatched_total",
                              "Events whose flow had no task with a matching trigger."},
    [HK_M_DELIVERIES_STARTED] = {"hookd_delivery_attempts_total", "Delivery attempts started."},
    [HK_M_DELIVERIES_OK] = {DELIVERIES,
                            "Delivery attempts by outcome: succeeded (2xx), http_error (another "
                            "status), timeout, network_error (DNS, connect, TLS, reset), blocked "
                            "(private address refused) or invalid (the request could not be "
                            "built).",
                            "outcome=\"succeeded\""},
    [HK_M_DELIVERIES_HTTP_ERROR] = {DELIVERIES, NULL, "outcome=\"http_error\""},
    [HK_M_DELIVERIES_TIMEOUT] = {DELIVERIES, NULL, "outcome=\"timeout\""},
    [HK_M_DELIVERIES_NETWORK_ERROR] = {DELIVERIES, NULL, "outcome=\"network_error\""},
    [HK_M_DELIVERIES_BLOCKED] = {DELIVERIES, NULL, "outcome=\"blocked\""},
    [HK_M_DELIVERIES_INVALID] = {DELIVERIES, NULL, "outcome=\"invalid\""},
    [HK_M_DEFERRED_SLOW_HOST] = {DEFERRED,
                                 "Deliveries parked on a retry tier without a failed attempt: "
                                 "slow_host (its host was slow and its queue full) or shutdown "
                                 "(unfinished when the worker stopped).",
                                 "reason=\"slow_host\""},
    [HK_M_DEFERRED_SHUTDOWN] = {DEFERRED, NULL, "reason=\"shutdown\""},
    [HK_M_DELIVERIES_CANCELLED] = {"hookd_deliveries_cancelled_total",
                                   "Deliveries given up before they started because their "
                                   "partition moved to another worker, which redelivers them."},
    [HK_M_DLQ_POISON] = {DLQ, "Records acknowledged by Kafka on the dead-letter topic, by reason.",
                         "reason=\"poison\""},
    [HK_M_DLQ_EXHAUSTED] = {DLQ, NULL, "reason=\"attempts_exhausted\""},
    [HK_M_DLQ_RETRY_DISABLED] = {DLQ, NULL, "reason=\"retry_disabled\""},
    [HK_M_DLQ_GONE] = {DLQ, NULL, "reason=\"endpoint_gone\""},
    [HK_M_DLQ_PERMANENT] = {DLQ, NULL, "reason=\"permanent_failure\""},
    [HK_M_DLQ_INVALID] = {DLQ, NULL, "reason=\"invalid_request\""},
    [HK_M_DLQ_TASK_DELETED] = {DLQ, NULL, "reason=\"task_deleted\""},
    [HK_M_DLQ_TASK_DISABLED] = {DLQ, NULL, "reason=\"task_disabled\""},
    [HK_M_DLQ_TOO_LARGE] = {DLQ, NULL, "reason=\"too_large\""},
    [HK_M_DLQ_FAILED] = {"hookd_dlq_publish_errors_total",
                         "Dead-letter and retry-tier publishes that failed: tried again, or, when "
                         "too large, cut (a dead letter) or dead-lettered (a retry record)."},
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
    [HK_M_CACHE_HIT] = {LOOKUPS,
                        "Lookups of an event's flow in the in-memory task cache (a copy of "
                        "every task, refreshed from Redis): hit, the flow has tasks; miss, it "
                        "has none. Never a Redis round trip.",
                        "result=\"hit\""},
    [HK_M_CACHE_MISS] = {LOOKUPS, NULL, "result=\"miss\""},
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

/* ------------------------------------------------------------------------------ gauges --- */

static _Atomic int64_t gauges[HK_G__COUNT];

static const info gauge_info[HK_G__COUNT] = {
    [HK_G_INFLIGHT] = {"hookd_requests_in_flight", "Webhook requests being sent now."},
    [HK_G_QUEUED] = {"hookd_requests_queued",
                     "Webhook requests waiting for a free slot (global or per host)."},
    [HK_G_REDIS_UP] = {"hookd_redis_up",
                       "1 when the task cache's last poll of Redis succeeded, else 0."},
    [HK_G_READY] = {"hookd_ready", "1 when /readyz answers 200, else 0."},
};

void hk_gauge_add(hk_gauge g, int64_t delta)
{
    atomic_fetch_add_explicit(&gauges[g], delta, memory_order_relaxed);
}

void hk_gauge_set(hk_gauge g, int64_t value)
{
    atomic_store_explicit(&gauges[g], value, memory_order_relaxed);
}

int64_t hk_gauge_get(hk_gauge g)
{
    return atomic_load_explicit(&gauges[g], memory_order_relaxed);
}

/* ------------------------------------------------------------------------------- tiers --- */

static char tier_names[HK_METRIC_MAX_TIERS][32];
static size_t tiers_len;
static _Atomic uint64_t tier_counters[2][HK_METRIC_MAX_TIERS];

void hk_metrics_set_tiers(const char *const *names, size_t n)
{
    if (n > HK_METRIC_MAX_TIERS)
        n = HK_METRIC_MAX_TIERS;
    for (size_t i = 0; i < n; i++)
        snprintf(tier_names[i], sizeof tier_names[i], "%s", names[i]);
    tiers_len = n;
}

void hk_metric_tier_add(hk_tier_metric m, size_t tier, uint64_t n)
{
    if (tier < HK_METRIC_MAX_TIERS)
        atomic_fetch_add_explicit(&tier_counters[m][tier], n, memory_order_relaxed);
}

static uint64_t tier_get(hk_tier_metric m, size_t tier)
{
    return tier < HK_METRIC_MAX_TIERS
               ? atomic_load_explicit(&tier_counters[m][tier], memory_order_relaxed)
               : 0;
}

/* --------------------------------------------------------------------------- histogram --- */

/* Upper bounds in ms; the last bucket (+Inf) is implicit. */
static const uint64_t bucket_ms[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
#define N_BUCKETS (sizeof bucket_ms / sizeof bucket_ms[0])
static _Atomic uint64_t buckets[N_BUCKETS + 1]; /* not cumulative; summed when rendered */
static _Atomic uint64_t latency_sum_ms;

void hk_metric_observe_attempt(uint64_t latency_ms)
{
    size_t b = 0;
    while (b < N_BUCKETS && latency_ms > bucket_ms[b])
        b++;
    atomic_fetch_add_explicit(&buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&latency_sum_ms, latency_ms, memory_order_relaxed);
}

/* ------------------------------------------------------------------------ labelled sets --- */

struct hk_metric_source {
    hk_metric_set set;
    hk_metric_sample *samples;
    size_t n;
    hk_metric_source *next;
};

static pthread_mutex_t sources_lock = PTHREAD_MUTEX_INITIALIZER;
static hk_metric_source *sources;

hk_metric_source *hk_metric_source_create(hk_metric_set set)
{
    hk_metric_source *src = hk_xcalloc(1, sizeof *src);
    src->set = set;
    pthread_mutex_lock(&sources_lock);
    src->next = sources;
    sources = src;
    pthread_mutex_unlock(&sources_lock);
    return src;
}

void hk_metric_source_publish(hk_metric_source *src, const hk_metric_sample *s, size_t n)
{
    hk_metric_sample *copy = n ? hk_xmalloc(n * sizeof *copy) : NULL;
    if (n)
        memcpy(copy, s, n * sizeof *copy);
    pthread_mutex_lock(&sources_lock);
    hk_metric_sample *old = src->samples;
    src->samples = copy;
    src->n = n;
    pthread_mutex_unlock(&sources_lock);
    free(old);
}

void hk_metric_source_destroy(hk_metric_source *src)
{
    if (!src)
        return;
    pthread_mutex_lock(&sources_lock);
    for (hk_metric_source **p = &sources; *p; p = &(*p)->next) {
        if (*p == src) {
            *p = src->next;
            break;
        }
    }
    pthread_mutex_unlock(&sources_lock);
    free(src->samples);
    free(src);
}

void hk_metric_sample_label(hk_metric_sample *s, const char *key, const char *value)
{
    size_t len = strlen(s->labels), cap = sizeof s->labels;
    int n = snprintf(s->labels + len, cap - len, "%s%s=\"", len ? "," : "", key);
    if (n < 0 || (size_t)n >= cap - len) {
        s->labels[len] = '\0';
        return;
    }
    len += (size_t)n;
    /* The text format escapes backslash, double quote and line feed in label values. Leave
     * room for the closing quote. */
    for (const char *p = value; *p && len + 3 < cap; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            s->labels[len++] = '\\';
            s->labels[len++] = *p == '\n' ? 'n' : *p;
        } else {
            s->labels[len++] = *p;
        }
    }
    s->labels[len++] = '"';
    s->labels[len] = '\0';
}

static int by_labels(const void *a, const void *b)
{
    return strcmp(((const hk_metric_sample *)a)->labels, ((const hk_metric_sample *)b)->labels);
}

static int by_value_desc(const void *a, const void *b)
{
    int64_t x = ((const hk_metric_sample *)a)->value, y = ((const hk_metric_sample *)b)->value;
    return x < y ? 1 : x > y ? -1 : by_labels(a, b);
}

/* Every sample of the set, equal label sets merged (summed, or the larger kept). */
static hk_metric_sample *gather(hk_metric_set set, bool sum, size_t *len)
{
    pthread_mutex_lock(&sources_lock);
    size_t total = 0;
    for (hk_metric_source *s = sources; s; s = s->next)
        if (s->set == set)
            total += s->n;
    hk_metric_sample *all = hk_xmalloc((total ? total : 1) * sizeof *all);
    size_t n = 0;
    for (hk_metric_source *s = sources; s; s = s->next) {
        if (s->set == set && s->n) {
            memcpy(all + n, s->samples, s->n * sizeof *all);
            n += s->n;
        }
    }
    pthread_mutex_unlock(&sources_lock);
    qsort(all, n, sizeof *all, by_labels);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out && strcmp(all[out - 1].labels, all[i].labels) == 0) {
            if (sum)
                all[out - 1].value += all[i].value;
            else if (all[i].value > all[out - 1].value)
                all[out - 1].value = all[i].value;
        } else {
            all[out++] = all[i];
        }
    }
    *len = out;
    return all;
}

/* ------------------------------------------------------------------------------ render --- */

static void family(hk_buf *out, const char *name, const char *type, const char *help)
{
    hk_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void hk_metrics_render(hk_buf *out)
{
    for (int m = 0; m < HK_M__COUNT; m++) {
        const info *i = &metric_info[m];
        if (m == 0 || strcmp(metric_info[m - 1].name, i->name) != 0)
            family(out, i->name, "counter", i->help);
        if (i->labels)
            hk_buf_printf(out, "%s{%s} %llu\n", i->name, i->labels,
                          (unsigned long long)hk_metric_get((hk_metric)m));
        else
            hk_buf_printf(out, "%s %llu\n", i->name,
                          (unsigned long long)hk_metric_get((hk_metric)m));
    }

    static const char *const tier_family[2][2] = {
        {"hookd_retries_published_total",
         "Deliveries acknowledged by Kafka on a retry tier (failed attempts and deferrals), by "
         "tier."},
        {"hookd_retries_consumed_total", "Retry records taken from a tier once due, by tier."},
    };
    for (int t = 0; t < 2; t++) {
        family(out, tier_family[t][0], "counter", tier_family[t][1]);
        for (size_t k = 0; k < tiers_len; k++)
            hk_buf_printf(out, "%s{tier=\"%s\"} %llu\n", tier_family[t][0], tier_names[k],
                          (unsigned long long)tier_get((hk_tier_metric)t, k));
    }

    const char *h = "hookd_delivery_attempt_duration_seconds";
    family(out, h, "histogram",
           "Time from a request's start to its response or failure, per attempt sent.");
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= N_BUCKETS; b++) {
        cumulative += atomic_load_explicit(&buckets[b], memory_order_relaxed);
        if (b < N_BUCKETS)
            hk_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", h, (double)bucket_ms[b] / 1000.0,
                          (unsigned long long)cumulative);
        else
            hk_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", h, (unsigned long long)cumulative);
    }
    hk_buf_printf(out, "%s_sum %.3f\n%s_count %llu\n", h,
                  (double)atomic_load_explicit(&latency_sum_ms, memory_order_relaxed) / 1000.0, h,
                  (unsigned long long)cumulative);

    for (int g = 0; g < HK_G__COUNT; g++) {
        family(out, gauge_info[g].name, "gauge", gauge_info[g].help);
        hk_buf_printf(out, "%s %lld\n", gauge_info[g].name, (long long)hk_gauge_get((hk_gauge)g));
    }
    family(out, "hookd_build_info", "gauge", "Always 1; the version is in the label.");
    hk_buf_printf(out, "hookd_build_info{version=\"%s\"} 1\n", HK_VERSION);

    size_t n;
    hk_metric_sample *s = gather(HK_SET_HOST_QUEUE, true, &n);
    qsort(s, n, sizeof *s, by_value_desc);
    family(out, "hookd_host_queue_depth", "gauge",
           "Requests waiting for a slot per destination (scheme://host:port); only the 50 "
           "deepest hosts, refreshed every second.");
    for (size_t i = 0; i < n && i < HK_METRIC_MAX_HOSTS; i++)
        hk_buf_printf(out, "hookd_host_queue_depth{%s} %lld\n", s[i].labels, (long long)s[i].value);
    free(s);

    s = gather(HK_SET_CONSUMER_LAG, false, &n);
    family(out, "hookd_kafka_consumer_lag", "gauge",
           "Messages of an assigned partition not yet finished (its end minus the offset "
           "stored as done), from librdkafka statistics every statistics.interval.ms. A "
           "tier's lag includes records not yet due.");
    for (size_t i = 0; i < n; i++)
        hk_buf_printf(out, "hookd_kafka_consumer_lag{%s} %lld\n", s[i].labels,
                      (long long)s[i].value);
    free(s);
}
