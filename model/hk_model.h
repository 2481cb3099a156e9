/*
 * hk_model.h — the job event and webhook task model, and model's whole public surface.
 *
 * model owns: job events (parse, validate, overrides), webhook tasks (the contract's JSON form,
 * every validation rule, serialisation with secrets masked, matching a task against an event)
 * and the field checks both share (URLs, headers, ids, Standard Webhooks secrets, NUL in JSON
 * text). It builds on core (hk_core.h) and depends on cJSON and OpenSSL; store, delivery, retry
 * and the programs build on it, and nothing here knows about Kafka, Redis or curl.
 */
#ifndef HK_MODEL_H
#define HK_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "hk_core.h"

/* ------------------------------------------------------------------------- job events --- */

#define HK_EVENT_MAX_BYTES (1024 * 1024)

typedef enum { HK_JOB_SUCCESS, HK_JOB_FAILURE, HK_JOB_OTHER } hk_job_outcome;

/* A job event's one-off replacement of a task's url, headers and/or body. */
typedef struct hk_override {
    char *webhook_id;
    char *url;      /* NULL: keep the task's */
    hk_kv *headers; /* NULL with has_headers false: keep the task's */
    size_t headers_len;
    bool has_headers;
    char *body; /* NULL: keep the task's */
    bool skip;  /* "skip": true: the task gets nothing for this event */
} hk_override;

typedef struct hk_event {
    char *event_id; /* given, or the fallback id <topic>/<partition>/<offset> */
    char *type;     /* "job.completed" (default) or "orchestration.completed" */
    char *job_id;   /* jobId, or runId for orchestration.completed */
    char *job_status;
    char *flow_id;
    char *space_id;  /* NULL when absent: then only the flow's tasks take the event */
    char *flow_name; /* "" when absent */
    char **output_ids;
    size_t output_ids_len;
    char *job_type;    /* "" when absent */
    char *finished_at; /* "" when absent */
    hk_override *overrides;
    size_t overrides_len;
    hk_job_outcome outcome;
    char *reason; /* task.disabled: why the task was disabled; NULL for every other type */
} hk_event;

/* Parses one job event. len over HK_EVENT_MAX_BYTES, bad JSON, a missing or ill-typed required
 * field are HK_EINVAL with err naming the field (the caller sends the message to the DLQ).
 * Numbers are accepted for ids and kept as their text. fallback_id is borrowed.
 * On success *out is owned by the caller (hk_event_destroy). */
int hk_event_parse(const char *buf, size_t len, const char *fallback_id, hk_event **out,
                   hk_error *err);
void hk_event_destroy(hk_event *ev);
hk_job_outcome hk_job_outcome_from_status(const char *job_status);
/* The event's override for task_id, or NULL. Borrowed from ev. */
const hk_override *hk_event_override_for(const hk_event *ev, const char *task_id);

/* An operational event (docs/api.md, "Operational events"): hookd publishes it to
 * HK_TOPIC_EVENTS and consumes it like a job event. task.disabled reads "webhookId" as its
 * jobId (the disabled task's id), "disabledAt" as its finishedAt, "reason" as its reason; its
 * jobStatus is "disabled". */
#define HK_EVENT_TASK_DISABLED "task.disabled"
/* The JSON text of a task.disabled event (no secret: ids, name, reason and time), with the
 * consumer group of the workers that publish it (a worker takes only its own group's), and the
 * task's flowId, or for a space's task (flow_id NULL) its spaceId: such an event has no flowId
 * and reaches the space's tasks alone (its flow_id reads as ""). The caller frees. eventId:
 * "task.disabled/<webhookId>/<disabledAt>", the same for every worker. */
char *hk_event_task_disabled_json(const char *group, const char *webhook_id, const char *flow_id,
                                  const char *space_id, const char *name, const char *reason,
                                  const char *disabled_at);
/* ----------------------------------------------------------------------- webhook tasks --- */

typedef enum {
    HK_METHOD_GET,
    HK_METHOD_POST,
    HK_METHOD_PUT,
    HK_METHOD_PATCH,
    HK_METHOD_DELETE
} hk_method;
typedef enum { HK_TRIGGER_SUCCESS, HK_TRIGGER_FAILURE, HK_TRIGGER_ANY } hk_trigger_event;
/* The event types a task's trigger.types may name (a bit each); an event of another type reaches
 * only tasks that take every type. */
#define HK_EVENT_TYPE_JOB_COMPLETED 0x1u           /* "job.completed" */
#define HK_EVENT_TYPE_ORCHESTRATION_COMPLETED 0x2u /* "orchestration.completed" */
/* Operational: reaches only the tasks that name it, never the task it is about, regardless of
 * trigger.event and trigger.objects. */
#define HK_EVENT_TYPE_TASK_DISABLED 0x4u /* "task.disabled" */
#define HK_EVENT_TYPES_OPERATIONAL HK_EVENT_TYPE_TASK_DISABLED
typedef enum { HK_SIG_NONE, HK_SIG_TIMESTAMPED, HK_SIG_BODY, HK_SIG_STANDARD } hk_sig_scheme;

#define HK_TASK_MAX_BODY (256 * 1024)
#define HK_TASK_MAX_TIMEOUT_MS 300000
#define HK_TASK_MAX_ATTEMPTS 100
#define HK_TASK_MAX_RATE_LIMIT 100000 /* rateLimit: deliveries per second */

/* Where a task belongs: one flow (flowId), or a space, a group of flows (spaceId), whose tasks
 * take the matching events of every flow of the space (the events that name the space). */
typedef enum { HK_SCOPE_FLOW, HK_SCOPE_SPACE } hk_scope_kind;
typedef struct hk_scope {
    hk_scope_kind kind;
    const char *id; /* borrowed */
} hk_scope;
/* "flowId" or "spaceId": the field that names the scope, in JSON and in errors. */
const char *hk_scope_field(hk_scope_kind kind);
/* "flow" or "space", for messages. */
const char *hk_scope_noun(hk_scope_kind kind);

typedef struct hk_task {
    char *id;       /* "wh_..." */
    char *flow_id;  /* NULL for a space's task */
    char *space_id; /* NULL for a flow's task: a task has exactly one of the two */
    char *name;     /* "" when absent */
    char *url;
    hk_method method;
    hk_kv *headers;
    size_t headers_len;
    char *body; /* "" when absent */
    hk_trigger_event trigger_event;
    unsigned trigger_types;  /* HK_EVENT_TYPE_* bits; 0: every type (trigger.types left out) */
    bool trigger_any_object; /* objects: "any" */
    char **trigger_objects;  /* output ids otherwise */
    size_t trigger_objects_len;
    char **secrets; /* newest first; "secret" is secrets[0]; none when secrets_len == 0 */
    size_t secrets_len;
    /* previousSecretsUntil: past this wall-clock time only secrets[0] signs (a rotation's grace
     * period ended: hk_task_signing_secrets); 0: every listed secret signs. */
    uint64_t previous_secrets_until_ms;
    hk_sig_scheme signature;
    char *signature_header;            /* NULL: the scheme's default header */
    bool allow_cross_origin_overrides; /* an event's override url may leave the url's origin */
    bool validate_ssl;
    bool retry_enabled;
    int max_attempts; /* 0: the worker's HOOKD_RETRY_MAX_ATTEMPTS */
    long timeout_ms;  /* 0: the worker's HOOKD_HTTP_TIMEOUT_MS */
    /* rateLimit: deliveries per second across every worker of the group; 0: no limit (the
     * pipeline's only cost for such a task is the test of this field). */
    unsigned rate_limit;
    bool enabled;
    char *disabled_reason; /* NULL unless disabled by the system (e.g. 410 Gone) */
    char *disabled_at;     /* when it was, "2026-11-23T10:00:00.000Z"; NULL likewise */
} hk_task;

/* Parses and validates a task from its JSON (the contract's task form). Every rule of the
 * contract is checked; the first refusal is HK_EINVAL with err naming the field. When the JSON
 * has no "id" and generate_id is true, a new "wh_<random>" id is made. *out is owned by the
 * caller. json is borrowed. */
int hk_task_from_json(const cJSON *json, bool generate_id, hk_task **out, hk_error *err);
int hk_task_parse(const char *text, size_t len, bool generate_id, hk_task **out, hk_error *err);

typedef enum {
    HK_SECRETS_FULL,   /* storage and --with-secrets export only */
    HK_SECRETS_MASKED, /* "****abcd": every display */
} hk_secret_mode;
/* Serialises a task to the contract's JSON. Caller owns the result (cJSON_Delete). */
cJSON *hk_task_to_json(const hk_task *task, hk_secret_mode mode);
void hk_task_destroy(hk_task *task);

/* Field checks shared by task validation and event overrides. A URL is http(s), without
 * user-info, whitespace, control characters or a fragment; a header name is a token, a value holds
 * no control character but horizontal tab. */
int hk_validate_url(const char *url, const char *field, hk_error *err);
int hk_validate_header(const char *name, const char *value, const char *field, hk_error *err);
/* True when two valid URLs (hk_validate_url) share an origin: scheme and host compared without
 * case, the port with the scheme's default filled in. Anything else (another spelling of the
 * same address, a trailing dot) counts as another origin. */
bool hk_url_same_origin(const char *a, const char *b);
/* A valid URL as it goes on the wire: with "/" for a path when it has none (the request line
 * of "https://x.example?q=1" is "GET /?q=1"). What a timestamped GET or DELETE signs, so a
 * receiver rebuilding the URL from its request line gets the same text. The caller frees. */
char *hk_url_as_sent(const char *url);
/* Refuses JSON text holding a NUL (a raw 0x00 byte, or a \u0000 escape in a string), which
 * cJSON would keep and every C string read from it would silently end at: HK_EINVAL with err
 * naming the JSON path ("headers.X-Token", "webhookOverrides[0].url"), or `what` at the top. */
int hk_json_refuse_nul(const char *text, size_t len, const char *what, hk_error *err);
/* Parses JSON text that must be one value and nothing after it but whitespace (cJSON alone
 * reads `{"a":1} junk` as {"a":1}). NULL when it is not; *at (may be NULL) is then the byte
 * where reading stopped. The caller owns the tree. */
cJSON *hk_json_parse_whole(const char *text, size_t len, size_t *at);
/* Decodes a Standard Webhooks secret ("whsec_" + base64 of 24..64 bytes) into key; returns the
 * key length, or -1 when the secret is not of that form. */
int hk_whsec_decode(const char *secret, unsigned char key[96]);
/* The id and flowId rules of the contract's task ("wh_" + [A-Za-z0-9_-], at most 67 bytes;
 * a flowId, and a spaceId likewise, of 1..128 characters without spaces, control characters,
 * ':' or glob characters).
 * Task validation uses them, and so do ids that arrive outside a task's JSON (a URL path, a
 * command line): HK_EINVAL with err naming field, the same message everywhere. */
int hk_validate_task_id(const char *id, const char *field, hk_error *err);
int hk_validate_flow_id(const char *flow_id, const char *field, hk_error *err);
/* The task's scope: its flow, or its space (borrowed from task). */
hk_scope hk_task_scope(const hk_task *task);
/* Generates a fresh "wh_" id into out (at least 32 bytes). */
/* A new id: prefix (at most 7 bytes: "wh_", "in_", "req_") and 24 lowercase hex digits from the
 * system's CSPRNG (96 bits); aborts rather than hand out a guessable one. */
void hk_new_id(const char *prefix, char out[32]);
void hk_task_new_id(char out[32]);

const char *hk_method_name(hk_method m);
bool hk_method_has_body(hk_method m); /* POST, PUT, PATCH */

/* True when the task is enabled and its trigger (types, event and objects) matches the event. */
bool hk_task_matches(const hk_task *task, const hk_event *ev);
/* How many of the task's secrets (from the first) sign a request sent at now_ms: all of them,
 * or only the newest once previousSecretsUntil has passed. */
size_t hk_task_signing_secrets(const hk_task *task, uint64_t now_ms);
/* The event's overrides that name none of the n tasks (its flow's and its space's), as one line
 * for a log, a metric and the outcome ("webhookOverrides[1]: no webhook task wh_x in flow 7; ...",
 * "... in flow 7 or space s1" for an event naming a space), appended
 * to out; how many. Nothing is appended when every override names one of them. */
size_t hk_event_unknown_overrides(const hk_event *ev, const hk_task *const *tasks, size_t n,
                                  hk_buf *out);

#endif
