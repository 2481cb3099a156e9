/*
 * rate.c — a task's rateLimit on one shard. A delivery of a limited task is sent only in a slot
 * of the task's schedule, which every worker of the group shares through Redis (store/rate.c):
 * the shard leases a few consecutive slots at a time and keeps them here (hk_rate_lease), so it
 * asks Redis once per lease, never once per delivery, and never waits on Redis: the lease comes
 * back as a callback on the loop. A delivery with no slot due waits in its task's queue, before
 * its request is built (a slot later, its signature's timestamp is still fresh), holding its
 * offset and counted by back-pressure; it is never failed and never counts as an attempt.
 *
 * A task without a limit never gets here: start_attempt tests task->rate_limit and nothing
 * else, and Redis is connected only when the first limited delivery asks.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_US 1000000u /* Redis failed: ask again after a second */
#define LOG_EVERY_MS 1000u

struct rate_limiter {
    rate_limiter *next;
    hk_pipeline *p;
    char task_id[80];
    unsigned rate;
    hk_rate_lease lease;
    attempt *head, *tail; /* waiting, oldest first */
    size_t waiting;
    bool asking;           /* a lease request is in flight */
    uint64_t ask_after_us; /* not before: the schedule was full, or Redis failed */
    uint64_t logged_ms;    /* the last "throttled" line */
};

/* ------------------------------------------------------------------- the pure part --- */

uint64_t hk_rate_interval_us(unsigned rate)
{
    return rate ? (1000000u + rate - 1) / rate : 0;
}

uint32_t hk_rate_lease_want(unsigned rate, size_t waiting)
{
    size_t most = rate / 10 ? rate / 10 : 1;
    return (uint32_t)(waiting < 1 ? 1 : waiting < most ? waiting : most);
}

void hk_rate_lease_grant(hk_rate_lease *l, uint64_t now_us, uint64_t start_in_us, uint32_t n,
                         uint64_t interval_us)
{
    *l = (hk_rate_lease){.next_us = now_us + start_in_us, .interval_us = interval_us, .left = n};
}

bool hk_rate_lease_take(hk_rate_lease *l, uint64_t now_us)
{
    if (!l->left)
        return false;
    if (l->next_us + HK_RATE_STALE_US < now_us) {
        l->left = 0;
        return false;
    }
    if (l->next_us > now_us)
        return false;
    l->left--;
    l->next_us += l->interval_us;
    return true;
}

uint64_t hk_rate_lease_due_in_us(const hk_rate_lease *l, uint64_t now_us)
{
    if (!l->left)
        return UINT64_MAX;
    return l->next_us > now_us ? l->next_us - now_us : 0;
}

/* ------------------------------------------------------------------------ limiters --- */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_timer(hk_loop *loop, void *arg);

/* The timer and Redis connection, made for the first limited delivery: a shard whose tasks
 * have no limit has neither (the loop scans every timer each turn). */
static void start_limiting(hk_pipeline *p)
{
    p->rate_timer = hk_timer_create(p->loop, on_timer, p);
    hk_store_config scfg = hk_store_config_of(p->cfg);
    hk_error err = {0};
    if (hk_store_async_open(&scfg, p->loop, &p->rate_store, &err) != HK_OK)
        HK_WARN("redis", "rateLimit: %s", err.msg); /* the leases fail, the deliveries wait */
}

static rate_limiter *limiter_for(hk_pipeline *p, const hk_task *task)
{
    if (!p->rate_timer)
        start_limiting(p);
    for (rate_limiter *l = p->limiters; l; l = l->next)
        if (strcmp(l->task_id, task->id) == 0) {
            l->rate = task->rate_limit; /* the task as the newest snapshot has it */
            return l;
        }
    rate_limiter *l = hk_xcalloc(1, sizeof *l);
    l->p = p;
    snprintf(l->task_id, sizeof l->task_id, "%s", task->id);
    l->rate = task->rate_limit;
    l->next = p->limiters;
    p->limiters = l;
    return l;
}

/* Only the timer's pass sets a later time (the soonest of every limiter's); everything else
 * asks for a pass now, which computes it again. */
static void wake_at(hk_pipeline *p, uint64_t in_us)
{
    hk_timer_start(p->rate_timer, (in_us + 999) / 1000);
}

static void on_lease(int rc, const hk_store_rate_grant *g, void *arg)
{
    rate_limiter *l = arg;
    uint64_t now = now_us();
    l->asking = false;
    if (rc != HK_OK) {
        hk_counter_add(&hk_pipeline_metrics.rate_lease_errors, 1);
        l->ask_after_us = now + RETRY_US;
    } else if (g->granted) {
        hk_rate_lease_grant(&l->lease, now, g->start_in_us, g->granted,
                            hk_rate_interval_us(l->rate));
    } else {
        l->ask_after_us = now + g->retry_in_us;
    }
    wake_at(l->p, 0);
}

static void ask(rate_limiter *l, uint64_t now)
{
    hk_pipeline *p = l->p;
    l->asking = true;
    if (!p->rate_store ||
        hk_store_rate_lease_async(p->rate_store, l->task_id, hk_rate_interval_us(l->rate),
                                  hk_rate_lease_want(l->rate, l->waiting), HK_RATE_HORIZON_US,
                                  on_lease, l) != HK_OK) {
        l->asking = false;
        hk_counter_add(&hk_pipeline_metrics.rate_lease_errors, 1);
        l->ask_after_us = now + RETRY_US; /* the connection logged why */
    }
}

static attempt *dequeue(rate_limiter *l)
{
    attempt *a = l->head;
    l->head = a->rate_next;
    if (!l->head)
        l->tail = NULL;
    a->rate_next = NULL;
    l->waiting--;
    l->p->rate_waiting--;
    hk_gauge_add(&hk_pipeline_metrics.rate_waiting, -1);
    return a;
}

/* Sends what is due, asks for a lease when the queue has more than the lease; how long until
 * this limiter needs the timer again (UINT64_MAX: not until something happens). */
static uint64_t run(rate_limiter *l, uint64_t now)
{
    while (l->waiting && hk_rate_lease_take(&l->lease, now))
        pl_attempt_send(l->p, dequeue(l));
    if (!l->waiting)
        return UINT64_MAX;
    if (l->lease.left)
        return hk_rate_lease_due_in_us(&l->lease, now);
    if (l->asking)
        return UINT64_MAX; /* the answer wakes the timer */
    if (now < l->ask_after_us)
        return l->ask_after_us - now;
    ask(l, now);
    return l->asking ? UINT64_MAX : RETRY_US;
}

/* Idle: nothing waiting, nothing asked, no slot left that is not stale. */
static bool idle(const rate_limiter *l, uint64_t now)
{
    return !l->waiting && !l->asking &&
           (!l->lease.left || l->lease.next_us + HK_RATE_STALE_US < now);
}

static void on_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_pipeline *p = arg;
    uint64_t now = now_us(), soonest = UINT64_MAX;
    rate_limiter **pp = &p->limiters;
    while (*pp) {
        rate_limiter *l = *pp;
        uint64_t in = run(l, now);
        if (idle(l, now)) {
            *pp = l->next;
            free(l);
            continue;
        }
        if (!l->waiting && l->lease.left) /* kept for its slots: looked at again once stale */
            in = l->lease.next_us + HK_RATE_STALE_US - now + 1;
        if (in < soonest)
            soonest = in;
        pp = &l->next;
    }
    if (soonest != UINT64_MAX)
        wake_at(p, soonest);
    pl_update_backpressure(p);
}

/* At most once a second per task. */
static void log_throttled(rate_limiter *l, const attempt *a)
{
    uint64_t ms = hk_now_ms();
    if (l->logged_ms && ms - l->logged_ms < LOG_EVERY_MS)
        return;
    l->logged_ms = ms;
    hk_log_field f[] = ATTEMPT_FIELDS(a);
    HK_LOGF(HK_LOG_INFO, "delivery.rate_limited", f,
            "webhook %s is at its rateLimit of %u/s: %zu deliveries waiting for a slot", l->task_id,
            l->rate, l->waiting);
}

/* Puts a at the end of its task's queue, counted as waiting. */
static void enqueue(hk_pipeline *p, rate_limiter *l, attempt *a)
{
    if (l->tail)
        l->tail->rate_next = a;
    else
        l->head = a;
    l->tail = a;
    l->waiting++;
    p->rate_waiting++;
    hk_gauge_add(&hk_pipeline_metrics.rate_waiting, 1);
}

bool pl_rate_admit(hk_pipeline *p, attempt *a)
{
    rate_limiter *l = limiter_for(p, a->task);
    uint64_t now = now_us();
    if (!l->waiting && hk_rate_lease_take(&l->lease, now))
        return true;
    enqueue(p, l, a);
    hk_counter_add(&hk_pipeline_metrics.rate_limited, 1);
    log_throttled(l, a);
    wake_at(p, 0); /* the timer's pass asks for a lease or waits for the slot */
    return false;
}

size_t pl_rate_cancel(hk_pipeline *p, bool (*keep)(void *arg, void *ctx), void *ctx)
{
    attempt *gone = NULL, **gone_tail = &gone;
    size_t n = 0;
    for (rate_limiter *l = p->limiters; l; l = l->next) {
        attempt *all = l->head;
        size_t waiting = l->waiting;
        l->head = l->tail = NULL;
        l->waiting = 0;
        p->rate_waiting -= waiting;
        hk_gauge_add(&hk_pipeline_metrics.rate_waiting, -(int64_t)waiting);
        while (all) {
            attempt *a = all;
            all = a->rate_next;
            a->rate_next = NULL;
            if (keep && keep(a, ctx)) { /* back in its queue, in its order */
                enqueue(p, l, a);
                continue;
            }
            *gone_tail = a;
            gone_tail = &a->rate_next;
            n++;
        }
    }
    /* Acted on once every queue is whole again: a verdict may free its job, not a queue. */
    while (gone) {
        attempt *a = gone;
        gone = a->rate_next;
        a->rate_next = NULL;
        pl_attempt_cancelled(a);
    }
    return n;
}

void pl_rate_destroy(hk_pipeline *p)
{
    hk_store_async_close(p->rate_store); /* a lease in flight fails: its limiter is still here */
    p->rate_store = NULL;
    hk_timer_destroy(p->rate_timer);
    p->rate_timer = NULL;
    while (p->limiters) {
        rate_limiter *l = p->limiters;
        p->limiters = l->next;
        hk_gauge_add(&hk_pipeline_metrics.rate_waiting, -(int64_t)l->waiting);
        free(l); /* its waiting attempts go as the engine's do: their offsets were never stored */
    }
}
