/*
 * scan.c — reading a whole topic once, outside any consumer group: every partition from its
 * first record to the end it had when the scan began. For tools (the dead-letter topic's
 * listing and replay), not for the worker's hot path.
 */
#include "hk_consumer.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

int hk_consumer_scan(const hk_kv *kafka, size_t kafka_len, const char *topic, int timeout_ms,
                     hk_scan_cb cb, void *arg, hk_error *err)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < kafka_len; i++) {
        const char *key = kafka[i].key;
        /* Not the worker's group: nothing is committed, no member joins anything. */
        if (strcmp(key, "group.id") == 0 || strcmp(key, "group.instance.id") == 0)
            continue;
        if (rd_kafka_conf_set(conf, key, kafka[i].value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            char field[128];
            snprintf(field, sizeof field, "kafka property %s", key);
            return hk_error_set(err, HK_EINVAL, field, "%s", errstr);
        }
    }
    /* librdkafka wants a group.id even to assign; assigning never joins it, and with
     * auto-commit off nothing is ever written under it. */
    rd_kafka_conf_set(conf, "group.id", "hookd.scan", NULL, 0);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_conf_set(conf, "enable.partition.eof", "false", NULL, 0);
    /* A tool's one-line error says what failed; librdkafka's own lines would only repeat it. */
    rd_kafka_conf_set_log_cb(conf, NULL);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return hk_error_set(err, HK_ERR, "kafka", "cannot create consumer: %s", errstr);
    }
    int rc = HK_OK;
    uint64_t deadline = hk_now_ms() + (uint64_t)timeout_ms;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    int64_t *ends = NULL;
    int meta_ms = timeout_ms < 10000 ? timeout_ms : 10000; /* an unreachable broker fails fast */
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 0, rkt, &md, meta_ms);
    if (!kerr)
        kerr = md->topic_cnt != 1 ? RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC : md->topics[0].err;
    if (kerr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || kerr == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
        goto done; /* no such topic yet: nothing in it */
    if (kerr) {
        rc = hk_error_set(err, HK_ERR, "HOOKD_KAFKA_BOOTSTRAP_SERVERS", "cannot read %s: %s", topic,
                          rd_kafka_err2str(kerr));
        goto done;
    }
    int n = md->topics[0].partition_cnt;
    ends = hk_xcalloc((size_t)n, sizeof *ends);
    size_t open = 0;
    for (int p = 0; p < n; p++) {
        int32_t id = md->topics[0].partitions[p].id;
        int64_t lo = 0, hi = 0;
        kerr = rd_kafka_query_watermark_offsets(rk, topic, id, &lo, &hi, meta_ms);
        if (kerr) {
            rc = hk_error_set(err, HK_ERR, "HOOKD_KAFKA_BOOTSTRAP_SERVERS",
                              "cannot read %s[%d]'s offsets: %s", topic, (int)id,
                              rd_kafka_err2str(kerr));
            goto done;
        }
        if (hi <= lo)
            continue;
        rd_kafka_topic_partition_list_add(parts, topic, id)->offset = lo;
        ends[parts->cnt - 1] = hi;
        open++;
    }
    if (open && (kerr = rd_kafka_assign(rk, parts))) {
        rc = hk_error_set(err, HK_ERR, "kafka", "cannot assign %s: %s", topic,
                          rd_kafka_err2str(kerr));
        goto done;
    }
    while (open) {
        if (hk_now_ms() >= deadline) {
            rc = hk_error_set(err, HK_ERR, "HOOKD_KAFKA_BOOTSTRAP_SERVERS",
                              "%s not read to its end within %d ms", topic, timeout_ms);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            HK_WARN("kafka.scan", "%s: %s", topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        int i = 0;
        while (i < parts->cnt && parts->elems[i].partition != m->partition)
            i++;
        if (i < parts->cnt && ends[i] > 0 && m->offset < ends[i]) {
            rc = cb(m->partition, m->offset, m->key, m->key_len, m->payload, m->len, arg);
            if (m->offset + 1 >= ends[i]) {
                ends[i] = 0; /* this partition is done */
                open--;
            }
        }
        rd_kafka_message_destroy(m);
        if (rc != HK_OK)
            break;
    }
done:
    free(ends);
    rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
