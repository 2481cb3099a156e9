/*
 * rate.c — the limiter a task's rateLimit shares across every worker of the group: one Redis
 * key per task holding the schedule's next free slot (a GCRA "theoretical arrival time", in
 * microseconds of Redis's clock). A worker leases a few consecutive slots at once, one interval
 * apart, so it asks Redis once per lease rather than once per delivery, and the slots of all
 * workers together never come closer than the interval: the rate holds whatever their number.
 * Slots are reserved at most a horizon ahead, so a worker that dies holding a lease costs the
 * task at most that much of its rate.
 *
 *   <prefix>rate:<webhookId>   string: the next free slot (µs, Redis's TIME), expiring a minute
 *                              after it passed
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

/* ARGV: the interval (µs), the slots wanted, the horizon (µs). Answers {granted, the first
 * slot's distance from now (µs), when granted is 0: how long until one fits (µs)}. */
static const char lease_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local step, want, horizon = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
    "if tat < now then tat = now end\n"
    "local ahead = tat - now\n"
    "if ahead > horizon then return {0, 0, ahead - horizon} end\n"
    "local fit = math.floor((horizon - ahead) / step) + 1\n"
    "if want > fit then want = fit end\n"
    "local last = tat + want * step\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', last), 'PX',\n"
    "           string.format('%.0f', math.floor((last - now) / 1000) + 60000))\n"
    "return {want, ahead, 0}\n";

typedef struct lease_op {
    hk_store_rate_cb cb;
    void *arg;
} lease_op;

static void on_lease(redisReply *r, void *arg)
{
    lease_op op = *(lease_op *)arg;
    free(arg);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[2]->type != REDIS_REPLY_INTEGER || r->element[0]->integer < 0 ||
        r->element[1]->integer < 0 || r->element[2]->integer < 0) {
        if (r && r->type == REDIS_REPLY_ERROR)
            HK_WARN("redis", "leasing a rate limit's slots: %s", r->str);
        op.cb(HK_ERR, NULL, op.arg);
        return;
    }
    hk_store_rate_grant g = {
        .granted = (uint32_t)r->element[0]->integer,
        .start_in_us = (uint64_t)r->element[1]->integer,
        .retry_in_us = (uint64_t)r->element[2]->integer,
    };
    op.cb(HK_OK, &g, op.arg);
}

int hk_store_rate_lease_async(hk_store_async *a, const char *task_id, uint64_t interval_us,
                              uint32_t want, uint64_t horizon_us, hk_store_rate_cb cb, void *arg)
{
    hk_buf key = {0};
    hk_buf_printf(&key, "%srate:%s", hk_store__async_prefix(a), task_id);
    char step[24], n[16], horizon[24];
    snprintf(step, sizeof step, "%llu", (unsigned long long)interval_us);
    snprintf(n, sizeof n, "%u", want ? want : 1);
    snprintf(horizon, sizeof horizon, "%llu", (unsigned long long)horizon_us);
    const char *argv[] = {"EVAL", lease_script, "1", key.data, step, n, horizon};
    size_t lens[7];
    for (size_t i = 0; i < 7; i++)
        lens[i] = strlen(argv[i]);
    lease_op *op = hk_xcalloc(1, sizeof *op);
    *op = (lease_op){.cb = cb, .arg = arg};
    int rc = hk_store__async_argv(a, on_lease, op, 7, argv, lens);
    if (rc != HK_OK)
        free(op);
    hk_buf_free(&key);
    return rc;
}
