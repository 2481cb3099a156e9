/*
 * delivery: rendering ($references, escaping), the three signature schemes against fixed
 * vectors, the delivery id, the exact request built for each method, and each scheme signed
 * then checked by hk_verify() as a receiver does.
 *
 * Over 700 lines on purpose: fixed vectors for every scheme and every reference, side by side
 * with the request each method builds; one suite, because they share the fixtures.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hk_delivery.h"

#include <openssl/evp.h>
#include <strings.h>

static hk_event *event(const char *json)
{
    hk_event *ev = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_event_parse(json, strlen(json), "t/0/1", &ev, &err), HK_OK, "%s", err.msg);
    return ev;
}

static hk_task *task(const char *json)
{
    hk_task *t = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_task_parse(json, strlen(json), true, &t, &err), HK_OK, "%s", err.msg);
    return t;
}

#define EVENT                                                                                      \
    "{\"eventId\":\"ev-1\",\"jobId\":\"12345\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","       \
    "\"flowName\":\"Sales \\\"Q4\\\"\\ncleanup\",\"outputIds\":[\"3\",\"4\"],\"jobType\":"         \
    "\"scheduled\",\"finishedAt\":\"2026-11-22T10:00:00Z\"}"

/* ----------------------------------------------------------------------- render --- */

Test(render, every_reference)
{
    hk_event *ev = event(EVENT);
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://x.example\",\"name\":\"Notify\"}");
    char *out = hk_render("$jobId|$jobStatus|$flowId|$jobType|$eventType|$outputIds|$finishedAt|"
                          "$webhookName|$attempt",
                          ev, t, 3, HK_RENDER_RAW, SIZE_MAX, NULL);
    cr_assert_str_eq(out, "12345|Complete|7|scheduled|job.completed|3,4|2026-11-22T10:00:00Z|"
                          "Notify|3");
    free(out);
    out = hk_render("$flowName", ev, t, 1, HK_RENDER_RAW, SIZE_MAX, NULL);
    cr_assert_str_eq(out, "Sales \"Q4\"\ncleanup", "no escaping outside JSON");
    free(out);
    out = hk_render("[$spaceId]", ev, t, 1, HK_RENDER_RAW, SIZE_MAX, NULL);
    cr_assert_str_eq(out, "[]", "an event without a space: empty");
    free(out);
    hk_task_destroy(t);
    hk_event_destroy(ev);
    ev = event(
        "{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"spaceId\":\"s\\\"1\"}");
    t = task("{\"spaceId\":\"s1\",\"url\":\"https://x.example\"}");
    out = hk_render("{\"space\":\"$spaceId\",\"s\":$spaceId}", ev, t, 1, HK_RENDER_JSON, SIZE_MAX,
                    NULL);
    cr_assert_str_eq(out, "{\"space\":\"s\\\"1\",\"s\":\"s\\\"1\"}");
    free(out);
    hk_task_destroy(t);
    hk_event_destroy(ev);
}

Test(render, json_escaping)
{
    hk_event *ev = event(EVENT);
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://x.example\"}");
    char *out = hk_render("{\"flow\":\"$flowName\",\"job\":$jobId}", ev, t, 1, HK_RENDER_JSON,
                          SIZE_MAX, NULL);
    cr_assert_str_eq(out, "{\"flow\":\"Sales \\\"Q4\\\"\\ncleanup\",\"job\":12345}");
    cJSON *parsed = cJSON_Parse(out);
    cr_assert_not_null(parsed, "the rendered body is valid JSON");
    cr_assert_str_eq(cJSON_GetObjectItem(parsed, "flow")->valuestring, "Sales \"Q4\"\ncleanup");
    cJSON_Delete(parsed);
    free(out);
    hk_task_destroy(t);
    hk_event_destroy(ev);
}

Test(render, unknown_and_odd_references_stay_as_written)
{
    hk_event *ev = event(EVENT);
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://x.example\"}");
    char *out = hk_render("$jobIdx $unknown $$ $ $5 cost $jobId$ end$", ev, t, 1,
                          HK_RENDER_JSON_ESCAPE, SIZE_MAX, NULL);
    cr_assert_str_eq(out, "$jobIdx $unknown $$ $ $5 cost 12345$ end$");
    free(out);
    hk_task_destroy(t);
    hk_event_destroy(ev);
}

Test(render, json_detection)
{
    hk_kv json_ct[] = {{"content-type", "application/vnd.api+json"}};
    hk_kv text_ct[] = {{"Content-Type", "text/plain"}};
    cr_assert(hk_render_is_json(json_ct, 1, "plain"));
    cr_assert_not(hk_render_is_json(text_ct, 1, "{\"a\":1}"));
    cr_assert(hk_render_is_json(NULL, 0, "  {\"a\":1}"));
    cr_assert(hk_render_is_json(NULL, 0, "[1]"));
    cr_assert_not(hk_render_is_json(NULL, 0, "a=b"));
}

/* ------------------------------------------------------------------------- sign --- */

Test(sign, seed_vector_timestamped)
{
    char hex[65];
    hk_sign_timestamped("mySecret", 1568818215724ull, "test", 4, hex);
    /* printf '1568818215724.test' | openssl dgst -sha256 -hmac mySecret */
    cr_assert_str_eq(hex, "ae9c9f18381e423059604b64469099165a343deef595013525703e50e84d19f9");
}

Test(sign, body_vector)
{
    char hex[65];
    hk_sign_body("mySecret", "test", 4, hex);
    cr_assert_str_eq(hex, "3e3a691d36b72d489e5310939e09cc29bf4b29f55746157d522407e6ef66b858");
}

Test(sign, standard_webhooks_vector)
{
    char sig[128];
    const char *payload = "{\"test\": 2432232314}";
    cr_assert_eq(hk_sign_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                  "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, payload,
                                  strlen(payload), sig, sizeof sig),
                 HK_OK);
    cr_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

Test(sign, standard_secret_shapes)
{
    char sig[128];
    const char *bad[] = {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not base64!",
                         "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", /* 23 bytes */
                         NULL};
    for (size_t i = 0; bad[i]; i++) {
        cr_assert_eq(hk_sign_standard(bad[i], "m", 1, "", 0, sig, sizeof sig), HK_EINVAL, "%s",
                     bad[i]);
    }
    /* 65 bytes is over the limit, 64 is fine */
    unsigned char raw[65] = {0};
    char b64[128] = "whsec_";
    EVP_EncodeBlock((unsigned char *)b64 + 6, raw, 65);
    cr_assert_eq(hk_sign_standard(b64, "m", 1, "", 0, sig, sizeof sig), HK_EINVAL);
    EVP_EncodeBlock((unsigned char *)b64 + 6, raw, 64);
    cr_assert_eq(hk_sign_standard(b64, "m", 1, "", 0, sig, sizeof sig), HK_OK);
}

Test(sign, delivery_id_is_stable_and_distinct)
{
    char a[32], b[32], c[32];
    hk_delivery_id("e1", "wh_41863ff0ffe4718c2509ed45", a);
    /* python3 -c 'import hashlib;print(hashlib.sha256(b"e1\nwh_41863ff0ffe4718c2509ed45")
     *             .hexdigest()[:26])' */
    cr_assert_str_eq(a, "msg_a0eed3622ecac8ebcba021b61d");
    hk_delivery_id("e1", "wh_41863ff0ffe4718c2509ed45", b);
    cr_assert_str_eq(a, b);
    hk_delivery_id("e1", "wh_other", c);
    cr_assert_str_neq(a, c);
}

/* ---------------------------------------------------------------------- request --- */

static hk_request *build(const hk_task *t, const hk_event *ev)
{
    hk_request_params p = {.task = t,
                           .event = ev,
                           .delivery_id = "msg_fixed",
                           .attempt = 2,
                           .now_ms = 1568818215724ull,
                           .default_timeout_ms = 30000};
    hk_request *req = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_request_build(&p, &req, &err), HK_OK, "%s", err.msg);
    return req;
}

Test(request, post_put_patch_sign_the_body)
{
    const char *methods[] = {"POST", "PUT", "PATCH"};
    hk_event *ev = event(EVENT);
    for (int i = 0; i < 3; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"flowId\":\"7\",\"url\":\"https://x.example/h?a=1\",\"method\":\"%s\","
                 "\"headers\":{\"Authorization\":\"Bearer t\",\"user-agent\":\"spoof\"},"
                 "\"body\":\"{\\\"job\\\":\\\"$jobId\\\"}\",\"secret\":\"mySecret\","
                 "\"timeoutMs\":1234}",
                 methods[i]);
        hk_task *t = task(json);
        hk_request *req = build(t, ev);
        cr_assert_eq(req->method, (hk_method)(i + 1));
        cr_assert_str_eq(req->url, "https://x.example/h?a=1");
        cr_assert_str_eq(req->body, "{\"job\":\"12345\"}");
        cr_assert_eq(req->timeout_ms, 1234);
        cr_assert_str_eq(hk_request_header(req, "Authorization"), "Bearer t");
        cr_assert_str_eq(hk_request_header(req, "Content-Type"), "application/json");
        cr_assert_str_eq(hk_request_header(req, "User-Agent"), "hookd/" HK_VERSION,
                         "a task cannot spoof system headers");
        cr_assert_str_eq(hk_request_header(req, "X-Webhook-Id"), "msg_fixed");
        cr_assert_str_eq(hk_request_header(req, "X-Webhook-Attempt"), "2");
        char hex[65], expect[128];
        hk_sign_timestamped("mySecret", 1568818215724ull, req->body, req->body_len, hex);
        snprintf(expect, sizeof expect, "t=1568818215724,sha256=%s", hex);
        cr_assert_str_eq(hk_request_header(req, "X-Webhook-Signature"), expect);
        size_t ua = 0;
        for (size_t h = 0; h < req->headers_len; h++)
            ua += strcasecmp(req->headers[h].key, "User-Agent") == 0;
        cr_assert_eq(ua, 1, "one User-Agent header");
        hk_request_destroy(req);
        hk_task_destroy(t);
    }
    hk_event_destroy(ev);
}

Test(request, get_and_delete_sign_the_url_and_send_no_body)
{
    const char *methods[] = {"GET", "DELETE"};
    hk_event *ev = event(EVENT);
    for (int i = 0; i < 2; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"flowId\":\"7\",\"url\":\"https://x.example/h?job=1\",\"method\":\"%s\","
                 "\"body\":\"ignored $jobId\",\"secret\":\"mySecret\"}",
                 methods[i]);
        hk_task *t = task(json);
        hk_request *req = build(t, ev);
        cr_assert_null(req->body);
        cr_assert_null(hk_request_header(req, "Content-Type"));
        char hex[65], expect[128];
        hk_sign_timestamped("mySecret", 1568818215724ull, "https://x.example/h?job=1",
                            strlen("https://x.example/h?job=1"), hex);
        snprintf(expect, sizeof expect, "t=1568818215724,sha256=%s", hex);
        cr_assert_str_eq(hk_request_header(req, "X-Webhook-Signature"), expect);
        hk_request_destroy(req);
        hk_task_destroy(t);
    }
    hk_event_destroy(ev);
}

Test(request, body_scheme_with_its_own_header_and_rotation)
{
    hk_event *ev = event(EVENT);
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://x.example\",\"body\":\"hello\","
                      "\"secrets\":[\"new\",\"old\"],\"signature\":\"body\","
                      "\"signatureHeader\":\"x-y42-signature\"}");
    hk_request *req = build(t, ev);
    char a[65], b[65], expect[200];
    hk_sign_body("new", "hello", 5, a);
    hk_sign_body("old", "hello", 5, b);
    snprintf(expect, sizeof expect, "sha256=%s,sha256=%s", a, b);
    cr_assert_str_eq(hk_request_header(req, "x-y42-signature"), expect);
    cr_assert_null(hk_request_header(req, "X-Webhook-Signature"));
    cr_assert_str_eq(hk_request_header(req, "Content-Type"), "text/plain; charset=utf-8");
    hk_request_destroy(req);
    hk_task_destroy(t);
    hk_event_destroy(ev);
}

Test(request, standard_scheme_headers_and_rotation)
{
    hk_event *ev = event(EVENT);
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://x.example\",\"body\":\"{}\","
                      "\"secrets\":[\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
                      "\"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"],\"signature\":\"standard\"}");
    hk_request *req = build(t, ev);
    cr_assert_str_eq(hk_request_header(req, "webhook-id"), "msg_fixed");
    cr_assert_str_eq(hk_request_header(req, "webhook-timestamp"), "1568818215");
    char s1[128], s2[128], expect[300];
    hk_sign_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_fixed", 1568818215, "{}", 2, s1,
                     sizeof s1);
    hk_sign_standard("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "msg_fixed", 1568818215, "{}", 2, s2,
                     sizeof s2);
    snprintf(expect, sizeof expect, "%s %s", s1, s2);
    cr_assert_str_eq(hk_request_header(req, "webhook-signature"), expect);
    hk_request_destroy(req);
    hk_task_destroy(t);
    hk_event_destroy(ev);
}

Test(request, overrides_replace_url_headers_body)
{
    hk_task *t = task("{\"id\":\"wh_a\",\"flowId\":\"7\",\"url\":\"https://x.example/orig\","
                      "\"headers\":{\"X-Orig\":\"1\"},\"body\":\"orig\"}");
    hk_event *ev = event("{\"jobId\":\"9\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                         "\"webhookOverrides\":[{\"webhookId\":\"wh_a\",\"url\":"
                         "\"https://X.example:443/new\",\"headers\":{\"X-New\":\"2\"},\"body\":"
                         "\"job $jobId\"},{\"webhookId\":\"wh_other\",\"body\":\"no\"}]}");
    hk_request *req = build(t, ev);
    cr_assert_str_eq(req->url, "https://X.example:443/new", "the same origin, spelt otherwise");
    cr_assert_str_eq(req->body, "job 9");
    cr_assert_str_eq(hk_request_header(req, "X-New"), "2");
    cr_assert_null(hk_request_header(req, "X-Orig"));
    hk_request_destroy(req);
    hk_event_destroy(ev);
    hk_task_destroy(t);
}

Test(request, no_secret_no_signature)
{
    hk_event *ev = event(EVENT);
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://x.example\"}");
    hk_request *req = build(t, ev);
    cr_assert_null(hk_request_header(req, "X-Webhook-Signature"));
    cr_assert_eq(req->timeout_ms, 30000, "the worker default");
    hk_request_destroy(req);
    hk_task_destroy(t);
    hk_event_destroy(ev);
}

/* -------------------------------------------------------------------- issue 12 --- */

static int try_build(const hk_task *t, const hk_event *ev, size_t max_body, hk_request **req,
                     hk_error *err)
{
    hk_request_params p = {.task = t,
                           .event = ev,
                           .delivery_id = "msg_fixed",
                           .attempt = 1,
                           .now_ms = 1568818215724ull,
                           .default_timeout_ms = 30000,
                           .max_body_bytes = max_body};
    memset(err, 0, sizeof *err);
    *req = NULL;
    return hk_request_build(&p, req, err);
}

Test(request, an_override_url_keeps_the_task_origin_unless_the_task_allows_any)
{
    const char *others[] = {"https://evil.example/x", "http://x.example/orig",
                            "https://x.example:8443/orig", "https://x.example./orig",
                            "https://x.example.evil.example/"};
    for (int allow = 0; allow < 2; allow++) {
        hk_task *t = task(allow ? "{\"id\":\"wh_a\",\"flowId\":\"7\",\"url\":"
                                  "\"https://x.example/orig\",\"secret\":\"s\","
                                  "\"headers\":{\"Authorization\":\"Bearer t\"},"
                                  "\"allowCrossOriginOverrides\":true}"
                                : "{\"id\":\"wh_a\",\"flowId\":\"7\",\"url\":"
                                  "\"https://x.example/orig\",\"secret\":\"s\","
                                  "\"headers\":{\"Authorization\":\"Bearer t\"}}");
        for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
            char json[512];
            snprintf(json, sizeof json,
                     "{\"jobId\":\"9\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                     "\"webhookOverrides\":[{\"webhookId\":\"wh_a\",\"url\":\"%s\"}]}",
                     others[i]);
            hk_event *ev = event(json);
            hk_request *req;
            hk_error err;
            int rc = try_build(t, ev, 0, &req, &err);
            if (allow) {
                cr_assert_eq(rc, HK_OK, "%s: %s", others[i], err.msg);
                cr_assert_str_eq(req->url, others[i]);
            } else {
                cr_assert_eq(rc, HK_EINVAL, "%s went out with the task's token", others[i]);
                cr_assert_null(req, "no fallback to the task's url");
                cr_assert_str_eq(err.field, "webhookOverrides.url");
                cr_assert(strstr(err.msg, "allowCrossOriginOverrides"), "%s", err.msg);
            }
            hk_request_destroy(req);
            hk_event_destroy(ev);
        }
        hk_task_destroy(t);
    }
}

/* A jobId that closes the string it sits in and opens keys of its own. */
#define INJECT_EVENT                                                                               \
    "{\"jobId\":\"\\\",\\\"admin\\\":true,\\\"x\\\":\\\"\",\"jobStatus\":\"Complete\","            \
    "\"flowId\":\"7\",\"outputIds\":[\"3\",\"a&b=c\"]}"

static char *render_task(const char *task_json, const char *event_json)
{
    hk_task *t = task(task_json);
    hk_event *ev = event(event_json);
    hk_request *req;
    hk_error err;
    cr_assert_eq(try_build(t, ev, 0, &req, &err), HK_OK, "%s", err.msg);
    char *body = hk_strdup(req->body);
    hk_request_destroy(req);
    hk_event_destroy(ev);
    hk_task_destroy(t);
    return body;
}

Test(render, a_json_template_is_json_escaped_whatever_its_content_type)
{
    const char *types[] = {"text/plain", "application/octet-stream", "application/json", NULL};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"flowId\":\"7\",\"url\":\"https://x.example\",%s%s%s"
                 "\"body\":\"{\\\"job\\\":\\\"$jobId\\\",\\\"ok\\\":1}\"}",
                 types[i] ? "\"headers\":{\"Content-Type\":\"" : "", types[i] ? types[i] : "",
                 types[i] ? "\"}," : "");
        char *body = render_task(json, INJECT_EVENT);
        cJSON *parsed = cJSON_Parse(body);
        cr_assert_not_null(parsed, "%s: %s", types[i], body);
        cr_assert_eq(cJSON_GetArraySize(parsed), 2, "%s: keys injected: %s", types[i], body);
        cr_assert_str_eq(cJSON_GetObjectItem(parsed, "job")->valuestring,
                         "\",\"admin\":true,\"x\":\"");
        cJSON_Delete(parsed);
        free(body);
    }
}

Test(render, outside_a_string_a_value_is_one_json_token)
{
    char *body = render_task(
        "{\"flowId\":\"7\",\"url\":\"https://x.example\",\"headers\":{\"Content-Type\":"
        "\"text/"
        "plain\"},\"body\":\"{\\\"job\\\":$jobId,\\\"ids\\\":[$outputIds],\\\"n\\\":$attempt}\"}",
        INJECT_EVENT);
    cr_assert_str_eq(body, "{\"job\":\"\\\",\\\"admin\\\":true,\\\"x\\\":\\\"\",\"ids\":[3,"
                           "\"a&b=c\"],\"n\":1}");
    free(body);
    body = render_task("{\"flowId\":\"7\",\"url\":\"https://x.example\",\"body\":"
                       "\"[$jobId, \\\"$jobId\\\\\\\\$jobStatus\\\"]\"}",
                       "{\"jobId\":-1.5e3,\"jobStatus\":\"Complete\",\"flowId\":\"7\"}");
    cr_assert_str_eq(body, "[-1500, \"-1500\\\\Complete\"]", "a number stays a number");
    free(body);
    body = render_task("{\"flowId\":\"7\",\"url\":\"https://x.example\",\"body\":"
                       "\"{\\\"ids\\\":$outputIds,\\\"none\\\":{\\\"x\\\":[$outputIds]}}\"}",
                       INJECT_EVENT);
    cr_assert_str_eq(body, "{\"ids\":[3,\"a&b=c\"],\"none\":{\"x\":[3,\"a&b=c\"]}}",
                     "outside an array, the ids make an array of their own");
    free(body);
}

Test(render, a_form_body_percent_encodes_its_values)
{
    char *body =
        render_task("{\"flowId\":\"7\",\"url\":\"https://x.example\",\"headers\":{"
                    "\"content-type\":\"Application/X-WWW-Form-Urlencoded; "
                    "charset=utf-8\"},\"body\":\"job=$jobId&ids=$outputIds&s=$jobStatus\"}",
                    "{\"jobId\":\"1&admin=true +\\u00e9\",\"jobStatus\":\"Complete\","
                    "\"flowId\":\"7\",\"outputIds\":[\"3\",\"a&b=c\"]}");
    cr_assert_str_eq(body, "job=1%26admin%3Dtrue%20%2B%C3%A9&ids=3,a%26b%3Dc&s=Complete");
    free(body);
}

Test(render, any_other_body_is_as_before)
{
    /* Not JSON, not a form: values as they are, or JSON-escaped when the Content-Type (or, with
     * none, a leading '{' or '[') says JSON. */
    char *body =
        render_task("{\"flowId\":\"7\",\"url\":\"https://x.example\",\"headers\":{"
                    "\"Content-Type\":\"text/plain\"},\"body\":\"Job $jobId \\\"done\\\"\"}",
                    "{\"jobId\":\"a\\\"b\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}");
    cr_assert_str_eq(body, "Job a\"b \"done\"");
    free(body);
    body = render_task("{\"flowId\":\"7\",\"url\":\"https://x.example\",\"body\":"
                       "\"{\\\"broken\\\": \\\"$jobId\"}",
                       "{\"jobId\":\"a\\\"b\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}");
    cr_assert_str_eq(body, "{\"broken\": \"a\\\"b");
    free(body);
    hk_kv plain[] = {{"Content-Type", "text/plain"}};
    hk_kv form[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
    hk_kv formish[] = {{"Content-Type", "application/x-www-form-urlencodedx"}};
    cr_assert_eq(hk_render_form_of(plain, 1, "{\"a\":\"$jobId\"}"), HK_RENDER_JSON);
    cr_assert_eq(hk_render_form_of(plain, 1, "{\"a\":$jobId$jobId}"), HK_RENDER_RAW);
    cr_assert_eq(hk_render_form_of(plain, 1, "{\"a\":1} trailing"), HK_RENDER_RAW);
    cr_assert_eq(hk_render_form_of(plain, 1, "$jobId"), HK_RENDER_RAW, "a lone reference");
    cr_assert_eq(hk_render_form_of(form, 1, "{\"a\":\"$jobId\"}"), HK_RENDER_FORM);
    cr_assert_eq(hk_render_form_of(formish, 1, "a=$jobId"), HK_RENDER_RAW);
    cr_assert_eq(hk_render_form_of(NULL, 0, "{\"a\":\"$jobId\""), HK_RENDER_JSON_ESCAPE);
}

Test(render, a_body_over_the_limit_is_refused_before_it_is_built)
{
    /* The blow-up: 256 KiB of "$jobId" with a 700 KB jobId is tens of GB rendered. */
    size_t id_len = 700 * 1000, refs = HK_TASK_MAX_BODY / 6;
    hk_buf ev_json = {0}, tmpl = {0};
    hk_buf_puts(&ev_json, "{\"jobStatus\":\"Complete\",\"flowId\":\"7\",\"jobId\":\"");
    for (size_t i = 0; i < id_len; i++)
        hk_buf_append(&ev_json, "x", 1);
    hk_buf_puts(&ev_json, "\"}");
    for (size_t i = 0; i < refs; i++)
        hk_buf_puts(&tmpl, "$jobId");
    hk_event *ev = event(ev_json.data);
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://x.example\"}");
    cr_assert_null(hk_render(tmpl.data, ev, t, 1, HK_RENDER_RAW, 1024 * 1024, NULL));
    size_t len = 0;
    char *two = hk_render("$jobId$jobId", ev, t, 1, HK_RENDER_RAW, 2 * id_len, &len);
    cr_assert_not_null(two, "exactly at the limit is fine");
    cr_assert_eq(len, 2 * id_len);
    free(two);
    cr_assert_null(hk_render("$jobId$jobId!", ev, t, 1, HK_RENDER_RAW, 2 * id_len, NULL));
    cr_assert_null(hk_render("\"$jobId\"", ev, t, 1, HK_RENDER_JSON_ESCAPE, id_len + 1, NULL),
                   "escaping counts");

    /* Through the request: the field is named, the limit given, nothing is built. */
    hk_task *big = task("{\"flowId\":\"7\",\"url\":\"https://x.example\",\"body\":"
                        "\"$jobId $jobId\"}");
    hk_request *req;
    hk_error err;
    cr_assert_eq(try_build(big, ev, 1000, &req, &err), HK_EINVAL);
    cr_assert_null(req);
    cr_assert_str_eq(err.field, "body");
    cr_assert(strstr(err.msg, "HOOKD_MAX_BODY_BYTES (1000 bytes)"), "%s", err.msg);
    cr_assert_eq(try_build(big, ev, 0, &req, &err), HK_EINVAL, "0 is the 1 MiB default");
    cr_assert_eq(try_build(big, ev, 2 * id_len + 1, &req, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(req->body_len, 2 * id_len + 1);
    hk_request_destroy(req);
    hk_task_destroy(big);
    hk_task_destroy(t);
    hk_event_destroy(ev);
    hk_buf_free(&ev_json);
    hk_buf_free(&tmpl);

    hk_task *small = task("{\"id\":\"wh_a\",\"flowId\":\"7\",\"url\":\"https://x.example\"}");
    hk_event *ov = event("{\"jobId\":\"123456789\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
                         "\"webhookOverrides\":[{\"webhookId\":\"wh_a\",\"body\":"
                         "\"$jobId$jobId\"}]}");
    cr_assert_eq(try_build(small, ov, 10, &req, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "webhookOverrides.body");
    hk_event_destroy(ov);
    hk_task_destroy(small);
}

/* ------------------------------------------------------- signature header (verify) --- */

#define SIG_A "ae9c9f18381e423059604b64469099165a343deef595013525703e50e84d19f9"
#define SIG_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int sig_parse(const char *text, hk_signature_header *sh, hk_error *err)
{
    return hk_signature_header_parse(text, strlen(text), sh, err);
}

Test(signature_header, timestamped_and_body_forms)
{
    hk_signature_header sh;
    hk_error err = {0};
    cr_assert_eq(sig_parse("t=1568818215724,sha256=" SIG_A, &sh, &err), HK_OK, "%s", err.msg);
    cr_assert(sh.has_t);
    cr_assert_eq(sh.t_ms, 1568818215724ULL);
    cr_assert_eq(sh.n_sigs, 1);
    cr_assert_str_eq(sh.sigs[0], SIG_A);

    cr_assert_eq(sig_parse("sha256=" SIG_A ", sha256=" SIG_B, &sh, &err), HK_OK, "%s", err.msg);
    cr_assert_not(sh.has_t, "no t=: the body form");
    cr_assert_eq(sh.n_sigs, 2);
    cr_assert_str_eq(sh.sigs[1], SIG_B);

    /* Spaces around fields, any order, upper-case hex kept in lower case, t=0 is digits. */
    cr_assert_eq(
        sig_parse(" sha256=AE9C9F18381E423059604B64469099165A343DEEF595013525703E50E84D19F9"
                  " ,\tt=0 ",
                  &sh, &err),
        HK_OK, "%s", err.msg);
    cr_assert(sh.has_t);
    cr_assert_eq(sh.t_ms, 0);
    cr_assert_str_eq(sh.sigs[0], SIG_A);
    cr_assert_eq(sig_parse("t=253402300799999,sha256=" SIG_A, &sh, &err), HK_OK,
                 "the last ms of 9999");
}

/* A malformed t= is never "no timestamp": that was the downgrade to the body scheme. */
Test(signature_header, a_t_that_is_not_digits_is_refused_naming_t)
{
    static const char *bad[] = {
        "t=-1,sha256=" SIG_A,
        "t=abc,sha256=" SIG_A,
        "t=,sha256=" SIG_A,
        "t=+5,sha256=" SIG_A,
        "t=1.5,sha256=" SIG_A,
        "t= 5,sha256=" SIG_A,
        "t=0x10,sha256=" SIG_A,
        "t=1568818215724abc,sha256=" SIG_A,
        "t=253402300800000,sha256=" SIG_A,
        "t=99999999999999999999999,sha256=" SIG_A,
        "t=1,t=2,sha256=" SIG_A,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_signature_header sh;
        hk_error err = {0};
        cr_assert_eq(sig_parse(bad[i], &sh, &err), HK_EINVAL, "%s", bad[i]);
        cr_assert_str_eq(err.field, "t", "%s: %s", bad[i], err.msg);
    }
}

Test(signature_header, other_malformed_forms)
{
    static const struct {
        const char *text, *field;
    } bad[] = {
        {"", ""},
        {"sha256=" SIG_A ",", ""},
        {",sha256=" SIG_A, ""},
        {"T=1,sha256=" SIG_A, ""},
        {"v1=" SIG_A, ""},
        {"sha256", ""},
        {"t=1568818215724", "sha256"},
        {"sha256=" SIG_A "0", "sha256"},
        {"sha256=zz9c9f18381e423059604b64469099165a343deef595013525703e50e84d19f9", "sha256"},
        {"sha256=", "sha256"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_signature_header sh;
        hk_error err = {0};
        cr_assert_eq(sig_parse(bad[i].text, &sh, &err), HK_EINVAL, "'%s'", bad[i].text);
        cr_assert_str_eq(err.field, bad[i].field, "'%s': %s", bad[i].text, err.msg);
    }
}

Test(signature_header, bounded_and_length_delimited)
{
    hk_signature_header sh;
    hk_error err = {0};
    char many[9 * 72 + 1] = "";
    for (int i = 0; i < 9; i++)
        strcat(many, i ? ",sha256=" SIG_A : "sha256=" SIG_A);
    cr_assert_eq(sig_parse(many, &sh, &err), HK_EINVAL, "nine values");
    cr_assert_str_eq(err.field, "sha256");
    /* Only len bytes are read: a NUL inside is a byte like any other, not an end. */
    const char nul[] = "t=12\0003,sha256=" SIG_A;
    cr_assert_eq(hk_signature_header_parse(nul, sizeof nul - 1, &sh, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "t");
    cr_assert_eq(hk_signature_header_parse("t=12,sha256=" SIG_A "trailing", 76, &sh, &err), HK_OK,
                 "%s", err.msg);
    cr_assert_eq(sh.t_ms, 12);
}

/* Found by fuzz_render: template_is_json replaced "\$jobStatus" inside a string by null, making
 * the valid escape "\null", while the renderer (rightly) read "\$" as an escaped '$' and left
 * it: the template was judged JSON and rendered a body that was not JSON. */
Test(render, an_escaped_dollar_in_a_json_string_is_no_reference)
{
    const char *tmpl = "[\"\\$jobStatus $jobId\"]";
    cr_assert_eq(hk_render_form_of(NULL, 0, tmpl), HK_RENDER_JSON_ESCAPE,
                 "\\$ is no JSON escape: a broken JSON template");
    /* An escaped backslash before a reference leaves it a reference. */
    const char *ok = "[\"\\\\$jobId\",$jobId]";
    cr_assert_eq(hk_render_form_of(NULL, 0, ok), HK_RENDER_JSON);
    hk_event *ev = event(EVENT);
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://x.example\"}");
    size_t len = 0;
    char *out = hk_render(ok, ev, t, 1, HK_RENDER_JSON, SIZE_MAX, &len);
    cr_assert_str_eq(out, "[\"\\\\12345\",12345]");
    cJSON *parsed = cJSON_Parse(out);
    cr_assert_not_null(parsed, "%s", out);
    cJSON_Delete(parsed);
    free(out);
    hk_task_destroy(t);
    hk_event_destroy(ev);
}

/* With no output ids, $outputIds as an array element vanishes with one comma beside it: the body
 * stays JSON ("[1,$outputIds]" rendered "[1,]" before; found by fuzz_render). */
Test(render, no_output_ids_leave_no_dangling_comma)
{
    hk_event *ev = event("{\"jobId\":\"x\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}");
    hk_task t = {.id = "wh_a", .name = ""};
    static const struct {
        const char *tmpl, *want;
    } cases[] = {
        {"[1,$outputIds]", "[1]"},
        {"[1, $outputIds ]", "[1 ]"},
        {"[$outputIds,1]", "[1]"},
        {"[$outputIds]", "[]"},
        {"[$outputIds, $outputIds]", "[ ]"},
        {"[$jobId,$outputIds]", "[\"x\"]"},
        {"{\"a\":[2,$outputIds,3],\"b\":$outputIds}", "{\"a\":[2,3],\"b\":[]}"},
        {"[\"$outputIds\",1]", "[\"\",1]"},
        {"[$outputIds\x0f, 1]", "[ 1]"}, /* cJSON skips control bytes between tokens */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(hk_render_form_of(NULL, 0, cases[i].tmpl), HK_RENDER_JSON, "%s",
                     cases[i].tmpl);
        size_t len = 0;
        char *out = hk_render(cases[i].tmpl, ev, &t, 1, HK_RENDER_JSON, SIZE_MAX, &len);
        cr_assert_str_eq(out, cases[i].want, "%s", cases[i].tmpl);
        cr_assert_eq(len, strlen(out));
        cJSON *parsed = cJSON_Parse(out);
        cr_assert_not_null(parsed, "%s", out);
        cJSON_Delete(parsed);
        free(out);
    }
    hk_event_destroy(ev);
}

/* ------------------------------------------------------------ sign -> verify (issue 13) --- */

/* A request built and signed as the worker does, checked by hk_verify() as a receiver
 * (hookctl verify, hookctl listen) does, under each secret of the task. */
static hk_request *signed_request(const char *task_json, uint64_t now_ms)
{
    hk_event *ev = event(EVENT);
    hk_task *t = task(task_json);
    hk_request_params p = {.task = t,
                           .event = ev,
                           .delivery_id = "msg_roundtrip",
                           .attempt = 1,
                           .now_ms = now_ms,
                           .default_timeout_ms = 30000};
    hk_request *req = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_request_build(&p, &req, &err), HK_OK, "%s", err.msg);
    hk_task_destroy(t);
    hk_event_destroy(ev);
    return req;
}

static int verify_request(const hk_request *req, const char *secret, hk_sig_scheme scheme,
                          const char *sig_header, const char *body, size_t body_len,
                          long tolerance_s, char detail[256])
{
    hk_verify_input in = {
        .secret = secret,
        .method = hk_method_name(req->method),
        .url = req->url,
        .body = body,
        .body_len = body_len,
        .signature = hk_request_header(req, sig_header ? sig_header : "X-Webhook-Signature"),
        .wh_id = hk_request_header(req, "webhook-id"),
        .wh_timestamp = hk_request_header(req, "webhook-timestamp"),
        .wh_signature = hk_request_header(req, "webhook-signature"),
        .tolerance_s = tolerance_s,
        .scheme = scheme,
        .signature_name = sig_header,
    };
    return hk_verify(&in, detail, 256);
}

Test(verify, every_scheme_round_trips_under_every_secret)
{
    static const struct {
        const char *scheme_json; /* the task's signature fields */
        hk_sig_scheme scheme;
        const char *header; /* the signature header; NULL: X-Webhook-Signature */
        const char *secrets[3];
        const char *valid; /* the start of the detail when it verifies */
    } schemes[] = {
        {"\"secrets\":[\"mySecret\",\"older\",\"oldest\"]",
         HK_SIG_TIMESTAMPED,
         NULL,
         {"mySecret", "older", "oldest"},
         "valid timestamped signature (t="},
        {"\"secrets\":[\"new\",\"old\"],\"signature\":\"body\"",
         HK_SIG_BODY,
         NULL,
         {"new", "old", NULL},
         "valid body signature"},
        {"\"secrets\":[\"new\",\"old\"],\"signature\":\"body\","
         "\"signatureHeader\":\"x-y42-signature\"",
         HK_SIG_BODY,
         "x-y42-signature",
         {"new", "old", NULL},
         "valid body signature"},
        {"\"secrets\":[\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
         "\"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"],\"signature\":\"standard\"",
         HK_SIG_STANDARD,
         NULL,
         {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL},
         "valid standard signature (webhook-id msg_roundtrip"},
    };
    const char *methods[] = {"POST", "PUT", "PATCH", "GET", "DELETE"};
    for (size_t s = 0; s < sizeof schemes / sizeof schemes[0]; s++) {
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            char json[512];
            snprintf(json, sizeof json,
                     "{\"flowId\":\"7\",\"url\":\"https://x.example/h?job=$jobId\",\"method\":"
                     "\"%s\",\"body\":\"{\\\"job\\\":\\\"$jobId\\\"}\",%s}",
                     methods[m], schemes[s].scheme_json);
            hk_request *req = signed_request(json, hk_wall_ms());
            /* GET and DELETE send no body: the timestamped scheme signs the URL, the others
             * an empty body. */
            const char *body = req->body ? req->body : "";
            for (size_t k = 0; k < 3 && schemes[s].secrets[k]; k++) {
                /* as `hookctl verify --scheme ...` and as `hookctl listen` (by the form) */
                hk_sig_scheme asked[] = {schemes[s].scheme, HK_SIG_NONE};
                for (size_t a = 0; a < 2; a++) {
                    char detail[256];
                    int rc = verify_request(req, schemes[s].secrets[k], asked[a], schemes[s].header,
                                            body, req->body ? req->body_len : 0, 300, detail);
                    cr_assert_eq(rc, HK_OK, "%s %s secret %zu: %s", methods[m],
                                 schemes[s].scheme_json, k, detail);
                    cr_assert_eq(strncmp(detail, schemes[s].valid, strlen(schemes[s].valid)), 0,
                                 "%s", detail);
                }
            }
            char detail[256];
            cr_assert_eq(verify_request(req,
                                        schemes[s].scheme == HK_SIG_STANDARD
                                            ? "whsec_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
                                            : "notTheSecret",
                                        schemes[s].scheme, schemes[s].header, body,
                                        req->body ? req->body_len : 0, 300, detail),
                         HK_ERR, "another secret: %s", detail);
            cr_assert(strstr(detail, "does not match"), "%s", detail);
            hk_request_destroy(req);
        }
    }
}

Test(verify, a_tampered_body_or_url_is_refused)
{
    /* the body schemes (POST) and the URL of a timestamped GET */
    static const struct {
        const char *task_json;
        hk_sig_scheme scheme;
        const char *secret;
    } cases[] = {
        {"{\"flowId\":\"7\",\"url\":\"https://x.example/h\",\"body\":\"job $jobId\","
         "\"secret\":\"mySecret\"}",
         HK_SIG_TIMESTAMPED, "mySecret"},
        {"{\"flowId\":\"7\",\"url\":\"https://x.example/h\",\"body\":\"job $jobId\","
         "\"secret\":\"mySecret\",\"signature\":\"body\"}",
         HK_SIG_BODY, "mySecret"},
        {"{\"flowId\":\"7\",\"url\":\"https://x.example/h\",\"body\":\"job $jobId\","
         "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"signature\":\"standard\"}",
         HK_SIG_STANDARD, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_request *req = signed_request(cases[i].task_json, hk_wall_ms());
        char detail[256];
        cr_assert_eq(verify_request(req, cases[i].secret, cases[i].scheme, NULL, req->body,
                                    req->body_len, 300, detail),
                     HK_OK, "%s", detail);
        char *tampered = hk_strdup(req->body);
        tampered[req->body_len - 1] ^= 1; /* "job 12345" -> "job 12344" */
        cr_assert_eq(verify_request(req, cases[i].secret, cases[i].scheme, NULL, tampered,
                                    req->body_len, 300, detail),
                     HK_ERR, "%s", detail);
        cr_assert(strstr(detail, "does not match"), "%s", detail);
        cr_assert_eq(verify_request(req, cases[i].secret, cases[i].scheme, NULL, req->body,
                                    req->body_len - 1, 300, detail),
                     HK_ERR, "a truncated body: %s", detail);
        free(tampered);
        hk_request_destroy(req);
    }

    hk_request *req = signed_request("{\"flowId\":\"7\",\"url\":\"https://x.example/h?job=$jobId\","
                                     "\"method\":\"GET\",\"secret\":\"mySecret\"}",
                                     hk_wall_ms());
    char detail[256];
    cr_assert_eq(verify_request(req, "mySecret", HK_SIG_TIMESTAMPED, NULL, NULL, 0, 300, detail),
                 HK_OK, "%s", detail);
    char *url = req->url;
    req->url = (char *)"https://x.example/h?job=12346";
    cr_assert_eq(verify_request(req, "mySecret", HK_SIG_TIMESTAMPED, NULL, NULL, 0, 300, detail),
                 HK_ERR, "%s", detail);
    req->url = url;
    hk_request_destroy(req);
}

Test(verify, a_stale_timestamp_is_refused_unless_the_tolerance_is_off)
{
    uint64_t stale = hk_wall_ms() - 310 * 1000; /* past the default 300 s */
    static const struct {
        const char *task_json;
        hk_sig_scheme scheme;
        const char *secret, *refused;
    } cases[] = {
        {"{\"flowId\":\"7\",\"url\":\"https://x.example/h\",\"body\":\"b\","
         "\"secret\":\"mySecret\"}",
         HK_SIG_TIMESTAMPED, "mySecret", "timestamped signature matches but t="},
        {"{\"flowId\":\"7\",\"url\":\"https://x.example/h\",\"body\":\"b\","
         "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"signature\":\"standard\"}",
         HK_SIG_STANDARD, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
         "standard signature matches but is "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hk_request *req = signed_request(cases[i].task_json, stale);
        char detail[256];
        cr_assert_eq(verify_request(req, cases[i].secret, cases[i].scheme, NULL, req->body,
                                    req->body_len, 300, detail),
                     HK_ERR, "%s", detail);
        cr_assert_eq(strncmp(detail, cases[i].refused, strlen(cases[i].refused)), 0, "%s", detail);
        /* and from the future likewise */
        hk_request_destroy(req);
        req = signed_request(cases[i].task_json, hk_wall_ms() + 310 * 1000);
        cr_assert_eq(verify_request(req, cases[i].secret, cases[i].scheme, NULL, req->body,
                                    req->body_len, 300, detail),
                     HK_ERR, "%s", detail);
        hk_request_destroy(req);
        /* tolerance 0 checks no age; a wider one accepts it */
        req = signed_request(cases[i].task_json, stale);
        cr_assert_eq(verify_request(req, cases[i].secret, cases[i].scheme, NULL, req->body,
                                    req->body_len, 0, detail),
                     HK_OK, "%s", detail);
        cr_assert_eq(verify_request(req, cases[i].secret, cases[i].scheme, NULL, req->body,
                                    req->body_len, 3600, detail),
                     HK_OK, "%s", detail);
        hk_request_destroy(req);
    }
}

Test(request, a_body_less_post_sends_the_default_payload_signed)
{
    hk_event *ev = event("{\"eventId\":\"ev-1\",\"jobId\":12345,\"jobStatus\":\"Failed\","
                         "\"flowId\":\"7\",\"flowName\":\"Sales \\\"Q4\\\"\","
                         "\"outputIds\":[\"3\",4],\"finishedAt\":\"2026-11-22T10:00:00Z\"}");
    const char *methods[] = {"POST", "PUT", "PATCH"};
    for (int i = 0; i < 3; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"id\":\"wh_d\",\"flowId\":\"7\",\"url\":\"https://x.example/h\",\"method\":"
                 "\"%s\",\"secret\":\"mySecret\",\"trigger\":{\"event\":\"any\"}}",
                 methods[i]);
        hk_task *t = task(json);
        hk_request *req = build(t, ev);
        cr_assert_str_eq(req->body,
                         "{\"type\":\"job.completed\",\"jobId\":\"12345\",\"jobStatus\":\"Failed\","
                         "\"outcome\":\"failure\",\"flowId\":\"7\",\"flowName\":\"Sales "
                         "\\\"Q4\\\"\",\"spaceId\":null,\"jobType\":null,\"outputIds\":"
                         "[\"3\",\"4\"],\"finishedAt\":\"2026-11-22T10:00:00Z\",\"eventId\":"
                         "\"ev-1\",\"webhookId\":\"wh_d\",\"webhookName\":null,\"deliveryId\":"
                         "\"msg_fixed\",\"attempt\":2}");
        cr_assert_eq(req->body_len, strlen(req->body));
        cr_assert_str_eq(hk_request_header(req, "Content-Type"), "application/json");
        char hex[65], expect[128];
        hk_sign_timestamped("mySecret", 1568818215724ull, req->body, req->body_len, hex);
        snprintf(expect, sizeof expect, "t=1568818215724,sha256=%s", hex);
        cr_assert_str_eq(hk_request_header(req, "X-Webhook-Signature"), expect);
        hk_request_destroy(req);
        hk_task_destroy(t);
    }
    /* an event of a space: the space's task gets the event's spaceId */
    hk_event *in_space = event("{\"eventId\":\"ev-2\",\"jobId\":\"1\",\"jobStatus\":\"Failed\","
                               "\"flowId\":\"7\",\"spaceId\":\"sales\"}");
    hk_task *st = task("{\"id\":\"wh_s\",\"spaceId\":\"sales\",\"url\":\"https://x.example/h\"}");
    hk_request *sreq = build(st, in_space);
    cr_assert(strstr(sreq->body, "\"flowId\":\"7\",\"flowName\":null,\"spaceId\":\"sales\","), "%s",
              sreq->body);
    hk_request_destroy(sreq);
    hk_task_destroy(st);
    hk_event_destroy(in_space);
    /* a GET still sends no body */
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://x.example\",\"method\":\"GET\"}");
    hk_request *req = build(t, ev);
    cr_assert_null(req->body);
    cr_assert_str_eq(req->url, "https://x.example/", "the URL as the request line has it");
    hk_request_destroy(req);
    hk_task_destroy(t);
    hk_event_destroy(ev);
}

Test(request, a_rotation_signs_with_both_until_its_grace_ends)
{
    hk_event *ev = event(EVENT);
    /* build() signs at 1568818215724 (2019-09-18T14:50:15.724Z) */
    static const char *const tasks[] = {
        "{\"flowId\":\"7\",\"url\":\"https://x.example/h\",\"body\":\"b\",\"secrets\":[\"new\","
        "\"old\"],\"previousSecretsUntil\":\"2019-09-18T14:50:16Z\"}",
        "{\"flowId\":\"7\",\"url\":\"https://x.example/h\",\"body\":\"b\",\"secrets\":[\"new\","
        "\"old\"],\"previousSecretsUntil\":\"2019-09-18T14:50:15.724Z\"}",
        "{\"flowId\":\"7\",\"url\":\"https://x.example/h\",\"body\":\"b\",\"secrets\":[\"new\","
        "\"old\"]}",
    };
    static const size_t signing[] = {2, 1, 2}; /* in the grace; at its end; no end */
    for (size_t i = 0; i < 3; i++) {
        hk_task *t = task(tasks[i]);
        hk_request *req = build(t, ev);
        char want[256], hex[65];
        hk_buf w = {0};
        hk_buf_puts(&w, "t=1568818215724");
        static const char *const secrets[] = {"new", "old"};
        for (size_t k = 0; k < signing[i]; k++) {
            hk_sign_timestamped(secrets[k], 1568818215724ull, "b", 1, hex);
            hk_buf_printf(&w, ",sha256=%s", hex);
        }
        snprintf(want, sizeof want, "%s", w.data);
        cr_assert_str_eq(hk_request_header(req, "X-Webhook-Signature"), want, "task %zu", i);
        hk_buf_free(&w);
        hk_request_destroy(req);
        hk_task_destroy(t);
    }
    hk_event_destroy(ev);
}
