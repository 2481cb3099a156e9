/*
 * hostq.c — the engine's per-host queues. Requests wait in a FIFO queue per host
 * (scheme://host:port); a round-robin ring of runnable hosts (a host with waiting requests and
 * a free host slot; engine_internal.h) lets engine.c's pump() take one request from each in
 * turn while the global cap allows, so a slow host holds at most its own slots and never
 * starves the others, and a request's timeout only starts when it really starts. A host whose
 * slots are all busy and that answers slowly may keep at most max_queue_per_host requests
 * waiting: the others are deferred (HK_DELIVERY_DEFERRED). Also here: cancelling waiting
 * requests, forgetting idle hosts, and the per-host queue-depth metric.
 */
#include "engine_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------ hosts --- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static host *host_get(hk_delivery_engine *e, const char *key)
{
    size_t b = hash_str(key) % HOST_BUCKETS;
    for (host *h = e->buckets[b]; h; h = h->next_in_bucket)
        if (strcmp(h->key, key) == 0)
            return h;
    host *h = hk_xcalloc(1, sizeof *h);
    h->key = hk_strdup(key);
    h->next_in_bucket = e->buckets[b];
    e->buckets[b] = h;
    return h;
}

/* The part of host_release_if_idle() past its check: h is idle. */
void hk_delivery__host_forget(hk_delivery_engine *e, host *h)
{
    if (h->slow_logged)
        HK_INFO("host.recovered", "%s has nothing left in flight or waiting", h->key);
    size_t b = hash_str(h->key) % HOST_BUCKETS;
    for (host **pp = &e->buckets[b]; *pp; pp = &(*pp)->next_in_bucket) {
        if (*pp == h) {
            *pp = h->next_in_bucket;
            break;
        }
    }
    free(h->key);
    free(h);
}

/* The per-host key of a URL: scheme://host:port, lower-cased, with the scheme's default port
 * when none is given; NULL when there is no scheme://host. A plain scan rather than curl's URL
 * parser (this runs once per request): a URL odd enough to be keyed differently than curl would
 * only changes which queue it waits in, and curl itself judges the URL when the transfer runs. */
static char *host_key(const char *url)
{
    const char *sep = strstr(url, "://");
    if (!sep || sep == url)
        return NULL;
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memrchr(auth, '@', alen);
    if (at) {
        alen -= (size_t)(at + 1 - auth);
        auth = at + 1;
    }
    if (!alen)
        return NULL;
    bool has_port;
    if (auth[0] == '[') { /* IPv6 literal */
        const char *end = memchr(auth, ']', alen);
        if (!end)
            return NULL;
        has_port = end + 1 < auth + alen && end[1] == ':';
    } else {
        has_port = memchr(auth, ':', alen) != NULL;
    }
    size_t slen = (size_t)(sep - url);
    const char *port = "";
    if (!has_port)
        port = slen == 5 && strncasecmp(url, "https", 5) == 0  ? ":443"
               : slen == 4 && strncasecmp(url, "http", 4) == 0 ? ":80"
                                                               : "";
    hk_buf b = {0};
    hk_buf_printf(&b, "%.*s://%.*s%s", (int)slen, url, (int)alen, auth, port);
    for (char *p = b.data; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return hk_buf_take(&b);
}

static bool host_slow(hk_delivery_engine *e, host *h, uint64_t now)
{
    bool slow =
        h->inflight >= e->cfg.max_inflight_per_host &&
        (h->latency_ms >= HK_DELIVERY_SLOW_MS || now - h->last_done_ms >= HK_DELIVERY_SLOW_MS);
    if (slow != h->slow_logged) {
        h->slow_logged = slow;
        if (slow)
            HK_WARN("host.slow",
                    "%s is slow (every one of its %d slots busy, responses take %llu ms on "
                    "average, the last came %llu ms ago): at most %d more wait for it, the rest "
                    "are deferred",
                    h->key, h->inflight, (unsigned long long)h->latency_ms,
                    (unsigned long long)(now - h->last_done_ms), e->cfg.max_queue_per_host);
        else
            HK_INFO("host.recovered", "%s answers in time again", h->key);
    }
    return slow;
}

/* A host that turned slow may already hold a long queue (filled while it was still answering):
 * its newest waiting requests beyond the bound are deferred, as new ones would be. Hosts known
 * slow are looked at again, so that their recovery is logged. */
void hk_delivery__trim_slow_hosts(hk_delivery_engine *e)
{
    if (e->cfg.max_queue_per_host <= 0)
        return;
    uint64_t now = hk_now_ms();
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        for (host *h = e->buckets[b]; h; h = h->next_in_bucket) {
            /* a host known slow is looked at too, so its recovery is logged */
            if (!h->slow_logged && h->waiting <= e->cfg.max_queue_per_host)
                continue;
            if (!host_slow(e, h, now) || h->waiting <= e->cfg.max_queue_per_host)
                continue;
            transfer *t = h->wait_head, *keep_last = NULL;
            for (int i = 0; i < e->cfg.max_queue_per_host; i++) {
                keep_last = t;
                t = t->next;
            }
            keep_last->next = NULL;
            h->wait_tail = keep_last;
            while (t) {
                transfer *next = t->next;
                t->host = NULL;
                h->waiting--;
                hk_delivery__defer_failure(e, t, HK_DELIVERY_DEFERRED,
                                           "its host is slow and its queue is full");
                t = next;
            }
        }
    }
}

/* ---------------------------------------------------------------------- failing hosts --- */

/* Starts a new window once the current one is a minute old: its counts become the previous
 * window's (none after two minutes), and hosts with neither are let go. */
static void fails_roll(hk_delivery_engine *e, uint64_t now)
{
    if (!e->fail_window_ms) {
        e->fail_window_ms = now;
        return;
    }
    uint64_t age = now - e->fail_window_ms;
    if (age < FAIL_WINDOW_MS)
        return;
    for (size_t i = 0; i < FAIL_SLOTS; i++) {
        fail_slot *f = &e->fails[i];
        if (!f->key)
            continue;
        f->prev = age < 2 * FAIL_WINDOW_MS ? f->cur : 0;
        f->cur = 0;
        if (!f->prev) {
            free(f->key);
            f->key = NULL;
        }
    }
    e->fail_window_ms = now - age % FAIL_WINDOW_MS;
}

void hk_delivery__count_failure(hk_delivery_engine *e, const char *key)
{
    fails_roll(e, hk_now_ms());
    fail_slot *free_slot = NULL, *least = NULL;
    for (size_t i = 0; i < FAIL_SLOTS; i++) {
        fail_slot *f = &e->fails[i];
        if (!f->key) {
            if (!free_slot)
                free_slot = f;
            continue;
        }
        if (strcmp(f->key, key) == 0) {
            f->cur++;
            return;
        }
        if (!least || f->cur + f->prev < least->cur + least->prev)
            least = f;
    }
    if (free_slot) {
        *free_slot = (fail_slot){.key = hk_strdup(key), .cur = 1};
        return;
    }
    /* space-saving: the newcomer inherits the least count, so a host failing steadily climbs */
    uint32_t inherited = least->cur + least->prev;
    free(least->key);
    *least = (fail_slot){.key = hk_strdup(key), .cur = inherited + 1};
}

void hk_delivery__fails_free(hk_delivery_engine *e)
{
    for (size_t i = 0; i < FAIL_SLOTS; i++) {
        free(e->fails[i].key);
        e->fails[i].key = NULL;
    }
}

/* The failing hosts' last minute, estimated: the current window's failures and the share of the
 * previous window's that the last 60 s still covers. */
static void fails_publish(hk_delivery_engine *e, uint64_t now)
{
    fails_roll(e, now);
    hk_metric_sample s[FAIL_SLOTS];
    size_t n = 0;
    double left =
        e->fail_window_ms ? 1.0 - (double)(now - e->fail_window_ms) / (double)FAIL_WINDOW_MS : 0.0;
    for (size_t i = 0; i < FAIL_SLOTS; i++) {
        const fail_slot *f = &e->fails[i];
        double v = f->key ? (double)f->cur + (double)f->prev * left : 0.0;
        if (v < 0.5)
            continue;
        s[n].labels[0] = '\0';
        hk_metric_sample_label(&s[n], "host", f->key);
        s[n++].value = (int64_t)(v + 0.5);
    }
    hk_metric_source_publish(e->fails_metric, s, n);
}

/* Every second: the per-host queue depths, the failing hosts and this engine's share of the
 * queued gauge. */
void hk_delivery__on_stats(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_delivery_engine *e = arg;
    size_t cap = 64, n = 0;
    hk_metric_sample *s = hk_xmalloc(cap * sizeof *s);
    int64_t queued = 0;
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        for (host *h = e->buckets[b]; h; h = h->next_in_bucket) {
            if (!h->waiting)
                continue;
            queued += h->waiting;
            if (n == cap)
                s = hk_xrealloc(s, (cap *= 2) * sizeof *s);
            s[n].labels[0] = '\0';
            hk_metric_sample_label(&s[n], "host", h->key);
            s[n++].value = h->waiting;
        }
    }
    hk_metric_source_publish(e->hosts_metric, s, n);
    free(s);
    fails_publish(e, hk_now_ms());
    hk_gauge_add(&hk_delivery_metrics.requests_queued, queued - e->queued_published);
    e->queued_published = queued;
    hk_timer_start(e->stats_timer, STATS_MS);
}

void hk_delivery_submit(hk_delivery_engine *e, hk_request *req, hk_delivery_done_cb cb, void *arg)
{
    transfer *t = hk_delivery__transfer_new(e);
    t->engine = e;
    t->req = req;
    t->cb = cb;
    t->arg = arg;
    t->submitted_ms = hk_now_ms();
    e->pending++;
    char *key = host_key(req->url);
    if (!key) {
        hk_delivery__defer_failure(e, t, HK_DELIVERY_ERROR, "the URL cannot be parsed");
        return;
    }
    host *h = host_get(e, key);
    free(key);
    if (e->cfg.max_queue_per_host > 0 && h->waiting >= e->cfg.max_queue_per_host &&
        host_slow(e, h, hk_now_ms())) {
        hk_delivery__defer_failure(e, t, HK_DELIVERY_DEFERRED,
                                   "its host is slow and its queue is full");
        return;
    }
    t->host = h;
    h->waiting++;
    if (h->wait_tail)
        h->wait_tail->next = t;
    else
        h->wait_head = t;
    h->wait_tail = t;
    mark_runnable(e, h);
    pump_later(e);
}

size_t hk_delivery_cancel_waiting(hk_delivery_engine *e, bool (*keep)(void *arg, void *ctx),
                                  void *ctx)
{
    size_t cancelled = 0;
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        host *h = e->buckets[b];
        while (h) {
            host *next = h->next_in_bucket;
            transfer **pp = &h->wait_head, *last = NULL;
            while (*pp) {
                transfer *t = *pp;
                if (keep && keep(t->arg, ctx)) {
                    last = t;
                    pp = &t->next;
                    continue;
                }
                *pp = t->next;
                t->host = NULL;
                h->waiting--;
                hk_delivery__defer_failure(e, t, HK_DELIVERY_CANCELLED,
                                           "cancelled before it started");
                cancelled++;
            }
            h->wait_tail = last;
            host_release_if_idle(e, h); /* unlinks only h: next is still valid */
            h = next;
        }
    }
    return cancelled;
}
