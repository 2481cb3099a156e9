/* inbound/: the request view and the record on hookd.inbound, with no Kafka, Redis or socket.
 * The endpoint (test_inbound_endpoint.c), verification (test_inbound_verify.c) and payloads
 * (test_inbound_payload.c) have suites of their own. */
#include <criterion/criterion.h>
#include <string.h>
#include <strings.h>

#include "hk_inbound.h"

Test(request, headers_by_name_and_query_parameters)
{
    hk_kv headers[] = {{.key = "Content-Type", .value = "application/json"},
                       {.key = "X-Hub-Signature-256", .value = "sha256=ab"}};
    hk_inbound_request req = {.method = "GET",
                              .path = "/in/in_1",
                              .query = "hub.mode=subscribe&hub.challenge=a%2Bb+c&flag&x=%zz",
                              .headers = headers,
                              .headers_len = 2};
    cr_assert_str_eq(hk_inbound_header(&req, "x-hub-signature-256"), "sha256=ab");
    cr_assert_null(hk_inbound_header(&req, "X-Missing"));
    char v[64];
    cr_assert(hk_inbound_query_param(&req, "hub.challenge", v, sizeof v));
    cr_assert_str_eq(v, "a+b c");
    cr_assert(hk_inbound_query_param(&req, "flag", v, sizeof v));
    cr_assert_str_eq(v, "");
    cr_assert(hk_inbound_query_param(&req, "x", v, sizeof v));
    cr_assert_str_eq(v, "%zz", "a bad escape is kept as written");
    cr_assert_not(hk_inbound_query_param(&req, "hub", v, sizeof v));
    char small[4];
    cr_assert(hk_inbound_query_param(&req, "hub.mode", small, sizeof small));
    cr_assert_str_eq(small, "sub", "cut to the buffer");
}

static int ep_parse(const char *text, hk_inbound_endpoint **ep, hk_error *err)
{
    memset(err, 0, sizeof *err);
    return hk_inbound_endpoint_parse(text, strlen(text), true, ep, err);
}

/* Asserts text is refused with a message starting "<field>: " and holding none of the
 * secrets listed in `secret` (NULL: none). */
static hk_inbound_endpoint *accepted(const char *text)
{
    hk_inbound_endpoint *ep = NULL;
    hk_error err;
    int rc = ep_parse(text, &ep, &err);
    cr_assert_eq(rc, HK_OK, "refused: %s\n  %s", text, err.msg);
    cr_assert_not_null(ep);
    return ep;
}

/* ------------------------------------------------------------------------ the record --- */

static bool strip_signature(const hk_inbound_endpoint *ep, const char *name)
{
    (void)ep;
    return strcasecmp(name, "X-Hub-Signature-256") == 0;
}

static bool strip_token(const hk_inbound_endpoint *ep, const char *name)
{
    (void)ep;
    return strcmp(name, "token") == 0;
}

/* One record per accepted request: every field of docs/inbound.md's schema, credentials left
 * out, header names lower-cased and repeats joined, the body kept as text or base64. */
Test(record, carries_the_request_without_its_credentials)
{
    hk_inbound_endpoint *ep = accepted("{\"name\":\"gh\",\"flowId\":\"7\",\"source\":\"github\","
                                       "\"secret\":\"s3cr3t-value\",\"startFlow\":true}");
    hk_kv headers[] = {{.key = "Content-Type", .value = "application/json"},
                       {.key = "Authorization", .value = "Bearer abc"},
                       {.key = "Cookie", .value = "c=1"},
                       {.key = "X-Hub-Signature-256", .value = "sha256=00"},
                       {.key = "X-GitHub-Delivery", .value = "d-1"},
                       {.key = "Accept", .value = "a"},
                       {.key = "accept", .value = "b"}};
    const char *body = "{\"ref\":\"main\"}";
    hk_inbound_request req = {.method = "POST",
                              .path = "/in/x",
                              .headers = headers,
                              .headers_len = 7,
                              .body = body,
                              .body_len = strlen(body),
                              .now_ms = 1764460800000ULL};
    cJSON *payload = cJSON_Parse(body);
    const char *waits[] = {"run-1/w"};
    char id[32];
    hk_inbound_record_id(id);
    cr_assert_eq(strncmp(id, "req_", 4), 0);
    cr_assert_eq(strlen(id), 28);
    cJSON *query = cJSON_Parse("{\"page\":\"2\",\"token\":\"k3y\"}");
    hk_inbound_record_params p = {.ep = ep,
                                  .query = query,
                                  .is_credential_param = strip_token,
                                  .req = &req,
                                  .id = id,
                                  .content_type = "application/json",
                                  .payload = payload,
                                  .provider_event_id = "d-1",
                                  .is_credential = strip_signature,
                                  .matched_waits = waits,
                                  .matched_waits_len = 1};
    hk_buf b = {0};
    hk_inbound_record_write(&p, &b);
    cJSON *rec = cJSON_ParseWithLength(b.data, b.len);
    cr_assert(rec, "%s", b.data);
    static const char *const required[] = {
        "id",      "endpointId", "flowId",          "source",    "receivedAt",
        "method",  "path",       "query",           "headers",   "contentType",
        "payload", "body",       "providerEventId", "startFlow", "matchedWaits"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        cr_assert(cJSON_GetObjectItemCaseSensitive(rec, required[i]), "%s", required[i]);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "endpointId")->valuestring, ep->id);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "source")->valuestring, "github");
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "receivedAt")->valuestring,
                     "2025-11-30T00:00:00.000Z");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(rec, "startFlow")));
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "payload"), "ref")->valuestring,
                     "main");
    const cJSON *h = cJSON_GetObjectItem(rec, "headers");
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(h, "authorization"));
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(h, "cookie"));
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(h, "x-hub-signature-256"));
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(h, "x-github-delivery")->valuestring, "d-1");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(h, "accept")->valuestring, "a, b");
    cr_assert_null(strstr(b.data, "Bearer abc"));
    const cJSON *q = cJSON_GetObjectItem(rec, "query");
    cr_assert_str_eq(cJSON_GetObjectItem(q, "page")->valuestring, "2");
    cr_assert_null(cJSON_GetObjectItem(q, "token"), "a credential in the query is left out");
    cr_assert_null(strstr(b.data, "s3cr3t"));
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "matchedWaits"), 0)->valuestring,
                     "run-1/w");
    cJSON_Delete(rec);

    /* a JSON body's payload is its own text: a number past a double's precision keeps its
     * digits, where printing the parsed form again would round it */
    const char *big = "\xEF\xBB\xBF{\"n\": 12345678901234567890123, \"f\": 0.1}";
    req.body = big;
    req.body_len = strlen(big);
    cJSON *big_payload = cJSON_Parse(big + 3);
    p.payload = big_payload;
    b.len = 0;
    hk_inbound_record_write(&p, &b);
    cr_assert(strstr(b.data, "\"payload\":{\"n\": 12345678901234567890123, \"f\": 0.1}"), "%s",
              b.data);
    rec = cJSON_ParseWithLength(b.data, b.len);
    cr_assert(rec, "%s", b.data);
    cJSON_Delete(rec);
    cJSON_Delete(big_payload);
    /* the same with no tree at all, as hookd-ingress writes it (payload_is_body) */
    p.payload = NULL;
    p.payload_is_body = true;
    b.len = 0;
    hk_inbound_record_write(&p, &b);
    cr_assert(strstr(b.data, "\"payload\":{\"n\": 12345678901234567890123, \"f\": 0.1}"), "%s",
              b.data);
    rec = cJSON_ParseWithLength(b.data, b.len);
    cr_assert(rec, "%s", b.data);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "body")->valuestring, big);
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(rec, "headers"), "accept")
                         ->valuestring,
                     "a, b");
    cJSON_Delete(rec);
    p.payload_is_body = false;

    /* a body that is not UTF-8 goes as base64, and no payload is null */
    const char bin[] = {'\x01', '\xfe', '\x00'};
    req.body = bin;
    req.body_len = sizeof bin;
    p.payload = NULL;
    p.provider_event_id = NULL;
    b.len = 0;
    hk_inbound_record_write(&p, &b);
    rec = cJSON_ParseWithLength(b.data, b.len);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "bodyBase64")->valuestring, "Af4A");
    cr_assert_null(cJSON_GetObjectItem(rec, "body"));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(rec, "payload")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(rec, "providerEventId")));
    cJSON_Delete(rec);
    hk_buf_free(&b);
    cJSON_Delete(payload);
    cJSON_Delete(query);
    hk_inbound_endpoint_destroy(ep);
}
