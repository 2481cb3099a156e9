/*
 * worker.c — the hookd pipeline, the only place that sees every module:
 *
 *   consumer ──event──▶ parse ──▶ store snapshot: flow's tasks ──▶ match ──▶ build+sign
 *      ▲                  │ poison                                               │
 *      │ release          ▼                                                      ▼
 *   offsets ◀──ack── producer (hookd.dlq) ◀──dead── retry policy ◀──result── delivery engine
 *                         (hookd.deliveries + Redis history get every outcome)
 *
 * A consumed message's job counts its live attempts (plus one while it is being dispatched); an
 * attempt ends when its delivery succeeded or Kafka acknowledged its dead letter. When the
 * count reaches zero the job releases the consumer's unit of work on the message, and only
 * then can the consumer store the partition's offset past it.
 */
#include "worker.h"

#include "api.h"
#include "http.h"

#include "hk_consumer.h"
#include "hk_delivery.h"
#include "hk_model.h"
#include "hk_producer.h"
#include "hk_retry.h"
#include "hk_store.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define DLQ_PAYLOAD_MAX (256 * 1024) /* keeps a dead letter under Kafka's default 1 MB limit */
#define DLQ_KEY_MAX 256              /* a dead letter's key (the jobId) is cut to this */
#define DELIVERY_ID_LEN 30           /* hk_delivery_id(): "msg_" and 26 characters */

typedef struct group group;
typedef struct dlq_send dlq_send;

/* One shard: an event loop with its own consumer (a member of the group), producer and HTTP
 * engine. Shards share the task cache, the history writer, the retry policy and the allow list,
 * all safe to use from any thread; nothing else crosses between them. */
typedef struct worker {
    group *g;
    int index;
    const hk_config *cfg;
    const hk_retry_policy *policy;
    hk_store_cache *cache;
    hk_store_history *history;
    const hk_cidr_list *allow;
    int max_inflight; /* this shard's share of HOOKD_MAX_INFLIGHT */
    hk_loop *loop;
    hk_consumer *consumer;
    hk_consumer *tiers[HK_RETRY_MAX_TIERS]; /* one consumer per retry tier, in this loop */
    hk_producer *producer;
    hk_delivery_engine *engine;
    size_t jobs_alive;
    bool paused;
    bool engine_full; /* more deliveries wait than the high mark (until the low one) */
    /* Records the producer's queue refused (HK_PRODUCE_AGAIN), oldest first: sent again on
     * backlog_timer, and no message is taken while any waits. */
    dlq_send *backlog;
    dlq_send *backlog_tail;
    hk_timer *backlog_timer;
    uint64_t outcome_warned_ms; /* the last "outcome lost" warning, at most one a second */
    bool draining;
    bool handing_off;        /* the grace is nearly over: unfinished deliveries go to a tier */
    uint64_t handoff_at;     /* when in-flight requests stop being waited for */
    uint64_t drain_deadline; /* when the loop stops whatever is left */
    hk_timer *drain_timer;
    hk_timer *beat_timer;
    _Atomic uint64_t beat_ms; /* the loop's last turn of beat_timer, for /healthz */
    int wake_fd;        /* eventfd: another shard has a command for this one */
    atomic_int command; /* CMD_*, the strongest one sent since the last wake */
    /* librdkafka properties of this shard's consumers: [0] the main one, [1 + t] tier t's;
     * the group and member ids their properties point to are owned here too */
    hk_kv *kafka[1 + HK_RETRY_MAX_TIERS];
    size_t kafka_len[1 + HK_RETRY_MAX_TIERS];
    char *group_ids[1 + HK_RETRY_MAX_TIERS];
    char *member_ids[1 + HK_RETRY_MAX_TIERS];
    pthread_t thread;
    bool thread_started;
    hk_buf scratch; /* reused for each outcome record */
} worker;

/* The process: what the shards share, and the shards. */
struct group {
    const hk_config *cfg;
    hk_retry_policy policy;
    hk_cidr_list *allow;
    hk_store_cache *cache;
    hk_store_history *history;
    hk_http *http;
    hk_http *probe_http; /* NULL when HOOKD_PROBE_LISTEN is empty */
    hk_http_probes probes;
    atomic_bool started;  /* every shard built: the probes may look at them */
    atomic_bool stopping; /* a signal came: not ready any more */
    uint64_t stop_by;     /* the signal's time + the grace period: when the process is gone */
    hk_api *api; /* NULL unless HOOKD_API_TOKEN is set */
    char tier_topics[HK_RETRY_MAX_TIERS][64];
    const char *group_id; /* the main consumer group (group.id): records carry it */
    int sigfd;            /* served by shard 0's loop */
    bool signalled;       /* touched only on shard 0's thread */
    worker *shards;
    int n;
    atomic_int exit_status;
};

enum { CMD_NONE, CMD_DRAIN, CMD_FINISH, CMD_ABORT };

/* One consumed job event and the deliveries hanging on it. */
typedef struct job {
    worker *w;
    hk_consumer *c; /* the main topic's or a tier's */
    hk_msg_ref ref;
    hk_event *ev;
    hk_store_snapshot *snap; /* keeps the matched tasks alive while deliveries run */
    char *raw;               /* the event as consumed, for dead letters */
    size_t raw_len;
    int attempts_alive;
} job;

typedef struct attempt {
    job *job;
    const hk_task *task; /* borrowed from job->snap */
    char delivery_id[32];
    int number;
    int deferrals;          /* times in a row it was deferred before this attempt */
    uint64_t first_seen_ms; /* when the event was first consumed, carried through the tiers */
    hk_buf outcomes;        /* every attempt's outcome as a JSON array, for the dead letter */
    int outcomes_omitted;   /* earlier outcomes a retry record left out to fit */
} attempt;

/* ----------------------------------------------------------------------------- helpers --- */

static void job_release(job *j)
{
    if (--j->attempts_alive > 0)
        return;
    worker *w = j->w;
    hk_consumer_release(j->c, j->ref);
    hk_event_destroy(j->ev);
    if (j->snap)
        hk_store_snapshot_release(j->snap);
    free(j->raw);
    free(j);
    w->jobs_alive--;
}

/* Takes no message while too many deliveries wait or the producer's queue is full. */
static void update_backpressure(worker *w)
{
    size_t pending = hk_delivery_pending(w->engine);
    size_t high = (size_t)w->max_inflight * 4, low = (size_t)w->max_inflight * 2;
    if ((!w->engine_full && pending >= high) || (w->engine_full && pending <= low))
        w->engine_full = !w->engine_full;
    bool pause = w->engine_full || w->backlog;
    if (pause != w->paused) {
        w->paused = pause;
        hk_consumer_set_paused(w->consumer, w->paused);
        for (size_t t = 0; t < w->policy->tiers; t++)
            hk_consumer_set_paused(w->tiers[t], w->paused);
    }
}

/* Adds the consumed payload to a dead letter: as text when it is UTF-8 without NUL, else as
 * base64 ("payloadBase64"), so the record itself is always valid JSON. At most 256 KiB is kept
 * (cut on a character boundary), which keeps the record under Kafka's default 1 MB limit. */
static void add_payload(cJSON *rec, const char *payload, size_t len)
{
    size_t n = len > DLQ_PAYLOAD_MAX ? DLQ_PAYLOAD_MAX : len;
    const unsigned char *p = (const unsigned char *)payload;
    while (n < len && n > 0 && (p[n] & 0xC0) == 0x80)
        n--; /* do not split a multi-byte character */
    cJSON_AddNumberToObject(rec, "payloadBytes", (double)len);
    if (n < len)
        cJSON_AddBoolToObject(rec, "payloadTruncated", 1);
    if (hk_utf8_valid(payload, n)) {
        char *text = hk_strndup(payload, n);
        cJSON_AddStringToObject(rec, "payload", text);
        free(text);
        return;
    }
    char *b64 = hk_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, p, (int)n);
    cJSON_AddStringToObject(rec, "payloadBase64", b64);
    free(b64);
}

/* ------------------------------------------------------------------------ dead letters --- */

struct dlq_send {
    worker *w;
    const char *topic; /* HK_TOPIC_DLQ or a tier's topic */
    int tier;          /* the tier's index, or -1 for HK_TOPIC_DLQ */
    hk_counter *reason;  /* for HK_TOPIC_DLQ: hookd_dlq_records_total's member */
    char *value;
    size_t len;
    char *key;
    void (*done)(void *arg);
    void *arg;
    struct attempt *retry_of; /* a tier's record: the attempt it carries on */
    dlq_send *next;           /* in the worker's backlog */
};

static void dlq_publish(dlq_send *s);
static void abort_all(group *g);
static void retry_record_too_large(dlq_send *s, const char *why);
static void dead_letter_too_large(dlq_send *s);
static void dead_letter_lost(dlq_send *s, size_t limit);

static void dlq_send_free(dlq_send *s)
{
    free(s->value);
    free(s->key);
    free(s);
}

static void on_dlq_ack(int err, const char *errstr, void *arg)
{
    dlq_send *s = arg;
    if (err && hk_producer_err_too_large(err)) {
        /* The broker's limit (the topic's max.message.bytes) is below the producer's: the
         * same bytes would be refused forever. */
        hk_counter_add(&hk_pipeline_metrics.dlq_publish_errors, 1);
        if (s->tier >= 0) {
            char why[200];
            snprintf(why, sizeof why, "%s refused a retry record of %zu bytes: %s", s->topic,
                     s->len, errstr);
            retry_record_too_large(s, why);
        } else {
            dead_letter_too_large(s);
        }
        return;
    }
    if (err) {
        /* librdkafka already retried for message.timeout.ms; the offset must not move until
         * the dead letter is durable, so try again. */
        hk_counter_add(&hk_pipeline_metrics.dlq_publish_errors, 1);
        HK_ERROR("dlq.publish.failed", "record for %s not acknowledged, publishing again: %s",
                 s->topic, errstr);
        dlq_publish(s);
        return;
    }
    if (s->tier < 0)
        hk_counter_add(s->reason, 1);
    else
        hk_counter_vec_add(&hk_pipeline_metrics.retries_published, (size_t)s->tier, 1);
    s->done(s->arg);
    dlq_send_free(s);
}

/* A record the producer will never queue as it is: too large (cut, or dead-lettered instead),
 * or the producer failed fatally (rd_kafka_fatal_error): stop without committing, so the
 * next owner of the partition redelivers. */
static void send_refused(dlq_send *s, int rc)
{
    if (rc == HK_PRODUCE_TOO_LARGE) {
        if (s->tier >= 0)
            retry_record_too_large(s, "the producer refused it (MSG_SIZE_TOO_LARGE)");
        else
            dead_letter_too_large(s);
        return;
    }
    HK_ERROR("dlq.publish.fatal", "the producer failed fatally; stopping the worker");
    abort_all(s->w->g);
}

/* Queues a dead letter or a tier's record. Only a fatal producer error stops the worker; a full
 * queue parks the record in the backlog (and the consumers with it) until it goes. */
static void dlq_publish(dlq_send *s)
{
    worker *w = s->w;
    int rc = w->backlog ? HK_PRODUCE_AGAIN /* after those already waiting */
                        : hk_producer_send(w->producer, s->topic, s->key, strlen(s->key), s->value,
                                           s->len, on_dlq_ack, s);
    switch (rc) {
    case HK_PRODUCE_QUEUED:
        return;
    case HK_PRODUCE_AGAIN:
        s->next = NULL;
        if (w->backlog_tail)
            w->backlog_tail->next = s;
        else
            w->backlog = s;
        w->backlog_tail = s;
        if (!hk_timer_active(w->backlog_timer))
            hk_timer_start(w->backlog_timer, 10);
        update_backpressure(w);
        return;
    default:
        send_refused(s, rc);
        return;
    }
}

/* The backlog's turn: sends in order until the producer's queue is full again. */
static void on_backlog_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    worker *w = arg;
    while (w->backlog) {
        dlq_send *s = w->backlog;
        int rc = hk_producer_send(w->producer, s->topic, s->key, strlen(s->key), s->value, s->len,
                                  on_dlq_ack, s);
        if (rc == HK_PRODUCE_AGAIN)
            break;
        w->backlog = s->next;
        if (!w->backlog)
            w->backlog_tail = NULL;
        if (rc != HK_PRODUCE_QUEUED)
            send_refused(s, rc);
    }
    if (w->backlog)
        hk_timer_start(w->backlog_timer, 20);
    update_backpressure(w);
}

/* Takes ownership of rec. `reason` is the member of hookd_dlq_records_total it counts in. */
static void dlq_send_record(worker *w, cJSON *rec, const char *key, hk_counter *reason,
                            void (*done)(void *), void *arg)
{
    char ts[32];
    hk_format_time(hk_wall_ms(), ts);
    cJSON_AddStringToObject(rec, "deadAt", ts);
    cJSON_AddStringToObject(rec, "group", w->g->group_id); /* whose: replay takes its own */
    dlq_send *s = hk_xcalloc(1, sizeof *s);
    s->w = w;
    s->topic = HK_TOPIC_DLQ;
    s->tier = -1;
    s->reason = reason;
    s->key = hk_strndup(key, strlen(key) > DLQ_KEY_MAX ? DLQ_KEY_MAX : strlen(key));
    s->done = done;
    s->arg = arg;
    size_t limit = hk_producer_value_limit(w->producer, strlen(s->key));
    if (hk_dead_letter_print_within(rec, limit, &s->value, &s->len) != HK_OK) {
        cJSON_Delete(rec);
        dead_letter_lost(s, limit);
        return;
    }
    cJSON_Delete(rec);
    dlq_publish(s);
}

/* A dead letter refused as too large, by the producer or by the broker (whose limit may be
 * lower than message.max.bytes): cut to half its size and sent again, until it cannot be cut
 * any more. */
static void dead_letter_too_large(dlq_send *s)
{
    cJSON *rec = cJSON_ParseWithLength(s->value, s->len);
    size_t limit = s->len / 2;
    free(s->value);
    s->value = NULL;
    if (!rec || hk_dead_letter_print_within(rec, limit, &s->value, &s->len) != HK_OK) {
        cJSON_Delete(rec);
        dead_letter_lost(s, limit);
        return;
    }
    cJSON_Delete(rec);
    HK_WARN("dlq.publish.too_large",
            "a dead letter for %s was refused as too large; cut to %zu bytes and sent again",
            s->topic, s->len);
    dlq_publish(s);
}

/* Even the smallest form of a dead letter cannot pass: a limit far below any sane one (a few
 * hundred bytes). Dropped, loudly, rather than stop the partition for ever. */
static void dead_letter_lost(dlq_send *s, size_t limit)
{
    hk_counter_add(&hk_pipeline_metrics.dlq_publish_errors, 1);
    HK_ERROR("dlq.publish.dropped",
             "a dead letter for %s cannot be cut under %zu bytes (check message.max.bytes and "
             "the topic's max.message.bytes); dropped",
             s->topic, limit);
    s->done(s->arg);
    dlq_send_free(s);
}

/* ---------------------------------------------------------------------------- outcomes --- */

static void on_outcome_ack(int err, const char *errstr, void *arg)
{
    (void)arg;
    if (err) {
        hk_counter_add(&hk_pipeline_metrics.outcomes_publish_errors, 1);
        HK_WARN("outcome.publish.failed", "%s", errstr);
    } else {
        hk_counter_add(&hk_pipeline_metrics.outcomes_published, 1);
    }
}

/* Appends n in decimal. */
static void put_uint(hk_buf *b, unsigned long long n)
{
    char digits[24];
    size_t i = sizeof digits;
    do
        digits[--i] = (char)('0' + n % 10);
    while (n /= 10);
    hk_buf_append(b, digits + i, sizeof digits - i);
}

/* Writes one attempt's outcome as JSON text. This runs once per delivery, so it formats
 * straight into a buffer rather than building a cJSON tree or going through printf. */
static void outcome_json(hk_buf *b, const attempt *a, const hk_delivery_result *res)
{
    const hk_event *ev = a->job->ev;
    char ts[32];
    hk_format_time(hk_wall_ms(), ts);
    static const char *const keys[] = {"{\"deliveryId\":\"", "\",\"webhookId\":\"",
                                       "\",\"flowId\":\"", "\",\"jobId\":\"", "\",\"eventId\":\""};
    const char *values[] = {a->delivery_id, a->task->id, ev->flow_id, ev->job_id, ev->event_id};
    for (size_t i = 0; i < 5; i++) {
        hk_buf_puts(b, keys[i]);
        hk_buf_json_escape(b, values[i], strlen(values[i]));
    }
    hk_buf_puts(b, "\",\"attempt\":");
    put_uint(b, (unsigned)a->number);
    hk_buf_puts(b, res->status == HK_DELIVERY_OK ? ",\"status\":\"delivered\",\"statusCode\":"
                                                 : ",\"status\":\"failed\",\"statusCode\":");
    if (res->http_status > 0)
        put_uint(b, (unsigned long)res->http_status);
    else
        hk_buf_puts(b, "null");
    if (res->error[0]) {
        hk_buf_puts(b, ",\"error\":\"");
        hk_buf_json_escape(b, res->error, strlen(res->error));
        hk_buf_puts(b, "\"");
    }
    hk_buf_puts(b, ",\"latencyMs\":");
    put_uint(b, res->latency_ms);
    hk_buf_puts(b, ",\"at\":\"");
    hk_buf_puts(b, ts);
    hk_buf_puts(b, "\"}");
}

/* Publishes the attempt's outcome and queues it for the job's history. With keep, the outcome
 * is also kept on the attempt for the dead letter that carries every attempt's outcome. */
static void record_outcome(worker *w, attempt *a, const hk_delivery_result *res, bool keep)
{
    hk_buf *text = &w->scratch;
    text->len = 0;
    outcome_json(text, a, res);
    const char *job_id = a->job->ev->job_id;
    int rc = hk_producer_send(w->producer, HK_TOPIC_DELIVERIES, job_id, strlen(job_id), text->data,
                              text->len, on_outcome_ack, NULL);
    if (rc == HK_PRODUCE_FATAL) {
        hk_counter_add(&hk_pipeline_metrics.outcomes_publish_errors, 1);
        HK_ERROR("outcome.publish.fatal", "the producer failed fatally; stopping the worker");
        abort_all(w->g);
    } else if (rc != HK_PRODUCE_QUEUED) {
        /* Best-effort, as an unacknowledged one (on_outcome_ack): counted, never waited for.
         * The job's history in Redis still gets it. */
        hk_counter_add(&hk_pipeline_metrics.outcomes_publish_errors, 1);
        uint64_t now = hk_now_ms();
        if (now - w->outcome_warned_ms >= 1000) {
            w->outcome_warned_ms = now;
            HK_WARN("outcome.publish.failed", "an outcome record for %s was not queued: %s",
                    HK_TOPIC_DELIVERIES,
                    rc == HK_PRODUCE_TOO_LARGE ? "too large" : "the producer's queue is full");
        }
    }
    if (w->history)
        hk_store_history_add(w->history, job_id, text->data);
    if (keep) {
        hk_buf_puts(&a->outcomes, a->outcomes.len ? "," : "[");
        hk_buf_append(&a->outcomes, text->data, text->len);
    }
}

/* The fields every log line about an attempt carries. */
#define ATTEMPT_FIELDS(a)                                                                          \
    {                                                                                              \
        HK_STR("jobId", (a)->job->ev->job_id), HK_STR("flowId", (a)->job->ev->flow_id),            \
            HK_STR("webhookId", (a)->task->id), HK_STR("deliveryId", (a)->delivery_id),            \
            HK_NUM("attempt", (a)->number)                                                         \
    }

static void attempt_finished(void *arg)
{
    attempt *a = arg;
    job *j = a->job;
    hk_buf_free(&a->outcomes);
    free(a);
    job_release(j);
}

/* A delivery's dead letter: its ids, the reason, the event (parsed, or as a payload when it is
 * too big or not JSON) and every attempt's outcome (a JSON array). */
static cJSON *delivery_dead_letter(const job *j, const char *delivery_id, const char *webhook_id,
                                   int attempts, const char *reason, const char *error,
                                   const char *outcomes, int outcomes_omitted)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "kind", "delivery");
    cJSON_AddStringToObject(rec, "reason", reason);
    if (error && *error)
        cJSON_AddStringToObject(rec, "error", error);
    cJSON_AddStringToObject(rec, "deliveryId", delivery_id);
    cJSON_AddStringToObject(rec, "webhookId", webhook_id);
    cJSON_AddStringToObject(rec, "flowId", j->ev->flow_id);
    cJSON_AddStringToObject(rec, "jobId", j->ev->job_id);
    cJSON_AddStringToObject(rec, "eventId", j->ev->event_id);
    cJSON_AddNumberToObject(rec, "attempts", attempts);
    cJSON *event = j->raw_len <= DLQ_PAYLOAD_MAX ? cJSON_ParseWithLength(j->raw, j->raw_len) : NULL;
    if (event)
        cJSON_AddItemToObject(rec, "event", event);
    else
        add_payload(rec, j->raw, j->raw_len);
    cJSON *parsed = cJSON_Parse(outcomes);
    cJSON_AddItemToObject(rec, "outcomes", parsed ? parsed : cJSON_CreateArray());
    if (outcomes_omitted > 0)
        cJSON_AddNumberToObject(rec, "outcomesOmitted", outcomes_omitted);
    return rec;
}

/* Closes the attempt's outcomes into a JSON array (the attempt ends with this) and returns it. */
static const char *closed_outcomes(attempt *a)
{
    hk_buf_puts(&a->outcomes, a->outcomes.len ? "]" : "[]");
    return a->outcomes.data;
}

/* outcomes: the attempt's, already closed (closed_outcomes). The dead letter's reason is the
 * reason's text (hk_retry_reason_text), with `detail` after it when there is one. */
static void dead_letter_closed(worker *w, attempt *a, hk_retry_reason why, const char *detail,
                               const char *error, const char *outcomes)
{
    char reason[320];
    if (detail)
        snprintf(reason, sizeof reason, "%s: %s", hk_retry_reason_text(why), detail);
    else
        snprintf(reason, sizeof reason, "%s", hk_retry_reason_text(why));
    hk_log_field f[] = ATTEMPT_FIELDS(a);
    HK_LOGF(HK_LOG_WARN, "delivery.dead_lettered", f, "delivery %s to webhook %s dead-lettered: %s",
            a->delivery_id, a->task->id, reason);
    cJSON *rec = delivery_dead_letter(a->job, a->delivery_id, a->task->id, a->number, reason, error,
                                      outcomes, a->outcomes_omitted);
    dlq_send_record(w, rec, a->job->ev->job_id, hk_retry_reason_dlq_metric(why), attempt_finished,
                    a);
}

/* A tier's record that cannot be published (too large for the producer or the broker): the
 * delivery it carries is dead-lettered instead, with the reason. */
static void retry_record_too_large(dlq_send *s, const char *why)
{
    attempt *a = s->retry_of;
    worker *w = s->w;
    dlq_send_free(s);
    hk_retry_facts f = {.transport = HK_TRANSPORT_ERROR,
                        .failure = HK_FAILURE_RECORD_TOO_LARGE,
                        .attempt = a->number};
    hk_retry_verdict v = hk_retry_decide(w->policy, &f);
    dead_letter_closed(w, a, v.reason, why, NULL, a->outcomes.data);
}

/* Republishes the delivery to the tier `tier`, due after `delay`: after a failure, as its next
 * attempt; with deferrals > 0 (its host was slow and full), as the same attempt again. The
 * attempt (and so the source offset) finishes only once Kafka has acknowledged the record. */
static void republish(worker *w, attempt *a, size_t tier, uint64_t delay, int deferrals)
{
    bool deferred = deferrals > 0;
    job *j = a->job;
    uint64_t now = hk_wall_ms();
    hk_retry_record r = {
        .group = (char *)w->g->group_id,
        .delivery_id = a->delivery_id,
        .webhook_id = a->task->id,
        .flow_id = j->ev->flow_id,
        .job_id = j->ev->job_id,
        .event_id = j->ev->event_id,
        .attempt = deferred ? a->number : a->number + 1,
        .due_ms = now + delay,
        .first_seen_ms = a->first_seen_ms,
        .deferred = deferred,
        .deferrals = deferrals,
        .event_json = j->raw,
        .event_len = j->raw_len,
        .outcomes_json = (char *)closed_outcomes(a),
        .outcomes_omitted = a->outcomes_omitted,
    };
    dlq_send *s = hk_xcalloc(1, sizeof *s);
    s->w = w;
    s->topic = w->g->tier_topics[tier];
    s->tier = (int)tier;
    s->key = hk_strdup(a->delivery_id); /* spreads deliveries over the tier's partitions */
    s->done = attempt_finished;
    s->arg = a;
    s->retry_of = a;
    hk_buf value = {0};
    hk_error err = {0};
    if (hk_retry_record_write_within(
            &value, &r, hk_producer_value_limit(w->producer, strlen(s->key)), &err) != HK_OK) {
        /* The event passed the size check when consumed, so only a task id or group longer
         * than the check assumes gets here. */
        char why[300];
        snprintf(why, sizeof why, "%.240s (message.max.bytes %zu)", err.msg,
                 hk_producer_max_message_bytes(w->producer));
        retry_record_too_large(s, why);
        return;
    }
    s->value = value.data;
    s->len = value.len;
    hk_log_field f[] = {HK_STR("jobId", j->ev->job_id), HK_STR("flowId", j->ev->flow_id),
                        HK_STR("webhookId", a->task->id), HK_STR("deliveryId", a->delivery_id),
                        HK_NUM("attempt", r.attempt)};
    HK_LOGF(HK_LOG_DEBUG, deferred ? "delivery.deferred" : "delivery.retry", f,
            "delivery %s to webhook %s: attempt %d due in %llu ms on %s", a->delivery_id,
            a->task->id, r.attempt, (unsigned long long)delay, s->topic);
    dlq_publish(s);
}

/* The facts of attempt a's end for the retry decision: what the engine said, the task's retry
 * settings, the worker's state. */
static hk_retry_facts attempt_facts(const worker *w, const attempt *a,
                                    const hk_delivery_result *res)
{
    static const hk_retry_transport transport[] = {
        [HK_DELIVERY_OK] = HK_TRANSPORT_OK,
        [HK_DELIVERY_RETRY] = HK_TRANSPORT_RETRY,
        [HK_DELIVERY_ERROR] = HK_TRANSPORT_ERROR,
        [HK_DELIVERY_CANCELLED] = HK_TRANSPORT_CANCELLED,
        [HK_DELIVERY_DEFERRED] = HK_TRANSPORT_DEFERRED,
    };
    static const hk_retry_failure failure[] = {
        [HK_FAIL_NONE] = HK_FAILURE_NONE,       [HK_FAIL_HTTP] = HK_FAILURE_HTTP,
        [HK_FAIL_TIMEOUT] = HK_FAILURE_TIMEOUT, [HK_FAIL_NETWORK] = HK_FAILURE_NETWORK,
        [HK_FAIL_BLOCKED] = HK_FAILURE_BLOCKED, [HK_FAIL_INVALID] = HK_FAILURE_UNSENDABLE,
    };
    return (hk_retry_facts){
        .transport = transport[res->status],
        .failure = failure[res->failure],
        .http_status = res->http_status,
        .retry_after = res->retry_after,
        .attempt = a->number,
        .retry_enabled = a->task->retry_enabled,
        .max_attempts = a->task->max_attempts,
        .deferrals = a->deferrals,
        .handing_off = w->handing_off,
        .owns_partition = w->handing_off && hk_consumer_owns(a->job->c, a->job->ref),
        .now_ms = hk_wall_ms(),
    };
}

/* Carries out the verdict on attempt a. res: its result (the engine's, or the worker's for a
 * request never built); sent: whether a request went out, so the attempt is logged as failed. */
static void act(worker *w, attempt *a, const hk_delivery_result *res, bool sent,
                const hk_retry_verdict *v)
{
    if (v->counted != NULL)
        hk_counter_add(v->counted, 1);
    if (v->kind == HK_RETRY_DROP) {
        attempt_finished(a);
        return;
    }
    if (v->kind == HK_RETRY_AGAIN && v->same_attempt) {
        republish(w, a, v->tier, v->delay_ms, v->deferrals); /* never sent: nothing to record */
        return;
    }
    record_outcome(w, a, res, v->kind != HK_RETRY_DONE);
    hk_log_field f[] = ATTEMPT_FIELDS(a);
    if (v->kind == HK_RETRY_DONE) {
        HK_LOGF(HK_LOG_DEBUG, "delivery.ok", f, "delivered %s to webhook %s (HTTP %ld, %llu ms)",
                a->delivery_id, a->task->id, res->http_status, (unsigned long long)res->latency_ms);
        attempt_finished(a);
        return;
    }
    if (sent)
        HK_LOGF(HK_LOG_WARN, "delivery.failed", f,
                "delivery %s to webhook %s failed on attempt %d: %s", a->delivery_id, a->task->id,
                a->number, res->error);
    if (v->disable_task && w->history) /* the writer thread does it, off the loop */
        hk_store_history_disable_task(w->history, a->task->id, "the endpoint answered 410 Gone");
    if (v->kind == HK_RETRY_AGAIN)
        republish(w, a, v->tier, v->delay_ms, 0);
    else
        dead_letter_closed(w, a, v->reason, NULL, res->error, closed_outcomes(a));
}

static void on_delivery_done(const hk_delivery_result *res, void *arg)
{
    attempt *a = arg;
    worker *w = a->job->w;
    hk_retry_facts f = attempt_facts(w, a, res);
    hk_retry_verdict v = hk_retry_decide(w->policy, &f);
    act(w, a, res, true, &v);
    update_backpressure(w);
}

/* ---------------------------------------------------------------------------- messages --- */

static void poison_done(void *arg)
{
    job *j = arg;
    job_release(j);
}

static void send_poison(worker *w, job *j, const char *topic, int32_t partition, int64_t offset,
                        const char *reason, hk_counter *metric)
{
    hk_counter_add(&hk_pipeline_metrics.events_poison, 1);
    hk_log_field f[] = {HK_STR("topic", topic), HK_NUM("partition", partition),
                        HK_NUM("offset", offset)};
    HK_LOGF(HK_LOG_WARN, "event.poison", f, "%s/%d/%lld refused: %s", topic, (int)partition,
            (long long)offset, reason);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "kind", "poison");
    cJSON_AddStringToObject(rec, "reason", reason);
    cJSON_AddStringToObject(rec, "topic", topic);
    cJSON_AddNumberToObject(rec, "partition", partition);
    cJSON_AddNumberToObject(rec, "offset", (double)offset);
    add_payload(rec, j->raw, j->raw_len);
    char key[256];
    snprintf(key, sizeof key, "%s/%d/%lld", topic, (int)partition, (long long)offset);
    dlq_send_record(w, rec, key, metric, poison_done, j);
}

/* Starts attempt `number` of the task's delivery of the job's event, deferred `deferrals` times
 * in a row so far; `outcomes` is the JSON array of the earlier attempts' outcomes (NULL for
 * none). */
static void start_attempt(worker *w, job *j, const hk_task *task, int number, int deferrals,
                          uint64_t first_seen_ms, const char *outcomes, int outcomes_omitted)
{
    attempt *a = hk_xcalloc(1, sizeof *a);
    a->job = j;
    a->task = task;
    a->number = number;
    a->deferrals = deferrals;
    a->first_seen_ms = first_seen_ms;
    a->outcomes_omitted = outcomes_omitted;
    if (outcomes && strcmp(outcomes, "[]") != 0) {
        size_t n = strlen(outcomes);
        hk_buf_append(&a->outcomes, outcomes, n && outcomes[n - 1] == ']' ? n - 1 : n);
    }
    hk_delivery_id(j->ev->event_id, task->id, a->delivery_id);
    if (w->handing_off) {
        /* Taken after the hand-off began: given up before it starts, and straight to its tier
         * (its partition is ours: it was just consumed). */
        hk_delivery_result res = {.status = HK_DELIVERY_CANCELLED};
        hk_retry_facts f = attempt_facts(w, a, &res);
        f.owns_partition = true;
        hk_retry_verdict v = hk_retry_decide(w->policy, &f);
        act(w, a, &res, false, &v);
        return;
    }
    hk_request_params p = {
        .task = task,
        .event = j->ev,
        .delivery_id = a->delivery_id,
        .attempt = a->number,
        .now_ms = hk_wall_ms(),
        .default_timeout_ms = w->cfg->http_timeout_ms,
        .max_body_bytes = (size_t)w->cfg->max_body_bytes,
    };
    hk_request *req = NULL;
    hk_error err = {0};
    if (hk_request_build(&p, &req, &err) != HK_OK) {
        /* A bad override: recorded as the attempt's outcome, then as the verdict says. */
        hk_delivery_result res = {.status = HK_DELIVERY_ERROR};
        snprintf(res.error, sizeof res.error, "invalid request: %.200s", err.msg);
        hk_retry_facts f = attempt_facts(w, a, &res);
        f.failure = HK_FAILURE_INVALID_REQUEST;
        hk_retry_verdict v = hk_retry_decide(w->policy, &f);
        act(w, a, &res, false, &v);
        return;
    }
    hk_delivery_submit(w->engine, req, on_delivery_done, a);
}

/* Whether the event could not be retried: its retry record, even without any outcome, would
 * pass what the producer's message.max.bytes leaves for a record's value. Such an event is
 * refused when consumed (a poison dead letter saying so), not after a first attempt: every
 * delivery may need a tier record (a retry, a deferral behind a slow host, a hand-off at
 * shutdown), so an event is accepted only when all of them can be written. */
static bool too_large_to_retry(worker *w, const job *j, char *why, size_t why_len)
{
    const hk_event *ev = j->ev;
    size_t need =
        hk_retry_record_min_size(w->g->group_id, ev->flow_id, ev->job_id, ev->event_id, j->raw_len);
    size_t limit = hk_producer_value_limit(w->producer, DELIVERY_ID_LEN);
    if (need <= limit)
        return false;
    size_t envelope = need - j->raw_len;
    snprintf(why, why_len,
             "%s: the event's %zu bytes make a retry record of up to %zu bytes, "
             "over the %zu that message.max.bytes %zu allows; with these ids an event may have "
             "at most %zu bytes",
             hk_retry_reason_text(HK_REASON_TOO_LARGE), j->raw_len, need, limit,
             hk_producer_max_message_bytes(w->producer),
             limit > envelope ? limit - envelope : 0);
    return true;
}

static void on_message(hk_consumer *c, hk_msg_ref ref, const char *topic, int32_t partition,
                       int64_t offset, const void *payload, size_t len, void *arg)
{
    worker *w = arg;
    uint64_t now = hk_wall_ms();
    job *j = hk_xcalloc(1, sizeof *j);
    j->w = w;
    j->c = c;
    j->ref = ref;
    j->attempts_alive = 1; /* the consumer's initial unit, held while dispatching */
    j->raw_len = len;
    j->raw = hk_strndup(payload ? payload : "", len);
    w->jobs_alive++;

    char fallback[256];
    snprintf(fallback, sizeof fallback, "%s/%d/%lld", topic, (int)partition, (long long)offset);
    hk_error err = {0};
    if (hk_event_parse(j->raw, len, fallback, &j->ev, &err) != HK_OK) {
        send_poison(w, j, topic, partition, offset, err.msg, &hk_retry_metrics.dlq_records_poison);
        return;
    }
    char too_large[320];
    if (too_large_to_retry(w, j, too_large, sizeof too_large)) {
        send_poison(w, j, topic, partition, offset, too_large,
                    hk_retry_reason_dlq_metric(HK_REASON_TOO_LARGE));
        return;
    }
    j->snap = hk_store_cache_acquire(w->cache);
    size_t n = 0;
    const hk_task *const *tasks = hk_store_snapshot_flow(j->snap, j->ev->flow_id, &n);
    size_t matched = 0;
    for (size_t i = 0; i < n; i++) {
        if (!hk_task_matches(tasks[i], j->ev))
            continue;
        matched++;
        j->attempts_alive++;
        start_attempt(w, j, tasks[i], 1, 0, now, NULL, 0);
    }
    if (!matched) {
        hk_counter_add(&hk_pipeline_metrics.events_unmatched, 1);
        hk_log_field f[] = {HK_STR("jobId", j->ev->job_id), HK_STR("flowId", j->ev->flow_id),
                            HK_STR("eventId", j->ev->event_id)};
        HK_LOGF(HK_LOG_DEBUG, "event.unmatched", f,
                "event %s (flow %s, job %s, %s) matched no webhook task", j->ev->event_id,
                j->ev->flow_id, j->ev->job_id, j->ev->job_status);
    }
    job_release(j);
    update_backpressure(w);
}

static uint64_t tier_due(const void *payload, size_t len, void *arg)
{
    worker *w = arg;
    /* Another group's record is skipped at once, never waited for. */
    if (!hk_retry_record_for_group(payload, len, w->g->group_id))
        return 0;
    return hk_retry_record_due(payload, len);
}

/* A due retry record: the next attempt of one delivery, with the task as it is now. */
static void on_retry_message(hk_consumer *c, hk_msg_ref ref, const char *topic, int32_t partition,
                             int64_t offset, const void *payload, size_t len, void *arg)
{
    worker *w = arg;
    if (!hk_retry_record_for_group(payload, len, w->g->group_id)) {
        /* Written by workers of another consumer group sharing the tier topics: theirs. */
        hk_counter_add(&hk_pipeline_metrics.retries_foreign, 1);
        hk_consumer_release(c, ref);
        return;
    }
    job *j = hk_xcalloc(1, sizeof *j);
    j->w = w;
    j->c = c;
    j->ref = ref;
    j->attempts_alive = 1;
    w->jobs_alive++;
    for (size_t t = 0; t < w->policy->tiers; t++)
        if (w->tiers[t] == c)
            hk_counter_vec_add(&hk_pipeline_metrics.retries_consumed, t, 1);
    hk_retry_record r;
    hk_error err = {0};
    if (hk_retry_record_parse(payload, len, &r, &err) != HK_OK) {
        j->raw_len = len;
        j->raw = hk_strndup(payload ? payload : "", len);
        char why[300];
        snprintf(why, sizeof why, "bad retry record: %.60s: %.200s", err.field, err.msg);
        send_poison(w, j, topic, partition, offset, why, &hk_retry_metrics.dlq_records_poison);
        return;
    }
    j->raw = r.event_json;
    j->raw_len = r.event_len;
    r.event_json = NULL;
    if (hk_event_parse(j->raw, j->raw_len, r.event_id, &j->ev, &err) != HK_OK) {
        char why[300];
        snprintf(why, sizeof why, "bad event in retry record: %.200s", err.msg);
        send_poison(w, j, topic, partition, offset, why, &hk_retry_metrics.dlq_records_poison);
        hk_retry_record_free(&r);
        return;
    }
    j->snap = hk_store_cache_acquire(w->cache);
    size_t n = 0;
    const hk_task *const *tasks = hk_store_snapshot_flow(j->snap, r.flow_id, &n);
    const hk_task *task = NULL;
    for (size_t i = 0; i < n && !task; i++)
        if (strcmp(tasks[i]->id, r.webhook_id) == 0)
            task = tasks[i];
    if (task && task->enabled) {
        j->attempts_alive++;
        start_attempt(w, j, task, r.attempt, r.deferred ? r.deferrals : 0, r.first_seen_ms,
                      r.outcomes_json, r.outcomes_omitted);
    } else {
        /* Deleted or disabled since: nothing to send to, but nothing is lost either. */
        hk_retry_facts facts = {
            .transport = HK_TRANSPORT_ERROR,
            .failure = task ? HK_FAILURE_TASK_DISABLED : HK_FAILURE_TASK_GONE,
            .attempt = r.attempt,
        };
        hk_retry_verdict v = hk_retry_decide(w->policy, &facts);
        hk_log_field f[] = {HK_STR("jobId", r.job_id), HK_STR("flowId", r.flow_id),
                            HK_STR("webhookId", r.webhook_id), HK_STR("deliveryId", r.delivery_id),
                            HK_NUM("attempt", r.attempt)};
        HK_LOGF(HK_LOG_WARN, "delivery.dropped", f,
                "delivery %s: webhook task %s is %s; dead-lettered", r.delivery_id, r.webhook_id,
                task ? "disabled" : "gone");
        cJSON *rec = delivery_dead_letter(j, r.delivery_id, r.webhook_id, r.attempt - 1,
                                          hk_retry_reason_text(v.reason), NULL,
                                          r.outcomes_json, r.outcomes_omitted);
        j->attempts_alive++;
        dlq_send_record(w, rec, r.job_id, hk_retry_reason_dlq_metric(v.reason), poison_done, j);
    }
    hk_retry_record_free(&r);
    job_release(j);
    update_backpressure(w);
}

static bool attempt_still_owned(void *arg, void *ctx)
{
    (void)ctx;
    const attempt *a = arg;
    return hk_consumer_owns(a->job->c, a->job->ref);
}

/* Partitions moved to another worker, which redelivers their unfinished events from the last
 * commit: sending what has not started yet would only make duplicates. */
static void on_partitions_moved(hk_consumer *c, void *arg)
{
    (void)c;
    worker *w = arg;
    size_t n = hk_delivery_cancel_waiting(w->engine, attempt_still_owned, NULL);
    if (n)
        HK_INFO("kafka.moved",
                "gave up %zu deliveries not yet started; the partitions' new owner "
                "redelivers them",
                n);
}

/* ---------------------------------------------------------------------------- shutdown --- */

static bool drained(worker *w)
{
    for (size_t t = 0; t < w->policy->tiers; t++)
        if (!hk_consumer_settled(w->tiers[t]))
            return false;
    return w->jobs_alive == 0 && hk_delivery_pending(w->engine) == 0 &&
           hk_consumer_settled(w->consumer);
}

static void finish_drain(worker *w)
{
    hk_error err = {0};
    if (hk_consumer_commit(w->consumer, &err) != HK_OK)
        HK_WARN("shutdown.commit", "%s", err.msg);
    for (size_t t = 0; t < w->policy->tiers; t++)
        if (hk_consumer_commit(w->tiers[t], &err) != HK_OK)
            HK_WARN("shutdown.commit", "%s: %s", w->g->tier_topics[t], err.msg);
    HK_INFO("shutdown", "loop %d stopped: %zu events still unfinished will be redelivered",
            w->index, w->jobs_alive);
    hk_loop_stop(w->loop);
}

/* The grace period's last part, kept for handing unfinished deliveries to a tier and waiting
 * for Kafka to acknowledge them: a quarter of it, between 200 ms and 5 s. */
static uint64_t handoff_reserve_ms(int grace_ms)
{
    uint64_t r = (uint64_t)grace_ms / 4;
    return r < 200 ? 200 : r > 5000 ? 5000 : r;
}

/* Nearly out of grace: every delivery still waiting or in flight is given up here and
 * republished to its tier, due at once (the verdict on HK_DELIVERY_CANCELLED while handing
 * off), so that its source offset can be committed before the worker exits. */
static void hand_off(worker *w)
{
    w->handing_off = true;
    size_t waiting = hk_delivery_cancel_waiting(w->engine, NULL, NULL);
    size_t inflight = hk_delivery_abort_inflight(w->engine);
    if (waiting + inflight)
        HK_INFO("shutdown.handoff",
                "loop %d: grace nearly over; handing %zu waiting and %zu in-flight deliveries to "
                "the retry tiers",
                w->index, waiting, inflight);
}

static void on_drain_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    worker *w = arg;
    uint64_t now = hk_now_ms();
    if (drained(w) || now >= w->drain_deadline) {
        finish_drain(w);
        return;
    }
    if (!w->handing_off && now >= w->handoff_at)
        hand_off(w);
    hk_timer_start(w->drain_timer, 50);
}

/* Stops taking events and lets those in progress finish until the grace period's last part;
 * what is still unfinished then is handed to the retry tiers. */
static void begin_drain(worker *w)
{
    if (w->draining)
        return;
    w->draining = true;
    HK_INFO("shutdown", "loop %d: finishing %zu events in progress (up to %d ms)", w->index,
            w->jobs_alive, w->cfg->shutdown_grace_ms);
    hk_consumer_stop_fetching(w->consumer);
    for (size_t t = 0; t < w->policy->tiers; t++)
        hk_consumer_stop_fetching(w->tiers[t]);
    uint64_t now = hk_now_ms(), grace = (uint64_t)w->cfg->shutdown_grace_ms;
    uint64_t reserve = handoff_reserve_ms(w->cfg->shutdown_grace_ms);
    w->handoff_at = now + (grace > reserve ? grace - reserve : 0);
    /* half the reserve for the hand-off's acknowledgements, half for commit and close */
    w->drain_deadline = now + (grace > reserve / 2 ? grace - reserve / 2 : 0);
    hk_timer_start(w->drain_timer, 0);
}

/* Hands a shard a command; it acts on it on its own thread, at its loop's next turn. A stronger
 * command replaces a weaker one not yet seen (abort > finish > drain). */
static void send_command(worker *w, int cmd)
{
    int cur = atomic_load(&w->command);
    while (cur < cmd && !atomic_compare_exchange_weak(&w->command, &cur, cmd))
        ;
    uint64_t one = 1;
    ssize_t n = write(w->wake_fd, &one, sizeof one); /* cannot fail short of 2^64 - 1 wakes */
    (void)n;
}

static void send_all(group *g, int cmd)
{
    for (int i = 0; i < g->n; i++)
        if (g->shards[i].wake_fd >= 0)
            send_command(&g->shards[i], cmd);
}

/* A fatal error in one shard: every shard stops where it is, storing nothing more; whatever is
 * unfinished is redelivered to the partitions' next owner. */
static void abort_all(group *g)
{
    atomic_store(&g->exit_status, 1);
    send_all(g, CMD_ABORT);
}

static void on_wake(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    worker *w = arg;
    uint64_t count;
    ssize_t n = read(fd, &count, sizeof count);
    (void)n;
    switch (atomic_exchange(&w->command, CMD_NONE)) {
    case CMD_DRAIN:
        begin_drain(w);
        break;
    case CMD_FINISH:
        finish_drain(w);
        break;
    case CMD_ABORT:
        hk_loop_stop(w->loop);
        break;
    default:
        break;
    }
}

static void on_signal(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    group *g = arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (g->signalled) {
            HK_WARN("shutdown", "second signal: stopping now");
            send_all(g, CMD_FINISH);
            return;
        }
        g->signalled = true;
        atomic_store(&g->stopping, true);
        g->stop_by = hk_now_ms() + (uint64_t)g->cfg->shutdown_grace_ms;
        HK_INFO("shutdown", "signal %u: finishing the events in progress on %d loop%s",
                si.ssi_signo, g->n, g->n == 1 ? "" : "s");
        send_all(g, CMD_DRAIN);
    }
}

/* ------------------------------------------------------------------------------ probes --- */

#define STALL_MS 10000 /* a loop that has not turned for this long is not alive */
#define BEAT_MS 1000

static int probe_ready(void *arg, hk_buf *body);

/* Every second on each loop: proof for /healthz that it turns; shard 0 also refreshes the
 * hookd_ready gauge. */
static void on_beat(hk_loop *loop, void *arg)
{
    (void)loop;
    worker *w = arg;
    atomic_store(&w->beat_ms, hk_now_ms());
    if (w->index == 0) {
        hk_buf b = {0};
        hk_gauge_set(&hk_pipeline_metrics.ready, probe_ready(w->g, &b) == 200);
        hk_buf_free(&b);
    }
    hk_timer_start(w->beat_timer, BEAT_MS);
}

/* /healthz: every event loop turned within STALL_MS. */
static int probe_alive(void *arg, hk_buf *body)
{
    group *g = arg;
    if (!atomic_load(&g->started)) {
        hk_buf_puts(body, "ok: starting\n");
        return 200;
    }
    uint64_t now = hk_now_ms();
    int status = 200;
    for (int i = 0; i < g->n; i++) {
        uint64_t beat = atomic_load(&g->shards[i].beat_ms);
        if (now > beat && now - beat > STALL_MS) {
            hk_buf_printf(body, "loop %d: stalled, no turn for %llu ms\n", i,
                          (unsigned long long)(now - beat));
            status = 503;
        }
    }
    if (status == 200)
        hk_buf_printf(body, "ok: %d loop%s turning\n", g->n, g->n == 1 ? "" : "s");
    return status;
}

/* /readyz: Kafka reachable (a broker UP in the latest statistics; before the first, the group
 * join proves it), Redis answering the task cache's polls, and every consumer (each loop's main
 * one and its tiers') in its group with an assignment. An empty assignment counts: with more
 * members than partitions some must idle, and holding them unready would stall a rolling
 * update (decision 23). */
static int probe_ready(void *arg, hk_buf *body)
{
    group *g = arg;
    if (!atomic_load(&g->started)) {
        hk_buf_puts(body, "not ready: starting\n");
        return 503;
    }
    if (atomic_load(&g->stopping)) {
        hk_buf_puts(body, "not ready: stopping\n");
        return 503;
    }
    int brokers = -1, partitions = 0, tier_partitions = 0;
    bool kafka_ok = true, joined = true;
    for (int i = 0; i < g->n; i++) {
        worker *w = &g->shards[i];
        int up = hk_consumer_brokers_up(w->consumer);
        bool j = hk_consumer_joined(w->consumer);
        if (up > brokers)
            brokers = up;
        if (up == 0 || (up < 0 && !j))
            kafka_ok = false;
        joined = joined && j;
        partitions += hk_consumer_assigned(w->consumer);
        for (size_t t = 0; t < g->policy.tiers; t++) {
            joined = joined && hk_consumer_joined(w->tiers[t]);
            tier_partitions += hk_consumer_assigned(w->tiers[t]);
        }
    }
    bool redis_ok = hk_store_cache_redis_ok(g->cache);
    if (kafka_ok && brokers >= 0)
        hk_buf_printf(body, "kafka: ok (%d broker%s up)\n", brokers, brokers == 1 ? "" : "s");
    else
        hk_buf_puts(body, kafka_ok ? "kafka: ok (group joined)\n"
                                   : "kafka: unreachable (no broker up)\n");
    hk_buf_puts(body, redis_ok ? "redis: ok\n"
                               : "redis: unreachable (the task cache keeps "
                                 "the tasks it last loaded)\n");
    if (joined)
        hk_buf_printf(body, "partitions: ok (%d of %s and %d of the retry tiers assigned)\n",
                      partitions, g->cfg->topics[0], tier_partitions);
    else
        hk_buf_puts(body, "partitions: waiting for the group to assign them\n");
    return kafka_ok && redis_ok && joined ? 200 : 503;
}

/* ------------------------------------------------------------------------------- run --- */

static void *shard_main(void *arg)
{
    worker *w = arg;
    hk_loop_run(w->loop);
    return NULL;
}

/* A copy of the configured librdkafka properties with group.id and group.instance.id set to
 * the given values where not NULL. The array is the caller's to free; its strings stay owned by
 * the config and the caller. */
static hk_kv *kafka_props(const hk_config *cfg, const char *group_id, const char *member_id,
                          size_t *len)
{
    hk_kv *kv = hk_xcalloc(cfg->kafka_len + 2, sizeof *kv);
    size_t n = 0;
    for (size_t k = 0; k < cfg->kafka_len; k++) {
        const char *key = cfg->kafka[k].key;
        if ((group_id && strcmp(key, "group.id") == 0) ||
            (member_id && strcmp(key, "group.instance.id") == 0))
            continue;
        kv[n++] = cfg->kafka[k];
    }
    if (group_id)
        kv[n++] = (hk_kv){.key = "group.id", .value = (char *)group_id};
    if (member_id)
        kv[n++] = (hk_kv){.key = "group.instance.id", .value = (char *)member_id};
    *len = n;
    return kv;
}

/* Builds shard i: its loop, engine, producer and consumer, with its share of the in-flight caps.
 * Returns HK_OK, HK_EINVAL (a setting was refused) or HK_ERR. */
static int shard_create(group *g, int i, hk_error *err)
{
    const hk_config *cfg = g->cfg;
    worker *w = &g->shards[i];
    int n = g->n, rc;
    w->g = g;
    w->index = i;
    w->cfg = cfg;
    w->policy = &g->policy;
    w->cache = g->cache;
    w->history = g->history;
    w->allow = g->allow;
    w->wake_fd = -1;
    atomic_init(&w->command, CMD_NONE);
    /* n <= max_inflight, so every shard has at least one slot and the shares sum to the cap */
    w->max_inflight = cfg->max_inflight / n + (i < cfg->max_inflight % n);
    int per_host = cfg->max_inflight_per_host / n + (i < cfg->max_inflight_per_host % n);
    if (per_host < 1)
        per_host = 1;
    if (per_host > w->max_inflight)
        per_host = w->max_inflight;
    int queue = cfg->max_queue_per_host / n + (i < cfg->max_queue_per_host % n);
    if (cfg->max_queue_per_host > 0 && queue < 1)
        queue = 1;

    if (!(w->loop = hk_loop_create()))
        return hk_error_set(err, HK_ERR, NULL, "cannot create event loop %d", i);
    w->drain_timer = hk_timer_create(w->loop, on_drain_timer, w);
    w->beat_timer = hk_timer_create(w->loop, on_beat, w);
    w->backlog_timer = hk_timer_create(w->loop, on_backlog_timer, w);
    atomic_store(&w->beat_ms, hk_now_ms());
    hk_timer_start(w->beat_timer, 0);
    if ((w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return hk_error_set(err, HK_ERR, NULL, "eventfd: %s", strerror(errno));
    hk_loop_io(w->loop, w->wake_fd, HK_IO_READ, on_wake, w);

    hk_delivery_config dcfg = {
        .max_inflight = w->max_inflight,
        .max_inflight_per_host = per_host,
        .max_queue_per_host = queue,
        .allow = g->allow,
        .proxy = cfg->http_proxy,
    };
    if ((rc = hk_delivery_create(w->loop, &dcfg, &w->engine, err)) != HK_OK)
        return rc;
    if ((rc = hk_producer_create(w->loop, cfg->kafka, cfg->kafka_len, &w->producer, err)) != HK_OK)
        return rc;
    const char *own_topics[2 + HK_RETRY_MAX_TIERS] = {HK_TOPIC_DLQ, HK_TOPIC_DELIVERIES};
    for (size_t t = 0; t < g->policy.tiers; t++)
        own_topics[2 + t] = g->tier_topics[t];
    if (i == 0 && (rc = hk_producer_ensure_topics(w->producer, own_topics, 2 + g->policy.tiers,
                                                  cfg->topic_partitions, cfg->topic_replication,
                                                  10000, err)) != HK_OK)
        return rc;
    hk_producer_prepare(w->producer, own_topics, 2 + g->policy.tiers);
    /* Every consumer is a group member of its own: the shard's main one in the configured
     * group, tier t's in "<group.id>.retry.<delay>"; a static member id must differ too. */
    const char *member = hk_config_kafka(cfg, "group.instance.id");
    char suffix[32] = "";
    if (n > 1)
        snprintf(suffix, sizeof suffix, "-%d", i);
    for (size_t c = 0; c <= g->policy.tiers; c++) {
        hk_buf id = {0};
        if (c > 0) {
            hk_buf_printf(&id, "%s.retry.%s", g->group_id, g->policy.names[c - 1]);
            w->group_ids[c] = id.data;
            id = (hk_buf){0};
        }
        if (member) {
            hk_buf_printf(&id, "%s%s", member, suffix);
            if (c > 0)
                hk_buf_printf(&id, ".retry.%s", g->policy.names[c - 1]);
            w->member_ids[c] = id.data;
        }
        w->kafka[c] = kafka_props(cfg, w->group_ids[c], w->member_ids[c], &w->kafka_len[c]);
        char *tier_topic[] = {c > 0 ? g->tier_topics[c - 1] : NULL};
        hk_consumer_config ccfg = {
            .kafka = w->kafka[c],
            .kafka_len = w->kafka_len[c],
            .topics = c > 0 ? tier_topic : cfg->topics,
            .topics_len = c > 0 ? 1 : cfg->topics_len,
            .on_message = c > 0 ? on_retry_message : on_message,
            .on_moved = on_partitions_moved,
            .due = c > 0 ? tier_due : NULL,
            .arg = w,
        };
        if ((rc = hk_consumer_create(w->loop, &ccfg, c > 0 ? &w->tiers[c - 1] : &w->consumer,
                                     err)) != HK_OK)
            return rc;
    }
    return HK_OK;
}

/* hk_worker_run's steps, in its order. Each that can fail returns 0, or the exit status (2 for a
 * bad setting, 1 otherwise) with err set; hk_worker_run then tears down what was made. */

/* The retry policy, the allowed networks (with a warning when they open everything) and the
 * tiers' metric labels, before /metrics can be scraped. */
static int run_policy(group *g, hk_error *err)
{
    const hk_config *cfg = g->cfg;
    if (hk_retry_policy_init(&g->policy, cfg->retry_delays, cfg->retry_max_attempts,
                             "HOOKD_RETRY_DELAYS", err) != HK_OK ||
        hk_cidr_list_parse(cfg->allow_networks, &g->allow, err) != HK_OK ||
        hk_delivery_check_proxy(cfg->http_proxy, err) != HK_OK)
        return 2; /* bad configuration, before anything connects */
    bool all4 = hk_cidr_list_covers_all(g->allow, AF_INET),
         all6 = hk_cidr_list_covers_all(g->allow, AF_INET6);
    if (all4 || all6)
        HK_WARN("config.allow_networks",
                "HOOKD_ALLOW_NETWORKS covers every %s address: the private-address guard is off, "
                "and webhooks can reach loopback, private and cloud-metadata addresses",
                all4 && all6 ? "IPv4 and IPv6"
                : all4       ? "IPv4"
                             : "IPv6");
    const char *tier_names[HK_RETRY_MAX_TIERS];
    for (size_t t = 0; t < g->policy.tiers; t++)
        tier_names[t] = g->policy.names[t];
    hk_pipeline_metrics_set_tiers(tier_names, g->policy.tiers);
    return 0;
}

/* The admin API (when a token is set), the HTTP listener and the probe listener. */
static int run_listen(group *g, hk_error *err)
{
    const hk_config *cfg = g->cfg;
    int rc;
    if (cfg->api_token && *cfg->api_token && (rc = hk_api_create(cfg, &g->api, err)) != HK_OK)
        return rc == HK_EINVAL ? 2 : 1;
    g->probes = (hk_http_probes){.alive = probe_alive, .ready = probe_ready, .arg = g};
    if ((rc = hk_http_start(cfg->listen, &g->probes, g->api, &g->http, err)) != HK_OK ||
        (cfg->probe_listen && *cfg->probe_listen &&
         (rc = hk_http_start_probes(cfg->probe_listen, &g->probes, &g->probe_http, err)) != HK_OK))
        return rc == HK_EINVAL ? 2 : 1;
    return 0;
}

/* The task cache, the history writer, the tiers' topics and the shards. */
static int run_shards(group *g, const hk_store_config *scfg, hk_error *err)
{
    const hk_config *cfg = g->cfg;
    int rc;
    if (hk_store_cache_create(scfg, 500, 30000, &g->cache, err) != HK_OK ||
        hk_store_history_create(scfg, 100000, &g->history, err) != HK_OK)
        return 1;
    for (size_t t = 0; t < g->policy.tiers; t++)
        hk_retry_tier_topic(&g->policy, t, g->tier_topics[t]);
    g->group_id = hk_config_kafka(cfg, "group.id"); /* always set: the config defaults it */
    g->n = cfg->threads < cfg->max_inflight ? cfg->threads : cfg->max_inflight;
    if (g->n < 1)
        g->n = 1;
    g->shards = hk_xcalloc((size_t)g->n, sizeof *g->shards);
    for (int i = 0; i < g->n; i++)
        g->shards[i].wake_fd = -1;
    for (int i = 0; i < g->n; i++) {
        if ((rc = shard_create(g, i, err)) != HK_OK)
            return rc == HK_EINVAL ? 2 : 1;
    }
    return 0;
}

static void run_announce(group *g)
{
    const hk_config *cfg = g->cfg;
    hk_store_snapshot *snap = hk_store_cache_acquire(g->cache);
    HK_INFO("start", "hookd %s consuming %s as group %s on %d loop%s; %zu webhook tasks loaded",
            HK_VERSION, cfg->topics[0], hk_config_kafka(cfg, "group.id"), g->n,
            g->n == 1 ? "" : "s", hk_store_snapshot_size(snap));
    hk_store_snapshot_release(snap);
    HK_INFO("http", "health, readiness and metrics%s on %s (port %u)",
            g->api ? ", and the admin API under /v1," : "", cfg->listen,
            (unsigned)hk_http_port(g->http));
    if (g->probe_http)
        HK_INFO("http.probes", "health and readiness on %s (port %u)", cfg->probe_listen,
                (unsigned)hk_http_port(g->probe_http));
    else
        HK_INFO("http.probes", "no probe listener (HOOKD_PROBE_LISTEN is empty)");
}

/* Shard 0's loop on this thread, the others on their own; returns when all have stopped. */
static void run_loops(group *g)
{
    int rc;
    for (int i = 1; i < g->n; i++) {
        worker *w = &g->shards[i];
        if ((rc = pthread_create(&w->thread, NULL, shard_main, w)) != 0) {
            HK_ERROR("start", "cannot start loop %d: %s", i, strerror(rc));
            abort_all(g);
            break;
        }
        w->thread_started = true;
    }
    hk_loop_run(g->shards[0].loop);
    for (int i = 1; i < g->n; i++)
        if (g->shards[i].thread_started)
            pthread_join(g->shards[i].thread, NULL);
}

/* Everything run made, whatever step it reached. Order matters: the consumers commit on close;
 * the producers then flush outcomes. */
static void run_teardown(group *g)
{
    hk_http_stop(g->probe_http);
    hk_http_stop(g->http);
    hk_api_destroy(g->api);
    for (int i = 0; g->shards && i < g->n; i++) {
        hk_consumer_destroy(g->shards[i].consumer);
        for (size_t t = 0; t < g->policy.tiers; t++)
            hk_consumer_destroy(g->shards[i].tiers[t]);
    }
    for (int i = 0; g->shards && i < g->n; i++)
        hk_delivery_destroy(g->shards[i].engine);
    for (int i = 0; g->shards && i < g->n; i++) {
        /* Outcome records still queued get what is left of the grace period (everything the
         * offsets depend on was acknowledged before the loops stopped). */
        uint64_t now = hk_now_ms();
        int flush_ms = !g->stop_by ? 5000 : g->stop_by > now + 100 ? (int)(g->stop_by - now) : 100;
        hk_producer_destroy(g->shards[i].producer, flush_ms);
    }
    hk_store_history_destroy(g->history);
    hk_store_cache_destroy(g->cache);
    if (g->sigfd >= 0)
        close(g->sigfd);
    for (int i = 0; g->shards && i < g->n; i++) {
        worker *w = &g->shards[i];
        hk_timer_destroy(w->drain_timer);
        hk_timer_destroy(w->beat_timer);
        hk_timer_destroy(w->backlog_timer);
        while (w->backlog) { /* never queued: the partitions' next owner redelivers them */
            dlq_send *s = w->backlog;
            w->backlog = s->next;
            dlq_send_free(s);
        }
        if (w->wake_fd >= 0)
            close(w->wake_fd);
        hk_loop_destroy(w->loop);
        for (size_t c = 0; c <= HK_RETRY_MAX_TIERS; c++) {
            free(w->kafka[c]);
            free(w->group_ids[c]);
            free(w->member_ids[c]);
        }
        hk_buf_free(&w->scratch);
    }
    free(g->shards);
    hk_cidr_list_destroy(g->allow);
}

int hk_worker_run(const hk_config *cfg, hk_error *err)
{
    group g = {.cfg = cfg, .sigfd = -1};
    int status;
    atomic_init(&g.exit_status, 0);
    atomic_init(&g.started, false);
    atomic_init(&g.stopping, false);
    hk_store_config scfg = hk_store_config_of(cfg);
    if ((status = run_policy(&g, err)) != 0)
        goto done;
    /* Before any thread starts (ours, libmicrohttpd's, librdkafka's), so that every thread
     * inherits the mask and the signals reach only the signalfd. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((status = run_listen(&g, err)) != 0 || (status = run_shards(&g, &scfg, err)) != 0)
        goto done;
    g.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    hk_loop_io(g.shards[0].loop, g.sigfd, HK_IO_READ, on_signal, &g);

    run_announce(&g);
    atomic_store(&g.started, true);
    run_loops(&g);
    status = atomic_load(&g.exit_status);
done:
    run_teardown(&g);
    return status;
}
