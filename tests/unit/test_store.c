/*
 * store: task CRUD, the per-flow limit, the cache's refresh and the history writer, against the
 * real redis-server that deploy/local/stack starts (HOOKD_TEST_REDIS_URL; tests/run sets it).
 */
#include <criterion/criterion.h>

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hk_store.h"

static char prefix[64];
static hk_store_config cfg;

static void setup(void)
{
    const char *url = getenv("HOOKD_TEST_REDIS_URL");
    if (!url || !*url)
        cr_skip_test("HOOKD_TEST_REDIS_URL is not set: run through tests/run, which starts Redis");
    static int n;
    snprintf(prefix, sizeof prefix, "hktest:%d:%d:", (int)getpid(), n++);
    cfg = (hk_store_config){.url = url, .prefix = prefix, .max_per_flow = 50, .timeout_ms = 2000};
}

TestSuite(store, .init = setup, .timeout = 60);

static hk_task *make_task(const char *flow, const char *extra)
{
    char json[512];
    snprintf(
        json, sizeof json,
        "{\"flowId\":\"%s\",\"url\":\"https://x.example/h\",\"secret\":\"superSecretValue9876\"%s}",
        flow, extra ? extra : "");
    hk_task *t = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_task_parse(json, strlen(json), true, &t, &err), HK_OK, "%s", err.msg);
    return t;
}

/* A plain hiredis connection, to check the layout itself. */
static redisContext *raw_redis(void)
{
    const char *url = getenv("HOOKD_TEST_REDIS_URL");
    const char *colon = strrchr(url + 8, ':');
    redisContext *rc = redisConnect("127.0.0.1", colon ? atoi(colon + 1) : 6379);
    cr_assert(rc && !rc->err);
    return rc;
}

/* A version counter of the layout (tasks:version, inbound:version). */
static long long counter(const char *key)
{
    redisContext *rc = raw_redis();
    redisReply *r = redisCommand(rc, "GET %s%s", prefix, key);
    long long v = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    redisFree(rc);
    return v;
}

static long long version(void)
{
    return counter("tasks:version");
}

Test(store, crud_round_trip)
{
    hk_store *s;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    hk_task *t = make_task("7", NULL);
    long long v0 = version();
    cr_assert_eq(hk_store_task_create(s, t, &err), HK_OK, "%s", err.msg);
    cr_assert_gt(version(), v0, "a write bumps the version");
    cr_assert_eq(hk_store_task_create(s, t, &err), HK_ECONFLICT,
                 "the same id twice: a conflict (409)");
    cr_assert_str_eq(err.field, "id");

    hk_task *got = NULL;
    cr_assert_eq(hk_store_task_get(s, t->id, &got, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(got->secrets[0], "superSecretValue9876", "stored in full");
    hk_task_destroy(got);

    hk_task **list;
    size_t n;
    cr_assert_eq(hk_store_task_list(s, "7", &list, &n, &err), HK_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(list[0]->id, t->id);
    hk_task_destroy(list[0]);
    free(list);

    /* update moves the task to another flow */
    free(t->flow_id);
    t->flow_id = hk_strdup("8");
    cr_assert_eq(hk_store_task_update(s, t, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(hk_store_task_list(s, "7", &list, &n, &err), HK_OK);
    cr_assert_eq(n, 0);
    free(list);
    cr_assert_eq(hk_store_task_list(s, "8", &list, &n, &err), HK_OK);
    cr_assert_eq(n, 1);
    hk_task_destroy(list[0]);
    free(list);

    cr_assert_eq(hk_store_task_delete(s, t->id, &err), HK_OK);
    cr_assert_eq(hk_store_task_get(s, t->id, &got, &err), HK_ENOTFOUND);
    cr_assert_eq(hk_store_task_delete(s, t->id, &err), HK_ENOTFOUND);
    cr_assert(strstr(err.msg, t->id) != NULL);
    cr_assert_eq(hk_store_task_list(s, "8", &list, &n, &err), HK_OK);
    cr_assert_eq(n, 0, "delete removes the id from the flow set");
    free(list);
    hk_task_destroy(t);
    hk_store_close(s);
}

Test(store, fifty_per_flow)
{
    hk_store *s;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    for (int i = 0; i < 50; i++) {
        hk_task *t = make_task("f50", NULL);
        cr_assert_eq(hk_store_task_create(s, t, &err), HK_OK, "task %d: %s", i + 1, err.msg);
        hk_task_destroy(t);
    }
    hk_task *t51 = make_task("f50", NULL);
    cr_assert_eq(hk_store_task_create(s, t51, &err), HK_ELIMIT);
    cr_assert_str_eq(err.field, "flowId");
    cr_assert(strstr(err.msg, "50") != NULL, "%s", err.msg);
    hk_task *other = make_task("another", NULL);
    cr_assert_eq(hk_store_task_create(s, other, &err), HK_OK, "the limit is per flow");
    hk_task_destroy(t51);
    hk_task_destroy(other);
    hk_store_close(s);

    hk_store_config small = cfg;
    small.max_per_flow = 3;
    cr_assert_eq(hk_store_open(&small, &s, &err), HK_OK);
    for (int i = 0; i < 4; i++) {
        hk_task *t = make_task("f3", NULL);
        cr_assert_eq(hk_store_task_create(s, t, &err), i < 3 ? HK_OK : HK_ELIMIT, "task %d", i);
        hk_task_destroy(t);
    }
    hk_store_close(s);
}

Test(store, cache_sees_changes_within_two_seconds)
{
    hk_store *s;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    hk_task *a = make_task("c1", NULL);
    cr_assert_eq(hk_store_task_create(s, a, &err), HK_OK);
    hk_store_cache *cache;
    cr_assert_eq(hk_store_cache_create(&cfg, 200, 60000, &cache, &err), HK_OK, "%s", err.msg);
    hk_store_snapshot *snap = hk_store_cache_acquire(cache);
    size_t n;
    const hk_task *const *tasks = hk_store_snapshot_flow(snap, "c1", &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(tasks[0]->id, a->id);
    cr_assert_null(hk_store_snapshot_flow(snap, "nope", &n));
    cr_assert_eq(n, 0);

    hk_task *b = make_task("c1", NULL);
    uint64_t start = hk_now_ms();
    cr_assert_eq(hk_store_task_create(s, b, &err), HK_OK);
    cr_assert_eq(hk_store_task_delete(s, a->id, &err), HK_OK);
    bool seen = false;
    while (!seen && hk_now_ms() - start < 2000) {
        hk_store_snapshot *now = hk_store_cache_acquire(cache);
        tasks = hk_store_snapshot_flow(now, "c1", &n);
        seen = n == 1 && strcmp(tasks[0]->id, b->id) == 0;
        hk_store_snapshot_release(now);
        usleep(20000);
    }
    cr_assert(seen, "the cache saw the change within 2 s");
    /* the old snapshot is still intact for whoever holds it */
    tasks = hk_store_snapshot_flow(snap, "c1", &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(tasks[0]->id, a->id);
    hk_store_snapshot_release(snap);
    hk_store_cache_destroy(cache);
    hk_task_destroy(a);
    hk_task_destroy(b);
    hk_store_close(s);
}

Test(store, unreadable_task_is_skipped_and_counted)
{
    redisContext *rc = raw_redis();
    freeReplyObject(redisCommand(rc, "SET %swebhook:wh_broken {nope", prefix));
    freeReplyObject(redisCommand(rc,
                                 "SET %swebhook:wh_bad {\"id\":\"wh_bad\",\"flowId\":\"9\","
                                 "\"url\":\"ftp://x\"}",
                                 prefix));
    redisFree(rc);
    hk_store *s;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK);
    hk_task *ok = make_task("9", NULL);
    cr_assert_eq(hk_store_task_create(s, ok, &err), HK_OK);
    uint64_t errors = hk_counter_get(&hk_store_metrics.task_reload_errors);
    hk_store_cache *cache;
    cr_assert_eq(hk_store_cache_create(&cfg, 200, 60000, &cache, &err), HK_OK, "%s", err.msg);
    hk_store_snapshot *snap = hk_store_cache_acquire(cache);
    size_t n;
    hk_store_snapshot_flow(snap, "9", &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(hk_store_snapshot_size(snap), 1);
    cr_assert_eq(hk_counter_get(&hk_store_metrics.task_reload_errors), errors + 2);
    hk_store_snapshot_release(snap);
    hk_store_cache_destroy(cache);
    hk_task_destroy(ok);
    hk_store_close(s);
}

Test(store, history_newest_first_capped_and_expiring)
{
    hk_store_history *h;
    hk_error err = {0};
    cr_assert_eq(hk_store_history_create(&cfg, 1000, &h, &err), HK_OK, "%s", err.msg);
    for (int i = 1; i <= HK_STORE_HISTORY_CAP + 5; i++) {
        char rec[64];
        snprintf(rec, sizeof rec, "{\"attempt\":%d}", i);
        hk_store_history_ref ref = {.job_id = "job-77",
                                    .delivery_id = "msg_77",
                                    .event_id = "ev-77",
                                    .webhook_id = "wh_77",
                                    .attempt = i};
        hk_store_history_add(h, &ref, rec);
    }
    hk_store_history_destroy(h); /* flushes */
    hk_store *s;
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK);
    cJSON *arr;
    cr_assert_eq(hk_store_history_get(s, "job-77", &arr, &err), HK_OK);
    cr_assert_eq(cJSON_GetArraySize(arr), HK_STORE_HISTORY_CAP);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "attempt")->valueint,
                 HK_STORE_HISTORY_CAP + 5, "newest first");
    cJSON_Delete(arr);
    hk_store_close(s);
    redisContext *rc = raw_redis();
    redisReply *r = redisCommand(rc, "TTL %sjob:job-77:deliveries", prefix);
    cr_assert_gt(r->integer, 0);
    cr_assert_leq(r->integer, 7 * 24 * 3600);
    freeReplyObject(r);
    redisFree(rc);
}

/* A batch whose attempts were all delivered and whose events were kept already has no index
 * entry to write: its records still reach the job's history (an empty HSET would be refused
 * and the whole batch dropped). */
Test(store, a_batch_with_no_index_entry_is_still_written)
{
    hk_store_history *h;
    hk_error err = {0};
    cr_assert_eq(hk_store_history_create(&cfg, 1000, &h, &err), HK_OK, "%s", err.msg);
    uint64_t dropped = hk_counter_get(&hk_store_metrics.history_dropped);
    hk_store_history_ref ref = {.job_id = "job-66",
                                .delivery_id = "msg_66",
                                .event_id = "ev-66",
                                .webhook_id = "wh_66",
                                .attempt = 1};
    hk_store_history_add(h, &ref, "{\"attempt\":1}");
    hk_store_history_destroy(h); /* flushes */
    cr_assert_eq(hk_counter_get(&hk_store_metrics.history_dropped), dropped);
    hk_store *s;
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK);
    cJSON *arr;
    cr_assert_eq(hk_store_history_get(s, "job-66", &arr, &err), HK_OK);
    cr_assert_eq(cJSON_GetArraySize(arr), 1);
    cJSON_Delete(arr);
    hk_store_close(s);
}

/* An attempt record as the worker writes it (the fields the lookup reads). */
static const char *attempt_record(char *buf, size_t n, const char *delivery, const char *webhook,
                                  int attempt)
{
    snprintf(buf, n,
             "{\"deliveryId\":\"%s\",\"webhookId\":\"%s\",\"eventId\":\"ev-88\","
             "\"attempt\":%d}",
             delivery, webhook, attempt);
    return buf;
}

/* A delivery that failed is found by its id alone (the index), its last attempt read from the
 * job's history (a later delivered one included); one delivered at once has no entry and is
 * found with its job; the event is kept once per message. */
Test(store, delivery_index_finds_the_last_attempt_and_the_event)
{
    hk_store_history *h;
    hk_error err = {0};
    char rec[256];
    cr_assert_eq(hk_store_history_create(&cfg, 1000, &h, &err), HK_OK, "%s", err.msg);
    static const char event[] = "{\"eventId\":\"ev-88\",\"jobId\":\"job-88\"}";
    hk_store_history_ref ref = {.job_id = "job-88",
                                .delivery_id = "msg_88",
                                .event_id = "ev-88",
                                .webhook_id = "wh_88",
                                .attempt = 1,
                                .index = true, /* failed */
                                .event = event,
                                .event_len = sizeof event - 1};
    hk_store_history_add(h, &ref, attempt_record(rec, sizeof rec, "msg_88", "wh_88", 1));
    ref.attempt = 2;
    ref.index = false; /* delivered */
    ref.event = NULL;  /* the message kept it already */
    hk_store_history_add(h, &ref, attempt_record(rec, sizeof rec, "msg_88", "wh_88", 2));
    hk_store_history_ref ok = ref;
    ok.delivery_id = "msg_99";
    ok.webhook_id = "wh_99";
    ok.attempt = 1;
    hk_store_history_add(h, &ok, attempt_record(rec, sizeof rec, "msg_99", "wh_99", 1));
    hk_store_history_destroy(h); /* flushes */

    hk_store *s;
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK);
    hk_store_delivery d;
    cr_assert_eq(hk_store_delivery_find(s, "msg_88", NULL, &d, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(d.job_id, "job-88");
    cr_assert_str_eq(d.event_id, "ev-88");
    cr_assert_str_eq(d.webhook_id, "wh_88");
    cr_assert_eq(d.attempt, 2, "the delivered retry after the failed attempt counts");
    cr_assert_not_null(d.event);
    cr_assert_eq(d.event_len, sizeof event - 1);
    cr_assert_str_eq(d.event, event);
    hk_store_delivery_free(&d);
    /* delivered at once: no entry, found with its job */
    err = (hk_error){0};
    cr_assert_eq(hk_store_delivery_find(s, "msg_99", NULL, &d, &err), HK_ENOTFOUND);
    cr_assert_str_eq(err.field, "deliveryId");
    cr_assert(strstr(err.msg, "with its job"), "%s", err.msg);
    cr_assert_eq(hk_store_delivery_find(s, "msg_99", "job-88", &d, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(d.webhook_id, "wh_99");
    cr_assert_eq(d.attempt, 1);
    cr_assert_str_eq(d.event, event);
    hk_store_delivery_free(&d);
    err = (hk_error){0};
    cr_assert_eq(hk_store_delivery_find(s, "msg_77", "job-88", &d, &err), HK_ENOTFOUND);
    cr_assert_str_eq(err.field, "deliveryId");

    /* A resend's record: written now, and the next lookup sees its attempt. */
    ref.attempt = 3;
    ref.index = true;
    cr_assert_eq(hk_store_history_write(
                     s, &ref, attempt_record(rec, sizeof rec, "msg_88", "wh_88", 3), &err),
                 HK_OK, "%s", err.msg);
    cr_assert_eq(hk_store_delivery_find(s, "msg_88", NULL, &d, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(d.attempt, 3);
    hk_store_delivery_free(&d);
    cJSON *arr;
    cr_assert_eq(hk_store_history_get(s, "job-88", &arr, &err), HK_OK);
    cr_assert_eq(cJSON_GetArraySize(arr), 4);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "attempt")->valueint, 3);
    cJSON_Delete(arr);

    err = (hk_error){0};
    cr_assert_eq(hk_store_delivery_find(s, "msg_nope", NULL, &d, &err), HK_ENOTFOUND);
    cr_assert_str_eq(err.field, "deliveryId");
    cr_assert_null(d.job_id);
    hk_store_close(s);

    redisContext *rc = raw_redis();
    redisReply *r = redisCommand(rc, "KEYS %shistory:*", prefix);
    cr_assert(r->elements == 1 || r->elements == 2, "the hour's index (2 across an hour's end)");
    redisReply *ttl = redisCommand(rc, "TTL %s", r->element[0]->str);
    cr_assert_gt(ttl->integer, 0);
    cr_assert_leq(ttl->integer, 7 * 24 * 3600);
    freeReplyObject(ttl);
    freeReplyObject(r);
    redisFree(rc);
}

Test(store, disable_keeps_reason_and_time_once)
{
    hk_store *s;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    hk_task *t = make_task("9", ",\"name\":\"before\"");
    cr_assert_eq(hk_store_task_create(s, t, &err), HK_OK, "%s", err.msg);
    long long v0 = version();
    bool changed = false;
    cr_assert_eq(hk_store_task_disable(s, t->id, "the endpoint answered 410 Gone", 1795435200123ull,
                                       &changed, &err),
                 HK_OK, "%s", err.msg);
    cr_assert(changed);
    cr_assert_gt(version(), v0, "workers see the change");
    hk_task *got = NULL;
    cr_assert_eq(hk_store_task_get(s, t->id, &got, &err), HK_OK, "%s", err.msg);
    cr_assert_not(got->enabled);
    cr_assert_str_eq(got->disabled_reason, "the endpoint answered 410 Gone");
    cr_assert_str_eq(got->disabled_at, "2026-11-23T12:00:00.123Z");
    cr_assert_str_eq(got->name, "before", "the rest of the task is kept");
    cr_assert_str_eq(got->secrets[0], "superSecretValue9876", "secrets kept in full");
    hk_task_destroy(got);

    /* Disabled already: the first reason and time stay. */
    cr_assert_eq(hk_store_task_disable(s, t->id, "again", 1, &changed, &err), HK_OK);
    cr_assert_not(changed);
    cr_assert_eq(hk_store_task_get(s, t->id, &got, &err), HK_OK);
    cr_assert_str_eq(got->disabled_reason, "the endpoint answered 410 Gone");
    hk_task_destroy(got);
    cr_assert_eq(hk_store_task_disable(s, "wh_absent", "x", 1, NULL, &err), HK_ENOTFOUND);

    /* Through the writer thread, as the worker does it. */
    hk_task *u = make_task("9", NULL);
    cr_assert_eq(hk_store_task_create(s, u, &err), HK_OK, "%s", err.msg);
    hk_store_history *h;
    cr_assert_eq(hk_store_history_create(&cfg, 10, &h, &err), HK_OK, "%s", err.msg);
    hk_store_history_disable_task(h, u->id, "gone");
    hk_store_history_destroy(h); /* does what is queued first */
    cr_assert_eq(hk_store_task_get(s, u->id, &got, &err), HK_OK);
    cr_assert_not(got->enabled);
    cr_assert_str_eq(got->disabled_reason, "gone");
    cr_assert_not_null(got->disabled_at);
    hk_task_destroy(got);
    hk_task_destroy(u);
    hk_task_destroy(t);
    hk_store_close(s);
}

/* What the writer tells of a disable, copied out of the callback. */
typedef struct told {
    int n;
    char id[64], flow[64], reason[200], at[32], cause[16];
} told;

static void tell(const hk_store_disabled *d, void *arg)
{
    told *t = arg;
    t->n++;
    snprintf(t->id, sizeof t->id, "%s", d->webhook_id);
    snprintf(t->flow, sizeof t->flow, "%s", d->flow_id);
    snprintf(t->reason, sizeof t->reason, "%s", d->reason);
    snprintf(t->at, sizeof t->at, "%s", d->disabled_at);
    snprintf(t->cause, sizeof t->cause, "%s", d->cause);
}

static bool failing_mark(const char *id)
{
    redisContext *rc = raw_redis();
    redisReply *r = redisCommand(rc, "EXISTS %swebhook:%s:failing", prefix, id);
    bool there = r->integer == 1;
    freeReplyObject(r);
    redisFree(rc);
    return there;
}

/* HOOKD_DISABLE_AFTER through the writer thread: a final failure marks the task (Redis's time),
 * a delivered attempt clears the mark, a mark older than the rule disables the task once, with
 * its reason and time, told to the callback once (cause "failing"); a reset clears the mark
 * first; 0 never marks; a 410 is told too (cause "gone"). */
Test(store, sustained_failure_disables_once_and_a_delivery_resets_the_clock)
{
    hk_store *s;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    hk_task *t = make_task("9", NULL);
    cr_assert_eq(hk_store_task_create(s, t, &err), HK_OK, "%s", err.msg);
    told heard = {0};
    uint64_t gone_before = hk_counter_get(&hk_store_metrics.tasks_disabled_gone);
    uint64_t failing_before = hk_counter_get(&hk_store_metrics.tasks_disabled_failing);
    hk_store_history *h;
    cr_assert_eq(hk_store_history_create(&cfg, 100, &h, &err), HK_OK, "%s", err.msg);
    hk_store_history_set_health(h, 500, 100, tell, &heard);
    hk_store_history_task_failed(h, t->id, false);
    usleep(150 * 1000);
    cr_assert(failing_mark(t->id), "a final failure marks the task");
    hk_store_history_task_delivered(h, t->id);
    usleep(100 * 1000);
    cr_assert_not(failing_mark(t->id), "a delivered attempt clears the mark");
    hk_store_history_task_failed(h, t->id, false); /* the clock starts again */
    usleep(300 * 1000);
    hk_store_history_task_failed(h, t->id, false); /* 300 ms < 600 ms: not yet */
    usleep(100 * 1000);
    hk_task *got = NULL;
    cr_assert_eq(hk_store_task_get(s, t->id, &got, &err), HK_OK);
    cr_assert(got->enabled, "not failing long enough yet");
    hk_task_destroy(got);
    /* a reset (a delivery not yet told came first) clears the mark before marking again */
    hk_store_history_task_failed(h, t->id, true);
    usleep(300 * 1000);
    hk_store_history_task_failed(h, t->id, false);
    usleep(100 * 1000);
    cr_assert_eq(hk_store_task_get(s, t->id, &got, &err), HK_OK);
    cr_assert(got->enabled, "the reset restarted the clock");
    hk_task_destroy(got);
    usleep(350 * 1000);
    hk_store_history_task_failed(h, t->id, false); /* past 600 ms: disabled */
    hk_store_history_task_failed(h, t->id, false); /* once */
    usleep(150 * 1000);
    cr_assert_eq(hk_store_task_get(s, t->id, &got, &err), HK_OK);
    cr_assert_not(got->enabled);
    cr_assert(strstr(got->disabled_reason, "every delivery failed for more than 500ms "
                                           "(HOOKD_DISABLE_AFTER), since 20"),
              "%s", got->disabled_reason);
    cr_assert_eq(heard.n, 1, "told once");
    cr_assert_str_eq(heard.id, t->id);
    cr_assert_str_eq(heard.flow, "9");
    cr_assert_str_eq(heard.cause, "failing");
    cr_assert_str_eq(heard.reason, got->disabled_reason);
    cr_assert_str_eq(heard.at, got->disabled_at);
    hk_task_destroy(got);
    cr_assert_not(failing_mark(t->id), "the mark goes with the disable");
    cr_assert_eq(hk_counter_get(&hk_store_metrics.tasks_disabled_failing), failing_before + 1);

    /* a 410 is told as well */
    hk_task *u = make_task("9", NULL);
    cr_assert_eq(hk_store_task_create(s, u, &err), HK_OK, "%s", err.msg);
    hk_store_history_disable_task(h, u->id, "the endpoint answered 410 Gone");
    hk_store_history_destroy(h);
    cr_assert_eq(heard.n, 2);
    cr_assert_str_eq(heard.id, u->id);
    cr_assert_str_eq(heard.cause, "gone");
    cr_assert_eq(hk_counter_get(&hk_store_metrics.tasks_disabled_gone), gone_before + 1);

    /* 0: never marks */
    hk_task *v = make_task("9", NULL);
    cr_assert_eq(hk_store_task_create(s, v, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(hk_store_history_create(&cfg, 100, &h, &err), HK_OK, "%s", err.msg);
    hk_store_history_set_health(h, 0, 0, tell, &heard);
    hk_store_history_task_failed(h, v->id, false);
    hk_store_history_destroy(h);
    cr_assert_not(failing_mark(v->id));
    hk_task_destroy(v);
    hk_task_destroy(u);
    hk_task_destroy(t);
    hk_store_close(s);
}

Test(store, errors_name_the_url_and_hide_the_password)
{
    hk_store *s = NULL;
    hk_error err = {0};
    hk_store_config bad = cfg;
    bad.url = "redis://:hunter2pass@127.0.0.1:1/0";
    cr_assert_eq(hk_store_open(&bad, &s, &err), HK_ERR);
    cr_assert_str_eq(err.field, "HOOKD_REDIS_URL");
    cr_assert(strstr(err.msg, "hunter2pass") == NULL, "%s", err.msg);
    bad.url = "http://127.0.0.1:6379";
    cr_assert_eq(hk_store_open(&bad, &s, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "HOOKD_REDIS_URL");
    /* a wrong password against a server without one still never echoes it */
    bad = cfg;
    bad.password = "hunter3pass";
    int rc = hk_store_open(&bad, &s, &err);
    if (rc == HK_OK)
        hk_store_close(s);
    else
        cr_assert(strstr(err.msg, "hunter3pass") == NULL, "%s", err.msg);
}

/* The URL forms hookd refuses before connecting: each names HOOKD_REDIS_URL and echoes neither
 * the user nor the password (decision 66). */
Test(store, bad_redis_urls_are_refused_naming_the_url_without_their_credentials)
{
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"rediss://u1ser:s3cretPw@127.0.0.1:6380/0", "sidecar"},
        {"redis://u1ser:s3cretPw%4@127.0.0.1/0", "percent-encoding"},
        {"redis://u1ser:s3cretPw%zz@127.0.0.1/0", "percent-encoding"},
        {"redis://u1ser:s3cretPw%00@127.0.0.1/0", "percent-encoding"},
        {"redis://u1ser%g1:s3cretPw@127.0.0.1/0", "percent-encoding"},
        {"redis://u1ser@127.0.0.1:6379/0", "no password"},
        {"redis://u1ser:s3cretPw@127.0.0.1:0/0", "invalid port"},
        {"redis://u1ser:s3cretPw@127.0.0.1:63x9/0", "invalid port"},
        {"redis://u1ser:s3cretPw@127.0.0.1:/0", "invalid port"},
        {"redis://u1ser:s3cretPw@:6379/0", "no host"},
        {"redis://u1ser:s3cretPw@[::1/0", "IPv6"},
        {"redis://u1ser:s3cretPw@127.0.0.1/x", "database"},
        {"http://u1ser:s3cretPw@127.0.0.1/0", "redis://"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hk_store *s = NULL;
        hk_error err = {0};
        hk_store_config c = cfg;
        c.url = bad[i].url;
        cr_assert_eq(hk_store_open(&c, &s, &err), HK_EINVAL, "%s", bad[i].url);
        cr_assert_str_eq(err.field, "HOOKD_REDIS_URL", "%s", bad[i].url);
        cr_assert(strstr(err.msg, bad[i].says), "%s: %s", bad[i].url, err.msg);
        cr_assert(!strstr(err.msg, "s3cretPw") && !strstr(err.msg, "u1ser"), "%s", err.msg);
        cr_assert(!strchr(err.msg, '\n'), "one line: %s", err.msg);
    }
    /* a user named in the URL takes HOOKD_REDIS_PASSWORD as its password */
    hk_store *s = NULL;
    hk_error err = {0};
    hk_store_config c = cfg;
    c.url = "redis://u1ser@127.0.0.1:1/0";
    c.password = "s3cretPw";
    cr_assert_eq(hk_store_open(&c, &s, &err), HK_ERR, "parsed, then port 1 refuses");
    cr_assert(!strstr(err.msg, "s3cretPw") && strstr(err.msg, "cannot connect"), "%s", err.msg);
    /* an [IPv6] host loses its brackets; ":password@" is the default user's password */
    c.url = "redis://:s3cretPw@[::1]:1/0";
    c.password = NULL;
    cr_assert_eq(hk_store_open(&c, &s, &err), HK_ERR);
    cr_assert(strstr(err.msg, "cannot connect to ::1:1") && !strstr(err.msg, "s3cretPw"), "%s",
              err.msg);
}

/* An ACL user of the real Redis, with a user name and password that need percent-encoding:
 * hk_store_open decodes both and sends AUTH user password; HOOKD_REDIS_PASSWORD overrides the
 * URL's password and keeps its user; a wrong password fails naming the URL, not echoing it. */
Test(store, an_acl_user_in_the_url_is_decoded_and_authenticated)
{
    const char *url = getenv("HOOKD_TEST_REDIS_URL");
    const char *hostport = url + 8; /* redis://127.0.0.1:16379/0 */
    char user[64], encoded_user[96], plain[160], urlbuf[512];
    snprintf(user, sizeof user, "hk-test@%d", (int)getpid()); /* Redis refuses spaces here */
    snprintf(encoded_user, sizeof encoded_user, "hk-test%%40%d", (int)getpid());
    const char *password = "p@ss:w/rd %1";
    const char *encoded_password = "p%40ss%3Aw%2Frd%20%251";
    redisContext *rc = raw_redis();
    snprintf(plain, sizeof plain, "~%s*", prefix);
    redisReply *r = redisCommand(rc, "ACL SETUSER %s reset on >%s %s resetchannels +@all", user,
                                 password, plain);
    cr_assert(r && r->type == REDIS_REPLY_STATUS, "%s", r ? r->str : rc->errstr);
    freeReplyObject(r);

    hk_store *s = NULL;
    hk_error err = {0};
    hk_store_config c = cfg;
    snprintf(urlbuf, sizeof urlbuf, "redis://%s:%s@%s", encoded_user, encoded_password, hostport);
    c.url = urlbuf;
    cr_assert_eq(hk_store_open(&c, &s, &err), HK_OK, "%s", err.msg);
    hk_task *t = make_task("acl-7", NULL);
    cr_assert_eq(hk_store_task_create(s, t, &err), HK_OK, "the user may write its prefix: %s",
                 err.msg);
    hk_task_destroy(t);
    hk_store_close(s);

    /* the override: the URL's password is wrong, HOOKD_REDIS_PASSWORD right */
    snprintf(urlbuf, sizeof urlbuf, "redis://%s:wrong@%s", encoded_user, hostport);
    c.password = password;
    cr_assert_eq(hk_store_open(&c, &s, &err), HK_OK, "%s", err.msg);
    hk_store_close(s);

    /* a wrong password: one line naming the URL, Redis's words, no password */
    c.password = "n0tTheRightOne";
    cr_assert_eq(hk_store_open(&c, &s, &err), HK_ERR);
    cr_assert_str_eq(err.field, "HOOKD_REDIS_URL");
    cr_assert(strstr(err.msg, "authentication") && strstr(err.msg, "WRONGPASS"), "%s", err.msg);
    cr_assert(!strstr(err.msg, "n0tTheRightOne") && !strstr(err.msg, "wrong") &&
                  !strstr(err.msg, "p@ss"),
              "%s", err.msg);

    /* the user's keys are its prefix's only: AUTH really was as that user */
    snprintf(urlbuf, sizeof urlbuf, "redis://%s:%s@%s", encoded_user, encoded_password, hostport);
    c.password = NULL;
    c.prefix = "elsewhere:";
    t = make_task("acl-8", NULL);
    cr_assert_eq(hk_store_open(&c, &s, &err), HK_OK, "%s", err.msg);
    cr_assert_neq(hk_store_task_create(s, t, &err), HK_OK, "outside its keys: refused");
    cr_assert(strstr(err.msg, "NOPERM") || strstr(err.msg, "ermission"), "%s", err.msg);
    hk_task_destroy(t);
    hk_store_close(s);

    r = redisCommand(rc, "ACL DELUSER %s", user);
    freeReplyObject(r);
    redisFree(rc);
}

Test(store, import_is_all_or_nothing_and_updates_on_the_second_run)
{
    hk_store *s;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    const char *doc_text =
        "{\"webhooks\":["
        "{\"name\":\"a\",\"url\":\"https://a.example/h\",\"secret\":\"s3cret-aaaa-1111\"},"
        "{\"name\":\"b\",\"url\":\"https://b.example/h\",\"flowId\":\"elsewhere\"}]}";
    cJSON *doc = cJSON_Parse(doc_text);
    hk_import_report rep;
    cr_assert_eq(hk_store_flow_import(s, "f1", doc, &rep, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(rep.created, 2);
    cr_assert_eq(hk_store_flow_import(s, "f1", doc, &rep, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(rep.created, 0);
    cr_assert_eq(rep.updated, 2, "matched by name");
    cJSON_Delete(doc);

    cJSON *exported = NULL;
    cr_assert_eq(hk_store_flow_export(s, "f1", HK_SECRETS_MASKED, &exported, &err), HK_OK);
    cJSON *list = cJSON_GetObjectItem(exported, "webhooks");
    cr_assert_eq(cJSON_GetArraySize(list), 2);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "flowId")->valuestring, "f1",
                     "the target flow wins");
    /* the masked export back in: secrets kept */
    cr_assert_eq(hk_store_flow_import(s, "f1", exported, &rep, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(rep.updated, 2);
    cJSON_Delete(exported);
    hk_task **tasks;
    size_t n;
    cr_assert_eq(hk_store_task_list(s, "f1", &tasks, &n, &err), HK_OK);
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(tasks[i]->name, "a") == 0)
            cr_assert_str_eq(tasks[i]->secrets[0], "s3cret-aaaa-1111");
        hk_task_destroy(tasks[i]);
    }
    free(tasks);

    /* one bad entry of three: each named, nothing written */
    cJSON *bad = cJSON_Parse("[{\"name\":\"c\",\"url\":\"https://c.example\"},"
                             "{\"name\":\"d\",\"url\":\"ftp://d\"},7]");
    cr_assert_eq(hk_store_flow_import(s, "f2", bad, &rep, &err), HK_EINVAL);
    cr_assert_eq(rep.errors_len, 2);
    cr_assert_str_eq(rep.errors[0], "webhooks[1].url: scheme must be http or https");
    cr_assert_str_eq(rep.errors[1], "webhooks[2].webhook: must be an object");
    cr_assert_str_eq(rep.fields[0], "webhooks[1].url");
    cr_assert_str_eq(rep.fields[1], "webhooks[2].webhook");
    cJSON_Delete(bad);
    cr_assert_eq(hk_store_task_list(s, "f2", &tasks, &n, &err), HK_OK);
    cr_assert_eq(n, 0, "all or nothing");
    free(tasks);
    hk_store_close(s);
}

Test(store, json_entry_points_validate_fill_in_and_keep_masked_secrets)
{
    hk_store *s;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    cJSON *in = cJSON_Parse("{\"url\":\"https://a.example/h\",\"secret\":\"kept-secret-9876\"}");
    hk_task *t = NULL;
    cr_assert_eq(hk_store_task_create_json(s, "f9", in, &t, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(t->flow_id, "f9", "the path's flow fills in a missing flowId");
    char id[72];
    snprintf(id, sizeof id, "%s", t->id);
    hk_task_destroy(t);
    cJSON_Delete(in);

    /* create: a different flowId, a masked secret, an invalid field are each refused by name */
    const char *refused[][2] = {
        {"{\"url\":\"https://a.example/h\",\"flowId\":\"other\"}", "flowId"},
        {"{\"url\":\"https://a.example/h\",\"secret\":\"****9876\"}", "secret"},
        {"{\"url\":\"https://a.example/h\",\"timeoutMs\":0}", "timeoutMs"},
        {"[1]", "webhook"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        in = cJSON_Parse(refused[i][0]);
        memset(&err, 0, sizeof err);
        cr_assert_eq(hk_store_task_create_json(s, "f9", in, NULL, &err), HK_EINVAL, "%s",
                     refused[i][0]);
        cr_assert_str_eq(err.field, refused[i][1]);
        cJSON_Delete(in);
    }

    /* update: no id, no flowId and a masked secret keep the task's id, flow and secret */
    in = cJSON_Parse("{\"url\":\"https://b.example/h\",\"secret\":\"****9876\",\"name\":\"n\"}");
    cr_assert_eq(hk_store_task_update_json(s, id, in, &t, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(t->flow_id, "f9");
    cr_assert_str_eq(t->id, id);
    hk_task_destroy(t);
    cJSON_Delete(in);
    cr_assert_eq(hk_store_task_get(s, id, &t, &err), HK_OK);
    cr_assert_eq(t->secrets_len, 1);
    cr_assert_str_eq(t->secrets[0], "kept-secret-9876");
    cr_assert_str_eq(t->url, "https://b.example/h");
    hk_task_destroy(t);

    in = cJSON_Parse("{\"id\":\"wh_other\",\"url\":\"https://b.example/h\"}");
    cr_assert_eq(hk_store_task_update_json(s, id, in, NULL, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "id");
    cJSON_Delete(in);
    in = cJSON_Parse("{\"url\":\"https://b.example/h\"}");
    cr_assert_eq(hk_store_task_update_json(s, "wh_missing", in, NULL, &err), HK_ENOTFOUND);
    cJSON_Delete(in);
    hk_store_close(s);
}

/* ------------------------------------------------------------- config builder (issue 13) --- */

Test(store_config, built_once_from_the_loaded_configuration)
{
    hk_config c = {.redis_url = "redis://r.example:6380/2",
                   .redis_password = "pw",
                   .redis_prefix = "p:",
                   .max_webhooks_per_flow = 7};
    hk_store_config s = hk_store_config_of(&c);
    cr_assert_eq(s.url, c.redis_url, "borrowed, not copied");
    cr_assert_eq(s.password, c.redis_password);
    cr_assert_eq(s.prefix, c.redis_prefix);
    cr_assert_eq(s.max_per_flow, 7);
    cr_assert_eq(s.timeout_ms, 5000);
}

/* store's families, the whole scrape of a program that links only store (and model, core):
 * every member at 0 from the start, one HELP and TYPE per family, families by name. The text is
 * what core/metrics.c rendered before each module declared its own families (issue 13): a
 * change here is a change operators see. */
Test(store_metrics, every_family_renders_at_zero_from_the_start_as_before)
{
    static const char want[] =
        "# HELP hookd_history_dropped_total Attempt records dropped because the history "
        "queue was full.\n"
        "# TYPE hookd_history_dropped_total counter\n"
        "hookd_history_dropped_total 0\n"
        "# HELP hookd_history_written_total Attempt records written to the job history in "
        "Redis.\n"
        "# TYPE hookd_history_written_total counter\n"
        "hookd_history_written_total 0\n"
        "# HELP hookd_inbound_waits_registered_total Waits registered (or replaced) on inbound "
        "endpoints through this process (the admin API); hookd-ingress claims them.\n"
        "# TYPE hookd_inbound_waits_registered_total counter\n"
        "hookd_inbound_waits_registered_total 0\n"
        "# HELP hookd_redis_up 1 when the task cache's last poll of Redis succeeded, else "
        "0.\n"
        "# TYPE hookd_redis_up gauge\n"
        "hookd_redis_up 0\n"
        "# HELP hookd_task_cache_flows Flows and spaces with at least one task in the task "
        "cache's snapshot in use.\n"
        "# TYPE hookd_task_cache_flows gauge\n"
        "hookd_task_cache_flows 0\n"
        "# HELP hookd_task_cache_last_reload_timestamp_seconds When the task cache last loaded "
        "every task from Redis (unix seconds): on a change, and at least every 30 s while Redis "
        "answers; 0 before the first.\n"
        "# TYPE hookd_task_cache_last_reload_timestamp_seconds gauge\n"
        "hookd_task_cache_last_reload_timestamp_seconds 0\n"
        "# HELP hookd_task_cache_lookups_total Lookups of an event's flow in the in-memory "
        "task cache (a copy of every task, refreshed from Redis): hit, the flow has tasks; "
        "miss, it has none. Never a Redis round trip.\n"
        "# TYPE hookd_task_cache_lookups_total counter\n"
        "hookd_task_cache_lookups_total{result=\"hit\"} 0\n"
        "hookd_task_cache_lookups_total{result=\"miss\"} 0\n"
        "# HELP hookd_task_cache_tasks Webhook tasks in the task cache's snapshot in use.\n"
        "# TYPE hookd_task_cache_tasks gauge\n"
        "hookd_task_cache_tasks 0\n"
        "# HELP hookd_task_disable_errors_total Tasks a 410 Gone or HOOKD_DISABLE_AFTER should "
        "have disabled, left enabled because Redis refused or failed (or the failing mark could "
        "not be read or written); the next one tries again.\n"
        "# TYPE hookd_task_disable_errors_total counter\n"
        "hookd_task_disable_errors_total 0\n"
        "# HELP hookd_task_reload_errors_total Task cache reload failures and unreadable "
        "tasks skipped.\n"
        "# TYPE hookd_task_reload_errors_total counter\n"
        "hookd_task_reload_errors_total 0\n"
        "# HELP hookd_task_reloads_total Task cache reloads from Redis.\n"
        "# TYPE hookd_task_reloads_total counter\n"
        "hookd_task_reloads_total 0\n"
        "# HELP hookd_tasks_disabled_total Webhook tasks disabled by the worker: gone, the "
        "receiver answered 410 Gone; failing, every delivery failed finally for longer than "
        "HOOKD_DISABLE_AFTER.\n"
        "# TYPE hookd_tasks_disabled_total counter\n"
        "hookd_tasks_disabled_total{reason=\"gone\"} 0\n"
        "hookd_tasks_disabled_total{reason=\"failing\"} 0\n";
    hk_buf b = {0};
    hk_metrics_render(&b);
    cr_assert_str_eq(b.data, want);
    hk_buf_free(&b);
}

/* ------------------------------------------------------------------ inbound endpoints --- */

static long long inbound_version(void)
{
    return counter("inbound:version");
}

Test(store, inbound_endpoints_are_unique_by_id_and_by_name)
{
    hk_store *s = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    long long v0 = inbound_version();
    cr_assert_eq(hk_store_inbound_put(s, "in_a", "github-a",
                                      "{\"id\":\"in_a\",\"name\":\"github-a\"}", true, 1000, &err),
                 HK_OK, "%s", err.msg);
    cr_assert_gt(inbound_version(), v0, "a write bumps the version");
    /* the same id again, and another id with the same name */
    cr_assert_eq(hk_store_inbound_put(s, "in_a", "other", "{}", true, 1000, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "id");
    cr_assert_eq(hk_store_inbound_put(s, "in_b", "github-a", "{}", true, 1000, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "name");
    cr_assert(strstr(err.msg, "in_a"), "%s", err.msg);
    /* a rename frees the old name */
    cr_assert_eq(hk_store_inbound_put(s, "in_a", "github-renamed",
                                      "{\"id\":\"in_a\",\"name\":\"github-renamed\"}", false, 2000,
                                      &err),
                 HK_OK, "%s", err.msg);
    cr_assert_eq(hk_store_inbound_put(s, "in_b", "github-a",
                                      "{\"id\":\"in_b\",\"name\":\"github-a\"}", true, 2000, &err),
                 HK_OK, "%s", err.msg);
    cr_assert_eq(hk_store_inbound_put(s, "in_zz", "x", "{}", false, 2000, &err), HK_ENOTFOUND);
    char **list = NULL;
    size_t n = 0;
    cr_assert_eq(hk_store_inbound_list(s, &list, &n, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert(strstr(list[0], "in_a") && strstr(list[1], "in_b"), "sorted by id");
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
    char *json = NULL;
    cr_assert_eq(hk_store_inbound_get(s, "in_a", &json, &err), HK_OK);
    cr_assert(strstr(json, "github-renamed"));
    free(json);
    cr_assert_eq(hk_store_inbound_delete(s, "in_a", &err), HK_OK);
    cr_assert_eq(hk_store_inbound_get(s, "in_a", &json, &err), HK_ENOTFOUND);
    cr_assert_eq(hk_store_inbound_delete(s, "in_a", &err), HK_ENOTFOUND);
    /* the deleted endpoint's name is free again */
    cr_assert_eq(hk_store_inbound_put(s, "in_c", "github-renamed", "{}", true, 3000, &err), HK_OK,
                 "%s", err.msg);
    hk_store_close(s);
}

Test(store, inbound_state_starts_unverified_and_records_each_change)
{
    hk_store *s = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(hk_store_inbound_put(s, "in_s", "slack", "{}", true, 1000, &err), HK_OK);
    bool verified = true, changed = false;
    uint64_t at = 0;
    cr_assert_eq(hk_store_inbound_get_state(s, "in_s", &verified, &at, &err), HK_OK);
    cr_assert_not(verified);
    cr_assert_eq(at, 1000, "unverified since its creation");
    long long v = inbound_version();
    cr_assert_eq(hk_store_inbound_set_state(s, "in_s", true, 5000, &changed, &err), HK_OK);
    cr_assert(changed);
    cr_assert_gt(inbound_version(), v);
    cr_assert_eq(hk_store_inbound_set_state(s, "in_s", true, 9000, &changed, &err), HK_OK);
    cr_assert_not(changed, "no change, nothing written");
    cr_assert_eq(hk_store_inbound_get_state(s, "in_s", &verified, &at, &err), HK_OK);
    cr_assert(verified);
    cr_assert_eq(at, 5000, "the time of the change, not of the last request");
    cr_assert_eq(hk_store_inbound_set_state(s, "in_none", true, 1, &changed, &err), HK_ENOTFOUND);
    hk_store_close(s);
}

Test(store, a_provider_event_is_claimed_once_and_released_when_not_published)
{
    hk_store *s = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    hk_event_claim c;
    cr_assert_eq(hk_store_inbound_event_claim(s, "in_d", "evt-1", 60, &c, &err), HK_OK);
    cr_assert_eq(c, HK_EVENT_CLAIMED);
    cr_assert_eq(hk_store_inbound_event_claim(s, "in_d", "evt-1", 60, &c, &err), HK_OK);
    cr_assert_eq(c, HK_EVENT_PENDING, "a second request while the first is being published");
    cr_assert_eq(hk_store_inbound_event_claim(s, "in_other", "evt-1", 60, &c, &err), HK_OK);
    cr_assert_eq(c, HK_EVENT_CLAIMED, "event ids are per endpoint");
    /* not published: released, so the provider's retry is taken */
    cr_assert_eq(hk_store_inbound_event_release(s, "in_d", "evt-1", &err), HK_OK);
    cr_assert_eq(hk_store_inbound_event_claim(s, "in_d", "evt-1", 60, &c, &err), HK_OK);
    cr_assert_eq(c, HK_EVENT_CLAIMED);
    /* published: done for the TTL, and a release no longer forgets it */
    cr_assert_eq(hk_store_inbound_event_done(s, "in_d", "evt-1", 86400, &err), HK_OK);
    cr_assert_eq(hk_store_inbound_event_release(s, "in_d", "evt-1", &err), HK_OK);
    cr_assert_eq(hk_store_inbound_event_claim(s, "in_d", "evt-1", 60, &c, &err), HK_OK);
    cr_assert_eq(c, HK_EVENT_DONE);
    redisContext *rc = raw_redis();
    redisReply *r = redisCommand(rc, "TTL %sinbound:seen:in_d:evt-1", prefix);
    cr_assert(r->integer > 86000 && r->integer <= 86400, "ttl %lld", r->integer);
    freeReplyObject(r);
    redisFree(rc);
    hk_store_close(s);
}

/* ------------------------------------------------------------------------------ waits --- */

/* Shapes and digests are inbound/'s business; the store takes any 32 hex digits. */
#define SHAPE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHAPE_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DIGEST_1 "11111111111111111111111111111111"
#define DIGEST_2 "22222222222222222222222222222222"

static hk_store *waits_store(const char *endpoint)
{
    hk_store *s = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(hk_store_inbound_put(s, endpoint, endpoint, "{}", true, 1000, &err), HK_OK, "%s",
                 err.msg);
    return s;
}

static int put_wait(hk_store *s, const char *endpoint, const char *ref, const char *shape,
                    const char *digest, int64_t ttl_s, bool *replaced, hk_error *err)
{
    hk_store_wait w = {.ref = ref,
                       .shape = shape,
                       .shape_json = strcmp(shape, SHAPE_B) == 0 ? "[\"$['b']\"]" : "[\"$['a']\"]",
                       .digest = digest,
                       .matches_json = "{\"$.a\":1}",
                       .ttl_s = ttl_s};
    return hk_store_wait_put(s, endpoint, &w, 2, replaced, NULL, err);
}

Test(store, waits_are_registered_listed_replaced_and_deleted)
{
    hk_store *s = waits_store("in_w");
    hk_error err = {0};
    bool replaced = true;
    hk_store_wait w = {.ref = "run-42/wait-1",
                       .shape = SHAPE_A,
                       .shape_json = "[\"$['a']\"]",
                       .digest = DIGEST_1,
                       .matches_json = "{\"$.a\":1}",
                       .ttl_s = 3600};
    hk_store_wait_info got = {0};
    cr_assert_eq(hk_store_wait_put(s, "in_w", &w, 2, &replaced, &got, &err), HK_OK, "%s", err.msg);
    cr_assert_not(replaced);
    cr_assert_eq(got.expires_ms - got.created_ms, 3600000);
    hk_store_wait_info_clear(&got);
    cr_assert_eq(put_wait(s, "in_w", "run-7", SHAPE_A, DIGEST_2, 60, &replaced, &err), HK_OK);
    cr_assert_eq(put_wait(s, "in_w", "run-7", SHAPE_A, DIGEST_1, 120, &replaced, &err), HK_OK);
    cr_assert(replaced, "the same ref again replaces it");
    hk_store_wait_info *ws = NULL;
    size_t n = 0;
    cr_assert_eq(hk_store_wait_list(s, "in_w", &ws, &n, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(ws[0].ref, "run-7", "soonest to expire first");
    cr_assert_eq(ws[0].ttl_s, 120);
    cr_assert_str_eq(ws[1].ref, "run-42/wait-1");
    cr_assert_str_eq(ws[1].matches_json, "{\"$.a\":1}");
    hk_store_wait_list_free(ws, n);
    long long live = 0;
    cr_assert_eq(hk_store_wait_count(s, "in_w", &live, &err), HK_OK);
    cr_assert_eq(live, 2);
    cr_assert_eq(hk_store_wait_get(s, "in_w", "run-7", &got, &err), HK_OK);
    cr_assert_eq(got.ttl_s, 120);
    hk_store_wait_info_clear(&got);
    cr_assert_eq(hk_store_wait_delete(s, "in_w", "run-7", &err), HK_OK);
    cr_assert_eq(hk_store_wait_delete(s, "in_w", "run-7", &err), HK_ENOTFOUND);
    cr_assert_eq(hk_store_wait_get(s, "in_w", "run-7", &got, &err), HK_ENOTFOUND);
    cr_assert_eq(put_wait(s, "in_nope", "r", SHAPE_A, DIGEST_1, 60, NULL, &err), HK_ENOTFOUND);
    /* two shapes at most here: a third is refused, naming matches; one of the two is not */
    cr_assert_eq(put_wait(s, "in_w", "b", SHAPE_B, DIGEST_1, 60, NULL, &err), HK_OK);
    cr_assert_eq(
        put_wait(s, "in_w", "c", "cccccccccccccccccccccccccccccccc", DIGEST_1, 60, NULL, &err),
        HK_ELIMIT);
    cr_assert_str_eq(err.field, "matches");
    /* replacing the only wait of a shape by one of a new shape is no new shape in all */
    cr_assert_eq(
        put_wait(s, "in_w", "b", "cccccccccccccccccccccccccccccccc", DIGEST_1, 60, NULL, &err),
        HK_OK, "%s", err.msg);
    /* the endpoint's deletion takes its waits */
    cr_assert_eq(hk_store_inbound_delete(s, "in_w", &err), HK_OK);
    cr_assert_eq(hk_store_wait_count(s, "in_w", &live, &err), HK_OK);
    cr_assert_eq(live, 0);
    redisContext *rc = raw_redis();
    redisReply *r = redisCommand(rc, "KEYS %sinbound:waits:in_w*", prefix);
    cr_assert_eq(r->elements, 1, "only the version is left");
    cr_assert(strstr(r->element[0]->str, ":version"));
    freeReplyObject(r);
    redisFree(rc);
    hk_store_close(s);
}

/* accept on a loop: runs the loop until the callback has run. */
typedef struct accept_result {
    int rc, calls;
    hk_store_accepted res;
    char refs[8][64];
    char shape_ids[4][40];
    char shape_jsons[4][64];
} accept_result;

static void on_accepted(int rc, const hk_store_accepted *res, void *arg)
{
    accept_result *out = arg;
    out->rc = rc;
    out->calls++;
    if (!res)
        return;
    out->res = *res;
    for (size_t i = 0; i < res->refs_len && i < 8; i++)
        snprintf(out->refs[i], sizeof out->refs[i], "%s", res->refs[i]);
    for (size_t i = 0; i < res->shapes_len && i < 4; i++) {
        snprintf(out->shape_ids[i], sizeof out->shape_ids[i], "%s", res->shape_ids[i]);
        snprintf(out->shape_jsons[i], sizeof out->shape_jsons[i], "%s", res->shape_jsons[i]);
    }
    out->res.refs = NULL;
    out->res.shape_ids = out->res.shape_jsons = NULL;
}

static accept_result accept_now(hk_loop *loop, hk_store_async *a, const char *record,
                                const char *event, long long version, const char *lookup)
{
    accept_result out = {0};
    hk_store_accept q = {.endpoint_id = "in_c",
                         .record_id = record,
                         .event_id = event,
                         .pending_ttl_s = 15,
                         .version = version,
                         .lookups = (const char *[]){lookup},
                         .lookups_len = lookup ? 1 : 0};
    cr_assert_eq(hk_store_inbound_accept_async(a, &q, on_accepted, &out), HK_OK);
    for (int i = 0; i < 200 && !out.calls; i++)
        hk_loop_run_once(loop, 20);
    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.rc, HK_OK);
    return out;
}

static void run_for(hk_loop *loop, int ms)
{
    for (int i = 0; i < ms / 10; i++)
        hk_loop_run_once(loop, 10);
}

Test(store, a_wait_is_claimed_once_put_back_when_not_published_and_never_when_expired)
{
    hk_store *s = waits_store("in_c");
    hk_error err = {0};
    hk_loop *loop = hk_loop_create();
    hk_store_async *a = NULL;
    cr_assert_eq(hk_store_async_open(&cfg, loop, &a, &err), HK_OK, "%s", err.msg);
    /* unknown shapes: stale, with the shapes as they are, and nothing claimed */
    accept_result r = accept_now(loop, a, "req_1", NULL, -1, NULL);
    cr_assert(r.res.stale);
    cr_assert_eq(r.res.shapes_len, 0);
    long long v0 = r.res.version;
    cr_assert_eq(put_wait(s, "in_c", "w1", SHAPE_A, DIGEST_1, 60, NULL, &err), HK_OK);
    cr_assert_eq(put_wait(s, "in_c", "w2", SHAPE_A, DIGEST_2, 60, NULL, &err), HK_OK);
    cr_assert_eq(put_wait(s, "in_c", "wb", SHAPE_B, DIGEST_2, 60, NULL, &err), HK_OK);
    r = accept_now(loop, a, "req_1", NULL, v0, SHAPE_A ":" DIGEST_1);
    cr_assert(r.res.stale, "a shape came: the version moved");
    cr_assert_eq(r.res.shapes_len, 2);
    int ia = strcmp(r.shape_ids[0], SHAPE_A) == 0 ? 0 : 1; /* a hash's order */
    cr_assert_str_eq(r.shape_ids[ia], SHAPE_A);
    cr_assert_str_eq(r.shape_jsons[ia], "[\"$['a']\"]");
    cr_assert_str_eq(r.shape_ids[1 - ia], SHAPE_B);
    cr_assert_str_eq(r.shape_jsons[1 - ia], "[\"$['b']\"]", "each shape with its own paths");
    long long v1 = r.res.version;
    r = accept_now(loop, a, "req_1", "evt-1", v1, SHAPE_A ":" DIGEST_1);
    cr_assert_not(r.res.stale);
    cr_assert_eq(r.res.event, HK_EVENT_CLAIMED);
    cr_assert_eq(r.res.refs_len, 1);
    cr_assert_str_eq(r.refs[0], "w1");
    /* the provider's retry of the same event while the first is in flight: pending, no claim */
    r = accept_now(loop, a, "req_2", "evt-1", v1, SHAPE_A ":" DIGEST_1);
    cr_assert_eq(r.res.event, HK_EVENT_PENDING);
    cr_assert_eq(r.res.refs_len, 0);
    /* another request with the same values: w1 is taken already */
    r = accept_now(loop, a, "req_3", NULL, v1, SHAPE_A ":" DIGEST_1);
    cr_assert_eq(r.res.refs_len, 0, "a wait is claimed once");
    long long live = 0;
    cr_assert_eq(hk_store_wait_count(s, "in_c", &live, &err), HK_OK);
    cr_assert_eq(live, 2, "w1 is held, w2 and wb live");
    /* req_1 was not published: released, w1 is back and the event id free */
    hk_store_inbound_accept_release_async(a, "in_c", "req_1", "evt-1", true);
    run_for(loop, 100);
    cr_assert_eq(hk_store_wait_count(s, "in_c", &live, &err), HK_OK);
    cr_assert_eq(live, 3);
    r = accept_now(loop, a, "req_4", "evt-1", v1, SHAPE_A ":" DIGEST_1);
    cr_assert_eq(r.res.event, HK_EVENT_CLAIMED, "the provider's retry is taken");
    cr_assert_eq(r.res.refs_len, 1);
    cr_assert_str_eq(r.refs[0], "w1");
    /* published: done, final; a release afterwards puts nothing back */
    hk_store_inbound_accept_done_async(a, "in_c", "req_4", "evt-1", 86400, true);
    run_for(loop, 100);
    cr_assert_eq(hk_store_inbound_accept_release(s, "in_c", "req_4", "evt-1", &err), HK_OK);
    cr_assert_eq(hk_store_wait_count(s, "in_c", &live, &err), HK_OK);
    cr_assert_eq(live, 2);
    r = accept_now(loop, a, "req_5", "evt-1", v1, SHAPE_A ":" DIGEST_1);
    cr_assert_eq(r.res.event, HK_EVENT_DONE);
    /* an expired wait is never claimed, and the sweep counts it */
    cr_assert_eq(put_wait(s, "in_c", "w3", SHAPE_A, DIGEST_1, 1, NULL, &err), HK_OK);
    usleep(1100 * 1000);
    r = accept_now(loop, a, "req_6", NULL, v1, SHAPE_A ":" DIGEST_1);
    cr_assert_eq(r.res.refs_len, 0, "expired");
    cr_assert_eq(r.res.expired, 1);
    hk_store_wait_swept sw;
    cr_assert_eq(hk_store_wait_sweep(s, "in_c", 100, &sw, &err), HK_OK);
    cr_assert_eq(sw.live, 2);
    hk_store_async_close(a);
    hk_loop_destroy(loop);
    hk_store_close(s);
}

Test(store, a_hold_whose_process_died_is_put_back_by_the_sweep)
{
    hk_store *s = waits_store("in_c");
    hk_error err = {0};
    hk_loop *loop = hk_loop_create();
    hk_store_async *a = NULL;
    cr_assert_eq(hk_store_async_open(&cfg, loop, &a, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(put_wait(s, "in_c", "w1", SHAPE_A, DIGEST_1, 60, NULL, &err), HK_OK);
    cr_assert_eq(put_wait(s, "in_c", "w2", SHAPE_A, DIGEST_1, 2, NULL, &err), HK_OK);
    accept_result r = accept_now(loop, a, "req_1", NULL, -1, NULL);
    hk_store_accept q = {.endpoint_id = "in_c",
                         .record_id = "req_1",
                         .pending_ttl_s = 1,
                         .version = r.res.version,
                         .lookups = (const char *[]){SHAPE_A ":" DIGEST_1},
                         .lookups_len = 1};
    accept_result got = {0};
    cr_assert_eq(hk_store_inbound_accept_async(a, &q, on_accepted, &got), HK_OK);
    for (int i = 0; i < 200 && !got.calls; i++)
        hk_loop_run_once(loop, 20);
    cr_assert_eq(got.res.refs_len, 2, "both waits of the same values at once");
    hk_store_wait_swept sw;
    cr_assert_eq(hk_store_wait_sweep(s, "in_c", 100, &sw, &err), HK_OK);
    cr_assert_eq(sw.restored, 0, "the hold has not lapsed");
    cr_assert_eq(sw.live, 0);
    usleep(2100 * 1000); /* the hold (1 s) lapsed, and w2's TTL (2 s) passed */
    cr_assert_eq(hk_store_wait_sweep(s, "in_c", 100, &sw, &err), HK_OK);
    cr_assert_eq(sw.restored, 1);
    cr_assert_eq(sw.expired, 1);
    cr_assert_eq(sw.live, 1);
    hk_store_wait_info got_w = {0};
    cr_assert_eq(hk_store_wait_get(s, "in_c", "w1", &got_w, &err), HK_OK);
    hk_store_wait_info_clear(&got_w);
    hk_store_async_close(a);
    hk_loop_destroy(loop);
    hk_store_close(s);
}

Test(store, a_stale_answer_keeps_the_event_id_claimed_for_the_second_try)
{
    hk_store *s = waits_store("in_c");
    hk_error err = {0};
    hk_loop *loop = hk_loop_create();
    hk_store_async *a = NULL;
    cr_assert_eq(hk_store_async_open(&cfg, loop, &a, &err), HK_OK, "%s", err.msg);
    accept_result r = accept_now(loop, a, "req_0", NULL, -1, NULL);
    long long v0 = r.res.version;
    cr_assert_eq(put_wait(s, "in_c", "w1", SHAPE_A, DIGEST_1, 60, NULL, &err), HK_OK);
    /* the plain step: the event id claimed, the version moved: stale, the event id kept */
    r = accept_now(loop, a, "req_1", "evt-9", v0, NULL);
    cr_assert(r.res.stale);
    cr_assert_eq(r.res.event, HK_EVENT_CLAIMED);
    cr_assert_eq(r.res.shapes_len, 1);
    accept_result other = accept_now(loop, a, "req_2", "evt-9", r.res.version, NULL);
    cr_assert_eq(other.res.event, HK_EVENT_PENDING, "the first request holds it");
    /* the second try, with the event id held: it claims the wait, not the event id again */
    accept_result got = {0};
    hk_store_accept q = {.endpoint_id = "in_c",
                         .record_id = "req_1",
                         .event_id = "evt-9",
                         .event_held = true,
                         .pending_ttl_s = 15,
                         .version = r.res.version,
                         .lookups = (const char *[]){SHAPE_A ":" DIGEST_1},
                         .lookups_len = 1};
    cr_assert_eq(hk_store_inbound_accept_async(a, &q, on_accepted, &got), HK_OK);
    for (int i = 0; i < 200 && !got.calls; i++)
        hk_loop_run_once(loop, 20);
    cr_assert_eq(got.rc, HK_OK);
    cr_assert_eq(got.res.event, HK_EVENT_CLAIMED);
    cr_assert_not(got.res.stale);
    cr_assert_eq(got.res.refs_len, 1);
    cr_assert_str_eq(got.refs[0], "w1");
    hk_store_async_close(a);
    hk_loop_destroy(loop);
    hk_store_close(s);
}

Test(store, a_wait_deleted_while_held_does_not_come_back_when_its_record_fails)
{
    hk_store *s = waits_store("in_c");
    hk_error err = {0};
    hk_loop *loop = hk_loop_create();
    hk_store_async *a = NULL;
    cr_assert_eq(hk_store_async_open(&cfg, loop, &a, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(put_wait(s, "in_c", "w1", SHAPE_A, DIGEST_1, 60, NULL, &err), HK_OK);
    cr_assert_eq(put_wait(s, "in_c", "w2", SHAPE_A, DIGEST_1, 60, NULL, &err), HK_OK);
    accept_result r = accept_now(loop, a, "req_0", NULL, -1, NULL);
    r = accept_now(loop, a, "req_1", NULL, r.res.version, SHAPE_A ":" DIGEST_1);
    cr_assert_eq(r.res.refs_len, 2, "both held by req_1");
    /* the platform cancels w1 while req_1's record is on its way */
    cr_assert_eq(hk_store_wait_delete(s, "in_c", "w1", &err), HK_ENOTFOUND, "not live: held");
    /* the record fails: w2 comes back, w1 does not */
    cr_assert_eq(hk_store_inbound_accept_release(s, "in_c", "req_1", NULL, &err), HK_OK);
    hk_store_wait_info *ws = NULL;
    size_t n = 0;
    cr_assert_eq(hk_store_wait_list(s, "in_c", &ws, &n, &err), HK_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(ws[0].ref, "w2");
    hk_store_wait_list_free(ws, n);
    hk_store_async_close(a);
    hk_loop_destroy(loop);
    hk_store_close(s);
}

/* ------------------------------------------------------------------ rate limits (rate.c) --- */

typedef struct lease_result {
    int calls, rc;
    hk_store_rate_grant g;
} lease_result;

static void on_leased(int rc, const hk_store_rate_grant *g, void *arg)
{
    lease_result *out = arg;
    out->calls++;
    out->rc = rc;
    if (g)
        out->g = *g;
}

static hk_store_rate_grant lease_now(hk_loop *loop, hk_store_async *a, uint64_t interval_us,
                                     uint32_t want)
{
    lease_result out = {0};
    cr_assert_eq(hk_store_rate_lease_async(a, "wh_rl", interval_us, want, 1000000, on_leased, &out),
                 HK_OK);
    for (int i = 0; i < 200 && !out.calls; i++)
        hk_loop_run_once(loop, 20);
    cr_assert_eq(out.calls, 1);
    cr_assert_eq(out.rc, HK_OK);
    return out.g;
}

Test(store, rate_leases_are_consecutive_slots_of_one_schedule_at_most_a_second_ahead)
{
    hk_error err = {0};
    hk_loop *loop = hk_loop_create();
    hk_store_async *a = NULL;
    cr_assert_eq(hk_store_async_open(&cfg, loop, &a, &err), HK_OK, "%s", err.msg);
    /* 4/s: 250 ms apart. The first lease starts now. */
    hk_store_rate_grant g = lease_now(loop, a, 250000, 2);
    cr_assert_eq(g.granted, 2u);
    cr_assert_lt(g.start_in_us, 20000u, "an idle task's first slot is now");
    /* Another worker's lease starts where the first ends (two slots later). */
    hk_store_rate_grant h = lease_now(loop, a, 250000, 2);
    cr_assert_eq(h.granted, 2u);
    cr_assert_geq(h.start_in_us + 20000, 500000u, "%llu", (unsigned long long)h.start_in_us);
    cr_assert_leq(h.start_in_us, 500000u);
    /* Only what fits before the horizon (1 s): the slot at +1 s, not the next ones. */
    hk_store_rate_grant i = lease_now(loop, a, 250000, 5);
    cr_assert_eq(i.granted, 1u);
    /* Past the horizon: nothing, and when to ask again. */
    hk_store_rate_grant j = lease_now(loop, a, 250000, 1);
    cr_assert_eq(j.granted, 0u);
    cr_assert_gt(j.retry_in_us, 0u);
    cr_assert_leq(j.retry_in_us, 250000u);
    /* The key expires a minute after its last slot. */
    redisContext *rc = raw_redis();
    redisReply *r = redisCommand(rc, "PTTL %srate:wh_rl", prefix);
    cr_assert(r->integer > 60000 && r->integer <= 61250, "%lld", r->integer);
    freeReplyObject(r);
    redisFree(rc);
    hk_store_async_close(a);
    hk_loop_destroy(loop);
}

static hk_task *make_space_task(const char *space)
{
    char json[256];
    snprintf(json, sizeof json, "{\"spaceId\":\"%s\",\"url\":\"https://x.example/s\"}", space);
    hk_task *t = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_task_parse(json, strlen(json), true, &t, &err), HK_OK, "%s", err.msg);
    return t;
}

static long long set_size(const char *key)
{
    redisContext *rc = raw_redis();
    redisReply *r = redisCommand(rc, "SCARD %s%s", prefix, key);
    long long v = r->integer;
    freeReplyObject(r);
    redisFree(rc);
    return v;
}

Test(store, a_space_has_its_own_set_limit_and_cache_group)
{
    hk_store_config small = cfg;
    small.max_per_flow = 2;
    hk_store *s;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&small, &s, &err), HK_OK, "%s", err.msg);
    /* a flow and a space of the same name are two groups */
    hk_task *f = make_task("x", NULL), *s1 = make_space_task("x"), *s2 = make_space_task("x");
    cr_assert_eq(hk_store_task_create(s, f, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(hk_store_task_create(s, s1, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(hk_store_task_create(s, s2, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(set_size("space:x:webhooks"), 2);
    cr_assert_eq(set_size("flow:x:webhooks"), 1);
    hk_task *s3 = make_space_task("x");
    cr_assert_eq(hk_store_task_create(s, s3, &err), HK_ELIMIT, "the limit is per space too");
    cr_assert_str_eq(err.msg,
                     "spaceId: space x already has 2 webhook tasks (HOOKD_MAX_WEBHOOKS_PER_FLOW)");
    hk_task **list;
    size_t n;
    cr_assert_eq(hk_store_task_list_in(s, &(hk_scope){HK_SCOPE_SPACE, "x"}, &list, &n, &err),
                 HK_OK);
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(list[i]->space_id, "x");
        hk_task_destroy(list[i]);
    }
    free(list);

    /* the cache: flow x's tasks, space x's tasks, nothing for space y */
    hk_store_cache *cache;
    cr_assert_eq(hk_store_cache_create(&small, 200, 60000, &cache, &err), HK_OK, "%s", err.msg);
    hk_store_snapshot *snap = hk_store_cache_acquire(cache);
    const hk_task *const *tasks = hk_store_snapshot_flow(snap, "x", &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(tasks[0]->id, f->id);
    tasks = hk_store_snapshot_space(snap, "x", &n);
    cr_assert_eq(n, 2);
    const char *lo = strcmp(s1->id, s2->id) < 0 ? s1->id : s2->id;
    cr_assert_str_eq(tasks[0]->id, lo, "sorted by id within the space");
    cr_assert_str_eq(tasks[0]->space_id, "x");
    cr_assert_str_eq(tasks[1]->space_id, "x");
    cr_assert_null(hk_store_snapshot_space(snap, "y", &n));
    cr_assert_eq(n, 0);
    cr_assert_null(hk_store_snapshot_flow(snap, "nope", &n));
    hk_store_snapshot_release(snap);
    hk_store_cache_destroy(cache);

    /* an update moves a task from its space to a flow and back; delete leaves the space's set */
    free(s1->space_id);
    s1->space_id = NULL;
    s1->flow_id = hk_strdup("z");
    cr_assert_eq(hk_store_task_update(s, s1, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(set_size("space:x:webhooks"), 1);
    cr_assert_eq(set_size("flow:z:webhooks"), 1);
    cr_assert_eq(hk_store_task_create(s, s3, &err), HK_OK, "room again: %s", err.msg);
    free(s1->flow_id);
    s1->flow_id = NULL;
    s1->space_id = hk_strdup("x");
    cr_assert_eq(hk_store_task_update(s, s1, &err), HK_ELIMIT, "into a full space");
    cr_assert_str_eq(err.field, "spaceId");
    cr_assert_eq(hk_store_task_delete(s, s2->id, &err), HK_OK);
    cr_assert_eq(set_size("space:x:webhooks"), 1);
    cr_assert_eq(hk_store_task_update(s, s1, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(set_size("space:x:webhooks"), 2);
    cr_assert_eq(set_size("flow:z:webhooks"), 0);
    hk_task_destroy(f);
    hk_task_destroy(s1);
    hk_task_destroy(s2);
    hk_task_destroy(s3);
    hk_store_close(s);
}

Test(store, a_space_is_exported_imported_and_created_into_by_its_path)
{
    hk_store *s;
    hk_error err = {0};
    cr_assert_eq(hk_store_open(&cfg, &s, &err), HK_OK, "%s", err.msg);
    hk_scope sales = {HK_SCOPE_SPACE, "sales"};
    /* create in a scope: the path's spaceId is filled in; a flowId beside it is refused */
    cJSON *in = cJSON_Parse("{\"name\":\"a\",\"url\":\"https://x.example/a\"}");
    hk_task *t = NULL;
    cr_assert_eq(hk_store_task_create_in(s, &sales, in, &t, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(t->space_id, "sales");
    cr_assert_null(t->flow_id);
    hk_task_destroy(t);
    cJSON_AddStringToObject(in, "flowId", "7");
    cr_assert_eq(hk_store_task_create_in(s, &sales, in, &t, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "flowId");
    cJSON_DeleteItemFromObject(in, "flowId");
    cJSON_AddStringToObject(in, "spaceId", "other");
    cr_assert_eq(hk_store_task_create_in(s, &sales, in, &t, &err), HK_EINVAL);
    cr_assert_str_eq(err.msg, "spaceId: does not match the space in the path");
    cJSON_Delete(in);

    /* export names the space; importing it back updates; into a flow it seeds new tasks */
    cJSON *doc = NULL;
    cr_assert_eq(hk_store_export_in(s, &sales, HK_SECRETS_FULL, &doc, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(cJSON_GetObjectItem(doc, "spaceId")->valuestring, "sales");
    cr_assert_null(cJSON_GetObjectItem(doc, "flowId"));
    hk_import_report rep;
    cr_assert_eq(hk_store_import_in(s, &sales, doc, &rep, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(rep.updated, 1);
    cr_assert_eq(rep.created, 0);
    cr_assert_eq(hk_store_flow_import(s, "9", doc, &rep, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(rep.created, 1);
    hk_task **list;
    size_t n;
    cr_assert_eq(hk_store_task_list(s, "9", &list, &n, &err), HK_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(list[0]->flow_id, "9");
    cr_assert_null(list[0]->space_id, "the entry's spaceId gave way to the flow imported into");
    hk_task_destroy(list[0]);
    free(list);
    cJSON_Delete(doc);
    hk_store_close(s);
}
