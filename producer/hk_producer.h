/*
 * hk_producer.h — publishing to Kafka: outcomes (hookd.deliveries), dead letters (hookd.dlq)
 * and, later, retry tiers.
 *
 * producer owns one idempotent librdkafka producer (enable.idempotence=true, acks=all) whose
 * delivery reports are served on the core loop through a queue fd. The acknowledgement callback
 * is how the worker learns that a dead letter is durable, so an offset may move past it.
 */
#ifndef HK_PRODUCER_H
#define HK_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "hk_core.h"

#define HK_TOPIC_DELIVERIES "hookd.deliveries"
#define HK_TOPIC_DLQ "hookd.dlq"

typedef struct hk_producer hk_producer;

/* Called on the loop thread once per send: err == 0 when Kafka acknowledged the message (acks=all),
 * else a librdkafka error code and its message (borrowed for the call). */
typedef void (*hk_producer_ack_cb)(int err, const char *errstr, void *arg);

/* kafka: librdkafka properties (borrowed; copied). Producer-irrelevant consumer properties such
 * as group.id are skipped. */
int hk_producer_create(hk_loop *loop, const hk_kv *kafka, size_t kafka_len, hk_producer **out,
                       hk_error *err);
/* Flushes for up to flush_ms, then destroys. Accepts NULL. No ack callback runs once destroy
 * has started (their callers are being torn down too). */
void hk_producer_destroy(hk_producer *producer, int flush_ms);

/* Copies key and value. cb may be NULL (fire and forget, failures only counted/logged).
 * Returns HK_OK, or HK_ERR when the message could not even be queued (cb is then not called). */
int hk_producer_send(hk_producer *producer, const char *topic, const char *key, size_t key_len,
                     const void *value, size_t value_len, hk_producer_ack_cb cb, void *arg);

/* Looks the topics up now and keeps them known, so that a first message to one of them (a
 * dead letter, a retry, a hand-off at shutdown) does not wait for its metadata. */
void hk_producer_prepare(hk_producer *producer, const char *const *topics, size_t n);

/* Creates the topics that are missing (existing ones are left alone). Blocking; for start-up. */
int hk_producer_ensure_topics(hk_producer *producer, const char *const *topics, size_t n,
                              int partitions, int replication, int timeout_ms, hk_error *err);

/* Messages queued and not yet acknowledged. */
size_t hk_producer_outstanding(const hk_producer *producer);

#endif
