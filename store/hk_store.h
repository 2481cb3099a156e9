/*
 * hk_store.h — webhook tasks and delivery history in Redis.
 *
 * store owns the Redis layout (see docs/redis.md):
 *   <prefix>webhook:<id>            the task JSON (secrets in full)
 *   <prefix>flow:<flowId>:webhooks  set of the flow's task ids
 *   <prefix>space:<spaceId>:webhooks  set of the space's task ids (a task is in one set)
 *   <prefix>tasks:version           bumped (INCR) by every write; workers reload when it moves
 *   <prefix>job:<jobId>:deliveries  recent attempts, newest first, capped, 7-day expiry
 *   <prefix>rate:<id>               a rateLimit's next free slot, shared by every worker
 *   <prefix>webhook:<id>:failing    since when (Redis's ms) every delivery failed finally
 * Three pieces: synchronous task CRUD (hookctl, admin API), the worker's in-process task cache
 * (a background thread keeps an immutable snapshot fresh, so the hot path never touches Redis),
 * and the history writer (a background thread drains a bounded queue of attempt records).
 * Depends only on model and core.
 */
#ifndef HK_STORE_H
#define HK_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "hk_model.h"

#define HK_STORE_HISTORY_CAP 100               /* attempts kept per job */
#define HK_STORE_HISTORY_TTL_S (7 * 24 * 3600) /* expiry of a job's history */

typedef struct hk_store_config {
    const char *url;      /* redis://[[user][:password]@]host:port/db; borrowed */
    const char *password; /* overrides the URL's; may be NULL; borrowed; never logged */
    const char *prefix;   /* "hookd:"; borrowed */
    int max_per_flow;     /* HOOKD_MAX_WEBHOOKS_PER_FLOW */
    long timeout_ms;      /* connect and command timeout */
} hk_store_config;

/* The store's settings from the loaded configuration (HOOKD_REDIS_URL, HOOKD_REDIS_PASSWORD,
 * HOOKD_REDIS_PREFIX, HOOKD_MAX_WEBHOOKS_PER_FLOW; a 5 s timeout): the one place hookd and
 * hookctl build it. The strings are borrowed from cfg. */
hk_store_config hk_store_config_of(const hk_config *cfg);

/* ------------------------------------------------------------------ task CRUD (sync) --- */

typedef struct hk_store hk_store;

/* Connects (and authenticates, and selects the db). The config's strings are copied. */
int hk_store_open(const hk_store_config *cfg, hk_store **out, hk_error *err);
void hk_store_close(hk_store *store); /* accepts NULL */

/* Stores a new, already validated task (task->id set). Refuses with HK_ELIMIT (field "flowId",
 * or "spaceId" for a space's task) when its flow or space already has max_per_flow tasks; the
 * check and the write are one atomic script. The task is borrowed. */
int hk_store_task_create(hk_store *store, const hk_task *task, hk_error *err);
/* Replaces an existing task (HK_ENOTFOUND when absent); moves it between flows (and spaces) if
 * its flowId or spaceId changed (the limit applies to the new one). */
int hk_store_task_update(hk_store *store, const hk_task *task, hk_error *err);
/* The one path from a client's task JSON (hookctl's --file, the admin API's body) to a stored
 * task, so that hookctl and the API validate alike. Both validate every field (HK_EINVAL, err
 * naming it) and then write as above; on success *out (when out is not NULL) is the stored
 * task, the caller's.
 * create: flow_id, when not NULL (the API's path), fills in a missing flowId and must equal a
 *   given one; a masked secret ("****abcd") is refused; a missing id is generated.
 * update: the JSON's id, when given, must be id; a missing flowId keeps the task's flow; a
 *   masked secret keeps the task's secrets, so a task read back (masked), edited and written
 *   keeps them. HK_ENOTFOUND when there is no such task. */
int hk_store_task_create_json(hk_store *store, const char *flow_id, const cJSON *json,
                              hk_task **out, hk_error *err);
/* The same in a scope (the API's /v1/spaces/{spaceId}/webhooks: a space; NULL: the JSON's own):
 * the scope's field (flowId or spaceId) is filled in when missing and must equal a given one;
 * the other field, given, is refused (a task has one). */
int hk_store_task_create_in(hk_store *store, const hk_scope *scope, const cJSON *json,
                            hk_task **out, hk_error *err);
/* What create would store, read and checked the same way (flow_id, the masked secret, the
 * generated id), without Redis: a draft, for a test before saving. *out is the caller's. */
int hk_store_task_draft(const char *flow_id, const cJSON *json, hk_task **out, hk_error *err);
int hk_store_task_draft_in(const hk_scope *scope, const cJSON *json, hk_task **out, hk_error *err);
int hk_store_task_update_json(hk_store *store, const char *id, const cJSON *json, hk_task **out,
                              hk_error *err);
/* *out owned by the caller. HK_ENOTFOUND when absent. */
int hk_store_task_get(hk_store *store, const char *id, hk_task **out, hk_error *err);
/* The flow's tasks sorted by id; *out is an array of n owned tasks (free each, then the array). */
int hk_store_task_list(hk_store *store, const char *flow_id, hk_task ***out, size_t *n,
                       hk_error *err);
/* The flow's or the space's tasks, likewise. */
int hk_store_task_list_in(hk_store *store, const hk_scope *scope, hk_task ***out, size_t *n,
                          hk_error *err);
int hk_store_task_delete(hk_store *store, const char *id, hk_error *err);
/* Disables a task on the receiver's word (410 Gone): enabled false, disabledReason, disabledAt
 * (at_ms, wall clock). A compare-and-swap, so a concurrent edit is never lost; a task already
 * disabled is left as it is (*changed false; changed may be NULL). HK_ENOTFOUND when absent. */
int hk_store_task_disable(hk_store *store, const char *id, const char *reason, uint64_t at_ms,
                          bool *changed, hk_error *err);
/* A flow's tasks as one document: {"flowId", "exportedAt", "secretsIncluded", "webhooks": [tasks
 * sorted by id]}, secrets as `mode` says. *out is the caller's (cJSON_Delete). */
int hk_store_flow_export(hk_store *store, const char *flow_id, hk_secret_mode mode, cJSON **out,
                         hk_error *err);
/* A flow's or a space's tasks, likewise: the document names "flowId" or "spaceId". */
int hk_store_export_in(hk_store *store, const hk_scope *scope, hk_secret_mode mode, cJSON **out,
                       hk_error *err);

/* ------------------------------------------------------- inbound endpoints (sync, inbound.c) ---
 */

/* hookd-ingress's endpoints as JSON documents, validated by the caller (inbound/): the store
 * keeps them opaque, unique by id and by name, with their verified state and the provider event
 * ids already accepted. Layout in store/inbound.c and docs/redis.md. */

/* Writes the endpoint's JSON (secrets in full). create: HK_EINVAL "id" when the id exists;
 * update: HK_ENOTFOUND when it does not. HK_EINVAL "name" when another endpoint has the name.
 * A new endpoint starts unverified at now_ms. */
int hk_store_inbound_put(hk_store *store, const char *id, const char *name, const char *json,
                         bool create, uint64_t now_ms, hk_error *err);
/* *json is the caller's. HK_ENOTFOUND when absent. */
int hk_store_inbound_get(hk_store *store, const char *id, char **json, hk_error *err);
/* inbound:version, bumped by every endpoint write and state change (0 before the first). */
int hk_store_inbound_version(hk_store *store, long long *out, hk_error *err);
/* Every endpoint's JSON, sorted by id: n strings, the caller's (free each, then the array). */
int hk_store_inbound_list(hk_store *store, char ***jsons, size_t *n, hk_error *err);
int hk_store_inbound_delete(hk_store *store, const char *id, hk_error *err);
/* Verified or not since at_ms; only a change is written (*changed, which may be NULL, says). */
int hk_store_inbound_set_state(hk_store *store, const char *id, bool verified, uint64_t at_ms,
                               bool *changed, hk_error *err);
/* Unverified since 0 when nothing is recorded. */
int hk_store_inbound_get_state(hk_store *store, const char *id, bool *verified, uint64_t *at_ms,
                               hk_error *err);

/* An endpoint's recent requests (inbound:recent:<id>, a list): the last HK_STORE_RECENT_KEEP,
 * newest first, each an opaque JSON text written by hookd-ingress once it answered
 * (hk_store_inbound_recent_push_async), kept HK_STORE_RECENT_TTL_S after the last one and
 * deleted with the endpoint. */
#define HK_STORE_RECENT_KEEP 50
#define HK_STORE_RECENT_TTL_S (7 * 24 * 3600)
/* n strings, the caller's (free each, then the array); none for an unknown endpoint. */
int hk_store_inbound_recent(hk_store *store, const char *endpoint_id, char ***entries, size_t *n,
                            hk_error *err);

/* A provider's event id, for duplicates: claimed now (publish it, then _done, or _release if it
 * could not be published), already accepted (DONE: answer success, publish nothing), or being
 * published by another request right now (PENDING: answer 503, the provider retries). */
typedef enum { HK_EVENT_CLAIMED, HK_EVENT_DONE, HK_EVENT_PENDING } hk_event_claim;
int hk_store_inbound_event_claim(hk_store *store, const char *endpoint_id, const char *event_id,
                                 int pending_ttl_s, hk_event_claim *out, hk_error *err);
int hk_store_inbound_event_done(hk_store *store, const char *endpoint_id, const char *event_id,
                                int ttl_s, hk_error *err);
/* Forgets a claim still pending (a done one stays). */
int hk_store_inbound_event_release(hk_store *store, const char *endpoint_id, const char *event_id,
                                   hk_error *err);

/* ---------------------------------------------------------------- waits (sync, waits.c) --- */

/* The waits of flows on an endpoint (docs/inbound.md, "Waits"; layout in docs/redis.md): each
 * indexed by its shape (the set of JSON paths it tests) and digest (of the values it wants),
 * both computed by inbound/ (hk_inbound_wait), opaque here. A wait lives until its TTL passes
 * on Redis's clock, it is deleted, or a request claims it (hk_store_inbound_accept_async). */
typedef struct hk_store_wait {
    const char *ref;          /* the platform's name for it, unique on the endpoint */
    const char *shape;        /* hex id of its set of paths */
    const char *shape_json;   /* the set itself (a JSON array), stored once per shape */
    const char *digest;       /* hex digest of the values it wants */
    const char *matches_json; /* as registered, returned as it is */
    int64_t ttl_s;
} hk_store_wait;

/* A wait as read back. */
typedef struct hk_store_wait_info {
    char *ref;
    char *matches_json;
    int64_t ttl_s;
    int64_t created_ms, expires_ms; /* Redis's clock */
} hk_store_wait_info;
void hk_store_wait_info_clear(hk_store_wait_info *w);           /* frees the members */
void hk_store_wait_list_free(hk_store_wait_info *ws, size_t n); /* and the array; accepts NULL */

/* Registers w, or replaces the endpoint's wait with the same ref (*replaced; may be NULL). *out
 * (may be NULL) is the wait as stored. HK_ENOTFOUND: no such endpoint. HK_ELIMIT (field
 * "matches"): w's shape would be the endpoint's max_shapes + 1st distinct shape. */
int hk_store_wait_put(hk_store *store, const char *endpoint_id, const hk_store_wait *w,
                      int max_shapes, bool *replaced, hk_store_wait_info *out, hk_error *err);
/* The endpoint's live waits, soonest to expire first (*n = 0 when none; an unknown endpoint has
 * none). The caller frees them with hk_store_wait_list_free. */
int hk_store_wait_list(hk_store *store, const char *endpoint_id, hk_store_wait_info **out,
                       size_t *n, hk_error *err);
/* One live wait. HK_ENOTFOUND when there is none with the ref (or it expired or was claimed). */
int hk_store_wait_get(hk_store *store, const char *endpoint_id, const char *ref,
                      hk_store_wait_info *out, hk_error *err);
/* HK_ENOTFOUND when there is no live wait with the ref. */
int hk_store_wait_delete(hk_store *store, const char *endpoint_id, const char *ref, hk_error *err);
/* How many live waits the endpoint has. */
int hk_store_wait_count(hk_store *store, const char *endpoint_id, long long *out, hk_error *err);

/* Housekeeping for one endpoint, safe from any number of processes at once: removes up to max
 * waits whose TTL passed (expired), restores the waits of claims whose hold passed without a
 * done or a release (restored: the process that claimed them died before its record was
 * acknowledged or refused), and counts the live ones. */
typedef struct hk_store_wait_swept {
    long long expired, restored, live;
} hk_store_wait_swept;
int hk_store_wait_sweep(hk_store *store, const char *endpoint_id, int max, hk_store_wait_swept *out,
                        hk_error *err);

/* ------------------------------------------------------ Redis on a loop (async.c) --- */

/* One Redis connection driven by an hk_loop, for a program that must not wait on Redis
 * (hookd-ingress): commands leave without blocking (those of one loop turn in one write) and
 * their replies come back as callbacks on the loop's thread. It connects on first use and again
 * after a failure, at most once a second; a command not answered within the config's timeout_ms
 * fails with every other one in flight, and the connection is made again. */
typedef struct hk_store_async hk_store_async;
/* cfg's strings are copied; loop is borrowed, must outlive it, and is the only thread that may
 * use it. Connects on first use, so it fails only on a bad HOOKD_REDIS_URL (HK_EINVAL). */
int hk_store_async_open(const hk_store_config *cfg, hk_loop *loop, hk_store_async **out,
                        hk_error *err);
/* Every command in flight fails (its callback runs, on this thread), then it is freed. Accepts
 * NULL. */
void hk_store_async_close(hk_store_async *a);

/* One accepted request's step in Redis: claims its provider event id (when it has one; as
 * hk_store_inbound_event_claim) and, when that is new, every live wait of the endpoint whose
 * "<shape>:<digest>" is among lookups, so each wait is claimed by exactly one request. It claims
 * waits only while the endpoint's shapes are at `version`; else it answers stale with the shapes
 * as they are, for the caller to digest the payload again. Plain pipelined commands when
 * nothing matches (the common case), one script when something might (waits.c says how).
 * Claimed waits are held for the record: _done makes the claim final, _release puts the waits
 * back, and a hold left by a process that died is put back by hk_store_wait_sweep after
 * pending_ttl_s. */
#define HK_STORE_ACCEPT_LOOKUPS_MAX 32 /* lookups of one request: inbound/'s HK_WAIT_SHAPES_MAX */
typedef struct hk_store_accept {
    const char *endpoint_id;
    const char *record_id; /* the claim's name */
    const char *event_id;  /* NULL or "": none */
    int pending_ttl_s;     /* the event id's pending mark, and the hold on claimed waits */
    long long version;     /* the shapes' version lookups were made from; -1: unknown */
    bool event_held;       /* a stale answer came after event_id was claimed: not claimed again */
    const char *const *lookups; /* "<shape>:<digest>", one per shape the payload has */
    size_t lookups_len;
} hk_store_accept;

/* The answer, borrowed by the callback for its duration. */
typedef struct hk_store_accepted {
    /* DONE or PENDING: the event id is taken, nothing else was done. CLAIMED: the event id (if
     * any) is this request's now, also when stale. */
    hk_event_claim event;
    bool stale;        /* no wait claimed: shapes below are the endpoint's now, digest with them */
    long long version; /* the shapes' version now */
    size_t shapes_len; /* stale only */
    const char *const *shape_ids;
    const char *const *shape_jsons;
    size_t refs_len; /* the waits claimed */
    const char *const *refs;
    long long expired; /* waits found past their TTL on the way, and removed */
} hk_store_accepted;

/* HK_OK: cb runs exactly once, later, with HK_OK and the answer, or HK_ERR (res NULL) when
 * Redis failed or did not answer in time. HK_ERR: Redis cannot be reached now; cb never runs. */
typedef void (*hk_store_accept_cb)(int rc, const hk_store_accepted *res, void *arg);
int hk_store_inbound_accept_async(hk_store_async *a, const hk_store_accept *q,
                                  hk_store_accept_cb cb, void *arg);
/* The record was acknowledged: its event id is done for ttl_s, its claims final. waits_held:
 * the request claimed waits (else only its event id is marked, with one plain command). */
void hk_store_inbound_accept_done_async(hk_store_async *a, const char *endpoint_id,
                                        const char *record_id, const char *event_id, int ttl_s,
                                        bool waits_held);
/* It was not: its event id is forgotten (if still pending) and its claimed waits, those still
 * within their TTL, are live again. */
void hk_store_inbound_accept_release_async(hk_store_async *a, const char *endpoint_id,
                                           const char *record_id, const char *event_id,
                                           bool waits_held);
/* The same on a connection of its own (at teardown, when the loop no longer runs). */
int hk_store_inbound_accept_release(hk_store *store, const char *endpoint_id, const char *record_id,
                                    const char *event_id, hk_error *err);

/* hk_store_inbound_event_claim on the loop. HK_OK: cb runs exactly once, later, with HK_OK and
 * the claim, or HK_ERR when Redis failed or did not answer in time. HK_ERR: Redis cannot be
 * reached right now, and cb never runs. */
typedef void (*hk_event_claim_cb)(int rc, hk_event_claim claim, void *arg);
/* Adds one entry (JSON text) to the endpoint's recent requests, trimmed to the last
 * HK_STORE_RECENT_KEEP, its TTL renewed. Fire and forget: a failure is logged, never waited on. */
void hk_store_inbound_recent_push_async(hk_store_async *a, const char *endpoint_id,
                                        const char *entry);
int hk_store_inbound_event_claim_async(hk_store_async *a, const char *endpoint_id,
                                       const char *event_id, int pending_ttl_s,
                                       hk_event_claim_cb cb, void *arg);
/* _done and _release on the loop, answered by no one: a failure is logged, and the pending mark
 * it leaves expires with its own TTL. */
void hk_store_inbound_event_done_async(hk_store_async *a, const char *endpoint_id,
                                       const char *event_id, int ttl_s);
void hk_store_inbound_event_release_async(hk_store_async *a, const char *endpoint_id,
                                          const char *event_id);

/* A task's rateLimit, shared by every worker (rate.c; docs/redis.md): a lease of up to `want`
 * consecutive slots of the task's schedule, interval_us apart, reserved at most horizon_us
 * ahead of Redis's now. granted 0: the schedule is full that far; ask again after
 * retry_in_us. */
typedef struct hk_store_rate_grant {
    uint32_t granted;     /* slots leased */
    uint64_t start_in_us; /* the first one's distance from now; the next ones interval_us apart */
    uint64_t retry_in_us; /* granted 0: when one will fit */
} hk_store_rate_grant;
/* HK_OK: cb runs exactly once, later, on the loop, with HK_OK and the grant (borrowed for the
 * call), or HK_ERR (g NULL) when Redis failed or did not answer in time. HK_ERR: Redis cannot
 * be reached now; cb never runs. task_id is copied. */
typedef void (*hk_store_rate_cb)(int rc, const hk_store_rate_grant *g, void *arg);
int hk_store_rate_lease_async(hk_store_async *a, const char *task_id, uint64_t interval_us,
                              uint32_t want, uint64_t horizon_us, hk_store_rate_cb cb, void *arg);

#define HK_IMPORT_MAX_ERRORS 64

typedef struct hk_import_report {
    size_t created, updated;
    char errors[HK_IMPORT_MAX_ERRORS][384]; /* "webhooks[2].url: scheme must be http or https" */
    char fields[HK_IMPORT_MAX_ERRORS][96];  /* "webhooks[2].url": errors[i]'s field */
    size_t errors_len;
    size_t errors_dropped; /* bad entries beyond HK_IMPORT_MAX_ERRORS */
} hk_import_report;

/* What one attempt record is about: the job whose history gets it, and the delivery index's
 * entry (docs/redis.md, "The delivery index") that lets a resend find the delivery, its task and
 * its event by the delivery's id alone. Strings borrowed. */
typedef struct hk_store_history_ref {
    const char *job_id;
    const char *delivery_id;
    const char *event_id;
    const char *webhook_id;
    int attempt;
    bool index;        /* an index entry for the delivery: the attempt failed (or was a resend) */
    const char *event; /* the event as consumed, kept for a resend; NULL: not this time (the job
                          kept it already), and never one over HK_STORE_EVENT_KEEP_MAX */
    size_t event_len;
} hk_store_history_ref;

#define HK_STORE_EVENT_KEEP_MAX (256 * 1024)

/* Imports a document (an export, or a bare array of tasks) into flow_id, all or nothing. Every
 * entry is validated first; each bad one is reported by index and field in rep->errors and
 * nothing is written (HK_EINVAL). An entry updates the flow's task with its id, else the one
 * with its name, else creates one, so importing the same document twice updates. An entry's
 * flowId is replaced by flow_id, and an id belonging to another flow by a fresh one (an export
 * of one flow may seed another). A masked secret keeps the matched task's secrets. HK_ELIMIT
 * when the flow would pass max_per_flow; HK_ERR when Redis fails or a task changed meanwhile.
 * One Lua script writes every task, so nothing is half-imported. */
int hk_store_flow_import(hk_store *store, const char *flow_id, const cJSON *doc,
                         hk_import_report *rep, hk_error *err);
/* The same into a flow or a space: an entry's flowId and spaceId give way to the scope's (an
 * export of a flow may seed a space), and the limit applies to the space as to a flow
 * (HK_ELIMIT naming spaceId). */
int hk_store_import_in(hk_store *store, const hk_scope *scope, const cJSON *doc,
                       hk_import_report *rep, hk_error *err);
/* A job's recorded attempts, newest first, as a JSON array (caller cJSON_Delete). */
int hk_store_history_get(hk_store *store, const char *job_id, cJSON **out, hk_error *err);

/* A delivery found for a resend (deliveries.c): through the index when it failed at least once,
 * else (job_id given) in its job's history; its task and event ids and last attempt from the
 * job's history where it still is, and the event as consumed (NULL when it was not kept: over
 * HK_STORE_EVENT_KEEP_MAX, or its hour expired). The caller frees it (hk_store_delivery_free).
 * HK_ENOTFOUND naming deliveryId when neither has it (both are kept HK_STORE_HISTORY_TTL_S). */
typedef struct hk_store_delivery {
    char *job_id;
    char *event_id;
    char *webhook_id;
    int attempt;
    char *event;
    size_t event_len;
} hk_store_delivery;
int hk_store_delivery_find(hk_store *store, const char *delivery_id, const char *job_id,
                           hk_store_delivery *out, hk_error *err);
void hk_store_delivery_free(hk_store_delivery *d);
/* Writes one attempt record now, as the worker's history writer would (the job's list and the
 * index): a resend's. */
int hk_store_history_write(hk_store *store, const hk_store_history_ref *ref,
                           const char *record_json, hk_error *err);

/* ----------------------------------------------------------------- task cache (worker) --- */

/* An immutable, reference-counted view of every task, grouped by flow and by space. */
typedef struct hk_store_snapshot hk_store_snapshot;
typedef struct hk_store_cache hk_store_cache;

/* Loads the first snapshot synchronously (an error here is fatal for the worker), then starts a
 * thread that checks <prefix>tasks:version every poll_ms and reloads when it changes, and
 * reloads regardless every full_reload_ms (catches writes that bypassed the store). */
int hk_store_cache_create(const hk_store_config *cfg, int poll_ms, int full_reload_ms,
                          hk_store_cache **out, hk_error *err);
void hk_store_cache_destroy(hk_store_cache *cache); /* stops the thread; accepts NULL */
/* True while the refresher's last poll of Redis succeeded (for /readyz). Any thread. */
bool hk_store_cache_redis_ok(const hk_store_cache *cache);

/* The current snapshot with a reference taken; release it when done. Cheap (a mutex and an
 * atomic increment), safe from any thread. */
hk_store_snapshot *hk_store_cache_acquire(hk_store_cache *cache);
void hk_store_snapshot_release(hk_store_snapshot *snap);
/* The flow's tasks (every task, enabled or not), borrowed from snap; *n = 0 when none. */
const hk_task *const *hk_store_snapshot_flow(const hk_store_snapshot *snap, const char *flow_id,
                                             size_t *n);
/* The space's tasks (its own: spaceId), likewise. An event naming flow F and space S is for
 * hk_store_snapshot_flow(F) and then hk_store_snapshot_space(S); one without a space only F's. */
const hk_task *const *hk_store_snapshot_space(const hk_store_snapshot *snap, const char *space_id,
                                              size_t *n);
/* How many tasks the snapshot holds in all. */
size_t hk_store_snapshot_size(const hk_store_snapshot *snap);

/* ------------------------------------------------------------- history writer (worker) --- */

typedef struct hk_store_history hk_store_history;

/* Starts the writer thread; queue_max bounds memory (records beyond it are dropped and
 * counted in hk_store_metrics.history_dropped: history is a convenience, Kafka holds the
 * durable record). */
int hk_store_history_create(const hk_store_config *cfg, size_t queue_max, hk_store_history **out,
                            hk_error *err);
/* Flushes what is queued (bounded wait) and stops. Accepts NULL. */
void hk_store_history_destroy(hk_store_history *hist);
/* Queues one attempt record (a JSON object text) for the job, with its index entry (and the
 * event, when given). Copies everything. Never blocks on Redis. */
void hk_store_history_add(hk_store_history *hist, const hk_store_history_ref *ref,
                          const char *record_json);
/* Queues hk_store_task_disable(id, reason, now) for the writer thread, so the loop never waits
 * on Redis. Never dropped (unlike history records); a failure is logged and counted in
 * hk_store_metrics.task_disable_errors, and the next 410 tries again; a task it disables counts
 * in hk_store_metrics.tasks_disabled. Copies both strings. */
void hk_store_history_disable_task(hk_store_history *hist, const char *id, const char *reason);

/* A task the writer disabled (a 410, or HOOKD_DISABLE_AFTER), as it tells the program: the
 * strings are borrowed for the call. cause: "gone" or "failing". */
typedef struct hk_store_disabled {
    const char *webhook_id, *flow_id, *space_id, *name, *reason, *disabled_at, *cause;
} hk_store_disabled;
typedef void (*hk_store_disabled_cb)(const hk_store_disabled *d, void *arg);
/* Before anything is queued: the sustained-failure rule (disable_after_ms 0: never; a mark is
 * judged older than it only past disable_after_ms + slack_ms, the most a delivered attempt may
 * take to be told) and who is told, on the writer's thread, of each disable that changed a
 * task (the one worker whose compare-and-swap won; cb may be NULL). */
void hk_store_history_set_health(hk_store_history *hist, uint64_t disable_after_ms,
                                 uint64_t slack_ms, hk_store_disabled_cb cb, void *arg);
/* The sustained-failure rule's notices (store/failing.c), for the writer thread; the shards send
 * them only on a change of a task's state, or at most once per check interval, never per
 * delivery. failed: a final failure (dead-lettered); it marks <prefix>webhook:<id>:failing with
 * Redis's time unless already marked (reset: a delivered attempt not yet told came before it:
 * the mark is cleared first), and disables the task once the mark is older than the rule.
 * delivered: a delivered attempt; the mark is cleared. Never dropped. Copies id. */
void hk_store_history_task_failed(hk_store_history *hist, const char *id, bool reset);
void hk_store_history_task_delivered(hk_store_history *hist, const char *id);

/* ---------------------------------------------------------------------------- metrics --- */

/* What store counts; store/metrics.c names each family and holds its HELP. A member is named
 * after its series: the name without hookd_ and _total, then the label's value. */
struct hk_store_metrics {
    hk_counter history_written;         /* hookd_history_written_total */
    hk_counter history_dropped;         /* hookd_history_dropped_total: the queue was full */
    hk_counter tasks_disabled_gone;     /* hookd_tasks_disabled_total{reason="gone"}: a 410 */
    hk_counter tasks_disabled_failing;  /* ...{reason="failing"}: HOOKD_DISABLE_AFTER */
    hk_counter task_disable_errors;     /* hookd_task_disable_errors_total */
    hk_counter task_reloads;            /* hookd_task_reloads_total */
    hk_counter task_reload_errors;      /* hookd_task_reload_errors_total */
    hk_counter task_cache_lookups_hit;  /* hookd_task_cache_lookups_total{result="hit"} */
    hk_counter task_cache_lookups_miss; /* hookd_task_cache_lookups_total{result="miss"} */
    hk_gauge redis_up;                  /* hookd_redis_up: the cache's last poll */
    hk_gauge task_cache_tasks;          /* hookd_task_cache_tasks: in the snapshot in use */
    hk_gauge task_cache_flows;          /* hookd_task_cache_flows: flows and spaces in it */
    hk_gauge task_cache_last_reload;    /* hookd_task_cache_last_reload_timestamp_seconds */
    hk_counter waits_registered;        /* hookd_inbound_waits_registered_total */
};
extern struct hk_store_metrics hk_store_metrics;

#endif
