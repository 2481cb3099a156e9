/*
 * hk_retry.h — what happens after an attempt: the retry policy, the outcome decision, and the
 * records that carry a delivery on.
 *
 * retry owns the decision of a delivery's fate, in one function (hk_retry_decide): given the
 * facts of an attempt (what the transport said, why it failed, the HTTP status and Retry-After,
 * the attempt and the task's retry settings, deferrals, whether the worker is handing off) it
 * returns a verdict: done, again (on which tier, when, as the same attempt or the next), dead
 * (with a reason) or drop. One table (hk_retry_reason_text / _dlq_metric) holds each reason's
 * dead-letter text and metric member; the pipeline only acts on the verdict. It also parses
 * HOOKD_RETRY_DELAYS into tiers, and owns the record formats with their readers: the outcome
 * record (outcome.c), the retry record (record.c) and the dead letter (deadletter.c). It
 * depends only on model and core and is pure: no Kafka, no clock reads (callers pass the time),
 * no I/O.
 */
#ifndef HK_RETRY_H
#define HK_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hk_model.h"

#define HK_RETRY_MAX_TIERS 32

typedef struct hk_retry_policy {
    uint64_t delays_ms[HK_RETRY_MAX_TIERS]; /* tier i waits delays_ms[i] */
    char names[HK_RETRY_MAX_TIERS][16];     /* the delay as written: "5s", "30m" */
    size_t tiers;
    int default_max_attempts; /* HOOKD_RETRY_MAX_ATTEMPTS */
} hk_retry_policy;

/* Parses "5s,5m,30m,2h,5h,10h" (units ms, s, m, h, d; strictly positive). HK_EINVAL names the
 * bad entry under field. */
int hk_retry_policy_init(hk_retry_policy *policy, const char *delays, int default_max_attempts,
                         const char *field, hk_error *err);

/* What the transport said of an attempt: hk_delivery_status, as the worker hands it over. */
typedef enum {
    HK_TRANSPORT_OK,        /* a 2xx answer */
    HK_TRANSPORT_RETRY,     /* failed; another attempt may succeed */
    HK_TRANSPORT_ERROR,     /* failed, or not sent at all; retrying cannot fix it */
    HK_TRANSPORT_CANCELLED, /* given up before or while sending (moved partition, shutdown) */
    HK_TRANSPORT_DEFERRED,  /* never sent: its host is slow and its queue was full */
} hk_retry_transport;

/* Why an attempt failed (HK_FAILURE_NONE when it did not). The first five come from the
 * delivery engine (hk_delivery_result.failure); the rest from the worker. */
typedef enum {
    HK_FAILURE_NONE,
    HK_FAILURE_HTTP,             /* a non-2xx answer: http_status says which */
    HK_FAILURE_TIMEOUT,          /* the task's timeout ran out */
    HK_FAILURE_NETWORK,          /* DNS, connect, TLS, reset */
    HK_FAILURE_BLOCKED,          /* every address of the host is refused (SSRF guard) */
    HK_FAILURE_UNSENDABLE,       /* the engine cannot send it as written (URL, scheme) */
    HK_FAILURE_INVALID_REQUEST,  /* the request could not be built (a bad override) */
    HK_FAILURE_TASK_GONE,        /* a tier's record whose task was deleted since */
    HK_FAILURE_TASK_DISABLED,    /* a tier's record whose task was disabled since */
    HK_FAILURE_RECORD_TOO_LARGE, /* its tier record cannot be published (message.max.bytes) */
} hk_retry_failure;

/* Everything that decides a delivery's fate. */
typedef struct hk_retry_facts {
    hk_retry_transport transport;
    hk_retry_failure failure;
    long http_status;        /* 0 for none */
    const char *retry_after; /* the answer's Retry-After, or NULL */
    int attempt;             /* 1-based: the attempt that just ended */
    bool retry_enabled;      /* the task's retry.enabled */
    int max_attempts;        /* the task's retry.maxAttempts; 0: the policy's default */
    int deferrals;           /* times deferred in a row so far (before this one) */
    bool handing_off;        /* the worker is stopping and hands its deliveries to tiers */
    bool owns_partition;     /* the delivery's source partition is still this worker's */
    uint64_t now_ms;         /* wall clock, for a Retry-After date */
} hk_retry_facts;

typedef enum {
    HK_RETRY_DONE,  /* delivered: nothing more to do */
    HK_RETRY_AGAIN, /* publish to tier `tier`, due after `delay_ms` */
    HK_RETRY_DEAD,  /* publish to the dead-letter topic with `reason` */
    HK_RETRY_DROP,  /* nothing to record: the partition is another worker's, which redelivers */
} hk_retry_verdict_kind;

/* Why a verdict is what it is. Each has one row in the reason table (policy.c). */
typedef enum {
    HK_REASON_DELIVERED,
    HK_REASON_RETRYING,        /* AGAIN as the next attempt */
    HK_REASON_DEFERRED,        /* AGAIN as the same attempt: its host is slow and full */
    HK_REASON_HANDED_OFF,      /* AGAIN as the same attempt: the worker is stopping */
    HK_REASON_CANCELLED,       /* DROP */
    HK_REASON_EXHAUSTED,       /* DEAD: "attempts exhausted" */
    HK_REASON_RETRY_DISABLED,  /* DEAD: "retry disabled" */
    HK_REASON_GONE,            /* DEAD: "endpoint gone (HTTP 410); task disabled" */
    HK_REASON_PERMANENT,       /* DEAD: "permanent failure" */
    HK_REASON_INVALID_REQUEST, /* DEAD: "invalid request" */
    HK_REASON_TASK_DELETED,    /* DEAD: "task deleted" */
    HK_REASON_TASK_DISABLED,   /* DEAD: "task disabled" */
    HK_REASON_TOO_LARGE,       /* DEAD: "record too large" (the worker adds ": <why>") */
    HK_REASON_COUNT
} hk_retry_reason;

typedef struct hk_retry_verdict {
    hk_retry_verdict_kind kind;
    hk_retry_reason reason;
    size_t tier;         /* AGAIN */
    uint64_t delay_ms;   /* AGAIN: the tier's delay, or a longer Retry-After */
    bool same_attempt;   /* AGAIN: the attempt again (a deferral or a hand-off), not the next */
    int deferrals;       /* AGAIN with same_attempt: the record's deferral count (1..) */
    bool disable_task;   /* DEAD on a 410 Gone: the task is to be disabled too */
    hk_counter *counted; /* the counter this attempt's end adds 1 to, or NULL for none:
                            a hookd_delivery_attempts_total member, a deferral or a
                            cancellation */
} hk_retry_verdict;

/* The attempts a task gets in all: 1 when retry is off, else its maxAttempts or the default. */
int hk_retry_max_attempts(const hk_retry_policy *policy, const hk_task *task);

/* The one decision of what follows an attempt (or its absence: a deferral, a cancellation, a
 * record that cannot be written, a task gone). tests/unit/test_retry.c pins every row. */
hk_retry_verdict hk_retry_decide(const hk_retry_policy *policy, const hk_retry_facts *facts);

/* A reason's text: for DEAD the dead letter's "reason" (and the log's), as operators grep it. */
const char *hk_retry_reason_text(hk_retry_reason reason);
/* A DEAD reason's hookd_dlq_records_total member (counted once Kafka acknowledged it). */
hk_counter *hk_retry_reason_dlq_metric(hk_retry_reason reason);
/* The hookd_delivery_attempts_total{outcome="http_error"} member of an answer's status. */
hk_counter *hk_retry_http_error_metric(long http_status);

/* The tier for a given attempt number (attempt 1 failing goes to tier 0). */
size_t hk_retry_tier_for_attempt(const hk_retry_policy *policy, int attempt);

/* The topic of a tier: "<prefix>retry.<delay as written>" (prefix: HOOKD_TOPIC_PREFIX, at most
 * HK_TOPIC_PREFIX_MAX long, so that the name fits). */
void hk_retry_tier_topic(const hk_retry_policy *policy, const char *prefix, size_t tier,
                         char out[HK_TOPIC_NAME_MAX + 1]);

/* A Retry-After value as a delay from now_ms: whole seconds, or an HTTP date (a past date is
 * 0). False when it is neither. */
bool hk_retry_after_ms(const char *value, uint64_t now_ms, uint64_t *out);

/* How long a delivery waits on `tier`: the tier's delay, or later when a 429 or 503 answered
 * with a Retry-After asking for more, capped at the last tier's delay. Never earlier.
 * hk_retry_decide's delay for AGAIN. */
uint64_t hk_retry_delay_ms(const hk_retry_policy *policy, size_t tier, long http_status,
                           const char *retry_after, uint64_t now_ms);

/* ------------------------------------------------------------------------ retry record --- */

/* One delivery on its way to its next attempt: what a tier topic carries. */
typedef struct hk_retry_record {
    char *group; /* the main consumer group (group.id) of the workers that wrote it */
    char *delivery_id;
    char *webhook_id;
    char *flow_id;
    char *job_id;
    char *event_id;
    int attempt;            /* the attempt this record is for: 2 after the first failed */
    uint64_t due_ms;        /* wall-clock ms before which it must not be sent */
    uint64_t first_seen_ms; /* when the event was first consumed */
    bool deferred;          /* parked because its host was slow and full, not after a failure */
    int deferrals;          /* deferred: how many times in a row, since its last attempt (1..) */
    char *event_json;       /* the job event as consumed (a JSON object) */
    size_t event_len;
    char *outcomes_json;  /* every earlier attempt's outcome, a JSON array */
    int outcomes_omitted; /* earlier outcomes left out to fit the record (oldest first) */
} hk_retry_record;

/* Appends the record as JSON, "dueAt" first and "group" second (see hk_retry_record_due and
 * hk_retry_record_for_group). Borrows every field. */
void hk_retry_record_write(hk_buf *out, const hk_retry_record *r);
/* The exact length hk_retry_record_write would append. Reads event_len, not event_json. */
size_t hk_retry_record_size(const hk_retry_record *r);
/* Appends the record in at most limit bytes: whole when it fits, else without its oldest
 * outcomes (their number added to "outcomesOmitted"; every outcome is also on
 * hookd.deliveries and in the job's history). HK_ELIMIT, nothing appended and err saying
 * both sizes, when even the record without any outcome passes limit. */
int hk_retry_record_write_within(hk_buf *out, const hk_retry_record *r, size_t limit,
                                 hk_error *err);
/* The largest retry record a delivery of one event can need before outcomes: the event's
 * bytes, its ids, the group, and the widest values of everything else (a 67-byte task id, a
 * deferral, 20-digit times). An event whose min size passes the producer's limit could not
 * be retried, deferred or handed off: the worker refuses it when it is consumed. */
size_t hk_retry_record_min_size(const char *group, const char *flow_id, const char *job_id,
                                const char *event_id, size_t event_len);
/* The due time of a record: a scan of the head of one written above, a parse of any other (one
 * spaced differently, written by another tool); 0 when it has none. */
uint64_t hk_retry_record_due(const void *payload, size_t len);
/* Whether a record written above belongs to the consumer group `group`: the tier topics'
 * names are fixed, so deployments with different group ids sharing a cluster share them, and
 * each takes only its own records. A scan of the head, like hk_retry_record_due. A
 * record without a group, or one that cannot be read, counts as ours (the parser then judges
 * it). */
bool hk_retry_record_for_group(const void *payload, size_t len, const char *group);
/* Parses a record; HK_EINVAL names the bad field. The record owns its strings afterwards. */
int hk_retry_record_parse(const void *payload, size_t len, hk_retry_record *r, hk_error *err);
void hk_retry_record_free(hk_retry_record *r);

/* ------------------------------------------------------------------ outcome and letters --- */

/* What a dead letter's event payload and key are cut to: 256 KiB keeps a record under Kafka's
 * default 1 MB limit; the key is the jobId, or topic/partition/offset for poison. */
#define HK_DEAD_LETTER_PAYLOAD_MAX (256 * 1024)
#define HK_DEAD_LETTER_KEY_MAX 256

/* The ids every record about one delivery carries (borrowed strings). */
typedef struct hk_delivery_ids {
    const char *delivery_id;
    const char *webhook_id;
    const char *flow_id;
    const char *job_id;
    const char *event_id;
} hk_delivery_ids;

/* One attempt's outcome (outcome.c): what hookd.deliveries and the job's history get. */
typedef struct hk_outcome {
    hk_delivery_ids ids;
    int attempt;
    bool delivered;
    long http_status;  /* 0: no response ("statusCode": null) */
    const char *error; /* NULL or "": none */
    uint64_t latency_ms;
    uint64_t at_ms;      /* wall clock */
    const char *warning; /* NULL or "": none; e.g. the event's overrides naming no task */
} hk_outcome;

/* Appends the outcome as one JSON object. */
void hk_outcome_write(hk_buf *out, const hk_outcome *o);

/* What was sent and what came back, which only the job's history keeps (not hookd.deliveries):
 * the first HK_HISTORY_REQUEST_BODY_MAX bytes of the request body (request_body NULL: not kept,
 * HOOKD_HISTORY_BODIES=off, and only its size is), and when there was an answer its headers
 * ("Name: value\n" lines, credentials already left out by the engine) and the first
 * HK_HISTORY_RESPONSE_BODY_MAX bytes of its body. Strings borrowed. */
#define HK_HISTORY_REQUEST_BODY_MAX 4096
#define HK_HISTORY_RESPONSE_BODY_MAX 1024
typedef struct hk_outcome_detail {
    const char *request_body;
    size_t request_body_len; /* the whole body's size, kept or not */
    bool answered;           /* a response came: the response member is written */
    const char *response_headers;
    size_t response_headers_len;
    const char *response_body;
    size_t response_body_len; /* as captured (the engine keeps at most 16 KiB) */
} hk_outcome_detail;

/* Appends `,"request":{...}` and, when answered, `,"response":{...}` (docs/redis.md): members
 * to add to an outcome object before its closing brace. A body is "body" (text) when its kept
 * part is UTF-8 without NUL, else "bodyBase64"; "bodyTruncated" says whether it was cut.
 * Header names are lower-cased; a name given twice has its values joined with ", ". */
void hk_outcome_write_detail(hk_buf *out, const hk_outcome_detail *d);

/* An outcome record read back (hookctl deliveries reads the job's history): strings borrowed
 * from rec, NULL when missing or not a string; numbers -1 when missing or not a number. */
typedef struct hk_outcome_view {
    const char *at; /* as written: "2026-11-30T10:00:00.123Z" */
    const char *webhook_id;
    const char *delivery_id;
    const char *status; /* "delivered" or "failed" */
    const char *error;
    int attempt;
    long http_status; /* -1 also for null: no response */
    double latency_ms;
} hk_outcome_view;
void hk_outcome_read(const cJSON *rec, hk_outcome_view *out);

/* A delivery's dead letter (deadletter.c): its ids, the reason, the event (parsed, or as a
 * payload when it is too big or not JSON), `attempts`, and outcomes (a JSON array's text, NULL
 * for none). The caller owns the tree; hk_dead_letter_stamp adds when and whose. */
cJSON *hk_dead_letter_delivery(const hk_delivery_ids *ids, int attempts, const char *reason,
                               const char *error, const char *event, size_t event_len,
                               const char *outcomes, int outcomes_omitted);
/* A poison event's dead letter: where it was consumed and its payload. */
cJSON *hk_dead_letter_poison(const char *reason, const char *topic, int32_t partition,
                             int64_t offset, const char *payload, size_t len);
/* Adds the consumed payload: as text when it is UTF-8 without NUL, else as base64
 * ("payloadBase64"), so the record itself is always valid JSON; at most
 * HK_DEAD_LETTER_PAYLOAD_MAX bytes, cut on a character boundary ("payloadTruncated"), with
 * "payloadBytes" the whole length. */
void hk_dead_letter_add_payload(cJSON *rec, const char *payload, size_t len);
/* Adds "deadAt" (wall_ms) and "group" (whose: a replay takes its own). */
void hk_dead_letter_stamp(cJSON *rec, const char *group, uint64_t wall_ms);

/* ------------------------------------------------------------------ dead-letter replay --- */

/* Which dead letters (hookd.dlq records) a listing or a replay takes. */
typedef struct hk_dead_letter_filter {
    const char *group;      /* only this consumer group's; records without one match any */
    const char *webhook_id; /* NULL: every task's (and, for a listing, poison events too) */
    uint64_t since_ms;      /* 0: any time; else dead at or after it (wall clock) */
    uint64_t until_ms;      /* 0: any time; else dead at or before it */
    /* NULL: any delivery; else only the dead letters of these deliveries (delivery_ids_len) */
    const char *const *delivery_ids;
    size_t delivery_ids_len;
} hk_dead_letter_filter;

/* Parses a dead letter and applies the filter: HK_OK and *out (the record, caller
 * cJSON_Delete) when it is selected, HK_ENOTFOUND when not, HK_EINVAL when it is not a dead
 * letter at all. */
int hk_dead_letter_select(const void *value, size_t len, const hk_dead_letter_filter *filter,
                          cJSON **out, hk_error *err);

/* Prints a dead letter (a hookd.dlq record) in at most limit bytes, cutting what it carries
 * when the whole would pass, in this order: the oldest outcomes ("outcomesOmitted" counts
 * them); the event, kept instead as a cut "payload" ("payloadTruncated": true, "payloadBytes");
 * the payload (or "payloadBase64") itself; then every string over 256 bytes ("truncated":
 * true). rec is changed to what was printed. HK_OK and *out (caller frees) with *len; HK_ELIMIT
 * when even the smallest form passes limit. Never loops: each step only removes. */
int hk_dead_letter_print_within(cJSON *rec, size_t limit, char **out, size_t *len);

/* The retry record that replays a delivery's dead letter: the same delivery id (receivers
 * dedupe on X-Webhook-Id), attempts reset (attempt 1, no earlier outcomes), due at now_ms,
 * for `group`. Appends it to out. HK_EINVAL (err says why) when the record cannot be replayed:
 * a poison event, an event kept only as a payload (too big or not JSON), a missing field. */
int hk_retry_record_replay(const cJSON *dead_letter, const char *group, uint64_t now_ms,
                           hk_buf *out, hk_error *err);

/* ---------------------------------------------------------------------------- metrics --- */

/* The outcome families: retry/metrics.c names them; the decision's tables point at them
 * (hk_retry_verdict.counted, hk_retry_reason_dlq_metric) and whoever carries a verdict out
 * counts. A member is named after its series: the name without hookd_ and _total, then the
 * label's value. */
struct hk_retry_metrics {
    /* hookd_delivery_attempts_total{outcome,status_class}: one per finished attempt. The
     * status class is bounded: an answer's class (1xx, 3xx, 4xx, 5xx; 2xx only succeeds), with
     * 410 and 429 apart (one disables the task, the other is the receiver's rate limit); none
     * when no status came back. */
    hk_counter attempts_succeeded;
    hk_counter attempts_http_error_1xx;
    hk_counter attempts_http_error_3xx;
    hk_counter attempts_http_error_4xx;
    hk_counter attempts_http_error_410;
    hk_counter attempts_http_error_429;
    hk_counter attempts_http_error_5xx;
    hk_counter attempts_timeout;
    hk_counter attempts_network_error;
    hk_counter attempts_blocked;
    hk_counter attempts_invalid;
    /* hookd_deliveries_total{outcome}: one per delivery (a task's request for one event), at
     * its end: delivered (a 2xx, whichever attempt), dead_lettered (once Kafka acknowledged
     * the dead letter), skipped (an override's "skip") */
    hk_counter deliveries_delivered;
    hk_counter deliveries_dead_lettered;
    hk_counter deliveries_skipped;
    /* hookd_deliveries_deferred_total{reason} */
    hk_counter deliveries_deferred_slow_host;
    hk_counter deliveries_deferred_shutdown;
    hk_counter deliveries_cancelled; /* hookd_deliveries_cancelled_total */
    /* hookd_dlq_records_total{reason}: counted once Kafka acknowledged the dead letter */
    hk_counter dlq_records_poison;
    hk_counter dlq_records_attempts_exhausted;
    hk_counter dlq_records_retry_disabled;
    hk_counter dlq_records_endpoint_gone;
    hk_counter dlq_records_permanent_failure;
    hk_counter dlq_records_invalid_request;
    hk_counter dlq_records_task_deleted;
    hk_counter dlq_records_task_disabled;
    hk_counter dlq_records_too_large; /* a record that could not fit message.max.bytes */
};
extern struct hk_retry_metrics hk_retry_metrics;

#endif
