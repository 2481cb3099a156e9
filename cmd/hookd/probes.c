/*
 * probes.c — /healthz and /readyz, answered from atomics only (libmicrohttpd's threads and the
 * probe listener's call them), and the beat each loop's timer leaves for /healthz.
 */
#include "shards.h"

/* hookd_ready: the readiness probe's answer as a metric, for alerts and dashboards. */
static struct probe_metrics {
    hk_gauge ready;
} probe_metrics = {
    .ready = HK_GAUGE("hookd_ready", NULL, "1 when /readyz answers 200, else 0."),
};
HK_METRICS_REGISTER("hookd.probes", probe_metrics)

#define STALL_MS 10000 /* a loop that has not turned for this long is not alive */
#define BEAT_MS 1000

/* Every second on each loop: proof for /healthz that it turns; shard 0 also refreshes the
 * hookd_ready gauge. */
void hk_probe_on_beat(hk_loop *loop, void *arg)
{
    (void)loop;
    shard *s = arg;
    atomic_store(&s->beat_ms, hk_now_ms());
    if (s->index == 0) {
        hk_buf b = {0};
        hk_gauge_set(&probe_metrics.ready, hk_probe_ready(s->g, &b) == 200);
        hk_buf_free(&b);
    }
    hk_timer_start(s->beat_timer, BEAT_MS);
}

/* /healthz: every event loop turned within STALL_MS. */
int hk_probe_alive(void *arg, hk_buf *body)
{
    group *g = arg;
    if (!atomic_load(&g->started)) {
        hk_buf_puts(body, "ok: starting\n");
        return 200;
    }
    uint64_t now = hk_now_ms();
    int status = 200;
    for (int i = 0; i < g->n; i++) {
        uint64_t beat = atomic_load(&g->shards[i].beat_ms);
        if (now > beat && now - beat > STALL_MS) {
            hk_buf_printf(body, "loop %d: stalled, no turn for %llu ms\n", i,
                          (unsigned long long)(now - beat));
            status = 503;
        }
    }
    if (status == 200)
        hk_buf_printf(body, "ok: %d loop%s turning\n", g->n, g->n == 1 ? "" : "s");
    return status;
}

/* /readyz: Kafka reachable (a broker UP in the latest statistics; before the first, the group
 * join proves it), Redis answering the task cache's polls, and every consumer (each loop's main
 * one and its tiers') in its group with an assignment. An empty assignment counts: with more
 * members than partitions some must idle, and holding them unready would stall a rolling
 * update (decision 23). */
int hk_probe_ready(void *arg, hk_buf *body)
{
    group *g = arg;
    if (!atomic_load(&g->started)) {
        hk_buf_puts(body, "not ready: starting\n");
        return 503;
    }
    if (atomic_load(&g->stopping)) {
        hk_buf_puts(body, "not ready: stopping\n");
        return 503;
    }
    int brokers = -1, partitions = 0, tier_partitions = 0;
    bool kafka_ok = true, joined = true;
    for (int i = 0; i < g->n; i++) {
        hk_pipeline_state st;
        hk_pipeline_state_of(g->shards[i].pipeline, &st);
        if (st.brokers_up > brokers)
            brokers = st.brokers_up;
        if (st.brokers_up == 0 || (st.brokers_up < 0 && !st.main_joined))
            kafka_ok = false;
        joined = joined && st.all_joined;
        partitions += st.partitions;
        tier_partitions += st.tier_partitions;
    }
    bool redis_ok = hk_store_cache_redis_ok(g->cache);
    if (kafka_ok && brokers >= 0)
        hk_buf_printf(body, "kafka: ok (%d broker%s up)\n", brokers, brokers == 1 ? "" : "s");
    else
        hk_buf_puts(body, kafka_ok ? "kafka: ok (group joined)\n"
                                   : "kafka: unreachable (no broker up)\n");
    hk_buf_puts(body, redis_ok ? "redis: ok\n"
                               : "redis: unreachable (the task cache keeps "
                                 "the tasks it last loaded)\n");
    if (joined)
        hk_buf_printf(body, "partitions: ok (%d of %s and %d of the retry tiers assigned)\n",
                      partitions, g->cfg->topics[0], tier_partitions);
    else
        hk_buf_puts(body, "partitions: waiting for the group to assign them\n");
    return kafka_ok && redis_ok && joined ? 200 : 503;
}
