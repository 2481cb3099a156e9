/*
 * dlq.c — the dead-letter topic (<prefix>dlq) read and replayed, for hookctl and the admin API
 * alike (hk_cmd.h): hk_dlq_scan() selects dead letters through hk_dead_letter_select(),
 * hk_dlq_page() makes a page of them newest first, and hk_dlq_replay() puts the selected ones
 * back on the first retry tier.
 *
 * <prefix>dlq is shared by every deployment on the cluster that keeps the same prefix; each dead
 * letter names its consumer group, and the filter's group takes only the configured one's. A
 * replay puts each selected delivery back on the first retry tier, due at once, as attempt 1
 * with the same delivery id; the workers of the group deliver it like any retry. Kafka records
 * cannot be removed, so the dead letters stay where they are: replaying the same selection twice
 * sends twice (receivers dedupe on X-Webhook-Id).
 */
#include "hk_cmd.h"

#include "hk_consumer.h"
#include "hk_producer.h"
#include "hk_retry.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_TIMEOUT_MS 120000

/* ----------------------------------------------------------------------------- replay --- */

typedef struct replay_state {
    const hk_dead_letter_filter *filter;
    const hk_dlq_replay_opts *opts;
    size_t taken; /* replayable dead letters taken (queued, or previewed in a dry run) */
    hk_producer *producer;
    hk_loop *loop;
    const char *topic; /* the first tier's */
    const char *dlq;
    hk_dlq_replay_stats *stats;
    size_t queued, acked; /* stats->replayed counts the acknowledged without error */
    int ack_err;
    char ack_errstr[256];
    bool queue_failed;
} replay_state;

static void on_replay_ack(int err, const char *errstr, void *arg)
{
    replay_state *s = arg;
    s->acked++;
    if (!err)
        s->stats->replayed++;
    else if (!s->ack_err) {
        s->ack_err = err;
        snprintf(s->ack_errstr, sizeof s->ack_errstr, "%s", errstr);
    }
}

static int replay_one(int32_t partition, int64_t offset, const void *key, size_t key_len,
                      const void *value, size_t len, void *arg)
{
    (void)key, (void)key_len;
    replay_state *s = arg;
    cJSON *rec = NULL;
    hk_error err = {0};
    int rc = hk_dead_letter_select(value, len, s->filter, &rec, &err);
    if (rc == HK_ENOTFOUND)
        return HK_OK;
    if (rc != HK_OK) {
        s->stats->skipped++;
        return HK_OK; /* not a dead letter: nothing to replay */
    }
    hk_buf out = {0};
    bool replayable =
        hk_retry_record_replay(rec, s->filter->group, hk_wall_ms(), &out, &err) == HK_OK;
    if (replayable && s->opts->limit && s->taken == s->opts->limit) {
        s->stats->limited = true; /* one more than --limit: stop here */
        hk_buf_free(&out);
        cJSON_Delete(rec);
        return HK_ELIMIT;
    }
    if (replayable && s->opts->preview)
        s->opts->preview(rec, partition, offset, s->opts->arg);
    if (replayable && s->opts->dry_run) {
        s->taken++;
        s->stats->replayed++; /* would be */
        hk_buf_free(&out);
        cJSON_Delete(rec);
        return HK_OK;
    }
    if (!replayable) {
        s->stats->skipped++;
        HK_WARN("dlq.replay.skipped", "%s[%d] offset %lld: %s", s->dlq, (int)partition,
                (long long)offset, err.msg);
        cJSON_Delete(rec);
        return HK_OK;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "deliveryId");
    rc = hk_producer_send(s->producer, s->topic, id->valuestring, strlen(id->valuestring), out.data,
                          out.len, on_replay_ack, s);
    hk_buf_free(&out);
    cJSON_Delete(rec);
    if (rc != HK_OK) {
        s->queue_failed = true;
        return HK_ERR; /* stops the scan */
    }
    s->queued++;
    s->taken++;
    hk_loop_run_once(s->loop, 0); /* serve acknowledgements as we go */
    return HK_OK;
}

int hk_dlq_replay(const hk_config *cfg, const hk_dead_letter_filter *filter,
                  const hk_dlq_replay_opts *opts, hk_dlq_replay_stats *stats, hk_error *err)
{
    static const hk_dlq_replay_opts every = {0};
    memset(stats, 0, sizeof *stats);
    hk_retry_policy policy;
    int rc = hk_retry_policy_init(&policy, cfg->retry_delays, cfg->retry_max_attempts,
                                  "HOOKD_RETRY_DELAYS", err);
    if (rc != HK_OK)
        return rc;
    hk_retry_tier_topic(&policy, cfg->topic_prefix, 0, stats->topic);
    char dlq[HK_TOPIC_NAME_MAX + 1];
    hk_topic_name(dlq, cfg->topic_prefix, HK_TOPIC_DLQ);
    replay_state s = {.filter = filter,
                      .opts = opts ? opts : &every,
                      .topic = stats->topic,
                      .dlq = dlq,
                      .stats = stats};
    s.loop = hk_loop_create();
    const char *topics[] = {stats->topic};
    if (!s.opts->dry_run && /* a dry run writes nothing, not even a missing topic */
        ((rc = hk_producer_create(s.loop, cfg->kafka, cfg->kafka_len, &s.producer, err)) != HK_OK ||
         (rc = hk_producer_ensure_topics(s.producer, topics, 1, cfg->topic_partitions,
                                         cfg->topic_replication, 10000, err)) != HK_OK))
        goto done;
    rc = hk_consumer_scan(cfg->kafka, cfg->kafka_len, dlq, SCAN_TIMEOUT_MS, replay_one, &s, err);
    if (rc == HK_ELIMIT) /* replay_one stopped the scan at --limit */
        rc = HK_OK;
    if (s.queue_failed)
        hk_error_set(err, HK_ERR, NULL, "cannot queue a record for %s", stats->topic);
    /* Whatever was queued must be acknowledged before we say so. */
    uint64_t deadline = hk_now_ms() + 30000;
    while (s.acked < s.queued && hk_now_ms() < deadline)
        hk_loop_run_once(s.loop, 100);
    if (rc == HK_OK && s.acked < s.queued)
        rc = hk_error_set(err, HK_ERR, "HOOKD_KAFKA_BOOTSTRAP_SERVERS",
                          "%zu of %zu replayed records not acknowledged within 30 s",
                          s.queued - s.acked, s.queued);
    if (rc == HK_OK && s.ack_err)
        rc = hk_error_set(err, HK_ERR, NULL, "publishing to %s failed: %s", stats->topic,
                          s.ack_errstr);
done:
    hk_producer_destroy(s.producer, 5000);
    hk_loop_destroy(s.loop);
    return rc;
}

/* ------------------------------------------------------------------------------- reading --- */

typedef struct scan_state {
    const hk_dead_letter_filter *filter;
    hk_dlq_each each;
    void *arg;
    int rc; /* what each returned to stop the scan */
} scan_state;

static int scan_one(int32_t partition, int64_t offset, const void *key, size_t key_len,
                    const void *value, size_t len, void *arg)
{
    (void)key, (void)key_len;
    scan_state *s = arg;
    cJSON *rec = NULL;
    if (hk_dead_letter_select(value, len, s->filter, &rec, NULL) != HK_OK)
        return HK_OK; /* not selected, or not a dead letter */
    cJSON_AddNumberToObject(rec, "dlqPartition", partition);
    cJSON_AddNumberToObject(rec, "dlqOffset", (double)offset);
    int rc = s->each(rec, partition, offset, s->arg);
    if (rc != HK_OK)
        s->rc = rc;
    return rc;
}

int hk_dlq_scan(const hk_config *cfg, const hk_dead_letter_filter *filter, int timeout_ms,
                hk_dlq_each each, void *arg, hk_error *err)
{
    char dlq[HK_TOPIC_NAME_MAX + 1];
    hk_topic_name(dlq, cfg->topic_prefix, HK_TOPIC_DLQ);
    scan_state s = {.filter = filter, .each = each, .arg = arg, .rc = HK_OK};
    int rc = hk_consumer_scan(cfg->kafka, cfg->kafka_len, dlq, timeout_ms, scan_one, &s, err);
    if (s.rc == HK_ELIMIT && rc == HK_ELIMIT) /* stopped on purpose */
        return HK_OK;
    return rc;
}

/* A dead letter's place in the newest-first order: its deadAt, then partition and offset. */
typedef struct page_key {
    uint64_t at_ms;
    int32_t partition;
    int64_t offset;
} page_key;

static int key_cmp(const page_key *a, const page_key *b)
{
    if (a->at_ms != b->at_ms)
        return a->at_ms < b->at_ms ? -1 : 1;
    if (a->partition != b->partition)
        return a->partition < b->partition ? -1 : 1;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

typedef struct page_state {
    bool after_set;
    page_key after; /* only those older than this (the iterator) */
    size_t limit;
    size_t n; /* kept, newest first; at most limit + 1 (the one more tells "not done") */
    page_key *keys;
    cJSON **recs;
} page_state;

/* Keeps the limit + 1 newest dead letters older than the iterator, each printed within
 * HK_DLQ_RECORD_MAX as it comes, so a page holds at most (limit + 1) x 32 KiB however long the
 * topic is. */
static int page_one(cJSON *rec, int32_t partition, int64_t offset, void *arg)
{
    page_state *s = arg;
    page_key k = {.partition = partition, .offset = offset};
    const char *at = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "deadAt"));
    if (!at || !hk_parse_time(at, &k.at_ms))
        k.at_ms = 0;
    size_t cap = s->limit + 1;
    if ((s->after_set && key_cmp(&k, &s->after) >= 0) ||
        (s->n == cap && key_cmp(&k, &s->keys[cap - 1]) <= 0)) {
        cJSON_Delete(rec);
        return HK_OK;
    }
    char *text = NULL;
    size_t len = 0;
    if (hk_dead_letter_print_within(rec, HK_DLQ_RECORD_MAX, &text, &len) != HK_OK) {
        /* even its smallest form is too big: its identity alone */
        cJSON *small = cJSON_CreateObject();
        static const char *const keep[] = {"kind",  "reason",       "deliveryId", "webhookId",
                                           "jobId", "flowId",       "deadAt",     "group",
                                           "error", "dlqPartition", "dlqOffset"};
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, keep[i]);
            if (v)
                cJSON_AddItemToObject(small, keep[i], cJSON_Duplicate(v, 1));
        }
        cJSON_AddBoolToObject(small, "truncated", 1);
        cJSON_Delete(rec);
        rec = small;
    }
    free(text);
    if (s->n == cap) { /* the oldest kept makes room */
        cJSON_Delete(s->recs[cap - 1]);
        s->n--;
    }
    size_t i = s->n;
    while (i > 0 && key_cmp(&s->keys[i - 1], &k) < 0) {
        s->keys[i] = s->keys[i - 1];
        s->recs[i] = s->recs[i - 1];
        i--;
    }
    s->keys[i] = k;
    s->recs[i] = rec;
    s->n++;
    return HK_OK;
}

int hk_dlq_page(const hk_config *cfg, const hk_dead_letter_filter *filter, size_t limit,
                const char *after, cJSON **out, hk_error *err)
{
    *out = NULL;
    if (limit < 1 || limit > HK_DLQ_PAGE_MAX)
        return hk_error_set(err, HK_EINVAL, "limit", "must be an integer from 1 to %u",
                            HK_DLQ_PAGE_MAX);
    page_state s = {.limit = limit};
    if (after) {
        unsigned long long at, offset;
        int partition, used = 0;
        /* digits and dots only: sscanf alone would take signs and spaces */
        if (!isdigit((unsigned char)*after) || after[strspn(after, "0123456789.")] ||
            sscanf(after, "%llu.%d.%llu%n", &at, &partition, &offset, &used) != 3 || after[used] ||
            offset > INT64_MAX)
            return hk_error_set(err, HK_EINVAL, "iterator",
                                "iterator: not one this list gave (pass the previous page's "
                                "iterator as it came)");
        s.after = (page_key){at, partition, (int64_t)offset};
        s.after_set = true;
    }
    s.keys = hk_xcalloc(limit + 1, sizeof *s.keys);
    s.recs = hk_xcalloc(limit + 1, sizeof *s.recs);
    int rc = hk_dlq_scan(cfg, filter, 60000, page_one, &s, err);
    if (rc == HK_OK) {
        char dlq[HK_TOPIC_NAME_MAX + 1];
        hk_topic_name(dlq, cfg->topic_prefix, HK_TOPIC_DLQ);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "topic", dlq);
        cJSON_AddStringToObject(o, "group", filter->group ? filter->group : "");
        cJSON *data = cJSON_AddArrayToObject(o, "data");
        size_t shown = s.n > limit ? limit : s.n;
        for (size_t i = 0; i < shown; i++) {
            cJSON_AddItemToArray(data, s.recs[i]);
            s.recs[i] = NULL;
        }
        if (s.n > limit) {
            char next[64];
            snprintf(next, sizeof next, "%llu.%d.%lld", (unsigned long long)s.keys[limit - 1].at_ms,
                     (int)s.keys[limit - 1].partition, (long long)s.keys[limit - 1].offset);
            cJSON_AddStringToObject(o, "iterator", next);
        } else {
            cJSON_AddNullToObject(o, "iterator");
        }
        cJSON_AddBoolToObject(o, "done", s.n <= limit);
        *out = o;
    }
    for (size_t i = 0; i < s.n; i++)
        cJSON_Delete(s.recs[i]);
    free(s.keys);
    free(s.recs);
    return rc;
}
