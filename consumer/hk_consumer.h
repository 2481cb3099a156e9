/*
 * hk_consumer.h — consuming job events from Kafka, at least once.
 *
 * consumer owns the group consumer (eager assignor, enable.auto.offset.store=false) on the core
 * loop, and the offset tracker: each consumed message is held until the handler releases it,
 * and a partition's offset is stored only up to the lowest message still held (work finishes
 * out of order). It also pauses fetching
 * while the handler says it is saturated. It depends on core only; what "work" is belongs to the
 * caller.
 */
#ifndef HK_CONSUMER_H
#define HK_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hk_core.h"

/* ---------------------------------------------------------------------- offset tracker --- */

/* One partition's in-order list of consumed offsets with their outstanding work counts. Pure
 * data structure, used by the consumer and tested on its own. */
typedef struct hk_offset_tracker hk_offset_tracker;

hk_offset_tracker *hk_offset_tracker_create(void);
void hk_offset_tracker_destroy(hk_offset_tracker *t);
/* Registers a consumed offset (strictly increasing) with `pending` units of work (>= 1). */
void hk_offset_tracker_add(hk_offset_tracker *t, int64_t offset, int pending);
/* Adds n more units of work to an offset still tracked. */
void hk_offset_tracker_hold(hk_offset_tracker *t, int64_t offset, int n);
/* One unit of work on `offset` has finished. Returns false when the offset is unknown. */
bool hk_offset_tracker_release(hk_offset_tracker *t, int64_t offset);
/* The offset to commit: last finished offset + 1 of the finished prefix, i.e. the lowest
 * unfinished offset, or last added + 1 when all finished. -1 when nothing new since the last
 * call (so the caller stores only moves). */
int64_t hk_offset_tracker_commit_point(hk_offset_tracker *t);
/* Makes the next commit_point() report the current point even if it did not move (after a
 * partition is assigned again, what librdkafka had stored for it is gone). */
void hk_offset_tracker_report_again(hk_offset_tracker *t);
/* The offset after the last one added (where consuming resumes), or -1 when none was added. */
int64_t hk_offset_tracker_next(const hk_offset_tracker *t);
/* Offsets still unfinished. */
size_t hk_offset_tracker_unfinished(const hk_offset_tracker *t);

/* --------------------------------------------------------------------------- consumer --- */

typedef struct hk_consumer hk_consumer;

/* A handle on one consumed message's work. Valid across rebalances: releasing work for a
 * partition this worker no longer owns is a no-op. */
typedef struct hk_msg_ref {
    uint32_t slot;   /* partition slot in the consumer */
    uint32_t gen;    /* slot generation at consume time */
    int64_t offset;
} hk_msg_ref;

/* Called on the loop thread for each message. The payload is borrowed for the call only: copy
 * what you keep. The message starts with one unit of work held for the handler, which must
 * call hk_consumer_release() once for it. */
typedef void (*hk_consumer_msg_cb)(hk_consumer *c, hk_msg_ref ref, const char *topic,
                                   int32_t partition, int64_t offset, const void *payload,
                                   size_t len, void *arg);

/* Called on the loop thread after partitions this worker had work on moved to another member
 * (or the assignment was lost). Work on their messages is now orphaned (hk_consumer_owns() is
 * false): the new owner redelivers it, so work that has not started may be abandoned. */
typedef void (*hk_consumer_moved_cb)(hk_consumer *c, void *arg);

/* For a consumer of delayed records: the wall-clock ms before which a message must not be
 * handed out (0: now). A partition whose next message is not due is paused and rewound to it
 * until then, while the consumer's other partitions keep flowing. */
typedef uint64_t (*hk_consumer_due_cb)(const void *payload, size_t len, void *arg);

typedef struct hk_consumer_config {
    const hk_kv *kafka; /* librdkafka properties; borrowed, copied */
    size_t kafka_len;
    char *const *topics;
    size_t topics_len;
    hk_consumer_msg_cb on_message;
    hk_consumer_moved_cb on_moved; /* may be NULL */
    hk_consumer_due_cb due;        /* may be NULL: every message is due */
    /* may be NULL; else each message handed out is observed in it: its age, from its Kafka
     * timestamp (its producer's, or the broker's with LogAppendTime) to the hand-out, the
     * broker, the fetch and the prefetch queue together (hookd_event_pickup_seconds) */
    hk_histogram *pickup;
    void *arg;
} hk_consumer_config;

int hk_consumer_create(hk_loop *loop, const hk_consumer_config *cfg, hk_consumer **out,
                       hk_error *err);
/* Stores what is finished, commits synchronously, leaves the group, destroys. Accepts NULL. */
void hk_consumer_destroy(hk_consumer *c);

void hk_consumer_release(hk_consumer *c, hk_msg_ref ref);
/* True while the message's partition is still this worker's (or revoked and possibly coming
 * back in the assignment under way): its work still counts towards the committed offset. */
bool hk_consumer_owns(const hk_consumer *c, hk_msg_ref ref);

/* Back-pressure while the delivery queue is full: true stops handing out messages (they wait in
 * librdkafka's prefetch queue; after 5 s the partitions are paused in librdkafka too, so
 * rebalances are still served); false resumes at once. The group membership stays alive. */
void hk_consumer_set_paused(hk_consumer *c, bool paused);

/* Stops taking new messages (shutdown starts); already consumed work may still finish. */
void hk_consumer_stop_fetching(hk_consumer *c);
/* False between a revoke and the assignment that follows it: work finished meanwhile can be
 * committed only once its partition is assigned again, so a graceful stop waits for this. */
bool hk_consumer_settled(const hk_consumer *c);
/* Stores the finished offsets now and commits them synchronously. */
int hk_consumer_commit(hk_consumer *c, hk_error *err);
/* For readiness, from any thread: true once the group gave this consumer an assignment (even an
 * empty one: more members than partitions) until that assignment is lost; the partitions in it;
 * and the brokers UP in librdkafka's latest statistics (-1 before the first, or with
 * statistics.interval.ms=0). The statistics also feed hookd_kafka_consumer_lag. */
bool hk_consumer_joined(const hk_consumer *c);
int hk_consumer_assigned(const hk_consumer *c);
int hk_consumer_brokers_up(const hk_consumer *c);

/* ------------------------------------------------------------------------------- scan --- */

/* Called for each record of a scan; key and value are borrowed for the call. Anything but HK_OK
 * stops the scan, and the scan returns it. */
typedef int (*hk_scan_cb)(int32_t partition, int64_t offset, const void *key, size_t key_len,
                          const void *value, size_t len, void *arg);

/* Reads every partition of topic once, outside any consumer group (group.id is ignored and
 * nothing is committed), from its first record up to the end it had when the scan began,
 * calling cb in each partition's order. Blocking; for tools. HK_ERR when the broker cannot be
 * read or the end is not reached within timeout_ms (err names the setting). */
int hk_consumer_scan(const hk_kv *kafka, size_t kafka_len, const char *topic, int timeout_ms,
                     hk_scan_cb cb, void *arg, hk_error *err);

/* ---------------------------------------------------------------------------- metrics --- */

/* What consumer counts; consumer/metrics.c names each family and holds its HELP. A member is
 * named after its series: the name without hookd_ and _total. */
struct hk_consumer_metrics {
    hk_counter events_consumed;       /* hookd_events_consumed_total: events and due records */
    hk_counter offsets_stored;        /* hookd_offsets_stored_total */
    hk_counter rebalances;            /* hookd_rebalances_total */
    hk_counter tier_holds;            /* hookd_tier_holds_total: a tier paused until due */
    hk_metric_set kafka_consumer_lag; /* hookd_kafka_consumer_lag{topic,partition}, one source
                                         per consumer */
};
extern struct hk_consumer_metrics hk_consumer_metrics;

#endif
