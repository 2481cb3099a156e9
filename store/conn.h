/*
 * conn.h — store-internal: opening an authenticated Redis connection and naming keys. Not part
 * of the store's public surface (hk_store.h); only the store's own .c files include it.
 */
#ifndef HK_STORE_CONN_H
#define HK_STORE_CONN_H

#include <hiredis/hiredis.h>

#include "hk_store.h"

/* A copy of hk_store_config that owns its strings. */
typedef struct hk_store__cfg {
    char *host;
    int port;
    int db;
    char *user;     /* an ACL user (AUTH user password); NULL: the default user */
    char *password; /* secret: never logged */
    char *prefix;
    int max_per_flow;
    long timeout_ms;
} hk_store__cfg;

/* The synchronous store (tasks.c, import.c). */
struct hk_store {
    hk_store__cfg cfg;
    redisContext *rc;
};

/* Reads the URL redis://[[user][:password]@]host[:port][/db] (user and password
 * percent-decoded; cfg->password, when set, overrides the URL's). HK_EINVAL naming
 * HOOKD_REDIS_URL, echoing neither user nor password, for anything else (rediss:// included:
 * TLS is a sidecar's, decision 65). */
int hk_store__cfg_init(hk_store__cfg *c, const hk_store_config *cfg, hk_error *err);
void hk_store__cfg_copy(hk_store__cfg *dst, const hk_store__cfg *src); /* deep */
void hk_store__cfg_free(hk_store__cfg *c);
/* hk_store_open() from a config already read (copied), for the store's own parts. */
int hk_store__open(const hk_store__cfg *c, hk_store **out, hk_error *err);
/* Connects, AUTHs, SELECTs. Errors name HOOKD_REDIS_URL and never hold the password. */
redisContext *hk_store__connect(const hk_store__cfg *c, hk_error *err);
/* A failed or unexpected reply r (freed; NULL: the connection failed) as err: HK_ERR, naming
 * HOOKD_REDIS_URL with Redis's own words, never the password. */
int hk_store__failed(hk_store *s, redisReply *r, hk_error *err);
/* "<prefix><a><b>" — caller frees. */
char *hk_store__key(const hk_store__cfg *c, const char *a, const char *b, const char *suffix);
/* The scope's set of task ids: "<prefix>flow:<flowId>:webhooks" or
 * "<prefix>space:<spaceId>:webhooks" — caller frees. */
char *hk_store__scope_key(const hk_store__cfg *c, const hk_scope *scope);
/* The scope's limit as err (HK_ELIMIT naming flowId or spaceId): "<noun> <id> already has ..." */
int hk_store__limit_error(const hk_store__cfg *c, const hk_scope *scope, hk_error *err);

/* deliveries.c: the delivery index (docs/redis.md). Its entries go into one hash per UTC hour,
 * "<prefix>history:<yyyymmddhh>", written with one variadic HSET per batch and expiring
 * HK_STORE_HISTORY_TTL_S after the hour's last write. The index key of the hour of wall_ms: */
char *hk_store__index_key(const hk_store__cfg *c, uint64_t wall_ms);
/* The entry of ref, for an HSET: field "d:<deliveryId>" with "<attempt>\n<webhookId>\n<eventId>
 * \n<jobId>" (ids hold no control character), and when ref has the event, field "e:<eventId>"
 * with it. Appends 2 or 4 pieces at out + *n: text written into *text (at off, len bytes), or
 * the event itself (ext), so a batch's entries cost no allocation of their own. */
typedef struct hk_store__piece {
    const char *ext; /* NULL: in the text at off */
    size_t off, len;
} hk_store__piece;
void hk_store__index_entry(const hk_store_history_ref *ref, hk_buf *text, hk_store__piece *out,
                           size_t *n);
/* Appends the pieces to argv/argvlen (pointers into text, which must not grow after). */
void hk_store__index_argv(const hk_buf *text, const hk_store__piece *pieces, size_t n,
                          const char **argv, size_t *argvlen);

/* async.c: a command on the loop's connection. HK_OK: cb runs once, later, on the loop, with
 * the reply (NULL when the connection failed or timed out; the reply is hiredis's, freed after
 * cb). HK_ERR: Redis cannot be reached now (cb never runs). */
typedef void (*hk_store__async_cb)(redisReply *reply, void *arg);
int hk_store__async_command(hk_store_async *a, hk_store__async_cb cb, void *arg, const char *fmt,
                            ...);
/* The same with the arguments as they are (no format to parse): the hot path's. */
int hk_store__async_argv(hk_store_async *a, hk_store__async_cb cb, void *arg, int argc,
                         const char **argv, const size_t *argvlen);
const char *hk_store__async_prefix(const hk_store_async *a);

/* tasks.c: hk_store_task_disable, and *disabled (may be NULL) the task as stored when changed. */
int hk_store__task_disable(hk_store *s, const char *id, const char *reason, uint64_t at_ms,
                           bool *changed, hk_task **disabled, hk_error *err);

/* failing.c: the sustained-failure rule on the history writer's thread. *store is the writer's
 * task connection, opened when NULL and closed (NULL) after a connection failure. */
typedef struct hk_store__health {
    uint64_t after_ms; /* HOOKD_DISABLE_AFTER; 0: never */
    uint64_t slack_ms; /* how late a delivered attempt may be told: judged past after + slack */
    hk_store_disabled_cb cb;
    void *arg;
} hk_store__health;
void hk_store__task_failed(hk_store **store, const hk_store__cfg *cfg, const hk_store__health *h,
                           const char *id, bool reset);
void hk_store__task_delivered(hk_store **store, const hk_store__cfg *cfg, const char *id);
/* Tells h->cb of task t, disabled with cause ("gone", "failing"); counts and logs it. */
void hk_store__disabled(const hk_store__health *h, const hk_task *t, const char *cause);

/* waits.c: an endpoint's 8 wait keys (each the caller's to free), for its deletion. */
void hk_store__wait_keys(const char *prefix, const char *endpoint_id, char *out[8]);

/* True when the task JSON's secret or secrets are masked ("****", "****abcd"), as every display
 * of a task shows them. */
bool hk_store__has_masked_secret(const cJSON *task_json);
/* Replaces the JSON's secret(s) by old's, so that a task shown masked and written back keeps
 * its secrets. False (json untouched) when old is NULL or has none. */
bool hk_store__keep_secrets(cJSON *task_json, const hk_task *old);

#endif
