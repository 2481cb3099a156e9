/*
 * events.c — a consumed message's life: an event from the main topics (parse, refuse poison,
 * match the flow's tasks, one attempt per match) or a due record from a retry tier (the next
 * attempt of one delivery, with the task as it is now); each attempt's request is built and
 * handed to the engine, and its result goes through the one decision (hk_retry_decide) and
 * back here to be acted on.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

hk_delivery_ids pl_attempt_ids(const attempt *a)
{
    const hk_event *ev = a->job->ev;
    return (hk_delivery_ids){.delivery_id = a->delivery_id,
                             .webhook_id = a->task->id,
                             .flow_id = ev->flow_id,
                             .job_id = ev->job_id,
                             .event_id = ev->event_id};
}

void pl_attempt_finished(void *arg)
{
    attempt *a = arg;
    job *j = a->job;
    hk_buf_free(&a->outcomes);
    free(a);
    pl_job_release(j);
}

static hk_retry_facts attempt_facts(const hk_pipeline *p, const attempt *a,
                                    const hk_delivery_result *res)
{
    return hk_pipeline_facts(res, a->task, a->number, a->deferrals, p->handing_off,
                             p->handing_off && hk_consumer_owns(a->job->c, a->job->ref),
                             hk_wall_ms());
}

/* A delivery delivered: its end, and how long since its event's time (the event's finishedAt,
 * parsed once per job; else since hookd first consumed it). Atomics only: the hot path. */
static void delivered(attempt *a)
{
    hk_counter_add(&hk_retry_metrics.deliveries_delivered, 1);
    job *j = a->job;
    if (j->event_at_ms == 0) {
        uint64_t at;
        const char *finished = j->ev->finished_at;
        j->event_at_ms =
            finished && *finished && hk_parse_time(finished, &at) && at ? at : UINT64_MAX;
    }
    uint64_t from = j->event_at_ms != UINT64_MAX ? j->event_at_ms : a->first_seen_ms;
    uint64_t now = hk_wall_ms();
    /* a clock ahead of ours (the platform's) counts as 0, not as a wrapped day */
    hk_histogram_observe_ms(&hk_pipeline_metrics.delivery_end_to_end_seconds,
                            from && now > from ? now - from : 0);
}

/* Carries out the verdict on attempt a: the only place that acts on one. res: its result (the
 * engine's, or the pipeline's for a request never built); sent: whether a request went out, so
 * the attempt is logged as failed. */
static void act(hk_pipeline *p, attempt *a, const hk_delivery_result *res, bool sent,
                const hk_retry_verdict *v)
{
    if (v->counted != NULL)
        hk_counter_add(v->counted, 1);
    if (v->kind == HK_RETRY_DROP) {
        pl_attempt_finished(a);
        return;
    }
    if (v->kind == HK_RETRY_AGAIN && v->same_attempt) {
        pl_republish(p, a, v->tier, v->delay_ms, v->deferrals); /* never sent: nothing to record */
        return;
    }
    pl_record_outcome(p, a, res, v->kind != HK_RETRY_DONE);
    hk_log_field f[] = ATTEMPT_FIELDS(a);
    if (v->kind == HK_RETRY_DONE) {
        delivered(a);
        pl_health_result(p, a->task->id, true);
        HK_LOGF(HK_LOG_DEBUG, "delivery.ok", f, "delivered %s to webhook %s (HTTP %ld, %llu ms)",
                a->delivery_id, a->task->id, res->http_status, (unsigned long long)res->latency_ms);
        pl_attempt_finished(a);
        return;
    }
    if (sent)
        HK_LOGF(HK_LOG_WARN, "delivery.failed", f,
                "delivery %s to webhook %s failed on attempt %d: %s", a->delivery_id, a->task->id,
                a->number, res->error);
    if (v->disable_task && p->sh->history) /* the writer thread does it, off the loop */
        hk_store_history_disable_task(p->sh->history, a->task->id,
                                      "the endpoint answered 410 Gone");
    if (v->kind == HK_RETRY_AGAIN) {
        pl_republish(p, a, v->tier, v->delay_ms, 0);
        return;
    }
    pl_health_result(p, a->task->id, false); /* a final failure */
    pl_dead_letter_attempt(p, a, v->reason, NULL, res->error, pl_closed_outcomes(a));
}

static void on_delivery_done(const hk_delivery_result *res, void *arg)
{
    attempt *a = arg;
    hk_pipeline *p = a->job->p;
    hk_retry_facts f = attempt_facts(p, a, res);
    hk_retry_verdict v = hk_retry_decide(p->policy, &f);
    act(p, a, res, true, &v);
    pl_update_backpressure(p);
}

static void poison_done(void *arg)
{
    job *j = arg;
    pl_job_release(j);
}

static void send_poison(hk_pipeline *p, job *j, const char *topic, int32_t partition,
                        int64_t offset, const char *reason, hk_counter *metric)
{
    hk_counter_add(&hk_pipeline_metrics.events_poison, 1);
    hk_log_field f[] = {HK_STR("topic", topic), HK_NUM("partition", partition),
                        HK_NUM("offset", offset)};
    HK_LOGF(HK_LOG_WARN, "event.poison", f, "%s/%d/%lld refused: %s", topic, (int)partition,
            (long long)offset, reason);
    cJSON *rec = hk_dead_letter_poison(reason, topic, partition, offset, j->raw, j->raw_len);
    char key[256];
    snprintf(key, sizeof key, "%s/%d/%lld", topic, (int)partition, (long long)offset);
    pl_send_dead_letter(p, rec, key, metric, poison_done, j);
}

/* Starts attempt `number` of the task's delivery of the job's event, deferred `deferrals` times
 * in a row so far; `outcomes` is the JSON array of the earlier attempts' outcomes (NULL for
 * none). */
static void start_attempt(hk_pipeline *p, job *j, const hk_task *task, int number, int deferrals,
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
    if (p->handing_off) {
        /* Taken after the hand-off began: given up before it starts, and straight to its tier
         * (its partition is ours: it was just consumed). */
        hk_delivery_result res = {.status = HK_DELIVERY_CANCELLED};
        hk_retry_facts f = attempt_facts(p, a, &res);
        f.owns_partition = true;
        hk_retry_verdict v = hk_retry_decide(p->policy, &f);
        act(p, a, &res, false, &v);
        return;
    }
    if (task->rate_limit != 0 && !pl_rate_admit(p, a))
        return; /* waits for a slot of the task's rateLimit (rate.c) */
    pl_attempt_send(p, a);
}

void pl_attempt_send(hk_pipeline *p, attempt *a)
{
    job *j = a->job;
    hk_request_params params = {
        .task = a->task,
        .event = j->ev,
        .delivery_id = a->delivery_id,
        .attempt = a->number,
        .now_ms = hk_wall_ms(),
        .default_timeout_ms = p->cfg->http_timeout_ms,
        .max_body_bytes = (size_t)p->cfg->max_body_bytes,
    };
    hk_request *req = NULL;
    hk_error err = {0};
    if (hk_request_build(&params, &req, &err) != HK_OK) {
        /* A bad override: recorded as the attempt's outcome, then as the verdict says. */
        hk_delivery_result res = {.status = HK_DELIVERY_ERROR};
        snprintf(res.error, sizeof res.error, "invalid request: %.200s", err.msg);
        hk_retry_facts f = attempt_facts(p, a, &res);
        f.failure = HK_FAILURE_INVALID_REQUEST;
        hk_retry_verdict v = hk_retry_decide(p->policy, &f);
        act(p, a, &res, false, &v);
        return;
    }
    hk_delivery_submit(p->engine, req, on_delivery_done, a);
}

void pl_attempt_cancelled(attempt *a)
{
    hk_delivery_result res = {.status = HK_DELIVERY_CANCELLED};
    snprintf(res.error, sizeof res.error, "cancelled before it started");
    on_delivery_done(&res, a);
}

/* Whether the event could not be retried: its retry record, even without any outcome, would
 * pass what the producer's message.max.bytes leaves for a record's value. Such an event is
 * refused when consumed (a poison dead letter saying so), not after a first attempt: every
 * delivery may need a tier record (a retry, a deferral behind a slow host, a hand-off at
 * shutdown), so an event is accepted only when all of them can be written. */
static bool too_large_to_retry(hk_pipeline *p, const job *j, char *why, size_t why_len)
{
    const hk_event *ev = j->ev;
    size_t need = hk_retry_record_min_size(p->sh->group_id, ev->flow_id, ev->job_id, ev->event_id,
                                           j->raw_len);
    size_t limit = hk_producer_value_limit(p->producer, DELIVERY_ID_LEN);
    if (need <= limit)
        return false;
    size_t envelope = need - j->raw_len;
    snprintf(why, why_len,
             "%s: the event's %zu bytes make a retry record of up to %zu bytes, "
             "over the %zu that message.max.bytes %zu allows; with these ids an event may have "
             "at most %zu bytes",
             hk_retry_reason_text(HK_REASON_TOO_LARGE), j->raw_len, need, limit,
             hk_producer_max_message_bytes(p->producer), limit > envelope ? limit - envelope : 0);
    return true;
}

static job *job_new(hk_pipeline *p, hk_consumer *c, hk_msg_ref ref)
{
    job *j = hk_xcalloc(1, sizeof *j);
    j->p = p;
    j->c = c;
    j->ref = ref;
    j->attempts_alive = 1; /* the consumer's initial unit, held while dispatching */
    p->jobs_alive++;
    return j;
}

/* The tasks an event is for: its flow's, and its space's when it names one (else none). */
typedef struct event_tasks {
    const hk_task *const *flow, *const *space;
    size_t flow_n, space_n;
} event_tasks;

static event_tasks tasks_of(const job *j, const char *flow_id)
{
    event_tasks t = {0};
    t.flow = hk_store_snapshot_flow(j->snap, flow_id, &t.flow_n);
    if (j->ev->space_id)
        t.space = hk_store_snapshot_space(j->snap, j->ev->space_id, &t.space_n);
    return t;
}

/* The job's overrides that name no task of its flow (or space), found once per job: each
 * outcome of its deliveries says so (pl_record_outcome); the first consumption also logs and
 * counts them (a retry's does not again). */
static void find_unknown_overrides(job *j, const event_tasks *t, bool report)
{
    if (!j->ev->overrides_len)
        return;
    hk_buf why = {0};
    const hk_task **all = NULL; /* both lists as one, only for an event with overrides and a
                                   space that has tasks */
    if (t->space_n) {
        all = hk_xcalloc(t->flow_n + t->space_n, sizeof *all);
        for (size_t i = 0; i < t->flow_n; i++)
            all[i] = t->flow[i];
        for (size_t i = 0; i < t->space_n; i++)
            all[t->flow_n + i] = t->space[i];
    }
    size_t unknown = all ? hk_event_unknown_overrides(j->ev, all, t->flow_n + t->space_n, &why)
                         : hk_event_unknown_overrides(j->ev, t->flow, t->flow_n, &why);
    free(all);
    j->override_warning = why.data; /* NULL when none */
    if (unknown && report) {
        const hk_event *ev = j->ev;
        hk_counter_add(&hk_pipeline_metrics.overrides_unknown, unknown);
        hk_log_field f[] = {HK_STR("jobId", ev->job_id), HK_STR("flowId", ev->flow_id),
                            HK_STR("eventId", ev->event_id)};
        HK_LOGF(HK_LOG_WARN, "event.override.unknown", f, "event %s: %s", ev->event_id, why.data);
    }
}

/* A task the event's override skips for this run ("skip": true). */
static void skipped(const hk_event *ev, const hk_task *task)
{
    hk_counter_add(&hk_retry_metrics.deliveries_skipped, 1);
    hk_log_field f[] = {HK_STR("jobId", ev->job_id), HK_STR("flowId", ev->flow_id),
                        HK_STR("webhookId", task->id), HK_STR("eventId", ev->event_id)};
    HK_LOGF(HK_LOG_INFO, "event.override.skip", f,
            "webhook %s skipped for event %s: its override says skip", task->id, ev->event_id);
}

/* A first attempt for each of the n tasks that matches the job's event (unless its override
 * skips it); how many matched. */
static size_t start_matching(hk_pipeline *p, job *j, const hk_task *const *tasks, size_t n,
                             uint64_t now)
{
    size_t matched = 0;
    for (size_t i = 0; i < n; i++) {
        if (!hk_task_matches(tasks[i], j->ev))
            continue;
        matched++;
        const hk_override *ov = hk_event_override_for(j->ev, tasks[i]->id);
        if (ov && ov->skip) { /* matched, and skipped for this run: not "unmatched" */
            skipped(j->ev, tasks[i]);
            continue;
        }
        j->attempts_alive++;
        start_attempt(p, j, tasks[i], 1, 0, now, NULL, 0);
    }
    return matched;
}

void pl_on_message(hk_consumer *c, hk_msg_ref ref, const char *topic, int32_t partition,
                   int64_t offset, const void *payload, size_t len, void *arg)
{
    hk_pipeline *p = arg;
    if (c != p->consumers[0] && !hk_retry_record_for_group(payload, len, p->sh->group_id)) {
        /* <prefix>events: another deployment's operational event (its group) is not ours */
        hk_counter_add(&hk_pipeline_metrics.operational_events_foreign, 1);
        hk_consumer_release(c, ref);
        return;
    }
    uint64_t now = hk_wall_ms();
    job *j = job_new(p, c, ref);
    j->raw_len = len;
    j->raw = hk_strndup(payload ? payload : "", len);

    char fallback[256];
    snprintf(fallback, sizeof fallback, "%s/%d/%lld", topic, (int)partition, (long long)offset);
    hk_error err = {0};
    if (hk_event_parse(j->raw, len, fallback, &j->ev, &err) != HK_OK) {
        send_poison(p, j, topic, partition, offset, err.msg, &hk_retry_metrics.dlq_records_poison);
        return;
    }
    char too_large[320];
    if (too_large_to_retry(p, j, too_large, sizeof too_large)) {
        send_poison(p, j, topic, partition, offset, too_large,
                    hk_retry_reason_dlq_metric(HK_REASON_TOO_LARGE));
        return;
    }
    j->snap = hk_store_cache_acquire(p->sh->cache);
    event_tasks t = tasks_of(j, j->ev->flow_id);
    find_unknown_overrides(j, &t, true);
    size_t matched =
        start_matching(p, j, t.flow, t.flow_n, now) + start_matching(p, j, t.space, t.space_n, now);
    if (!matched) {
        hk_counter_add(&hk_pipeline_metrics.events_unmatched, 1);
        hk_log_field f[] = {HK_STR("jobId", j->ev->job_id), HK_STR("flowId", j->ev->flow_id),
                            HK_STR("eventId", j->ev->event_id)};
        HK_LOGF(HK_LOG_DEBUG, "event.unmatched", f,
                "event %s (flow %s, job %s, %s) matched no webhook task", j->ev->event_id,
                j->ev->flow_id, j->ev->job_id, j->ev->job_status);
    }
    pl_job_release(j);
    pl_update_backpressure(p);
}

uint64_t pl_tier_due(const void *payload, size_t len, void *arg)
{
    hk_pipeline *p = arg;
    /* Another group's record is skipped at once, never waited for. */
    if (!hk_retry_record_for_group(payload, len, p->sh->group_id))
        return 0;
    return hk_retry_record_due(payload, len);
}

/* A retry record whose task was deleted or disabled since: nothing to send to, but nothing is
 * lost either. */
static void task_unavailable(hk_pipeline *p, job *j, const hk_retry_record *r, const hk_task *task)
{
    hk_retry_facts facts = {
        .transport = HK_TRANSPORT_ERROR,
        .failure = task ? HK_FAILURE_TASK_DISABLED : HK_FAILURE_TASK_GONE,
        .attempt = r->attempt,
    };
    hk_retry_verdict v = hk_retry_decide(p->policy, &facts);
    hk_log_field f[] = {HK_STR("jobId", r->job_id), HK_STR("flowId", r->flow_id),
                        HK_STR("webhookId", r->webhook_id), HK_STR("deliveryId", r->delivery_id),
                        HK_NUM("attempt", r->attempt)};
    HK_LOGF(HK_LOG_WARN, "delivery.dropped", f, "delivery %s: webhook task %s is %s; dead-lettered",
            r->delivery_id, r->webhook_id, task ? "disabled" : "gone");
    hk_delivery_ids ids = {.delivery_id = r->delivery_id,
                           .webhook_id = r->webhook_id,
                           .flow_id = j->ev->flow_id,
                           .job_id = j->ev->job_id,
                           .event_id = j->ev->event_id};
    cJSON *rec = hk_dead_letter_delivery(&ids, r->attempt - 1, hk_retry_reason_text(v.reason), NULL,
                                         j->raw, j->raw_len, r->outcomes_json, r->outcomes_omitted);
    j->attempts_alive++;
    pl_send_dead_letter(p, rec, r->job_id, hk_retry_reason_dlq_metric(v.reason), poison_done, j);
}

/* A due retry record: the next attempt of one delivery, with the task as it is now. */
void pl_on_retry_message(hk_consumer *c, hk_msg_ref ref, const char *topic, int32_t partition,
                         int64_t offset, const void *payload, size_t len, void *arg)
{
    hk_pipeline *p = arg;
    if (!hk_retry_record_for_group(payload, len, p->sh->group_id)) {
        /* Written by workers of another consumer group sharing the tier topics: theirs. */
        hk_counter_add(&hk_pipeline_metrics.retries_foreign, 1);
        hk_consumer_release(c, ref);
        return;
    }
    job *j = job_new(p, c, ref);
    hk_counter_vec_add(&hk_pipeline_metrics.retries_consumed, pl_consumer_index(p, c) - 1, 1);
    hk_retry_record r;
    hk_error err = {0};
    if (hk_retry_record_parse(payload, len, &r, &err) != HK_OK) {
        j->raw_len = len;
        j->raw = hk_strndup(payload ? payload : "", len);
        char why[300];
        snprintf(why, sizeof why, "bad retry record: %.60s: %.200s", err.field, err.msg);
        send_poison(p, j, topic, partition, offset, why, &hk_retry_metrics.dlq_records_poison);
        return;
    }
    j->raw = r.event_json;
    j->raw_len = r.event_len;
    r.event_json = NULL;
    if (hk_event_parse(j->raw, j->raw_len, r.event_id, &j->ev, &err) != HK_OK) {
        char why[300];
        snprintf(why, sizeof why, "bad event in retry record: %.200s", err.msg);
        send_poison(p, j, topic, partition, offset, why, &hk_retry_metrics.dlq_records_poison);
        hk_retry_record_free(&r);
        return;
    }
    j->snap = hk_store_cache_acquire(p->sh->cache);
    event_tasks t = tasks_of(j, r.flow_id);
    find_unknown_overrides(j, &t, false);
    const hk_task *task = NULL;
    for (size_t i = 0; i < t.flow_n && !task; i++)
        if (strcmp(t.flow[i]->id, r.webhook_id) == 0)
            task = t.flow[i];
    for (size_t i = 0; i < t.space_n && !task; i++) /* a space's task */
        if (strcmp(t.space[i]->id, r.webhook_id) == 0)
            task = t.space[i];
    if (task && task->enabled) {
        j->attempts_alive++;
        start_attempt(p, j, task, r.attempt, r.deferred ? r.deferrals : 0, r.first_seen_ms,
                      r.outcomes_json, r.outcomes_omitted);
    } else {
        task_unavailable(p, j, &r, task);
    }
    hk_retry_record_free(&r);
    pl_job_release(j);
    pl_update_backpressure(p);
}

static bool attempt_still_owned(void *arg, void *ctx)
{
    (void)ctx;
    const attempt *a = arg;
    return hk_consumer_owns(a->job->c, a->job->ref);
}

/* Partitions moved to another worker, which redelivers their unfinished events from the last
 * commit: sending what has not started yet would only make duplicates. */
void pl_on_partitions_moved(hk_consumer *c, void *arg)
{
    (void)c;
    hk_pipeline *p = arg;
    size_t n = hk_delivery_cancel_waiting(p->engine, attempt_still_owned, NULL);
    n += pl_rate_cancel(p, attempt_still_owned, NULL);
    if (n)
        HK_INFO("kafka.moved",
                "gave up %zu deliveries not yet started; the partitions' new owner "
                "redelivers them",
                n);
}
