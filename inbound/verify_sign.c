/*
 * verify_sign.c — the other side of verify*.c: the headers a provider would send with a body,
 * for `hookctl inbound sign` / `send` and the tests. Each preset's message is the one its
 * check in verify_presets.c / verify_keyed.c reads.
 */
#include "verify_internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct out_headers {
    hk_kv *kv;
    size_t n;
} out_headers;

static void add(out_headers *h, const char *key, const char *value)
{
    h->kv = hk_xrealloc(h->kv, (h->n + 1) * sizeof *h->kv);
    h->kv[h->n].key = hk_strdup(key);
    h->kv[h->n].value = hk_strdup(value);
    h->n++;
}

/* "<prefix><encoded HMAC(secret, parts)>" into out. */
static void mac_text(hk_hmac_algorithm alg, const char *secret, const hk_vpart *parts, size_t n,
                     bool base64, const char *prefix, char *out, size_t out_size)
{
    unsigned char mac[HK_VMAC_MAX];
    size_t mac_len = hk__hmac(alg, secret, strlen(secret), parts, n, mac);
    char enc[2 * HK_VMAC_MAX + 1];
    if (base64)
        EVP_EncodeBlock((unsigned char *)enc, mac, (int)mac_len);
    else
        hk_hex(mac, mac_len, enc);
    size_t p = strlen(prefix), e = strlen(enc);
    if (p + e >= out_size) { /* the callers' buffers hold the longest: never cut a signature */
        out[0] = '\0';
        return;
    }
    memcpy(out, prefix, p);
    memcpy(out + p, enc, e + 1);
}

/* A message id from the time and the body (the same request signs to the same id). */
static void message_id(const char *prefix, uint64_t now_ms, const char *body, size_t len,
                       char out[40])
{
    char body_hex[65], seed[96], seed_hex[65];
    hk__sha256_hex(body, len, body_hex);
    int n = snprintf(seed, sizeof seed, "%llu.%s", (unsigned long long)now_ms, body_hex);
    hk__sha256_hex(seed, (size_t)n, seed_hex);
    snprintf(out, 40, "%s%.26s", prefix, seed_hex);
}

static int sign_twilio(const char *secret, const char *body, size_t len, const char *url,
                       out_headers *h, hk_error *err)
{
    if (!url || !*url)
        return hk_error_set(err, HK_EINVAL, "url", "twilio signs the URL; give it");
    const char *q = strchr(url, '?');
    const char *claimed = q ? strstr(q, "bodySHA256=") : NULL;
    if (claimed) {
        char actual[65];
        hk__sha256_hex(body, len, actual);
        if (strncasecmp(claimed + 11, actual, 64) != 0)
            return hk_error_set(err, HK_EINVAL, "url",
                                "bodySHA256 is not the body's SHA-256 (%s)", actual);
    } else if (len > 0 && (body[0] == '{' || body[0] == '[')) {
        char actual[65];
        hk__sha256_hex(body, len, actual);
        return hk_error_set(err, HK_EINVAL, "url",
                            "twilio signs a JSON body through bodySHA256=%s in the URL",
                            actual);
    }
    char *s = hk__twilio_string_to_sign(url, claimed ? NULL : body, claimed ? 0 : len);
    hk_vpart parts[] = {{s, strlen(s)}};
    char sig[128];
    mac_text(HK_HMAC_SHA1, secret, parts, 1, true, "", sig, sizeof sig);
    free(s);
    add(h, "X-Twilio-Signature", sig);
    return HK_OK;
}

static int sign_source(hk_inbound_source source, const char *secret, const char *body, size_t len,
                       uint64_t now_ms, const char *url, out_headers *h, hk_error *err)
{
    char sig[256], ts[40], id[40];
    hk_vpart body_part[] = {{body, len}};
    snprintf(ts, sizeof ts, "%llu", (unsigned long long)(now_ms / 1000));
    switch (source) {
    case HK_SOURCE_GITHUB:
    case HK_SOURCE_FACEBOOK:
        mac_text(HK_HMAC_SHA256, secret, body_part, 1, false, "sha256=", sig, sizeof sig);
        add(h, "X-Hub-Signature-256", sig);
        if (source == HK_SOURCE_GITHUB) {
            /* GitHub names each delivery (a GUID): the id its redeliveries share, which
             * hookd-ingress reads as the provider's event id. Here one from the time and body. */
            char hex[40], guid[40];
            message_id("", now_ms, body, len, hex);
            snprintf(guid, sizeof guid, "%.8s-%.4s-%.4s-%.4s-%.6s000000", hex, hex + 8, hex + 12,
                     hex + 16, hex + 20);
            add(h, "X-GitHub-Delivery", guid);
        }
        return HK_OK;
    case HK_SOURCE_STRIPE: {
        hk_vpart parts[] = {{ts, strlen(ts)}, {".", 1}, {body, len}};
        char v1[160];
        mac_text(HK_HMAC_SHA256, secret, parts, 3, false, "", v1, sizeof v1);
        snprintf(sig, sizeof sig, "t=%s,v1=%s", ts, v1);
        add(h, "Stripe-Signature", sig);
        return HK_OK;
    }
    case HK_SOURCE_SLACK: {
        hk_vpart parts[] = {{"v0:", 3}, {ts, strlen(ts)}, {":", 1}, {body, len}};
        mac_text(HK_HMAC_SHA256, secret, parts, 4, false, "v0=", sig, sizeof sig);
        add(h, "X-Slack-Request-Timestamp", ts);
        add(h, "X-Slack-Signature", sig);
        return HK_OK;
    }
    case HK_SOURCE_TWILIO:
        return sign_twilio(secret, body, len, url, h, err);
    case HK_SOURCE_PAGERDUTY:
        mac_text(HK_HMAC_SHA256, secret, body_part, 1, false, "v1=", sig, sizeof sig);
        add(h, "X-PagerDuty-Signature", sig);
        return HK_OK;
    case HK_SOURCE_ZENDESK: {
        time_t t = (time_t)(now_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        hk_vpart parts[] = {{ts, strlen(ts)}, {body, len}};
        mac_text(HK_HMAC_SHA256, secret, parts, 2, true, "", sig, sizeof sig);
        add(h, "X-Zendesk-Webhook-Signature", sig);
        add(h, "X-Zendesk-Webhook-Signature-Timestamp", ts);
        return HK_OK;
    }
    case HK_SOURCE_TWITTER:
        mac_text(HK_HMAC_SHA256, secret, body_part, 1, true, "sha256=", sig, sizeof sig);
        add(h, "X-Twitter-Webhooks-Signature", sig);
        return HK_OK;
    case HK_SOURCE_STANDARD:
        message_id("msg_", now_ms, body, len, id);
        if (hk_sign_standard(secret, id, now_ms / 1000, body, len, sig, sizeof sig) != HK_OK)
            return hk_error_set(err, HK_EINVAL, "secret",
                                "standard needs whsec_ followed by base64");
        add(h, "webhook-id", id);
        add(h, "webhook-timestamp", ts);
        add(h, "webhook-signature", sig);
        return HK_OK;
    case HK_SOURCE_HOOKD: {
        char hex[65];
        hk_sign_timestamped(secret, now_ms, body, len, hex);
        snprintf(sig, sizeof sig, "t=%llu,sha256=%s", (unsigned long long)now_ms, hex);
        message_id("msg_", now_ms, body, len, id);
        add(h, "X-Webhook-Id", id);
        add(h, "X-Webhook-Signature", sig);
        return HK_OK;
    }
    case HK_SOURCE_SENDGRID:
        return hk_error_set(err, HK_EINVAL, "source",
                            "sendgrid signs with its private key; hookd cannot sign "
                            "as sendgrid");
    default:
        return hk_error_set(err, HK_EINVAL, "source",
                            "custom is signed by the endpoint's own rules, not a preset");
    }
}

int hk_inbound_sign(hk_inbound_source source, const char *secret, const char *body, size_t len,
                    uint64_t now_ms, const char *url, hk_kv **headers, size_t *n, hk_error *err)
{
    *headers = NULL;
    *n = 0;
    if (source != HK_SOURCE_SENDGRID && source != HK_SOURCE_CUSTOM && (!secret || !*secret))
        return hk_error_set(err, HK_EINVAL, "secret", "required to sign");
    out_headers h = {0};
    int rc = sign_source(source, secret, body ? body : "", body ? len : 0, now_ms, url, &h, err);
    if (rc != HK_OK) {
        hk_kv_free(h.kv, h.n);
        return rc;
    }
    *headers = h.kv;
    *n = h.n;
    return HK_OK;
}
