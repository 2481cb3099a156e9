/*
 * endpoints.c — the endpoints hookd-ingress serves, in memory. A background thread polls
 * <prefix>inbound:version every poll_ms and, when it moved (an endpoint written, or a state
 * change), loads every endpoint with its verified state into a new immutable snapshot; requests
 * take a reference to the current one. An endpoint that cannot be read back is left out with a
 * warning (it answers 404) rather than keeping the others from loading. When Redis is down the
 * last snapshot stays in use. The same thread sweeps the endpoints' waits every 5 s.
 */
#include "ingress.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWEEP_MS 5000u /* the waits' housekeeping: expiry, holds put back, the live gauge */
#define SWEEP_MAX 1000 /* waits expired, and holds put back, per endpoint and sweep */

struct ing_snapshot {
    atomic_int refs;
    hk_inbound_endpoint **eps; /* sorted by id */
    size_t n;
};

struct ing_endpoints {
    const hk_store_config *scfg;
    int poll_ms;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock; /* cur, stop */
    pthread_cond_t wake;
    ing_snapshot *cur;
    bool stop;
    atomic_bool redis_ok;
    atomic_bool poked;
    long long version;      /* the refresher's only */
    uint64_t next_sweep_ms; /* the refresher's only */
    hk_store *store;        /* the refresher's only */
};

static void snapshot_free(ing_snapshot *s)
{
    for (size_t i = 0; i < s->n; i++)
        hk_inbound_endpoint_destroy(s->eps[i]);
    free(s->eps);
    free(s);
}

void ing_snapshot_release(ing_snapshot *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        snapshot_free(s);
}

ing_snapshot *ing_endpoints_acquire(ing_endpoints *e)
{
    pthread_mutex_lock(&e->lock);
    ing_snapshot *s = e->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&e->lock);
    return s;
}

static int by_id(const void *a, const void *b)
{
    const hk_inbound_endpoint *x = *(hk_inbound_endpoint *const *)a,
                              *y = *(hk_inbound_endpoint *const *)b;
    return strcmp(x->id, y->id);
}

const hk_inbound_endpoint *ing_snapshot_find(const ing_snapshot *s, const char *id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->eps[mid]->id, id);
        if (c == 0)
            return s->eps[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t ing_snapshot_size(const ing_snapshot *s)
{
    return s->n;
}

bool ing_endpoints_redis_ok(const ing_endpoints *e)
{
    return atomic_load(&e->redis_ok);
}

/* One endpoint's stored JSON and state, or NULL (logged) when it cannot be read back. */
static hk_inbound_endpoint *load_one(ing_endpoints *e, const char *json)
{
    cJSON *tree = hk_json_parse_whole(json, strlen(json), NULL);
    hk_inbound_endpoint *ep = NULL;
    hk_error err = {0};
    if (!tree || hk_inbound_endpoint_from_stored(tree, &ep, &err) != HK_OK) {
        HK_WARN("endpoints.unreadable",
                "a stored inbound endpoint cannot be read; it answers 404: %s",
                tree ? err.msg : "not valid JSON");
        cJSON_Delete(tree);
        return NULL;
    }
    cJSON_Delete(tree);
    if (hk_store_inbound_get_state(e->store, ep->id, &ep->verified, &ep->state_changed_ms, &err) !=
        HK_OK) {
        hk_inbound_endpoint_destroy(ep);
        return NULL;
    }
    return ep;
}

/* Reads every endpoint into a new snapshot. HK_OK, or HK_ERR when Redis failed. */
static int load(ing_endpoints *e, ing_snapshot **out, hk_error *err)
{
    char **docs = NULL;
    size_t n = 0;
    if (hk_store_inbound_list(e->store, &docs, &n, err) != HK_OK)
        return HK_ERR;
    ing_snapshot *s = hk_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->eps = hk_xcalloc(n + 1, sizeof *s->eps);
    for (size_t i = 0; i < n; i++) {
        hk_inbound_endpoint *ep = load_one(e, docs[i]);
        if (ep)
            s->eps[s->n++] = ep;
        free(docs[i]);
    }
    free(docs);
    qsort(s->eps, s->n, sizeof *s->eps, by_id);
    *out = s;
    return HK_OK;
}

/* Every SWEEP_MS, each endpoint's waits are swept (store/: expired ones removed, holds left by
 * a process that died put back) and counted. Every replica sweeps; the scripts make that safe. */
static void sweep_waits(ing_endpoints *e)
{
    uint64_t now = hk_now_ms();
    if (now < e->next_sweep_ms)
        return;
    e->next_sweep_ms = now + SWEEP_MS;
    long long live = 0;
    for (size_t i = 0; i < e->cur->n; i++) {
        hk_store_wait_swept sw;
        hk_error err = {0};
        if (hk_store_wait_sweep(e->store, e->cur->eps[i]->id, SWEEP_MAX, &sw, &err) != HK_OK) {
            HK_WARN("waits.sweep", "cannot sweep the waits (trying again in %u s): %s",
                    SWEEP_MS / 1000, err.msg);
            hk_store_close(e->store);
            e->store = NULL;
            return;
        }
        ing_count_waits(ING_WAITS_EXPIRED, (uint64_t)sw.expired);
        ing_count_waits(ING_WAITS_RESTORED, (uint64_t)sw.restored);
        if (sw.restored) {
            hk_log_field f[] = {HK_STR("endpointId", e->cur->eps[i]->id)};
            HK_LOGF(HK_LOG_WARN, "waits.restored", f,
                    "%lld claimed wait(s) put back: the request holding them never finished "
                    "(its process stopped)",
                    sw.restored);
        }
        live += sw.live;
    }
    ing_set_waits_live(live);
}

/* One poll: the version, and a reload when it moved. */
static void poll_once(ing_endpoints *e)
{
    hk_error err = {0};
    if (!e->store && hk_store_open(e->scfg, &e->store, &err) != HK_OK) {
        atomic_store(&e->redis_ok, false);
        return;
    }
    long long v = 0;
    ing_snapshot *fresh = NULL;
    bool poked = atomic_exchange(&e->poked, false);
    if (hk_store_inbound_version(e->store, &v, &err) != HK_OK ||
        ((v != e->version || poked) && load(e, &fresh, &err) != HK_OK)) {
        if (atomic_exchange(&e->redis_ok, false))
            HK_WARN("endpoints.redis",
                    "cannot read the inbound endpoints (keeping the last ones): %s", err.msg);
        hk_store_close(e->store);
        e->store = NULL;
        return;
    }
    if (!atomic_exchange(&e->redis_ok, true))
        HK_INFO("endpoints.redis", "reading the inbound endpoints again");
    if (!fresh) {
        sweep_waits(e);
        return;
    }
    e->version = v;
    ing_set_endpoints((int64_t)fresh->n);
    pthread_mutex_lock(&e->lock);
    ing_snapshot *old = e->cur;
    e->cur = fresh;
    pthread_mutex_unlock(&e->lock);
    ing_snapshot_release(old);
    sweep_waits(e);
}

static void *refresher(void *arg)
{
    ing_endpoints *e = arg;
    pthread_mutex_lock(&e->lock);
    while (!e->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)e->poll_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&e->wake, &e->lock, &until);
        if (e->stop)
            break;
        pthread_mutex_unlock(&e->lock);
        poll_once(e);
        pthread_mutex_lock(&e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

void ing_endpoints_poke(ing_endpoints *e)
{
    atomic_store(&e->poked, true);
    pthread_mutex_lock(&e->lock);
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
}

int ing_endpoints_start(const hk_store_config *scfg, int poll_ms, ing_endpoints **out,
                        hk_error *err)
{
    ing_endpoints *e = hk_xcalloc(1, sizeof *e);
    e->scfg = scfg;
    e->poll_ms = poll_ms;
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->wake, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&e->redis_ok, false);
    atomic_init(&e->poked, false);
    int rc;
    if ((rc = hk_store_open(scfg, &e->store, err)) != HK_OK ||
        (rc = hk_store_inbound_version(e->store, &e->version, err)) != HK_OK ||
        (rc = load(e, &e->cur, err)) != HK_OK) {
        ing_endpoints_stop(e);
        return rc == HK_EINVAL ? HK_EINVAL : HK_ERR; /* EINVAL: a bad HOOKD_REDIS_URL */
    }
    atomic_store(&e->redis_ok, true);
    ing_set_endpoints((int64_t)e->cur->n);
    rc = pthread_create(&e->thread, NULL, refresher, e);
    if (rc != 0) {
        ing_endpoints_stop(e);
        return hk_error_set(err, HK_ERR, NULL, "cannot start a thread: %s", strerror(rc));
    }
    e->thread_started = true;
    *out = e;
    return HK_OK;
}

void ing_endpoints_stop(ing_endpoints *e)
{
    if (!e)
        return;
    if (e->thread_started) {
        pthread_mutex_lock(&e->lock);
        e->stop = true;
        pthread_cond_signal(&e->wake);
        pthread_mutex_unlock(&e->lock);
        pthread_join(e->thread, NULL);
    }
    hk_store_close(e->store);
    ing_snapshot_release(e->cur);
    pthread_cond_destroy(&e->wake);
    pthread_mutex_destroy(&e->lock);
    free(e);
}
