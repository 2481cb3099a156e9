/*
 * internal.h — what the pipeline's files share: the shard, a consumed message's job and one
 * delivery attempt. Private to pipeline/.
 *
 *   pipeline.c  the shard: build and tear down, back-pressure, the probes' state
 *   events.c    a message's life: parse, match, attempts, acting on the verdict
 *   send.c      records to Kafka: outcomes, dead letters, tier records, the backlog
 *   shutdown.c  drain and hand-off
 *   rate.c      rateLimit: deliveries waiting for a slot leased from Redis
 *   facts.c     the engine's result as the retry decision's facts (pure)
 *   health.c    each task's last result, for the sustained-failure rule (HOOKD_DISABLE_AFTER)
 */
#ifndef HK_PIPELINE_INTERNAL_H
#define HK_PIPELINE_INTERNAL_H

#include "hk_pipeline.h"

/* the main topics', the tiers', hookd.events's */
#define HK_CONSUMERS_MAX (2 + HK_RETRY_MAX_TIERS)
#define DELIVERY_ID_LEN 30 /* hk_delivery_id(): "msg_" and 26 characters */

typedef struct send_rec send_rec;
typedef struct rate_limiter rate_limiter;
typedef struct pl_health_table pl_health_table;

struct hk_pipeline {
    const hk_pipeline_shared *sh;
    const hk_config *cfg;
    const hk_retry_policy *policy;
    int index;
    int max_inflight; /* this shard's share of HOOKD_MAX_INFLIGHT */
    hk_loop *loop;    /* borrowed */
    /* [0] the main topics' consumer, [1 + t] retry tier t's, then hookd.events's (operational
     * events, handled as the main topics' are): every "for each consumer" is one
     * loop over n_consumers. Their librdkafka properties, group and member ids are owned here. */
    hk_consumer *consumers[HK_CONSUMERS_MAX];
    size_t n_consumers;
    hk_kv *kafka[HK_CONSUMERS_MAX];
    size_t kafka_len[HK_CONSUMERS_MAX];
    char *group_ids[HK_CONSUMERS_MAX];
    char *member_ids[HK_CONSUMERS_MAX];
    hk_producer *producer;
    hk_delivery_engine *engine;
    size_t jobs_alive;
    bool paused;
    bool engine_full; /* more deliveries wait than the high mark (until the low one) */
    /* Records the producer's queue refused (HK_PRODUCE_AGAIN), oldest first: sent again on
     * backlog_timer, and no message is taken while any waits. */
    send_rec *backlog;
    send_rec *backlog_tail;
    hk_timer *backlog_timer;
    uint64_t outcome_warned_ms; /* the last "outcome lost" warning, at most one a second */
    bool draining;
    bool handing_off;        /* the grace is nearly over: unfinished deliveries go to a tier */
    uint64_t handoff_at;     /* when in-flight requests stop being waited for */
    uint64_t drain_deadline; /* when the loop stops whatever is left */
    hk_timer *drain_timer;
    hk_buf scratch;      /* reused for each outcome record */
    hk_buf history_text; /* likewise, for its history form (with what was sent and came back) */
    /* rateLimit (rate.c): a limiter per limited task with deliveries waiting or a lease, one
     * timer for them all, and Redis on the loop, connected on first use only. */
    rate_limiter *limiters;
    hk_timer *rate_timer;
    hk_store_async *rate_store;
    size_t rate_waiting; /* deliveries waiting for a slot: counted by back-pressure */
    /* health.c: each task's last result here; NULL until the first */
    pl_health_table *health;
};

/* One consumed message (an event, or a tier's retry record) and the deliveries hanging on it. */
typedef struct job {
    hk_pipeline *p;
    hk_consumer *c; /* the one that consumed it */
    hk_msg_ref ref;
    hk_event *ev;
    hk_store_snapshot *snap; /* keeps the matched tasks alive while deliveries run */
    char *raw;               /* the event as consumed, for dead letters and tier records */
    size_t raw_len;
    char *override_warning; /* its overrides naming no task of the flow, for every outcome; NULL */
    bool event_kept;        /* the history has been given the event (for a resend) */
    /* its finishedAt in wall ms, read at its first delivery delivered: 0 not yet, UINT64_MAX
     * none (hookd_delivery_end_to_end_seconds then counts from first_seen_ms) */
    uint64_t event_at_ms;
    int attempts_alive;
} job;

typedef struct attempt {
    job *job;
    const hk_task *task; /* borrowed from job->snap */
    char delivery_id[32];
    int number;
    int deferrals;          /* times in a row it was deferred before this attempt */
    uint64_t first_seen_ms; /* when the event was first consumed, carried through the tiers */
    hk_buf outcomes;        /* every attempt's outcome as a JSON array, for the dead letter */
    int outcomes_omitted;   /* earlier outcomes a retry record left out to fit */
    /* its limiter's queue while waiting for a slot of its task's rateLimit */
    struct attempt *rate_next;
} attempt;

/* The fields every log line about an attempt carries. */
#define ATTEMPT_FIELDS(a)                                                                          \
    {                                                                                              \
        HK_STR("jobId", (a)->job->ev->job_id), HK_STR("flowId", (a)->job->ev->flow_id),            \
            HK_STR("webhookId", (a)->task->id), HK_STR("deliveryId", (a)->delivery_id),            \
            HK_NUM("attempt", (a)->number)                                                         \
    }

/* pipeline.c */
void pl_job_release(job *j);
void pl_update_backpressure(hk_pipeline *p);
/* The consumer's index in p->consumers: 0 for the main one, 1 + t for tier t. */
size_t pl_consumer_index(const hk_pipeline *p, const hk_consumer *c);

/* events.c: the consumers' handlers */
void pl_on_message(hk_consumer *c, hk_msg_ref ref, const char *topic, int32_t partition,
                   int64_t offset, const void *payload, size_t len, void *arg);
void pl_on_retry_message(hk_consumer *c, hk_msg_ref ref, const char *topic, int32_t partition,
                         int64_t offset, const void *payload, size_t len, void *arg);
uint64_t pl_tier_due(const void *payload, size_t len, void *arg);
void pl_on_partitions_moved(hk_consumer *c, void *arg);
void pl_attempt_finished(void *arg);
hk_delivery_ids pl_attempt_ids(const attempt *a);
/* Builds the attempt's request and hands it to the engine (its slot, if limited, taken). */
void pl_attempt_send(hk_pipeline *p, attempt *a);
/* An attempt given up before it was sent: the verdict on HK_DELIVERY_CANCELLED. */
void pl_attempt_cancelled(attempt *a);

/* rate.c: rateLimit. admit: true when the attempt may be sent now; else it waits in its task's
 * queue and is sent (pl_attempt_send) when a slot is due. cancel: gives up the waiting ones
 * for which keep (NULL: every one) says false; how many. destroy: at teardown (accepts a
 * shard that never limited anything). */
bool pl_rate_admit(hk_pipeline *p, attempt *a);
size_t pl_rate_cancel(hk_pipeline *p, bool (*keep)(void *arg, void *ctx), void *ctx);
void pl_rate_destroy(hk_pipeline *p);

/* send.c: records to Kafka */
void pl_record_outcome(hk_pipeline *p, attempt *a, const hk_delivery_result *res, bool keep);
/* Dead-letters the attempt: outcomes is its closed array (pl_closed_outcomes); the reason is
 * the reason's text with `detail` after it when there is one. */
void pl_dead_letter_attempt(hk_pipeline *p, attempt *a, hk_retry_reason why, const char *detail,
                            const char *error, const char *outcomes);
/* Takes ownership of rec (a dead letter): stamped, cut to fit, published; done(arg) once Kafka
 * acknowledged it. `reason`: the member of hookd_dlq_records_total it counts in. */
void pl_send_dead_letter(hk_pipeline *p, cJSON *rec, const char *key, hk_counter *reason,
                         void (*done)(void *), void *arg);
/* Republishes the attempt to `tier`, due after delay: as its next attempt, or with deferrals >
 * 0 as the same attempt again. It finishes once Kafka acknowledged the record. */
void pl_republish(hk_pipeline *p, attempt *a, size_t tier, uint64_t delay, int deferrals);
const char *pl_closed_outcomes(attempt *a);
void pl_on_backlog_timer(hk_loop *loop, void *arg);
void pl_backlog_drop(hk_pipeline *p);

/* health.c: an attempt's end (delivered, or dead-lettered) for HOOKD_DISABLE_AFTER */
void pl_health_result(hk_pipeline *p, const char *task_id, bool delivered);
void pl_health_destroy(pl_health_table *t);

/* shutdown.c */
void pl_on_drain_timer(hk_loop *loop, void *arg);

#endif
