/*
 * fuzz_event.c — the job event parser (hk_event_parse), fed the bytes of a Kafka message as they
 * come: not NUL-terminated, any length. An event it accepts must hold every field the worker
 * reads, its overrides must pass the same checks as a task's fields, and writing the parsed
 * event back out as JSON and parsing that again must give the same event.
 */
#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "hk_model.h"

#define FALLBACK_ID "jobs/3/1234"

static void check_string(const char *s, bool non_empty, const char *what)
{
    HK_FUZZ_CHECK(s != NULL, "%s is NULL", what);
    HK_FUZZ_CHECK(!non_empty || *s, "%s is empty", what);
}

static void check_event(const hk_event *ev)
{
    check_string(ev->event_id, false, "event_id");
    check_string(ev->type, true, "type");
    check_string(ev->job_id, true, "job_id");
    check_string(ev->job_status, true, "job_status");
    check_string(ev->flow_id, true, "flow_id");
    check_string(ev->flow_name, false, "flow_name");
    check_string(ev->job_type, false, "job_type");
    check_string(ev->finished_at, false, "finished_at");
    HK_FUZZ_CHECK(ev->outcome == hk_job_outcome_from_status(ev->job_status), "outcome of '%s'",
                  ev->job_status);
    HK_FUZZ_CHECK(ev->output_ids_len == 0 || ev->output_ids, "output ids");
    for (size_t i = 0; i < ev->output_ids_len; i++)
        check_string(ev->output_ids[i], true, "output id");
    for (size_t i = 0; i < ev->overrides_len; i++) {
        const hk_override *ov = &ev->overrides[i];
        check_string(ov->webhook_id, true, "override webhook_id");
        HK_FUZZ_CHECK(!ov->url || hk_validate_url(ov->url, "url", NULL) == HK_OK,
                      "override url accepted but invalid");
        HK_FUZZ_CHECK(ov->has_headers || (!ov->headers_len),
                      "override headers without has_headers");
        for (size_t h = 0; h < ov->headers_len; h++)
            HK_FUZZ_CHECK(hk_validate_header(ov->headers[h].key, ov->headers[h].value, "h", NULL) ==
                              HK_OK,
                          "override header accepted but invalid");
        HK_FUZZ_CHECK(!ov->body || strlen(ov->body) <= HK_TASK_MAX_BODY, "override body too big");
        const hk_override *found = hk_event_override_for(ev, ov->webhook_id);
        HK_FUZZ_CHECK(found && strcmp(found->webhook_id, ov->webhook_id) == 0,
                      "override of %s not found", ov->webhook_id);
    }
}

/* The event as JSON again: every id as a string, as the parser keeps them. */
static char *event_to_json(const hk_event *ev)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "eventId", ev->event_id);
    cJSON_AddStringToObject(o, "type", ev->type);
    cJSON_AddStringToObject(o, "jobId", ev->job_id);
    cJSON_AddStringToObject(o, "jobStatus", ev->job_status);
    cJSON_AddStringToObject(o, "flowId", ev->flow_id);
    cJSON_AddStringToObject(o, "flowName", ev->flow_name);
    cJSON_AddStringToObject(o, "jobType", ev->job_type);
    cJSON_AddStringToObject(o, "finishedAt", ev->finished_at);
    cJSON *outs = cJSON_AddArrayToObject(o, "outputIds");
    for (size_t i = 0; i < ev->output_ids_len; i++)
        cJSON_AddItemToArray(outs, cJSON_CreateString(ev->output_ids[i]));
    cJSON *ovs = cJSON_AddArrayToObject(o, "webhookOverrides");
    for (size_t i = 0; i < ev->overrides_len; i++) {
        const hk_override *ov = &ev->overrides[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "webhookId", ov->webhook_id);
        if (ov->url)
            cJSON_AddStringToObject(j, "url", ov->url);
        if (ov->has_headers) {
            cJSON *h = cJSON_AddObjectToObject(j, "headers");
            for (size_t k = 0; k < ov->headers_len; k++)
                cJSON_AddItemToObject(h, ov->headers[k].key,
                                      cJSON_CreateString(ov->headers[k].value));
        }
        if (ov->body)
            cJSON_AddStringToObject(j, "body", ov->body);
        cJSON_AddItemToArray(ovs, j);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    HK_FUZZ_CHECK(text != NULL, "cJSON_PrintUnformatted");
    return text;
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same_event(const hk_event *a, const hk_event *b)
{
    HK_FUZZ_CHECK(same(a->event_id, b->event_id), "eventId");
    HK_FUZZ_CHECK(same(a->type, b->type), "type");
    HK_FUZZ_CHECK(same(a->job_id, b->job_id), "jobId");
    HK_FUZZ_CHECK(same(a->job_status, b->job_status), "jobStatus");
    HK_FUZZ_CHECK(same(a->flow_id, b->flow_id), "flowId");
    HK_FUZZ_CHECK(same(a->flow_name, b->flow_name), "flowName");
    HK_FUZZ_CHECK(same(a->job_type, b->job_type), "jobType");
    HK_FUZZ_CHECK(same(a->finished_at, b->finished_at), "finishedAt");
    HK_FUZZ_CHECK(a->outcome == b->outcome, "outcome");
    HK_FUZZ_CHECK(a->output_ids_len == b->output_ids_len, "outputIds length");
    for (size_t i = 0; i < a->output_ids_len; i++)
        HK_FUZZ_CHECK(same(a->output_ids[i], b->output_ids[i]), "outputIds[%zu]", i);
    HK_FUZZ_CHECK(a->overrides_len == b->overrides_len, "overrides length");
    for (size_t i = 0; i < a->overrides_len; i++) {
        const hk_override *x = &a->overrides[i], *y = &b->overrides[i];
        HK_FUZZ_CHECK(same(x->webhook_id, y->webhook_id), "override %zu webhookId", i);
        HK_FUZZ_CHECK(same(x->url, y->url), "override %zu url", i);
        HK_FUZZ_CHECK(same(x->body, y->body), "override %zu body", i);
        HK_FUZZ_CHECK(x->has_headers == y->has_headers, "override %zu has_headers", i);
        HK_FUZZ_CHECK(x->headers_len == y->headers_len, "override %zu headers", i);
        for (size_t k = 0; k < x->headers_len; k++)
            HK_FUZZ_CHECK(same(x->headers[k].key, y->headers[k].key) &&
                              same(x->headers[k].value, y->headers[k].value),
                          "override %zu header %zu", i, k);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_event *ev = (hk_event *)1;
    hk_error err = {0};
    int rc = hk_event_parse((const char *)data, size, FALLBACK_ID, &ev, &err);
    if (rc != HK_OK) {
        HK_FUZZ_CHECK(rc == HK_EINVAL, "rc %d", rc);
        HK_FUZZ_CHECK(ev == NULL, "*out set on error");
        HK_FUZZ_CHECK(err.msg[0] != '\0', "refusal without a message");
        return 0;
    }
    HK_FUZZ_CHECK(ev != NULL, "HK_OK without an event");
    check_event(ev);

    char *again = event_to_json(ev);
    hk_event *ev2 = NULL;
    hk_error err2 = {0};
    rc = hk_event_parse(again, strlen(again), "other/0/0", &ev2, &err2);
    HK_FUZZ_CHECK(rc == HK_OK, "the parsed event written back is refused: %s", err2.msg);
    check_same_event(ev, ev2);
    hk_event_destroy(ev2);
    free(again);
    hk_event_destroy(ev);
    return 0;
}
