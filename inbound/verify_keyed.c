/*
 * verify_keyed.c — the two presets whose signed message is more than the body: Twilio (the URL
 * and the sorted form parameters, or the URL with bodySHA256 for a JSON body, as twilio's
 * RequestValidator) and SendGrid (an ECDSA P-256 signature over timestamp + body, checked with
 * the endpoint's public key).
 */
#include "verify_internal.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------- twilio --- */

typedef struct pair {
    char *name, *value;
    size_t name_len, value_len;
} pair;

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int cmp_pair(const void *x, const void *y)
{
    const pair *a = x, *b = y;
    int c = cmp_bytes(a->name, a->name_len, b->name, b->name_len);
    return c ? c : cmp_bytes(a->value, a->value_len, b->value, b->value_len);
}

char *hk__twilio_string_to_sign(const char *url, const char *form, size_t form_len)
{
    hk_buf s = {0};
    hk_buf_puts(&s, url);
    size_t n = 0, cap = 0;
    pair *pairs = NULL;
    for (size_t i = 0; form && i < form_len;) {
        const char *p = form + i;
        const char *end = memchr(p, '&', form_len - i);
        size_t len = end ? (size_t)(end - p) : form_len - i;
        i += len + 1;
        if (len == 0)
            continue;
        const char *eq = memchr(p, '=', len);
        size_t key_len = eq ? (size_t)(eq - p) : len;
        if (n == cap)
            pairs = hk_xrealloc(pairs, (cap = cap ? cap * 2 : 16) * sizeof *pairs);
        pairs[n].name = hk_inbound_form_decode(p, key_len, &pairs[n].name_len);
        pairs[n].value = hk_inbound_form_decode(eq ? eq + 1 : "", eq ? len - key_len - 1 : 0,
                                                &pairs[n].value_len);
        n++;
    }
    if (n)
        qsort(pairs, n, sizeof *pairs, cmp_pair);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || cmp_pair(&pairs[i - 1], &pairs[i]) != 0) { /* set(): each pair once */
            hk_buf_append(&s, pairs[i].name, pairs[i].name_len);
            hk_buf_append(&s, pairs[i].value, pairs[i].value_len);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
    return hk_buf_take(&s);
}

void hk__sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char digest[32];
    EVP_Digest(len ? data : "", len, digest, NULL, EVP_sha256(), NULL);
    hk_hex(digest, sizeof digest, out);
}

/* The URL with and without its port, as RequestValidator tries both (Twilio's own signing is
 * not consistent about it): [0] without, [1] with (443 or 80 added when it had none). */
static void port_variants(const char *url, char *variants[2])
{
    const char *sep = strstr(url, "://");
    const char *host = sep ? sep + 3 : url;
    size_t host_len = strcspn(host, "/?#");
    const char *bracket = memchr(host, ']', host_len); /* an IPv6 literal's colons */
    const char *from = bracket ? bracket : host;
    const char *colon = memchr(from, ':', host_len - (size_t)(from - host));
    hk_buf a = {0}, b = {0};
    if (colon) {
        hk_buf_append(&a, url, (size_t)(colon - url));
        hk_buf_puts(&a, host + host_len);
        hk_buf_puts(&b, url);
    } else {
        bool https = sep && (size_t)(sep - url) == 5 && strncasecmp(url, "https", 5) == 0;
        hk_buf_puts(&a, url);
        hk_buf_append(&b, url, (size_t)(host + host_len - url));
        hk_buf_puts(&b, https ? ":443" : ":80");
        hk_buf_puts(&b, host + host_len);
    }
    variants[0] = hk_buf_take(&a);
    variants[1] = hk_buf_take(&b);
}

static bool is_form(const hk_inbound_request *req)
{
    const char *ct = hk_inbound_header(req, "Content-Type");
    return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

/* The algorithm X-Twilio-Webhooks-Signature-Settings names ("...,algorithm=HMAC_SHA256"):
 * HMAC-SHA1 when absent; false for one twilio does not define. */
static bool twilio_algorithm(const hk_inbound_request *req, hk_hmac_algorithm *alg)
{
    *alg = HK_HMAC_SHA1;
    const char *settings = hk_inbound_header(req, "X-Twilio-Webhooks-Signature-Settings");
    for (const char *p = settings; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *item = p;
        hk__trim(&item, &len);
        if (len > 10 && strncmp(item, "algorithm=", 10) == 0) {
            item += 10;
            len -= 10;
            hk__trim(&item, &len);
            if (len == 9 && strncasecmp(item, "HMAC_SHA1", 9) == 0)
                *alg = HK_HMAC_SHA1;
            else if (len == 11 && strncasecmp(item, "HMAC_SHA256", 11) == 0)
                *alg = HK_HMAC_SHA256;
            else
                return false;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return true;
}

/* bodySHA256 from the URL's query, if any, into out. */
static bool url_body_hash(const char *url, char *out, size_t out_len)
{
    const char *q = strchr(url, '?');
    if (!q)
        return false;
    char *query = hk_strndup(q + 1, strcspn(q + 1, "#"));
    hk_inbound_request r = {.query = query};
    bool found = hk_inbound_query_param(&r, "bodySHA256", out, out_len);
    free(query);
    return found;
}

void hk__verify_twilio(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                       const char *url, hk_inbound_verdict *v)
{
    const char *sig = hk_inbound_header(req, "X-Twilio-Signature");
    if (!sig) {
        hk__verdict_reject(v, HK_REJECT_MISSING_SIGNATURE, "X-Twilio-Signature is absent");
        return;
    }
    if (!url) {
        hk__verdict_reject(v, HK_REJECT_NOT_CONFIGURED,
                           "no URL to check X-Twilio-Signature "
                           "against (publicUrl)");
        return;
    }
    hk_hmac_algorithm alg;
    unsigned char mac[HK_VMAC_MAX];
    long mac_len = hk__base64_decode(sig, strlen(sig), mac, sizeof mac);
    if (!twilio_algorithm(req, &alg) || mac_len < 0) {
        hk__verdict_reject(v, HK_REJECT_MALFORMED_SIGNATURE,
                           "X-Twilio-Signature: expected base64 HMAC-SHA1 (or the algorithm "
                           "X-Twilio-Webhooks-Signature-Settings names)");
        return;
    }
    char claimed[80];
    bool body_hash = url_body_hash(url, claimed, sizeof claimed);
    bool hash_ok = true;
    if (body_hash) {
        /* A JSON body: the URL alone is signed, and it carries the body's hash. */
        char actual[65];
        unsigned char want[32], got[32];
        hk__sha256_hex(req->body, req->body_len, actual);
        long n = hk__hex_decode(claimed, strlen(claimed), want, sizeof want);
        hk__hex_decode(actual, 64, got, sizeof got);
        hash_ok = n == 32 && CRYPTO_memcmp(want, got, 32) == 0;
    }
    bool form = !body_hash && req->method && strcasecmp(req->method, "POST") == 0 && is_form(req);
    char *variants[2];
    port_variants(url, variants);
    bool ok = false;
    for (int i = 0; i < 2; i++) {
        char *s = hk__twilio_string_to_sign(variants[i], form ? req->body : NULL,
                                            form ? req->body_len : 0);
        hk_vpart parts[] = {{s, strlen(s)}};
        ok |= hk__any_secret_matches(ep, alg, parts, 1, mac, (size_t)mac_len);
        free(s);
        free(variants[i]);
    }
    if (!ok) {
        hk__verdict_reject(v, HK_REJECT_BAD_SIGNATURE, "X-Twilio-Signature does not match");
        return;
    }
    if (!hash_ok) {
        hk__verdict_reject(v, HK_REJECT_BAD_BODY_HASH, "bodySHA256 is not the body's SHA-256");
        return;
    }
    hk__verdict_accept(v);
    const char *token = hk_inbound_header(req, "I-Twilio-Idempotency-Token");
    if (token)
        hk__verdict_event_id(v, token, strlen(token));
}

/* ----------------------------------------------------------------------- sendgrid --- */

/* The endpoint's public key: PEM, or base64 DER SubjectPublicKeyInfo as SendGrid shows it
 * (whitespace ignored). NULL when it is neither or not an EC key. */
static EVP_PKEY *load_public_key(const char *text)
{
    EVP_PKEY *pkey = NULL;
    if (strstr(text, "-----BEGIN")) {
        BIO *bio = BIO_new_mem_buf(text, -1);
        pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
    } else {
        size_t n = strlen(text), o = 0;
        char *compact = hk_xmalloc(n + 1);
        for (size_t i = 0; i < n; i++)
            if (!isspace((unsigned char)text[i]))
                compact[o++] = text[i];
        unsigned char der[1024];
        long der_len = hk__base64_decode(compact, o, der, sizeof der);
        free(compact);
        const unsigned char *p = der;
        if (der_len > 0)
            pkey = d2i_PUBKEY(NULL, &p, der_len);
    }
    ERR_clear_error(); /* a failed parse leaves its errors queued for no one */
    if (pkey && !EVP_PKEY_is_a(pkey, "EC")) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

void hk__verify_sendgrid(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                         hk_inbound_verdict *v)
{
    const char *sig = hk_inbound_header(req, "X-Twilio-Email-Event-Webhook-Signature");
    const char *ts = hk_inbound_header(req, "X-Twilio-Email-Event-Webhook-Timestamp");
    if (!sig || !ts) {
        hk__verdict_reject(v, HK_REJECT_MISSING_SIGNATURE,
                           "X-Twilio-Email-Event-Webhook-%s "
                           "is absent",
                           sig ? "Timestamp" : "Signature");
        return;
    }
    EVP_PKEY *pkey = ep->public_key ? load_public_key(ep->public_key) : NULL;
    if (!pkey) {
        hk__verdict_reject(v, HK_REJECT_NOT_CONFIGURED,
                           "publicKey is absent or not an EC public key");
        return;
    }
    unsigned char der[256];
    long der_len = hk__base64_decode(sig, strlen(sig), der, sizeof der);
    uint64_t t_s = 0;
    if (der_len < 0 || !hk__parse_digits(ts, strlen(ts), 12, &t_s)) {
        EVP_PKEY_free(pkey);
        hk__verdict_reject(v, HK_REJECT_MALFORMED_SIGNATURE,
                           "X-Twilio-Email-Event-Webhook-Signature or -Timestamp: expected "
                           "base64 DER and unix seconds");
        return;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
              EVP_DigestVerifyUpdate(md, ts, strlen(ts)) == 1 &&
              (req->body_len == 0 || EVP_DigestVerifyUpdate(md, req->body, req->body_len) == 1) &&
              EVP_DigestVerifyFinal(md, der, (size_t)der_len) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    if (!ok) {
        hk__verdict_reject(v, HK_REJECT_BAD_SIGNATURE,
                           "X-Twilio-Email-Event-Webhook-Signature does not verify");
        return;
    }
    if (!hk__within(req->now_ms, t_s * 1000, HK_INBOUND_TOLERANCE_S)) {
        hk__verdict_reject(v, HK_REJECT_STALE_TIMESTAMP,
                           "X-Twilio-Email-Event-Webhook-Timestamp %llu is off by more than %d s",
                           (unsigned long long)t_s, HK_INBOUND_TOLERANCE_S);
        return;
    }
    hk__verdict_accept(v);
}
