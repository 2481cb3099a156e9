/*
 * verify.c — the one decision on a received request (hk_inbound_verify): which check its source
 * gets, the challenge sources' gate while unverified, the verdict and its reasons; the checks
 * the presets share (HMAC over parts, strict decoding, constant-time comparison, the timestamp
 * window); and which headers carry credentials and stay out of the record.
 */
#include "verify_internal.h"

#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------- reasons --- */

static const struct {
    const char *label;
    const char *text;
} reasons[HK_REJECT__COUNT] = {
    [HK_REJECT_NONE] = {"none", "not rejected"},
    [HK_REJECT_MISSING_SIGNATURE] = {"missing_signature",
                                     "the provider's signature or timestamp header is absent"},
    [HK_REJECT_MALFORMED_SIGNATURE] = {"malformed_signature",
                                       "the signature header is not in the provider's form"},
    [HK_REJECT_BAD_SIGNATURE] = {"bad_signature", "the signature matches none of the secrets"},
    [HK_REJECT_STALE_TIMESTAMP] = {"stale_timestamp",
                                   "the signature matches but its timestamp is out of tolerance"},
    [HK_REJECT_BAD_BODY_HASH] = {"bad_body_hash", "bodySHA256 in the URL is not the body's"},
    [HK_REJECT_MISSING_CREDENTIALS] = {"missing_credentials", "the credentials are absent"},
    [HK_REJECT_WRONG_CREDENTIALS] = {"wrong_credentials", "the credentials are wrong"},
    [HK_REJECT_NOT_A_CHALLENGE] = {"not_a_challenge",
                                   "the endpoint awaits its provider's challenge (or a GET that "
                                   "is no challenge)"},
    [HK_REJECT_WRONG_VERIFY_TOKEN] = {"wrong_verify_token", "hub.verify_token is wrong"},
    [HK_REJECT_NOT_CONFIGURED] = {"not_configured",
                                  "the endpoint lacks what its source needs to verify"},
};

const char *hk_inbound_reject_label(hk_inbound_reject reason)
{
    return (unsigned)reason < HK_REJECT__COUNT ? reasons[reason].label : "unknown";
}

const char *hk_inbound_reject_text(hk_inbound_reject reason)
{
    return (unsigned)reason < HK_REJECT__COUNT ? reasons[reason].text : "unknown reason";
}

/* ------------------------------------------------------------------------- verdict --- */

void hk__verdict_accept(hk_inbound_verdict *v)
{
    v->kind = HK_VERDICT_ACCEPT;
    v->reason = HK_REJECT_NONE;
    v->marks_verified = true;
}

void hk__verdict_reject(hk_inbound_verdict *v, hk_inbound_reject reason, const char *fmt, ...)
{
    v->kind = HK_VERDICT_REJECT;
    v->reason = reason;
    v->marks_verified = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
}

void hk__verdict_challenge(hk_inbound_verdict *v, const char *content_type, const char *body,
                           size_t len)
{
    v->kind = HK_VERDICT_CHALLENGE;
    v->reason = HK_REJECT_NONE;
    v->marks_verified = true;
    v->challenge_status = 200;
    snprintf(v->challenge_content_type, sizeof v->challenge_content_type, "%s", content_type);
    hk_buf_append(&v->challenge_body, body, len);
}

void hk__verdict_event_id(hk_inbound_verdict *v, const char *id, size_t len)
{
    if (!id || len == 0 || len >= sizeof v->provider_event_id)
        return;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
            return;
    memcpy(v->provider_event_id, id, len);
    v->provider_event_id[len] = '\0';
}

void hk__verdict_event_id_json(hk_inbound_verdict *v, const char *body, size_t len,
                               const char *parent, const char *key)
{
    if (!body || len == 0)
        return;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *obj = parent ? cJSON_GetObjectItemCaseSensitive(root, parent) : root;
    const cJSON *id = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (cJSON_IsString(id))
        hk__verdict_event_id(v, id->valuestring, strlen(id->valuestring));
    cJSON_Delete(root);
}

void hk_inbound_verdict_free(hk_inbound_verdict *v)
{
    if (v)
        hk_buf_free(&v->challenge_body);
}

/* ---------------------------------------------------------------------- the checks --- */

/* One HMAC context per algorithm per thread, re-keyed per message: fetching the algorithm on
 * every request (HMAC()'s one-shot) costs more than the hashing (see delivery/sign.c). */
static const char *const digest_names[] = {
    [HK_HMAC_SHA1] = "SHA1", [HK_HMAC_SHA256] = "SHA256", [HK_HMAC_SHA512] = "SHA512"};
static EVP_MAC *hmac_alg;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;

static void free_ctxs(void *p)
{
    EVP_MAC_CTX **ctxs = p;
    for (size_t i = 0; i < 3; i++)
        EVP_MAC_CTX_free(ctxs[i]);
    free(ctxs);
}

static void fetch_hmac(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!hmac_alg || pthread_key_create(&ctx_key, free_ctxs) != 0)
        abort(); /* a libcrypto without HMAC cannot verify anything */
}

static EVP_MAC_CTX *thread_ctx(hk_hmac_algorithm alg)
{
    pthread_once(&fetch_once, fetch_hmac);
    EVP_MAC_CTX **ctxs = pthread_getspecific(ctx_key);
    if (!ctxs) {
        ctxs = hk_xcalloc(3, sizeof *ctxs);
        pthread_setspecific(ctx_key, ctxs);
    }
    if (!ctxs[alg]) {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_alg);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest_names[alg], 0),
            OSSL_PARAM_construct_end(),
        };
        if (!ctx || !EVP_MAC_CTX_set_params(ctx, params))
            abort();
        ctxs[alg] = ctx;
    }
    return ctxs[alg];
}

size_t hk__hmac(hk_hmac_algorithm alg, const void *key, size_t key_len, const hk_vpart *parts,
                size_t n, unsigned char mac[HK_VMAC_MAX])
{
    EVP_MAC_CTX *ctx = thread_ctx(alg);
    size_t out_len = 0;
    /* An empty key is legal HMAC, but EVP wants a non-NULL pointer for it. */
    EVP_MAC_init(ctx, key_len ? key : (const void *)"", key_len, NULL);
    for (size_t i = 0; i < n; i++)
        if (parts[i].len)
            EVP_MAC_update(ctx, parts[i].data, parts[i].len);
    EVP_MAC_final(ctx, mac, &out_len, HK_VMAC_MAX);
    return out_len;
}

long hk__hex_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    if (n == 0 || n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hk_hex_digit(s[i]), lo = hk_hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

long hk__base64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    for (int pad = 0; pad < 2 && n > 0 && s[n - 1] == '='; pad++)
        n--; /* padding is optional; a third '=' fails below */
    if (n == 0 || n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int val = b64_value(s[i]);
        if (val < 0)
            return -1;
        acc = acc << 6 | (uint32_t)val;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

bool hk__ct_equal(const void *a, size_t a_len, const void *b, size_t b_len)
{
    unsigned char da[32], db[32];
    EVP_Digest(a_len ? a : "", a_len, da, NULL, EVP_sha256(), NULL);
    EVP_Digest(b_len ? b : "", b_len, db, NULL, EVP_sha256(), NULL);
    return (CRYPTO_memcmp(da, db, sizeof da) == 0) & (a_len == b_len);
}

bool hk__any_secret_matches(const hk_inbound_endpoint *ep, hk_hmac_algorithm alg,
                            const hk_vpart *parts, size_t n, const unsigned char *sig,
                            size_t sig_len)
{
    int match = 0;
    for (size_t i = 0; i < ep->secrets_len; i++) {
        unsigned char mac[HK_VMAC_MAX];
        size_t mac_len = hk__hmac(alg, ep->secrets[i], strlen(ep->secrets[i]), parts, n, mac);
        match |= mac_len == sig_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
    }
    return match;
}

bool hk__parse_digits(const char *s, size_t n, size_t max_digits, uint64_t *out)
{
    if (!s || n == 0 || n > max_digits)
        return false;
    uint64_t value = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        value = value * 10 + (uint64_t)(s[i] - '0');
    }
    *out = value;
    return true;
}

bool hk__within(uint64_t now_ms, uint64_t t_ms, long tolerance_s)
{
    uint64_t diff = now_ms > t_ms ? now_ms - t_ms : t_ms - now_ms;
    return diff <= (uint64_t)tolerance_s * 1000;
}

void hk__trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* ----------------------------------------------------------------- the one decision --- */

static bool is_challenge_source(hk_inbound_source source)
{
    return source == HK_SOURCE_SLACK || source == HK_SOURCE_FACEBOOK || source == HK_SOURCE_TWITTER;
}

/* Secrets a source needs before anything can pass. */
static bool needs_secret(hk_inbound_source source)
{
    return source != HK_SOURCE_SENDGRID && source != HK_SOURCE_CUSTOM &&
           source != HK_SOURCE_FACEBOOK; /* facebook's GET needs only the verify token */
}

void hk_inbound_verify(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                       const char *url, hk_inbound_verdict *out)
{
    memset(out, 0, sizeof *out);
    if (needs_secret(ep->source) && ep->secrets_len == 0) {
        hk__verdict_reject(out, HK_REJECT_NOT_CONFIGURED, "the endpoint has no secret");
        return;
    }
    /* The URL as signed: the caller's (or the endpoint's public one), with the query. */
    hk_buf full = {0};
    const char *base = url ? url : ep->public_url;
    if (base) {
        hk_buf_puts(&full, base);
        if (!strchr(base, '?') && req->query && *req->query)
            hk_buf_printf(&full, "?%s", req->query);
    }
    switch (ep->source) {
    case HK_SOURCE_GITHUB:
        hk__verify_github(ep, req, out);
        break;
    case HK_SOURCE_STRIPE:
        hk__verify_stripe(ep, req, out);
        break;
    case HK_SOURCE_SLACK:
        hk__verify_slack(ep, req, out);
        break;
    case HK_SOURCE_TWILIO:
        hk__verify_twilio(ep, req, full.data, out);
        break;
    case HK_SOURCE_PAGERDUTY:
        hk__verify_pagerduty(ep, req, out);
        break;
    case HK_SOURCE_ZENDESK:
        hk__verify_zendesk(ep, req, out);
        break;
    case HK_SOURCE_TWITTER:
        hk__verify_twitter(ep, req, out);
        break;
    case HK_SOURCE_FACEBOOK:
        hk__verify_facebook(ep, req, out);
        break;
    case HK_SOURCE_SENDGRID:
        hk__verify_sendgrid(ep, req, out);
        break;
    case HK_SOURCE_STANDARD:
        hk__verify_standard(ep, req, out);
        break;
    case HK_SOURCE_HOOKD:
        hk__verify_hookd(ep, req, full.data, out);
        break;
    case HK_SOURCE_CUSTOM:
        hk__verify_custom(ep, req, out);
        break;
    default:
        hk__verdict_reject(out, HK_REJECT_NOT_CONFIGURED, "unknown source");
        break;
    }
    hk_buf_free(&full);
    /* Until its challenge is answered, a challenge source takes nothing else (the Conductor
     * rule): a signed event before the URL is verified is refused like a forged one. */
    if (out->kind == HK_VERDICT_ACCEPT && is_challenge_source(ep->source) && !ep->verified) {
        hk__verdict_reject(out, HK_REJECT_NOT_A_CHALLENGE,
                           "not verified yet: only the provider's challenge is answered");
        out->provider_event_id[0] = '\0';
    }
}

/* ------------------------------------------------------------ credential headers --- */

static const char *const always_credentials[] = {"Authorization", "Proxy-Authorization", "Cookie",
                                                 NULL};

/* Each preset's signature and timestamp headers. */
static const char *const *preset_headers(hk_inbound_source source)
{
    static const char *const github[] = {"X-Hub-Signature-256", "X-Hub-Signature", NULL};
    static const char *const stripe[] = {"Stripe-Signature", NULL};
    static const char *const slack[] = {"X-Slack-Signature", "X-Slack-Request-Timestamp", NULL};
    static const char *const twilio[] = {"X-Twilio-Signature", NULL};
    static const char *const pagerduty[] = {"X-PagerDuty-Signature", NULL};
    static const char *const zendesk[] = {"X-Zendesk-Webhook-Signature",
                                          "X-Zendesk-Webhook-Signature-Timestamp", NULL};
    static const char *const twitter[] = {"X-Twitter-Webhooks-Signature", NULL};
    static const char *const sendgrid[] = {"X-Twilio-Email-Event-Webhook-Signature",
                                           "X-Twilio-Email-Event-Webhook-Timestamp", NULL};
    static const char *const standard[] = {"webhook-signature", "webhook-timestamp", NULL};
    static const char *const hookd[] = {"X-Webhook-Signature", NULL};
    static const char *const none[] = {NULL};
    switch (source) {
    case HK_SOURCE_GITHUB:
        return github;
    case HK_SOURCE_FACEBOOK:
        return github; /* the same X-Hub-Signature headers */
    case HK_SOURCE_STRIPE:
        return stripe;
    case HK_SOURCE_SLACK:
        return slack;
    case HK_SOURCE_TWILIO:
        return twilio;
    case HK_SOURCE_PAGERDUTY:
        return pagerduty;
    case HK_SOURCE_ZENDESK:
        return zendesk;
    case HK_SOURCE_TWITTER:
        return twitter;
    case HK_SOURCE_SENDGRID:
        return sendgrid;
    case HK_SOURCE_STANDARD:
        return standard;
    case HK_SOURCE_HOOKD:
        return hookd;
    default:
        return none;
    }
}

static bool same(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

bool hk_inbound_is_credential_header(const hk_inbound_endpoint *ep, const char *name)
{
    for (size_t i = 0; always_credentials[i]; i++)
        if (same(name, always_credentials[i]))
            return true;
    for (const char *const *h = preset_headers(ep->source); *h; h++)
        if (same(name, *h))
            return true;
    if (ep->source != HK_SOURCE_CUSTOM)
        return false;
    const hk_custom_verification *cv = &ep->verification;
    switch (cv->type) {
    case HK_CUSTOM_API_KEY:
        return !cv->in_query && same(name, cv->name);
    case HK_CUSTOM_HEADERS:
        for (size_t i = 0; i < cv->headers_len; i++)
            if (same(name, cv->headers[i].key))
                return true;
        return false;
    case HK_CUSTOM_HMAC:
        return same(name, cv->header) || same(name, cv->timestamp_header);
    default:
        return false;
    }
}

bool hk_inbound_is_credential_param(const hk_inbound_endpoint *ep, const char *name)
{
    if (!name)
        return false;
    if (ep->source == HK_SOURCE_FACEBOOK)
        return strcmp(name, "hub.verify_token") == 0;
    const hk_custom_verification *cv = &ep->verification;
    return ep->source == HK_SOURCE_CUSTOM && cv->type == HK_CUSTOM_API_KEY && cv->in_query &&
           cv->name && strcmp(name, cv->name) == 0;
}
