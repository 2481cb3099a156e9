/*
 * hk_producer.h — publishing to Kafka: outcomes (<prefix>deliveries), dead letters (<prefix>dlq)
 * and retry tiers.
 *
 * producer owns one idempotent librdkafka producer (enable.idempotence=true, acks=all) whose
 * delivery reports are served on the core loop through a queue fd. The acknowledgement callback
 * is how the worker learns that a dead letter is durable, so an offset may move past it.
 * A send that cannot be queued says why (hk_produce_rc): only a fatal producer error is a
 * reason to stop; a full queue is back-pressure, a message too large must be made smaller.
 */
#ifndef HK_PRODUCER_H
#define HK_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hk_core.h"

/* The topics' names are HOOKD_TOPIC_PREFIX's: hk_topic_name (hk_core.h). */

typedef struct hk_producer hk_producer;

/* Called on the loop thread once per queued send: err == 0 when Kafka acknowledged the message
 * (acks=all), else a librdkafka error code and its message (borrowed for the call). librdkafka
 * has already retried for message.timeout.ms by then; hk_producer_err_too_large() tells the one
 * error that sending the same bytes again can never mend. */
typedef void (*hk_producer_ack_cb)(int err, const char *errstr, void *arg);

/* What hk_producer_send did with a message. Only HK_PRODUCE_QUEUED means cb will run. */
typedef enum {
    HK_PRODUCE_QUEUED = 0, /* == HK_OK: queued; cb runs exactly once with Kafka's answer */
    /* Not queued, and it may pass later: the producer's queue is full (queue.buffering.max.
     * messages or .kbytes: back-pressure) or librdkafka refused for a reason that is not fatal
     * (an unknown topic or partition, ...). Let the loop turn (delivery reports free the queue)
     * and send again on a timer; take no new work meanwhile. */
    HK_PRODUCE_AGAIN,
    /* Not queued, and never will be: key + value + HK_PRODUCER_RECORD_OVERHEAD pass the
     * producer's message.max.bytes. Send something smaller (hk_producer_value_limit). */
    HK_PRODUCE_TOO_LARGE,
    /* Not queued: the producer hit a fatal error (rd_kafka_fatal_error(), e.g. the idempotent
     * producer's sequence broke) and publishes nothing more. The only reason to stop. */
    HK_PRODUCE_FATAL,
} hk_produce_rc;

/* What librdkafka (2.0.2, measured) counts against message.max.bytes besides key and value:
 * the record's framing. The broker's own limit (the topic's max.message.bytes) may be lower;
 * it answers in the delivery report (hk_producer_err_too_large). */
#define HK_PRODUCER_RECORD_OVERHEAD 36

/* kafka: librdkafka properties (borrowed; copied). Producer-irrelevant consumer properties such
 * as group.id are skipped. */
int hk_producer_create(hk_loop *loop, const hk_kv *kafka, size_t kafka_len, hk_producer **out,
                       hk_error *err);
/* Flushes for up to flush_ms, then destroys. Accepts NULL. No ack callback runs once destroy
 * has started (their callers are being torn down too). */
void hk_producer_destroy(hk_producer *producer, int flush_ms);

/* Copies key and value. cb may be NULL (fire and forget). Returns one of hk_produce_rc (an int,
 * so that `!= HK_OK` reads as "not queued"); cb is called only for HK_PRODUCE_QUEUED (HK_OK). Logs
 * nothing for HK_PRODUCE_AGAIN on a full queue (the caller counts it), a warning for the others. */
int hk_producer_send(hk_producer *producer, const char *topic, const char *key, size_t key_len,
                     const void *value, size_t value_len, hk_producer_ack_cb cb, void *arg);

/* The producer's message.max.bytes as configured (librdkafka's default 1000000, or
 * HOOKD_KAFKA_MESSAGE_MAX_BYTES). */
size_t hk_producer_max_message_bytes(const hk_producer *producer);
/* The largest value a message with a key of key_len bytes may carry:
 * message.max.bytes - HK_PRODUCER_RECORD_OVERHEAD - key_len (0 when nothing fits). */
size_t hk_producer_value_limit(const hk_producer *producer, size_t key_len);
/* Whether an acknowledgement's err says the message is too large (librdkafka's own check, or
 * the broker's MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE): the same bytes will never pass. */
bool hk_producer_err_too_large(int err);

/* Looks the topics up now and keeps them known, so that a first message to one of them (a
 * dead letter, a retry, a hand-off at shutdown) does not wait for its metadata. */
void hk_producer_prepare(hk_producer *producer, const char *const *topics, size_t n);

/* Creates the topics that are missing (existing ones are left alone). Blocking; for start-up. */
int hk_producer_ensure_topics(hk_producer *producer, const char *const *topics, size_t n,
                              int partitions, int replication, int timeout_ms, hk_error *err);

#endif
