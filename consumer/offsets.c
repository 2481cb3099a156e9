/*
 * offsets.c — one partition's offset tracker. Work on consumed messages finishes out of order;
 * the committed offset may only move past a message once all its work is done. A ring buffer of
 * (offset, pending) in consumption order: finished entries are popped from the head, and the
 * commit point is the last popped offset + 1. Release finds its entry by binary search.
 */
#include "hk_consumer.h"

#include <stdlib.h>

typedef struct entry {
    int64_t offset;
    int pending;
} entry;

struct hk_offset_tracker {
    entry *ring;
    size_t cap, head, len;
    size_t unfinished;
    int64_t last_popped;    /* -1: nothing popped yet */
    int64_t last_reported;  /* commit point returned last time */
    int64_t last_added;     /* -1: nothing added yet */
};

hk_offset_tracker *hk_offset_tracker_create(void)
{
    hk_offset_tracker *t = hk_xcalloc(1, sizeof *t);
    t->last_popped = -1;
    t->last_reported = -1;
    t->last_added = -1;
    return t;
}

void hk_offset_tracker_destroy(hk_offset_tracker *t)
{
    if (!t)
        return;
    free(t->ring);
    free(t);
}

static entry *at(hk_offset_tracker *t, size_t i)
{
    return &t->ring[(t->head + i) % t->cap];
}

void hk_offset_tracker_add(hk_offset_tracker *t, int64_t offset, int pending)
{
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        entry *ring = hk_xmalloc(cap * sizeof *ring);
        for (size_t i = 0; i < t->len; i++)
            ring[i] = *at(t, i);
        free(t->ring);
        t->ring = ring;
        t->cap = cap;
        t->head = 0;
    }
    entry *e = &t->ring[(t->head + t->len) % t->cap];
    e->offset = offset;
    e->pending = pending > 0 ? pending : 0;
    t->len++;
    t->last_added = offset;
    if (e->pending)
        t->unfinished++;
}

static entry *find(hk_offset_tracker *t, int64_t offset)
{
    size_t lo = 0, hi = t->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        entry *e = at(t, mid);
        if (e->offset == offset)
            return e;
        if (e->offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void hk_offset_tracker_hold(hk_offset_tracker *t, int64_t offset, int n)
{
    entry *e = find(t, offset);
    if (!e || n <= 0)
        return;
    if (e->pending == 0)
        t->unfinished++;
    e->pending += n;
}

bool hk_offset_tracker_release(hk_offset_tracker *t, int64_t offset)
{
    entry *e = find(t, offset);
    if (!e || e->pending == 0)
        return false;
    if (--e->pending == 0)
        t->unfinished--;
    return true;
}

int64_t hk_offset_tracker_commit_point(hk_offset_tracker *t)
{
    while (t->len && t->ring[t->head].pending == 0) {
        t->last_popped = t->ring[t->head].offset;
        t->head = (t->head + 1) % t->cap;
        t->len--;
    }
    if (t->last_popped < 0)
        return -1;
    int64_t point = t->last_popped + 1;
    if (point == t->last_reported)
        return -1;
    t->last_reported = point;
    return point;
}

void hk_offset_tracker_report_again(hk_offset_tracker *t)
{
    t->last_reported = -1;
}

int64_t hk_offset_tracker_next(const hk_offset_tracker *t)
{
    return t->last_added < 0 ? -1 : t->last_added + 1;
}

size_t hk_offset_tracker_unfinished(const hk_offset_tracker *t)
{
    return t->unfinished;
}
