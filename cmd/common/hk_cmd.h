/*
 * hk_cmd.h — what the programs under cmd/ share, and nothing of any one program: reading a file
 * named on the command line, the text/JSON output forms (tables, field lists, --json), one
 * real, signed test delivery of a task (hk_webhook_test: hookd's POST /v1/webhooks/{id}/test and
 * `hookctl webhooks test`), and reading and writing inbound endpoints and their waits in the
 * store (hookctl inbound and /v1/inbound). Library hk_cmd (cmd/common/); no program's header is
 * included here. Not thread-safe as a whole: the output functions are for a CLI's main thread;
 * hk_webhook_test may run on any thread (it has its own delivery engine per call).
 */
#ifndef HK_CMD_H
#define HK_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <getopt.h>

#include "hk_inbound.h"
#include "hk_model.h"
#include "hk_retry.h"
#include "hk_store.h"

/* ---------------------------------------------------------------------------------- flags --- */

/* One command's flags: getopt_long over the command's own table (struct option, with val the
 * command's switch case), read in order, flags and arguments mixed. Only whole names count
 * ("--file x" or "--file=x"; "--fi" is an unknown flag, as "-x" and "--" are). getopt_long
 * prints nothing: the command prints its own one-line error, naming `token`. */
enum {
    HK_CMD_ARG = 1,        /* a positional argument: value */
    HK_CMD_UNKNOWN = '?',  /* token is not one of the table's flags */
    HK_CMD_NO_VALUE = ':', /* token (a flag taking a value) is the last argument */
};
typedef struct hk_cmd_args {
    int argc; /* argv[0] is the command's own name and is skipped */
    char **argv;
    const struct option *flags; /* ends with {0} */
    const char *token;          /* out: the argument as typed, for messages */
    const char *value;          /* out: the flag's value (NULL: none), or the argument */
    bool started;               /* zero-initialise; set by the first call */
} hk_cmd_args;
/* The next flag's val, HK_CMD_ARG, HK_CMD_UNKNOWN, HK_CMD_NO_VALUE, or -1 at the end.
 * Uses getopt's globals: one reader at a time, on the main thread. */
int hk_cmd_next(hk_cmd_args *a);

/* ---------------------------------------------------------------------------------- files --- */

/* Reads a whole file ("-": standard input) into out. HK_ERR when it cannot be opened. */
int hk_cmd_read_file(const char *path, hk_buf *out);
/* Reads a whole file ("-": standard input) as one strict JSON value (hk_json_parse_whole, no
 * NUL): HK_EINVAL with err naming `flag` ("--file: cannot read x", "--file: not valid JSON").
 * *out is the caller's. */
int hk_cmd_load_json(const char *path, const char *flag, cJSON **out, hk_error *err);

/* A listener's "host:port" setting (IPv4; port 0 picks a free one) as a socket address.
 * HK_EINVAL with err naming `field` when it is not one. */
struct sockaddr_in;
int hk_cmd_listen_addr(const char *field, const char *listen, struct sockaddr_in *out,
                       hk_error *err);

/* ------------------------------------------------------------------------------ output --- */

/* --json, anywhere after the command: JSON on stdout instead of tables and sentences. The
 * program's main() takes it out of argv and sets this before dispatching. */
extern bool hk_cmd_json;

/* A text table for people: columns padded to the widest cell; each cell on one line (control
 * characters become spaces) and cut at 60 characters with "...". NULL cells print "-". */
typedef struct hk_table hk_table;
hk_table *hk_table_new(const char *const *headers, size_t ncols); /* at most 16 columns */
void hk_table_row(hk_table *t, const char *const *cells);         /* copies the cells */
void hk_table_print(hk_table *t, FILE *out); /* prints (out NULL: not) and frees */
/* An object's fields as "name  value" lines, nested values as compact JSON. */
void hk_print_fields(const cJSON *obj);
void hk_print_json(const cJSON *json);

/* ------------------------------------------------------------------------ test delivery --- */

#define HK_TEST_RESPONSE_MAX 1024

typedef struct hk_test_result {
    bool delivered;   /* a 2xx within the timeout */
    long http_status; /* 0: no response */
    uint64_t latency_ms;
    char error[256];                         /* "" when delivered */
    char response[HK_TEST_RESPONSE_MAX + 1]; /* the first 1 KiB of the response body */
    size_t response_len;
    bool response_truncated;
    char delivery_id[32];
    int attempt; /* a resend's attempt number; 0: a test */
} hk_test_result;

/* Sends one real, signed delivery of the task now (whether or not it is enabled or its trigger
 * matches), with a sample event of the task's flow: job_id and job_status as given, a fresh
 * event id. Same request building, signing, SSRF guard (HOOKD_ALLOW_NETWORKS) and timeout as
 * the worker. HK_OK when an outcome was had (out says which); HK_EINVAL when the sample event
 * or the request is invalid (err names the field); HK_ERR otherwise. */
int hk_webhook_test(const hk_config *cfg, const hk_task *task, const char *job_id,
                    const char *job_status, hk_test_result *out, hk_error *err);
/* Resending one recorded delivery (webtest.c): found through the history's delivery index (one
 * that failed at least once) or in its job's history (job_id, NULL: none given), re-rendered from
 * its kept event with the task as it is now, with the same X-Webhook-Id, as the next attempt, and
 * recorded in the job's history like the worker's attempts ("resent": true). Three steps, so that
 * the admin API holds no Redis connection while it delivers: prepare (HK_ENOTFOUND naming
 * deliveryId: not in the history or its event not kept, or webhookId: the task was deleted;
 * HK_ECONFLICT naming webhookId: the task is disabled; HK_ERR), send (as hk_webhook_test: HK_OK
 * when an outcome was had), record. hk_resend_free always. */
typedef struct hk_resend {
    hk_store_delivery found;
    hk_task *task;
    hk_event *ev;
    hk_buf record; /* the attempt's history record, once sent */
} hk_resend;
int hk_resend_prepare(hk_store *store, const char *delivery_id, const char *job_id, hk_resend *out,
                      hk_error *err);
int hk_resend_send(const hk_config *cfg, hk_resend *r, hk_test_result *out, hk_error *err);
int hk_resend_record(hk_store *store, const hk_resend *r, const hk_test_result *out, hk_error *err);
void hk_resend_free(hk_resend *r);

/* The result as JSON: webhookId, deliveryId, attempt (a resend's), status (delivered|failed),
 * statusCode (null: no response), error (when failed), latencyMs, response, responseTruncated.
 * Caller's. */
cJSON *hk_test_result_json(const char *webhook_id, const hk_test_result *r);

/* ----------------------------------------------------------------- the dead-letter topic --- */

/* A dead letter as hk_dlq_scan hands it: the record (caller's: keep it or cJSON_Delete it), with
 * "dlqPartition" and "dlqOffset" added. HK_OK goes on; anything else stops the scan and is
 * returned (HK_ELIMIT: stopped on purpose, and hk_dlq_scan returns HK_OK). */
typedef int (*hk_dlq_each)(cJSON *dead_letter, int32_t partition, int64_t offset, void *arg);

/* Reads <prefix>dlq (HOOKD_TOPIC_PREFIX) once from its start, within timeout_ms, calling each
 * for every dead letter the filter selects, in each partition's order. Blocking. HK_ERR when
 * Kafka cannot be read (err names HOOKD_KAFKA_BOOTSTRAP_SERVERS). */
int hk_dlq_scan(const hk_config *cfg, const hk_dead_letter_filter *filter, int timeout_ms,
                hk_dlq_each each, void *arg, hk_error *err);

#define HK_DLQ_PAGE_MAX 250u            /* dead letters in one page */
#define HK_DLQ_RECORD_MAX (32u * 1024u) /* a page's dead letter is printed within this */

/* A page of the dead letters the filter selects, newest first (by deadAt, then partition and
 * offset): at most limit (1 to HK_DLQ_PAGE_MAX) of those older than after (NULL: from the
 * newest), as {"topic", "group", "data": [dead letters], "iterator": the last one's place or
 * null, "done"}. A place is "<deadAt ms>.<partition>.<offset>", the after of the next page (the
 * API wraps it in its own iterator form). Each dead letter is printed within HK_DLQ_RECORD_MAX
 * (hk_dead_letter_print_within: the oldest outcomes and the event are cut first, and say so).
 * *out is the caller's. HK_EINVAL naming "iterator" for an after this did not make; else as
 * hk_dlq_scan. */
int hk_dlq_page(const hk_config *cfg, const hk_dead_letter_filter *filter, size_t limit,
                const char *after, cJSON **out, hk_error *err);

typedef struct hk_dlq_replay_stats {
    size_t replayed; /* put on the first tier and acknowledged by Kafka (a dry run: would be) */
    size_t skipped;  /* selected but not replayable (poison, event kept only as a payload) */
    bool limited;    /* stopped at opts->limit with more left to replay */
    char topic[HK_TOPIC_NAME_MAX + 1]; /* the first tier's topic */
} hk_dlq_replay_stats;

typedef struct hk_dlq_replay_opts {
    size_t limit; /* at most this many deliveries, in the topic's order; 0: every one */
    bool dry_run; /* publish nothing (no producer at all): each would-be replay goes to preview */
    /* Called for each dead letter that is (or would be) replayed, borrowed for the call; may
     * be NULL. */
    void (*preview)(const cJSON *dead_letter, int32_t partition, int64_t offset, void *arg);
    void *arg;
} hk_dlq_replay_opts;

/* Reads <prefix>dlq (HOOKD_TOPIC_PREFIX) once from its start and puts every dead letter the filter
 * selects back on the first retry tier (cfg's HOOKD_RETRY_DELAYS), due at once, with its attempts
 * reset and the same delivery id, keyed by it; returns when Kafka has acknowledged every one.
 * Blocking. opts (may be NULL: every one, for real) bounds it or makes it a dry run. HK_EINVAL for
 * a bad setting, HK_ERR when Kafka cannot be read or written (err names which); stats counts what
 * was done either way. */
int hk_dlq_replay(const hk_config *cfg, const hk_dead_letter_filter *filter,
                  const hk_dlq_replay_opts *opts, hk_dlq_replay_stats *stats, hk_error *err);

/* ------------------------------------------------------------------- secret rotation --- */

#define HK_ROTATE_KEEP_DEFAULT_MS (24ull * 3600 * 1000)  /* the previous secret's grace */
#define HK_ROTATE_KEEP_MAX_MS (30ull * 24 * 3600 * 1000) /* the longest one: 30d */

/* Rotates task id's secret (rotate.c): given (NULL: 24 random bytes, in the task's scheme's
 * form) becomes the first; the current one keeps signing beside it until now_ms + keep_ms (0:
 * dropped at once; over HK_ROTATE_KEEP_MAX_MS: HK_EINVAL naming "keep"); any older ones are
 * dropped. Written through the store; *out is the task as
 * stored (the caller's; shown masked only). HK_ENOTFOUND, HK_EINVAL (err names the field, never
 * quotes the secret) or HK_ERR. */
int hk_cmd_rotate_secret(hk_store *store, const char *id, const char *given, uint64_t keep_ms,
                         uint64_t now_ms, hk_task **out, hk_error *err);

/* ---------------------------------------------------------------- inbound endpoints --- */

/* hookd-ingress's endpoints in the store (inbound.c), for `hookctl inbound` and /v1/inbound:
 * validated by inbound/, written whole with their secrets (hk_inbound_endpoint_to_json(ep,
 * true)), read back with hk_inbound_endpoint_from_stored and the verified state from the
 * store's state hash (hookd-ingress's). Results are the caller's (hk_inbound_endpoint_destroy,
 * hk_cmd_inbound_list_free); show them with hk_inbound_endpoint_to_json(ep, false) only.
 * Errors: HK_EINVAL naming the field (create and update input), HK_ENOTFOUND, HK_ERR (Redis,
 * or a stored record inbound/ cannot read). *conflict (may be NULL) is set when the HK_EINVAL
 * is the store's: the id (create) or the name is another endpoint's. */
int hk_cmd_inbound_get(hk_store *store, const char *id, hk_inbound_endpoint **out, hk_error *err);
/* Every endpoint, sorted by id. */
int hk_cmd_inbound_list(hk_store *store, hk_inbound_endpoint ***out, size_t *n, hk_error *err);
void hk_cmd_inbound_list_free(hk_inbound_endpoint **eps, size_t n);
/* A new endpoint from a client's JSON (borrowed; an id is generated when it has none),
 * unverified since now. */
int hk_cmd_inbound_create(hk_store *store, const cJSON *input, hk_inbound_endpoint **out,
                          bool *conflict, hk_error *err);
/* The stored endpoint changed by patch (hk_inbound_endpoint_merge: PATCH or REPLACE; masked
 * secrets keep the stored ones; the state stays as it is). */
int hk_cmd_inbound_update(hk_store *store, const char *id, const cJSON *patch,
                          hk_inbound_merge_mode mode, hk_inbound_endpoint **out, bool *conflict,
                          hk_error *err);
/* An endpoint as every display shows it (get, create, update; not list): secrets masked
 * (hk_inbound_endpoint_to_json(ep, false)) and "liveWaits", how many live waits it has. The
 * count is output only: an update's input may carry it (a get, edited, put back) and it is
 * ignored there. hk_cmd_inbound_show counts them (hk_store_wait_count); a new endpoint has none
 * (its id's waits went with any endpoint deleted before), so create shows
 * hk_cmd_inbound_json(ep, 0). The caller owns the result (cJSON_Delete). */
cJSON *hk_cmd_inbound_json(const hk_inbound_endpoint *ep, long long live_waits);
int hk_cmd_inbound_show(hk_store *store, const hk_inbound_endpoint *ep, cJSON **out, hk_error *err);

/* ------------------------------------------------------------------ waits on endpoints --- */

/* A flow's waits on an endpoint (docs/inbound.md, "Waits"), for `hookctl inbound wait` and
 * /v1/inbound/{id}/waits. A wait is shown as {"ref", "matches" (as registered), "ttlSeconds",
 * "createdAt", "expiresAt"} (RFC 3339 UTC with milliseconds, Redis's clock). endpoint_id and
 * ref are checked first (HK_EINVAL naming "id" or "ref"). Errors: HK_EINVAL naming the field
 * (`ref`, `matches["$.a["]`, `ttlSeconds`), HK_ENOTFOUND ("no inbound endpoint <id>", or no
 * live wait with the ref: never registered, expired, claimed or deleted), HK_ELIMIT (field
 * "matches": the endpoint's HK_WAIT_SHAPES_MAX sets of paths are taken), HK_ERR (Redis, or a
 * stored wait whose matches are not JSON). Every *out is the caller's (cJSON_Delete). */
/* Registers the wait doc (borrowed; hk_inbound_wait_from_json's form), or replaces the
 * endpoint's wait with the same ref (*replaced, may be NULL); *out is the wait as stored. */
int hk_cmd_inbound_wait_put(hk_store *store, const char *endpoint_id, const cJSON *doc,
                            bool *replaced, cJSON **out, hk_error *err);
/* The endpoint's live waits as an array, soonest to expire first. */
int hk_cmd_inbound_wait_list(hk_store *store, const char *endpoint_id, cJSON **out, hk_error *err);
/* The endpoint's recent requests as an array, newest first (at most HK_STORE_RECENT_KEEP):
 * {id, at, method, status, outcome, reason?, detail?, eventId?, bytes, latencyMs}, as
 * hookd-ingress recorded them. HK_ENOTFOUND for an unknown endpoint. */
int hk_cmd_inbound_requests(hk_store *store, const char *endpoint_id, cJSON **out, hk_error *err);
int hk_cmd_inbound_wait_get(hk_store *store, const char *endpoint_id, const char *ref, cJSON **out,
                            hk_error *err);
int hk_cmd_inbound_wait_delete(hk_store *store, const char *endpoint_id, const char *ref,
                               hk_error *err);

/* One `--match 'PATH=VALUE'` of `hookctl inbound wait`: split at the first '=' outside the
 * path's quoted names (`$['a=b']=1` is the path `$['a=b']`; a quote opens right after '[', and
 * inside one a backslash escapes the next byte). VALUE is JSON when it is one whole JSON value
 * (`3`, `true`, `"3"`, `{"a":1}`), else the string as written (`message`; nothing is ""). The
 * path is not checked here (hk_inbound_wait_from_json does). HK_EINVAL naming "--match" when
 * there is no '=' outside quotes, the path is empty, or VALUE is JSON holding \u0000. On HK_OK
 * *path (free()) and *value (cJSON_Delete) are the caller's; on error both are NULL. */
int hk_cmd_wait_match(const char *arg, char **path, cJSON **value, hk_error *err);

#endif
