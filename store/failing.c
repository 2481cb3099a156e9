/*
 * failing.c — the sustained-failure rule (HOOKD_DISABLE_AFTER), its Redis side, on the history
 * writer's thread. <prefix>webhook:<id>:failing holds since when (Redis's clock, ms) every
 * delivery of the task has failed finally: set unless already set on a final failure, deleted on
 * a delivered attempt, by whichever worker of the group sees it. A task whose mark is older than
 * the rule is disabled with its reason and time (Redis's clock again), through the same
 * compare-and-swap as a 410; only the worker whose swap changed the task tells of it.
 *
 * Redis's TIME is the one clock: the mark and the comparison come from the same server, so the
 * workers' clocks may disagree without moving the rule.
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

/* KEYS[1] the mark, KEYS[2] the task; ARGV[1] "1": clear the mark first; ARGV[2] its expiry
 * (ms). {since, now} in ms; {-1, now} when the task is gone or disabled (a failure finishing
 * after the disable must not leave a mark that an enable would find old). */
static const char mark_script[] =
    "local t = redis.call('TIME') "
    "local task = redis.call('GET', KEYS[2]) "
    "if not task or cjson.decode(task)['enabled'] == false then "
    "redis.call('DEL', KEYS[1]) return {-1, 0} end "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) end "
    "redis.call('SET', KEYS[1], now, 'NX') "
    "redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
    "return {tonumber(redis.call('GET', KEYS[1])) or now, now}";

static bool connected(hk_store **store, const hk_store__cfg *cfg, hk_error *err)
{
    return *store || hk_store__open(cfg, store, err) == HK_OK;
}

static void failed_redis(hk_store **store, const char *id, const hk_error *err)
{
    hk_counter_add(&hk_store_metrics.task_disable_errors, 1);
    HK_ERROR("task.failing.failed", "webhook task %s: the failing mark could not be kept: %s", id,
             err->msg);
    hk_store_close(*store);
    *store = NULL;
}

/* "5d", "12h", "90s", "250ms": the largest unit that divides the duration. */
static void format_duration(uint64_t ms, char out[32])
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms % units[i].ms == 0) {
            snprintf(out, 32, "%llu%s", (unsigned long long)(ms / units[i].ms), units[i].unit);
            return;
        }
}

void hk_store__disabled(const hk_store__health *h, const hk_task *t, const char *cause)
{
    bool gone = strcmp(cause, "gone") == 0;
    hk_counter_add(
        gone ? &hk_store_metrics.tasks_disabled_gone : &hk_store_metrics.tasks_disabled_failing, 1);
    hk_scope scope = hk_task_scope(t);
    hk_log_field f[] = {HK_STR("webhookId", t->id), HK_STR(hk_scope_field(scope.kind), scope.id),
                        HK_STR("cause", cause)};
    HK_LOGF(HK_LOG_WARN, "task.disabled", f, "webhook task %s disabled: %s", t->id,
            t->disabled_reason);
    if (!h->cb)
        return;
    hk_store_disabled d = {.webhook_id = t->id,
                           .flow_id = t->flow_id,
                           .space_id = t->space_id,
                           .name = t->name,
                           .reason = t->disabled_reason,
                           .disabled_at = t->disabled_at,
                           .cause = cause};
    h->cb(&d, h->arg);
}

/* The mark is older than the rule: the task is disabled (once, by one worker), the mark goes. */
static void disable(hk_store **store, const hk_store__health *h, const char *id, const char *key,
                    uint64_t since, uint64_t now)
{
    char after[32], at[32], reason[160];
    format_duration(h->after_ms, after);
    hk_format_time(since, at);
    snprintf(reason, sizeof reason,
             "every delivery failed for more than %s (HOOKD_DISABLE_AFTER), since %s", after, at);
    hk_error err = {0};
    bool changed = false;
    hk_task *t = NULL;
    int rc = hk_store__task_disable(*store, id, reason, now, &changed, &t, &err);
    if (rc != HK_OK && rc != HK_ENOTFOUND) {
        hk_counter_add(&hk_store_metrics.task_disable_errors, 1);
        HK_ERROR("task.disable.failed", "webhook task %s could not be disabled: %s", id, err.msg);
        if (rc != HK_EINVAL) {
            hk_store_close(*store);
            *store = NULL;
        }
        return;
    }
    if (changed)
        hk_store__disabled(h, t, "failing");
    hk_task_destroy(t);
    /* Disabled (now or before) or deleted: enabled again, it starts a new count. */
    redisReply *r = redisCommand((*store)->rc, "DEL %s", key);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        hk_store__failed(*store, r, &err);
        failed_redis(store, id, &err);
        return;
    }
    freeReplyObject(r);
}

void hk_store__task_failed(hk_store **store, const hk_store__cfg *cfg, const hk_store__health *h,
                           const char *id, bool reset)
{
    hk_error err = {0};
    if (!h->after_ms)
        return;
    if (!connected(store, cfg, &err)) {
        failed_redis(store, id, &err);
        return;
    }
    char *key = hk_store__key(cfg, "webhook:", id, ":failing");
    char *task_key = hk_store__key(cfg, "webhook:", id, NULL);
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)(2 * h->after_ms + 60000));
    redisReply *r = redisCommand((*store)->rc, "EVAL %s 2 %s %s %s %s", mark_script, key, task_key,
                                 reset ? "1" : "0", ttl);
    free(task_key);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
        hk_store__failed(*store, r, &err);
        failed_redis(store, id, &err);
        free(key);
        return;
    }
    long long marked = r->element[0]->integer;
    uint64_t since = (uint64_t)marked, now = (uint64_t)r->element[1]->integer;
    freeReplyObject(r);
    if (marked >= 0 && now >= since && now - since >= h->after_ms + h->slack_ms)
        disable(store, h, id, key, since, now);
    free(key);
}

void hk_store__task_delivered(hk_store **store, const hk_store__cfg *cfg, const char *id)
{
    hk_error err = {0};
    if (!connected(store, cfg, &err)) {
        failed_redis(store, id, &err);
        return;
    }
    char *key = hk_store__key(cfg, "webhook:", id, ":failing");
    redisReply *r = redisCommand((*store)->rc, "DEL %s", key);
    free(key);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        hk_store__failed(*store, r, &err);
        failed_redis(store, id, &err);
        return;
    }
    freeReplyObject(r);
}
