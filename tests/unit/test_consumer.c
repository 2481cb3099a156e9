/*
 * The group consumer (hk_consumer.h) on librdkafka's mock cluster and the real loop: holds
 * for due times, what is committed while work finishes out of order, what a rebalance keeps
 * and drops, and back-pressure. No broker is needed; the real-broker suites in
 * tests/integration cover the same paths end to end.
 *
 * The mock cluster (librdkafka 2.0.2) elects a new group's first leader after a fixed 3 s, and
 * after a rebalance waits session.timeout.ms - 1 s for the members, so every test spends about
 * 3 s joining and each rebalance about 2.5 s (member_start). A producer made with
 * test.mock.num.brokers hosts the cluster; a group-less handle with the same group.id reads the
 * committed offsets back with rd_kafka_committed(). Every wait is bounded (RUN_UNTIL). What is
 * asserted is what was handed out, in which order, and what was committed, with two windows of
 * time: a held record comes neither before its due time nor more than 1 s after it, and a
 * paused consumer hands out nothing for 5.8 s.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hk_consumer.h"

#define TOPIC "jobs"
#define GROUP "hookd-test"
#define JOIN_MS 10000      /* the mock's first election takes 3 s */
#define REBALANCE_MS 10000 /* session.timeout.ms - 1 s, plus the revoke and the rejoin */
#define HOLD_MS 1500       /* how far in the future a held record is due */
#define MAX_TAKEN 64

/* One record handed to a member's on_message. */
typedef struct taken {
    int32_t partition;
    int64_t offset;
    hk_msg_ref ref;
    uint64_t at; /* wall ms */
} taken;

/* A consumer under test and what it was given. */
typedef struct member {
    hk_consumer *c;
    bool release_at_once; /* the handler finishes each record as soon as it has it */
    taken got[MAX_TAKEN];
    size_t got_len;
    size_t pause_at; /* the handler pauses the consumer on taking this many, as the pipeline
                        does when a record fills its engine; 0: never */
    int moved;       /* on_moved calls */
} member;

static struct {
    hk_loop *loop;
    rd_kafka_t *producer; /* hosts the mock cluster */
    rd_kafka_t *peek;     /* reads the group's committed offsets */
    char bootstraps[256];
    member members[2];
    FILE *log; /* what hookd logged, from capture_log() on */
} E;

/* Turns the loop until cond holds or ms have passed; the caller then asserts cond. */
#define RUN_UNTIL(cond, ms)                                                                        \
    for (uint64_t until_ = hk_now_ms() + (ms); !(cond) && hk_now_ms() < until_;)                   \
    hk_loop_run_once(E.loop, 10)

static void run_for(uint64_t ms)
{
    RUN_UNTIL(false, ms);
}

static void conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char errstr[256];
    cr_assert_eq(rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr), RD_KAFKA_CONF_OK,
                 "%s: %s", key, errstr);
}

static void cluster_start(int partitions)
{
    hk_log_set_level(HK_LOG_WARN);
    E.loop = hk_loop_create();
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "test.mock.num.brokers", "1");
    conf_set(conf, "linger.ms", "0");
    conf_set(conf, "log_level", "4"); /* not the notice that the mock cluster is on */
    E.producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert_not_null(E.producer, "%s", errstr);
    rd_kafka_mock_cluster_t *mock = rd_kafka_handle_mock_cluster(E.producer);
    cr_assert_not_null(mock);
    snprintf(E.bootstraps, sizeof E.bootstraps, "%s", rd_kafka_mock_cluster_bootstraps(mock));
    cr_assert_eq(rd_kafka_mock_topic_create(mock, TOPIC, partitions, 1), 0);

    conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", E.bootstraps);
    conf_set(conf, "group.id", GROUP);
    E.peek = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    cr_assert_not_null(E.peek, "%s", errstr);
}

static void one_partition(void)
{
    cluster_start(1);
}

static void two_partitions(void)
{
    cluster_start(2);
}

static void teardown(void)
{
    for (size_t i = 0; i < 2; i++)
        hk_consumer_destroy(E.members[i].c);
    if (E.peek)
        rd_kafka_destroy(E.peek);
    if (E.producer)
        rd_kafka_destroy(E.producer); /* and the mock cluster with it */
    hk_loop_destroy(E.loop);
    hk_log_set_stream(NULL);
    if (E.log)
        fclose(E.log);
}

/* From now on hookd's log lines at level and above go to E.log rather than stdout. */
static void capture_log(hk_log_level level)
{
    E.log = tmpfile();
    cr_assert_not_null(E.log);
    hk_log_set_stream(E.log);
    hk_log_set_level(level);
}

/* True when a line logged so far contains needle. */
static bool logged(const char *needle)
{
    fflush(E.log);
    rewind(E.log);
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, E.log))
        found = strstr(line, needle) != NULL;
    fseek(E.log, 0, SEEK_END);
    return found;
}

/* Puts value on TOPIC[partition] and waits for the mock broker's acknowledgement. */
static void produce(int32_t partition, const char *value)
{
    rd_kafka_resp_err_t err =
        rd_kafka_producev(E.producer, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(err, 0, "%s", rd_kafka_err2str(err));
    cr_assert_eq(rd_kafka_flush(E.producer, 5000), 0);
}

/* A record "due <wall ms>" is not due before then; any other record is due now. */
static uint64_t due_of(const void *payload, size_t len, void *arg)
{
    (void)arg;
    char text[64];
    if (len >= sizeof text)
        return 0;
    memcpy(text, payload, len);
    text[len] = '\0';
    unsigned long long due;
    return sscanf(text, "due %llu", &due) == 1 ? due : 0;
}

static void produce_due(int32_t partition, uint64_t due)
{
    char value[64];
    snprintf(value, sizeof value, "due %llu", (unsigned long long)due);
    produce(partition, value);
}

static void on_message(hk_consumer *c, hk_msg_ref ref, const char *topic, int32_t partition,
                       int64_t offset, const void *payload, size_t len, void *arg)
{
    (void)topic;
    (void)payload;
    (void)len;
    member *m = arg;
    cr_assert_lt(m->got_len, MAX_TAKEN);
    m->got[m->got_len++] =
        (taken){.partition = partition, .offset = offset, .ref = ref, .at = hk_wall_ms()};
    if (m->release_at_once)
        hk_consumer_release(c, ref);
    if (m->pause_at && m->got_len == m->pause_at)
        hk_consumer_set_paused(c, true);
}

static void on_moved(hk_consumer *c, void *arg)
{
    (void)c;
    ((member *)arg)->moved++;
}

/* Members of GROUP on TOPIC. The mock waits session.timeout.ms - 1 s for members to rejoin a
 * rebalance, and drops a member silent for session.timeout.ms, which must therefore outlast
 * the 3 s of the first election: 3.5 s makes a rebalance take about 2.5 s. */
static member *member_start(size_t i, bool release_at_once, bool with_due)
{
    member *m = &E.members[i];
    memset(m, 0, sizeof *m);
    m->release_at_once = release_at_once;
    const hk_kv kafka[] = {
        {"bootstrap.servers", E.bootstraps}, /* the mock cluster */
        {"group.id", GROUP},
        {"session.timeout.ms", "3500"},     /* see above */
        {"heartbeat.interval.ms", "100"},   /* hear of a rebalance at once */
        {"auto.commit.interval.ms", "200"}, /* what is stored is committed soon */
        {"fetch.wait.max.ms", "50"},
        {"statistics.interval.ms", "0"}, /* no lag metric needed */
    };
    char *topics[] = {TOPIC};
    hk_consumer_config cfg = {
        .kafka = kafka,
        .kafka_len = sizeof kafka / sizeof kafka[0],
        .topics = topics,
        .topics_len = 1,
        .on_message = on_message,
        .on_moved = on_moved,
        .due = with_due ? due_of : NULL,
        .arg = m,
    };
    hk_error err = {0};
    cr_assert_eq(hk_consumer_create(E.loop, &cfg, &m->c, &err), HK_OK, "%s", err.msg);
    return m;
}

/* The first time partition@offset was handed to m, or NULL. */
static taken *find(member *m, int32_t partition, int64_t offset)
{
    for (size_t i = 0; i < m->got_len; i++)
        if (m->got[i].partition == partition && m->got[i].offset == offset)
            return &m->got[i];
    return NULL;
}

/* The last time, or NULL. */
static taken *find_last(member *m, int32_t partition, int64_t offset)
{
    for (size_t i = m->got_len; i-- > 0;)
        if (m->got[i].partition == partition && m->got[i].offset == offset)
            return &m->got[i];
    return NULL;
}

static size_t count(member *m, int32_t partition, int64_t offset)
{
    size_t n = 0;
    for (size_t i = 0; i < m->got_len; i++)
        n += m->got[i].partition == partition && m->got[i].offset == offset;
    return n;
}

static size_t count_partition(member *m, int32_t partition)
{
    size_t n = 0;
    for (size_t i = 0; i < m->got_len; i++)
        n += m->got[i].partition == partition;
    return n;
}

static hk_msg_ref ref_of(member *m, int32_t partition, int64_t offset)
{
    taken *t = find(m, partition, offset);
    cr_assert_not_null(t, "[%d]@%lld was never handed out", (int)partition, (long long)offset);
    return t->ref;
}

static void release(member *m, int32_t partition, int64_t offset)
{
    hk_consumer_release(m->c, ref_of(m, partition, offset));
}

static void commit(member *m)
{
    hk_error err = {0};
    cr_assert_eq(hk_consumer_commit(m->c, &err), HK_OK, "%s", err.msg);
}

/* The group's committed offset of TOPIC[partition]; RD_KAFKA_OFFSET_INVALID when none. */
static int64_t committed(int32_t partition)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC, partition);
    rd_kafka_resp_err_t err = rd_kafka_committed(E.peek, l, 5000);
    cr_assert_eq(err, 0, "%s", rd_kafka_err2str(err));
    cr_assert_eq(l->elems[0].err, 0, "%s", rd_kafka_err2str(l->elems[0].err));
    int64_t offset = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return offset;
}

/* ------------------------------------------------------------------------- hold/seek --- */

Test(consumer, a_record_not_due_holds_its_partition_until_it_is, .init = two_partitions,
     .fini = teardown, .timeout = 30)
{
    member *a = member_start(0, true, true);
    produce(0, "now");
    produce(1, "now");
    RUN_UNTIL(find(a, 0, 0) && find(a, 1, 0), JOIN_MS);
    cr_assert(find(a, 0, 0) && find(a, 1, 0), "joined and consuming both partitions");

    uint64_t due = hk_wall_ms() + HOLD_MS;
    produce_due(0, due); /* [0]@1 */
    produce(0, "now");   /* [0]@2: due, but behind one that is not */
    RUN_UNTIL(hk_counter_get(&hk_consumer_metrics.tier_holds) > 0, HOLD_MS / 2);
    cr_assert_gt(hk_counter_get(&hk_consumer_metrics.tier_holds), 0, "[0] held");
    produce(1, "now"); /* [1]@1 and @2, put there while [0] is held */
    produce(1, "now");
    RUN_UNTIL(find(a, 1, 2), HOLD_MS / 2);
    cr_assert_lt(hk_wall_ms(), due, "the test itself was too slow to judge the hold");
    cr_assert_not_null(find(a, 1, 2), "[1] keeps flowing while [0] is held");
    cr_assert_null(find(a, 0, 1), "[0]@1 handed out before it is due");
    cr_assert_null(find(a, 0, 2), "[0]@2 handed out past the held [0]@1");

    /* Everything handed out is finished; [0] commits only up to the held record. */
    commit(a);
    cr_assert_eq(committed(0), 1);
    cr_assert_eq(committed(1), 3);

    RUN_UNTIL(find(a, 0, 2), HOLD_MS + 3000);
    taken *held = find(a, 0, 1), *behind = find(a, 0, 2);
    cr_assert_not_null(held, "[0]@1 handed out once due");
    cr_assert_not_null(behind, "[0]@2 handed out after the hold");
    cr_assert_geq(held->at, due);
    cr_assert_lt(held->at, due + 1000, "[0]@1 came %llu ms after its due time",
                 (unsigned long long)(held->at - due));
    cr_assert_lt(held, behind, "in the partition's order");
    cr_assert_eq(count(a, 0, 1), 1, "the seek back delivers the held record exactly once");
    cr_assert_eq(count(a, 0, 2), 1);
    commit(a);
    cr_assert_eq(committed(0), 3);
}

/* ---------------------------------------------------------------------- release/commit --- */

Test(consumer, out_of_order_releases_commit_up_to_the_lowest_unreleased, .init = one_partition,
     .fini = teardown, .timeout = 30)
{
    member *a = member_start(0, false, false);
    for (int i = 0; i < 5; i++)
        produce(0, "now");
    RUN_UNTIL(a->got_len == 5, JOIN_MS);
    cr_assert_eq(a->got_len, 5);
    for (int64_t o = 0; o < 5; o++)
        cr_assert(hk_consumer_owns(a->c, ref_of(a, 0, o)));

    release(a, 0, 3);
    release(a, 0, 1);
    commit(a);
    cr_assert_eq(committed(0), RD_KAFKA_OFFSET_INVALID, "@0 is unfinished: nothing to commit");
    release(a, 0, 0);
    commit(a);
    cr_assert_eq(committed(0), 2, "@0 and @1 finished, @2 not");
    release(a, 0, 2);
    commit(a);
    cr_assert_eq(committed(0), 4, "up to @4, still unfinished");

    /* Without an explicit commit: the store timer and librdkafka's auto-commit. */
    release(a, 0, 4);
    int64_t point = -1;
    RUN_UNTIL((point = committed(0)) == 5, 3000);
    cr_assert_eq(point, 5);
    cr_assert_eq(a->got_len, 5, "nothing handed out twice");
}

/* ------------------------------------------------------------------------ revoke/keep --- */

/* A second member joins: the eager rebalance revokes both partitions from the first, then
 * gives it one back. Which one depends on the member ids the mock makes up, so the test finds
 * out which partition was kept and asserts the rest from there. Then the second member leaves
 * and the moved partition comes back to the first under a new generation. */
Test(consumer, a_rebalance_keeps_the_work_of_kept_partitions_and_drops_the_rest,
     .init = two_partitions, .fini = teardown, .timeout = 40)
{
    capture_log(HK_LOG_WARN);
    member *a = member_start(0, false, false);
    for (int i = 0; i < 3; i++) {
        produce(0, "now");
        produce(1, "now");
    }
    RUN_UNTIL(a->got_len == 6, JOIN_MS);
    cr_assert_eq(a->got_len, 6, "joined alone, took both partitions");
    release(a, 0, 0);
    release(a, 1, 0);
    /* Commit the finished prefix now: the revoke commits it too, but the 2.0.2 mock refuses a
     * commit while the group is joining (REBALANCE_IN_PROGRESS; a real broker takes it). */
    commit(a);
    cr_assert_eq(committed(0), 1);
    cr_assert_eq(committed(1), 1);

    member *b = member_start(1, false, false);
    RUN_UNTIL(a->moved && b->got_len == 2 && hk_consumer_assigned(a->c) == 1, REBALANCE_MS);
    cr_assert_eq(hk_consumer_assigned(a->c), 1);
    cr_assert_eq(hk_consumer_assigned(b->c), 1);
    cr_assert_eq(a->moved, 1, "on_moved once, for the partition that went to the new member");
    cr_assert(hk_consumer_settled(a->c));

    int32_t kept = hk_consumer_owns(a->c, ref_of(a, 0, 1)) ? 0 : 1, gone = 1 - kept;
    for (int64_t o = 1; o < 3; o++) {
        cr_assert(hk_consumer_owns(a->c, ref_of(a, kept, o)), "[%d]@%lld kept", kept, (long long)o);
        cr_assert_not(hk_consumer_owns(a->c, ref_of(a, gone, o)), "[%d]@%lld not ours", gone,
                      (long long)o);
    }
    cr_assert(find(b, gone, 1) && find(b, gone, 2), "the new owner redelivers the unfinished");
    cr_assert_eq(count_partition(b, kept), 0);
    cr_assert_eq(a->got_len, 6, "the kept partition resumed after the last record taken");
    cr_assert_not(logged("kafka.consume.rewind"), "the kept partition was assigned too early");

    /* Releasing a moved record's work is a no-op: it stores nothing for [gone]. */
    release(a, gone, 1);
    release(a, gone, 2);
    cr_assert_not(hk_consumer_owns(a->c, ref_of(a, gone, 2)));
    /* The kept partition's work still counts. */
    release(a, kept, 1);
    release(a, kept, 2);
    commit(a);
    cr_assert_eq(committed(kept), 3);
    cr_assert_eq(committed(gone), 1, "a stale release moved the new owner's offset");
    produce(kept, "now");
    RUN_UNTIL(find(a, kept, 3), 3000);
    cr_assert_not_null(find(a, kept, 3), "the kept partition goes on flowing");
    cr_assert_eq(count_partition(b, kept), 0);

    /* B leaves without finishing anything: [gone] comes back to A from its committed offset,
     * under a new generation, so A's refs from before it moved stay stale. */
    hk_consumer_destroy(b->c);
    b->c = NULL;
    RUN_UNTIL(count(a, gone, 2) == 2, REBALANCE_MS);
    cr_assert_eq(count(a, gone, 1), 2, "[gone]@1 handed out again by the new assignment");
    cr_assert_eq(count(a, gone, 2), 2);
    cr_assert_eq(count(a, kept, 3), 1, "kept again: not handed out twice");
    hk_msg_ref stale = ref_of(a, gone, 1), fresh = find_last(a, gone, 1)->ref;
    cr_assert_not(hk_consumer_owns(a->c, stale));
    cr_assert(hk_consumer_owns(a->c, fresh));
    hk_consumer_release(a->c, stale);
    commit(a);
    cr_assert_eq(committed(gone), 1, "a stale ref released the new [gone]@1");
    hk_consumer_release(a->c, fresh);
    hk_consumer_release(a->c, find_last(a, gone, 2)->ref);
    commit(a);
    cr_assert_eq(committed(gone), 3);
}

/* ------------------------------------------------------------------------------ pause --- */

/* Back-pressure first only stops taking records from librdkafka's prefetch queue; after 5 s
 * (HARD_PAUSE_AFTER_MS in consumer.c) it pauses the partitions in librdkafka, which drops what
 * was prefetched. Records put there in either phase come once each, in order, after resuming. */
Test(consumer, paused_hands_out_nothing_and_resuming_goes_on, .init = one_partition,
     .fini = teardown, .timeout = 30)
{
    member *a = member_start(0, true, false);
    produce(0, "now");
    RUN_UNTIL(a->got_len == 1, JOIN_MS);
    cr_assert_eq(a->got_len, 1);

    capture_log(HK_LOG_INFO);
    hk_consumer_set_paused(a->c, true);
    for (int i = 0; i < 3; i++)
        produce(0, "now"); /* @1..@3: prefetched while only the hand-out stops */
    run_for(5500);
    cr_assert_eq(a->got_len, 1, "a paused consumer handed out a record");
    cr_assert(logged("\"event\":\"kafka.backpressure\""), "partitions paused after 5 s");
    produce(0, "now"); /* @4: after the partition itself was paused */
    run_for(300);
    cr_assert_eq(a->got_len, 1, "a paused consumer handed out a record");
    cr_assert(hk_consumer_joined(a->c), "still a member while paused");

    hk_consumer_set_paused(a->c, false);
    RUN_UNTIL(a->got_len == 5, 3000);
    cr_assert_eq(a->got_len, 5);
    for (int64_t o = 1; o < 5; o++) {
        cr_assert_eq(count(a, 0, o), 1, "@%lld once", (long long)o);
        cr_assert_eq(a->got[o].offset, o, "in order");
    }
}

/* A record whose handling fills the engine pauses the consumer from inside the handler: the
 * rest of that batch of prefetched records waits too (decision 78: a batch once went on, and one
 * turn took 256 events, 50 requests each, past the back-pressure threshold). */
Test(consumer, a_pause_from_the_handler_stops_the_batch, .init = one_partition, .fini = teardown,
     .timeout = 30)
{
    for (int i = 0; i < 6; i++)
        produce(0, "now"); /* @0..@5, there before the member: fetched together */
    member *a = member_start(0, true, false);
    a->pause_at = 2;
    RUN_UNTIL(a->got_len >= 2, JOIN_MS);
    run_for(500);
    cr_assert_eq(a->got_len, 2, "%zu records handed out after the handler paused at 2",
                 a->got_len);
    hk_consumer_set_paused(a->c, false);
    RUN_UNTIL(a->got_len == 6, 3000);
    for (int64_t o = 0; o < 6; o++)
        cr_assert_eq(a->got[o].offset, o, "in order, once each");
}

/* hk_config_is_service_link (core/config.c) must swallow no real property: every property the
 * linked librdkafka knows (its own table, as CONFIGURATION.md prints it), written as hookd
 * reads it (HOOKD_KAFKA_<PROPERTY>), is not a service link's name. */
Test(config, no_librdkafka_property_looks_like_a_service_link)
{
    char *table = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&table, &size);
    rd_kafka_conf_properties_show(out);
    fclose(out);
    size_t checked = 0;
    bool bootstrap = false;
    for (char *line = strtok(table, "\n"); line; line = strtok(NULL, "\n")) {
        char env[256] = "HOOKD_KAFKA_";
        size_t n = strlen(env), i = 0;
        if (line[0] < 'a' || line[0] > 'z')
            continue; /* the header, the rule, blank lines */
        for (; line[i] && line[i] != ' ' && line[i] != '|' && n + 1 < sizeof env; i++)
            env[n++] = line[i] == '.' ? '_' : (char)toupper((unsigned char)line[i]);
        env[n] = '\0';
        bootstrap = bootstrap || strcmp(env, "HOOKD_KAFKA_BOOTSTRAP_SERVERS") == 0;
        cr_assert_not(hk_config_is_service_link(env, n), "%s would be skipped", env);
        checked++;
    }
    free(table);
    cr_assert(checked > 100 && bootstrap, "read %zu properties from librdkafka's table", checked);
}
