/*
 * health.c — the sustained-failure rule's shard side (HOOKD_DISABLE_AFTER): per task, whether
 * this shard last saw a delivery or a final failure, so that the history writer's thread
 * (store/failing.c) hears of a task only when that changes, or at most once per check interval,
 * never per delivery. A healthy task costs a lookup in this shard's table (no lock, no
 * allocation after its first result, no Redis round trip).
 *
 * The interval: a failing task's mark is checked against the rule at most once per interval,
 * and a healthy task's delivered attempts are told at most once per interval (and within about
 * 1.5 intervals of happening, by a timer, even when nothing more of the task comes), so that
 * another worker's failures of the same task never outlast them (a task is disabled only when
 * every delivery failed; store/failing.c allows two intervals for the lag). A quarter of the
 * rule, from 50 ms to 60 s.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define TABLE_MAX 65536 /* tasks remembered per shard; past it the table starts over */

enum { UNKNOWN, DELIVERING, FAILING };

uint64_t hk_pipeline_health_interval(uint64_t disable_after_ms)
{
    uint64_t i = disable_after_ms / 4;
    return i < 50 ? 50 : i > 60000 ? 60000 : i;
}

hk_health_notice hk_pipeline_health_step(hk_task_health *h, bool delivered, uint64_t now_ms,
                                         uint64_t interval_ms)
{
    bool due = now_ms >= h->next_ms;
    if (delivered && h->state == DELIVERING) {
        h->untold = !due;
        if (due)
            h->next_ms = now_ms + interval_ms;
        return due ? HK_HEALTH_DELIVERED : HK_HEALTH_NONE;
    }
    if (!delivered && h->state == FAILING) {
        if (due)
            h->next_ms = now_ms + interval_ms;
        return due ? HK_HEALTH_FAILED : HK_HEALTH_NONE;
    }
    /* a change (or the first result this shard sees): told at once */
    bool reset = h->state == DELIVERING && h->untold;
    h->state = delivered ? DELIVERING : FAILING;
    h->untold = false;
    h->next_ms = now_ms + interval_ms;
    if (delivered)
        return HK_HEALTH_DELIVERED;
    return reset ? HK_HEALTH_FAILED_RESET : HK_HEALTH_FAILED;
}

/* ------------------------------------------------------------- the shard's table --- */

struct pl_health_table {
    struct slot {
        char *id; /* NULL: empty */
        hk_task_health h;
    } * slots;
    size_t cap, n; /* cap a power of two, n < cap / 2 */
    /* Tasks with delivered attempts not yet told (ids borrowed from their slots): told by
     * flush_timer once their interval has passed, so a delivery reaches Redis within about
     * 1.5 intervals even when the shard sees nothing more of the task. */
    const char **pending;
    size_t n_pending, pending_cap;
    hk_timer *flush_timer;
};

static uint64_t hash(const char *s)
{
    uint64_t x = 1469598103934665603ull;
    for (; *s; s++)
        x = (x ^ (unsigned char)*s) * 1099511628211ull;
    return x;
}

static void table_clear(pl_health_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].id);
    free(t->slots);
    t->slots = NULL;
    t->cap = t->n = 0;
    t->n_pending = 0;
}

static struct slot *find(pl_health_table *t, const char *id)
{
    size_t i = (size_t)hash(id) & (t->cap - 1);
    while (t->slots[i].id && strcmp(t->slots[i].id, id) != 0)
        i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

static void grow(pl_health_table *t)
{
    struct slot *old = t->slots;
    size_t old_cap = t->cap;
    t->cap = t->cap ? t->cap * 2 : 64;
    t->slots = hk_xcalloc(t->cap, sizeof *t->slots);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].id)
            *find(t, old[i].id) = old[i];
    free(old);
}

static struct slot *lookup(pl_health_table *t, const char *id)
{
    if (t->n >= TABLE_MAX) /* deleted tasks pile up: start over (each tells Redis once again) */
        table_clear(t);
    if ((t->n + 1) * 2 > t->cap)
        grow(t);
    struct slot *s = find(t, id);
    if (!s->id) {
        s->id = hk_strdup(id);
        t->n++;
    }
    return s;
}

static void on_flush_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_pipeline *p = arg;
    pl_health_table *t = p->health;
    uint64_t now = hk_now_ms(), interval = hk_pipeline_health_interval(p->cfg->disable_after_ms);
    size_t keep = 0;
    for (size_t i = 0; i < t->n_pending; i++) {
        struct slot *s = find(t, t->pending[i]);
        if (!s->id || !s->h.untold) /* told since, or now failing */
            continue;
        if (now < s->h.next_ms) {
            t->pending[keep++] = s->id;
            continue;
        }
        s->h.untold = false;
        s->h.next_ms = now + interval;
        hk_store_history_task_delivered(p->sh->history, s->id);
    }
    t->n_pending = keep;
    if (keep)
        hk_timer_start(t->flush_timer, interval / 2);
}

static void pend(hk_pipeline *p, pl_health_table *t, const char *id)
{
    if (t->n_pending == t->pending_cap) {
        t->pending_cap = t->pending_cap ? t->pending_cap * 2 : 16;
        t->pending = hk_xrealloc(t->pending, t->pending_cap * sizeof *t->pending);
    }
    t->pending[t->n_pending++] = id;
    if (!t->flush_timer)
        t->flush_timer = hk_timer_create(p->loop, on_flush_timer, p);
    if (!hk_timer_active(t->flush_timer))
        hk_timer_start(t->flush_timer, hk_pipeline_health_interval(p->cfg->disable_after_ms) / 2);
}

void pl_health_destroy(pl_health_table *t)
{
    if (!t)
        return;
    table_clear(t);
    hk_timer_destroy(t->flush_timer);
    free(t->pending);
    free(t);
}

void pl_health_result(hk_pipeline *p, const char *task_id, bool delivered)
{
    uint64_t after = p->cfg->disable_after_ms;
    if (!after || !p->sh->history)
        return;
    if (!p->health)
        p->health = hk_xcalloc(1, sizeof *p->health);
    struct slot *s = lookup(p->health, task_id);
    bool untold = s->h.untold;
    hk_health_notice n =
        hk_pipeline_health_step(&s->h, delivered, hk_now_ms(), hk_pipeline_health_interval(after));
    if (n == HK_HEALTH_DELIVERED)
        hk_store_history_task_delivered(p->sh->history, task_id);
    else if (n != HK_HEALTH_NONE)
        hk_store_history_task_failed(p->sh->history, task_id, n == HK_HEALTH_FAILED_RESET);
    else if (s->h.untold && !untold)
        pend(p, p->health, s->id);
}
