/*
 * producer.c — one idempotent librdkafka producer served on the core loop.
 *
 * Delivery reports arrive on the main queue; rd_kafka_queue_io_event_enable() writes to a pipe
 * when that queue becomes non-empty, the loop watches the pipe, and we drain with
 * rd_kafka_poll(rk, 0). A 100 ms timer polls too, as a safety net for the edge-triggered pipe.
 */
#include "hk_producer.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ack {
    hk_producer_ack_cb cb;
    void *arg;
} ack;

struct hk_producer {
    hk_loop *loop;
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;
    int pipefd[2];
    hk_timer *poll_timer;
    bool closing;
    rd_kafka_topic_t **topics; /* handles kept by hk_producer_prepare() */
    size_t topics_len;
    size_t max_message_bytes; /* message.max.bytes as librdkafka took it */
};

/* Consumer-only properties: a shared HOOKD_KAFKA_* set holds them, the producer skips them
 * rather than have librdkafka warn at every start. */
static const char *const consumer_only[] = {
    "group.id", "group.instance.id", "enable.auto.commit", "auto.commit.interval.ms",
    "enable.auto.offset.store", "auto.offset.reset", "session.timeout.ms",
    "max.poll.interval.ms", "partition.assignment.strategy", "heartbeat.interval.ms",
    "isolation.level", "enable.partition.eof", "check.crcs", "queued.min.messages",
    "queued.max.messages.kbytes", "fetch.wait.max.ms", "fetch.min.bytes", "fetch.max.bytes",
    "fetch.message.max.bytes", "fetch.error.backoff.ms", "group.protocol.type", NULL,
};

static bool is_consumer_only(const char *key)
{
    for (size_t i = 0; consumer_only[i]; i++)
        if (strcmp(consumer_only[i], key) == 0)
            return true;
    return false;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    hk_producer *p = opaque;
    ack *a = rkm->_private;
    if (!a)
        return;
    if (!p->closing && a->cb)
        a->cb(rkm->err, rkm->err ? rd_kafka_err2str(rkm->err) : "", a->arg);
    free(a);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    hk_log_level l = level <= 3 ? HK_LOG_ERROR : level <= 4 ? HK_LOG_WARN : HK_LOG_DEBUG;
    HK_LOG(l, "kafka.producer.log", "%s: %s", fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof why);
        HK_ERROR("kafka.producer.fatal", "%s", why);
        return;
    }
    HK_WARN("kafka.producer.error", "%s: %s", rd_kafka_err2name(err), reason);
}

static void serve(hk_producer *p)
{
    while (rd_kafka_poll(p->rk, 0) > 0) {
    }
}

static void on_pipe(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    serve(arg);
}

static void on_poll_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_producer *p = arg;
    serve(p);
    hk_timer_start(p->poll_timer, 100);
}

int hk_producer_create(hk_loop *loop, const hk_kv *kafka, size_t kafka_len, hk_producer **out,
                       hk_error *err)
{
    char errstr[512];
    int rc = HK_ERR;
    hk_producer *p = hk_xcalloc(1, sizeof *p);
    p->loop = loop;
    p->pipefd[0] = p->pipefd[1] = -1;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Defaults a user may override: outcomes come in bursts (a fan-out finishes together), so
     * batching them costs little latency and saves the broker most of its requests. */
    rd_kafka_conf_set(conf, "linger.ms", "20", NULL, 0);
    rd_kafka_conf_set(conf, "compression.codec", "lz4", NULL, 0);
    for (size_t i = 0; i < kafka_len; i++) {
        if (is_consumer_only(kafka[i].key))
            continue;
        if (rd_kafka_conf_set(conf, kafka[i].key, kafka[i].value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            char flag[128];
            snprintf(flag, sizeof flag, "kafka property %s", kafka[i].key);
            rc = hk_error_set(err, HK_EINVAL, flag, "%s", errstr);
            goto error;
        }
    }
    /* At least once: a dead letter counts only when every in-sync replica has it. */
    static const hk_kv forced[] = {{"enable.idempotence", "true"}, {"acks", "all"}};
    for (size_t i = 0; i < 2; i++) {
        if (rd_kafka_conf_set(conf, forced[i].key, forced[i].value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            hk_error_set(err, HK_ERR, forced[i].key, "%s", errstr);
            goto error;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p->rk) {
        hk_error_set(err, HK_ERR, "kafka", "cannot create producer: %s", errstr);
        goto error;
    }
    conf = NULL; /* owned by rk now */
    char value[32];
    size_t value_len = sizeof value;
    p->max_message_bytes = 1000000; /* librdkafka's default, should the lookup ever fail */
    if (rd_kafka_conf_get(rd_kafka_conf(p->rk), "message.max.bytes", value, &value_len) ==
        RD_KAFKA_CONF_OK)
        p->max_message_bytes = (size_t)strtoull(value, NULL, 10);
    if (pipe2(p->pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
        hk_error_set(err, HK_ERR, NULL, "pipe2 failed");
        goto error;
    }
    p->mainq = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(p->mainq, p->pipefd[1], "1", 1);
    hk_loop_io(loop, p->pipefd[0], HK_IO_READ, on_pipe, p);
    p->poll_timer = hk_timer_create(loop, on_poll_timer, p);
    hk_timer_start(p->poll_timer, 100);
    *out = p;
    return HK_OK;
error:
    if (conf)
        rd_kafka_conf_destroy(conf);
    hk_producer_destroy(p, 0);
    return rc == HK_EINVAL ? HK_EINVAL : HK_ERR;
}

void hk_producer_destroy(hk_producer *p, int flush_ms)
{
    if (!p)
        return;
    if (p->rk) {
        /* Callers are being torn down: acknowledgements from here on only free their records. */
        p->closing = true;
        rd_kafka_flush(p->rk, flush_ms);
        /* Frees the ack records of whatever is still unacknowledged. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0);
    }
    for (size_t i = 0; i < p->topics_len; i++)
        rd_kafka_topic_destroy(p->topics[i]);
    free(p->topics);
    if (p->mainq) {
        rd_kafka_queue_io_event_enable(p->mainq, -1, NULL, 0);
        rd_kafka_queue_destroy(p->mainq);
    }
    if (p->rk)
        rd_kafka_destroy(p->rk);
    if (p->pipefd[0] >= 0) {
        hk_loop_io(p->loop, p->pipefd[0], 0, NULL, NULL);
        close(p->pipefd[0]);
    }
    if (p->pipefd[1] >= 0)
        close(p->pipefd[1]);
    hk_timer_destroy(p->poll_timer);
    free(p);
}

int hk_producer_send(hk_producer *p, const char *topic, const char *key, size_t key_len,
                     const void *value, size_t value_len, hk_producer_ack_cb cb, void *arg)
{
    ack *a = hk_xmalloc(sizeof *a);
    a->cb = cb;
    a->arg = arg;
    rd_kafka_resp_err_t e =
        rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
                          RD_KAFKA_V_VALUE((void *)value, value_len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(a),
                          RD_KAFKA_V_END);
    if (!e)
        return HK_PRODUCE_QUEUED;
    free(a);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return HK_PRODUCE_AGAIN; /* back-pressure: the caller counts and retries */
    if (e == RD_KAFKA_RESP_ERR__FATAL || rd_kafka_fatal_error(p->rk, NULL, 0)) {
        char why[512];
        rd_kafka_fatal_error(p->rk, why, sizeof why);
        HK_ERROR("kafka.produce.fatal", "cannot queue a message for %s: %s", topic, why);
        return HK_PRODUCE_FATAL;
    }
    if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        HK_WARN("kafka.produce.too_large",
                "a message of %zu bytes for %s passes message.max.bytes (%zu)", key_len + value_len,
                topic, hk_producer_max_message_bytes(p));
        return HK_PRODUCE_TOO_LARGE;
    }
    HK_WARN("kafka.produce.error", "cannot queue a message for %s yet: %s", topic,
            rd_kafka_err2str(e));
    return HK_PRODUCE_AGAIN;
}

size_t hk_producer_max_message_bytes(const hk_producer *p)
{
    return p->max_message_bytes;
}

size_t hk_producer_value_limit(const hk_producer *p, size_t key_len)
{
    size_t max = hk_producer_max_message_bytes(p);
    return max > HK_PRODUCER_RECORD_OVERHEAD + key_len ? max - HK_PRODUCER_RECORD_OVERHEAD - key_len
                                                       : 0;
}

bool hk_producer_err_too_large(int err)
{
    return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
}

void hk_producer_prepare(hk_producer *p, const char *const *topics, size_t n)
{
    p->topics = hk_xrealloc(p->topics, (p->topics_len + n) * sizeof *p->topics);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(p->rk, topics[i], NULL);
        if (t)
            p->topics[p->topics_len++] = t;
    }
}

int hk_producer_ensure_topics(hk_producer *p, const char *const *topics, size_t n,
                              int partitions, int replication, int timeout_ms, hk_error *err)
{
    char errstr[512];
    int rc = HK_OK;
    rd_kafka_NewTopic_t **nt = hk_xcalloc(n, sizeof *nt);
    rd_kafka_queue_t *q = rd_kafka_queue_new(p->rk);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(p->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof errstr);
    for (size_t i = 0; i < n; i++) {
        nt[i] = rd_kafka_NewTopic_new(topics[i], partitions, replication, errstr, sizeof errstr);
        if (!nt[i]) {
            rc = hk_error_set(err, HK_EINVAL, topics[i], "%s", errstr);
            goto done;
        }
    }
    rd_kafka_CreateTopics(p->rk, nt, n, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    if (!ev) {
        rc = hk_error_set(err, HK_ERR, "kafka", "timed out creating topics");
        goto done;
    }
    if (rd_kafka_event_error(ev)) {
        rc = hk_error_set(err, HK_ERR, "kafka", "cannot create topics: %s",
                          rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t cnt;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
            if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                rc = hk_error_set(err, HK_ERR, rd_kafka_topic_result_name(tr[i]),
                                  "cannot create topic: %s", rd_kafka_err2str(te));
                break;
            }
        }
    }
    rd_kafka_event_destroy(ev);
done:
    for (size_t i = 0; i < n; i++)
        if (nt[i])
            rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    return rc;
}
