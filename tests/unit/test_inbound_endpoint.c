/* inbound/: the endpoint's JSON form (endpoint*.c): every field's rule naming the field, the
 * source-specific credentials, secrets masked, updates (patch and replace, masked secrets kept).
 * Over 700 lines on purpose: one test per rule of the endpoint's contract, each naming its field,
 * sharing the parse and print helpers at the top. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hk_inbound.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" /* 24 bytes, the spec's example */

/* Parses text (a C string) as a new endpoint; on a refusal *msg gets the error line. */
static int ep_parse(const char *text, hk_inbound_endpoint **ep, hk_error *err)
{
    memset(err, 0, sizeof *err);
    return hk_inbound_endpoint_parse(text, strlen(text), true, ep, err);
}

/* Asserts text is refused with a message starting "<field>: " and holding none of the
 * secrets listed in `secret` (NULL: none). */
static void refused(const char *text, const char *field, const char *secret)
{
    hk_inbound_endpoint *ep = (hk_inbound_endpoint *)0x1;
    hk_error err;
    int rc = ep_parse(text, &ep, &err);
    cr_assert_eq(rc, HK_EINVAL, "accepted: %s", text);
    cr_assert_null(ep);
    char want[96];
    snprintf(want, sizeof want, "%s: ", field);
    cr_assert(strncmp(err.msg, want, strlen(want)) == 0, "%s\n  wanted field %s, got: %s", text,
              field, err.msg);
    cr_assert_str_eq(err.field, field);
    if (secret)
        cr_assert_null(strstr(err.msg, secret), "the error quotes the secret: %s", err.msg);
}

static hk_inbound_endpoint *accepted(const char *text)
{
    hk_inbound_endpoint *ep = NULL;
    hk_error err;
    int rc = ep_parse(text, &ep, &err);
    cr_assert_eq(rc, HK_OK, "refused: %s\n  %s", text, err.msg);
    cr_assert_not_null(ep);
    return ep;
}

static char *print(const hk_inbound_endpoint *ep, bool with_secrets)
{
    cJSON *j = hk_inbound_endpoint_to_json(ep, with_secrets);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

Test(endpoints, source_names_both_ways_and_challenges)
{
    const char *names[] = {"github",   "slack",    "stripe",   "twilio", "pagerduty", "zendesk",
                           "twitter",  "facebook", "sendgrid", "standard", "hookd",   "custom"};
    cr_assert_eq(sizeof names / sizeof names[0], HK_SOURCE__COUNT);
    for (int i = 0; i < HK_SOURCE__COUNT; i++) {
        cr_assert_str_eq(hk_inbound_source_name((hk_inbound_source)i), names[i]);
        hk_inbound_source s = HK_SOURCE__COUNT;
        cr_assert(hk_inbound_source_from_name(names[i], &s));
        cr_assert_eq(s, (hk_inbound_source)i);
        bool challenge = i == HK_SOURCE_SLACK || i == HK_SOURCE_FACEBOOK || i == HK_SOURCE_TWITTER;
        cr_assert_eq(hk_inbound_source_is_challenge((hk_inbound_source)i), challenge, "%s",
                     names[i]);
    }
    hk_inbound_source s;
    cr_assert(hk_inbound_source_from_name("GitHub", &s), "names ignore case, as a task's enums");
    cr_assert_eq(s, HK_SOURCE_GITHUB);
    cr_assert_not(hk_inbound_source_from_name("gitlab", &s));
    cr_assert_not(hk_inbound_source_from_name("", &s));
}

Test(endpoints, defaults_and_a_generated_id)
{
    hk_inbound_endpoint *ep =
        accepted("{\"name\":\"GitHub pushes\",\"flowId\":7,\"source\":\"github\",\"secret\":\"s3\"}");
    cr_assert_eq(strlen(ep->id), 27);
    cr_assert(strncmp(ep->id, "in_", 3) == 0);
    for (const char *p = ep->id + 3; *p; p++)
        cr_assert(strchr("0123456789abcdef", *p), "lowercase hex: %s", ep->id);
    cr_assert_eq(hk_inbound_validate_id(ep->id, "id", NULL), HK_OK);
    cr_assert_str_eq(ep->flow_id, "7", "a number is kept as its text");
    cr_assert(ep->enabled);
    cr_assert_not(ep->start_flow);
    cr_assert_eq(ep->source, HK_SOURCE_GITHUB);
    cr_assert_eq(ep->secrets_len, 1);
    cr_assert_eq(ep->response.status, 200);
    cr_assert_str_eq(ep->response.content_type, "application/json");
    cr_assert_str_eq(ep->response.body, "{\"ok\":true}");
    cr_assert_not(ep->verified, "a new endpoint is unverified");
    cr_assert_eq(ep->state_changed_ms, 0);
    cr_assert_null(ep->verify_token);
    cr_assert_null(ep->public_key);
    cr_assert_null(ep->public_url);
    char *s = print(ep, false);
    cr_assert(strstr(s, "\"verified\":false,\"stateChangedAt\":null"), "%s", s);
    cr_assert(strstr(s, "\"response\":{\"status\":200,\"contentType\":\"application/json\","
                        "\"body\":\"{\\\"ok\\\":true}\"}"),
              "%s", s);
    free(s);

    hk_inbound_endpoint *other =
        accepted("{\"name\":\"b\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s3\"}");
    cr_assert_str_neq(ep->id, other->id, "random ids");
    hk_inbound_endpoint_destroy(other);
    hk_inbound_endpoint_destroy(ep);

    /* 204 has no body, so none by default. */
    ep = accepted("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\","
                  "\"response\":{\"status\":204}}");
    cr_assert_str_eq(ep->response.body, "");
    hk_inbound_endpoint_destroy(ep);
    /* A JSON body may be written as JSON; it is kept as its text. */
    ep = accepted("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\","
                  "\"response\":{\"status\":202,\"contentType\":\"text/plain\",\"body\":"
                  "{\"a\": [1, 2]}}}");
    cr_assert_eq(ep->response.status, 202);
    cr_assert_str_eq(ep->response.content_type, "text/plain");
    cr_assert_str_eq(ep->response.body, "{\"a\":[1,2]}");
    hk_inbound_endpoint_destroy(ep);
    /* hmac defaults. */
    ep = accepted("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"custom\",\"secret\":\"k\","
                  "\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\"}}");
    cr_assert_eq(ep->verification.type, HK_CUSTOM_HMAC);
    cr_assert_eq(ep->verification.algorithm, HK_HMAC_SHA256);
    cr_assert_eq(ep->verification.encoding, HK_ENCODING_HEX);
    cr_assert_null(ep->verification.prefix);
    cr_assert_null(ep->verification.timestamp_header);
    hk_inbound_endpoint_destroy(ep);
    ep = accepted("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"custom\",\"secret\":\"k\","
                  "\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"timestampHeader\":"
                  "\"X-Ts\"}}");
    cr_assert_eq(ep->verification.tolerance_s, 300);
    hk_inbound_endpoint_destroy(ep);
    ep = accepted("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"custom\",\"verification\":"
                  "{\"type\":\"apiKey\",\"name\":\"X-Api-Key\",\"value\":\"v\"}}");
    cr_assert_not(ep->verification.in_query, "apiKey defaults to a header");
    hk_inbound_endpoint_destroy(ep);
}

Test(endpoints, ids)
{
    hk_inbound_endpoint *ep = accepted(
        "{\"id\":\"in_My-endpoint_1\",\"name\":\"n\",\"flowId\":\"7\",\"source\":\"hookd\","
        "\"secret\":\"s\"}");
    cr_assert_str_eq(ep->id, "in_My-endpoint_1");
    hk_inbound_endpoint_destroy(ep);
    refused("{\"id\":\"wh_abc\",\"name\":\"n\",\"flowId\":\"7\",\"source\":\"hookd\",\"secret\":"
            "\"s\"}",
            "id", NULL);
    refused("{\"id\":\"in_a/b\",\"name\":\"n\",\"flowId\":\"7\",\"source\":\"hookd\",\"secret\":"
            "\"s\"}",
            "id", NULL);
    refused("{\"id\":\"in_\",\"name\":\"n\",\"flowId\":\"7\",\"source\":\"hookd\",\"secret\":\"s\"}",
            "id", NULL);
    cr_assert_eq(hk_inbound_validate_id("in_abc", "id", NULL), HK_OK);
    cr_assert_eq(hk_inbound_validate_id("in_x%2e", "path", NULL), HK_EINVAL);
    cr_assert_eq(hk_inbound_validate_id(
                     "in_0123456789012345678901234567890123456789012345678901234567890123", "id",
                     NULL),
                 HK_OK, "64 after in_");
    cr_assert_eq(hk_inbound_validate_id(
                     "in_01234567890123456789012345678901234567890123456789012345678901234", "id",
                     NULL),
                 HK_EINVAL, "65 after in_");
    /* Without generate_id an id is required (the store's own records). */
    cJSON *j = cJSON_Parse("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"hookd\",\"secret\":\"s\"}");
    hk_error err;
    cr_assert_eq(hk_inbound_endpoint_from_json(j, false, &ep, &err), HK_EINVAL);
    cr_assert_str_eq(err.msg, "id: required");
    cJSON_Delete(j);
}

/* Every field's refusal names it. */
Test(endpoints, each_refusal_names_its_field)
{
#define GH "\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\""
#define CU "\"name\":\"n\",\"flowId\":\"7\",\"source\":\"custom\""
    refused("[]", "endpoint", NULL);
    refused("{" GH ",\"colour\":\"red\"}", "colour", NULL);
    refused("{" GH ",\"name\":\"again\"}", "name", NULL);
    refused("{\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\"}", "name", NULL);
    refused("{\"name\":\"\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\"}", "name", NULL);
    refused("{\"name\":5,\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\"}", "name", NULL);
    refused("{\"name\":\"a\\nb\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\"}", "name",
            NULL);
    refused("{\"name\":\"\xff\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\"}", "name",
            NULL);
    char longname[400];
    snprintf(longname, sizeof longname,
             "{\"name\":\"%0201d\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\"}", 0);
    refused(longname, "name", NULL);
    refused("{\"name\":\"n\",\"source\":\"github\",\"secret\":\"s\"}", "flowId", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"a b\",\"source\":\"github\",\"secret\":\"s\"}", "flowId",
            NULL);
    refused("{\"name\":\"n\",\"flowId\":true,\"source\":\"github\",\"secret\":\"s\"}", "flowId",
            NULL);
    refused("{" GH ",\"enabled\":\"yes\"}", "enabled", NULL);
    refused("{" GH ",\"startFlow\":1}", "startFlow", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"secret\":\"s\"}", "source", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"gitlab\",\"secret\":\"s\"}", "source",
            NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"\"}", "secret",
            NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":[\"a\"]}", "secret",
            NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secrets\":[]}", "secrets",
            NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secrets\":[\"1\",\"2\",\"3\","
            "\"4\",\"5\",\"6\"]}",
            "secrets", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secrets\":[\"a\",\"\"]}",
            "secrets[1]", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secrets\":[\"a\",3]}",
            "secrets[1]", NULL);
    refused("{" GH ",\"secrets\":[\"b\"]}", "secrets", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"****abcd\"}",
            "secret", NULL);
    refused("{" GH ",\"publicUrl\":\"ftp://example.com/x\"}", "publicUrl", NULL);
    refused("{" GH ",\"publicUrl\":\"\"}", "publicUrl", NULL);
    refused("{" GH ",\"response\":[]}", "response", NULL);
    refused("{" GH ",\"response\":{\"code\":200}}", "response.code", NULL);
    refused("{" GH ",\"response\":{\"status\":404}}", "response.status", NULL);
    refused("{" GH ",\"response\":{\"status\":200.5}}", "response.status", NULL);
    refused("{" GH ",\"response\":{\"contentType\":\"\"}}", "response.contentType", NULL);
    refused("{" GH ",\"response\":{\"contentType\":\"text/plain\\r\\nX-Evil: 1\"}}",
            "response.contentType", NULL);
    refused("{" GH ",\"response\":{\"contentType\":\"json\"}}", "response.contentType", NULL);
    refused("{" GH ",\"response\":{\"body\":5}}", "response.body", NULL);
    refused("{" GH ",\"response\":{\"status\":204,\"body\":\"x\"}}", "response.body", NULL);
}

Test(endpoints, each_verification_refusal_names_its_field)
{
    refused("{" CU ",\"verification\":\"none\"}", "verification", NULL);
    refused("{" CU ",\"verification\":{}}", "verification.type", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"oauth\"}}", "verification.type", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"none\",\"username\":\"u\"}}",
            "verification.username", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"basic\",\"password\":\"pw-secret\"}}",
            "verification.username", "pw-secret");
    refused("{" CU ",\"verification\":{\"type\":\"basic\",\"username\":\"a:b\",\"password\":"
            "\"pw-secret\"}}",
            "verification.username", "pw-secret");
    refused("{" CU ",\"verification\":{\"type\":\"basic\",\"username\":\"u\"}}",
            "verification.password", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"basic\",\"username\":\"u\",\"password\":\"\"}}",
            "verification.password", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"basic\",\"username\":\"u\",\"password\":"
            "\"pw-secret\\n\"}}",
            "verification.password", "pw-secret");
    refused("{" CU ",\"verification\":{\"type\":\"apiKey\",\"value\":\"key-secret\"}}",
            "verification.name", "key-secret");
    refused("{" CU ",\"verification\":{\"type\":\"apiKey\",\"name\":\"X Key\",\"value\":"
            "\"key-secret\"}}",
            "verification.name", "key-secret");
    refused("{" CU ",\"verification\":{\"type\":\"apiKey\",\"in\":\"query\",\"name\":\"a&b\","
            "\"value\":\"key-secret\"}}",
            "verification.name", "key-secret");
    refused("{" CU ",\"verification\":{\"type\":\"apiKey\",\"in\":\"body\",\"name\":\"k\","
            "\"value\":\"key-secret\"}}",
            "verification.in", "key-secret");
    refused("{" CU ",\"verification\":{\"type\":\"apiKey\",\"name\":\"k\"}}", "verification.value",
            NULL);
    refused("{" CU ",\"verification\":{\"type\":\"apiKey\",\"name\":\"k\",\"value\":\"****\"}}",
            "verification.value", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"headers\"}}", "verification.headers", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"headers\",\"headers\":{}}}",
            "verification.headers", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"headers\",\"headers\":[\"X-A\"]}}",
            "verification.headers", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"headers\",\"headers\":{\"X A\":\"hv-secret\"}}}",
            "verification.headers.X A", "hv-secret");
    refused("{" CU ",\"verification\":{\"type\":\"headers\",\"headers\":{\"X-A\":\"\"}}}",
            "verification.headers.X-A", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"headers\",\"headers\":{\"X-A\":\"hv-secret\","
            "\"x-a\":\"hv-secret\"}}}",
            "verification.headers.x-a", "hv-secret");
    refused("{" CU ",\"verification\":{\"type\":\"headers\",\"headers\":{\"X-A\":\"hv\\u0001\"}}}",
            "verification.headers.X-A", NULL);
    char many[2048] = "{" CU ",\"verification\":{\"type\":\"headers\",\"headers\":{";
    for (int i = 0; i < 21; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"X-%d\":\"v\"", i ? "," : "",
                 i);
    strcat(many, "}}}");
    refused(many, "verification.headers", NULL);
#define HM "\"name\":\"n\",\"flowId\":\"7\",\"source\":\"custom\",\"secret\":\"hmac-key\""
    refused("{" HM ",\"verification\":{\"type\":\"hmac\"}}", "verification.header", "hmac-key");
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X Sig\"}}",
            "verification.header", "hmac-key");
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"algorithm\":"
            "\"md5\"}}",
            "verification.algorithm", "hmac-key");
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"encoding\":"
            "\"base32\"}}",
            "verification.encoding", NULL);
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"prefix\":\"\"}}",
            "verification.prefix", NULL);
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"prefix\":"
            "\"a\\r\\n\"}}",
            "verification.prefix", NULL);
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"timestampHeader\":"
            "\"X:Ts\"}}",
            "verification.timestampHeader", NULL);
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"toleranceSeconds\":"
            "60}}",
            "verification.toleranceSeconds", NULL);
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"timestampHeader\":"
            "\"X-Ts\",\"toleranceSeconds\":0}}",
            "verification.toleranceSeconds", NULL);
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"timestampHeader\":"
            "\"X-Ts\",\"toleranceSeconds\":86401}}",
            "verification.toleranceSeconds", NULL);
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"username\":\"u\"}}",
            "verification.username", NULL);
    refused("{" HM ",\"verification\":{\"type\":\"hmac\",\"header\":\"X-Sig\",\"header\":\"X-B\"}}",
            "verification.header", NULL);
}

Test(endpoints, source_specific_requirements)
{
    const char *with_secret[] = {"github",  "slack",   "stripe", "twilio",
                                 "pagerduty", "zendesk", "twitter", "hookd"};
    for (size_t i = 0; i < sizeof with_secret / sizeof with_secret[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"%s\"}",
                 with_secret[i]);
        refused(text, "secret", NULL);
        snprintf(text, sizeof text,
                 "{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"%s\",\"secrets\":[\"a\",\"b\"]}",
                 with_secret[i]);
        hk_inbound_endpoint *ep = accepted(text);
        cr_assert_eq(ep->secrets_len, 2);
        hk_inbound_endpoint_destroy(ep);
        /* Fields of other sources are refused, naming them. */
        snprintf(text, sizeof text,
                 "{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"%s\",\"secret\":\"a\","
                 "\"verifyToken\":\"t\"}",
                 with_secret[i]);
        refused(text, "verifyToken", NULL);
        snprintf(text, sizeof text,
                 "{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"%s\",\"secret\":\"a\","
                 "\"publicKey\":\"AAAA\"}",
                 with_secret[i]);
        refused(text, "publicKey", NULL);
        snprintf(text, sizeof text,
                 "{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"%s\",\"secret\":\"a\","
                 "\"verification\":{\"type\":\"none\"}}",
                 with_secret[i]);
        refused(text, "verification", NULL);
    }
    /* facebook: the app secret and the verify token. */
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"facebook\",\"verifyToken\":\"t\"}",
            "secret", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"facebook\",\"secret\":\"s\"}",
            "verifyToken", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"facebook\",\"secret\":\"s\","
            "\"verifyToken\":\"\"}",
            "verifyToken", NULL);
    hk_inbound_endpoint *ep = accepted("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"facebook\","
                                       "\"secret\":\"s\",\"verifyToken\":\"tok\"}");
    cr_assert_str_eq(ep->verify_token, "tok");
    hk_inbound_endpoint_destroy(ep);
    /* standard: whsec_ secrets. */
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"standard\",\"secret\":\"plain-secret\"}",
            "secret", "plain-secret");
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"standard\",\"secrets\":[\"" WHSEC
            "\",\"whsec_short\"]}",
            "secrets[1]", "whsec_short");
    ep = accepted("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"standard\",\"secret\":\"" WHSEC
                  "\"}");
    hk_inbound_endpoint_destroy(ep);
    /* sendgrid: a public key and no secret; custom: a verification, a secret only for hmac. */
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"sendgrid\"}", "publicKey", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"sendgrid\",\"secret\":\"s\"}", "secret",
            NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"sendgrid\",\"secrets\":[\"s\"]}",
            "secrets", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"custom\"}", "verification", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"custom\",\"secret\":\"s\","
            "\"verification\":{\"type\":\"none\"}}",
            "secret", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"custom\",\"secret\":\"s\","
            "\"verification\":{\"type\":\"basic\",\"username\":\"u\",\"password\":\"p\"}}",
            "secret", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"custom\",\"verification\":{\"type\":"
            "\"hmac\",\"header\":\"X-Sig\"}}",
            "secret", NULL);
    ep = accepted("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"custom\",\"verification\":"
                  "{\"type\":\"none\"}}");
    cr_assert_eq(ep->verification.type, HK_CUSTOM_NONE);
    cr_assert_eq(ep->secrets_len, 0);
    hk_inbound_endpoint_destroy(ep);
    /* publicUrl fits any source. */
    ep = accepted("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"twilio\",\"secret\":\"s\","
                  "\"publicUrl\":\"https://hooks.example.com/in/in_1?x=1\"}");
    cr_assert_str_eq(ep->public_url, "https://hooks.example.com/in/in_1?x=1");
    hk_inbound_endpoint_destroy(ep);
}

/* An EC key as SendGrid shows it (base64 DER SubjectPublicKeyInfo) and as PEM. */
static void make_key(const char *type, char **b64, char **pem)
{
    EVP_PKEY *pkey = strcmp(type, "EC") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                                             : EVP_PKEY_Q_keygen(NULL, NULL, type);
    cr_assert_not_null(pkey);
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pkey, &der);
    *b64 = calloc(1, 4 * ((size_t)n + 2) / 3 + 1);
    EVP_EncodeBlock((unsigned char *)*b64, der, n);
    OPENSSL_free(der);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    *pem = strndup(data, (size_t)len);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
}

Test(endpoints, sendgrid_public_key)
{
    char *b64, *pem;
    make_key("EC", &b64, &pem);
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"sendgrid\",\"publicKey\":\"%s\"}", b64);
    hk_inbound_endpoint *ep = accepted(text);
    cr_assert_str_eq(ep->public_key, b64);
    hk_inbound_endpoint_destroy(ep);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", "n");
    cJSON_AddStringToObject(j, "flowId", "7");
    cJSON_AddStringToObject(j, "source", "sendgrid");
    cJSON_AddStringToObject(j, "publicKey", pem);
    hk_error err;
    cr_assert_eq(hk_inbound_endpoint_from_json(j, true, &ep, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(ep->public_key, b64, "PEM is kept as base64 DER");
    hk_inbound_endpoint_destroy(ep);
    cJSON_Delete(j);
    free(pem);

    /* Not EC, not base64, not a key, trailing bytes. */
    char *ed, *ed_pem;
    make_key("ED25519", &ed, &ed_pem);
    snprintf(text, sizeof text,
             "{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"sendgrid\",\"publicKey\":\"%s\"}", ed);
    refused(text, "publicKey", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"sendgrid\",\"publicKey\":\"not a key\"}",
            "publicKey", NULL);
    refused("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"sendgrid\",\"publicKey\":\"AAAAAAAA\"}",
            "publicKey", NULL);
    char *cut = strdup(b64);
    cut[strlen(cut) - 8] = '\0';
    snprintf(text, sizeof text,
             "{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"sendgrid\",\"publicKey\":\"%s\"}", cut);
    refused(text, "publicKey", NULL);
    free(cut);
    free(ed);
    free(ed_pem);
    free(b64);
}

Test(endpoints, unknown_fields_and_state_refused)
{
    refused("{" GH ",\"secretz\":\"x\"}", "secretz", NULL);
    refused("{" GH ",\"Secret\":\"x\"}", "Secret", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"basic\",\"username\":\"u\",\"password\":\"p\","
            "\"realm\":\"r\"}}",
            "verification.realm", NULL);
    refused("{" CU ",\"verification\":{\"type\":\"basic\",\"username\":\"u\",\"password\":\"p\","
            "\"header\":\"X-A\"}}",
            "verification.header", NULL);
    refused("{" GH ",\"response\":{\"status\":200,\"headers\":{}}}", "response.headers", NULL);
    /* The state is earned, not claimed. */
    refused("{" GH ",\"verified\":true}", "verified", NULL);
    refused("{" GH ",\"verified\":false}", "verified", NULL);
    refused("{" GH ",\"stateChangedAt\":\"2026-11-30T10:00:00Z\"}", "stateChangedAt", NULL);
    hk_inbound_endpoint *ep = (hk_inbound_endpoint *)0x1;
    hk_error err;
    cr_assert_eq(ep_parse("{" GH ",\"verified\":true}", &ep, &err), HK_EINVAL);
    cr_assert(strstr(err.msg, "hookd-ingress"), "%s", err.msg);
}

Test(endpoints, strict_json_text)
{
    refused("{" GH "} x", "endpoint", NULL);
    refused("{" GH, "endpoint", NULL);
    refused("", "endpoint", NULL);
    refused("{\"name\":\"n\\u0000x\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\"}",
            "name", NULL);
    const char raw[] = "{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"github\",\"secret\":\"s\0t\"}";
    hk_inbound_endpoint *ep = (hk_inbound_endpoint *)0x1;
    hk_error err;
    cr_assert_eq(hk_inbound_endpoint_parse(raw, sizeof raw - 1, true, &ep, &err), HK_EINVAL);
    cr_assert_null(ep);
    cr_assert_str_eq(err.field, "secret");
    ep = accepted(" {" GH "}\n");
    hk_inbound_endpoint_destroy(ep);
}

#define FULL_CUSTOM(verification)                                                              \
    "{\"id\":\"in_c1\",\"name\":\"Custom\",\"flowId\":\"9\",\"enabled\":false,"                 \
    "\"startFlow\":true,\"source\":\"custom\"," verification                                    \
    ",\"publicUrl\":\"https://x.example/in/in_c1\",\"response\":{\"status\":201,"              \
    "\"contentType\":\"text/plain\",\"body\":\"thanks\"}}"

static const char *const round_trip_cases[] = {
    "{\"id\":\"in_g1\",\"name\":\"GitHub\",\"flowId\":\"7\",\"source\":\"github\",\"secrets\":"
    "[\"new-secret-0001\",\"old-secret-0002\"]}",
    "{\"id\":\"in_f1\",\"name\":\"Facebook\",\"flowId\":\"7\",\"source\":\"facebook\",\"secret\":"
    "\"app-secret-0003\",\"verifyToken\":\"verify-token-0004\"}",
    "{\"id\":\"in_s1\",\"name\":\"Std\",\"flowId\":\"7\",\"source\":\"standard\",\"secret\":\"" WHSEC
    "\"}",
    FULL_CUSTOM("\"verification\":{\"type\":\"none\"}"),
    FULL_CUSTOM("\"verification\":{\"type\":\"basic\",\"username\":\"bob\",\"password\":"
                "\"password-0005\"}"),
    FULL_CUSTOM("\"verification\":{\"type\":\"apiKey\",\"name\":\"api_key\",\"in\":\"query\","
                "\"value\":\"api-value-0006\"}"),
    FULL_CUSTOM("\"verification\":{\"type\":\"headers\",\"headers\":{\"X-One\":"
                "\"header-value-0007\",\"X-Two\":\"header-value-0008\"}}"),
    FULL_CUSTOM("\"secret\":\"hmac-secret-0009\",\"verification\":{\"type\":\"hmac\",\"header\":"
                "\"X-Sig\",\"algorithm\":\"sha512\",\"encoding\":\"base64\",\"prefix\":"
                "\"v1=\",\"timestampHeader\":\"X-Ts\",\"toleranceSeconds\":60}"),
};
static const char *const all_secrets[] = {
    "new-secret-0001",   "old-secret-0002",   "app-secret-0003",   "verify-token-0004",
    WHSEC,               "password-0005",     "api-value-0006",    "header-value-0007",
    "header-value-0008", "hmac-secret-0009",
};

Test(endpoints, round_trip_with_and_without_secrets)
{
    for (size_t i = 0; i < sizeof round_trip_cases / sizeof round_trip_cases[0]; i++) {
        hk_inbound_endpoint *ep = accepted(round_trip_cases[i]);
        ep->verified = true; /* as the store would set it */
        ep->state_changed_ms = 1796036400123ull;
        /* With secrets: the store's record reads back to the same endpoint. */
        cJSON *full = hk_inbound_endpoint_to_json(ep, true);
        hk_inbound_endpoint *back = NULL;
        hk_error err;
        cr_assert_eq(hk_inbound_endpoint_from_stored(full, &back, &err), HK_OK, "%s: %s",
                     round_trip_cases[i], err.msg);
        cJSON *again = hk_inbound_endpoint_to_json(back, true);
        cr_assert(cJSON_Compare(full, again, true), "case %zu", i);
        cr_assert(back->verified);
        cr_assert_eq(back->state_changed_ms, 1796036400123ull);
        char *text = cJSON_PrintUnformatted(full);
        cr_assert(strstr(text, "\"stateChangedAt\":\"2026-11-30T11:00:00.123Z\""), "%s", text);
        /* Every input field survives: the input is a subset of the full form. */
        cJSON *input = cJSON_Parse(round_trip_cases[i]);
        const cJSON *f;
        cJSON_ArrayForEach(f, input)
        {
            const cJSON *out = cJSON_GetObjectItemCaseSensitive(full, f->string);
            cr_assert_not_null(out, "%s lost", f->string);
            if (!cJSON_IsObject(f))
                cr_assert(cJSON_Compare(f, out, true), "%s changed: %s", f->string, text);
        }
        cJSON_Delete(input);
        free(text);
        cJSON_Delete(again);
        hk_inbound_endpoint_destroy(back);
        /* Without secrets: masked, and no secret anywhere in the text. */
        char *shown = print(ep, false);
        for (size_t k = 0; k < sizeof all_secrets / sizeof all_secrets[0]; k++)
            cr_assert_null(strstr(shown, all_secrets[k]), "%s shown in %s", all_secrets[k], shown);
        cJSON *masked = hk_inbound_endpoint_to_json(ep, false);
        if (!cJSON_Compare(masked, full, true)) /* all but the custom "none" case */
            cr_assert_eq(hk_inbound_endpoint_from_stored(masked, &back, &err), HK_EINVAL,
                         "a masked form is no endpoint: %s", shown);
        cJSON_Delete(masked);
        free(shown);
        cJSON_Delete(full);
        hk_inbound_endpoint_destroy(ep);
    }
}

Test(endpoints, masked_output)
{
    hk_inbound_endpoint *ep = accepted(round_trip_cases[0]);
    char *s = print(ep, false);
    cr_assert(strstr(s, "\"secrets\":[\"****0001\",\"****0002\"]"), "%s", s);
    free(s);
    hk_inbound_endpoint_destroy(ep);
    ep = accepted(round_trip_cases[1]);
    s = print(ep, false);
    cr_assert(strstr(s, "\"secret\":\"****0003\""), "%s", s);
    cr_assert(strstr(s, "\"verifyToken\":\"****0004\""), "%s", s);
    free(s);
    hk_inbound_endpoint_destroy(ep);
    ep = accepted(round_trip_cases[4]);
    s = print(ep, false);
    cr_assert(strstr(s, "\"username\":\"bob\",\"password\":\"****0005\""), "%s", s);
    free(s);
    hk_inbound_endpoint_destroy(ep);
    ep = accepted(round_trip_cases[5]);
    s = print(ep, false);
    cr_assert(strstr(s, "\"name\":\"api_key\",\"in\":\"query\",\"value\":\"****0006\""), "%s", s);
    free(s);
    hk_inbound_endpoint_destroy(ep);
    ep = accepted(round_trip_cases[6]);
    s = print(ep, false);
    cr_assert(strstr(s, "\"headers\":{\"X-One\":\"****0007\",\"X-Two\":\"****0008\"}"), "%s", s);
    free(s);
    hk_inbound_endpoint_destroy(ep);
    /* A short secret shows nothing of itself. */
    ep = accepted("{\"name\":\"n\",\"flowId\":\"7\",\"source\":\"hookd\",\"secret\":\"short\"}");
    s = print(ep, false);
    cr_assert(strstr(s, "\"secret\":\"****\""), "%s", s);
    free(s);
    hk_inbound_endpoint_destroy(ep);
}

/* ---- D: endpoint updates ---- */

static hk_inbound_endpoint *merged(const hk_inbound_endpoint *old, const char *patch,
                                   hk_inbound_merge_mode mode, hk_error *err)
{
    cJSON *p = cJSON_Parse(patch);
    cr_assert_not_null(p, "%s", patch);
    hk_inbound_endpoint *out = (hk_inbound_endpoint *)0x1;
    memset(err, 0, sizeof *err);
    int rc = hk_inbound_endpoint_merge(old, p, mode, &out, err);
    cJSON_Delete(p);
    cr_assert_eq(rc == HK_OK, out != NULL);
    return out;
}

Test(endpoints, patch_keeps_what_it_does_not_name)
{
    hk_inbound_endpoint *old = accepted(round_trip_cases[0]);
    old->verified = true;
    old->state_changed_ms = 1000;
    hk_error err;
    hk_inbound_endpoint *ep = merged(old, "{\"enabled\":false,\"publicUrl\":\"https://a.example/\"}",
                                     HK_INBOUND_PATCH, &err);
    cr_assert_not_null(ep, "%s", err.msg);
    cr_assert_not(ep->enabled);
    cr_assert_str_eq(ep->public_url, "https://a.example/");
    cr_assert_str_eq(ep->id, old->id);
    cr_assert_str_eq(ep->name, "GitHub");
    cr_assert_eq(ep->secrets_len, 2);
    cr_assert_str_eq(ep->secrets[1], "old-secret-0002");
    cr_assert(ep->verified, "the state is old's");
    cr_assert_eq(ep->state_changed_ms, 1000);
    /* null resets a field to its default. */
    hk_inbound_endpoint *ep2 = merged(ep, "{\"publicUrl\":null,\"enabled\":null}", HK_INBOUND_PATCH,
                                      &err);
    cr_assert_not_null(ep2, "%s", err.msg);
    cr_assert_null(ep2->public_url);
    cr_assert(ep2->enabled);
    hk_inbound_endpoint_destroy(ep2);
    /* Validated as a new one, naming the field. */
    cr_assert_null(merged(ep, "{\"response\":{\"status\":500}}", HK_INBOUND_PATCH, &err));
    cr_assert_str_eq(err.field, "response.status");
    cr_assert_null(merged(ep, "{\"source\":\"sendgrid\"}", HK_INBOUND_PATCH, &err));
    cr_assert_str_eq(err.field, "secrets", "the kept secrets mean nothing to sendgrid: %s",
                     err.msg);
    cr_assert_null(merged(ep, "{\"id\":\"in_other\"}", HK_INBOUND_PATCH, &err));
    cr_assert_str_eq(err.field, "id");
    cr_assert_null(merged(ep, "{\"colour\":1}", HK_INBOUND_PATCH, &err));
    cr_assert_str_eq(err.field, "colour");
    hk_inbound_endpoint_destroy(ep);
    hk_inbound_endpoint_destroy(old);
}

Test(endpoints, masked_values_keep_the_old_secrets)
{
    hk_inbound_endpoint *old = accepted(round_trip_cases[0]);
    hk_error err;
    /* The masked display, put back whole (replace): the secrets are kept. */
    cJSON *shown = hk_inbound_endpoint_to_json(old, false);
    hk_inbound_endpoint *ep = (hk_inbound_endpoint *)0x1;
    cr_assert_eq(hk_inbound_endpoint_merge(old, shown, HK_INBOUND_REPLACE, &ep, &err), HK_OK, "%s",
                 err.msg);
    cr_assert_eq(ep->secrets_len, 2);
    cr_assert_str_eq(ep->secrets[0], "new-secret-0001");
    cr_assert_str_eq(ep->secrets[1], "old-secret-0002");
    hk_inbound_endpoint_destroy(ep);
    cr_assert_eq(hk_inbound_endpoint_merge(old, shown, HK_INBOUND_PATCH, &ep, &err), HK_OK, "%s",
                 err.msg);
    cr_assert_str_eq(ep->secrets[0], "new-secret-0001");
    hk_inbound_endpoint_destroy(ep);
    cJSON_Delete(shown);
    /* Rotation: a new secret in front of the kept one. */
    ep = merged(old, "{\"secrets\":[\"newest-0010\",\"****0001\"]}", HK_INBOUND_PATCH, &err);
    cr_assert_not_null(ep, "%s", err.msg);
    cr_assert_eq(ep->secrets_len, 2);
    cr_assert_str_eq(ep->secrets[0], "newest-0010");
    cr_assert_str_eq(ep->secrets[1], "new-secret-0001");
    hk_inbound_endpoint_destroy(ep);
    /* One secret now, spelled "secret". */
    ep = merged(old, "{\"secret\":\"****0002\"}", HK_INBOUND_PATCH, &err);
    cr_assert_not_null(ep, "%s", err.msg);
    cr_assert_eq(ep->secrets_len, 1);
    cr_assert_str_eq(ep->secrets[0], "old-secret-0002");
    hk_inbound_endpoint_destroy(ep);
    /* A mask that stands for nothing is refused, quoting nothing. */
    cr_assert_null(merged(old, "{\"secrets\":[\"****0001\",\"****9999\"]}", HK_INBOUND_PATCH, &err));
    cr_assert_str_eq(err.field, "secrets[1]");
    cr_assert_null(strstr(err.msg, "secret-000"), "%s", err.msg);
    cr_assert_null(merged(old, "{\"secrets\":[\"****0001\",\"****0001\"]}", HK_INBOUND_PATCH, &err),
                   "one old secret stands for one mask");
    cr_assert_str_eq(err.field, "secrets[1]");
    hk_inbound_endpoint_destroy(old);

    /* verifyToken, password, apiKey value, header values. */
    old = accepted(round_trip_cases[1]);
    ep = merged(old, "{\"verifyToken\":\"****0004\",\"secret\":\"****\"}", HK_INBOUND_PATCH, &err);
    cr_assert_not_null(ep, "%s", err.msg);
    cr_assert_str_eq(ep->verify_token, "verify-token-0004");
    cr_assert_str_eq(ep->secrets[0], "app-secret-0003");
    hk_inbound_endpoint_destroy(ep);
    cr_assert_null(merged(old, "{\"verifyToken\":\"****0003\"}", HK_INBOUND_PATCH, &err));
    cr_assert_str_eq(err.field, "verifyToken");
    hk_inbound_endpoint_destroy(old);
    for (size_t i = 4; i <= 6; i++) {
        old = accepted(round_trip_cases[i]);
        shown = hk_inbound_endpoint_to_json(old, false);
        cJSON_DeleteItemFromObject(shown, "name");
        cJSON_AddStringToObject(shown, "name", "Renamed");
        cr_assert_eq(hk_inbound_endpoint_merge(old, shown, HK_INBOUND_REPLACE, &ep, &err), HK_OK,
                     "%s", err.msg);
        cr_assert_str_eq(ep->name, "Renamed");
        cJSON *a = hk_inbound_endpoint_to_json(old, true), *b = hk_inbound_endpoint_to_json(ep, true);
        cJSON_DeleteItemFromObject(a, "name");
        cJSON_DeleteItemFromObject(b, "name");
        cr_assert(cJSON_Compare(a, b, true), "case %zu: secrets kept", i);
        cJSON_Delete(a);
        cJSON_Delete(b);
        hk_inbound_endpoint_destroy(ep);
        cJSON_Delete(shown);
        hk_inbound_endpoint_destroy(old);
    }
    old = accepted(round_trip_cases[6]);
    cr_assert_null(merged(old, "{\"verification\":{\"headers\":{\"X-Three\":\"****0007\"}}}",
                          HK_INBOUND_PATCH, &err));
    cr_assert_str_eq(err.field, "verification.headers.X-Three");
    ep = merged(old, "{\"verification\":{\"headers\":{\"x-one\":\"****0007\",\"X-Two\":null}}}",
                HK_INBOUND_PATCH, &err);
    cr_assert_null(ep, "X-One is kept, x-one is a second copy of it");
    cr_assert_str_eq(err.field, "verification.headers.x-one");
    hk_inbound_endpoint_destroy(old);
    old = accepted(round_trip_cases[4]);
    cr_assert_null(merged(old, "{\"verification\":{\"type\":\"apiKey\",\"name\":\"k\",\"value\":"
                               "\"****0005\",\"username\":null,\"password\":null}}",
                          HK_INBOUND_PATCH, &err),
                   "a password is no API key");
    cr_assert_str_eq(err.field, "verification.value");
    hk_inbound_endpoint_destroy(old);
}

Test(endpoints, replace_and_the_state)
{
    hk_inbound_endpoint *old = accepted(round_trip_cases[7]);
    old->verified = true;
    old->state_changed_ms = 1796036400123ull;
    hk_error err;
    /* Replace: what is absent takes its default; flowId stays. */
    hk_inbound_endpoint *ep = merged(
        old, "{\"name\":\"Plain\",\"source\":\"hookd\",\"secret\":\"****0009\"}",
        HK_INBOUND_REPLACE, &err);
    cr_assert_not_null(ep, "%s", err.msg);
    cr_assert_str_eq(ep->id, "in_c1");
    cr_assert_str_eq(ep->flow_id, "9");
    cr_assert(ep->enabled);
    cr_assert_not(ep->start_flow);
    cr_assert_null(ep->public_url);
    cr_assert_eq(ep->response.status, 200);
    cr_assert_str_eq(ep->secrets[0], "hmac-secret-0009");
    cr_assert(ep->verified);
    hk_inbound_endpoint_destroy(ep);
    /* A get, edited and put back, carries the state as it is: accepted. */
    cJSON *shown = hk_inbound_endpoint_to_json(old, false);
    cJSON_ReplaceItemInObject(shown, "startFlow", cJSON_CreateFalse());
    cr_assert_eq(hk_inbound_endpoint_merge(old, shown, HK_INBOUND_REPLACE, &ep, &err), HK_OK, "%s",
                 err.msg);
    cr_assert_not(ep->start_flow);
    cr_assert_eq(ep->state_changed_ms, 1796036400123ull);
    hk_inbound_endpoint_destroy(ep);
    cJSON_Delete(shown);
    /* Changing it is refused. */
    cr_assert_null(merged(old, "{\"verified\":false}", HK_INBOUND_PATCH, &err));
    cr_assert_str_eq(err.field, "verified");
    cr_assert_null(merged(old, "{\"stateChangedAt\":\"2026-11-30T11:00:00Z\"}", HK_INBOUND_PATCH,
                          &err));
    cr_assert_str_eq(err.field, "stateChangedAt");
    ep = merged(old, "{\"stateChangedAt\":\"2026-11-30T12:00:00.123+01:00\"}", HK_INBOUND_PATCH,
                &err);
    cr_assert_not_null(ep, "the same instant written another way: %s", err.msg);
    hk_inbound_endpoint_destroy(ep);
    cr_assert_null(merged(old, "[]", HK_INBOUND_PATCH, &err));
    cr_assert_str_eq(err.field, "endpoint");
    hk_inbound_endpoint_destroy(old);
}

