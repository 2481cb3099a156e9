/*
 * cache.c — the worker's task cache. A background thread owns a Redis connection, polls
 * <prefix>tasks:version, and on a change (or every full_reload_ms) loads every task into a new
 * immutable snapshot, then swaps it in. The hot path takes a reference on the current snapshot
 * under a mutex held for a pointer copy; snapshots are freed by their last release, so a
 * delivery can keep borrowing its task while newer snapshots come and go.
 */
#include "conn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One flow's tasks, or one space's: a run of the sorted tasks. */
typedef struct flow_entry {
    hk_scope scope; /* its id borrowed from the first task */
    const hk_task **tasks;
    size_t n;
} flow_entry;

struct hk_store_snapshot {
    atomic_int refs;
    hk_task **tasks; /* sorted by scope (flows, then spaces), then id */
    size_t n;
    flow_entry *flows; /* sorted by scope: flows by flowId, then spaces by spaceId */
    size_t flows_len;
};

struct hk_store_cache {
    hk_store__cfg cfg;
    int poll_ms, full_reload_ms;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    hk_store_snapshot *current;
    redisContext *rc;
    char *version;
    uint64_t last_full_ms;
    atomic_bool redis_ok; /* the last poll succeeded; written by the refresher only */
};

static int scope_cmp(const hk_scope *x, const hk_scope *y)
{
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int by_scope_then_id(const void *a, const void *b)
{
    const hk_task *x = *(hk_task *const *)a, *y = *(hk_task *const *)b;
    hk_scope sx = hk_task_scope(x), sy = hk_task_scope(y);
    int c = scope_cmp(&sx, &sy);
    return c ? c : strcmp(x->id, y->id);
}

static hk_store_snapshot *snapshot_build(hk_task **tasks, size_t n)
{
    hk_store_snapshot *s = hk_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->tasks = tasks;
    s->n = n;
    if (n) /* an empty prefix has no array at all, and qsort's pointer must not be NULL */
        qsort(tasks, n, sizeof *tasks, by_scope_then_id);
    s->flows = hk_xcalloc(n + 1, sizeof *s->flows);
    for (size_t i = 0; i < n; i++) {
        hk_scope scope = hk_task_scope(tasks[i]);
        if (s->flows_len == 0 || scope_cmp(&s->flows[s->flows_len - 1].scope, &scope)) {
            s->flows[s->flows_len].scope = scope;
            s->flows[s->flows_len].tasks = (const hk_task **)&tasks[i];
            s->flows_len++;
        }
        s->flows[s->flows_len - 1].n++;
    }
    return s;
}

void hk_store_snapshot_release(hk_store_snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->n; i++)
        hk_task_destroy(s->tasks[i]);
    free(s->tasks);
    free(s->flows);
    free(s);
}

/* The scope's run of tasks: a binary search over the flows and spaces. */
static const hk_task *const *snapshot_scope(const hk_store_snapshot *s, const hk_scope *scope,
                                            size_t *n)
{
    size_t lo = 0, hi = s->flows_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = scope_cmp(&s->flows[mid].scope, scope);
        if (c == 0) {
            hk_counter_add(&hk_store_metrics.task_cache_lookups_hit, 1);
            *n = s->flows[mid].n;
            return (const hk_task *const *)s->flows[mid].tasks;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    hk_counter_add(&hk_store_metrics.task_cache_lookups_miss, 1);
    *n = 0;
    return NULL;
}

const hk_task *const *hk_store_snapshot_flow(const hk_store_snapshot *s, const char *flow_id,
                                             size_t *n)
{
    return snapshot_scope(s, &(hk_scope){HK_SCOPE_FLOW, flow_id}, n);
}

const hk_task *const *hk_store_snapshot_space(const hk_store_snapshot *s, const char *space_id,
                                              size_t *n)
{
    return snapshot_scope(s, &(hk_scope){HK_SCOPE_SPACE, space_id}, n);
}

size_t hk_store_snapshot_size(const hk_store_snapshot *s)
{
    return s->n;
}

bool hk_store_cache_redis_ok(const hk_store_cache *c)
{
    return atomic_load(&((hk_store_cache *)c)->redis_ok);
}

hk_store_snapshot *hk_store_cache_acquire(hk_store_cache *c)
{
    pthread_mutex_lock(&c->lock);
    hk_store_snapshot *s = c->current;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* ----------------------------------------------------------------------------- loading --- */

static void drop_connection(hk_store_cache *c)
{
    if (c->rc)
        redisFree(c->rc);
    c->rc = NULL;
}

/* Reads every task. Returns NULL (and fills err) when Redis fails; unreadable tasks are
 * skipped and counted. */
static hk_store_snapshot *load_all(hk_store_cache *c, hk_error *err)
{
    char *pattern = hk_store__key(&c->cfg, "webhook:", "*", NULL);
    hk_task **tasks = NULL;
    size_t n = 0, cap = 0;
    char cursor[32] = "0";
    bool failed = false;
    do {
        redisReply *r = redisCommand(c->rc, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "SCAN failed: %s",
                         r && r->type == REDIS_REPLY_ERROR ? r->str : c->rc->errstr);
            if (r)
                freeReplyObject(r);
            failed = true;
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        if (keys->elements) {
            const char **argv = hk_xcalloc(keys->elements + 1, sizeof *argv);
            size_t *argvlen = hk_xcalloc(keys->elements + 1, sizeof *argvlen);
            argv[0] = "MGET";
            argvlen[0] = 4;
            for (size_t i = 0; i < keys->elements; i++) {
                argv[i + 1] = keys->element[i]->str;
                argvlen[i + 1] = keys->element[i]->len;
            }
            redisReply *vals = redisCommandArgv(c->rc, (int)keys->elements + 1, argv, argvlen);
            free(argv);
            free(argvlen);
            if (!vals || vals->type != REDIS_REPLY_ARRAY) {
                hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "MGET failed");
                if (vals)
                    freeReplyObject(vals);
                freeReplyObject(r);
                failed = true;
                break;
            }
            for (size_t i = 0; i < vals->elements; i++) {
                redisReply *v = vals->element[i];
                if (v->type != REDIS_REPLY_STRING)
                    continue; /* deleted between SCAN and MGET */
                hk_task *t = NULL;
                hk_error terr = {0};
                if (hk_task_parse(v->str, v->len, false, &t, &terr) != HK_OK) {
                    hk_counter_add(&hk_store_metrics.task_reload_errors, 1);
                    HK_WARN("store.task.unreadable", "skipping %s: %s", keys->element[i]->str,
                            terr.msg);
                    continue;
                }
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    tasks = hk_xrealloc(tasks, cap * sizeof *tasks);
                }
                tasks[n++] = t;
            }
            freeReplyObject(vals);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    free(pattern);
    if (failed) {
        for (size_t i = 0; i < n; i++)
            hk_task_destroy(tasks[i]);
        free(tasks);
        return NULL;
    }
    return snapshot_build(tasks, n);
}

static char *read_version(hk_store_cache *c, bool *ok)
{
    char *key = hk_store__key(&c->cfg, "tasks:version", NULL, NULL);
    redisReply *r = redisCommand(c->rc, "GET %s", key);
    free(key);
    *ok = r && r->type != REDIS_REPLY_ERROR;
    char *v = r && r->type == REDIS_REPLY_STRING ? hk_strndup(r->str, r->len) : hk_strdup("");
    if (r)
        freeReplyObject(r);
    return v;
}

/* The cache's size and the time of its last full load, for /metrics. */
static void loaded(const hk_store_snapshot *s)
{
    hk_gauge_set(&hk_store_metrics.task_cache_tasks, (int64_t)s->n);
    hk_gauge_set(&hk_store_metrics.task_cache_flows, (int64_t)s->flows_len);
    hk_gauge_set(&hk_store_metrics.task_cache_last_reload, (int64_t)(hk_wall_ms() / 1000));
}

static void swap_in(hk_store_cache *c, hk_store_snapshot *s)
{
    pthread_mutex_lock(&c->lock);
    hk_store_snapshot *old = c->current;
    c->current = s;
    pthread_mutex_unlock(&c->lock);
    hk_store_snapshot_release(old);
    hk_counter_add(&hk_store_metrics.task_reloads, 1);
    loaded(s);
}

/* The one record of whether Redis answers: /readyz and hookd_redis_up read it, and each change
 * is logged once. */
static void redis_answered(hk_store_cache *c, bool ok, const char *why)
{
    hk_gauge_set(&hk_store_metrics.redis_up, ok);
    if (atomic_exchange(&c->redis_ok, ok) == ok)
        return;
    if (ok)
        HK_INFO("store.available", "redis answers again");
    else
        HK_WARN("store.unavailable", "keeping the last tasks loaded: %s", why);
}

/* One poll: reconnect if needed, reload when the version moved or the full interval passed. */
static void refresh(hk_store_cache *c)
{
    hk_error err = {0};
    if (!c->rc && !(c->rc = hk_store__connect(&c->cfg, &err))) {
        redis_answered(c, false, err.msg);
        hk_counter_add(&hk_store_metrics.task_reload_errors, 1);
        return;
    }
    bool ok;
    char *version = read_version(c, &ok);
    uint64_t now = hk_now_ms();
    if (ok && strcmp(version, c->version) == 0 &&
        now - c->last_full_ms < (uint64_t)c->full_reload_ms) {
        redis_answered(c, true, NULL);
        free(version);
        return;
    }
    hk_store_snapshot *s = ok ? load_all(c, &err) : NULL;
    if (!s) {
        redis_answered(c, false, err.msg[0] ? err.msg : "redis error");
        hk_counter_add(&hk_store_metrics.task_reload_errors, 1);
        drop_connection(c);
        free(version);
        return;
    }
    redis_answered(c, true, NULL);
    free(c->version);
    c->version = version;
    c->last_full_ms = now;
    swap_in(c, s);
}

static void *refresher(void *arg)
{
    hk_store_cache *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += c->poll_ms / 1000;
        until.tv_nsec += (long)(c->poll_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->wake, &c->lock, &until);
        if (c->stop)
            break;
        pthread_mutex_unlock(&c->lock);
        refresh(c);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int hk_store_cache_create(const hk_store_config *cfg, int poll_ms, int full_reload_ms,
                          hk_store_cache **out, hk_error *err)
{
    hk_store_cache *c = hk_xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    c->poll_ms = poll_ms > 0 ? poll_ms : 500;
    c->full_reload_ms = full_reload_ms > 0 ? full_reload_ms : 30000;
    c->version = hk_strdup("");
    int rc = hk_store__cfg_init(&c->cfg, cfg, err);
    if (rc != HK_OK)
        goto error;
    rc = HK_ERR;
    if (!(c->rc = hk_store__connect(&c->cfg, err)))
        goto error;
    bool ok;
    char *version = read_version(c, &ok);
    c->current = ok ? load_all(c, err) : NULL;
    if (!c->current) {
        free(version);
        if (!ok)
            hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "cannot read the task version");
        goto error;
    }
    free(c->version);
    c->version = version;
    c->last_full_ms = hk_now_ms();
    loaded(c->current);
    atomic_store(&c->redis_ok, true);
    hk_gauge_set(&hk_store_metrics.redis_up, 1);
    if (pthread_create(&c->thread, NULL, refresher, c) != 0) {
        hk_error_set(err, HK_ERR, NULL, "cannot start the task cache thread");
        goto error;
    }
    c->thread_started = true;
    *out = c;
    return HK_OK;
error:
    hk_store_cache_destroy(c);
    return rc;
}

void hk_store_cache_destroy(hk_store_cache *c)
{
    if (!c)
        return;
    if (c->thread_started) {
        pthread_mutex_lock(&c->lock);
        c->stop = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
    }
    drop_connection(c);
    hk_store_snapshot_release(c->current);
    free(c->version);
    hk_store__cfg_free(&c->cfg);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    free(c);
}
