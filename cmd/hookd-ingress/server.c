/*
 * server.c — hookd-ingress's loop. libmicrohttpd runs in external-epoll mode on the core loop:
 * its epoll fd is one fd of the loop and its timeout one timer. A request to /in/<id> is read
 * whole (refused with 413 from Content-Length, or as soon as what arrived passes the limit),
 * then judged by inbound/ (verification, payload); its provider event id and the waits its
 * payload matches are claimed in Redis in one step (store/: digested per wait shape here,
 * waits.c), and its record, listing the waits, queued on the producer; the connection is then
 * suspended until Kafka acknowledges the record (acks=all), and resumed with the endpoint's
 * response, or 503 + Retry-After when no acknowledgement came within HOOKD_INGRESS_ACK_TIMEOUT_MS
 * (the producer's message.timeout.ms). Nothing is answered as accepted before Kafka holds it.
 */
#include "ingress.h"

#include "hk_cmd.h"
#include "hk_producer.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define IDLE_TIMEOUT_S 10u
#define MAX_CONNECTIONS 4096u
#define PER_IP_CONNECTIONS 256u /* a provider sends from few addresses, over many connections */
/* Headers and the read buffer: bounds the header size. libmicrohttpd clears a connection's
 * pool for each request, so its size is paid per request: 32 KiB, as nginx's default
 * large_client_header_buffers (4 x 8k). */
#define CONNECTION_MEMORY (32u * 1024u)
#define MAX_HEADERS 100
/* A claim is pending while its record waits for Kafka (at most HOOKD_INGRESS_ACK_TIMEOUT_MS)
 * and then some; one left behind (a claim Redis made after its request gave up on it, or a
 * process that died) expires soon after, and the provider's retry is taken: its event id is
 * free again, and hookd-ingress's sweep puts its waits back (endpoints.c). */
#define CLAIM_MARGIN_S 10
#define SEEN_TTL_S (24 * 3600)
/* A JSON body's wait values are found by walking its text once per path (no tree), up to this
 * many paths; past it the body is parsed once instead, so a request costs at most about this
 * many reads of its body however many shapes and paths its endpoint's waits have. */
#define TEXT_WALKS_MAX 8
/* Claims answered "stale" (the endpoint's wait shapes moved meanwhile) before a 503. */
#define CLAIM_TRIES 3
#define RETRY_AFTER_S "5"
#define HEADER_DEADLINE_MS 5000u /* a request's headers must be in within this */
#define SWEEP_MS 250u
/* Bodies buffered at once, in all: 16 of the largest (160 MiB with the default limit). A
 * request that would pass it is answered 503, so many slow uploads cannot take the memory. */
#define BODY_BUDGET_FACTOR 16u

/* An endpoint's success reply, built once and queued for each of its requests (libmicrohttpd
 * counts the connections that hold a response). Matched by content, not by the endpoint's
 * address alone, which a later snapshot may reuse. */
typedef struct cached_reply {
    const void *ep;
    int status;
    char *content_type, *body;
    struct MHD_Response *resp;
} cached_reply;
#define REPLY_CACHE 16
/* An endpoint's recent requests take at most RECENT_PER_S entries a second of each kind (accepted,
 * anything else) from one loop: under load they sample, and a flood of forgeries costs Redis
 * little. Slots are by a hash of the endpoint's id: two endpoints may share one. */
#define RECENT_SLOTS 256
#define RECENT_PER_S 10u

struct ing_loop {
    const hk_config *cfg;
    hk_store_config scfg;
    hk_loop *loop;
    struct MHD_Daemon *daemon;
    uint16_t port;
    hk_timer *mhd_timer;
    hk_timer *stop_timer;
    int wake_fd;        /* ing_loop_stop's eventfd */
    atomic_int command; /* 1: stop with grace, 2: stop now */
    hk_producer *producer;
    hk_store *store;       /* state changes, on the loop (rare); reopened after a failure */
    hk_store_async *redis; /* event ids and waits claimed, without waiting on Redis */
    ing_shapes *shapes;    /* the endpoints' wait shapes, as this loop last read them */
    ing_endpoints *endpoints;
    size_t budget;      /* bytes of request bodies held at once, by every loop together */
    struct conn *conns; /* every open connection, for the header deadline */
    hk_timer *sweep_timer;
    size_t waiting;            /* requests suspended until Kafka answers */
    struct request *suspended; /* those requests, so that a stop can answer each */
    bool stopping;
    uint64_t stop_by;
    int status;
    cached_reply replies[REPLY_CACHE];
    struct {
        uint64_t second;
        unsigned n;
    } recent[RECENT_SLOTS]; /* entries written to recent requests, by endpoint and kind */
};
typedef struct ing_loop ingress;

/* One connection, from its accept to its close: when its next request's headers, or its
 * current request's body, are due. */
typedef struct conn {
    struct conn *prev, *next;
    int fd;
    uint64_t deadline_ms; /* 0: the request is whole and being handled (or waiting) */
} conn;

/* One request, from its URI to its completion. */
typedef struct request {
    struct request *prev, *next; /* in ingress.suspended while waiting */
    ingress *g;
    struct MHD_Connection *con;
    char *uri; /* as received, with the query */
    bool headers_in;
    bool started;
    hk_buf body;
    bool too_big;
    bool over_budget; /* refused: the bodies held in all would pass the budget */
    bool waiting;     /* suspended until its claim or its acknowledgement comes back */
    bool claiming;    /* waiting for Redis's answer to its claim */
    int answer;       /* an answer: what it is answered when resumed */
    hk_buf rec;       /* its record: built before the claim, its waits added once claimed */
    ing_snapshot *snap;
    const hk_inbound_endpoint *ep; /* in snap */
    char event_id[128];            /* its provider's event id, or "" */
    char record_id[32];
    bool holds;      /* it claimed its event id or waits: done on success, released on failure */
    size_t waits;    /* how many waits it claimed */
    int claim_tries; /* claims answered stale */
    bool json_body;  /* the body is JSON (checked): no tree unless its waits test many paths */
    cJSON *doc;      /* its JSON form (owned), or NULL: a JSON body's is made only then */
    uint64_t t0;
    /* what it was answered, for the endpoint's recent requests (note()): set once it has an
     * endpoint; an unknown endpoint's requests are not recorded */
    uint64_t at_ms; /* wall clock, at its headers */
    char method[8];
    unsigned status;
    const char *outcome; /* accepted, duplicate, challenge, rejected, malformed, ... */
    char reason[40];
    char detail[sizeof((hk_error *)0)->msg]; /* as long as an error line */
} request;

/* ------------------------------------------------------------------------- replies --- */

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    if (status == 503)
        MHD_add_response_header(resp, "Retry-After", RETRY_AFTER_S);
    enum MHD_Result rc = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *con, unsigned status, const char *text)
{
    return reply(con, status, "text/plain", text, strlen(text));
}

/* What a request to a known endpoint was answered, kept for its recent requests. */
static void note(request *r, unsigned status, const char *outcome, const char *reason,
                 const char *detail)
{
    r->status = status;
    r->outcome = outcome;
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
    snprintf(r->detail, sizeof r->detail, "%s", detail ? detail : "");
}

/* 404 with no detail; the reason goes to the log and the metric only (and, for a known
 * endpoint, to its recent requests, which its owner reads through the admin API). */
static enum MHD_Result refuse(request *r, const char *id, ing_reject reason, const char *detail)
{
    const char *label = reason == ING_REJECT_UNKNOWN    ? "unknown_endpoint"
                        : reason == ING_REJECT_DISABLED ? "disabled"
                                                        : hk_inbound_reject_label(reason);
    ing_count(ING_REJECTED);
    ing_count_rejected(reason);
    hk_log_field f[] = {HK_STR("endpointId", id), HK_STR("reason", label)};
    HK_LOGF(HK_LOG_INFO, "inbound.rejected", f, "request to %.80s refused: %s%s%s", id, label,
            detail && *detail ? ": " : "", detail ? detail : "");
    if (r->ep)
        note(r, 404, "rejected", label, detail);
    return reply(r->con, 404, NULL, "", 0);
}

static enum MHD_Result unavailable(request *r, const char *why)
{
    ing_count(ING_UNAVAILABLE);
    hk_log_field f[] = {HK_STR("endpointId", r->ep ? r->ep->id : "")};
    HK_LOGF(HK_LOG_WARN, "inbound.unavailable", f, "answered 503: %s", why);
    if (r->ep)
        note(r, 503, "unavailable", NULL, why);
    return reply(r->con, 503, NULL, "", 0);
}

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void forget_reply(cached_reply *c)
{
    if (c->resp)
        MHD_destroy_response(c->resp); /* freed once the last connection holding it is done */
    free(c->content_type);
    free(c->body);
    memset(c, 0, sizeof *c);
}

/* The endpoint's success reply, from the loop's cache (built on a miss). */
static struct MHD_Response *success_reply(ingress *g, const hk_inbound_endpoint *ep)
{
    const hk_inbound_response *want = &ep->response;
    cached_reply *c = &g->replies[((uintptr_t)ep >> 4) % REPLY_CACHE];
    if (c->resp && c->ep == ep && c->status == want->status &&
        same_text(c->content_type, want->content_type) && same_text(c->body, want->body))
        return c->resp;
    forget_reply(c);
    const char *body = want->body ? want->body : "";
    c->resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (c->resp && want->content_type)
        MHD_add_response_header(c->resp, "Content-Type", want->content_type);
    c->ep = ep;
    c->status = want->status;
    c->content_type = want->content_type ? hk_strdup(want->content_type) : NULL;
    c->body = want->body ? hk_strdup(want->body) : NULL;
    return c->resp;
}

static enum MHD_Result accepted(request *r, ing_outcome outcome)
{
    ing_count(outcome);
    note(r, (unsigned)r->ep->response.status, outcome == ING_DUPLICATE ? "duplicate" : "accepted",
         NULL, NULL);
    struct MHD_Response *resp = success_reply(r->g, r->ep);
    return resp ? MHD_queue_response(r->con, (unsigned)r->ep->response.status, resp) : MHD_NO;
}

/* ------------------------------------------------------------------------ the store --- */

static hk_store *store_of(ingress *g)
{
    hk_error err = {0};
    if (!g->store && hk_store_open(&g->scfg, &g->store, &err) != HK_OK)
        HK_WARN("inbound.redis", "%s", err.msg);
    return g->store;
}

static void store_failed(ingress *g, const hk_error *err)
{
    HK_WARN("inbound.redis", "%s", err->msg);
    hk_store_close(g->store);
    g->store = NULL;
}

/* The endpoint proved itself (a signature that passed, a challenge answered): verified from
 * now, written through; the snapshot follows at the refresher's next turn. */
static void mark_verified(ingress *g, const hk_inbound_endpoint *ep)
{
    hk_store *s = store_of(g);
    hk_error err = {0};
    bool changed = false;
    if (!s || hk_store_inbound_set_state(s, ep->id, true, hk_wall_ms(), &changed, &err) != HK_OK) {
        if (s)
            store_failed(g, &err);
        return;
    }
    if (changed) {
        hk_log_field f[] = {HK_STR("endpointId", ep->id)};
        HK_LOGF(HK_LOG_INFO, "inbound.verified", f, "inbound endpoint %s is verified", ep->id);
        ing_endpoints_poke(g->endpoints);
    }
}

/* ------------------------------------------------------------------------ a request --- */

typedef struct header_list {
    hk_kv kv[MAX_HEADERS];
    size_t n;
    bool too_many;
} header_list;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    header_list *h = cls;
    if (h->n == MAX_HEADERS) {
        h->too_many = true;
        return MHD_NO;
    }
    h->kv[h->n++] = (hk_kv){.key = (char *)key, .value = (char *)(value ? value : "")};
    return MHD_YES;
}

/* The URL as the provider sees it: the endpoint's publicUrl, else scheme://Host + the URI. */
static void request_url(const request *r, const hk_inbound_request *req, hk_buf *out)
{
    if (r->ep->public_url) {
        hk_buf_puts(out, r->ep->public_url);
        return;
    }
    const char *proto = hk_inbound_header(req, "X-Forwarded-Proto");
    const char *host = hk_inbound_header(req, "Host");
    hk_buf_puts(out, proto && *proto ? proto : "http"); /* per request: no format to parse */
    hk_buf_puts(out, "://");
    hk_buf_puts(out, host ? host : "localhost");
    hk_buf_puts(out, r->uri);
}

static void suspend(request *r)
{
    ingress *g = r->g;
    r->waiting = true;
    r->prev = NULL;
    r->next = g->suspended;
    if (g->suspended)
        g->suspended->prev = r;
    g->suspended = r;
    g->waiting++;
    MHD_suspend_connection(r->con);
}

static void resume(request *r)
{
    ingress *g = r->g;
    if (r->prev)
        r->prev->next = r->next;
    else
        g->suspended = r->next;
    if (r->next)
        r->next->prev = r->prev;
    g->waiting--;
    MHD_resume_connection(r->con);
    hk_timer_start(g->mhd_timer, 0); /* serve it now, not at the next network event */
}

/* What a request suspended after its verification is answered when it resumes (or at once,
 * when nothing had to wait): PENDING while Redis or Kafka has yet to answer. */
typedef enum {
    ANSWER_PENDING,
    ANSWER_ACCEPTED,
    ANSWER_DUPLICATE,
    ANSWER_BUSY,
    ANSWER_NO_ACK,
    ANSWER_TOO_LARGE,
    ANSWER_QUEUE_FULL,
    ANSWER_FATAL,
} answer;

static enum MHD_Result answer_now(request *r, answer a)
{
    switch (a) {
    case ANSWER_ACCEPTED:
        return accepted(r, ING_ACCEPTED);
    case ANSWER_DUPLICATE:
        return accepted(r, ING_DUPLICATE);
    case ANSWER_BUSY:
        return unavailable(r, "Redis did not answer the claim of its event id and waits, or "
                              "another request holds its event id right now");
    case ANSWER_NO_ACK:
        return unavailable(r, "Kafka did not acknowledge the record in time");
    case ANSWER_TOO_LARGE:
        ing_count(ING_TOO_LARGE);
        note(r, 413, "too_large", NULL, "the record would pass the producer's message.max.bytes");
        return reply(r->con, 413, NULL, "", 0);
    case ANSWER_FATAL:
        return unavailable(r, "the producer failed fatally");
    case ANSWER_QUEUE_FULL:
    case ANSWER_PENDING:
        break;
    }
    return unavailable(r, "the producer's queue is full");
}

/* Resumes a suspended request with its answer. */
static void finish(request *r, answer a)
{
    r->answer = (int)a;
    resume(r);
}

/* The record will not reach Kafka: its event id is forgotten and its waits put back. */
static void release_async(request *r)
{
    if (r->holds && r->g->redis) {
        hk_store_inbound_accept_release_async(r->g->redis, r->ep->id, r->record_id, r->event_id,
                                              r->waits > 0);
        ing_count_waits(ING_WAITS_RESTORED, r->waits);
    }
    r->holds = false;
}

static void on_ack(int err, const char *errstr, void *arg)
{
    request *r = arg;
    ingress *g = r->g;
    if (err) {
        hk_log_field f[] = {HK_STR("endpointId", r->ep->id)};
        HK_LOGF(HK_LOG_WARN, "inbound.publish.failed", f, "record for %s not acknowledged: %s",
                g->cfg->ingress_topic, errstr);
        release_async(r);
    } else {
        ing_observe_ack(hk_now_ms() - r->t0);
        if (r->holds && g->redis)
            hk_store_inbound_accept_done_async(g->redis, r->ep->id, r->record_id, r->event_id,
                                               SEEN_TTL_S, r->waits > 0);
        r->holds = false;
    }
    finish(r, err ? ANSWER_NO_ACK : ANSWER_ACCEPTED);
}

/* Queues the record built in r->rec. PENDING: on_ack answers it; anything else is the answer
 * now, and its claim is released. */
static answer send_record(request *r)
{
    ingress *g = r->g;
    const char *key = r->ep->flow_id;
    int rc = hk_producer_send(g->producer, g->cfg->ingress_topic, key, strlen(key), r->rec.data,
                              r->rec.len, on_ack, r);
    size_t len = r->rec.len;
    hk_buf_free(&r->rec);
    if (rc == HK_PRODUCE_QUEUED)
        return ANSWER_PENDING;
    release_async(r);
    if (rc == HK_PRODUCE_TOO_LARGE) {
        hk_log_field f[] = {HK_STR("endpointId", r->ep->id)};
        HK_LOGF(HK_LOG_WARN, "inbound.too_large", f,
                "a record of %zu bytes passes the producer's message.max.bytes (%zu): raise "
                "HOOKD_KAFKA_MESSAGE_MAX_BYTES and the topic's max.message.bytes, or lower "
                "HOOKD_INGRESS_MAX_BODY",
                len, hk_producer_max_message_bytes(g->producer));
        return ANSWER_TOO_LARGE;
    }
    if (rc == HK_PRODUCE_FATAL) {
        g->status = 1;
        hk_loop_stop(g->loop);
        return ANSWER_FATAL;
    }
    return ANSWER_QUEUE_FULL;
}

static int claim_pending_s(const ingress *g)
{
    return (g->cfg->ingress_ack_timeout_ms + 999) / 1000 + CLAIM_MARGIN_S;
}

static void on_claimed(int rc, const hk_store_accepted *res, void *arg);

/* Claims the request's event id and the waits its payload matches, one Redis step (store/),
 * with one lookup per wait shape of the endpoint as this loop knows them. PENDING: on_claimed
 * goes on; anything else is the answer now. */
static answer claim(request *r)
{
    ingress *g = r->g;
    if (!g->redis)
        return ANSWER_BUSY;
    const ing_shape_set *set = ing_shapes_get(g->shapes, r->ep->id);
    char lookups[HK_STORE_ACCEPT_LOOKUPS_MAX][ING_LOOKUP_LEN];
    const char *ptrs[HK_STORE_ACCEPT_LOOKUPS_MAX];
    size_t n = 0;
    if (set && set->paths && r->json_body && set->paths <= TEXT_WALKS_MAX) {
        n = ing_shapes_lookups(set, NULL, r->body.data, r->body.len, lookups);
    } else if (set) {
        if (set->paths && r->json_body && !r->doc) { /* many paths: one parse beats many walks */
            size_t bom = r->body.len >= 3 && memcmp(r->body.data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
            r->doc = cJSON_ParseWithLength(r->body.data + bom, r->body.len - bom);
        }
        n = ing_shapes_lookups(set, set->paths ? r->doc : NULL, NULL, 0, lookups);
    }
    for (size_t i = 0; i < n; i++)
        ptrs[i] = lookups[i];
    hk_store_accept q = {.endpoint_id = r->ep->id,
                         .record_id = r->record_id,
                         .event_id = r->event_id,
                         .pending_ttl_s = claim_pending_s(g),
                         .version = set ? set->version : -1,
                         .event_held = r->holds,
                         .lookups = ptrs,
                         .lookups_len = n};
    if (hk_store_inbound_accept_async(g->redis, &q, on_claimed, r) != HK_OK)
        return ANSWER_BUSY;
    r->claiming = true;
    return ANSWER_PENDING;
}

/* The waits a request claimed, in the log (the first few refs: the rest are in its record). */
static void log_claimed(const request *r, const hk_store_accepted *res)
{
    hk_buf refs = {0};
    for (size_t i = 0; i < res->refs_len && i < 5; i++)
        hk_buf_printf(&refs, "%s%.100s", i ? ", " : "", res->refs[i]);
    hk_log_field f[] = {HK_STR("endpointId", r->ep->id), HK_STR("recordId", r->record_id),
                        HK_NUM("waits", (double)res->refs_len)};
    HK_LOGF(HK_LOG_INFO, "inbound.waits.claimed", f, "request %s claimed %zu wait(s): %s%s",
            r->record_id, res->refs_len, refs.data, res->refs_len > 5 ? ", ..." : "");
    hk_buf_free(&refs);
}

/* Redis answered the claim: the event was accepted already (success), another request holds it
 * or Redis failed (503), or the event id is this request's now; then the shapes moved (claim
 * again with them), or here are the waits it claimed: the record is finished with them and
 * queued. Whatever it holds is released when the answer is not to wait for Kafka. */
static void on_claimed(int rc, const hk_store_accepted *res, void *arg)
{
    request *r = arg;
    ingress *g = r->g;
    r->claiming = false;
    answer a = ANSWER_BUSY;
    if (rc == HK_OK && res->event == HK_EVENT_DONE) {
        a = ANSWER_DUPLICATE;
    } else if (rc == HK_OK && res->event == HK_EVENT_CLAIMED) {
        r->holds = r->holds || r->event_id[0];
        if (res->stale) {
            ing_shapes_put(g->shapes, r->ep->id, res->version, res->shape_ids, res->shape_jsons,
                           res->shapes_len);
            if (++r->claim_tries < CLAIM_TRIES && !g->stopping)
                a = claim(r);
        } else {
            r->holds = r->holds || res->refs_len;
            r->waits = res->refs_len;
            ing_count_waits(ING_WAITS_CLAIMED, res->refs_len);
            ing_count_waits(ING_WAITS_EXPIRED, (uint64_t)res->expired);
            ing_shapes_set_version(g->shapes, r->ep->id, res->version);
            if (res->refs_len)
                log_claimed(r, res);
            hk_inbound_record_write_tail(res->refs, res->refs_len, &r->rec);
            a = send_record(r);
        }
    }
    if (a != ANSWER_PENDING) {
        release_async(r);
        hk_buf_free(&r->rec);
        finish(r, a);
    }
}

/* Builds the record; claims the provider's event id and the waits without waiting; suspends
 * the connection until Redis and then Kafka answer. The payload (doc) becomes the request's. */
static enum MHD_Result publish(request *r, const hk_inbound_request *req,
                               const hk_inbound_verdict *v, const char *content_type, cJSON *doc,
                               bool json_body, const cJSON *query)
{
    hk_inbound_record_id(r->record_id);
    r->doc = doc;
    r->json_body = json_body;
    hk_inbound_record_params p = {.ep = r->ep,
                                  .req = req,
                                  .id = r->record_id,
                                  .content_type = content_type,
                                  .query = query,
                                  .payload = doc,
                                  .payload_is_body = json_body,
                                  .provider_event_id = v->provider_event_id,
                                  .is_credential = hk_inbound_is_credential_header,
                                  .is_credential_param = hk_inbound_is_credential_param};
    hk_inbound_record_write_head(&p, &r->rec);
    snprintf(r->event_id, sizeof r->event_id, "%s", v->provider_event_id);
    answer a = claim(r);
    if (a != ANSWER_PENDING) {
        hk_buf_free(&r->rec);
        return answer_now(r, a);
    }
    suspend(r);
    return MHD_YES;
}

/* The request's payload, query and record, once it is verified. */
static enum MHD_Result take(request *r, const hk_inbound_request *req, const hk_inbound_verdict *v)
{
    const char *ct = hk_inbound_header(req, "Content-Type");
    cJSON *payload = NULL, *query = NULL;
    hk_error err = {0};
    /* A JSON body is checked, not read into a tree: the record takes its own text. */
    bool json_body = hk_inbound_payload_kind(ct) == HK_PAYLOAD_JSON;
    int rc = json_body ? hk_inbound_payload_json_check(req->body, req->body_len, &err)
                       : hk_inbound_payload(ct, req->body, req->body_len, &payload, &err);
    if (rc == HK_OK && req->query && *req->query &&
        hk_inbound_payload("application/x-www-form-urlencoded", req->query, strlen(req->query),
                           &query, &err) != HK_OK) {
        rc = HK_EINVAL;
        snprintf(err.msg, sizeof err.msg, "query: not a valid query string");
    }
    enum MHD_Result out;
    if (rc != HK_OK) {
        ing_count(ING_MALFORMED);
        note(r, 400, "malformed", NULL, err.msg);
        hk_buf line = {0};
        hk_buf_printf(&line, "%s\n", err.msg);
        out = reply(r->con, 400, "text/plain", line.data, line.len);
        hk_buf_free(&line);
    } else {
        out = publish(r, req, v, ct, payload, json_body, query);
        payload = NULL; /* the request's now */
    }
    cJSON_Delete(payload);
    cJSON_Delete(query);
    return out;
}

/* The whole request is in: find the endpoint, verify, and take it. */
static enum MHD_Result handle(request *r, const char *method, const char *url)
{
    ingress *g = r->g;
    snprintf(r->method, sizeof r->method, "%s", method);
    const char *id = url + strlen("/in/");
    r->snap = ing_endpoints_acquire(g->endpoints);
    r->ep = ing_snapshot_find(r->snap, id);
    if (!r->ep)
        return refuse(r, id, ING_REJECT_UNKNOWN, NULL);
    if (!r->ep->enabled)
        return refuse(r, id, ING_REJECT_DISABLED, NULL);
    header_list headers = {.n = 0};
    MHD_get_connection_values(r->con, MHD_HEADER_KIND, collect_header, &headers);
    if (headers.too_many) {
        ing_count(ING_MALFORMED);
        note(r, 400, "malformed", NULL, "headers: more than 100");
        return reply_text(r->con, 400, "headers: more than 100\n");
    }
    const char *q = strchr(r->uri, '?');
    hk_inbound_request req = {.method = method,
                              .path = url,
                              .query = q ? q + 1 : NULL,
                              .headers = headers.kv,
                              .headers_len = headers.n,
                              .body = r->body.data,
                              .body_len = r->body.len,
                              .now_ms = hk_wall_ms()};
    hk_buf full = {0};
    request_url(r, &req, &full);
    hk_inbound_verdict v;
    hk_inbound_verify(r->ep, &req, full.data, &v);
    hk_buf_free(&full);
    enum MHD_Result out;
    if (v.kind == HK_VERDICT_REJECT) {
        out = refuse(r, id, (ing_reject)v.reason, v.detail);
    } else {
        if (v.marks_verified && !r->ep->verified)
            mark_verified(g, r->ep);
        if (v.kind == HK_VERDICT_CHALLENGE) {
            ing_count(ING_CHALLENGE);
            note(r, (unsigned)v.challenge_status, "challenge", NULL, NULL);
            out = reply(r->con, (unsigned)v.challenge_status, v.challenge_content_type,
                        v.challenge_body.data ? v.challenge_body.data : "", v.challenge_body.len);
        } else {
            out = take(r, &req, &v);
        }
    }
    hk_inbound_verdict_free(&v);
    return out;
}

/* ------------------------------------------------------------------- libmicrohttpd --- */

static bool ready(const ingress *g)
{
    return !g->stopping && ing_endpoints_redis_ok(g->endpoints);
}

static enum MHD_Result serve_plain(request *r, const char *url)
{
    ingress *g = r->g;
    if (strcmp(url, "/healthz") == 0)
        return reply_text(r->con, 200, "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        bool ok = ready(g);
        hk_buf b = {0};
        hk_buf_printf(&b, "%s\nredis: %s\n", ok ? "ready" : "not ready",
                      ing_endpoints_redis_ok(g->endpoints) ? "ok" : "unreachable");
        if (g->stopping)
            hk_buf_puts(&b, "stopping\n");
        enum MHD_Result rc = reply(r->con, ok ? 200 : 503, "text/plain", b.data, b.len);
        hk_buf_free(&b);
        return rc;
    }
    if (strcmp(url, "/metrics") == 0) {
        hk_buf b = {0};
        hk_metrics_render(&b);
        enum MHD_Result rc = reply(r->con, 200, "text/plain; version=0.0.4", b.data, b.len);
        hk_buf_free(&b);
        return rc;
    }
    return reply(r->con, 404, NULL, "", 0);
}

/* Bytes of request bodies held now, by every loop of the process: one budget for them all. */
static atomic_size_t held;

/* Takes n more bytes out of the budget, or refuses (false) when they would pass it. */
static bool hold(const ingress *g, size_t n)
{
    size_t cur = atomic_load(&held);
    do {
        if (cur + n > g->budget)
            return false;
    } while (!atomic_compare_exchange_weak(&held, &cur, cur + n));
    return true;
}

/* When this connection's client must have sent what it owes (0: nothing is owed). */
static void set_deadline(struct MHD_Connection *con, uint64_t at_ms)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context)
        ((conn *)ci->socket_context)->deadline_ms = at_ms;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    ingress *g = cls;
    request *r = *con_cls;
    if (!r->headers_in) { /* the first call comes once every header is in: the body's turn */
        r->headers_in = true;
        set_deadline(con, hk_now_ms() + (uint64_t)g->cfg->ingress_body_timeout_ms);
    }
    if (r->waiting) { /* resumed by Redis's or Kafka's answer */
        r->waiting = false;
        return answer_now(r, (answer)r->answer);
    }
    if (strncmp(url, "/in/", 4) != 0)
        return serve_plain(r, url);
    if (!r->started) {
        r->started = true;
        r->con = con;
        r->t0 = hk_now_ms();
        r->at_ms = hk_wall_ms();
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)g->cfg->ingress_max_body) {
            ing_count(ING_TOO_LARGE);
            return reply(con, 413, NULL, "", 0);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        bool dropping = r->too_big || r->over_budget;
        if (!dropping && r->body.len + *upload_size > (size_t)g->cfg->ingress_max_body)
            r->too_big = true;
        else if (!dropping && !hold(g, *upload_size))
            r->over_budget = true;
        if (r->too_big || r->over_budget) { /* read and dropped from here on */
            atomic_fetch_sub(&held, r->body.len);
            hk_buf_free(&r->body);
        } else {
            hk_buf_append(&r->body, upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    set_deadline(con, 0); /* the request is whole */
    if (r->too_big) {
        ing_count(ING_TOO_LARGE);
        return reply(con, 413, NULL, "", 0);
    }
    if (r->over_budget)
        return unavailable(r, "request bodies held in all would pass the budget "
                              "(16 x HOOKD_INGRESS_MAX_BODY)");
    return handle(r, method, url);
}

/* Called once the request line is read (before its headers): the request's state. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    request *r = hk_xcalloc(1, sizeof *r);
    r->g = cls;
    r->con = con;
    r->uri = hk_strdup(uri ? uri : "/");
    return r;
}

/* The request, answered, at the head of its endpoint's recent requests in Redis (docs/inbound.md,
 * "Recent requests"): when, how it came and what it was answered, never a header or the body. */
static bool recent_allowed(ingress *g, const char *endpoint_id, bool accepted)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)endpoint_id; *p; p++)
        h = (h ^ *p) * 16777619u;
    size_t slot = ((size_t)h * 2 + accepted) % RECENT_SLOTS;
    uint64_t second = hk_now_ms() / 1000;
    if (g->recent[slot].second != second) {
        g->recent[slot].second = second;
        g->recent[slot].n = 0;
    }
    return g->recent[slot].n++ < RECENT_PER_S;
}

static void remember(const request *r)
{
    static atomic_uint seq;
    if (!recent_allowed(r->g, r->ep->id, strcmp(r->outcome, "accepted") == 0))
        return;
    cJSON *o = cJSON_CreateObject();
    char id[48], at[32];
    if (r->record_id[0] && strcmp(r->outcome, "accepted") == 0)
        snprintf(id, sizeof id, "%s", r->record_id);
    else
        snprintf(id, sizeof id, "rq_%llx%04x", (unsigned long long)r->at_ms,
                 atomic_fetch_add(&seq, 1) & 0xffffu);
    hk_format_time(r->at_ms, at);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "at", at);
    cJSON_AddStringToObject(o, "method", r->method);
    cJSON_AddNumberToObject(o, "status", r->status);
    cJSON_AddStringToObject(o, "outcome", r->outcome);
    if (r->reason[0])
        cJSON_AddStringToObject(o, "reason", r->reason);
    if (r->detail[0]) /* our own words, but a payload's error may quote the payload */
        cJSON_AddStringToObject(o, "detail",
                                hk_utf8_valid(r->detail, strlen(r->detail))
                                    ? r->detail
                                    : "(a detail that is not UTF-8 text)");
    if (r->event_id[0])
        cJSON_AddStringToObject(o, "eventId", r->event_id);
    cJSON_AddNumberToObject(o, "bytes", (double)r->body.len);
    cJSON_AddNumberToObject(o, "latencyMs", (double)(hk_now_ms() - r->t0));
    char *text = cJSON_PrintUnformatted(o);
    hk_store_inbound_recent_push_async(r->g->redis, r->ep->id, text);
    free(text);
    cJSON_Delete(o);
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)why;
    request *r = *con_cls;
    if (!r)
        return;
    atomic_fetch_sub(&held, r->body.len);
    if (r->ep && r->outcome && r->g->redis)
        remember(r);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context) /* a kept-alive connection's next request: from now */
        ((conn *)ci->socket_context)->deadline_ms = hk_now_ms() + HEADER_DEADLINE_MS;
    ing_snapshot_release(r->snap);
    hk_buf_free(&r->body);
    hk_buf_free(&r->rec);
    cJSON_Delete(r->doc);
    free(r->uri);
    free(r);
    *con_cls = NULL;
}

/* Every connection is tracked from its accept to its close (libmicrohttpd calls this on the
 * loop's thread, in MHD_run). */
static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    ingress *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn *c = hk_xcalloc(1, sizeof *c);
        c->fd = ci ? ci->connect_fd : -1;
        c->deadline_ms = hk_now_ms() + HEADER_DEADLINE_MS;
        c->next = g->conns;
        if (g->conns)
            g->conns->prev = c;
        g->conns = c;
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        conn *c = *socket_context;
        if (c->prev)
            c->prev->next = c->next;
        else
            g->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        free(c);
        *socket_context = NULL;
    }
}

/* libmicrohttpd's own timeout is an idle one, and a client trickling a byte every few seconds is
 * never idle: a connection whose request headers (HEADER_DEADLINE_MS) or body
 * (HOOKD_INGRESS_BODY_TIMEOUT_MS from its headers) are not in by their deadline is shut down
 * (libmicrohttpd then closes it). */
static void on_sweep_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    ingress *g = arg;
    uint64_t now = hk_now_ms();
    for (conn *c = g->conns; c; c = c->next)
        if (c->deadline_ms && now >= c->deadline_ms && c->fd >= 0) {
            shutdown(c->fd, SHUT_RDWR);
            c->deadline_ms = 0;
            ing_count_slow_client();
        }
    hk_timer_start(g->sweep_timer, SWEEP_MS);
}

/* libmicrohttpd's turn, then its next deadline as the loop's timer. */
static void run_http(ingress *g)
{
    MHD_run(g->daemon);
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(g->daemon, &ms) != MHD_YES || ms > 1000)
        ms = 1000;
    hk_timer_start(g->mhd_timer, ms);
}

static void on_http_io(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    run_http(arg);
}

static void on_http_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    run_http(arg);
}

/* ------------------------------------------------------------------------- stopping --- */

static void on_stop_timer(hk_loop *loop, void *arg)
{
    ingress *g = arg;
    if (g->waiting == 0 || hk_now_ms() >= g->stop_by) {
        HK_INFO("shutdown",
                "stopped: %zu requests still waiting for Kafka (their providers "
                "send them again)",
                g->waiting);
        hk_loop_stop(loop);
        return;
    }
    hk_timer_start(g->stop_timer, 50);
}

/* ing_loop_stop's command, on this loop's thread. */
static void on_wake(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)events;
    ingress *g = arg;
    uint64_t n;
    while (read(fd, &n, sizeof n) == (ssize_t)sizeof n)
        ;
    if (atomic_load(&g->command) >= 2) {
        hk_loop_stop(loop);
        return;
    }
    if (g->stopping)
        return;
    g->stopping = true;
    g->stop_by = hk_now_ms() + (uint64_t)g->cfg->shutdown_grace_ms;
    hk_timer_start(g->stop_timer, 0);
}

void ing_loop_stop(ing_loop *g, bool now)
{
    int want = now ? 2 : 1, cur = atomic_load(&g->command);
    while (cur < want && !atomic_compare_exchange_weak(&g->command, &cur, want))
        ;
    uint64_t one = 1;
    ssize_t n = write(g->wake_fd, &one, sizeof one); /* cannot fail short of 2^64 - 1 wakes */
    (void)n;
}

/* ---------------------------------------------------------------------------- run --- */

/* The producer, with message.timeout.ms = HOOKD_INGRESS_ACK_TIMEOUT_MS: a record Kafka has not
 * acknowledged by then comes back as an error, and its request gets 503. Its linger is 2 ms
 * unless HOOKD_KAFKA_LINGER_MS says otherwise: a provider waits for every record's
 * acknowledgement, so the producer's default of 20 ms (made for the worker's outcome bursts)
 * would be 20 ms on every answer. */
static int start_producer(ingress *g, bool ensure_topic, hk_error *err)
{
    const hk_config *cfg = g->cfg;
    hk_kv *kv = hk_xcalloc(cfg->kafka_len + 2, sizeof *kv);
    size_t n = 0;
    kv[n++] = (hk_kv){.key = "linger.ms", .value = "2"}; /* before the user's: theirs wins */
    for (size_t i = 0; i < cfg->kafka_len; i++)
        if (strcmp(cfg->kafka[i].key, "message.timeout.ms") != 0)
            kv[n++] = cfg->kafka[i];
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", cfg->ingress_ack_timeout_ms);
    kv[n++] = (hk_kv){.key = "message.timeout.ms", .value = timeout};
    int rc = hk_producer_create(g->loop, kv, n, &g->producer, err);
    free(kv);
    if (rc != HK_OK)
        return rc;
    const char *topics[] = {cfg->ingress_topic};
    if (ensure_topic &&
        (rc = hk_producer_ensure_topics(g->producer, topics, 1, cfg->topic_partitions,
                                        cfg->topic_replication, 10000, err)) != HK_OK)
        return rc;
    hk_producer_prepare(g->producer, topics, 1);
    return HK_OK;
}

/* Its own listening socket: with several loops, each on the same port with SO_REUSEPORT, so
 * the kernel spreads the connections among them (port 0: the first loop's port). */
static int start_http(ingress *g, uint16_t port, bool reuse, hk_error *err)
{
    struct sockaddr_in sa;
    if (hk_cmd_listen_addr("HOOKD_INGRESS_LISTEN", g->cfg->ingress_listen, &sa, err) != HK_OK)
        return HK_EINVAL;
    if (port)
        sa.sin_port = htons(port);
    g->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, ntohs(sa.sin_port), NULL, NULL, on_request, g,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_LISTENING_ADDRESS_REUSE,
        (unsigned)(reuse ? 1 : 0), MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        PER_IP_CONNECTIONS, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, g, MHD_OPTION_NOTIFY_COMPLETED, on_completed, g,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, g, MHD_OPTION_END);
    if (!g->daemon)
        return hk_error_set(err, HK_ERR, "HOOKD_INGRESS_LISTEN", "cannot listen on %s",
                            g->cfg->ingress_listen);
    g->port = MHD_get_daemon_info(g->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    int efd = MHD_get_daemon_info(g->daemon, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
    hk_loop_io(g->loop, efd, HK_IO_READ, on_http_io, g);
    g->mhd_timer = hk_timer_create(g->loop, on_http_timer, g);
    hk_timer_start(g->mhd_timer, 0);
    g->sweep_timer = hk_timer_create(g->loop, on_sweep_timer, g);
    hk_timer_start(g->sweep_timer, SWEEP_MS);
    g->budget = (size_t)g->cfg->ingress_max_body * BODY_BUDGET_FACTOR;
    return HK_OK;
}

/* At teardown only: the loop no longer runs, so the claim is released on a connection of its
 * own, and waited for. */
static void release_claim_now(request *r)
{
    hk_store *s = store_of(r->g);
    hk_error err = {0};
    if (s &&
        hk_store_inbound_accept_release(s, r->ep->id, r->record_id, r->event_id, &err) != HK_OK)
        store_failed(r->g, &err);
    else if (s)
        ing_count_waits(ING_WAITS_RESTORED, r->waits);
    r->holds = false;
}

void ing_loop_close(ing_loop *g)
{
    if (!g)
        return;
    /* Requests still waiting (a second signal, or the grace ran out) are answered 503: their
     * providers send them again; a suspended connection must be resumed before the daemon
     * stops. Those waiting for Redis get their claim's failure from the close (a claim Redis
     * made meanwhile expires by its TTL, claim_pending_s); those waiting for Kafka have their
     * claims released, and what Kafka acknowledges later is a duplicate the flow's consumer absorbs
     * by providerEventId. */
    hk_store_async *redis = g->redis;
    g->redis = NULL;
    hk_store_async_close(redis);
    while (g->suspended) {
        request *r = g->suspended;
        if (r->holds)
            release_claim_now(r);
        finish(r, ANSWER_NO_ACK);
    }
    for (int i = 0; g->daemon && i < 3; i++)
        MHD_run(g->daemon);
    if (g->daemon)
        MHD_stop_daemon(g->daemon);
    hk_timer_destroy(g->mhd_timer);
    hk_timer_destroy(g->sweep_timer);
    hk_timer_destroy(g->stop_timer);
    hk_producer_destroy(g->producer, 5000);
    for (size_t i = 0; i < REPLY_CACHE; i++)
        forget_reply(&g->replies[i]);
    hk_store_close(g->store); /* the endpoints are ing_run's, shared */
    ing_shapes_destroy(g->shapes);
    if (g->wake_fd >= 0)
        close(g->wake_fd);
    hk_loop_destroy(g->loop);
    free(g);
}

int ing_loop_open(const hk_config *cfg, ing_endpoints *endpoints, uint16_t port, bool reuse,
                  bool ensure_topic, ing_loop **out, hk_error *err)
{
    ingress *g = hk_xcalloc(1, sizeof *g);
    *g = (ingress){.cfg = cfg, .scfg = hk_store_config_of(cfg), .endpoints = endpoints};
    g->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = HK_ERR;
    if (g->wake_fd < 0 || !(g->loop = hk_loop_create())) {
        hk_error_set(err, HK_ERR, NULL, "cannot create an event loop");
        goto fail;
    }
    g->stop_timer = hk_timer_create(g->loop, on_stop_timer, g);
    g->shapes = ing_shapes_create();
    hk_loop_io(g->loop, g->wake_fd, HK_IO_READ, on_wake, g);
    if ((rc = hk_store_async_open(&g->scfg, g->loop, &g->redis, err)) != HK_OK ||
        (rc = start_producer(g, ensure_topic, err)) != HK_OK ||
        (rc = start_http(g, port, reuse, err)) != HK_OK)
        goto fail;
    *out = g;
    return HK_OK;
fail:
    ing_loop_close(g);
    return rc;
}

uint16_t ing_loop_port(const ing_loop *g)
{
    return g->port;
}

int ing_loop_run(ing_loop *g)
{
    hk_loop_run(g->loop);
    return g->status;
}
