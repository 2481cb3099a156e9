/*
 * hk_pipeline.h — the delivery pipeline of one shard: from "event consumed" to "offset released".
 *
 *   consumer ──event──▶ parse ──▶ store snapshot: flow's tasks ──▶ match ──▶ build+sign
 *      ▲                  │ poison                                               │
 *      │ release          ▼                                                      ▼
 *   offsets ◀──ack── producer (hookd.dlq, tiers) ◀── act on the verdict ◀──result── engine
 *                         (hookd.deliveries + Redis history get every outcome)
 *
 * pipeline owns, for one event loop: the consumers (the main topic's and one per retry tier, as
 * one array), the producer, the delivery engine, and what hangs between them: a consumed
 * message's job with its attempts, the verdict's action (record the outcome, republish to a
 * tier, dead-letter, disable the task), the backlog of records the producer's queue refused,
 * back-pressure, and the drain and hand-off at shutdown. The fate of an attempt is decided in
 * one place, hk_retry_decide (retry/); the pipeline only acts on the verdict.
 *
 * A consumed message counts its live attempts (plus one while it is dispatched); an attempt ends
 * when its delivery succeeded or Kafka acknowledged the record that carries it on (a tier's or
 * a dead letter). When the count reaches zero the message's unit of work is released and the
 * consumer may store the partition's offset past it.
 *
 * Threads: a pipeline lives on the loop it was created with. Every function below runs on that
 * loop's thread, except hk_pipeline_state_of(), which reads only atomics
 * and may be called from any thread (the probes). What the shards share (hk_pipeline_shared) is
 * borrowed and must outlive every pipeline; its cache, history writer, policy and allow list are
 * safe to use from any thread.
 */
#ifndef HK_PIPELINE_H
#define HK_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "hk_consumer.h"
#include "hk_core.h"
#include "hk_delivery.h"
#include "hk_model.h"
#include "hk_producer.h"
#include "hk_retry.h"
#include "hk_store.h"

/* What every shard's pipeline shares: borrowed, set up by the program before the first
 * pipeline is created. */
typedef struct hk_pipeline_shared {
    const hk_config *cfg;
    const hk_retry_policy *policy;
    const hk_cidr_list *allow;
    hk_store_cache *cache;
    hk_store_history *history; /* NULL: no history, no auto-disable */
    const char *group_id;      /* the main consumer group (group.id): records carry it */
    /* The topics hookd writes, HOOKD_TOPIC_PREFIX's: <prefix>retry.<delay>, dlq, deliveries,
     * events (hk_pipeline_shared_topics fills them). */
    char tier_topics[HK_RETRY_MAX_TIERS][HK_TOPIC_NAME_MAX + 1];
    char topic_dlq[HK_TOPIC_NAME_MAX + 1];
    char topic_deliveries[HK_TOPIC_NAME_MAX + 1];
    char topic_events[HK_TOPIC_NAME_MAX + 1];
    /* The producer failed fatally (rd_kafka_fatal_error): the program must stop every shard
     * where it is, storing nothing more. Called on the failing pipeline's thread. */
    void (*on_fatal)(void *arg);
    void *fatal_arg;
} hk_pipeline_shared;

typedef struct hk_pipeline hk_pipeline;

/* Fills shared's topic names from prefix (HOOKD_TOPIC_PREFIX) and shared->policy's tiers. */
void hk_pipeline_shared_topics(hk_pipeline_shared *shared, const char *prefix);

/* Builds shard `index` of `shards` on loop: its engine (with its share of HOOKD_MAX_INFLIGHT and
 * of the per-host caps), producer and consumers (each a group member of its own: the main one in
 * the configured group, tier t's in "<group.id>.retry.<delay>"). Shard 0 also makes sure the
 * topics hookd writes exist. HK_OK; HK_EINVAL when a setting was refused, HK_ERR otherwise
 * (err set, nothing left behind). */
int hk_pipeline_create(hk_loop *loop, const hk_pipeline_shared *shared, int index, int shards,
                       hk_pipeline **out, hk_error *err);
/* Closes the consumers (each commits what was stored, then leaves its group). Teardown's first
 * step, for every shard before any engine or producer goes. Accepts NULL; idempotent. */
void hk_pipeline_close_consumers(hk_pipeline *p);
/* Frees the rest: the engine (requests in flight are dropped: their offsets were never stored),
 * then the producer, which gets flush_ms to deliver outcome records still queued. Records the
 * backlog never queued are dropped: the partitions' next owner redelivers them. Accepts NULL. */
void hk_pipeline_destroy(hk_pipeline *p, int flush_ms);

/* Shutdown (shutdown.c). drain: stop taking events and let those in progress finish until the
 * grace period's last part (HOOKD_SHUTDOWN_GRACE_MS from now), then hand what is unfinished to
 * the retry tiers; when nothing is left, or at the deadline, commit and stop the loop. finish:
 * commit and stop the loop now (a second signal). Both on the loop's thread. */
void hk_pipeline_drain(hk_pipeline *p);
void hk_pipeline_finish(hk_pipeline *p);

/* What the probes read (any thread; atomics only). */
typedef struct hk_pipeline_state {
    int brokers_up;      /* the main consumer's brokers up, -1 before its first statistics */
    bool main_joined;    /* the main consumer has an assignment (possibly empty) */
    bool all_joined;     /* ... and so has every tier's (and <prefix>events's) */
    int partitions;      /* of the main topics assigned to this shard */
    int tier_partitions; /* of the tier topics */
} hk_pipeline_state;
void hk_pipeline_state_of(const hk_pipeline *p, hk_pipeline_state *out);

/* ----------------------------------------------------------------- metrics (metrics.c) --- */

/* The families the pipeline counts in. A member is named after its series: the name without
 * hookd_ and _total. The outcome families (hookd_deliveries_total, hookd_dlq_records_total) are
 * retry/'s, the decision's labels. */
struct hk_pipeline_metrics {
    hk_counter events_poison;      /* hookd_events_poison_total */
    hk_counter events_unmatched;   /* hookd_events_unmatched_total: no matching task */
    hk_counter overrides_unknown;  /* hookd_overrides_unknown_total: naming no task */
    hk_counter outcomes_published; /* hookd_outcomes_published_total: acknowledged */
    /* hookd_dlq_publish_errors_total{kind}: what Kafka refused or lost of what the delivery
     * path publishes: dead_letter, retry (a tier record), outcome (best effort), event (an
     * operational event) */
    hk_counter dlq_publish_errors_dead_letter;
    hk_counter dlq_publish_errors_retry;
    hk_counter dlq_publish_errors_outcome;
    hk_counter dlq_publish_errors_event;
    /* hookd_delivery_end_to_end_seconds: from the event's time (its finishedAt, else when
     * hookd first consumed it) to the 2xx, per delivery delivered, retries included */
    hk_histogram delivery_end_to_end_seconds;
    /* hookd_event_pickup_seconds: a job event's age when hookd takes it from its partition
     * (from its Kafka timestamp): the broker, the fetch, the prefetch queue, back-pressure */
    hk_histogram event_pickup_seconds;
    hk_counter retries_foreign;       /* hookd_retries_foreign_total: another group's records */
    hk_counter_vec retries_published; /* hookd_retries_published_total{tier} */
    hk_counter_vec retries_consumed;  /* hookd_retries_consumed_total{tier} */
    hk_counter rate_limited;          /* hookd_rate_limited_total: deliveries that waited for
                                         their task's rateLimit */
    hk_gauge rate_waiting;            /* hookd_rate_waiting: deliveries waiting for it now */
    hk_counter rate_lease_errors;     /* hookd_rate_lease_errors_total: Redis did not answer */
    /* hookd_operational_events_total (acknowledged on hookd.events), _event_errors_total (lost),
     * _events_foreign_total (another group's, skipped) */
    hk_counter operational_events;
    hk_counter operational_event_errors;
    hk_counter operational_events_foreign;
};
extern struct hk_pipeline_metrics hk_pipeline_metrics;

/* Labels both tier families with the tiers' names ("5s"), in tier order: once, at start, before
 * anything counts. Copies them. */
void hk_pipeline_metrics_set_tiers(const char *const *names, size_t n);

/* --------------------------------------------------------------- the pure part (facts.c) --- */

/* The facts of an attempt's end for hk_retry_decide, from the engine's result and the task:
 * attempt `number`, deferred `deferrals` times in a row before it; handing_off and owns: whether
 * the shard is handing off at shutdown and still owns the attempt's partition; now_ms the wall
 * clock. Pure: the pipeline calls it for every result, and the unit tests with made-up ones. */
hk_retry_facts hk_pipeline_facts(const hk_delivery_result *res, const hk_task *task, int number,
                                 int deferrals, bool handing_off, bool owns, uint64_t now_ms);

/* A task's rateLimit on one shard (rate.c): a lease of `left` slots of the task's schedule,
 * leased from the limiter every worker shares (hk_store_rate_lease_async), the next due at
 * next_us on the local monotonic clock and each interval_us after the one before. Pure: the
 * pipeline keeps one per limited task, the unit tests drive one with made-up clocks. */
typedef struct hk_rate_lease {
    uint64_t next_us;
    uint64_t interval_us;
    uint32_t left;
} hk_rate_lease;
/* Slots passed unused by more than this are dropped: a lease taken before a quiet spell does
 * not turn into a burst after it. */
#define HK_RATE_STALE_US 1000000u
/* How far ahead a shard may reserve slots: a worker that dies holding them costs the task at
 * most this much of its rate. */
#define HK_RATE_HORIZON_US 1000000u
/* The slot interval of a rate (deliveries per second): rounded up, never faster. */
uint64_t hk_rate_interval_us(unsigned rate);
/* How many slots to ask for with `waiting` deliveries waiting: each of them, at most a tenth
 * of a second's worth (at least one). */
uint32_t hk_rate_lease_want(unsigned rate, size_t waiting);
/* Replaces the lease with n slots, the first start_in_us after now_us. */
void hk_rate_lease_grant(hk_rate_lease *l, uint64_t now_us, uint64_t start_in_us, uint32_t n,
                         uint64_t interval_us);
/* Takes the next slot if it is due at now_us (true); a lease gone stale is emptied. */
bool hk_rate_lease_take(hk_rate_lease *l, uint64_t now_us);
/* How long until the next slot is due: 0 when it is, UINT64_MAX when the lease is empty. */
uint64_t hk_rate_lease_due_in_us(const hk_rate_lease *l, uint64_t now_us);
/* ------------------------------------------- the sustained-failure rule (health.c) --- */

/* A task's state in one shard: whether it last saw a delivered attempt or a final failure, and
 * when it next tells the history writer again. Zeroed: nothing seen yet. */
typedef struct hk_task_health {
    unsigned char state;
    bool untold;      /* delivered attempts since the last told */
    uint64_t next_ms; /* monotonic */
} hk_task_health;
typedef enum {
    HK_HEALTH_NONE,         /* nothing to tell */
    HK_HEALTH_FAILED,       /* hk_store_history_task_failed(reset false) */
    HK_HEALTH_FAILED_RESET, /* ... (reset true: a delivered attempt came first, untold) */
    HK_HEALTH_DELIVERED,    /* hk_store_history_task_delivered */
} hk_health_notice;
/* One attempt's end (delivered, or dead-lettered) for the task: what to tell, if anything. A
 * change of state is told at once; the same state again at most once per interval_ms. Pure. */
hk_health_notice hk_pipeline_health_step(hk_task_health *h, bool delivered, uint64_t now_ms,
                                         uint64_t interval_ms);
/* The interval for a HOOKD_DISABLE_AFTER: a quarter of it, from 50 ms to 60 s. */
uint64_t hk_pipeline_health_interval(uint64_t disable_after_ms);

/* -------------------------------------------- operational events (send.c, loop thread) --- */

/* Publishes an operational event (the JSON text, e.g. hk_event_task_disabled_json) to
 * <prefix>events, keyed by key; counted in hookd_operational_events_total once acknowledged,
 * in hookd_operational_event_errors_total when it cannot go. Copies both. */
void hk_pipeline_publish_event(hk_pipeline *p, const char *key, const char *json);

#endif
