/*
 * verify_presets.c — the presets that sign with a shared secret, each as its provider documents
 * it: GitHub, Stripe, Slack (with its url_verification challenge), PagerDuty, Zendesk, Twitter
 * (with its CRC challenge), Facebook (with its hub.challenge), Standard Webhooks and hookd's own
 * scheme (both through delivery/'s hk_verify, the receiver's check hookctl uses). Twilio and
 * SendGrid are in verify_keyed.c, custom in verify_custom.c.
 *
 * Order in each: the header's presence and form, the signature, then the timestamp's age, so
 * that "stale_timestamp" always means a genuine but old (replayed or delayed) request.
 */
#include "verify_internal.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SIGS 8

static const char *body_of(const hk_inbound_request *req)
{
    return req->body ? req->body : "";
}

/* One "<prefix><encoded MAC>" value against parts: NONE when some secret signs them to it. */
static hk_inbound_reject check_encoded(const hk_inbound_endpoint *ep, hk_hmac_algorithm alg,
                                       hk_signature_encoding enc, const char *prefix,
                                       const char *value, size_t len, const hk_vpart *parts,
                                       size_t n)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    if (len < plen || (plen && strncmp(value, prefix, plen) != 0))
        return HK_REJECT_MALFORMED_SIGNATURE;
    unsigned char sig[HK_VMAC_MAX];
    long sig_len = enc == HK_ENCODING_HEX
                       ? hk__hex_decode(value + plen, len - plen, sig, sizeof sig)
                       : hk__base64_decode(value + plen, len - plen, sig, sizeof sig);
    if (sig_len < 0)
        return HK_REJECT_MALFORMED_SIGNATURE;
    return hk__any_secret_matches(ep, alg, parts, n, sig, (size_t)sig_len)
               ? HK_REJECT_NONE
               : HK_REJECT_BAD_SIGNATURE;
}

/* A required header, or a missing_signature rejection naming it. */
static const char *need(const hk_inbound_request *req, const char *name, hk_inbound_verdict *v)
{
    const char *value = hk_inbound_header(req, name);
    if (!value)
        hk__verdict_reject(v, HK_REJECT_MISSING_SIGNATURE, "%s is absent", name);
    return value;
}

/* GitHub's and Facebook's X-Hub-Signature-256: "sha256=<hex HMAC-SHA256(secret, body)>". */
static bool hub_signature(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                          hk_inbound_verdict *v)
{
    const char *sig = need(req, "X-Hub-Signature-256", v);
    if (!sig)
        return false;
    hk_vpart parts[] = {{body_of(req), req->body_len}};
    hk_inbound_reject r =
        check_encoded(ep, HK_HMAC_SHA256, HK_ENCODING_HEX, "sha256=", sig, strlen(sig), parts, 1);
    if (r != HK_REJECT_NONE) {
        hk__verdict_reject(v, r, "X-Hub-Signature-256: %s", hk_inbound_reject_label(r));
        return false;
    }
    hk__verdict_accept(v);
    return true;
}

void hk__verify_github(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                       hk_inbound_verdict *v)
{
    if (!hub_signature(ep, req, v))
        return;
    const char *delivery = hk_inbound_header(req, "X-GitHub-Delivery");
    if (delivery)
        hk__verdict_event_id(v, delivery, strlen(delivery));
}

/* Stripe-Signature: "t=<unix s>,v1=<hex>[,v1=...]" (v0 and unknown keys ignored, as Stripe's
 * libraries do) over "<t>.<body>". */
void hk__verify_stripe(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                       hk_inbound_verdict *v)
{
    const char *header = need(req, "Stripe-Signature", v);
    if (!header)
        return;
    const char *t_text = NULL;
    size_t t_len = 0, n_sigs = 0;
    const char *sigs[MAX_SIGS];
    size_t sig_lens[MAX_SIGS];
    bool malformed = false;
    for (const char *p = header; !malformed;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *item = p;
        hk__trim(&item, &len);
        if (len > 2 && strncmp(item, "t=", 2) == 0) {
            malformed |= t_text != NULL; /* twice: which one was signed? */
            t_text = item + 2;
            t_len = len - 2;
        } else if (len > 3 && strncmp(item, "v1=", 3) == 0) {
            malformed |= n_sigs == MAX_SIGS;
            if (n_sigs < MAX_SIGS) {
                sigs[n_sigs] = item + 3;
                sig_lens[n_sigs++] = len - 3;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    uint64_t t_s = 0;
    if (malformed || n_sigs == 0 || !hk__parse_digits(t_text, t_len, 12, &t_s)) {
        hk__verdict_reject(v, HK_REJECT_MALFORMED_SIGNATURE,
                           "Stripe-Signature: expected t=<unix seconds> once and v1=<hex>");
        return;
    }
    hk_vpart parts[] = {{t_text, t_len}, {".", 1}, {body_of(req), req->body_len}};
    bool ok = false;
    for (size_t i = 0; i < n_sigs; i++)
        ok |= check_encoded(ep, HK_HMAC_SHA256, HK_ENCODING_HEX, NULL, sigs[i], sig_lens[i], parts,
                            3) == HK_REJECT_NONE;
    if (!ok) {
        hk__verdict_reject(v, HK_REJECT_BAD_SIGNATURE, "Stripe-Signature: no v1 matches");
        return;
    }
    if (!hk__within(req->now_ms, t_s * 1000, HK_INBOUND_TOLERANCE_S)) {
        hk__verdict_reject(v, HK_REJECT_STALE_TIMESTAMP,
                           "Stripe-Signature: t=%llu is off by "
                           "more than %d s",
                           (unsigned long long)t_s, HK_INBOUND_TOLERANCE_S);
        return;
    }
    hk__verdict_accept(v);
    hk__verdict_event_id_json(v, req->body, req->body_len, NULL, "id");
}

/* X-Slack-Signature "v0=<hex HMAC-SHA256(secret, "v0:<timestamp>:<body>")>"; a signed
 * {"type":"url_verification","challenge":C} is answered with C as text/plain. */
void hk__verify_slack(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                      hk_inbound_verdict *v)
{
    const char *ts = need(req, "X-Slack-Request-Timestamp", v);
    const char *sig = ts ? need(req, "X-Slack-Signature", v) : NULL;
    if (!sig)
        return;
    uint64_t t_s = 0;
    if (!hk__parse_digits(ts, strlen(ts), 12, &t_s)) {
        hk__verdict_reject(v, HK_REJECT_MALFORMED_SIGNATURE,
                           "X-Slack-Request-Timestamp: expected unix seconds, digits only");
        return;
    }
    hk_vpart parts[] = {{"v0:", 3}, {ts, strlen(ts)}, {":", 1}, {body_of(req), req->body_len}};
    hk_inbound_reject r =
        check_encoded(ep, HK_HMAC_SHA256, HK_ENCODING_HEX, "v0=", sig, strlen(sig), parts, 4);
    if (r != HK_REJECT_NONE) {
        hk__verdict_reject(v, r, "X-Slack-Signature: %s", hk_inbound_reject_label(r));
        return;
    }
    if (!hk__within(req->now_ms, t_s * 1000, HK_INBOUND_TOLERANCE_S)) {
        hk__verdict_reject(v, HK_REJECT_STALE_TIMESTAMP,
                           "X-Slack-Request-Timestamp %llu is off by more than %d s",
                           (unsigned long long)t_s, HK_INBOUND_TOLERANCE_S);
        return;
    }
    cJSON *root = req->body_len ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    const cJSON *challenge = cJSON_GetObjectItemCaseSensitive(root, "challenge");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "url_verification") == 0 &&
        cJSON_IsString(challenge))
        hk__verdict_challenge(v, "text/plain", challenge->valuestring,
                              strlen(challenge->valuestring));
    else
        hk__verdict_accept(v);
    cJSON_Delete(root);
    if (v->kind == HK_VERDICT_ACCEPT)
        hk__verdict_event_id_json(v, req->body, req->body_len, NULL, "event_id");
}

/* X-PagerDuty-Signature: "v1=<hex HMAC-SHA256(secret, body)>[,v1=...]" (one per secret of
 * theirs during rotation; other versions ignored). */
void hk__verify_pagerduty(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                          hk_inbound_verdict *v)
{
    const char *header = need(req, "X-PagerDuty-Signature", v);
    if (!header)
        return;
    hk_vpart parts[] = {{body_of(req), req->body_len}};
    size_t n_v1 = 0;
    bool ok = false, malformed = false;
    for (const char *p = header; n_v1 < MAX_SIGS;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *item = p;
        hk__trim(&item, &len);
        if (len >= 3 && strncmp(item, "v1=", 3) == 0) {
            n_v1++;
            hk_inbound_reject r =
                check_encoded(ep, HK_HMAC_SHA256, HK_ENCODING_HEX, "v1=", item, len, parts, 1);
            ok |= r == HK_REJECT_NONE;
            malformed |= r == HK_REJECT_MALFORMED_SIGNATURE;
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (!ok) {
        hk_inbound_reject r =
            n_v1 == 0 || malformed ? HK_REJECT_MALFORMED_SIGNATURE : HK_REJECT_BAD_SIGNATURE;
        hk__verdict_reject(v, r, "X-PagerDuty-Signature: %s", hk_inbound_reject_label(r));
        return;
    }
    hk__verdict_accept(v);
    hk__verdict_event_id_json(v, req->body, req->body_len, "event", "id");
}

/* X-Zendesk-Webhook-Signature: base64 HMAC-SHA256(secret, timestamp + body), the timestamp
 * being X-Zendesk-Webhook-Signature-Timestamp as sent (RFC 3339, "2026-11-30T12:00:00Z"). */
void hk__verify_zendesk(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                        hk_inbound_verdict *v)
{
    const char *ts = need(req, "X-Zendesk-Webhook-Signature-Timestamp", v);
    const char *sig = ts ? need(req, "X-Zendesk-Webhook-Signature", v) : NULL;
    if (!sig)
        return;
    uint64_t t_ms = 0;
    if (!hk_parse_time(ts, &t_ms)) {
        hk__verdict_reject(v, HK_REJECT_MALFORMED_SIGNATURE,
                           "X-Zendesk-Webhook-Signature-Timestamp: expected an RFC 3339 time");
        return;
    }
    hk_vpart parts[] = {{ts, strlen(ts)}, {body_of(req), req->body_len}};
    hk_inbound_reject r =
        check_encoded(ep, HK_HMAC_SHA256, HK_ENCODING_BASE64, NULL, sig, strlen(sig), parts, 2);
    if (r != HK_REJECT_NONE) {
        hk__verdict_reject(v, r, "X-Zendesk-Webhook-Signature: %s", hk_inbound_reject_label(r));
        return;
    }
    if (!hk__within(req->now_ms, t_ms, HK_INBOUND_TOLERANCE_S)) {
        hk__verdict_reject(v, HK_REJECT_STALE_TIMESTAMP,
                           "X-Zendesk-Webhook-Signature-Timestamp is off by more than %d s",
                           HK_INBOUND_TOLERANCE_S);
        return;
    }
    hk__verdict_accept(v);
}

static bool is_get(const hk_inbound_request *req)
{
    return req->method && strcasecmp(req->method, "GET") == 0;
}

/* Twitter: GET ?crc_token=T answered {"response_token":"sha256=<base64 HMAC-SHA256(consumer
 * secret, T)>"} (with the first secret: only one can answer); a POST carries
 * x-twitter-webhooks-signature "sha256=<base64 HMAC-SHA256(secret, body)>". */
void hk__verify_twitter(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                        hk_inbound_verdict *v)
{
    if (is_get(req)) {
        char token[512];
        if (!hk_inbound_query_param(req, "crc_token", token, sizeof token) || !*token) {
            hk__verdict_reject(v, HK_REJECT_NOT_A_CHALLENGE, "a GET without crc_token");
            return;
        }
        hk_vpart parts[] = {{token, strlen(token)}};
        unsigned char mac[HK_VMAC_MAX];
        size_t mac_len =
            hk__hmac(HK_HMAC_SHA256, ep->secrets[0], strlen(ep->secrets[0]), parts, 1, mac);
        unsigned char b64[96];
        EVP_EncodeBlock(b64, mac, (int)mac_len);
        char body[160];
        int len =
            snprintf(body, sizeof body, "{\"response_token\":\"sha256=%s\"}", (const char *)b64);
        hk__verdict_challenge(v, "application/json", body, (size_t)len);
        return;
    }
    const char *sig = need(req, "X-Twitter-Webhooks-Signature", v);
    if (!sig)
        return;
    hk_vpart parts[] = {{body_of(req), req->body_len}};
    hk_inbound_reject r = check_encoded(ep, HK_HMAC_SHA256, HK_ENCODING_BASE64, "sha256=", sig,
                                        strlen(sig), parts, 1);
    if (r != HK_REJECT_NONE) {
        hk__verdict_reject(v, r, "x-twitter-webhooks-signature: %s", hk_inbound_reject_label(r));
        return;
    }
    hk__verdict_accept(v);
}

/* Facebook: GET hub.mode=subscribe&hub.verify_token=T&hub.challenge=C answered with C when T is
 * the endpoint's verify token; a POST carries X-Hub-Signature-256 with the app secret. */
void hk__verify_facebook(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                         hk_inbound_verdict *v)
{
    if (!is_get(req)) {
        if (ep->secrets_len == 0)
            hk__verdict_reject(v, HK_REJECT_NOT_CONFIGURED, "the endpoint has no app secret");
        else
            hub_signature(ep, req, v);
        return;
    }
    char mode[32], token[256], challenge[256];
    if (!hk_inbound_query_param(req, "hub.mode", mode, sizeof mode) ||
        strcmp(mode, "subscribe") != 0 ||
        !hk_inbound_query_param(req, "hub.challenge", challenge, sizeof challenge) || !*challenge) {
        hk__verdict_reject(v, HK_REJECT_NOT_A_CHALLENGE,
                           "a GET without hub.mode=subscribe and hub.challenge");
        return;
    }
    if (!ep->verify_token || !*ep->verify_token) {
        hk__verdict_reject(v, HK_REJECT_NOT_CONFIGURED, "the endpoint has no verifyToken");
        return;
    }
    if (!hk_inbound_query_param(req, "hub.verify_token", token, sizeof token) ||
        !hk__ct_equal(token, strlen(token), ep->verify_token, strlen(ep->verify_token))) {
        hk__verdict_reject(v, HK_REJECT_WRONG_VERIFY_TOKEN, "hub.verify_token does not match");
        return;
    }
    hk__verdict_challenge(v, "text/plain", challenge, strlen(challenge));
}

/* Standard Webhooks through delivery/'s hk_verify (each secret whsec_...), its age here against
 * the request's time (hk_verify would read the clock). */
void hk__verify_standard(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                         hk_inbound_verdict *v)
{
    const char *id = need(req, "webhook-id", v);
    const char *ts = id ? need(req, "webhook-timestamp", v) : NULL;
    const char *sig = ts ? need(req, "webhook-signature", v) : NULL;
    if (!sig)
        return;
    uint64_t t_s = 0;
    if (!hk__parse_digits(ts, strlen(ts), 12, &t_s)) {
        hk__verdict_reject(v, HK_REJECT_MALFORMED_SIGNATURE,
                           "webhook-timestamp: expected unix seconds, digits only");
        return;
    }
    hk_verify_input in = {.body = req->body,
                          .body_len = req->body_len,
                          .wh_id = id,
                          .wh_timestamp = ts,
                          .wh_signature = sig,
                          .tolerance_s = 0,
                          .scheme = HK_SIG_STANDARD};
    bool ok = false, any_key = false;
    for (size_t i = 0; i < ep->secrets_len; i++) {
        char detail[256];
        in.secret = ep->secrets[i];
        int rc = hk_verify(&in, detail, sizeof detail);
        ok |= rc == HK_OK;
        any_key |= rc != HK_EINVAL;
    }
    if (!ok) {
        if (any_key)
            hk__verdict_reject(v, HK_REJECT_BAD_SIGNATURE, "webhook-signature: no v1 matches");
        else
            hk__verdict_reject(v, HK_REJECT_NOT_CONFIGURED, "no secret is a whsec_ secret");
        return;
    }
    if (!hk__within(req->now_ms, t_s * 1000, HK_INBOUND_TOLERANCE_S)) {
        hk__verdict_reject(v, HK_REJECT_STALE_TIMESTAMP,
                           "webhook-timestamp %llu is off by more than %d s",
                           (unsigned long long)t_s, HK_INBOUND_TOLERANCE_S);
        return;
    }
    hk__verdict_accept(v);
    hk__verdict_event_id(v, id, strlen(id));
}

/* hookd's own X-Webhook-Signature, timestamped only ("t=<ms>,sha256=<hex>"): the body scheme
 * has no age and, read by the header's form, lets a captured timestamped request be replayed
 * forever (docs/decisions.md 36). A body-signing hookd task is a custom hmac endpoint. */
void hk__verify_hookd(const hk_inbound_endpoint *ep, const hk_inbound_request *req, const char *url,
                      hk_inbound_verdict *v)
{
    const char *sig = need(req, "X-Webhook-Signature", v);
    if (!sig)
        return;
    hk_signature_header sh;
    hk_error err = {0};
    if (hk_signature_header_parse(sig, strlen(sig), &sh, &err) != HK_OK || !sh.has_t) {
        hk__verdict_reject(v, HK_REJECT_MALFORMED_SIGNATURE,
                           "X-Webhook-Signature: expected t=<unix ms>,sha256=<hex>");
        return;
    }
    hk_verify_input in = {.method = req->method ? req->method : "POST",
                          .url = url,
                          .body = req->body,
                          .body_len = req->body_len,
                          .signature = sig,
                          .tolerance_s = 0,
                          .scheme = HK_SIG_TIMESTAMPED};
    bool ok = false, no_url = false;
    for (size_t i = 0; i < ep->secrets_len; i++) {
        char detail[256];
        in.secret = ep->secrets[i];
        int rc = hk_verify(&in, detail, sizeof detail);
        ok |= rc == HK_OK;
        no_url |= rc == HK_EINVAL;
    }
    if (!ok) {
        if (no_url)
            hk__verdict_reject(v, HK_REJECT_NOT_CONFIGURED, "a GET or DELETE needs the URL");
        else
            hk__verdict_reject(v, HK_REJECT_BAD_SIGNATURE, "X-Webhook-Signature: no match");
        return;
    }
    if (!hk__within(req->now_ms, sh.t_ms, HK_INBOUND_TOLERANCE_S)) {
        hk__verdict_reject(v, HK_REJECT_STALE_TIMESTAMP,
                           "X-Webhook-Signature: t=%llu is off by more than %d s",
                           (unsigned long long)sh.t_ms, HK_INBOUND_TOLERANCE_S);
        return;
    }
    hk__verdict_accept(v);
    const char *wid = hk_inbound_header(req, "X-Webhook-Id");
    if (wid)
        hk__verdict_event_id(v, wid, strlen(wid));
}
