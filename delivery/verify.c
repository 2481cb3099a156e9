/*
 * verify.c — checking a hookd signature the way a receiver would, the other side of sign.c:
 * `hookctl verify` and the `hookctl listen` receiver both use it. Comparisons are constant-time.
 * The details name hookctl's flags where a flag is the fix (--url, --scheme): their only readers.
 */
#include "hk_delivery.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool body_method(const char *method)
{
    return strcasecmp(method, "POST") == 0 || strcasecmp(method, "PUT") == 0 ||
           strcasecmp(method, "PATCH") == 0;
}

/* The timestamped and body schemes: "t=<ms>,sha256=<hex>[,...]" or "sha256=<hex>[,...]", read
 * by hk_signature_header_parse(). The scheme is the caller's (verify's --scheme): a header without
 * t= never passes as timestamped, nor one with t= as body. Only `listen` (HK_SIG_NONE) goes by
 * the header's form, and it still refuses a t= that is not digits. */
static int verify_hmac_header(const hk_verify_input *in, hk_sig_scheme scheme, char *detail,
                              size_t n)
{
    const char *name = in->signature_name ? in->signature_name : "X-Webhook-Signature";
    hk_signature_header sh;
    hk_error err = {0};
    if (hk_signature_header_parse(in->signature, strlen(in->signature), &sh, &err) != HK_OK) {
        snprintf(detail, n, "%s: %s", name, err.msg);
        return HK_EINVAL;
    }
    if (scheme == HK_SIG_NONE)
        scheme = sh.has_t ? HK_SIG_TIMESTAMPED : HK_SIG_BODY;
    if (scheme == HK_SIG_TIMESTAMPED && !sh.has_t) {
        snprintf(detail, n,
                 "%s has no t=: not a timestamped signature (--scheme body checks a body one)",
                 name);
        return HK_ERR;
    }
    if (scheme == HK_SIG_BODY && sh.has_t) {
        snprintf(detail, n, "%s carries t=: a timestamped signature, not a body one", name);
        return HK_ERR;
    }
    bool timestamped = scheme == HK_SIG_TIMESTAMPED;
    char expect[65];
    if (timestamped) {
        bool use_body = body_method(in->method ? in->method : "POST");
        const char *payload = use_body ? in->body : in->url;
        size_t len = use_body ? in->body_len : (payload ? strlen(payload) : 0);
        if (!payload) {
            snprintf(detail, n, "--url: a GET or DELETE signature is over the URL; give it");
            return HK_EINVAL;
        }
        hk_sign_timestamped(in->secret, sh.t_ms, payload, len, expect);
    } else {
        hk_sign_body(in->secret, in->body ? in->body : "", in->body ? in->body_len : 0, expect);
    }
    int match = 0; /* every value compared, in constant time each */
    for (size_t i = 0; i < sh.n_sigs; i++)
        match |= CRYPTO_memcmp(sh.sigs[i], expect, 64) == 0;
    if (!match) {
        snprintf(detail, n, "%s signature does not match", timestamped ? "timestamped" : "body");
        return HK_ERR;
    }
    if (!timestamped) {
        snprintf(detail, n, "valid body signature");
        return HK_OK;
    }
    long long age_ms = (long long)hk_wall_ms() - (long long)sh.t_ms;
    if (in->tolerance_s == 0) {
        snprintf(detail, n, "valid timestamped signature (t=%llu, age not checked: tolerance 0)",
                 (unsigned long long)sh.t_ms);
        return HK_OK;
    }
    if (llabs(age_ms) > in->tolerance_s * 1000LL) {
        snprintf(detail, n,
                 "timestamped signature matches but t=%llu is %lld s old (tolerance %ld s)",
                 (unsigned long long)sh.t_ms, age_ms / 1000, in->tolerance_s);
        return HK_ERR;
    }
    snprintf(detail, n, "valid timestamped signature (t=%llu, age %lld ms)",
             (unsigned long long)sh.t_ms, age_ms);
    return HK_OK;
}

static int verify_standard(const hk_verify_input *in, char *detail, size_t n)
{
    if (!in->wh_id || !in->wh_timestamp || !in->wh_signature) {
        snprintf(detail, n,
                 "standard signature needs webhook-id, webhook-timestamp and webhook-signature");
        return HK_ERR;
    }
    /* Digits only, like t=: "-1" or "abc" is malformed, never "0" or some other age. */
    size_t tlen = strlen(in->wh_timestamp);
    bool digits = tlen > 0 && tlen <= 12 && strspn(in->wh_timestamp, "0123456789") == tlen;
    if (!digits) {
        snprintf(detail, n, "webhook-timestamp: expected the unix time in seconds, digits only");
        return HK_EINVAL;
    }
    long long ts = atoll(in->wh_timestamp);
    char expect[128];
    if (hk_sign_standard(in->secret, in->wh_id, (uint64_t)ts, in->body ? in->body : "",
                         in->body ? in->body_len : 0, expect, sizeof expect) != HK_OK) {
        snprintf(detail, n, "the secret is not a whsec_ secret");
        return HK_EINVAL;
    }
    bool ok = false;
    char *copy = hk_strdup(in->wh_signature), *save = NULL;
    for (char *part = strtok_r(copy, " ", &save); part && !ok; part = strtok_r(NULL, " ", &save))
        ok = strlen(part) == strlen(expect) && CRYPTO_memcmp(part, expect, strlen(expect)) == 0;
    free(copy);
    if (!ok) {
        snprintf(detail, n, "standard signature does not match");
        return HK_ERR;
    }
    long long age = (long long)(hk_wall_ms() / 1000) - ts;
    if (in->tolerance_s > 0 && llabs(age) > in->tolerance_s) {
        snprintf(detail, n, "standard signature matches but is %lld s old", age);
        return HK_ERR;
    }
    snprintf(detail, n, "valid standard signature (webhook-id %s, age %lld s)", in->wh_id, age);
    return HK_OK;
}

int hk_verify(const hk_verify_input *in, char *detail, size_t n)
{
    hk_sig_scheme scheme = in->scheme;
    if (scheme == HK_SIG_STANDARD || (scheme == HK_SIG_NONE && in->wh_signature))
        return verify_standard(in, detail, n);
    if (in->signature)
        return verify_hmac_header(in, scheme, detail, n);
    snprintf(detail, n, "no signature header");
    return HK_ERR;
}
