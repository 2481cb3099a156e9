/*
 * webtest.c — one real, signed delivery of a task now: the "Test" button, and a resend of a
 * recorded delivery. Both go through the worker's own code (hk_request_build, the delivery
 * engine with its SSRF guard), so what succeeds here succeeds in the worker. Used by `hookctl
 * webhooks test`, `hookctl deliveries resend` and the admin API's POST /v1/webhooks/{id}/test,
 * POST /v1/flows/{flowId}/webhooks/test and POST /v1/deliveries/{id}/resend, which print the
 * same JSON.
 */
#include "hk_cmd.h"

#include "hk_delivery.h"
#include "hk_model.h"
#include "hk_retry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct send_state {
    hk_test_result *out;
    const hk_config *cfg;
    const hk_task *task;
    const hk_event *ev;
    hk_buf *record; /* NULL, or the attempt's history record, written here */
    bool done;
} send_state;

/* The attempt as the job's history keeps it (pipeline/send.c writes the worker's), marked as a
 * resend. */
static void write_record(const send_state *s, const hk_delivery_result *res)
{
    const hk_test_result *o = s->out;
    hk_outcome oc = {
        .ids = {.delivery_id = o->delivery_id,
                .webhook_id = s->task->id,
                .flow_id = s->ev->flow_id,
                .job_id = s->ev->job_id,
                .event_id = s->ev->event_id},
        .attempt = o->attempt,
        .delivered = o->delivered,
        .http_status = res->http_status,
        .error = res->error,
        .latency_ms = res->latency_ms,
        .at_ms = hk_wall_ms(),
    };
    hk_outcome_write(s->record, &oc);
    s->record->len--; /* its closing brace */
    hk_outcome_detail d = {
        .request_body = s->cfg->history_bodies ? res->request_body : NULL,
        .request_body_len = res->request_body_len,
        .answered = res->http_status > 0,
        .response_headers = res->response_headers,
        .response_headers_len = res->response_headers_len,
        .response_body = res->response,
        .response_body_len = res->response_len,
    };
    hk_outcome_write_detail(s->record, &d);
    hk_buf_puts(s->record, ",\"resent\":true}");
}

static void on_done(const hk_delivery_result *res, void *arg)
{
    send_state *s = arg;
    hk_test_result *o = s->out;
    o->delivered = res->status == HK_DELIVERY_OK;
    o->http_status = res->http_status;
    o->latency_ms = res->latency_ms;
    snprintf(o->error, sizeof o->error, "%s", res->error);
    o->response_len =
        res->response_len < HK_TEST_RESPONSE_MAX ? res->response_len : HK_TEST_RESPONSE_MAX;
    memcpy(o->response, res->response ? res->response : "", o->response_len);
    o->response[o->response_len] = '\0';
    o->response_truncated = res->response_len > HK_TEST_RESPONSE_MAX;
    if (s->record)
        write_record(s, res);
    s->done = true;
}

/* Delivers the task's request for ev now, as attempt out->attempt with X-Webhook-Id
 * out->delivery_id, on an engine of its own; the outcome goes to out (and to record). */
static int send_once(const hk_config *cfg, const hk_task *task, const hk_event *ev,
                     hk_test_result *out, hk_buf *record, hk_error *err)
{
    hk_cidr_list *allow = NULL;
    hk_loop *loop = NULL;
    hk_delivery_engine *engine = NULL;
    hk_request *req = NULL;
    int rc;
    if ((rc = hk_cidr_list_parse(cfg->allow_networks, &allow, err)) != HK_OK)
        goto done;
    hk_request_params p = {
        .task = task,
        .event = ev,
        .delivery_id = out->delivery_id,
        .attempt = out->attempt,
        .now_ms = hk_wall_ms(),
        .default_timeout_ms = cfg->http_timeout_ms,
        .max_body_bytes = (size_t)cfg->max_body_bytes,
    };
    if ((rc = hk_request_build(&p, &req, err)) != HK_OK)
        goto done;
    long timeout_ms = req->timeout_ms;
    loop = hk_loop_create();
    hk_delivery_config dcfg = {
        .max_inflight = 1, .max_inflight_per_host = 1, .allow = allow, .proxy = cfg->http_proxy};
    if ((rc = hk_delivery_create(loop, &dcfg, &engine, err)) != HK_OK)
        goto done;
    send_state s = {.out = out, .cfg = cfg, .task = task, .ev = ev, .record = record};
    hk_delivery_submit(engine, req, on_done, &s);
    req = NULL; /* the engine's now */
    uint64_t deadline = hk_now_ms() + (uint64_t)timeout_ms + 5000;
    while (!s.done && hk_now_ms() < deadline)
        hk_loop_run_once(loop, 100);
    if (!s.done)
        rc = hk_error_set(err, HK_ERR, NULL, "no outcome within the task's timeout");
done:
    hk_request_destroy(req);
    hk_delivery_destroy(engine);
    hk_loop_destroy(loop);
    hk_cidr_list_destroy(allow);
    return rc;
}

int hk_webhook_test(const hk_config *cfg, const hk_task *task, const char *job_id,
                    const char *job_status, hk_test_result *out, hk_error *err)
{
    memset(out, 0, sizeof *out);
    /* The sample event: the task's flow (or space), a fresh event id (so a receiver that dedupes on
     * X-Webhook-Id does not drop a second test), the given job id and status. */
    char event_id[48];
    snprintf(event_id, sizeof event_id, "test-%llu", (unsigned long long)hk_wall_ms());
    cJSON *ev_json = cJSON_CreateObject();
    cJSON_AddStringToObject(ev_json, "eventId", event_id);
    cJSON_AddStringToObject(ev_json, "jobId", job_id);
    cJSON_AddStringToObject(ev_json, "jobStatus", job_status);
    /* A space's task: an event of that space, from a flow named "test". */
    cJSON_AddStringToObject(ev_json, "flowId", task->flow_id ? task->flow_id : "test");
    if (task->space_id)
        cJSON_AddStringToObject(ev_json, "spaceId", task->space_id);
    char *text = cJSON_PrintUnformatted(ev_json);
    cJSON_Delete(ev_json);
    hk_event *ev = NULL;
    int rc = hk_event_parse(text, strlen(text), event_id, &ev, err);
    free(text);
    if (rc != HK_OK)
        return HK_EINVAL; /* err names the field (--job-id, --job-status) */

    hk_delivery_id(ev->event_id, task->id, out->delivery_id);
    out->attempt = 1;
    rc = send_once(cfg, task, ev, out, NULL, err);
    out->attempt = 0; /* a test is not an attempt of any delivery */
    hk_event_destroy(ev);
    return rc;
}

/* ------------------------------------------------------------------------------ resend --- */

int hk_resend_prepare(hk_store *store, const char *delivery_id, const char *job_id, hk_resend *out,
                      hk_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = hk_store_delivery_find(store, delivery_id, job_id, &out->found, err);
    if (rc != HK_OK)
        return rc;
    if (!out->found.event) {
        rc = hk_error_set(err, HK_ENOTFOUND, "deliveryId",
                          "the event of delivery %s is not kept (over %d KiB, or expired)",
                          delivery_id, HK_STORE_EVENT_KEEP_MAX / 1024);
        goto fail;
    }
    rc = hk_store_task_get(store, out->found.webhook_id, &out->task, err);
    if (rc == HK_ENOTFOUND) {
        rc = hk_error_set(err, HK_ENOTFOUND, "webhookId",
                          "webhook task %s of delivery %s no longer exists", out->found.webhook_id,
                          delivery_id);
        goto fail;
    }
    if (rc != HK_OK)
        goto fail;
    if (!out->task->enabled) {
        rc = hk_error_set(err, HK_ECONFLICT, "webhookId",
                          "webhook task %s is disabled%s%s; enable it to resend", out->task->id,
                          out->task->disabled_reason ? ": " : "",
                          out->task->disabled_reason ? out->task->disabled_reason : "");
        goto fail;
    }
    if (hk_event_parse(out->found.event, out->found.event_len, out->found.event_id, &out->ev,
                       err) != HK_OK) {
        rc = hk_error_set(err, HK_ERR, "deliveryId", "the kept event of delivery %s is unreadable",
                          delivery_id);
        goto fail;
    }
    char id[32];
    hk_delivery_id(out->ev->event_id, out->task->id, id);
    if (strcmp(id, delivery_id) != 0) { /* an index entry that does not add up */
        rc = hk_error_set(err, HK_ERR, "deliveryId", "the index entry of %s is inconsistent",
                          delivery_id);
        goto fail;
    }
    return HK_OK;
fail:
    hk_resend_free(out);
    return rc;
}

int hk_resend_send(const hk_config *cfg, hk_resend *r, hk_test_result *out, hk_error *err)
{
    memset(out, 0, sizeof *out);
    hk_delivery_id(r->ev->event_id, r->task->id, out->delivery_id);
    out->attempt = r->found.attempt + 1;
    r->record.len = 0;
    return send_once(cfg, r->task, r->ev, out, &r->record, err);
}

int hk_resend_record(hk_store *store, const hk_resend *r, const hk_test_result *out, hk_error *err)
{
    hk_store_history_ref ref = {
        .job_id = r->ev->job_id,
        .delivery_id = out->delivery_id,
        .event_id = r->ev->event_id,
        .webhook_id = r->task->id,
        .attempt = out->attempt,
        .index = true,
        .event = r->found.event,
        .event_len = r->found.event_len,
    };
    return hk_store_history_write(store, &ref, r->record.data, err);
}

void hk_resend_free(hk_resend *r)
{
    hk_store_delivery_free(&r->found);
    hk_task_destroy(r->task);
    hk_event_destroy(r->ev);
    hk_buf_free(&r->record);
    memset(r, 0, sizeof *r);
}

cJSON *hk_test_result_json(const char *webhook_id, const hk_test_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "webhookId", webhook_id);
    cJSON_AddStringToObject(o, "deliveryId", r->delivery_id);
    if (r->attempt > 0)
        cJSON_AddNumberToObject(o, "attempt", r->attempt);
    cJSON_AddStringToObject(o, "status", r->delivered ? "delivered" : "failed");
    if (r->http_status)
        cJSON_AddNumberToObject(o, "statusCode", (double)r->http_status);
    else
        cJSON_AddNullToObject(o, "statusCode");
    if (r->error[0])
        cJSON_AddStringToObject(o, "error", r->error);
    cJSON_AddNumberToObject(o, "latencyMs", (double)r->latency_ms);
    cJSON_AddStringToObject(o, "response", r->response);
    cJSON_AddBoolToObject(o, "responseTruncated", r->response_truncated);
    return o;
}
