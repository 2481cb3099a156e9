/*
 * verify_custom.c — a custom endpoint's verification (the integration platform's four kinds of
 * webhook credentials, and the Conductor's header verifier): none, basic, apiKey, headers and
 * hmac. Every value is compared in constant time, and every part is compared even when an
 * earlier one already failed, so timing says nothing about which part was wrong.
 */
#include "verify_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void basic(const hk_custom_verification *cv, const hk_inbound_request *req,
                  hk_inbound_verdict *v)
{
    const char *auth = hk_inbound_header(req, "Authorization");
    if (!auth || strncasecmp(auth, "Basic ", 6) != 0) {
        hk__verdict_reject(v, HK_REJECT_MISSING_CREDENTIALS,
                           "Authorization: Basic credentials are absent");
        return;
    }
    const char *b64 = auth + 6;
    size_t b64_len = strlen(b64);
    hk__trim(&b64, &b64_len);
    unsigned char decoded[1024];
    long n = hk__base64_decode(b64, b64_len, decoded, sizeof decoded);
    const unsigned char *colon = n > 0 ? memchr(decoded, ':', (size_t)n) : NULL;
    if (!colon) {
        hk__verdict_reject(v, HK_REJECT_WRONG_CREDENTIALS,
                           "Authorization: Basic is not base64 of user:password");
        return;
    }
    size_t user_len = (size_t)(colon - decoded);
    const char *user = cv->username ? cv->username : "";
    const char *pass = cv->password ? cv->password : "";
    bool user_ok = hk__ct_equal(decoded, user_len, user, strlen(user));
    bool pass_ok = hk__ct_equal(colon + 1, (size_t)n - user_len - 1, pass, strlen(pass));
    if (!(user_ok & pass_ok)) {
        hk__verdict_reject(v, HK_REJECT_WRONG_CREDENTIALS, "Authorization: wrong user or password");
        return;
    }
    hk__verdict_accept(v);
}

static void api_key(const hk_custom_verification *cv, const hk_inbound_request *req,
                    hk_inbound_verdict *v)
{
    const char *name = cv->name ? cv->name : "";
    const char *got = NULL;
    char query_value[1024];
    if (cv->in_query)
        got =
            hk_inbound_query_param(req, name, query_value, sizeof query_value) ? query_value : NULL;
    else
        got = hk_inbound_header(req, name);
    if (!got) {
        hk__verdict_reject(v, HK_REJECT_MISSING_CREDENTIALS, "the API key's %s %s is absent",
                           cv->in_query ? "query parameter" : "header", name);
        return;
    }
    const char *want = cv->value ? cv->value : "";
    if (!hk__ct_equal(got, strlen(got), want, strlen(want))) {
        hk__verdict_reject(v, HK_REJECT_WRONG_CREDENTIALS, "the API key in %s is wrong", name);
        return;
    }
    hk__verdict_accept(v);
}

static void headers(const hk_custom_verification *cv, const hk_inbound_request *req,
                    hk_inbound_verdict *v)
{
    const char *missing = NULL, *wrong = NULL;
    for (size_t i = 0; i < cv->headers_len; i++) {
        const char *got = hk_inbound_header(req, cv->headers[i].key);
        const char *want = cv->headers[i].value ? cv->headers[i].value : "";
        if (!got) {
            if (!missing)
                missing = cv->headers[i].key;
            got = ""; /* compared anyway: the same work whatever is absent */
        }
        if (!hk__ct_equal(got, strlen(got), want, strlen(want)) && !wrong)
            wrong = cv->headers[i].key;
    }
    if (missing)
        hk__verdict_reject(v, HK_REJECT_MISSING_CREDENTIALS, "header %s is absent", missing);
    else if (wrong)
        hk__verdict_reject(v, HK_REJECT_WRONG_CREDENTIALS, "header %s has the wrong value", wrong);
    else
        hk__verdict_accept(v);
}

/* A custom timestamp: unix seconds, unix milliseconds (13 digits and more), or RFC 3339. */
static bool custom_time(const char *text, uint64_t *t_ms)
{
    uint64_t n = 0;
    if (hk__parse_digits(text, strlen(text), 16, &n)) {
        *t_ms = n >= 100000000000ULL ? n : n * 1000;
        return true;
    }
    return hk_parse_time(text, t_ms);
}

static void hmac(const hk_inbound_endpoint *ep, const hk_custom_verification *cv,
                 const hk_inbound_request *req, hk_inbound_verdict *v)
{
    const char *name = cv->header ? cv->header : "";
    const char *sig = hk_inbound_header(req, name);
    const char *ts = cv->timestamp_header ? hk_inbound_header(req, cv->timestamp_header) : NULL;
    if (!sig || (cv->timestamp_header && !ts)) {
        hk__verdict_reject(v, HK_REJECT_MISSING_SIGNATURE, "%s is absent",
                           sig ? cv->timestamp_header : name);
        return;
    }
    uint64_t t_ms = 0;
    if (ts && !custom_time(ts, &t_ms)) {
        hk__verdict_reject(v, HK_REJECT_MALFORMED_SIGNATURE,
                           "%s: expected unix seconds or milliseconds, or an RFC 3339 time",
                           cv->timestamp_header);
        return;
    }
    size_t plen = cv->prefix ? strlen(cv->prefix) : 0;
    size_t len = strlen(sig);
    unsigned char mac[HK_VMAC_MAX];
    long mac_len = -1;
    if (len >= plen && (plen == 0 || strncmp(sig, cv->prefix, plen) == 0))
        mac_len = cv->encoding == HK_ENCODING_HEX
                      ? hk__hex_decode(sig + plen, len - plen, mac, sizeof mac)
                      : hk__base64_decode(sig + plen, len - plen, mac, sizeof mac);
    if (mac_len < 0) {
        hk__verdict_reject(v, HK_REJECT_MALFORMED_SIGNATURE, "%s: expected %s%s", name,
                           plen ? cv->prefix : "",
                           cv->encoding == HK_ENCODING_HEX ? "<hex>" : "<base64>");
        return;
    }
    const char *body = req->body ? req->body : "";
    hk_vpart with_ts[] = {{ts, ts ? strlen(ts) : 0}, {".", 1}, {body, req->body_len}};
    hk_vpart body_only[] = {{body, req->body_len}};
    bool ok = ts ? hk__any_secret_matches(ep, cv->algorithm, with_ts, 3, mac, (size_t)mac_len)
                 : hk__any_secret_matches(ep, cv->algorithm, body_only, 1, mac, (size_t)mac_len);
    if (!ok) {
        hk__verdict_reject(v, HK_REJECT_BAD_SIGNATURE, "%s does not match", name);
        return;
    }
    /* No tolerance means the default, never "any age": a signed time is there to be checked. */
    long tolerance = cv->tolerance_s > 0 ? cv->tolerance_s : HK_INBOUND_TOLERANCE_S;
    if (ts && !hk__within(req->now_ms, t_ms, tolerance)) {
        hk__verdict_reject(v, HK_REJECT_STALE_TIMESTAMP, "%s is off by more than %ld s",
                           cv->timestamp_header, tolerance);
        return;
    }
    hk__verdict_accept(v);
}

void hk__verify_custom(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                       hk_inbound_verdict *v)
{
    const hk_custom_verification *cv = &ep->verification;
    switch (cv->type) {
    case HK_CUSTOM_NONE:
        hk__verdict_accept(v);
        break;
    case HK_CUSTOM_BASIC:
        basic(cv, req, v);
        break;
    case HK_CUSTOM_API_KEY:
        api_key(cv, req, v);
        break;
    case HK_CUSTOM_HEADERS:
        headers(cv, req, v);
        break;
    case HK_CUSTOM_HMAC:
        if (ep->secrets_len == 0)
            hk__verdict_reject(v, HK_REJECT_NOT_CONFIGURED, "the endpoint has no secret");
        else
            hmac(ep, cv, req, v);
        break;
    default:
        hk__verdict_reject(v, HK_REJECT_NOT_CONFIGURED, "unknown verification");
        break;
    }
}
