/*
 * delivery: rendering ($references, escaping), the three signature schemes against fixed
 * vectors, the delivery id, and the exact request built for each method.
 */
#include <criterion/criterion.h>
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
                          ev, t, 3, false);
    cr_assert_str_eq(out, "12345|Complete|7|scheduled|job.completed|3,4|2026-11-22T10:00:00Z|"
                          "Notify|3");
    free(out);
    out = hk_render("$flowName", ev, t, 1, false);
    cr_assert_str_eq(out, "Sales \"Q4\"\ncleanup", "no escaping outside JSON");
    free(out);
    hk_task_destroy(t);
    hk_event_destroy(ev);
}

Test(render, json_escaping)
{
    hk_event *ev = event(EVENT);
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://x.example\"}");
    char *out = hk_render("{\"flow\":\"$flowName\",\"job\":$jobId}", ev, t, 1, true);
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
    char *out = hk_render("$jobIdx $unknown $$ $ $5 cost $jobId$ end$", ev, t, 1, true);
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
        cr_assert_eq(hk_sign_standard_secret_valid(bad[i], NULL), HK_EINVAL);
    }
    /* 65 bytes is over the limit, 64 is fine */
    unsigned char raw[65] = {0};
    char b64[128] = "whsec_";
    EVP_EncodeBlock((unsigned char *)b64 + 6, raw, 65);
    cr_assert_eq(hk_sign_standard_secret_valid(b64, NULL), HK_EINVAL);
    EVP_EncodeBlock((unsigned char *)b64 + 6, raw, 64);
    cr_assert_eq(hk_sign_standard_secret_valid(b64, NULL), HK_OK);
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
                         "\"https://y.example/new\",\"headers\":{\"X-New\":\"2\"},\"body\":"
                         "\"job $jobId\"},{\"webhookId\":\"wh_other\",\"body\":\"no\"}]}");
    hk_request *req = build(t, ev);
    cr_assert_str_eq(req->url, "https://y.example/new");
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
    cr_assert_eq(sig_parse(" sha256=AE9C9F18381E423059604B64469099165A343DEEF595013525703E50E84D19F9"
                           " ,\tt=0 ", &sh, &err), HK_OK, "%s", err.msg);
    cr_assert(sh.has_t);
    cr_assert_eq(sh.t_ms, 0);
    cr_assert_str_eq(sh.sigs[0], SIG_A);
    cr_assert_eq(sig_parse("t=253402300799999,sha256=" SIG_A, &sh, &err), HK_OK, "the last ms of 9999");
}

/* A malformed t= is never "no timestamp": that was the downgrade to the body scheme. */
Test(signature_header, a_t_that_is_not_digits_is_refused_naming_t)
{
    static const char *bad[] = {
        "t=-1,sha256=" SIG_A,  "t=abc,sha256=" SIG_A, "t=,sha256=" SIG_A,
        "t=+5,sha256=" SIG_A,  "t=1.5,sha256=" SIG_A, "t= 5,sha256=" SIG_A,
        "t=0x10,sha256=" SIG_A, "t=1568818215724abc,sha256=" SIG_A,
        "t=253402300800000,sha256=" SIG_A, "t=99999999999999999999999,sha256=" SIG_A,
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
