/*
 * engine.c — the delivery engine: libcurl's multi-socket interface on the core loop.
 *
 * Requests wait in per-host FIFO queues. A round-robin list of runnable hosts (a host with
 * waiting requests and a free host slot) feeds transfers to curl while the global cap allows,
 * so a slow host holds at most its own slots and never starves the others, and a request's
 * timeout only starts when it really starts. The SSRF guard sits in CURLOPT_OPENSOCKETFUNCTION:
 * it sees the address curl is about to connect to, after DNS, so rebinding cannot slip past.
 * Each transfer's result (its status and failure kind) is classified in exactly one place,
 * classify() in finish_transfer(); what follows it is decided in retry/ (hk_retry_decide).
 *
 * Proxies: the environment's (http_proxy, https_proxy, ALL_PROXY, NO_PROXY) are never used:
 * with one, the guard would see only the proxy's address. With a configured proxy, curl never
 * resolves the target, so the engine does (resolve.c, off the loop), judges every address with
 * the same guard, and pins the first allowed one: curl then asks the proxy for a tunnel to that
 * address (CONNECT <ip>:<port>, plain http included), so the proxy never resolves a name of its
 * own and a refused target never reaches it. The sockets curl opens then all go to the proxy,
 * which the operator chose: they are not judged (see docs/decisions.md).
 */
#include "hk_delivery.h"
#include "resolve.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct host host;

typedef struct transfer {
    hk_delivery_engine *engine;
    hk_request *req;
    hk_delivery_done_cb cb;
    void *arg;
    host *host;
    CURL *easy;
    struct curl_slist *headers; /* one block: header_block() */
    hk_buf response;
    char retry_after[128];
    char blocked[96];             /* "" or "<address> (<reason>)" */
    hk_resolve_job *job;          /* proxy mode: resolving the target, not yet handed to curl */
    char *target;                 /* proxy mode: the target's host, as curl reads the URL */
    struct curl_slist connect_to; /* proxy mode: "::<pinned address>:<port>" */
    char connect_to_text[INET6_ADDRSTRLEN + 16];
    char errbuf[CURL_ERROR_SIZE];
    const char *early_error; /* set when the request never reached curl */
    hk_delivery_status early_status;
    uint64_t started_ms;
    struct transfer *next;                      /* host wait queue or deferred list */
    struct transfer *active_prev, *active_next; /* engine's in-flight list */
} transfer;

struct host {
    char *key; /* scheme://host:port */
    int inflight;
    int waiting;
    uint64_t latency_ms;   /* moving average of its response times */
    uint64_t last_done_ms; /* its last response, or when it last got busy */
    bool slow_logged;
    transfer *wait_head, *wait_tail;
    bool runnable; /* linked into the engine's runnable ring */
    host *next_runnable;
    host *next_in_bucket;
};

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

#define HOST_BUCKETS 1024
#define KICK_MS 250
#define STATS_MS 1000
#define EASY_POOL_MAX 256

struct hk_delivery_engine {
    hk_loop *loop;
    CURLM *multi;
    hk_timer *curl_timer;
    hk_timer *deferred_timer;
    hk_timer *kick_timer;
    hk_timer *pump_timer;
    hk_timer *stats_timer;
    hk_metric_source *hosts_metric; /* this engine's per-host queue depths */
    int64_t queued_published;       /* its share of the hookd_requests_queued gauge */
    hk_delivery_config cfg;
    hk_resolver *resolver; /* only with cfg.proxy */
    size_t pending;
    size_t inflight;
    host *buckets[HOST_BUCKETS];
    host *run_head, *run_tail;
    transfer *deferred_head, *deferred_tail; /* finished before reaching curl */
    transfer *active;                        /* handed to curl, not yet finished */
    sock_state *socks;                       /* indexed by fd */
    size_t socks_cap;
    CURL *easy_pool[EASY_POOL_MAX];
    size_t easy_pool_len;
    bool in_check; /* guards against re-entrant completion processing */
};

static int curl_ready;

/* Resolver threads per engine in proxy mode: a slow name server holds one of them. */
#define HK_DELIVERY_RESOLVER_THREADS 4

/* The proxy URL names its scheme (http or https) and a host. */
static bool proxy_valid(const char *proxy)
{
    if (!proxy || !*proxy)
        return true; /* none */
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = u && !curl_url_set(u, CURLUPART_URL, proxy, 0) &&
              !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
              !curl_url_get(u, CURLUPART_HOST, &host, 0) && *host &&
              (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

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

/* Forgets an idle host so the table does not grow with every destination ever seen. */
static void host_release_if_idle(hk_delivery_engine *e, host *h)
{
    if (h->inflight || h->wait_head || h->runnable)
        return;
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

static void mark_runnable(hk_delivery_engine *e, host *h)
{
    if (h->runnable || !h->wait_head || h->inflight >= e->cfg.max_inflight_per_host)
        return;
    h->runnable = true;
    h->next_runnable = NULL;
    if (e->run_tail)
        e->run_tail->next_runnable = h;
    else
        e->run_head = h;
    e->run_tail = h;
}

static host *pop_runnable(hk_delivery_engine *e)
{
    host *h = e->run_head;
    if (!h)
        return NULL;
    e->run_head = h->next_runnable;
    if (!e->run_head)
        e->run_tail = NULL;
    h->runnable = false;
    h->next_runnable = NULL;
    return h;
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

/* -------------------------------------------------------------------------- callbacks --- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    transfer *t = userdata;
    size_t n = size * nmemb;
    /* Keep reading past the cap so the connection stays reusable; just stop storing. */
    if (t->response.len < HK_DELIVERY_MAX_RESPONSE) {
        size_t room = HK_DELIVERY_MAX_RESPONSE - t->response.len;
        hk_buf_append(&t->response, ptr, n < room ? n : room);
    }
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    transfer *t = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
        const char *v = buf + sizeof name - 1;
        size_t vlen = n - (sizeof name - 1);
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        if (vlen >= sizeof t->retry_after)
            vlen = sizeof t->retry_after - 1;
        memcpy(t->retry_after, v, vlen);
        t->retry_after[vlen] = '\0';
    }
    return n;
}

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

static void address_text(const struct sockaddr *sa, char ip[INET6_ADDRSTRLEN])
{
    strcpy(ip, "?");
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, INET6_ADDRSTRLEN);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, INET6_ADDRSTRLEN);
}

/* "<address> (<reason>)", which classify() turns into "blocked address ...". */
static void describe_blocked(transfer *t, const struct sockaddr *sa, const char *reason)
{
    char ip[INET6_ADDRSTRLEN];
    address_text(sa, ip);
    snprintf(t->blocked, sizeof t->blocked, "%s (%s)", ip, reason);
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
        describe_blocked(t, sa, reason);
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
    free(t);
}

/* What became of a transfer: its status for the engine's caller and why it failed
 * (hk_failure_kind); the retry decision (retry/) makes the verdict from these. */
static void classify(transfer *t, CURLcode code, hk_delivery_result *res)
{
    memset(res, 0, sizeof *res);
    if (t->early_error) {
        res->status = t->early_status;
        res->failure = t->early_status == HK_DELIVERY_ERROR   ? HK_FAIL_INVALID
                       : t->early_status == HK_DELIVERY_RETRY ? HK_FAIL_NETWORK
                                                              : HK_FAIL_NONE;
        snprintf(res->error, sizeof res->error, "%s", t->early_error);
        return;
    }
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &res->http_status);
    res->latency_ms = hk_now_ms() - t->started_ms;
    res->response = t->response.data ? t->response.data : "";
    res->response_len = t->response.len;
    res->retry_after = t->retry_after[0] ? t->retry_after : NULL;
    if (code == CURLE_OK) {
        if (res->http_status >= 200 && res->http_status < 300) {
            res->status = HK_DELIVERY_OK;
        } else {
            res->status = HK_DELIVERY_RETRY;
            res->failure = HK_FAIL_HTTP;
            snprintf(res->error, sizeof res->error, "HTTP %ld", res->http_status);
        }
        return;
    }
    if (t->blocked[0]) {
        res->status = HK_DELIVERY_ERROR;
        res->failure = HK_FAIL_BLOCKED;
        snprintf(res->error, sizeof res->error, "blocked address %s", t->blocked);
        return;
    }
    switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        res->status = HK_DELIVERY_ERROR;
        res->failure = HK_FAIL_INVALID;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        res->timed_out = true;
        res->status = HK_DELIVERY_RETRY;
        res->failure = HK_FAIL_TIMEOUT;
        break;
    default:
        res->status = HK_DELIVERY_RETRY;
        res->failure = HK_FAIL_NETWORK;
    }
    /* A status came before the transfer failed (a timeout reading the body): it counts as the
     * answer. */
    if (res->status == HK_DELIVERY_RETRY && res->http_status > 0)
        res->failure = HK_FAIL_HTTP;
    snprintf(res->error, sizeof res->error, "%s",
             t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
}

static void pump(hk_delivery_engine *e);
static void pump_later(hk_delivery_engine *e);
static void defer_failure(hk_delivery_engine *e, transfer *t, hk_delivery_status status,
                          const char *why);

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
static void trim_slow_hosts(hk_delivery_engine *e)
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
                defer_failure(e, t, HK_DELIVERY_DEFERRED, "its host is slow and its queue is full");
                t = next;
            }
        }
    }
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

static void finish_transfer(hk_delivery_engine *e, transfer *t, CURLcode code)
{
    hk_delivery_result res;
    classify(t, code, &res);
    if (t->easy && !t->early_error) {
        curl_multi_remove_handle(e->multi, t->easy);
        active_unlink(e, t);
        e->inflight--;
        hk_gauge_add(&hk_delivery_metrics.requests_in_flight, -1);
        hk_histogram_observe_ms(&hk_delivery_metrics.delivery_attempt_duration_seconds,
                                res.latency_ms);
    }
    host *h = t->host;
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

static void defer_failure(hk_delivery_engine *e, transfer *t, hk_delivery_status status,
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
        finish_transfer(e, t, CURLE_OK);
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

/* ------------------------------------------------------------------------ proxy mode --- */

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

/* The URL's host (IPv6 without brackets, IDN as punycode) and port as the transfer will read
 * them: the same parser and flags as curl's own. NULL, or why the URL is refused. */
static const char *target_of(const char *url, char **host, char port[8])
{
    const char *why = "the URL cannot be parsed";
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *p = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME))
        goto done;
    unsigned host_flags = 0;
#ifdef CURLU_PUNYCODE
    host_flags |= CURLU_PUNYCODE;
#endif
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
        curl_url_get(u, CURLUPART_HOST, &h, host_flags) ||
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) || !*h || strlen(p) >= 8)
        goto done;
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        why = "the URL's scheme is not http or https";
        goto done;
    }
    size_t len = strlen(h);
    if (strcasecmp(h, "localhost") == 0 ||
        (len > 10 && strcasecmp(h + len - 10, ".localhost") == 0)) {
        /* as curl does (RFC 6761): loopback, never a name server's answer */
        *host = hk_strdup("localhost");
    } else if (h[0] == '[' && len > 2 && h[len - 1] == ']') {
        *host = hk_strdup(h + 1);
        (*host)[len - 2] = '\0';
    } else {
        *host = hk_strdup(h);
    }
    strcpy(port, p);
    why = NULL;
done:
    curl_free(scheme);
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return why;
}

/* Judges every address of the target with the guard and pins the first one allowed; when
 * none is, t->blocked names the first refused. */
static bool pin_target(hk_delivery_engine *e, transfer *t, const struct addrinfo *res)
{
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        const struct sockaddr *sa = ai->ai_addr;
        if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
            continue;
        const char *reason = hk_ssrf_classify(sa);
        if (reason && !(e->cfg.allow && hk_cidr_list_contains(e->cfg.allow, sa))) {
            if (!t->blocked[0])
                describe_blocked(t, sa, reason);
            continue;
        }
        char ip[INET6_ADDRSTRLEN];
        address_text(sa, ip);
        unsigned port =
            ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                           : ((const struct sockaddr_in6 *)sa)->sin6_port);
        /* empty host and port: whatever the URL names, connect to this address */
        snprintf(t->connect_to_text, sizeof t->connect_to_text,
                 sa->sa_family == AF_INET ? "::%s:%u" : "::[%s]:%u", ip, port);
        t->connect_to.data = t->connect_to_text;
        t->connect_to.next = NULL;
        t->blocked[0] = '\0'; /* a refused sibling address is not why a later failure failed */
        return true;
    }
    if (!t->blocked[0])
        snprintf(t->blocked, sizeof t->blocked, "%s (no internet address)", t->target);
    return false;
}

/* The target's addresses are known: refuse it, or hand the transfer to curl, pinned. Runs on
 * the loop, from the resolver's eventfd (never from inside pump). */
static void on_resolved(int rc, const struct addrinfo *res, void *arg)
{
    transfer *t = arg;
    hk_delivery_engine *e = t->engine;
    t->job = NULL;
    CURLcode code;
    uint64_t spent = hk_now_ms() - t->started_ms;
    long left = t->req->timeout_ms - (long)spent;
    if (rc != 0) {
        snprintf(t->errbuf, sizeof t->errbuf, "Could not resolve host: %s", t->target);
        code = CURLE_COULDNT_RESOLVE_HOST;
    } else if (!pin_target(e, t, res)) {
        code = CURLE_COULDNT_CONNECT; /* t->blocked says why */
    } else if (left <= 0) {
        snprintf(t->errbuf, sizeof t->errbuf, "Resolving timed out after %llu milliseconds",
                 (unsigned long long)spent);
        code = CURLE_OPERATION_TIMEDOUT;
    } else {
        curl_easy_setopt(t->easy, CURLOPT_CONNECT_TO, &t->connect_to);
        curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, left);
        curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, left < 10000 ? left : 10000L);
        if (curl_multi_add_handle(e->multi, t->easy) == CURLM_OK)
            return;
        snprintf(t->errbuf, sizeof t->errbuf, "could not start the transfer");
        code = CURLE_FAILED_INIT;
    }
    finish_transfer(e, t, code);
    pump_later(e);
}

/* A target whose name server does not answer within the task's timeout times out like a
 * transfer would (checked on every kick, so up to KICK_MS late). */
static void expire_resolving(hk_delivery_engine *e)
{
    if (!e->resolver)
        return;
    uint64_t now = hk_now_ms();
    for (;;) {
        transfer *t = e->active;
        while (t && !(t->job && now - t->started_ms >= (uint64_t)t->req->timeout_ms))
            t = t->active_next;
        if (!t)
            return;
        hk_resolver__cancel(e->resolver, t->job);
        t->job = NULL;
        snprintf(t->errbuf, sizeof t->errbuf, "Resolving timed out after %llu milliseconds",
                 (unsigned long long)(now - t->started_ms));
        finish_transfer(e, t, CURLE_OPERATION_TIMEDOUT);
        pump_later(e);
    }
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
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, e);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
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
    if (e->cfg.proxy) {
        char port[8];
        const char *why = target_of(req->url, &t->target, port);
        if (why) {
            t->early_error = why;
            t->early_status = HK_DELIVERY_ERROR;
            return false;
        }
        t->job = hk_resolver__lookup(e->resolver, t->target, port, on_resolved, t);
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
    hk_counter_add(&hk_delivery_metrics.delivery_attempts, 1);
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
                defer_failure(e, t, t->early_status, t->early_error);
            else
                defer_failure(e, t, HK_DELIVERY_RETRY, "could not start the transfer");
            continue;
        }
        mark_runnable(e, h);
    }
}

/* New transfers start once per loop turn, after every ready socket was served (timers run
 * after I/O): curl then sends their requests back to back, and a receiver that had gone to
 * sleep is woken once for the burst rather than once per request. On a loopback benchmark the
 * wake-ups were the single largest cost of the loop thread. */
static void pump_later(hk_delivery_engine *e)
{
    if (!hk_timer_active(e->pump_timer))
        hk_timer_start(e->pump_timer, 0);
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
        finish_transfer(e, t, code);
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
    expire_resolving(e);
    trim_slow_hosts(e);
    hk_timer_start(e->kick_timer, KICK_MS);
}

/* Every second: the per-host queue depths and this engine's share of the queued gauge. */
static void on_stats(hk_loop *loop, void *arg)
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
    hk_gauge_add(&hk_delivery_metrics.requests_queued, queued - e->queued_published);
    e->queued_published = queued;
    hk_timer_start(e->stats_timer, STATS_MS);
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

int hk_delivery_check_proxy(const char *proxy, hk_error *err)
{
    if (!proxy_valid(proxy))
        return hk_error_set(err, HK_EINVAL, "HOOKD_HTTP_PROXY",
                            "must be an http:// or https:// URL with a host (value not shown: "
                            "it may hold credentials)");
    return HK_OK;
}

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
    if (!e->multi)
        goto error;
    e->curl_timer = hk_timer_create(loop, on_curl_timeout, e);
    e->deferred_timer = hk_timer_create(loop, on_deferred, e);
    e->kick_timer = hk_timer_create(loop, on_kick, e);
    e->pump_timer = hk_timer_create(loop, on_pump, e);
    e->stats_timer = hk_timer_create(loop, on_stats, e);
    e->hosts_metric = hk_metric_source_create(&hk_delivery_metrics.host_queue_depth);
    hk_timer_start(e->kick_timer, KICK_MS);
    hk_timer_start(e->stats_timer, STATS_MS);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    /* Keep enough idle connections to reuse one per in-flight slot. The per-host cap is ours
     * (the host queues above); curl's CURLMOPT_MAX_HOST_CONNECTIONS is deliberately not set:
     * in 7.88 a transfer parked waiting for a host connection is only woken when another
     * transfer ends, so a host whose every transfer is parked stalls for good. */
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)e->cfg.max_inflight);
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
    if (e->multi)
        curl_multi_cleanup(e->multi); /* closes the kept connections through on_close_socket */
    free(e->socks);
    hk_timer_destroy(e->curl_timer);
    hk_timer_destroy(e->deferred_timer);
    hk_timer_destroy(e->kick_timer);
    hk_timer_destroy(e->pump_timer);
    hk_timer_destroy(e->stats_timer);
    hk_metric_source_destroy(e->hosts_metric);
    hk_gauge_add(&hk_delivery_metrics.requests_in_flight, -(int64_t)e->inflight);
    hk_gauge_add(&hk_delivery_metrics.requests_queued, -e->queued_published);
    free(e);
}

void hk_delivery_submit(hk_delivery_engine *e, hk_request *req, hk_delivery_done_cb cb, void *arg)
{
    transfer *t = hk_xcalloc(1, sizeof *t);
    t->engine = e;
    t->req = req;
    t->cb = cb;
    t->arg = arg;
    e->pending++;
    char *key = host_key(req->url);
    if (!key) {
        defer_failure(e, t, HK_DELIVERY_ERROR, "the URL cannot be parsed");
        return;
    }
    host *h = host_get(e, key);
    free(key);
    if (e->cfg.max_queue_per_host > 0 && h->waiting >= e->cfg.max_queue_per_host &&
        host_slow(e, h, hk_now_ms())) {
        defer_failure(e, t, HK_DELIVERY_DEFERRED, "its host is slow and its queue is full");
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
                defer_failure(e, t, HK_DELIVERY_CANCELLED, "cancelled before it started");
                cancelled++;
            }
            h->wait_tail = last;
            host_release_if_idle(e, h); /* unlinks only h: next is still valid */
            h = next;
        }
    }
    return cancelled;
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
        defer_failure(e, t, HK_DELIVERY_CANCELLED, "stopped in flight: the worker is stopping");
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
