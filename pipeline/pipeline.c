/*
 * pipeline.c — one shard's pipeline as a whole: building it (engine, producer, the consumers as
 * one array), tearing it down, releasing a finished message, back-pressure, and the state the
 * probes read.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void pl_job_release(job *j)
{
    if (--j->attempts_alive > 0)
        return;
    hk_pipeline *p = j->p;
    hk_consumer_release(j->c, j->ref);
    hk_event_destroy(j->ev);
    if (j->snap)
        hk_store_snapshot_release(j->snap);
    free(j->raw);
    free(j->override_warning);
    free(j);
    p->jobs_alive--;
}

/* Takes no message while too many deliveries wait or the producer's queue is full. */
void pl_update_backpressure(hk_pipeline *p)
{
    size_t pending = hk_delivery_pending(p->engine) + p->rate_waiting;
    size_t high = (size_t)p->max_inflight * 4, low = (size_t)p->max_inflight * 2;
    if ((!p->engine_full && pending >= high) || (p->engine_full && pending <= low))
        p->engine_full = !p->engine_full;
    bool pause = p->engine_full || p->backlog;
    if (pause != p->paused) {
        p->paused = pause;
        for (size_t c = 0; c < p->n_consumers; c++)
            hk_consumer_set_paused(p->consumers[c], p->paused);
    }
}

size_t pl_consumer_index(const hk_pipeline *p, const hk_consumer *c)
{
    for (size_t i = 0; i < p->n_consumers; i++)
        if (p->consumers[i] == c)
            return i;
    return 0;
}

void hk_pipeline_state_of(const hk_pipeline *p, hk_pipeline_state *out)
{
    *out = (hk_pipeline_state){
        .brokers_up = hk_consumer_brokers_up(p->consumers[0]),
        .main_joined = hk_consumer_joined(p->consumers[0]),
        .partitions = hk_consumer_assigned(p->consumers[0]),
    };
    out->all_joined = out->main_joined;
    for (size_t c = 1; c < p->n_consumers; c++) {
        out->all_joined = out->all_joined && hk_consumer_joined(p->consumers[c]);
        if (c <= p->policy->tiers) /* not hookd.events's */
            out->tier_partitions += hk_consumer_assigned(p->consumers[c]);
    }
}

/* ------------------------------------------------------------------------------ build --- */

/* A copy of the configured librdkafka properties with group.id and group.instance.id set to
 * the given values where not NULL. The array is the caller's to free; its strings stay owned by
 * the config and the caller. */
static hk_kv *kafka_props(const hk_config *cfg, const char *group_id, const char *member_id,
                          size_t *len)
{
    hk_kv *kv = hk_xcalloc(cfg->kafka_len + 3, sizeof *kv); /* + auto.offset.reset (events) */
    size_t n = 0;
    for (size_t k = 0; k < cfg->kafka_len; k++) {
        const char *key = cfg->kafka[k].key;
        if ((group_id && strcmp(key, "group.id") == 0) ||
            (member_id && strcmp(key, "group.instance.id") == 0))
            continue;
        kv[n++] = cfg->kafka[k];
    }
    if (group_id)
        kv[n++] = (hk_kv){.key = "group.id", .value = (char *)group_id};
    if (member_id)
        kv[n++] = (hk_kv){.key = "group.instance.id", .value = (char *)member_id};
    *len = n;
    return kv;
}

/* The engine with this shard's share of the in-flight caps (shards <= max_inflight, so every
 * shard has at least one slot and the shares sum to the cap). */
static int create_engine(hk_pipeline *p, int shards, hk_error *err)
{
    const hk_config *cfg = p->cfg;
    int i = p->index, n = shards;
    p->max_inflight = cfg->max_inflight / n + (i < cfg->max_inflight % n);
    int per_host = cfg->max_inflight_per_host / n + (i < cfg->max_inflight_per_host % n);
    if (per_host < 1)
        per_host = 1;
    if (per_host > p->max_inflight)
        per_host = p->max_inflight;
    int queue = cfg->max_queue_per_host / n + (i < cfg->max_queue_per_host % n);
    if (cfg->max_queue_per_host > 0 && queue < 1)
        queue = 1;
    hk_delivery_config dcfg = {
        .max_inflight = p->max_inflight,
        .max_inflight_per_host = per_host,
        .max_queue_per_host = queue,
        .allow = p->sh->allow,
        .proxy = cfg->http_proxy,
    };
    return hk_delivery_create(p->loop, &dcfg, &p->engine, err);
}

void hk_pipeline_shared_topics(hk_pipeline_shared *shared, const char *prefix)
{
    for (size_t t = 0; t < shared->policy->tiers; t++)
        hk_retry_tier_topic(shared->policy, prefix, t, shared->tier_topics[t]);
    hk_topic_name(shared->topic_dlq, prefix, HK_TOPIC_DLQ);
    hk_topic_name(shared->topic_deliveries, prefix, HK_TOPIC_DELIVERIES);
    hk_topic_name(shared->topic_events, prefix, HK_TOPIC_EVENTS);
}

/* The producer, with the topics hookd writes made sure of (by shard 0) and prepared. */
static int create_producer(hk_pipeline *p, hk_error *err)
{
    const hk_config *cfg = p->cfg;
    size_t tiers = p->policy->tiers;
    int rc = hk_producer_create(p->loop, cfg->kafka, cfg->kafka_len, &p->producer, err);
    if (rc != HK_OK)
        return rc;
    const char *own_topics[3 + HK_RETRY_MAX_TIERS] = {p->sh->topic_dlq, p->sh->topic_deliveries,
                                                      p->sh->topic_events};
    for (size_t t = 0; t < tiers; t++)
        own_topics[3 + t] = p->sh->tier_topics[t];
    if (p->index == 0 &&
        (rc = hk_producer_ensure_topics(p->producer, own_topics, 3 + tiers, cfg->topic_partitions,
                                        cfg->topic_replication, 10000, err)) != HK_OK)
        return rc;
    hk_producer_prepare(p->producer, own_topics, 3 + tiers);
    return HK_OK;
}

/* Consumer c: 0 the main topics' in the configured group, 1 + t tier t's in
 * "<group.id>.retry.<delay>", and the last, <prefix>events's (operational events, delivered as
 * job events are) in "<group.id>.events"; a static member id (group.instance.id) must differ
 * too. */
static int create_consumer(hk_pipeline *p, size_t c, int shards, hk_error *err)
{
    const hk_config *cfg = p->cfg;
    const char *member = hk_config_kafka(cfg, "group.instance.id");
    bool tier = c > 0 && c <= p->policy->tiers, events = c > p->policy->tiers;
    char suffix[32] = "";
    if (shards > 1)
        snprintf(suffix, sizeof suffix, "-%d", p->index);
    char which[64] = "";
    if (tier)
        snprintf(which, sizeof which, ".retry.%s", p->policy->names[c - 1]);
    else if (events)
        snprintf(which, sizeof which, ".events");
    hk_buf id = {0};
    if (c > 0) {
        hk_buf_printf(&id, "%s%s", p->sh->group_id, which);
        p->group_ids[c] = id.data;
        id = (hk_buf){0};
    }
    if (member) {
        hk_buf_printf(&id, "%s%s%s", member, suffix, which);
        p->member_ids[c] = id.data;
    }
    p->kafka[c] = kafka_props(cfg, p->group_ids[c], p->member_ids[c], &p->kafka_len[c]);
    if (events) /* a new group starts at the end: another deployment's old events are not ours */
        p->kafka[c][p->kafka_len[c]++] = (hk_kv){.key = "auto.offset.reset", .value = "latest"};
    char *tier_topic[] = {tier     ? (char *)p->sh->tier_topics[c - 1]
                          : events ? (char *)p->sh->topic_events
                                   : NULL};
    hk_consumer_config ccfg = {
        .kafka = p->kafka[c],
        .kafka_len = p->kafka_len[c],
        .topics = c > 0 ? tier_topic : cfg->topics,
        .topics_len = c > 0 ? 1 : cfg->topics_len,
        .on_message = tier ? pl_on_retry_message : pl_on_message,
        .on_moved = pl_on_partitions_moved,
        .due = tier ? pl_tier_due : NULL,
        .pickup = tier ? NULL : &hk_pipeline_metrics.event_pickup_seconds,
        .arg = p,
    };
    return hk_consumer_create(p->loop, &ccfg, &p->consumers[c], err);
}

int hk_pipeline_create(hk_loop *loop, const hk_pipeline_shared *shared, int index, int shards,
                       hk_pipeline **out, hk_error *err)
{
    hk_pipeline *p = hk_xcalloc(1, sizeof *p);
    p->sh = shared;
    p->cfg = shared->cfg;
    p->policy = shared->policy;
    p->index = index;
    p->loop = loop;
    p->drain_timer = hk_timer_create(loop, pl_on_drain_timer, p);
    p->backlog_timer = hk_timer_create(loop, pl_on_backlog_timer, p);
    int rc = create_engine(p, shards, err);
    if (rc == HK_OK)
        rc = create_producer(p, err);
    for (size_t c = 0; rc == HK_OK && c <= p->policy->tiers + 1; c++) {
        rc = create_consumer(p, c, shards, err);
        if (rc == HK_OK)
            p->n_consumers = c + 1;
    }
    if (rc != HK_OK) {
        hk_pipeline_destroy(p, 0);
        *out = NULL;
        return rc;
    }
    *out = p;
    return HK_OK;
}

/* --------------------------------------------------------------------------- teardown --- */

void hk_pipeline_close_consumers(hk_pipeline *p)
{
    if (!p)
        return;
    for (size_t c = 0; c < p->n_consumers; c++) {
        hk_consumer_destroy(p->consumers[c]);
        p->consumers[c] = NULL;
    }
    p->n_consumers = 0;
}

void hk_pipeline_destroy(hk_pipeline *p, int flush_ms)
{
    if (!p)
        return;
    hk_pipeline_close_consumers(p);
    pl_rate_destroy(p);
    hk_delivery_destroy(p->engine);
    hk_producer_destroy(p->producer, flush_ms);
    hk_timer_destroy(p->drain_timer);
    hk_timer_destroy(p->backlog_timer);
    pl_backlog_drop(p);
    for (size_t c = 0; c < HK_CONSUMERS_MAX; c++) {
        free(p->kafka[c]);
        free(p->group_ids[c]);
        free(p->member_ids[c]);
    }
    hk_buf_free(&p->scratch);
    hk_buf_free(&p->history_text);
    pl_health_destroy(p->health);
    free(p);
}
