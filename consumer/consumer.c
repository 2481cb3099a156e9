/*
 * consumer.c — the group consumer on the core loop, with at-least-once offset storage.
 *
 * enable.auto.offset.store=false: we store offsets ourselves (rd_kafka_offsets_store) only up
 * to each partition's finished prefix, and librdkafka's auto-commit commits what is stored.
 * Every partition has a slot with a generation number; a message's hk_msg_ref carries
 * (slot, generation), so work finishing after its partition moved to another member is ignored
 * rather than storing an offset this worker no longer owns.
 *
 * Rebalances are eager (revoke everything, then assign). On revoke we store and commit what is
 * finished, synchronously, and keep each partition's tracker aside. A partition that the very
 * next assignment gives back was owned by nobody in between, so its work in progress is adopted
 * again and consuming resumes after the last message taken, instead of redelivering everything
 * unfinished. A partition that went elsewhere is dropped: its unfinished messages are
 * redelivered by the new owner (duplicates, never loss; receivers dedupe on X-Webhook-Id), and
 * on_moved tells the handler it may abandon work that has not started.
 */
#include "hk_consumer.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Messages handled per loop turn before the loop serves its other fds. Small: one event can fan
 * out to 50 requests, and while a batch is handled no response is read and no slot frees; a
 * turn of 256 events held the loop for up to 60 ms, the tail of decision 78. */
#define BATCH_MAX 16
#define STORE_INTERVAL_MS 100
/* Back-pressure first just stops taking messages from librdkafka's prefetch queue, which costs
 * nothing to undo. A pause that lasts longer becomes a real partition pause, so the loop can
 * poll again (rebalances arrive on the same queue) without taking messages. */
#define HARD_PAUSE_AFTER_MS 5000

typedef struct slot {
    char *topic;
    int32_t partition;
    uint32_t gen;
    bool assigned;
    bool retained; /* revoked; kept in case the next assignment gives it back */
    bool dirty;    /* commit point may have moved since the last store */
    bool held;     /* its next message is not due: paused and rewound to it until held_until */
    uint64_t held_until; /* wall-clock ms */
    hk_offset_tracker *tracker;
} slot;

struct hk_consumer {
    hk_loop *loop;
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    int pipefd[2];
    hk_timer *poll_timer;
    hk_timer *store_timer;
    hk_consumer_msg_cb on_message;
    hk_consumer_moved_cb on_moved;
    hk_consumer_due_cb due;
    hk_histogram *pickup;
    hk_timer *due_timer;
    void *arg;
    slot *slots;
    size_t slots_len;
    bool paused;      /* back-pressure: not taking messages */
    bool hard_paused; /* ... and the partitions are paused in librdkafka */
    uint64_t paused_since;
    bool stopped;
    bool closing;
    /* for the probes and /metrics, read from other threads */
    atomic_bool joined;    /* an assignment received and not lost since */
    atomic_int assigned;   /* partitions in the current assignment */
    atomic_int brokers_up; /* brokers UP in the latest statistics; -1 before any */
    hk_metric_source *lag; /* hookd_kafka_consumer_lag of the assigned partitions */
};

/* ------------------------------------------------------------------------------ slots --- */

static slot *slot_find(hk_consumer *c, const char *topic, int32_t partition, uint32_t *index)
{
    for (size_t i = 0; i < c->slots_len; i++) {
        slot *s = &c->slots[i];
        if (s->partition == partition && strcmp(s->topic, topic) == 0) {
            if (index)
                *index = (uint32_t)i;
            return s;
        }
    }
    return NULL;
}

static slot *slot_get(hk_consumer *c, const char *topic, int32_t partition, uint32_t *index)
{
    slot *s = slot_find(c, topic, partition, index);
    if (s)
        return s;
    c->slots = hk_xrealloc(c->slots, (c->slots_len + 1) * sizeof *c->slots);
    s = &c->slots[c->slots_len];
    memset(s, 0, sizeof *s);
    s->topic = hk_strdup(topic);
    s->partition = partition;
    if (index)
        *index = (uint32_t)c->slots_len;
    c->slots_len++;
    return s;
}

static slot *slot_for_ref(hk_consumer *c, hk_msg_ref ref)
{
    if (ref.slot >= c->slots_len)
        return NULL;
    slot *s = &c->slots[ref.slot];
    if (!(s->assigned || s->retained) || s->gen != ref.gen || !s->tracker)
        return NULL;
    return s;
}

/* Stores the commit point of every dirty slot. */
static void store_offsets(hk_consumer *c)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    for (size_t i = 0; i < c->slots_len; i++) {
        slot *s = &c->slots[i];
        if (!s->assigned || !s->dirty)
            continue;
        s->dirty = false;
        int64_t point = hk_offset_tracker_commit_point(s->tracker);
        if (point < 0)
            continue;
        if (!list)
            list = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_list_add(list, s->topic, s->partition)->offset = point;
    }
    if (!list)
        return;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, list);
    if (err)
        HK_WARN("kafka.offsets.store", "cannot store offsets: %s", rd_kafka_err2str(err));
    else
        hk_counter_add(&hk_consumer_metrics.offsets_stored, (uint64_t)list->cnt);
    rd_kafka_topic_partition_list_destroy(list);
}

static void on_store_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    store_offsets(arg);
}

/* -------------------------------------------------------------------------- rebalance --- */

/* Forgets a partition's work: the next owner redelivers whatever is unfinished. */
static void slot_drop(slot *s, const char *why)
{
    size_t left = hk_offset_tracker_unfinished(s->tracker);
    if (left)
        HK_INFO("kafka.revoke",
                "%s[%d] %s with %zu unfinished messages; the next owner "
                "redelivers them",
                s->topic, (int)s->partition, why, left);
    s->assigned = s->retained = s->held = false;
    s->gen++;
    hk_offset_tracker_destroy(s->tracker);
    s->tracker = NULL;
}

static void revoke_partitions(hk_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    /* Lost (session timed out, fenced): another member may already own these partitions, so
     * neither commit nor keep anything. */
    bool lost = rd_kafka_assignment_lost(c->rk);
    if (!lost) {
        store_offsets(c);
        /* Commit now: after the revoke another member may own these partitions. */
        rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            HK_WARN("kafka.commit", "commit on revoke failed: %s", rd_kafka_err2str(err));
    }
    bool dropped = false;
    for (int i = 0; i < parts->cnt; i++) {
        slot *s = slot_find(c, parts->elems[i].topic, parts->elems[i].partition, NULL);
        if (!s || !s->tracker)
            continue;
        if (lost || c->closing) {
            slot_drop(s, lost ? "lost" : "closed");
            dropped = true;
        } else {
            s->assigned = false;
            s->retained = true;
        }
    }
    if (dropped && !c->closing && c->on_moved)
        c->on_moved(c, c->arg);
}

static void assign_partitions(hk_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    int kept = 0;
    for (int i = 0; i < parts->cnt; i++) {
        slot *s = slot_get(c, parts->elems[i].topic, parts->elems[i].partition, NULL);
        if (s->retained && s->tracker) {
            /* Ours again, with no owner in between: keep the work in progress and resume
             * after the last message taken. librdkafka forgot what was stored: store again. */
            int64_t next = hk_offset_tracker_next(s->tracker);
            if (next >= 0)
                parts->elems[i].offset = next;
            HK_DEBUG("kafka.assign", "%s[%d] kept: resuming at offset %lld with %zu unfinished",
                     s->topic, (int)s->partition, (long long)next,
                     hk_offset_tracker_unfinished(s->tracker));
            hk_offset_tracker_report_again(s->tracker);
            s->dirty = true;
            kept++;
        } else {
            s->gen++;
            hk_offset_tracker_destroy(s->tracker);
            s->tracker = hk_offset_tracker_create();
            s->dirty = false;
        }
        s->retained = false;
        s->held = false; /* librdkafka starts it unpaused, at the offset above */
        s->assigned = true;
    }
    bool moved = false;
    for (size_t i = 0; i < c->slots_len; i++) {
        if (c->slots[i].retained) {
            slot_drop(&c->slots[i], "moved to another member");
            moved = true;
        }
    }
    HK_INFO("kafka.assign", "assigned %d partitions (%d kept their work in progress)", parts->cnt,
            kept);
    atomic_store(&c->assigned, parts->cnt);
    atomic_store(&c->joined, true);
    rd_kafka_assign(c->rk, parts);
    if (c->hard_paused || c->stopped)
        rd_kafka_pause_partitions(c->rk, parts);
    if (kept && !hk_timer_active(c->store_timer))
        hk_timer_start(c->store_timer, STORE_INTERVAL_MS);
    if (moved && c->on_moved)
        c->on_moved(c, c->arg);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    hk_consumer *c = opaque;
    hk_counter_add(&hk_consumer_metrics.rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assign_partitions(c, parts);
    } else {
        HK_INFO("kafka.revoke", "revoking %d partitions (%s)", parts->cnt, rd_kafka_err2name(err));
        if (rd_kafka_assignment_lost(c->rk))
            atomic_store(&c->joined, false); /* back when the group assigns again */
        atomic_store(&c->assigned, 0);
        hk_metric_source_publish(c->lag, NULL, 0);
        revoke_partitions(c, parts);
        rd_kafka_assign(rk, NULL);
    }
}

/* ------------------------------------------------------------------------- due times --- */

static void arm_due_timer(hk_consumer *c)
{
    uint64_t first = 0;
    for (size_t i = 0; i < c->slots_len; i++)
        if (c->slots[i].held && (!first || c->slots[i].held_until < first))
            first = c->slots[i].held_until;
    if (!first) {
        hk_timer_stop(c->due_timer);
        return;
    }
    uint64_t now = hk_wall_ms();
    hk_timer_start(c->due_timer, first > now ? first - now : 0);
}

/* The partition's next message is not due: pause the partition and rewind it to that message
 * (which also drops what librdkafka prefetched after it), so the rest of the consumer's
 * partitions keep flowing and the group never sees a slow poll. */
static void hold_slot(hk_consumer *c, slot *s, int64_t offset, uint64_t due)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, s->topic, s->partition)->offset = offset;
    rd_kafka_pause_partitions(c->rk, l);
    rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 0);
    if (e) {
        HK_WARN("kafka.seek", "%s[%d] to %lld: %s", s->topic, (int)s->partition, (long long)offset,
                rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
    s->held = true;
    s->held_until = due;
    hk_counter_add(&hk_consumer_metrics.tier_holds, 1);
    HK_DEBUG("kafka.hold", "%s[%d] offset %lld due in %llu ms", s->topic, (int)s->partition,
             (long long)offset, (unsigned long long)(due - hk_wall_ms()));
    arm_due_timer(c);
}

static void on_due_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_consumer *c = arg;
    uint64_t now = hk_wall_ms();
    rd_kafka_topic_partition_list_t *l = NULL;
    for (size_t i = 0; i < c->slots_len; i++) {
        slot *s = &c->slots[i];
        if (!s->held || s->held_until > now)
            continue;
        s->held = false;
        if (!s->assigned || c->hard_paused || c->stopped)
            continue; /* resumed with the rest, or never */
        if (!l)
            l = rd_kafka_topic_partition_list_new(4);
        rd_kafka_topic_partition_list_add(l, s->topic, s->partition);
    }
    if (l) {
        rd_kafka_resume_partitions(c->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
    arm_due_timer(c);
}

/* ----------------------------------------------------------------------------- polling --- */

static void handle_message(hk_consumer *c, rd_kafka_message_t *rkm)
{
    if (rkm->err) {
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            HK_WARN("kafka.consume.error", "%s", rd_kafka_message_errstr(rkm));
        return;
    }
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    uint32_t index;
    slot *s = slot_find(c, topic, rkm->partition, &index);
    if (!s || !s->assigned || c->stopped)
        return; /* not ours (any more), or shutting down: never stored, so redelivered */
    if (s->held)
        return; /* fetched before the hold; the seek refetches it once the hold ends */
    int64_t next = hk_offset_tracker_next(s->tracker);
    if (next >= 0 && rkm->offset < next) {
        HK_WARN("kafka.consume.rewind",
                "%s[%d]: offset %lld again after %lld; already taken, "
                "skipped",
                topic, (int)rkm->partition, (long long)rkm->offset, (long long)next - 1);
        return;
    }
    if (c->due) {
        uint64_t due = c->due(rkm->payload, rkm->len, c->arg);
        if (due > hk_wall_ms()) {
            hold_slot(c, s, rkm->offset, due);
            return;
        }
    }
    hk_offset_tracker_add(s->tracker, rkm->offset, 1);
    hk_msg_ref ref = {.slot = index, .gen = s->gen, .offset = rkm->offset};
    hk_counter_add(&hk_consumer_metrics.events_consumed, 1);
    if (c->pickup) {
        rd_kafka_timestamp_type_t type;
        int64_t at = rd_kafka_message_timestamp(rkm, &type);
        uint64_t now = hk_wall_ms();
        /* a producer's clock ahead of ours counts as 0 */
        if (type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && at > 0)
            hk_histogram_observe_ms(c->pickup, now > (uint64_t)at ? now - (uint64_t)at : 0);
    }
    c->on_message(c, ref, topic, rkm->partition, rkm->offset, rkm->payload, rkm->len, c->arg);
}

static void pause_all(hk_consumer *c, bool pause);

static void drain(hk_consumer *c)
{
    if (c->paused && !c->hard_paused) {
        if (hk_now_ms() - c->paused_since < HARD_PAUSE_AFTER_MS)
            return; /* messages wait in the prefetch queue; the poll timer looks again */
        HK_INFO("kafka.backpressure",
                "deliveries still saturated after %d ms: pausing "
                "partitions",
                HARD_PAUSE_AFTER_MS);
        c->hard_paused = true;
        pause_all(c, true);
    }
    for (int i = 0; i < BATCH_MAX; i++) {
        if (c->paused && !c->hard_paused)
            return; /* the last message filled the engine: take no more (set_paused resumes) */
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c->rk, 0);
        if (!rkm)
            return;
        handle_message(c, rkm);
        rd_kafka_message_destroy(rkm);
    }
    /* More may be waiting: come back on the next loop turn, after other fds had their go. */
    hk_timer_start(c->poll_timer, 0);
}

static void on_pipe(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    drain(arg);
}

static void on_poll_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_consumer *c = arg;
    hk_timer_start(c->poll_timer, 100);
    drain(c);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    hk_log_level l = level <= 3 ? HK_LOG_ERROR : level <= 4 ? HK_LOG_WARN : HK_LOG_DEBUG;
    HK_LOG(l, "kafka.consumer.log", "%s: %s", fac, buf);
}

static int64_t json_int(const cJSON *obj, const char *key, int64_t fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : fallback; /* offsets exceed 2^31 */
}

/* librdkafka's statistics (every statistics.interval.ms), served on the loop thread by the
 * consumer poll: the lag of each partition this consumer is assigned, and how many brokers it
 * has a working connection to. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    hk_consumer *c = opaque;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return 0;
    /* Brokers by node id: the bootstrap entries have none (-1), and the group coordinator's
     * logical connection repeats its broker's id. */
    int up = 0, seen[64];
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(root, "brokers"))
    {
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(b, "state");
        int id = (int)json_int(b, "nodeid", -1);
        if (id < 0 || !cJSON_IsString(state) || strcmp(state->valuestring, "UP") != 0)
            continue;
        bool dup = false;
        for (int i = 0; i < up && !dup; i++)
            dup = seen[i] == id;
        if (!dup && up < 64)
            seen[up++] = id;
    }
    atomic_store(&c->brokers_up, up);
    size_t n = 0;
    hk_metric_sample *samples = hk_xcalloc(c->slots_len + 1, sizeof *samples);
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "topics"))
    {
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(t, "partitions"))
        {
            /* The lag behind what is finished (the stored offset: at least once, that is the
             * progress that counts), else behind the last commit; with neither yet (a new
             * group), the whole partition is ahead (auto.offset.reset=earliest). */
            int partition = (int)json_int(p, "partition", -1);
            int64_t lag = json_int(p, "consumer_lag_stored", -1);
            int64_t lo = json_int(p, "lo_offset", -1), hi = json_int(p, "hi_offset", -1);
            if (lag < 0)
                lag = json_int(p, "consumer_lag", -1);
            if (lag < 0 && hi >= 0 && lo >= 0)
                lag = hi - lo;
            slot *s = partition >= 0 ? slot_find(c, t->string, partition, NULL) : NULL;
            if (!s || !s->assigned || lag < 0 || n == c->slots_len)
                continue;
            char num[16];
            snprintf(num, sizeof num, "%d", partition);
            hk_metric_sample_label(&samples[n], "topic", t->string);
            hk_metric_sample_label(&samples[n], "partition", num);
            samples[n++].value = lag;
        }
    }
    hk_metric_source_publish(c->lag, samples, n);
    free(samples);
    cJSON_Delete(root);
    return 0; /* librdkafka frees json */
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    HK_WARN("kafka.consumer.error", "%s: %s", rd_kafka_err2name(err), reason);
}

/* ------------------------------------------------------------------------------ public --- */

int hk_consumer_create(hk_loop *loop, const hk_consumer_config *cfg, hk_consumer **out,
                       hk_error *err)
{
    char errstr[512];
    int rc = HK_ERR;
    rd_kafka_topic_partition_list_t *topics = NULL;
    hk_consumer *c = hk_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->on_message = cfg->on_message;
    c->on_moved = cfg->on_moved;
    c->due = cfg->due;
    c->pickup = cfg->pickup;
    c->arg = cfg->arg;
    c->pipefd[0] = c->pipefd[1] = -1;
    atomic_init(&c->joined, false);
    atomic_init(&c->assigned, 0);
    atomic_init(&c->brokers_up, -1);
    c->lag = hk_metric_source_create(&hk_consumer_metrics.kafka_consumer_lag);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Defaults a user may override: start new groups at the beginning (never skip events),
     * commit what is stored every second, and keep the prefetch queue to about 16 MiB. */
    static const hk_kv defaults[] = {
        {"auto.offset.reset", "earliest"},
        {"auto.commit.interval.ms", "1000"},
        {"queued.max.messages.kbytes", "16384"},
        {"partition.assignment.strategy", "range,roundrobin"},
        {"statistics.interval.ms", "5000"}, /* hookd_kafka_consumer_lag; 0 turns it off */
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        rd_kafka_conf_set(conf, defaults[i].key, defaults[i].value, NULL, 0);
    for (size_t i = 0; i < cfg->kafka_len; i++) {
        if (rd_kafka_conf_set(conf, cfg->kafka[i].key, cfg->kafka[i].value, errstr,
                              sizeof errstr) != RD_KAFKA_CONF_OK) {
            char field[128];
            snprintf(field, sizeof field, "kafka property %s", cfg->kafka[i].key);
            rc = hk_error_set(err, HK_EINVAL, field, "%s", errstr);
            goto error;
        }
    }
    /* The at-least-once contract: we decide which offsets are stored, nobody else. */
    static const hk_kv forced[] = {
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", "true"},
        {"enable.partition.eof", "false"},
    };
    for (size_t i = 0; i < sizeof forced / sizeof forced[0]; i++)
        rd_kafka_conf_set(conf, forced[i].key, forced[i].value, NULL, 0);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    rd_kafka_conf_set_opaque(conf, c);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c->rk) {
        rc = hk_error_set(err, HK_ERR, "kafka", "cannot create consumer: %s", errstr);
        goto error;
    }
    conf = NULL; /* owned by rk now */
    rd_kafka_poll_set_consumer(c->rk);
    if (pipe2(c->pipefd, O_NONBLOCK | O_CLOEXEC) < 0) {
        rc = hk_error_set(err, HK_ERR, NULL, "pipe2 failed");
        goto error;
    }
    c->queue = rd_kafka_queue_get_consumer(c->rk);
    rd_kafka_queue_io_event_enable(c->queue, c->pipefd[1], "1", 1);
    hk_loop_io(loop, c->pipefd[0], HK_IO_READ, on_pipe, c);
    c->poll_timer = hk_timer_create(loop, on_poll_timer, c);
    c->store_timer = hk_timer_create(loop, on_store_timer, c);
    c->due_timer = hk_timer_create(loop, on_due_timer, c);
    hk_timer_start(c->poll_timer, 0);

    topics = rd_kafka_topic_partition_list_new((int)cfg->topics_len);
    for (size_t i = 0; i < cfg->topics_len; i++)
        rd_kafka_topic_partition_list_add(topics, cfg->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (kerr) {
        rc = hk_error_set(err, HK_ERR, "HOOKD_TOPICS", "cannot subscribe: %s",
                          rd_kafka_err2str(kerr));
        goto error;
    }
    *out = c;
    return HK_OK;
error:
    if (conf)
        rd_kafka_conf_destroy(conf);
    hk_consumer_destroy(c);
    return rc;
}

void hk_consumer_destroy(hk_consumer *c)
{
    if (!c)
        return;
    if (c->rk) {
        c->closing = true;
        store_offsets(c);
        /* close() runs the revoke path above, which commits synchronously. */
        rd_kafka_consumer_close(c->rk);
    }
    if (c->queue) {
        rd_kafka_queue_io_event_enable(c->queue, -1, NULL, 0);
        rd_kafka_queue_destroy(c->queue);
    }
    if (c->rk)
        rd_kafka_destroy(c->rk);
    if (c->pipefd[0] >= 0) {
        hk_loop_io(c->loop, c->pipefd[0], 0, NULL, NULL);
        close(c->pipefd[0]);
    }
    if (c->pipefd[1] >= 0)
        close(c->pipefd[1]);
    hk_timer_destroy(c->poll_timer);
    hk_timer_destroy(c->store_timer);
    hk_timer_destroy(c->due_timer);
    for (size_t i = 0; i < c->slots_len; i++) {
        free(c->slots[i].topic);
        hk_offset_tracker_destroy(c->slots[i].tracker);
    }
    free(c->slots);
    hk_metric_source_destroy(c->lag);
    free(c);
}

void hk_consumer_release(hk_consumer *c, hk_msg_ref ref)
{
    slot *s = slot_for_ref(c, ref);
    if (!s || !hk_offset_tracker_release(s->tracker, ref.offset))
        return;
    s->dirty = true; /* a retained slot is stored once it is assigned again */
    if (s->assigned && !hk_timer_active(c->store_timer))
        hk_timer_start(c->store_timer, STORE_INTERVAL_MS);
}

bool hk_consumer_owns(const hk_consumer *c, hk_msg_ref ref)
{
    return slot_for_ref((hk_consumer *)c, ref) != NULL;
}

static void pause_all(hk_consumer *c, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(c->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (pause) {
        rd_kafka_pause_partitions(c->rk, parts);
    } else {
        /* a held partition stays paused until its due time */
        rd_kafka_topic_partition_list_t *resume = rd_kafka_topic_partition_list_new(parts->cnt);
        for (int i = 0; i < parts->cnt; i++) {
            slot *s = slot_find(c, parts->elems[i].topic, parts->elems[i].partition, NULL);
            if (!s || !s->held)
                rd_kafka_topic_partition_list_add(resume, parts->elems[i].topic,
                                                  parts->elems[i].partition);
        }
        rd_kafka_resume_partitions(c->rk, resume);
        rd_kafka_topic_partition_list_destroy(resume);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

void hk_consumer_set_paused(hk_consumer *c, bool paused)
{
    if (c->paused == paused || c->stopped)
        return;
    c->paused = paused;
    HK_DEBUG("kafka.backpressure", "%s taking messages", paused ? "stopped" : "resumed");
    if (paused) {
        c->paused_since = hk_now_ms();
        return;
    }
    if (c->hard_paused) {
        c->hard_paused = false;
        pause_all(c, false);
    }
    hk_timer_start(c->poll_timer, 0);
}

void hk_consumer_stop_fetching(hk_consumer *c)
{
    if (c->stopped)
        return;
    c->stopped = true;
    pause_all(c, true);
}

bool hk_consumer_settled(const hk_consumer *c)
{
    for (size_t i = 0; i < c->slots_len; i++)
        if (c->slots[i].retained)
            return false;
    return true;
}

int hk_consumer_commit(hk_consumer *c, hk_error *err)
{
    store_offsets(c);
    rd_kafka_resp_err_t kerr = rd_kafka_commit(c->rk, NULL, 0);
    if (kerr && kerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
        return hk_error_set(err, HK_ERR, "kafka", "commit failed: %s", rd_kafka_err2str(kerr));
    return HK_OK;
}

bool hk_consumer_joined(const hk_consumer *c)
{
    return atomic_load(&((hk_consumer *)c)->joined);
}

int hk_consumer_assigned(const hk_consumer *c)
{
    return atomic_load(&((hk_consumer *)c)->assigned);
}

int hk_consumer_brokers_up(const hk_consumer *c)
{
    return atomic_load(&((hk_consumer *)c)->brokers_up);
}
