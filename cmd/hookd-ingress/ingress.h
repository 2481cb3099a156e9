/*
 * ingress.h — hookd-ingress's parts, private to cmd/hookd-ingress/:
 *
 *   main.c       flags, --help, --version, then ing_run
 *   endpoints.c  the endpoints in memory: an immutable snapshot, reloaded by a background thread
 *                when inbound:version moves (requests never read Redis for an endpoint)
 *   loops.c      HOOKD_THREADS loops, each on a thread of its own, and the signals
 *   server.c     one loop: libmicrohttpd in external-epoll mode on it, a request's way from
 *                headers to reply (inbound/ decides; store/ claims event ids without waiting;
 *                producer/ queues the record, whose acknowledgement resumes the suspended
 *                request)
 *   waits.c      one loop's copy of the endpoints' wait shapes, to digest a payload per shape
 *   metrics.c    hookd_ingress_* families
 *
 * Threads: each loop owns its listening socket (SO_REUSEPORT: the kernel spreads connections),
 * its Kafka producer and its Redis connections; the loops share only the endpoint snapshot
 * (under a mutex), the configuration (read-only) and the metrics (atomics). The endpoint
 * refresher is a thread of its own; the main thread waits for signals.
 */
#ifndef HK_INGRESS_H
#define HK_INGRESS_H

#include <stdatomic.h>

#include "hk_core.h"
#include "hk_inbound.h"
#include "hk_store.h"

/* ------------------------------------------------------------------------ endpoints.c --- */

typedef struct ing_snapshot ing_snapshot;
typedef struct ing_endpoints ing_endpoints;

/* Loads every endpoint once (HK_ERR with err when Redis cannot be read: the program exits 1),
 * then keeps them fresh on a thread of its own, polling every poll_ms. scfg is borrowed for the
 * life of the cache. */
int ing_endpoints_start(const hk_store_config *scfg, int poll_ms, ing_endpoints **out,
                        hk_error *err);
void ing_endpoints_stop(ing_endpoints *e); /* accepts NULL */
/* The current snapshot, with a reference the caller releases. Any thread. */
ing_snapshot *ing_endpoints_acquire(ing_endpoints *e);
void ing_snapshot_release(ing_snapshot *s); /* accepts NULL */
/* The endpoint with this id in the snapshot, or NULL. Valid while the snapshot is held. */
const hk_inbound_endpoint *ing_snapshot_find(const ing_snapshot *s, const char *id);
size_t ing_snapshot_size(const ing_snapshot *s);
/* Whether the last poll reached Redis. */
bool ing_endpoints_redis_ok(const ing_endpoints *e);
/* Reload at the next turn of the refresher (after this process changed an endpoint's state). */
void ing_endpoints_poke(ing_endpoints *e);

/* -------------------------------------------------------------------------- metrics.c --- */

/* hookd_ingress_requests_total{outcome}: one per answered request to /in/. */
typedef enum {
    ING_ACCEPTED,    /* queued and acknowledged by Kafka */
    ING_DUPLICATE,   /* its provider event id was already accepted: answered, not queued */
    ING_CHALLENGE,   /* a provider's challenge answered */
    ING_REJECTED,    /* 404: unknown or disabled endpoint, or verification failed */
    ING_MALFORMED,   /* 400 */
    ING_TOO_LARGE,   /* 413 */
    ING_UNAVAILABLE, /* 503: Kafka or Redis did not answer in time */
    ING__OUTCOMES
} ing_outcome;
void ing_count(ing_outcome outcome);
/* hookd_ingress_rejected_total{reason}: the verifier's reasons (hk_inbound_reject, labelled as
 * hk_inbound_reject_label says), then two of the program's own. */
typedef enum {
    ING_REJECT_UNKNOWN = HK_REJECT__COUNT, /* "unknown_endpoint" */
    ING_REJECT_DISABLED,                   /* "disabled" */
    ING_REJECT__COUNT
} ing_reject_extra;
typedef int ing_reject; /* an hk_inbound_reject or an ing_reject_extra */
void ing_count_rejected(ing_reject reason);
/* hookd_ingress_slow_clients_total: connections cut for not sending their headers or body in
 * time. */
void ing_count_slow_client(void);
void ing_observe_ack(uint64_t ms);
void ing_set_endpoints(int64_t n);
void ing_set_ready(bool ready);
/* hookd_ingress_waits_{claimed,expired,restored}_total, and the live waits' gauge. */
typedef enum {
    ING_WAITS_CLAIMED,
    ING_WAITS_EXPIRED,
    ING_WAITS_RESTORED,
    ING__WAIT_EVENTS
} ing_wait_event;
void ing_count_waits(ing_wait_event what, uint64_t n);
void ing_set_waits_live(int64_t n);

/* ---------------------------------------------------------------------------- waits.c --- */

/* One endpoint's wait shapes as a loop last read them (store/ says when they moved). */
typedef struct ing_shape_set {
    long long version; /* -1: never read */
    size_t n;
    hk_inbound_shape *shapes;
    size_t paths; /* the shapes' paths in all: 0, no payload is read to digest it */
} ing_shape_set;
typedef struct ing_shapes ing_shapes;             /* one loop's, not shared */
#define ING_LOOKUP_LEN (2 * HK_WAIT_HASH_LEN + 2) /* "<shape>:<digest>" */

ing_shapes *ing_shapes_create(void);
void ing_shapes_destroy(ing_shapes *c); /* accepts NULL */
/* The endpoint's shapes as last read, or NULL: never read (borrowed until the next put). */
const ing_shape_set *ing_shapes_get(const ing_shapes *c, const char *endpoint_id);
/* Replaces the endpoint's shapes by the store's answer (ids and jsons: n each, copied). A shape
 * that cannot be read is logged and left out. */
void ing_shapes_put(ing_shapes *c, const char *endpoint_id, long long version,
                    const char *const *ids, const char *const *jsons, size_t n);
/* The version moved by a shape going away (a claim took its last wait): the copy stays right. */
void ing_shapes_set_version(ing_shapes *c, const char *endpoint_id, long long version);
/* The "<shape>:<digest>" of each shape whose paths the payload has (at most
 * HK_STORE_ACCEPT_LOOKUPS_MAX), into out; how many. The payload is json (a JSON body as it came,
 * checked: its values are found in the text, no tree is built) or, when json is NULL, payload
 * (another body's JSON form, or NULL: raw). */
size_t ing_shapes_lookups(const ing_shape_set *set, const cJSON *payload, const char *json,
                          size_t json_len, char out[][ING_LOOKUP_LEN]);

/* --------------------------------------------------------------------------- server.c --- */

typedef struct ing_loop ing_loop;
/* One loop, ready to run: its Redis connection (made on first use), its producer (the topic
 * created first when ensure_topic), its listener on HOOKD_INGRESS_LISTEN's address and on port
 * (0: the setting's), with SO_REUSEPORT when reuse. HK_EINVAL for a bad setting, HK_ERR
 * otherwise (err filled). endpoints is borrowed. Built on any thread, run on one. */
int ing_loop_open(const hk_config *cfg, ing_endpoints *endpoints, uint16_t port, bool reuse,
                  bool ensure_topic, ing_loop **out, hk_error *err);
uint16_t ing_loop_port(const ing_loop *l);
/* Runs the loop until it stops; its status: 0, or 1 after a fatal producer error. */
int ing_loop_run(ing_loop *l);
/* From any thread: stop taking requests and answer those waiting within HOOKD_SHUTDOWN_GRACE_MS
 * (503 past it), or (now) stop at once. */
void ing_loop_stop(ing_loop *l, bool now);
/* Answers what still waits 503, then frees everything. Accepts NULL. */
void ing_loop_close(ing_loop *l);

/* ---------------------------------------------------------------------------- loops.c --- */

/* Serves until SIGTERM/SIGINT with HOOKD_THREADS loops. The exit status: 0 after a clean stop,
 * 1 on a runtime failure, 2 on a bad setting (err filled). */
int ing_run(const hk_config *cfg, hk_error *err);

#endif
