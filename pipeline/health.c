/*
 * health.c — the sustained-failure rule's shard side (HOOKD_DISABLE_AFTER): per task, whether
 * this shard last saw a delivery or a final failure, so that the history writer's thread
 * (store/failing.c) hears of a task only when that changes, or at most once per check interval,
 * never per delivery. A healthy task costs a lookup in this shard's table (no lock, no
 * allocation after its first result, no Redis round trip).
 *
 * The interval: a failing task's mark is checked against the rule at most once per interval,
 * and a healthy task's delivered attempts are told at most once per interval, so that another
 * worker's failures of the same task never outlast them (a task is disabled only when every
 * delivery failed). A quarter of the rule, from 50 ms to 60 s.
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
    pl_health_table bigger = {.cap = t->cap ? t->cap * 2 : 64};
    bigger.slots = hk_xcalloc(bigger.cap, sizeof *bigger.slots);
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].id)
            *find(&bigger, t->slots[i].id) = t->slots[i];
    bigger.n = t->n;
    free(t->slots);
    *t = bigger;
}

static hk_task_health *lookup(pl_health_table *t, const char *id)
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
    return &s->h;
}

void pl_health_destroy(pl_health_table *t)
{
    if (!t)
        return;
    table_clear(t);
    free(t);
}

void pl_health_result(hk_pipeline *p, const char *task_id, bool delivered)
{
    uint64_t after = p->cfg->disable_after_ms;
    if (!after || !p->sh->history)
        return;
    if (!p->health)
        p->health = hk_xcalloc(1, sizeof *p->health);
    hk_task_health *h = lookup(p->health, task_id);
    hk_health_notice n =
        hk_pipeline_health_step(h, delivered, hk_now_ms(), hk_pipeline_health_interval(after));
    if (n == HK_HEALTH_DELIVERED)
        hk_store_history_task_delivered(p->sh->history, task_id);
    else if (n != HK_HEALTH_NONE)
        hk_store_history_task_failed(p->sh->history, task_id, n == HK_HEALTH_FAILED_RESET);
}
