/* model: job event parsing, webhook task validation (each rule names its field), matching.
 * Over 700 lines on purpose: one test per validation rule of the contract, each naming its
 * field; splitting them by file would only scatter the contract. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hk_model.h"

/* ----------------------------------------------------------------------- events --- */

static int parse_event(const char *json, hk_event **ev, hk_error *err)
{
    memset(err, 0, sizeof *err);
    return hk_event_parse(json, strlen(json), "job-events/0/42", ev, err);
}

Test(event, full_event)
{
    hk_event *ev;
    hk_error err;
    cr_assert_eq(parse_event("{\"eventId\":\"e-1\",\"type\":\"job.completed\",\"jobId\":\"12345\","
                             "\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"flowName\":\"Sales\","
                             "\"outputIds\":[\"3\",4],\"jobType\":\"scheduled\","
                             "\"finishedAt\":\"2026-11-22T10:00:00Z\",\"extra\":true}",
                             &ev, &err),
                 HK_OK, "%s", err.msg);
    cr_assert_str_eq(ev->event_id, "e-1");
    cr_assert_str_eq(ev->job_id, "12345");
    cr_assert_str_eq(ev->flow_id, "7");
    cr_assert_str_eq(ev->flow_name, "Sales");
    cr_assert_eq(ev->output_ids_len, 2);
    cr_assert_str_eq(ev->output_ids[1], "4");
    cr_assert_str_eq(ev->job_type, "scheduled");
    cr_assert_str_eq(ev->finished_at, "2026-11-22T10:00:00Z");
    cr_assert_eq(ev->outcome, HK_JOB_SUCCESS);
    hk_event_destroy(ev);
}

Test(event, defaults_and_numbers_as_ids)
{
    hk_event *ev;
    hk_error err;
    cr_assert_eq(parse_event("{\"jobId\":12345,\"jobStatus\":\"failed\",\"flowId\":7}", &ev, &err),
                 HK_OK, "%s", err.msg);
    cr_assert_str_eq(ev->job_id, "12345", "a number keeps its text, no .0");
    cr_assert_str_eq(ev->flow_id, "7");
    cr_assert_str_eq(ev->type, "job.completed");
    cr_assert_str_eq(ev->event_id, "job-events/0/42", "fallback id");
    cr_assert_str_eq(ev->flow_name, "");
    cr_assert_eq(ev->outcome, HK_JOB_FAILURE);
    hk_event_destroy(ev);
}

Test(event, orchestration_uses_run_id)
{
    hk_event *ev;
    hk_error err;
    cr_assert_eq(parse_event("{\"type\":\"orchestration.completed\",\"runId\":\"r9\","
                             "\"jobStatus\":\"Succeeded\",\"flowId\":\"7\"}",
                             &ev, &err),
                 HK_OK, "%s", err.msg);
    cr_assert_str_eq(ev->job_id, "r9");
    cr_assert_str_eq(ev->type, "orchestration.completed");
    hk_event_destroy(ev);
    cr_assert_eq(parse_event("{\"type\":\"orchestration.completed\",\"jobStatus\":\"Complete\","
                             "\"flowId\":\"7\"}",
                             &ev, &err),
                 HK_EINVAL);
    cr_assert_str_eq(err.field, "runId");
}

Test(event, poison_names_the_field)
{
    static const struct {
        const char *json;
        const char *field;
    } cases[] = {
        {"not json", "event"},
        {"[1,2]", "event"},
        {"{\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", "jobId"},
        {"{\"jobId\":\"1\",\"flowId\":\"7\"}", "jobStatus"},
        {"{\"jobId\":\"1\",\"jobStatus\":\"Complete\"}", "flowId"},
        {"{\"jobId\":true,\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", "jobId"},
        {"{\"jobId\":\"\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", "jobId"},
        {"{\"jobId\":\"1\",\"jobStatus\":5,\"flowId\":\"7\"}", "jobStatus"},
        {"{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":{}}", "flowId"},
        {"{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"outputIds\":\"3\"}",
         "outputIds"},
        {"{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"outputIds\":[\"3\",null]}",
         "outputIds[1]"},
        {"{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"flowName\":3}",
         "flowName"},
        {"{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"webhookOverrides\":[{}]}",
         "webhookOverrides[0].webhookId"},
        {"{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"webhookOverrides\":"
         "[{\"webhookId\":\"wh_1\",\"url\":\"file:///etc/passwd\"}]}",
         "webhookOverrides[0].url"},
        {"{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"webhookOverrides\":"
         "[{\"webhookId\":\"wh_1\",\"headers\":{\"X-A\":\"a\\r\\nX-Evil: 1\"}}]}",
         "webhookOverrides[0].headers.X-A"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_event *ev = NULL;
        hk_error err;
        cr_assert_eq(parse_event(cases[i].json, &ev, &err), HK_EINVAL, "%s", cases[i].json);
        cr_assert_null(ev);
        cr_assert_str_eq(err.field, cases[i].field, "%s -> %s", cases[i].json, err.msg);
        cr_assert(strstr(err.msg, cases[i].field) == err.msg, "message starts with the field");
    }
}

Test(event, one_mib_limit)
{
    const char *head = "{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"pad\":\"";
    size_t total = HK_EVENT_MAX_BYTES;
    char *buf = malloc(total + 2);
    size_t hl = strlen(head);
    memcpy(buf, head, hl);
    memset(buf + hl, 'x', total - hl - 2);
    memcpy(buf + total - 2, "\"}", 2);
    hk_event *ev;
    hk_error err;
    cr_assert_eq(hk_event_parse(buf, total, "f", &ev, &err), HK_OK, "exactly 1 MiB is accepted");
    hk_event_destroy(ev);
    memmove(buf + hl + 1, buf + hl, total - hl);
    cr_assert_eq(hk_event_parse(buf, total + 1, "f", &ev, &err), HK_EINVAL);
    cr_assert(strstr(err.msg, "1 MiB") != NULL, "%s", err.msg);
    free(buf);
}

Test(event, outcome_mapping_any_case)
{
    const char *ok[] = {"Complete", "COMPLETED", "success", "Succeeded"};
    const char *bad[] = {"Failed", "failure", "ERROR"};
    const char *other[] = {"Canceled", "Running", "completed-ish"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(hk_job_outcome_from_status(ok[i]), HK_JOB_SUCCESS, "%s", ok[i]);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(hk_job_outcome_from_status(bad[i]), HK_JOB_FAILURE, "%s", bad[i]);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(hk_job_outcome_from_status(other[i]), HK_JOB_OTHER, "%s", other[i]);
}

Test(event, overrides)
{
    hk_event *ev;
    hk_error err;
    cr_assert_eq(
        parse_event("{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                    "\"webhookOverrides\":[{\"webhookId\":\"wh_a\",\"url\":"
                    "\"https://x.example/h\",\"headers\":{\"X-A\":\"1\"},\"body\":\"b\"}]}",
                    &ev, &err),
        HK_OK, "%s", err.msg);
    const hk_override *ov = hk_event_override_for(ev, "wh_a");
    cr_assert_not_null(ov);
    cr_assert_str_eq(ov->url, "https://x.example/h");
    cr_assert(ov->has_headers);
    cr_assert_str_eq(ov->headers[0].value, "1");
    cr_assert_str_eq(ov->body, "b");
    cr_assert_null(hk_event_override_for(ev, "wh_b"));
    hk_event_destroy(ev);
}

/* ------------------------------------------------------------------------ tasks --- */

static hk_task *parse_task(const char *json, hk_error *err)
{
    hk_task *t = NULL;
    memset(err, 0, sizeof *err);
    hk_task_parse(json, strlen(json), true, &t, err);
    return t;
}

#define BASE "\"flowId\":\"7\",\"url\":\"https://hooks.example.com/x\""

Test(task, defaults)
{
    hk_error err;
    hk_task *t = parse_task("{" BASE "}", &err);
    cr_assert_not_null(t, "%s", err.msg);
    cr_assert(strncmp(t->id, "wh_", 3) == 0 && strlen(t->id) == 27, "%s", t->id);
    cr_assert_eq(t->method, HK_METHOD_POST);
    cr_assert_eq(t->trigger_event, HK_TRIGGER_SUCCESS);
    cr_assert(t->trigger_any_object);
    cr_assert_eq(t->signature, HK_SIG_NONE, "no secret, no signature");
    cr_assert(t->validate_ssl);
    cr_assert(t->retry_enabled);
    cr_assert_eq(t->max_attempts, 0);
    cr_assert_eq(t->timeout_ms, 0);
    cr_assert(t->enabled);
    hk_task_destroy(t);
    t = parse_task("{" BASE ",\"secret\":\"mySecret\"}", &err);
    cr_assert_eq(t->signature, HK_SIG_TIMESTAMPED, "timestamped is the default with a secret");
    hk_task_destroy(t);
}

Test(task, every_rule_names_its_field)
{
    static const struct {
        const char *json;
        const char *field;
    } cases[] = {
        {"{\"url\":\"https://x.example\"}", "flowId"},
        {"{\"flowId\":\"7\"}", "url"},
        {"{\"flowId\":\"a:b\",\"url\":\"https://x.example\"}", "flowId"},
        {"{" BASE ",\"urll\":\"x\"}", "urll"},
        {"{\"flowId\":\"7\",\"url\":\"ftp://x.example/\"}", "url"},
        {"{\"flowId\":\"7\",\"url\":\"javascript:alert(1)\"}", "url"},
        {"{\"flowId\":\"7\",\"url\":\"https://user:pw@x.example/\"}", "url"},
        {"{\"flowId\":\"7\",\"url\":\"https://x.example/a b\"}", "url"},
        {"{\"flowId\":\"7\",\"url\":\"https:///nohost\"}", "url"},
        {"{\"flowId\":\"7\",\"url\":\"https://x.example:99999/\"}", "url"},
        {"{" BASE ",\"method\":\"TRACE\"}", "method"},
        {"{" BASE ",\"headers\":{\"Bad Name\":\"v\"}}", "headers.Bad Name"},
        {"{" BASE ",\"headers\":{\"X-A\":\"v\\r\\nX-B: 1\"}}", "headers.X-A"},
        {"{" BASE ",\"headers\":{\"X-A\":\"v\\nx\"}}", "headers.X-A"},
        {"{" BASE ",\"headers\":{\"X-A\":1}}", "headers.X-A"},
        {"{" BASE ",\"headers\":[]}", "headers"},
        {"{" BASE ",\"trigger\":{\"event\":\"done\"}}", "trigger.event"},
        {"{" BASE ",\"trigger\":{\"objects\":[]}}", "trigger.objects"},
        {"{" BASE ",\"trigger\":{\"objects\":\"some\"}}", "trigger.objects"},
        {"{" BASE ",\"trigger\":{\"evnt\":\"any\"}}", "trigger.evnt"},
        {"{" BASE ",\"timeoutMs\":0}", "timeoutMs"},
        {"{" BASE ",\"timeoutMs\":300001}", "timeoutMs"},
        {"{" BASE ",\"timeoutMs\":1.5}", "timeoutMs"},
        {"{" BASE ",\"retry\":{\"maxAttempts\":0}}", "retry.maxAttempts"},
        {"{" BASE ",\"retry\":{\"maxAttempts\":101}}", "retry.maxAttempts"},
        {"{" BASE ",\"retry\":{\"enabled\":\"yes\"}}", "retry.enabled"},
        {"{" BASE ",\"validateSsl\":1}", "validateSsl"},
        {"{" BASE ",\"enabled\":\"false\"}", "enabled"},
        {"{" BASE ",\"signature\":\"hmac\",\"secret\":\"s\"}", "signature"},
        {"{" BASE ",\"signature\":\"body\"}", "secret"},
        {"{" BASE ",\"signature\":\"standard\",\"secret\":\"mySecret\"}", "secret"},
        {"{" BASE ",\"signature\":\"standard\",\"secret\":\"whsec_dG9vc2hvcnQ=\"}", "secret"},
        {"{" BASE ",\"signature\":\"standard\",\"secrets\":[\"whsec_"
         "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"whsec_!!!\"]}",
         "secrets[1]"},
        {"{" BASE ",\"secret\":\"a\",\"secrets\":[\"b\"]}", "secrets"},
        {"{" BASE ",\"secret\":\"\"}", "secret"},
        {"{" BASE ",\"signatureHeader\":\"bad header\",\"secret\":\"s\"}", "signatureHeader"},
        {"{" BASE ",\"id\":\"nope\"}", "id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_error err;
        hk_task *t = parse_task(cases[i].json, &err);
        cr_assert_null(t, "accepted: %s", cases[i].json);
        cr_assert_str_eq(err.field, cases[i].field, "%s -> %s", cases[i].json, err.msg);
    }
}

Test(task, rate_limit_is_a_positive_integer_up_to_100000_printed_only_when_set)
{
    static const char *const refused[] = {
        "0", "-1", "20.5", "100001", "\"20\"", "true", "[20]", "{}", "1e300",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char json[128];
        snprintf(json, sizeof json, "{" BASE ",\"rateLimit\":%s}", refused[i]);
        hk_error err;
        hk_task *t = parse_task(json, &err);
        cr_assert_null(t, "accepted: %s", json);
        cr_assert_str_eq(err.field, "rateLimit", "%s -> %s", json, err.msg);
        cr_assert(strchr(err.msg, '\n') == NULL);
        cr_assert(strstr(err.msg, "from 1 to 100000") != NULL, "%s", err.msg);
    }
    hk_error err;
    hk_task *t = parse_task("{" BASE "}", &err);
    cr_assert_eq(t->rate_limit, 0u, "left out: no limit");
    char *text = cJSON_PrintUnformatted(hk_task_to_json(t, HK_SECRETS_MASKED));
    cr_assert(strstr(text, "rateLimit") == NULL, "%s", text);
    free(text);
    hk_task_destroy(t);
    t = parse_task("{" BASE ",\"rateLimit\":null}", &err);
    cr_assert_eq(t->rate_limit, 0u, "null: no limit");
    hk_task_destroy(t);
    for (unsigned rate = 1; rate <= HK_TASK_MAX_RATE_LIMIT; rate *= 10) {
        char json[128];
        snprintf(json, sizeof json, "{" BASE ",\"rateLimit\":%u}", rate);
        t = parse_task(json, &err);
        cr_assert_not_null(t, "%s", err.msg);
        cr_assert_eq(t->rate_limit, rate);
        cJSON *out = hk_task_to_json(t, HK_SECRETS_MASKED);
        cr_assert_eq(cJSON_GetObjectItem(out, "rateLimit")->valuedouble, (double)rate);
        cJSON_Delete(out);
        hk_task_destroy(t);
    }
}

Test(task, body_limit_256_kib)
{
    size_t n = HK_TASK_MAX_BODY;
    hk_buf b = {0};
    hk_buf_puts(&b, "{" BASE ",\"body\":\"");
    for (size_t i = 0; i < n; i++)
        hk_buf_puts(&b, "x");
    hk_buf_puts(&b, "\"}");
    hk_error err;
    hk_task *t = parse_task(b.data, &err);
    cr_assert_not_null(t, "exactly 256 KiB is accepted: %s", err.msg);
    hk_task_destroy(t);
    hk_buf_free(&b);
    hk_buf_puts(&b, "{" BASE ",\"body\":\"");
    for (size_t i = 0; i <= n; i++)
        hk_buf_puts(&b, "x");
    hk_buf_puts(&b, "\"}");
    cr_assert_null(parse_task(b.data, &err));
    cr_assert_str_eq(err.field, "body");
    hk_buf_free(&b);
}

Test(task, secrets_never_printed_in_full_and_never_in_errors)
{
    hk_error err;
    hk_task *t =
        parse_task("{" BASE ",\"secrets\":[\"newSecretValue1111\",\"oldSecretValue2222\"]}", &err);
    cr_assert_not_null(t, "%s", err.msg);
    cJSON *json = hk_task_to_json(t, HK_SECRETS_MASKED);
    char *text = cJSON_PrintUnformatted(json);
    cr_assert(strstr(text, "newSecretValue") == NULL && strstr(text, "oldSecretValue") == NULL,
              "%s", text);
    cr_assert(strstr(text, "\"secrets\":[\"****1111\",\"****2222\"]") != NULL, "%s", text);
    free(text);
    cJSON_Delete(json);
    hk_task_destroy(t);

    t = parse_task("{" BASE ",\"signature\":\"standard\",\"secret\":\"whsec_topsecretvalue\"}",
                   &err);
    cr_assert_null(t);
    cr_assert(strstr(err.msg, "topsecret") == NULL, "%s", err.msg);
}

Test(task, round_trip)
{
    const char *json =
        "{\"id\":\"wh_abc\",\"flowId\":7,\"name\":\"N\",\"url\":\"https://h.example/p?q=1\","
        "\"method\":\"put\",\"headers\":{\"Content-Type\":\"application/json\",\"X-K\":\"v\"},"
        "\"body\":\"{\\\"a\\\":\\\"$jobId\\\"}\",\"trigger\":{\"event\":\"failure\",\"objects\":"
        "[\"3\",4]},\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"signature\":"
        "\"standard\",\"signatureHeader\":\"X-Sig\",\"validateSsl\":false,\"retry\":{\"enabled\":"
        "false,\"maxAttempts\":3},\"timeoutMs\":5000,\"enabled\":false,\"disabledReason\":\"410\"}";
    hk_error err;
    hk_task *t = parse_task(json, &err);
    cr_assert_not_null(t, "%s", err.msg);
    cJSON *full = hk_task_to_json(t, HK_SECRETS_FULL);
    char *text = cJSON_PrintUnformatted(full);
    hk_task *back = parse_task(text, &err);
    cr_assert_not_null(back, "%s", err.msg);
    cJSON *again = hk_task_to_json(back, HK_SECRETS_FULL);
    char *text2 = cJSON_PrintUnformatted(again);
    cr_assert_str_eq(text, text2);
    cr_assert_str_eq(back->flow_id, "7");
    cr_assert_eq(back->method, HK_METHOD_PUT);
    cr_assert_str_eq(back->trigger_objects[1], "4");
    cr_assert_eq(back->max_attempts, 3);
    cr_assert_not(back->retry_enabled);
    cr_assert_eq(back->timeout_ms, 5000);
    cr_assert_str_eq(back->signature_header, "X-Sig");
    free(text);
    free(text2);
    cJSON_Delete(full);
    cJSON_Delete(again);
    hk_task_destroy(t);
    hk_task_destroy(back);
}

/* ---------------------------------------------------------------------- matching --- */

Test(match, truth_table)
{
    const char *events[] = {"Complete", "Failed", "Canceled"};
    const char *triggers[] = {"success", "failure", "any"};
    /* expected[event][trigger] with objects "any" */
    const bool expected[3][3] = {{true, false, true}, {false, true, true}, {false, false, true}};
    for (int e = 0; e < 3; e++) {
        char ej[160];
        snprintf(ej, sizeof ej,
                 "{\"jobId\":\"1\",\"jobStatus\":\"%s\",\"flowId\":\"7\",\"outputIds\":[\"3\"]}",
                 events[e]);
        hk_event *ev;
        hk_error err;
        cr_assert_eq(parse_event(ej, &ev, &err), HK_OK);
        for (int g = 0; g < 3; g++) {
            char tj[200];
            snprintf(tj, sizeof tj, "{" BASE ",\"trigger\":{\"event\":\"%s\"}}", triggers[g]);
            hk_task *t = parse_task(tj, &err);
            cr_assert_eq(hk_task_matches(t, ev), expected[e][g], "%s vs %s", events[e],
                         triggers[g]);
            t->enabled = false;
            cr_assert_not(hk_task_matches(t, ev), "a disabled task never matches");
            hk_task_destroy(t);
        }
        hk_event_destroy(ev);
    }
}

Test(match, objects)
{
    hk_error err;
    hk_event *with3, *with4, *none;
    parse_event(
        "{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"outputIds\":[\"4\",\"3\"]}",
        &with3, &err);
    parse_event(
        "{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"outputIds\":[\"4\"]}",
        &with4, &err);
    parse_event("{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", &none, &err);
    hk_task *t =
        parse_task("{" BASE ",\"trigger\":{\"event\":\"any\",\"objects\":[3,\"9\"]}}", &err);
    cr_assert(hk_task_matches(t, with3));
    cr_assert_not(hk_task_matches(t, with4));
    cr_assert_not(hk_task_matches(t, none));
    hk_task *any =
        parse_task("{" BASE ",\"trigger\":{\"event\":\"any\",\"objects\":\"any\"}}", &err);
    cr_assert(hk_task_matches(any, none));
    hk_task_destroy(t);
    hk_task_destroy(any);
    hk_event_destroy(with3);
    hk_event_destroy(with4);
    hk_event_destroy(none);
}

/* ------------------------------------------------------- junk in an event's strings --- */

/* cJSON cuts a C string at a decoded \u0000 and copies bytes without checking UTF-8: each
 * string field hookd reads is refused, named, when it holds either (issue 12, section 6). */
Test(event, junk_in_a_string_field_is_refused_naming_it)
{
#define EV(extra) "{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"" extra "}"
    static const struct {
        const char *json;
        size_t len; /* 0: strlen */
        const char *field;
        const char *says;
    } cases[] = {
        {"{\"jobId\":\"a\\u0000b\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "jobId",
         "NUL"},
        {"{\"jobId\":\"a\\u0000\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "jobId", "NUL"},
        {"{\"jobId\":\"1\",\"jobStatus\":\"Comp\\u0000lete\",\"flowId\":\"7\"}", 0, "jobStatus",
         "NUL"},
        {"{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"\\u00007\"}", 0, "flowId",
         "NUL"},
        {EV(",\"eventId\":\"e\\u0000x\""), 0, "eventId", "NUL"},
        {EV(",\"type\":\"job.completed\\u0000x\""), 0, "type", "NUL"},
        {EV(",\"flowName\":\"n\\u0000\""), 0, "flowName", "NUL"},
        {EV(",\"jobType\":\"s\\u0000\""), 0, "jobType", "NUL"},
        {EV(",\"finishedAt\":\"2026\\u0000\""), 0, "finishedAt", "NUL"},
        {EV(",\"outputIds\":[\"3\",\"4\\u0000\"]"), 0, "outputIds[1]", "NUL"},
        {"{\"jobId\\u0000x\":\"a\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0,
         "jobId\\u0000x", "NUL"}, /* a name: as written */
        {"{\"type\":\"orchestration.completed\",\"runId\":\"r\\u0000\",\"jobStatus\":\"Complete\","
         "\"flowId\":\"7\"}",
         0, "runId", "NUL"},
        {"{\"jobId\":\"a\xff\xfe\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "jobId",
         "UTF-8"},
        {"{\"jobId\":\"\xc0\xaf\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "jobId",
         "UTF-8"}, /* overlong '/' */
        {"{\"jobId\":\"\xed\xa0\x80\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "jobId",
         "UTF-8"}, /* a UTF-16 surrogate as UTF-8 */
        {"{\"jobId\":\"1\",\"jobStatus\":\"Compl\xe9te\",\"flowId\":\"7\"}", 0, "jobStatus",
         "UTF-8"},                                                        /* Latin-1 */
        {EV(",\"eventId\":\"\xf4\x90\x80\x80\""), 0, "eventId", "UTF-8"}, /* past U+10FFFF */
        {EV(",\"flowName\":\"\xe2\x82\""), 0, "flowName", "UTF-8"},       /* cut short */
        {EV(",\"outputIds\":[\"\x80\"]"), 0, "outputIds[0]", "UTF-8"},
        {EV(",\"type\":\"\xff\""), 0, "type", "UTF-8"},
        {EV(",\"jobType\":\"\xfe\""), 0, "jobType", "UTF-8"},
        {EV(",\"finishedAt\":\"\xc3\""), 0, "finishedAt", "UTF-8"},
        {EV(",\"extra\":\"\xff\""), 0, "event", "UTF-8"}, /* a field hookd does not read */
        {EV(",\"\xff\":1"), 0, "event", "UTF-8"},
        {"{\"jobId\":\"a\0b\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 51, "jobId",
         "NUL"}, /* a raw NUL byte */
        {"{\"jobId\":\"a\x01\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "event", "U+0001"},
        {"{\x01\"jobId\":\"a\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "event",
         "U+0001"}, /* cJSON takes it for whitespace */
        {EV("") " x", 0, "event", "after the value"},
        {EV("") "{}", 0, "event", "after the value"},
        {EV("") "\n\0", 51, "event", "NUL byte"},
        {"\xef\xbb\xbf" EV(""), 0, "event", "byte order mark"},
        {"{\"jobId\":\"1\",\"jobId\":\"2\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0,
         "jobId", "more than once"},
        {EV(",\"flowId\":\"8\""), 0, "flowId", "more than once"},
        {"{\"jobId\":1e400,\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "jobId", "2^53"},
        {"{\"jobId\":18446744073709551616,\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "jobId",
         "2^53"},
        {"{\"jobId\":9007199254740993,\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "jobId",
         "2^53"},
        {"{\"jobId\":0.1,\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", 0, "jobId", "whole"},
        {EV(",\"outputIds\":[-1e300]"), 0, "outputIds[0]", "2^53"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_event *ev = NULL;
        hk_error err = {0};
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].json);
        cr_assert_eq(hk_event_parse(cases[i].json, len, "t/0/1", &ev, &err), HK_EINVAL,
                     "case %zu accepted: %s", i, cases[i].json);
        cr_assert_null(ev);
        cr_assert_str_eq(err.field, cases[i].field, "case %zu: %s", i, err.msg);
        cr_assert(strstr(err.msg, cases[i].field) == err.msg, "case %zu: %s", i, err.msg);
        cr_assert(strstr(err.msg, cases[i].says), "case %zu: %s", i, err.msg);
    }
#undef EV
}

/* What is not junk stays accepted: the escape \\u0000 as text, any valid UTF-8, whitespace
 * around the object, ids up to 2^53 - 1. (A NUL in any string, even one hookd does not read, is
 * refused: event_nul_anywhere_is_refused.) */
Test(event, near_junk_that_is_fine)
{
    static const struct {
        const char *json;
        const char *job_id;
    } cases[] = {
        {"{\"jobId\":\"a\\\\u0000b\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", "a\\u0000b"},
        {"{\"jobId\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf\",\"jobStatus\":"
         "\"Complete\",\"flowId\":\"7\"}",
         "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf"},
        {"{\"jobId\":\"\\ud83d\\ude00\\u0001\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}",
         "\xf0\x9f\x98\x80\x01"},
        {" \t\r\n{\"jobId\":9007199254740991,\"jobStatus\":\"Complete\",\"flowId\":\"7\"} \n",
         "9007199254740991"},
        {"{\"jobId\":-42,\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"x\":1,\"x\":2}", "-42"},
        {"{\"jobId\":1e3,\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", "1000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_event *ev = NULL;
        hk_error err = {0};
        cr_assert_eq(hk_event_parse(cases[i].json, strlen(cases[i].json), "t/0/1", &ev, &err),
                     HK_OK, "case %zu: %s", i, err.msg);
        cr_assert_str_eq(ev->job_id, cases[i].job_id, "case %zu", i);
        hk_event_destroy(ev);
    }
}

Test(event, nul_anywhere_is_refused)
{
    /* one rule for every string of the event, overrides and fields hookd passes through alike */
    const char *json = "{\"jobId\":\"a\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                       "\"note\":\"x\\u0000y\"}";
    hk_event *ev = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_event_parse(json, strlen(json), "t/0/1", &ev, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "note", "%s", err.msg);
    cr_assert(strstr(err.msg, "NUL") != NULL, "%s", err.msg);
}

Test(util, utf8_valid)
{
    static const struct {
        const char *s;
        size_t len;
        bool ok;
    } cases[] = {
        {"", 0, true},
        {"plain ascii", 11, true},
        {"\xc2\x80\xdf\xbf", 4, true},                     /* U+0080, U+07FF */
        {"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80", 9, true}, /* U+0800, U+D7FF, U+E000 */
        {"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 8, true},     /* U+10000, U+10FFFF */
        {"a\0b", 3, false},
        {"\x80", 1, false},
        {"\xc1\xbf", 2, false},         /* overlong */
        {"\xe0\x9f\xbf", 3, false},     /* overlong */
        {"\xf0\x8f\xbf\xbf", 4, false}, /* overlong */
        {"\xed\xa0\x80", 3, false},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, false}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 4, false},
        {"\xff", 1, false},
        {"\xe2\x82", 2, false}, /* cut short */
        {"\xe2\x82\xac", 2, false},
        {"\xc3(", 2, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(hk_utf8_valid(cases[i].s, cases[i].len), cases[i].ok, "case %zu", i);
}

/* ------------------------------------------------------- what a task may hold (issue 12) --- */

Test(task, signature_header_may_not_name_a_header_hookd_manages)
{
    const char *managed[] = {
        "Content-Length",    "transfer-encoding", "Host",   "Connection", "User-Agent",
        "X-Webhook-Id",      "x-webhook-attempt", "Expect", "webhook-id", "Webhook-Timestamp",
        "webhook-signature", "Content-Type"};
    for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{" BASE ",\"secret\":\"s\",\"signature\":\"body\",\"signatureHeader\":\"%s\"}",
                 managed[i]);
        hk_error err;
        hk_task *t = parse_task(json, &err);
        cr_assert_null(t, "%s accepted", managed[i]);
        cr_assert_str_eq(err.field, "signatureHeader", "%s", managed[i]);
    }
    const char *fine[] = {"X-Webhook-Signature", "x-y42-signature", "Signature"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{" BASE ",\"secret\":\"s\",\"signature\":\"body\",\"signatureHeader\":\"%s\"}",
                 fine[i]);
        hk_error err;
        hk_task *t = parse_task(json, &err);
        cr_assert_not_null(t, "%s: %s", fine[i], err.msg);
        hk_task_destroy(t);
    }
}

Test(task, header_values_refuse_control_characters_but_tab)
{
    const char *bad[] = {"a\\u0001b", "a\\u000bb", "a\\u007fb", "a\\u001fb", "a\\rb", "a\\nb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{" BASE ",\"headers\":{\"X-A\":\"%s\"}}", bad[i]);
        hk_error err;
        hk_task *t = parse_task(json, &err);
        cr_assert_null(t, "%s accepted", bad[i]);
        cr_assert_str_eq(err.field, "headers.X-A", "%s", bad[i]);
    }
    hk_error err;
    hk_task *t = parse_task("{" BASE ",\"headers\":{\"X-A\":\"a\\tb \\u00e9\"}}", &err);
    cr_assert_not_null(t, "tab and non-ASCII stay allowed: %s", err.msg);
    hk_task_destroy(t);
    cr_assert_null(parse_task("{" BASE ",\"headers\":{\"X\\u0001\":\"v\"}}", &err));
    cr_assert(strstr(err.msg, "not a token"), "%s", err.msg);
}

Test(task, a_nul_anywhere_is_refused_naming_where)
{
    /* cJSON keeps a \u0000 inside its strings and every C string read from them ends there:
     * "POST\u0000x" would read as POST, a header value as its first half. */
    struct {
        const char *json, *field;
    } bad[] = {
        {"{" BASE ",\"headers\":{\"X-A\":\"ok\\u0000evil\"}}", "headers.X-A"},
        {"{" BASE ",\"headers\":{\"X-A\\u0000B\":\"v\"}}", "headers.X-A\\u0000B"},
        {"{" BASE ",\"method\":\"POST\\u0000x\"}", "method"},
        {"{\"flowId\":\"7\",\"url\":\"https://hooks.example.com/x\\u0000.evil\"}", "url"},
        {"{" BASE ",\"body\":\"a\\u0000b\"}", "body"},
        {"{" BASE ",\"trigger\":{\"objects\":[\"1\",\"2\\u0000\"]}}", "trigger.objects[1]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_error err;
        hk_task *t = parse_task(bad[i].json, &err);
        cr_assert_null(t, "accepted: %s", bad[i].json);
        cr_assert_str_eq(err.field, bad[i].field, "%s", bad[i].json);
        cr_assert(strstr(err.msg, "NUL"), "%s", err.msg);
    }
    /* A raw NUL byte in the text, which strlen() would hide from the parser's caller. */
    const char raw[] = "{" BASE ",\"name\":\"a\0b\"}";
    hk_task *t = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_task_parse(raw, sizeof raw - 1, true, &t, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "name");
    /* An escaped backslash before "u0000" is no NUL. */
    t = parse_task("{" BASE ",\"body\":\"a\\\\u0000b\"}", &err);
    cr_assert_not_null(t, "%s", err.msg);
    cr_assert_str_eq(t->body, "a\\u0000b");
    hk_task_destroy(t);
}

Test(event, overrides_refuse_control_characters_and_nul)
{
    const char *bad[] = {
        "{\"webhookId\":\"wh_a\",\"headers\":{\"X-A\":\"a\\u000bb\"}}",
        "{\"webhookId\":\"wh_a\",\"headers\":{\"X-A\":\"a\\u0000b\"}}",
        "{\"webhookId\":\"wh_a\",\"url\":\"https://x.example/a\\u0000b\"}",
        "{\"webhookId\":\"wh_a\",\"url\":\"https://x.example/a\\u0001b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                 "\"webhookOverrides\":[%s]}",
                 bad[i]);
        hk_event *ev = NULL;
        hk_error err;
        cr_assert_eq(parse_event(json, &ev, &err), HK_EINVAL, "accepted: %s", bad[i]);
        cr_assert(strncmp(err.field, "webhookOverrides[0].", 20) == 0, "%s: %s", bad[i], err.msg);
    }
}

Test(task, allow_cross_origin_overrides_is_a_checked_boolean_kept_on_a_round_trip)
{
    hk_error err;
    hk_task *t = parse_task("{" BASE "}", &err);
    cr_assert_not(t->allow_cross_origin_overrides, "off unless the task says so");
    hk_task_destroy(t);
    cr_assert_null(parse_task("{" BASE ",\"allowCrossOriginOverrides\":\"yes\"}", &err));
    cr_assert_str_eq(err.field, "allowCrossOriginOverrides");
    t = parse_task("{" BASE ",\"allowCrossOriginOverrides\":true}", &err);
    cr_assert(t->allow_cross_origin_overrides);
    cJSON *json = hk_task_to_json(t, HK_SECRETS_MASKED);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(json, "allowCrossOriginOverrides")));
    cJSON_Delete(json);
    hk_task_destroy(t);
}

Test(task, same_origin_compares_scheme_host_and_port_normalised)
{
    const char *base = "https://hooks.example.com/services/x?a=1";
    const char *same[] = {"https://hooks.example.com/other", "HTTPS://Hooks.Example.COM:443/",
                          "https://hooks.example.com#f", "https://hooks.example.com?q"};
    const char *other[] = {
        "http://hooks.example.com/services/x",    "https://hooks.example.com:8443/services/x",
        "https://hooks.example.com./services/x",  "https://hooks.example.com.evil.example/",
        "https://evil.example/hooks.example.com", "https://hooks.example.co/"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        cr_assert(hk_url_same_origin(base, same[i]), "%s", same[i]);
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        cr_assert_not(hk_url_same_origin(base, other[i]), "%s", other[i]);
    cr_assert(hk_url_same_origin("http://[::1]:80/a", "http://[::1]/b"));
    cr_assert_not(hk_url_same_origin("http://[::1]/a", "http://[::2]/a"));
    cr_assert(hk_url_same_origin("http://h:8080/a", "http://H:08080/b"));
}

Test(json, a_nul_is_named_by_its_json_path)
{
    struct {
        const char *json, *field;
    } cases[] = {
        {"{\"jobId\":\"a\\u0000b\",\"x\":1}", "jobId"},
        {"{\"a\":[1,{\"b\":\"\"},{\"c\":[\"x\",\"\\u0000\"]}]}", "a[2].c[1]"},
        {"[{\"k\":1},{\"k\":\"\\u0000\"}]", "[1].k"},
        {"{\"a\" : {\"b\":1, \"c\" :\"\\u0000\"}}", "a.c"},
        {"\"\\u0000\"", "doc"},
        {"[[[[[[[[[[[[[[[[[[[[\"\\u0000\"]]]]]]]]]]]]]]]]]]]]",
         "[0][0][0][0][0][0][0][0][0][0][0]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_error err = {0};
        cr_assert_eq(hk_json_refuse_nul(cases[i].json, strlen(cases[i].json), "doc", &err),
                     HK_EINVAL, "%s", cases[i].json);
        cr_assert(strncmp(err.field, cases[i].field, strlen(cases[i].field)) == 0, "%s: %s",
                  cases[i].json, err.field);
    }
    const char raw[] = "{\"a\":1,\0\"b\":2}";
    hk_error err = {0};
    cr_assert_eq(hk_json_refuse_nul(raw, sizeof raw - 1, "doc", &err), HK_EINVAL);
    cr_assert(strstr(err.msg, "NUL byte"), "%s", err.msg);
    const char *more[] = {"{\"a\":\"\\\\u0000\"}", "{\"a\":\"\\u0001\\\"\\u0000x\"", "{}", ""};
    cr_assert_eq(hk_json_refuse_nul(more[0], strlen(more[0]), "doc", NULL), HK_OK);
    cr_assert_eq(hk_json_refuse_nul(more[1], strlen(more[1]), "doc", NULL), HK_EINVAL,
                 "an escaped quote does not end the string");
    cr_assert_eq(hk_json_refuse_nul(more[2], 2, "doc", NULL), HK_OK);
    cr_assert_eq(hk_json_refuse_nul(more[3], 0, "doc", NULL), HK_OK);
}

/* Found by fuzz_url (tests/fuzz/corpus/url/found-*): hosts libcurl refuses were accepted, so a
 * task could be stored that no attempt could ever send. */
Test(task, url_hosts_libcurl_can_read)
{
    static const char *const bad[] = {
        "https://hooks.ex]ample.com/in",
        "http://[zz]/",
        "https://\"",
        "http://[:00]",
        "https://a%2eb.example/",
        "https://a!b.example/",
        "http://[fe80::1%25eth0]/",
        "https://h\xc3\xa9.example/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_error err = {0};
        cr_assert_eq(hk_validate_url(bad[i], "url", &err), HK_EINVAL, "%s accepted", bad[i]);
        cr_assert_str_eq(err.field, "url");
    }
    static const char *const good[] = {
        "https://hooks.example.com/x", "http://127.0.0.1:8080/",   "http://[::1]:9000/a",
        "https://xn--h-bga.example/",  "http://my_host.internal/", "https://[2001:db8::1]",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        hk_error err = {0};
        cr_assert_eq(hk_validate_url(good[i], "url", &err), HK_OK, "%s: %s", good[i], err.msg);
    }
}

/* One JSON value and nothing after it but whitespace: cJSON alone would take `{...} junk`. */
Test(task, text_after_the_json_value_is_refused)
{
    const char *junk = "{\"flowId\":\"7\",\"url\":\"https://x.example/h\"} {\"flowId\":\"8\"}";
    hk_task *t = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_task_parse(junk, strlen(junk), true, &t, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "task");
    const char *spaced = "{\"flowId\":\"7\",\"url\":\"https://x.example/h\"} \n\t";
    cr_assert_eq(hk_task_parse(spaced, strlen(spaced), true, &t, &err), HK_OK, "%s", err.msg);
    hk_task_destroy(t);
    size_t at = 0;
    cr_assert_null(hk_json_parse_whole("[1] x", 5, &at));
    cr_assert_eq(at, 4, "where the junk starts");
}

Test(ids, new_ids_are_distinct_across_the_random_blocks)
{
    /* 1000 ids span ten of the per-thread random blocks: none repeats, each is the prefix and 24
     * lowercase hex digits */
    enum { N = 1000 };
    static char ids[N][32];
    for (int i = 0; i < N; i++) {
        hk_new_id("req_", ids[i]);
        cr_assert_eq(strlen(ids[i]), 28);
        cr_assert_eq(strncmp(ids[i], "req_", 4), 0);
        cr_assert_eq(strspn(ids[i] + 4, "0123456789abcdef"), 24, "%s", ids[i]);
        for (int k = 0; k < i; k++)
            cr_assert_str_neq(ids[i], ids[k]);
    }
}

/* ------------------------------------------------------------------- trigger.types --- */

Test(match, trigger_types_choose_the_event_types_a_task_takes)
{
    static const char *const events[] = {
        "{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}",
        "{\"type\":\"orchestration.completed\",\"runId\":\"r1\",\"jobStatus\":\"Complete\","
        "\"flowId\":\"7\"}",
        "{\"type\":\"model.refreshed\",\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":"
        "\"7\"}",
    };
    static const char *const triggers[] = {
        "{" BASE "}",
        "{" BASE ",\"trigger\":{\"types\":[\"job.completed\"]}}",
        "{" BASE ",\"trigger\":{\"types\":[\"orchestration.completed\"]}}",
        "{" BASE ",\"trigger\":{\"types\":[\"orchestration.completed\",\"job.completed\"]}}",
        "{" BASE ",\"trigger\":{\"types\":null}}",
    };
    /* expected[event][trigger]: an unknown type reaches only tasks that take every type */
    static const bool expected[3][5] = {{true, true, false, true, true},
                                        {true, false, true, true, true},
                                        {true, false, false, false, true}};
    for (size_t e = 0; e < 3; e++) {
        hk_event *ev;
        hk_error err;
        cr_assert_eq(parse_event(events[e], &ev, &err), HK_OK, "%s", err.msg);
        for (size_t g = 0; g < 5; g++) {
            hk_task *t = parse_task(triggers[g], &err);
            cr_assert_eq(hk_task_matches(t, ev), expected[e][g], "event %zu, trigger %s", e,
                         triggers[g]);
            hk_task_destroy(t);
        }
        hk_event_destroy(ev);
    }
}

Test(task, trigger_types_are_checked_and_kept)
{
    static const struct {
        const char *types;
        const char *field, *msg;
    } bad[] = {
        {"[]", "trigger.types", "non-empty list"},
        {"\"job.completed\"", "trigger.types", "non-empty list"},
        {"[\"job.completed\",\"job.done\"]", "trigger.types[1]", "job.completed or"},
        {"[\"Job.Completed\"]", "trigger.types[0]", "job.completed or"},
        {"[3]", "trigger.types[0]", "job.completed or"},
        {"[\"job.completed\",\"job.completed\"]", "trigger.types[1]", "listed twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{" BASE ",\"trigger\":{\"types\":%s}}", bad[i].types);
        hk_task *t = NULL;
        hk_error err = {0};
        cr_assert_eq(hk_task_parse(json, strlen(json), true, &t, &err), HK_EINVAL, "%s", json);
        cr_assert_str_eq(err.field, bad[i].field, "%s: %s", json, err.msg);
        cr_assert(strstr(err.msg, bad[i].msg), "%s: %s", json, err.msg);
    }
    /* kept on a round trip, in one order; left out when every type is taken */
    hk_error err = {0};
    hk_task *t = parse_task(
        "{" BASE ",\"trigger\":{\"types\":[\"orchestration.completed\",\"job.completed\"]}}", &err);
    cJSON *json = hk_task_to_json(t, HK_SECRETS_MASKED);
    char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(json, "trigger"));
    cr_assert_str_eq(text, "{\"event\":\"success\",\"types\":[\"job.completed\","
                           "\"orchestration.completed\"],\"objects\":\"any\"}");
    free(text);
    cJSON_Delete(json);
    hk_task_destroy(t);
    t = parse_task("{" BASE "}", &err);
    json = hk_task_to_json(t, HK_SECRETS_MASKED);
    cr_assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(json, "trigger"), "types"));
    cJSON_Delete(json);
    hk_task_destroy(t);
}

/* ------------------------------------------------------------ URLs as they are sent --- */

Test(task, a_url_with_a_fragment_is_refused_naming_the_field)
{
    hk_error err = {0};
    cr_assert_eq(hk_validate_url("https://x.example/h#frag", "url", &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "url");
    cr_assert(strstr(err.msg, "fragment"), "%s", err.msg);
    hk_task *t = NULL;
    const char *task = "{\"flowId\":\"7\",\"url\":\"https://x.example/#\"}";
    cr_assert_eq(hk_task_parse(task, strlen(task), true, &t, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "url");
    hk_event *ev = NULL;
    const char *event = "{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                        "\"webhookOverrides\":[{\"webhookId\":\"wh_a\",\"url\":\"https://x/#a\"}]}";
    cr_assert_eq(parse_event(event, &ev, &err), HK_EINVAL);
    cr_assert(strstr(err.field, "url"), "%s", err.field);
}

Test(task, a_url_is_signed_as_it_is_sent)
{
    static const char *const cases[][2] = {
        {"https://x.example", "https://x.example/"},
        {"https://x.example?q=1", "https://x.example/?q=1"},
        {"http://x.example:8080", "http://x.example:8080/"},
        {"http://[::1]:80?a=b/c", "http://[::1]:80/?a=b/c"},
        {"https://x.example/", "https://x.example/"},
        {"https://x.example/a/b?c=d", "https://x.example/a/b?c=d"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_error err = {0};
        cr_assert_eq(hk_validate_url(cases[i][0], "url", &err), HK_OK, "%s", err.msg);
        char *sent = hk_url_as_sent(cases[i][0]);
        cr_assert_str_eq(sent, cases[i][1]);
        free(sent);
    }
}

Test(event, an_override_may_skip_and_one_naming_no_task_is_found)
{
    hk_event *ev = NULL;
    hk_error err = {0};
    cr_assert_eq(parse_event("{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                             "\"webhookOverrides\":[{\"webhookId\":\"wh_a\",\"skip\":true},"
                             "{\"webhookId\":\"wh_b\",\"skip\":false},{\"webhookId\":\"wh_x\"},"
                             "{\"webhookId\":\"wh_y\",\"skip\":null}]}",
                             &ev, &err),
                 HK_OK, "%s", err.msg);
    cr_assert(hk_event_override_for(ev, "wh_a")->skip);
    cr_assert_not(hk_event_override_for(ev, "wh_b")->skip);
    hk_task *a = parse_task("{\"id\":\"wh_a\"," BASE "}", &err);
    hk_task *b = parse_task("{\"id\":\"wh_b\"," BASE "}", &err);
    const hk_task *tasks[] = {a, b};
    hk_buf why = {0};
    cr_assert_eq(hk_event_unknown_overrides(ev, tasks, 2, &why), 2);
    cr_assert_str_eq(why.data, "webhookOverrides[2]: no webhook task wh_x in flow 7; "
                               "webhookOverrides[3]: no webhook task wh_y in flow 7");
    hk_buf_free(&why);
    cr_assert_eq(hk_event_unknown_overrides(ev, tasks, 0, &why), 4);
    hk_buf_free(&why);
    hk_event_destroy(ev);
    hk_task_destroy(a);
    hk_task_destroy(b);
    cr_assert_eq(parse_event("{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                             "\"webhookOverrides\":[{\"webhookId\":\"wh_a\",\"skip\":1}]}",
                             &ev, &err),
                 HK_EINVAL);
    cr_assert_str_eq(err.field, "webhookOverrides[0].skip");
}

Test(task, previous_secrets_until_is_a_time_with_more_than_one_secret)
{
    hk_task *t = NULL;
    hk_error err = {0};
    static const char *const bad[] = {
        "{" BASE ",\"secrets\":[\"a\",\"b\"],\"previousSecretsUntil\":\"tomorrow\"}",
        "{" BASE ",\"secrets\":[\"a\",\"b\"],\"previousSecretsUntil\":5}",
        "{" BASE ",\"secret\":\"a\",\"previousSecretsUntil\":\"2026-12-01T10:00:00Z\"}",
    };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(hk_task_parse(bad[i], strlen(bad[i]), true, &t, &err), HK_EINVAL, "%s",
                     bad[i]);
        cr_assert_str_eq(err.field, "previousSecretsUntil");
    }
    t = parse_task("{" BASE ",\"secrets\":[\"a\",\"b\"],\"previousSecretsUntil\":"
                   "\"2026-12-01T10:00:00Z\"}",
                   &err);
    cr_assert_eq(hk_task_signing_secrets(t, 1796119199999ull), 2);
    cr_assert_eq(hk_task_signing_secrets(t, 1796119200000ull), 1);
    cJSON *json = hk_task_to_json(t, HK_SECRETS_MASKED);
    cr_assert_str_eq(cJSON_GetObjectItem(json, "previousSecretsUntil")->valuestring,
                     "2026-12-01T10:00:00.000Z");
    cJSON_Delete(json);
    hk_task_destroy(t);
}

Test(task, a_task_has_a_flow_or_a_space_never_both)
{
    hk_error err;
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"flowId\":\"7\",\"spaceId\":\"s1\",\"url\":\"https://x.example/h\"}",
         "spaceId: a task has flowId or spaceId, not both"},
        {"{\"url\":\"https://x.example/h\"}", "flowId: required (or spaceId)"},
        {"{\"flowId\":null,\"spaceId\":null,\"url\":\"https://x.example/h\"}",
         "flowId: required (or spaceId)"},
        {"{\"spaceId\":\"a:b\",\"url\":\"https://x.example/h\"}",
         "spaceId: must be 1 to 128 characters without spaces, control characters, ':' or glob "
         "characters"},
        {"{\"spaceId\":\"\",\"url\":\"https://x.example/h\"}",
         "spaceId: must be 1 to 128 characters without spaces, control characters, ':' or glob "
         "characters"},
        {"{\"spaceId\":true,\"url\":\"https://x.example/h\"}",
         "spaceId: must be a string or a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_task *t = parse_task(bad[i].json, &err);
        cr_assert_null(t, "%s", bad[i].json);
        cr_assert_str_eq(err.msg, bad[i].msg);
    }
    /* a space's task: no flow; the JSON keeps spaceId only; a number is kept as its text */
    hk_task *t = parse_task("{\"spaceId\":42,\"url\":\"https://x.example/h\"}", &err);
    cr_assert_not_null(t, "%s", err.msg);
    cr_assert_null(t->flow_id);
    cr_assert_str_eq(t->space_id, "42");
    hk_scope scope = hk_task_scope(t);
    cr_assert_eq(scope.kind, HK_SCOPE_SPACE);
    cr_assert_str_eq(scope.id, "42");
    cJSON *json = hk_task_to_json(t, HK_SECRETS_MASKED);
    cr_assert_str_eq(cJSON_GetObjectItem(json, "spaceId")->valuestring, "42");
    cr_assert_null(cJSON_GetObjectItem(json, "flowId"));
    hk_task *back = NULL;
    cr_assert_eq(hk_task_from_json(json, false, &back, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(back->space_id, "42");
    cr_assert_null(back->flow_id);
    cJSON_Delete(json);
    hk_task_destroy(back);
    hk_task_destroy(t);
    t = parse_task("{" BASE "}", &err);
    scope = hk_task_scope(t);
    cr_assert_eq(scope.kind, HK_SCOPE_FLOW);
    cr_assert_str_eq(scope.id, "7");
    cr_assert_null(t->space_id);
    hk_task_destroy(t);
}

Test(event, space_id_is_optional_and_checked_like_flow_id)
{
    hk_event *ev = NULL;
    hk_error err;
    cr_assert_eq(
        parse_event("{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", &ev, &err),
        HK_OK, "%s", err.msg);
    cr_assert_null(ev->space_id, "absent is fine");
    hk_event_destroy(ev);
    cr_assert_eq(parse_event("{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                             "\"spaceId\":12}",
                             &ev, &err),
                 HK_OK, "%s", err.msg);
    cr_assert_str_eq(ev->space_id, "12", "a number is kept as its text");
    hk_event_destroy(ev);
    static const struct {
        const char *space, *msg;
    } bad[] = {
        {"\"\"", "spaceId: must not be empty"},
        {"{}", "spaceId: must be a string or a number"},
        {"0.5", "spaceId: a number must be whole and below 2^53 (send it as a string)"},
        {"\"s\",\"spaceId\":\"t\"", "spaceId: given more than once"},
        {"\"\xff\"", "spaceId: not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[160];
        snprintf(json, sizeof json,
                 "{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"spaceId\":%s}",
                 bad[i].space);
        ev = NULL;
        cr_assert_eq(parse_event(json, &ev, &err), HK_EINVAL, "%s", json);
        cr_assert_null(ev);
        cr_assert_str_eq(err.msg, bad[i].msg);
    }
    /* an override naming no task of the flow or the space says both */
    cr_assert_eq(parse_event("{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                             "\"spaceId\":\"s1\",\"webhookOverrides\":[{\"webhookId\":\"wh_a\"},"
                             "{\"webhookId\":\"wh_x\"}]}",
                             &ev, &err),
                 HK_OK, "%s", err.msg);
    hk_task *a =
        parse_task("{\"id\":\"wh_a\",\"spaceId\":\"s1\",\"url\":\"https://x.example/\"}", &err);
    const hk_task *tasks[] = {a};
    hk_buf why = {0};
    cr_assert_eq(hk_event_unknown_overrides(ev, tasks, 1, &why), 1);
    cr_assert_str_eq(why.data, "webhookOverrides[1]: no webhook task wh_x in flow 7 or space s1");
    hk_buf_free(&why);
    hk_task_destroy(a);
    hk_event_destroy(ev);
}

/* ------------------------------------------------------------ task.disabled (operational) --- */

/* The operational event hookd publishes when it disables a task reads back as an event of type
 * task.disabled: the disabled task's id as jobId, disabledAt as finishedAt, its reason; no
 * secret in it; the same eventId for the same disable. */
Test(event, task_disabled_round_trip)
{
    char *json =
        hk_event_task_disabled_json("hookd", "wh_a", "7", NULL, "Ops \"hook\"",
                                    "the endpoint answered 410 Gone", "2026-12-01T06:00:00.000Z");
    cr_assert_str_eq(json, "{\"type\":\"task.disabled\",\"eventId\":\"task.disabled/wh_a/"
                           "2026-12-01T06:00:00.000Z\",\"group\":\"hookd\",\"webhookId\":"
                           "\"wh_a\",\"flowId\":\"7\",\"webhookName\":\"Ops \\\"hook\\\"\","
                           "\"reason\":\"the endpoint answered 410 Gone\",\"disabledAt\":"
                           "\"2026-12-01T06:00:00.000Z\"}");
    hk_event *ev;
    hk_error err = {0};
    cr_assert_eq(parse_event(json, &ev, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(ev->type, "task.disabled");
    cr_assert_str_eq(ev->job_id, "wh_a");
    cr_assert_str_eq(ev->job_status, "disabled");
    cr_assert_str_eq(ev->flow_id, "7");
    cr_assert_str_eq(ev->finished_at, "2026-12-01T06:00:00.000Z");
    cr_assert_str_eq(ev->reason, "the endpoint answered 410 Gone");
    cr_assert_str_eq(ev->event_id, "task.disabled/wh_a/2026-12-01T06:00:00.000Z");
    hk_event_destroy(ev);
    free(json);
    /* a space's task: the event names the space, no flow, and reads back with flow "" */
    json = hk_event_task_disabled_json("hookd", "wh_s", NULL, "sales", "", "r",
                                       "2026-12-01T06:00:00.000Z");
    cr_assert(strstr(json, "\"spaceId\":\"sales\"") && !strstr(json, "flowId"), "%s", json);
    cr_assert_eq(parse_event(json, &ev, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(ev->space_id, "sales");
    cr_assert_str_eq(ev->flow_id, "");
    hk_event_destroy(ev);
    free(json);
    /* ... which only task.disabled may do: a job event needs its flow */
    cr_assert_eq(
        parse_event("{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"spaceId\":\"s\"}", &ev, &err),
        HK_EINVAL);
    cr_assert_str_eq(err.field, "flowId");
    cr_assert_eq(parse_event("{\"type\":\"task.disabled\",\"webhookId\":\"wh_a\",\"reason\":"
                             "\"x\"}",
                             &ev, &err),
                 HK_EINVAL);
    cr_assert_str_eq(err.field, "flowId");
    /* its own fields are required, named when missing */
    cr_assert_eq(
        parse_event("{\"type\":\"task.disabled\",\"flowId\":\"7\",\"reason\":\"x\"}", &ev, &err),
        HK_EINVAL);
    cr_assert_str_eq(err.field, "webhookId");
    cr_assert_eq(parse_event("{\"type\":\"task.disabled\",\"webhookId\":\"wh_a\",\"flowId\":\"7\"}",
                             &ev, &err),
                 HK_EINVAL);
    cr_assert_str_eq(err.field, "reason");
    /* a job event has no reason */
    cr_assert_eq(
        parse_event("{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", &ev, &err),
        HK_OK);
    cr_assert_null(ev->reason);
    hk_event_destroy(ev);
}

/* task.disabled reaches only the tasks that name it in trigger.types (not those that take every
 * type), whatever their trigger.event and objects, and never the task it is about. */
Test(match, task_disabled_reaches_only_the_tasks_naming_it_and_never_its_own)
{
    char *json = hk_event_task_disabled_json("hookd", "wh_gone", "7", NULL, "", "r",
                                             "2026-12-01T06:00:00.000Z");
    hk_event *ev;
    hk_error err = {0};
    cr_assert_eq(parse_event(json, &ev, &err), HK_OK, "%s", err.msg);
    free(json);
    static const struct {
        const char *task;
        bool matches;
    } cases[] = {
        {"{" BASE "}", false},
        {"{" BASE ",\"trigger\":{\"types\":[\"job.completed\",\"orchestration.completed\"]}}",
         false},
        {"{" BASE ",\"trigger\":{\"types\":[\"task.disabled\"]}}", true},
        {"{" BASE ",\"trigger\":{\"event\":\"failure\",\"types\":[\"task.disabled\"],"
         "\"objects\":[\"o1\"]}}",
         true},
        {"{\"id\":\"wh_gone\"," BASE ",\"trigger\":{\"types\":[\"task.disabled\"]}}", false},
        {"{" BASE ",\"enabled\":false,\"trigger\":{\"types\":[\"task.disabled\"]}}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_task *t = parse_task(cases[i].task, &err);
        cr_assert_eq(hk_task_matches(t, ev), cases[i].matches, "%s", cases[i].task);
        hk_task_destroy(t);
    }
    /* and a task naming only task.disabled takes no job event */
    hk_task *t = parse_task("{" BASE ",\"trigger\":{\"types\":[\"task.disabled\"]}}", &err);
    hk_event *job;
    cr_assert_eq(
        parse_event("{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}", &job, &err),
        HK_OK);
    cr_assert_not(hk_task_matches(t, job));
    hk_event_destroy(job);
    hk_task_destroy(t);
    hk_event_destroy(ev);
}
