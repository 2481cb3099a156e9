/*
 * webtest.c — one real, signed delivery of a task now, with a sample event: the "Test" button.
 * It goes through the worker's own code (hk_request_build, the delivery engine with its SSRF
 * guard), so what succeeds here succeeds in the worker. Used by `hookctl webhooks test` and
 * the admin API's POST /v1/webhooks/{id}/test, which print the same JSON.
 */
#include "hk_cmd.h"

#include "hk_delivery.h"
#include "hk_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_state {
    hk_test_result *out;
    bool done;
} test_state;

static void on_done(const hk_delivery_result *res, void *arg)
{
    test_state *s = arg;
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
    s->done = true;
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

    hk_cidr_list *allow = NULL;
    hk_loop *loop = NULL;
    hk_delivery_engine *engine = NULL;
    hk_request *req = NULL;
    if ((rc = hk_cidr_list_parse(cfg->allow_networks, &allow, err)) != HK_OK)
        goto done;
    hk_delivery_id(ev->event_id, task->id, out->delivery_id);
    hk_request_params p = {
        .task = task,
        .event = ev,
        .delivery_id = out->delivery_id,
        .attempt = 1,
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
    test_state s = {.out = out};
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
    hk_event_destroy(ev);
    return rc;
}

cJSON *hk_test_result_json(const char *webhook_id, const hk_test_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "webhookId", webhook_id);
    cJSON_AddStringToObject(o, "deliveryId", r->delivery_id);
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
