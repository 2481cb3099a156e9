/*
 * engine.c — the delivery engine: libcurl's multi-socket interface on the core loop.
 *
 * This file owns the engine's life (create, destroy), the glue between curl and the loop
 * (sockets, curl's timer, the kick and pump timers) and each transfer from start to finish:
 * pump() takes requests from the runnable hosts (hostq.c) while fewer than max_inflight run,
 * start_transfer() sets a transfer's options and hands it to curl (in proxy mode to the
 * resolver first: proxy.c), hk_delivery__finish_transfer() has its result classified in the
 * one place (result.c) and calls back; hk_delivery_abort_inflight() stops those in flight.
 * The SSRF guard sits in CURLOPT_OPENSOCKETFUNCTION: it sees the address curl is about to
 * connect to, after DNS, so rebinding cannot slip past. What follows a result is decided in
 * retry/ (hk_retry_decide). engine_internal.h says what each of the engine's files owns.
 */
#include "engine_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the engine knows of a socket, to spare epoll_ctl calls. curl hands a kept-alive
 * connection back (CURL_POLL_REMOVE) after every response and asks for it again with the next
 * request: an EPOLL_CTL_DEL and an ADD per request. A socket the engine opened itself stays
 * registered while parked between requests (an event on it while parked unregisters it), and
 * is unregistered for good in on_close_socket(). */
typedef struct sock_state {
    unsigned char ours;       /* opened by on_open_socket and not yet closed */
    unsigned char wanted;     /* HK_IO_* curl asked for; 0 after CURL_POLL_REMOVE */
    unsigned char registered; /* HK_IO_* registered with the loop */
} sock_state;

#define KICK_MS 250

static int curl_ready;

/* Resolver threads per engine in proxy mode: a slow name server holds one of them. */
#define HK_DELIVERY_RESOLVER_THREADS 4

/* ---------------------------------------------------------------------------- sockets --- */

static sock_state *sock_get(hk_delivery_engine *e, int fd)
{
    if ((size_t)fd >= e->socks_cap) {
        size_t cap = e->socks_cap ? e->socks_cap : 256;
        while (cap <= (size_t)fd)
            cap *= 2;
        e->socks = hk_xrealloc(e->socks, cap * sizeof *e->socks);
        memset(e->socks + e->socks_cap, 0, (cap - e->socks_cap) * sizeof *e->socks);
        e->socks_cap = cap;
    }
    return &e->socks[fd];
}

static void sock_unregister(hk_delivery_engine *e, int fd, sock_state *st)
{
    if (st->registered)
        hk_loop_io(e->loop, fd, 0, NULL, NULL);
    st->registered = 0;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
    hk_delivery_engine *e = clientp;
    sock_state *st = sock_get(e, fd);
    sock_unregister(e, fd, st);
    memset(st, 0, sizeof *st);
    return close(fd);
}

static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *address)
{
    transfer *t = clientp;
    (void)purpose;
    const struct sockaddr *sa = &address->addr;
    /* With a proxy, every socket goes to the proxy (NOPROXY is ""); the target was judged
     * before the transfer reached curl. */
    const char *reason = t->engine->cfg.proxy ? NULL : hk_ssrf_classify(sa);
    if (reason && !(t->engine->cfg.allow && hk_cidr_list_contains(t->engine->cfg.allow, sa))) {
        hk_delivery__describe_blocked(t, sa, reason);
        return CURL_SOCKET_BAD;
    }
    int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd >= 0) {
        sock_state *st = sock_get(t->engine, fd);
        sock_unregister(t->engine, fd, st); /* a number reused behind our back: start clean */
        st->ours = 1;
        st->wanted = 0;
    }
    return fd;
}

/* ------------------------------------------------------------------------ transfers --- */

static void transfer_free(hk_delivery_engine *e, transfer *t)
{
    if (t->job && e->resolver)
        hk_resolver__cancel(e->resolver, t->job);
    free(t->target);
    if (t->easy) {
        if (e->easy_pool_len < EASY_POOL_MAX) {
            curl_easy_reset(t->easy);
            e->easy_pool[e->easy_pool_len++] = t->easy;
        } else {
            curl_easy_cleanup(t->easy);
        }
    }
    free(t->headers);
    hk_request_destroy(t->req);
    hk_buf_free(&t->response);
    if (e->transfer_pool_len < TRANSFER_POOL_MAX) {
        t->next = e->transfer_pool;
        e->transfer_pool = t;
        e->transfer_pool_len++;
    } else {
        free(t);
    }
}

transfer *hk_delivery__transfer_new(hk_delivery_engine *e)
{
    transfer *t = e->transfer_pool;
    if (t) {
        e->transfer_pool = t->next;
        e->transfer_pool_len--;
    } else {
        t = hk_xmalloc(sizeof *t);
    }
    memset(t, 0, offsetof(transfer, retry_after));
    t->retry_after[0] = t->blocked[0] = t->connect_to_text[0] = t->errbuf[0] = '\0';
    return t;
}

static void active_unlink(hk_delivery_engine *e, transfer *t)
{
    if (t->active_prev)
        t->active_prev->active_next = t->active_next;
    else
        e->active = t->active_next;
    if (t->active_next)
        t->active_next->active_prev = t->active_prev;
    t->active_prev = t->active_next = NULL;
}

void hk_delivery__finish_transfer(hk_delivery_engine *e, transfer *t, CURLcode code)
{
    hk_delivery_result res;
    hk_delivery__classify(t, code, &res);
    if (t->easy && !t->early_error) {
        curl_multi_remove_handle(e->multi, t->easy);
        active_unlink(e, t);
        e->inflight--;
        hk_gauge_add(&hk_delivery_metrics.requests_in_flight, -1);
        hk_histogram_observe_ms(&hk_delivery_metrics.delivery_attempt_duration_seconds,
                                res.latency_ms);
    }
    host *h = t->host;
    /* an attempt the receiver (or the network) failed; not one given up by a stop */
    if (h && !t->early_error &&
        (res.status == HK_DELIVERY_RETRY || res.status == HK_DELIVERY_ERROR))
        hk_delivery__count_failure(e, h->key);
    if (h && !t->early_error) {
        h->inflight--;
        h->last_done_ms = hk_now_ms();
        h->latency_ms = h->latency_ms ? (h->latency_ms * 7 + res.latency_ms) / 8 : res.latency_ms;
        mark_runnable(e, h);
    }
    e->pending--;
    hk_delivery_done_cb cb = t->cb;
    void *arg = t->arg;
    cb(&res, arg);
    transfer_free(e, t);
    if (h)
        host_release_if_idle(e, h);
}

void hk_delivery__defer_failure(hk_delivery_engine *e, transfer *t, hk_delivery_status status,
                                const char *why)
{
    t->early_error = why;
    t->early_status = status;
    t->next = NULL;
    if (e->deferred_tail)
        e->deferred_tail->next = t;
    else
        e->deferred_head = t;
    e->deferred_tail = t;
    hk_timer_start(e->deferred_timer, 0);
}

static void on_deferred(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_delivery_engine *e = arg;
    transfer *t = e->deferred_head;
    e->deferred_head = e->deferred_tail = NULL;
    while (t) {
        transfer *next = t->next;
        hk_delivery__finish_transfer(e, t, CURLE_OK);
        t = next;
    }
}

static CURL *easy_get(hk_delivery_engine *e)
{
    if (e->easy_pool_len)
        return e->easy_pool[--e->easy_pool_len];
    return curl_easy_init();
}

/* The request's header lines as a curl_slist in one allocation (the nodes first, then the
 * "Name: value" texts), freed with free(). curl only reads CURLOPT_HTTPHEADER's list, so it need
 * not come from curl_slist_append, which would copy every line into an allocation of its own. */
static struct curl_slist *header_block(const hk_request *req)
{
    /* No "Expect: 100-continue" round trip: webhook bodies are small and receivers vary. */
    static const char expect[] = "Expect:";
    size_t n = req->headers_len + 1, bytes = n * sizeof(struct curl_slist) + sizeof expect;
    for (size_t i = 0; i < req->headers_len; i++)
        bytes += strlen(req->headers[i].key) + 2 + strlen(req->headers[i].value) + 1;
    struct curl_slist *nodes = hk_xmalloc(bytes);
    char *p = (char *)(nodes + n);
    for (size_t i = 0; i < req->headers_len; i++) {
        size_t klen = strlen(req->headers[i].key), vlen = strlen(req->headers[i].value);
        nodes[i].data = p;
        nodes[i].next = &nodes[i + 1];
        memcpy(p, req->headers[i].key, klen);
        memcpy(p + klen, ": ", 2);
        memcpy(p + klen + 2, req->headers[i].value, vlen + 1);
        p += klen + 2 + vlen + 1;
    }
    nodes[n - 1].data = memcpy(p, expect, sizeof expect);
    nodes[n - 1].next = NULL;
    return nodes;
}

/* Every transfer says what it wants of proxies, so that curl never falls back on the
 * environment's http_proxy, https_proxy, ALL_PROXY or NO_PROXY. */
static void set_proxy_options(hk_delivery_engine *e, CURL *easy)
{
    if (!e->cfg.proxy) {
        curl_easy_setopt(easy, CURLOPT_PROXY, "");
        return;
    }
    curl_easy_setopt(easy, CURLOPT_PROXY, e->cfg.proxy);
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
    /* A tunnel for plain http too: the proxy is asked for the pinned address only, and the
     * task's headers (signatures, Authorization) never reach the proxy, tunnel or not. */
    curl_easy_setopt(easy, CURLOPT_HTTPPROXYTUNNEL, 1L);
    curl_easy_setopt(easy, CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
}

static bool start_transfer(hk_delivery_engine *e, transfer *t)
{
    hk_request *req = t->req;
    CURL *easy = t->easy = easy_get(e);
    if (!easy)
        return false;
    t->headers = header_block(req);
    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     req->timeout_ms < 10000 ? req->timeout_ms : 10000L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, req->validate_ssl ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, req->validate_ssl ? 2L : 0L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, hk_delivery__on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, hk_delivery__on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, e);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    /* The CA bundle file only, no CA directory: curl caches the parsed bundle per multi handle
     * only when no CApath is set, and Debian's libcurl sets /etc/ssl/certs by default, so every
     * TLS connection parsed 140-odd certificates again (decision 78). */
    curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
    /* HTTP/1.1 even where a receiver offers h2 over TLS (curl's default would take it): libcurl
     * 7.88 failed 7-14% of POSTs that nginx answered 204 over h2 with "Stream error in the
     * HTTP/2 framing layer" (a delivered request counted failed, then retried), and where h2
     * works (8.14) it cost 46 us of CPU per request against 31 for HTTP/1.1 (decision 79). */
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_SHARE, e->share);
    set_proxy_options(e, easy);
    switch (req->method) {
    case HK_METHOD_GET:
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
        break;
    case HK_METHOD_DELETE:
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "DELETE");
        break;
    default:
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        if (req->method != HK_METHOD_POST)
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, hk_method_name(req->method));
    }
    t->started_ms = hk_now_ms();
    hk_histogram_observe_ms(&hk_delivery_metrics.delivery_queue_seconds,
                            t->started_ms - t->submitted_ms);
    if (e->cfg.proxy) {
        if (!hk_delivery__start_resolving(e, t))
            return false;
    } else if (curl_multi_add_handle(e->multi, easy) != CURLM_OK) {
        return false;
    }
    e->inflight++;
    hk_gauge_add(&hk_delivery_metrics.requests_in_flight, 1);
    if (t->host->inflight++ == 0)
        t->host->last_done_ms = t->started_ms; /* "no response for a while" counts from now */
    t->active_next = e->active;
    if (e->active)
        e->active->active_prev = t;
    e->active = t;
    return true;
}

static void pump(hk_delivery_engine *e)
{
    while (e->inflight < (size_t)e->cfg.max_inflight) {
        host *h = pop_runnable(e);
        if (!h)
            return;
        if (!h->wait_head) { /* its waiting requests were cancelled */
            host_release_if_idle(e, h);
            continue;
        }
        transfer *t = h->wait_head;
        h->wait_head = t->next;
        if (!h->wait_head)
            h->wait_tail = NULL;
        t->next = NULL;
        h->waiting--;
        if (!start_transfer(e, t)) {
            free(t->headers);
            t->headers = NULL;
            if (t->easy) {
                curl_easy_cleanup(t->easy);
                t->easy = NULL;
            }
            t->host = NULL;
            mark_runnable(e, h);
            host_release_if_idle(e, h);
            if (t->early_error)
                hk_delivery__defer_failure(e, t, t->early_status, t->early_error);
            else
                hk_delivery__defer_failure(e, t, HK_DELIVERY_RETRY, "could not start the transfer");
            continue;
        }
        mark_runnable(e, h);
    }
}

static void on_pump(hk_loop *loop, void *arg)
{
    (void)loop;
    pump(arg);
}

static void check_multi_info(hk_delivery_engine *e)
{
    if (e->in_check)
        return;
    e->in_check = true;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(e->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        transfer *t = NULL;
        CURLcode code = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        hk_delivery__finish_transfer(e, t, code);
    }
    e->in_check = false;
    pump_later(e);
}

/* ------------------------------------------------------------------- loop integration --- */

static void on_socket_ready(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    hk_delivery_engine *e = arg;
    sock_state *st = sock_get(e, fd);
    if (!st->wanted) { /* parked between requests: curl is not waiting on it */
        sock_unregister(e, fd, st);
        return;
    }
    int flags = 0, running;
    if (events & HK_IO_READ)
        flags |= CURL_CSELECT_IN;
    if (events & HK_IO_WRITE)
        flags |= CURL_CSELECT_OUT;
    if (events & HK_IO_ERROR)
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(e->multi, fd, flags, &running);
    check_multi_info(e);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    hk_delivery_engine *e = userp;
    sock_state *st = sock_get(e, s);
    unsigned events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= HK_IO_READ;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= HK_IO_WRITE;
    st->wanted = (unsigned char)events;
    if (what == CURL_POLL_REMOVE) {
        if (!st->ours) /* e.g. a resolver's socketpair, closed without telling us */
            sock_unregister(e, s, st);
        return 0;
    }
    if (st->registered != events && hk_loop_io(e->loop, s, events, on_socket_ready, e) == HK_OK)
        st->registered = (unsigned char)events;
    return 0;
}

static void on_curl_timeout(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_delivery_engine *e = arg;
    int running;
    curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(e);
}

/* A nudge every KICK_MS while transfers run: should curl ever leave a transfer without a timer
 * or a socket to wait on, its timeout still fires instead of the slot being lost forever. It is
 * also when hosts that turned slow have their queues cut back to the bound. */
static void on_kick(hk_loop *loop, void *arg)
{
    hk_delivery_engine *e = arg;
    if (e->inflight)
        on_curl_timeout(loop, e);
    hk_delivery__expire_resolving(e);
    hk_delivery__trim_slow_hosts(e);
    hk_timer_start(e->kick_timer, KICK_MS);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    hk_delivery_engine *e = userp;
    if (timeout_ms < 0)
        hk_timer_stop(e->curl_timer);
    else
        hk_timer_start(e->curl_timer, (uint64_t)timeout_ms);
    return 0;
}

/* ----------------------------------------------------------------------------- public --- */

int hk_delivery_create(hk_loop *loop, const hk_delivery_config *cfg, hk_delivery_engine **out,
                       hk_error *err)
{
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return hk_error_set(err, HK_ERR, NULL, "curl_global_init failed");
        curl_ready = 1;
    }
    bool proxy = cfg->proxy && *cfg->proxy;
    if (hk_delivery_check_proxy(cfg->proxy, err) != HK_OK)
        return HK_EINVAL;
    hk_delivery_engine *e = hk_xcalloc(1, sizeof *e);
    e->loop = loop;
    e->cfg = *cfg;
    if (!proxy) {
        e->cfg.proxy = NULL;
    } else if (hk_resolver__create(loop, HK_DELIVERY_RESOLVER_THREADS, &e->resolver, err) !=
               HK_OK) {
        free(e);
        return HK_ERR; /* err says why */
    }
    if (e->cfg.max_inflight < 1)
        e->cfg.max_inflight = 1;
    if (e->cfg.max_inflight_per_host < 1)
        e->cfg.max_inflight_per_host = 1;
    e->multi = curl_multi_init();
    e->share = curl_share_init();
    if (!e->multi || !e->share ||
        curl_share_setopt(e->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
        goto error;
    e->curl_timer = hk_timer_create(loop, on_curl_timeout, e);
    e->deferred_timer = hk_timer_create(loop, on_deferred, e);
    e->kick_timer = hk_timer_create(loop, on_kick, e);
    e->pump_timer = hk_timer_create(loop, on_pump, e);
    e->stats_timer = hk_timer_create(loop, hk_delivery__on_stats, e);
    e->hosts_metric = hk_metric_source_create(&hk_delivery_metrics.host_queue_depth);
    e->fails_metric = hk_metric_source_create(&hk_delivery_metrics.host_failed_attempts);
    hk_timer_start(e->kick_timer, KICK_MS);
    hk_timer_start(e->stats_timer, STATS_MS);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    /* Keep connections for reuse: 4 per in-flight slot, in use or idle. curl counts the ones in
     * use against the limit too and closes the oldest idle one past it, so at max_inflight only
     * a few idle connections stayed, each closed before its host's next request (1.0 request per
     * connection to 1,000 receivers); at 2x, 1.5; at 4x, 54 (decision 78). Idle ones still close
     * after curl's CURLOPT_MAXAGE_CONN (118 s). The per-host cap is ours (the host queues,
     * hostq.c); curl's CURLMOPT_MAX_HOST_CONNECTIONS is deliberately not set: in 7.88 a transfer
     * parked waiting for a host connection is only woken when another transfer ends, so a host
     * whose every transfer is parked stalls for good. */
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 4L * (long)e->cfg.max_inflight);
    *out = e;
    return HK_OK;
error:
    hk_delivery_destroy(e);
    return hk_error_set(err, HK_ERR, NULL, "cannot create the curl multi handle");
}

void hk_delivery_destroy(hk_delivery_engine *e)
{
    if (!e)
        return;
    hk_resolver__destroy(e->resolver); /* no lookup comes back after this */
    e->resolver = NULL;
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        host *h = e->buckets[b];
        while (h) {
            host *next = h->next_in_bucket;
            transfer *t = h->wait_head;
            while (t) {
                transfer *tn = t->next;
                transfer_free(e, t);
                t = tn;
            }
            free(h->key);
            free(h);
            h = next;
        }
    }
    transfer *t = e->deferred_head;
    while (t) {
        transfer *tn = t->next;
        transfer_free(e, t);
        t = tn;
    }
    while (e->active) {
        transfer *tr = e->active;
        active_unlink(e, tr);
        curl_multi_remove_handle(e->multi, tr->easy);
        curl_easy_cleanup(tr->easy);
        tr->easy = NULL;
        transfer_free(e, tr);
    }
    for (size_t i = 0; i < e->easy_pool_len; i++)
        curl_easy_cleanup(e->easy_pool[i]);
    while (e->transfer_pool) {
        transfer *spare = e->transfer_pool;
        e->transfer_pool = spare->next;
        free(spare);
    }
    if (e->multi)
        curl_multi_cleanup(e->multi); /* closes the kept connections through on_close_socket */
    if (e->share)
        curl_share_cleanup(e->share); /* after every easy handle that used it is gone */
    free(e->socks);
    hk_timer_destroy(e->curl_timer);
    hk_timer_destroy(e->deferred_timer);
    hk_timer_destroy(e->kick_timer);
    hk_timer_destroy(e->pump_timer);
    hk_timer_destroy(e->stats_timer);
    hk_metric_source_destroy(e->hosts_metric);
    hk_metric_source_destroy(e->fails_metric);
    hk_delivery__fails_free(e);
    hk_gauge_add(&hk_delivery_metrics.requests_in_flight, -(int64_t)e->inflight);
    hk_gauge_add(&hk_delivery_metrics.requests_queued, -e->queued_published);
    free(e);
}

size_t hk_delivery_abort_inflight(hk_delivery_engine *e)
{
    size_t n = 0;
    while (e->active) {
        transfer *t = e->active;
        active_unlink(e, t);
        if (t->job) {
            hk_resolver__cancel(e->resolver, t->job);
            t->job = NULL;
        }
        curl_multi_remove_handle(e->multi, t->easy);
        e->inflight--;
        hk_gauge_add(&hk_delivery_metrics.requests_in_flight, -1);
        host *h = t->host;
        t->host = NULL;
        h->inflight--;
        mark_runnable(e, h);
        host_release_if_idle(e, h);
        hk_delivery__defer_failure(e, t, HK_DELIVERY_CANCELLED,
                                   "stopped in flight: the worker is stopping");
        n++;
    }
    return n;
}

size_t hk_delivery_pending(const hk_delivery_engine *e)
{
    return e->pending;
}

size_t hk_delivery_inflight(const hk_delivery_engine *e)
{
    return e->inflight;
}
