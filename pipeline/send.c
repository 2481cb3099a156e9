/*
 * send.c — the records the pipeline writes to Kafka and what it does when they do not go:
 * outcome records (hookd.deliveries, best effort), dead letters (hookd.dlq) and tier records
 * (the retry topics). A dead letter or a tier record carries a delivery on: the attempt, and so
 * its source offset, finishes only when Kafka acknowledged it. A full producer queue parks the
 * record in the shard's backlog (and pauses the consumers); a record too large for the producer
 * or the broker is cut (a dead letter) or dead-lettered (a tier record); only a fatal producer
 * error stops the worker. The records' formats are retry/'s (hk_outcome_write,
 * hk_dead_letter_*, hk_retry_record_write_within).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct send_rec {
    hk_pipeline *p;
    const char *topic;  /* <prefix>dlq or a tier's topic */
    int tier;           /* the tier's index, -1 for <prefix>dlq, OPERATIONAL for <prefix>events */
    hk_counter *reason; /* for <prefix>dlq: hookd_dlq_records_total's member */
    bool delivery;      /* a delivery's dead letter (not a poison event's): its end */
    char *value;
    size_t len;
    char *key;
    void (*done)(void *arg);
    void *arg;
    attempt *retry_of; /* a tier's record: the attempt it carries on */
    send_rec *next;    /* in the shard's backlog */
};

#define OPERATIONAL (-2)

static void publish(send_rec *s);
static void operational_lost(send_rec *s, const char *why);
static void retry_record_too_large(send_rec *s, const char *why);
static void dead_letter_too_large(send_rec *s);
static void dead_letter_lost(send_rec *s, size_t limit);

/* hookd_dlq_publish_errors_total's member for what s carries. */
static hk_counter *publish_errors(const send_rec *s)
{
    return s->tier == OPERATIONAL ? &hk_pipeline_metrics.dlq_publish_errors_event
           : s->tier >= 0         ? &hk_pipeline_metrics.dlq_publish_errors_retry
                                  : &hk_pipeline_metrics.dlq_publish_errors_dead_letter;
}

static void send_rec_free(send_rec *s)
{
    free(s->value);
    free(s->key);
    free(s);
}

static void on_ack(int err, const char *errstr, void *arg)
{
    send_rec *s = arg;
    if (err && s->tier == OPERATIONAL && hk_producer_err_too_large(err)) {
        operational_lost(s, errstr);
        return;
    }
    if (err && hk_producer_err_too_large(err)) {
        /* The broker's limit (the topic's max.message.bytes) is below the producer's: the
         * same bytes would be refused forever. */
        hk_counter_add(publish_errors(s), 1);
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
        hk_counter_add(publish_errors(s), 1);
        HK_ERROR("dlq.publish.failed", "record for %s not acknowledged, publishing again: %s",
                 s->topic, errstr);
        publish(s);
        return;
    }
    if (s->tier < 0) {
        hk_counter_add(s->reason, 1);
        if (s->delivery)
            hk_counter_add(&hk_retry_metrics.deliveries_dead_lettered, 1);
    } else
        hk_counter_vec_add(&hk_pipeline_metrics.retries_published, (size_t)s->tier, 1);
    s->done(s->arg);
    send_rec_free(s);
}

/* A record the producer will never queue as it is: too large (cut, or dead-lettered instead),
 * or the producer failed fatally (rd_kafka_fatal_error): stop without committing, so the
 * next owner of the partition redelivers. */
static void send_refused(send_rec *s, int rc)
{
    if (rc == HK_PRODUCE_TOO_LARGE && s->tier == OPERATIONAL) {
        operational_lost(s, "the producer refused it (MSG_SIZE_TOO_LARGE)");
        return;
    }
    if (rc == HK_PRODUCE_TOO_LARGE) {
        if (s->tier >= 0)
            retry_record_too_large(s, "the producer refused it (MSG_SIZE_TOO_LARGE)");
        else
            dead_letter_too_large(s);
        return;
    }
    HK_ERROR("dlq.publish.fatal", "the producer failed fatally; stopping the worker");
    s->p->sh->on_fatal(s->p->sh->fatal_arg);
}

/* Queues a dead letter or a tier's record. Only a fatal producer error stops the worker; a full
 * queue parks the record in the backlog (and the consumers with it) until it goes. */
static void publish(send_rec *s)
{
    hk_pipeline *p = s->p;
    int rc = p->backlog ? HK_PRODUCE_AGAIN /* after those already waiting */
                        : hk_producer_send(p->producer, s->topic, s->key, strlen(s->key), s->value,
                                           s->len, on_ack, s);
    switch (rc) {
    case HK_PRODUCE_QUEUED:
        return;
    case HK_PRODUCE_AGAIN:
        s->next = NULL;
        if (p->backlog_tail)
            p->backlog_tail->next = s;
        else
            p->backlog = s;
        p->backlog_tail = s;
        if (!hk_timer_active(p->backlog_timer))
            hk_timer_start(p->backlog_timer, 10);
        pl_update_backpressure(p);
        return;
    default:
        send_refused(s, rc);
        return;
    }
}

/* The backlog's turn: sends in order until the producer's queue is full again. */
void pl_on_backlog_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_pipeline *p = arg;
    while (p->backlog) {
        send_rec *s = p->backlog;
        int rc = hk_producer_send(p->producer, s->topic, s->key, strlen(s->key), s->value, s->len,
                                  on_ack, s);
        if (rc == HK_PRODUCE_AGAIN)
            break;
        p->backlog = s->next;
        if (!p->backlog)
            p->backlog_tail = NULL;
        if (rc != HK_PRODUCE_QUEUED)
            send_refused(s, rc);
    }
    if (p->backlog)
        hk_timer_start(p->backlog_timer, 20);
    pl_update_backpressure(p);
}

void pl_backlog_drop(hk_pipeline *p)
{
    while (p->backlog) { /* never queued: the partitions' next owner redelivers them */
        send_rec *s = p->backlog;
        p->backlog = s->next;
        send_rec_free(s);
    }
    p->backlog_tail = NULL;
}

/* ------------------------------------------------------------------------ dead letters --- */

void pl_send_dead_letter(hk_pipeline *p, cJSON *rec, const char *key, hk_counter *reason,
                         void (*done)(void *), void *arg)
{
    hk_dead_letter_stamp(rec, p->sh->group_id, hk_wall_ms());
    send_rec *s = hk_xcalloc(1, sizeof *s);
    s->p = p;
    s->topic = p->sh->topic_dlq;
    s->tier = -1;
    s->reason = reason;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(rec, "kind");
    s->delivery = cJSON_IsString(kind) && strcmp(kind->valuestring, "delivery") == 0;
    size_t key_len = strlen(key);
    s->key = hk_strndup(key, key_len > HK_DEAD_LETTER_KEY_MAX ? HK_DEAD_LETTER_KEY_MAX : key_len);
    s->done = done;
    s->arg = arg;
    size_t limit = hk_producer_value_limit(p->producer, strlen(s->key));
    if (hk_dead_letter_print_within(rec, limit, &s->value, &s->len) != HK_OK) {
        cJSON_Delete(rec);
        dead_letter_lost(s, limit);
        return;
    }
    cJSON_Delete(rec);
    publish(s);
}

/* A dead letter refused as too large, by the producer or by the broker (whose limit may be
 * lower than message.max.bytes): cut to half its size and sent again, until it cannot be cut
 * any more. */
static void dead_letter_too_large(send_rec *s)
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
    publish(s);
}

/* Even the smallest form of a dead letter cannot pass: a limit far below any sane one (a few
 * hundred bytes). Dropped, loudly, rather than stop the partition for ever. */
static void dead_letter_lost(send_rec *s, size_t limit)
{
    hk_counter_add(&hk_pipeline_metrics.dlq_publish_errors_dead_letter, 1);
    HK_ERROR("dlq.publish.dropped",
             "a dead letter for %s cannot be cut under %zu bytes (check message.max.bytes and "
             "the topic's max.message.bytes); dropped",
             s->topic, limit);
    s->done(s->arg);
    send_rec_free(s);
}

const char *pl_closed_outcomes(attempt *a)
{
    hk_buf_puts(&a->outcomes, a->outcomes.len ? "]" : "[]");
    return a->outcomes.data;
}

void pl_dead_letter_attempt(hk_pipeline *p, attempt *a, hk_retry_reason why, const char *detail,
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
    hk_delivery_ids ids = pl_attempt_ids(a);
    cJSON *rec = hk_dead_letter_delivery(&ids, a->number, reason, error, a->job->raw,
                                         a->job->raw_len, outcomes, a->outcomes_omitted);
    pl_send_dead_letter(p, rec, a->job->ev->job_id, hk_retry_reason_dlq_metric(why),
                        pl_attempt_finished, a);
}

/* ------------------------------------------------------------------------ tier records --- */

/* A tier's record that cannot be published (too large for the producer or the broker): the
 * delivery it carries is dead-lettered instead, with the reason. */
static void retry_record_too_large(send_rec *s, const char *why)
{
    attempt *a = s->retry_of;
    hk_pipeline *p = s->p;
    send_rec_free(s);
    hk_retry_facts f = {.transport = HK_TRANSPORT_ERROR,
                        .failure = HK_FAILURE_RECORD_TOO_LARGE,
                        .attempt = a->number};
    hk_retry_verdict v = hk_retry_decide(p->policy, &f);
    pl_dead_letter_attempt(p, a, v.reason, why, NULL, a->outcomes.data);
}

void pl_republish(hk_pipeline *p, attempt *a, size_t tier, uint64_t delay, int deferrals)
{
    bool deferred = deferrals > 0;
    job *j = a->job;
    hk_retry_record r = {
        .group = (char *)p->sh->group_id,
        .delivery_id = a->delivery_id,
        .webhook_id = a->task->id,
        .flow_id = j->ev->flow_id,
        .job_id = j->ev->job_id,
        .event_id = j->ev->event_id,
        .attempt = deferred ? a->number : a->number + 1,
        .due_ms = hk_wall_ms() + delay,
        .first_seen_ms = a->first_seen_ms,
        .deferred = deferred,
        .deferrals = deferrals,
        .event_json = j->raw,
        .event_len = j->raw_len,
        .outcomes_json = (char *)pl_closed_outcomes(a),
        .outcomes_omitted = a->outcomes_omitted,
    };
    send_rec *s = hk_xcalloc(1, sizeof *s);
    s->p = p;
    s->topic = p->sh->tier_topics[tier];
    s->tier = (int)tier;
    s->key = hk_strdup(a->delivery_id); /* spreads deliveries over the tier's partitions */
    s->done = pl_attempt_finished;
    s->arg = a;
    s->retry_of = a;
    hk_buf value = {0};
    hk_error err = {0};
    if (hk_retry_record_write_within(
            &value, &r, hk_producer_value_limit(p->producer, strlen(s->key)), &err) != HK_OK) {
        /* The event passed the size check when consumed, so only a task id or group longer
         * than the check assumes gets here. */
        char why[300];
        snprintf(why, sizeof why, "%.240s (message.max.bytes %zu)", err.msg,
                 hk_producer_max_message_bytes(p->producer));
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
    publish(s);
}

/* ------------------------------------------------------------------ operational events --- */

static void operational_done(void *arg)
{
    (void)arg;
}

/* Never more than a few hundred bytes: only a broker set far below any sane limit gets here. */
static void operational_lost(send_rec *s, const char *why)
{
    hk_counter_add(&hk_pipeline_metrics.operational_event_errors, 1);
    HK_ERROR("operational.publish.failed", "an operational event for %s (key %s) was lost: %s",
             s->topic, s->key, why);
    send_rec_free(s);
}

void hk_pipeline_publish_event(hk_pipeline *p, const char *key, const char *json)
{
    send_rec *s = hk_xcalloc(1, sizeof *s);
    s->p = p;
    s->topic = p->sh->topic_events;
    s->tier = OPERATIONAL;
    s->reason = &hk_pipeline_metrics.operational_events;
    s->key = hk_strdup(key);
    s->value = hk_strdup(json);
    s->len = strlen(json);
    s->done = operational_done;
    publish(s); /* a failed publish is published again, as a dead letter is */
}

/* ---------------------------------------------------------------------------- outcomes --- */

static void on_outcome_ack(int err, const char *errstr, void *arg)
{
    (void)arg;
    if (err) {
        hk_counter_add(&hk_pipeline_metrics.dlq_publish_errors_outcome, 1);
        HK_WARN("outcome.publish.failed", "%s", errstr);
    } else {
        hk_counter_add(&hk_pipeline_metrics.outcomes_published, 1);
    }
}

/* The outcome as the job's history keeps it: with what was sent and what came back, and the
 * delivery's index entry (the event too, once per job), so that a resend can find it. */
static void keep_history(hk_pipeline *p, attempt *a, const hk_delivery_result *res,
                         const hk_buf *outcome)
{
    hk_buf *b = &p->history_text;
    b->len = 0;
    hk_buf_append(b, outcome->data, outcome->len - 1); /* without its closing brace */
    hk_outcome_detail d = {
        .request_body = p->cfg->history_bodies ? res->request_body : NULL,
        .request_body_len = res->request_body_len,
        .answered = res->http_status > 0,
        .response_headers = res->response_headers,
        .response_headers_len = res->response_headers_len,
        .response_body = res->response,
        .response_body_len = res->response_len,
    };
    hk_outcome_write_detail(b, &d);
    hk_buf_puts(b, "}");
    job *j = a->job;
    hk_store_history_ref ref = {
        .job_id = j->ev->job_id,
        .delivery_id = a->delivery_id,
        .event_id = j->ev->event_id,
        .webhook_id = a->task->id,
        .attempt = a->number,
        .index = res->status != HK_DELIVERY_OK, /* one delivered at once is found by its job */
        .event = j->event_kept ? NULL : j->raw,
        .event_len = j->raw_len,
    };
    j->event_kept = true;
    hk_store_history_add(p->sh->history, &ref, b->data);
}

void pl_record_outcome(hk_pipeline *p, attempt *a, const hk_delivery_result *res, bool keep)
{
    hk_buf *text = &p->scratch;
    text->len = 0;
    hk_outcome o = {
        .ids = pl_attempt_ids(a),
        .attempt = a->number,
        .delivered = res->status == HK_DELIVERY_OK,
        .http_status = res->http_status,
        .error = res->error,
        .latency_ms = res->latency_ms,
        .at_ms = hk_wall_ms(),
        .warning = a->job->override_warning, /* overrides naming no task, found once per job */
    };
    hk_outcome_write(text, &o);
    const char *job_id = a->job->ev->job_id;
    int rc = hk_producer_send(p->producer, p->sh->topic_deliveries, job_id, strlen(job_id),
                              text->data, text->len, on_outcome_ack, NULL);
    if (rc == HK_PRODUCE_FATAL) {
        hk_counter_add(&hk_pipeline_metrics.dlq_publish_errors_outcome, 1);
        HK_ERROR("outcome.publish.fatal", "the producer failed fatally; stopping the worker");
        p->sh->on_fatal(p->sh->fatal_arg);
    } else if (rc != HK_PRODUCE_QUEUED) {
        /* Best-effort, as an unacknowledged one (on_outcome_ack): counted, never waited for.
         * The job's history in Redis still gets it. */
        hk_counter_add(&hk_pipeline_metrics.dlq_publish_errors_outcome, 1);
        uint64_t now = hk_now_ms();
        if (now - p->outcome_warned_ms >= 1000) {
            p->outcome_warned_ms = now;
            HK_WARN("outcome.publish.failed", "an outcome record for %s was not queued: %s",
                    p->sh->topic_deliveries,
                    rc == HK_PRODUCE_TOO_LARGE ? "too large" : "the producer's queue is full");
        }
    }
    if (p->sh->history)
        keep_history(p, a, res, text);
    if (keep) {
        hk_buf_puts(&a->outcomes, a->outcomes.len ? "," : "[");
        hk_buf_append(&a->outcomes, text->data, text->len);
    }
}
