/*
 * engine_internal.h — what the delivery engine's files share (internal to delivery, like
 * resolve.h; nothing outside delivery/ includes it). The engine is one object split along its
 * seams:
 *   engine.c  the engine's life, the multi-socket glue on the core loop, starting and finishing
 *             transfers, aborting those in flight;
 *   hostq.c   the per-host queues: submit, the runnable ring, slow hosts and deferral,
 *             cancelling waiting requests, the per-host queue metric;
 *   proxy.c   proxy mode: the proxy URL's check, resolving and judging the target off the loop,
 *             pinning the allowed address;
 *   result.c  what comes back: the response and Retry-After captured, and each transfer's
 *             result classified (hk_failure_kind).
 * Everything runs on the engine's loop thread. A transfer belongs to exactly one place at a
 * time: its host's wait queue, the deferred list, or the active list (handed to curl, or
 * resolving its target in proxy mode); transfer_free() in engine.c frees it.
 */
#ifndef HK_ENGINE_INTERNAL_H
#define HK_ENGINE_INTERNAL_H

#include "hk_delivery.h"
#include "resolve.h"

#include <curl/curl.h>
#include <netinet/in.h>

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
    size_t headers_in_len;
    hk_resolve_job *job;          /* proxy mode: resolving the target, not yet handed to curl */
    char *target;                 /* proxy mode: the target's host, as curl reads the URL */
    struct curl_slist connect_to; /* proxy mode: "::<pinned address>:<port>" */
    const char *early_error;      /* set when the request never reached curl */
    hk_delivery_status early_status;
    uint64_t submitted_ms; /* hk_delivery_submit: hookd_delivery_queue_seconds from here */
    uint64_t started_ms;
    struct transfer *next;                      /* host wait queue or deferred list */
    struct transfer *active_prev, *active_next; /* engine's in-flight list */
    /* The text buffers last: a reused transfer (transfer_new) zeroes what is above and only
     * the first byte of each of these, each read as a string or up to its length. */
    char retry_after[128];
    char blocked[96]; /* "" or "<address> (<reason>)" */
    char connect_to_text[INET6_ADDRSTRLEN + 16];
    char errbuf[CURL_ERROR_SIZE];
    char headers_in[HK_DELIVERY_MAX_RESPONSE_HEADERS]; /* the response's: result.c */
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

/* engine.c's per-fd socket state (defined there). */
typedef struct sock_state sock_state;

#define HOST_BUCKETS 1024
#define STATS_MS 1000
#define EASY_POOL_MAX 256
/* Finished transfers kept for the next requests: a transfer is ~2.7 KiB (the response headers'
 * array), past what malloc's per-thread cache serves, so each delivery paid malloc's slow path
 * and a zeroing of it. 256 x 2.7 KiB per engine at most. */
#define TRANSFER_POOL_MAX 256

/* The hosts failing most, for hookd_host_failed_attempts{host}: a space-saving sketch of
 * FAIL_SLOTS hosts (when more fail at once, a newcomer takes the least-failing slot and inherits
 * its count: the counts then over-estimate) over two tumbling one-minute windows, so the gauge
 * is a sliding estimate of the last minute. Touched only when an attempt fails. */
#define FAIL_SLOTS 64
#define FAIL_WINDOW_MS 60000
typedef struct fail_slot {
    char *key; /* scheme://host:port, or NULL: free */
    uint32_t cur, prev;
} fail_slot;

struct hk_delivery_engine {
    hk_loop *loop;
    CURLM *multi;
    CURLSH *share; /* TLS sessions, resumed across this engine's connections (decision 78) */
    hk_timer *curl_timer;
    hk_timer *deferred_timer;
    hk_timer *kick_timer;
    hk_timer *pump_timer;
    hk_timer *stats_timer;
    hk_metric_source *hosts_metric; /* this engine's per-host queue depths */
    int64_t queued_published;       /* its share of the hookd_requests_queued gauge */
    hk_metric_source *fails_metric; /* this engine's failing hosts */
    fail_slot fails[FAIL_SLOTS];
    uint64_t fail_window_ms; /* the current window's start */
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
    transfer *transfer_pool; /* linked by next; transfer_new() and transfer_free() */
    size_t transfer_pool_len;
    bool in_check; /* guards against re-entrant completion processing */
};

/* ---------------------------------------------------------- the runnable ring (hostq) --- */

static inline void mark_runnable(hk_delivery_engine *e, host *h)
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

static inline host *pop_runnable(hk_delivery_engine *e)
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

/* Frees an idle host (hostq.c); use host_release_if_idle(). */
void hk_delivery__host_forget(hk_delivery_engine *e, host *h);

/* Forgets an idle host so the table does not grow with every destination ever seen. */
static inline void host_release_if_idle(hk_delivery_engine *e, host *h)
{
    if (h->inflight || h->wait_head || h->runnable)
        return;
    hk_delivery__host_forget(e, h);
}

/* Every KICK_MS: defers the newest waiting requests of hosts that turned slow (hostq.c). */
void hk_delivery__trim_slow_hosts(hk_delivery_engine *e);
/* The stats timer's callback: per-host queue depths, failing hosts and the queued gauge
 * (hostq.c). */
void hk_delivery__on_stats(hk_loop *loop, void *arg);
/* One failed attempt to host key (scheme://host:port), for hookd_host_failed_attempts (hostq.c). */
void hk_delivery__count_failure(hk_delivery_engine *e, const char *key);
/* Frees the failing hosts' sketch (hostq.c). */
void hk_delivery__fails_free(hk_delivery_engine *e);

/* ---------------------------------------------------------------- transfers (engine) --- */

/* New transfers start once per loop turn, after every ready socket was served (timers run
 * after I/O): curl then sends their requests back to back, and a receiver that had gone to
 * sleep is woken once for the burst rather than once per request. On a loopback benchmark the
 * wake-ups were the single largest cost of the loop thread. */
static inline void pump_later(hk_delivery_engine *e)
{
    if (!hk_timer_active(e->pump_timer))
        hk_timer_start(e->pump_timer, 0);
}

/* A transfer with every field empty: one finished earlier if the engine kept it, else a new
 * one (engine.c); transfer_free() gives it back. */
transfer *hk_delivery__transfer_new(hk_delivery_engine *e);
/* Classifies t, hands the result to its callback, frees t (engine.c). t is on no wait queue
 * or deferred list; one handed to curl or resolving leaves the active list here. */
void hk_delivery__finish_transfer(hk_delivery_engine *e, transfer *t, CURLcode code);
/* Finishes t later, from a timer, with status and why (a static string): for a transfer that
 * never reached curl and is on no queue (engine.c). */
void hk_delivery__defer_failure(hk_delivery_engine *e, transfer *t, hk_delivery_status status,
                                const char *why);

/* ------------------------------------------------------------------ proxy mode (proxy) --- */

/* Proxy mode: finds the target of t's URL and starts resolving it; the transfer reaches curl
 * from the resolver's callback, pinned, or finishes there. false (t->early_error set) when the
 * URL is refused. */
bool hk_delivery__start_resolving(hk_delivery_engine *e, transfer *t);
/* Every KICK_MS: a target still resolving past its task's timeout times out. */
void hk_delivery__expire_resolving(hk_delivery_engine *e);

/* -------------------------------------------------------------------- results (result) --- */

/* curl's CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION; userdata is the transfer. */
size_t hk_delivery__on_body(char *ptr, size_t size, size_t nmemb, void *userdata);
size_t hk_delivery__on_header(char *buf, size_t size, size_t nitems, void *userdata);
/* sa's address as text ("?" for a family other than IPv4 and IPv6). */
void hk_delivery__address_text(const struct sockaddr *sa, char ip[INET6_ADDRSTRLEN]);
/* Records in t why sa was refused, for hk_delivery__classify(). */
void hk_delivery__describe_blocked(transfer *t, const struct sockaddr *sa, const char *reason);
/* What became of t (res is filled; its pointers borrow from t). */
void hk_delivery__classify(transfer *t, CURLcode code, hk_delivery_result *res);

#endif
