/*
 * verify.c — checking a hookd signature the way a receiver would: `hookctl verify` and the
 * `hookctl listen` receiver both use it. Comparisons are constant-time.
 */
#include "commands.h"

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

int hk_verify_check(const hk_verify_input *in, char *detail, size_t n)
{
    hk_sig_scheme scheme = in->scheme;
    if (scheme == HK_SIG_STANDARD || (scheme == HK_SIG_NONE && in->wh_signature))
        return verify_standard(in, detail, n);
    if (in->signature)
        return verify_hmac_header(in, scheme, detail, n);
    snprintf(detail, n, "no signature header");
    return HK_ERR;
}

bool hk_verify(const hk_verify_input *in, char *detail, size_t n)
{
    return hk_verify_check(in, detail, n) == HK_OK;
}

static void verify_usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl verify --secret S --header 'Name: value' [--header ...]\n"
            "                      [--scheme timestamped|body|standard]\n"
            "                      [--body-file F | --url U] [--method M] [--tolerance 300]\n"
            "\n"
            "Checks a hookd signature as a receiver would, in the scheme you expect (--scheme):\n"
            "  timestamped  X-Webhook-Signature: t=<unix ms>,sha256=<hex> over '<t>.<body>' for\n"
            "               POST, PUT and PATCH, '<t>.<url>' for GET and DELETE (--url U implies\n"
            "               GET unless --method says otherwise). The default.\n"
            "  body         X-Webhook-Signature: sha256=<hex> over the body (or the task's own\n"
            "               header name, as set by its signatureHeader).\n"
            "  standard     webhook-id, webhook-timestamp and webhook-signature (Standard\n"
            "               Webhooks); the default when only those headers are given.\n"
            "A header without t= never passes as timestamped, nor one with t= as body, and a t=\n"
            "that is not the unix time in milliseconds (digits only: not -1, not abc) is bad\n"
            "input. --tolerance is the largest accepted age in seconds of a timestamped or\n"
            "standard signature (default 300; 0 accepts any age, for checking old samples).\n"
            "Exit 0 when it verifies, 1 when it does not, 2 on bad usage or a malformed header.\n"
            "Example: hookctl verify --secret mySecret --header 'X-Webhook-Signature: "
            "t=1568818215724,sha256=...' --body-file body.txt --tolerance 0\n");
}

int hk_cmd_verify(int argc, char **argv, const hk_config *cfg)
{
    (void)cfg;
    hk_verify_input in = {.tolerance_s = 300};
    const char *body_file = NULL, *method = NULL;
    char *body = NULL, sig_name[64];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            verify_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "hookctl: %s: needs a value (see hookctl verify --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--secret") == 0)
            in.secret = v;
        else if (strcmp(a, "--body-file") == 0)
            body_file = v;
        else if (strcmp(a, "--url") == 0)
            in.url = v;
        else if (strcmp(a, "--method") == 0)
            method = v;
        else if (strcmp(a, "--scheme") == 0) {
            if (strcmp(v, "timestamped") == 0)
                in.scheme = HK_SIG_TIMESTAMPED;
            else if (strcmp(v, "body") == 0)
                in.scheme = HK_SIG_BODY;
            else if (strcmp(v, "standard") == 0)
                in.scheme = HK_SIG_STANDARD;
            else {
                fprintf(stderr, "hookctl: --scheme: expected timestamped, body or standard\n");
                return 2;
            }
        } else if (strcmp(a, "--tolerance") == 0) {
            char *end;
            in.tolerance_s = strtol(v, &end, 10);
            if (*end || in.tolerance_s < 0) {
                fprintf(stderr, "hookctl: --tolerance: must be a number of seconds\n");
                return 2;
            }
        } else if (strcmp(a, "--header") == 0) {
            const char *colon = strchr(v, ':');
            if (!colon) {
                fprintf(stderr, "hookctl: --header: expected 'Name: value'\n");
                return 2;
            }
            size_t nlen = (size_t)(colon - v);
            const char *val = colon + 1;
            while (*val == ' ')
                val++;
            if (nlen == 10 && strncasecmp(v, "webhook-id", 10) == 0)
                in.wh_id = val;
            else if (nlen == 17 && strncasecmp(v, "webhook-timestamp", 17) == 0)
                in.wh_timestamp = val;
            else if (nlen == 17 && strncasecmp(v, "webhook-signature", 17) == 0)
                in.wh_signature = val;
            else {
                in.signature = val;
                snprintf(sig_name, sizeof sig_name, "%.*s", (int)nlen, v);
                in.signature_name = sig_name;
            }
        } else {
            fprintf(stderr, "hookctl: %s: unknown flag (see hookctl verify --help)\n", a);
            return 2;
        }
    }
    if (!in.secret) {
        fprintf(stderr, "hookctl: --secret: required\n");
        return 2;
    }
    if (!in.signature && !in.wh_signature) {
        fprintf(stderr, "hookctl: --header: give the signature header as received\n");
        return 2;
    }
    if (in.scheme == HK_SIG_NONE) { /* the caller's scheme, never a guess from the value */
        if (in.signature && in.wh_signature) {
            fprintf(stderr,
                    "hookctl: --scheme: both an %s and a webhook-signature header; say "
                    "which scheme to check\n",
                    sig_name);
            return 2;
        }
        in.scheme = in.wh_signature ? HK_SIG_STANDARD : HK_SIG_TIMESTAMPED;
    }
    if (in.scheme == HK_SIG_STANDARD ? !in.wh_signature : !in.signature) {
        fprintf(stderr, "hookctl: --header: the %s scheme needs the %s header\n",
                in.scheme == HK_SIG_STANDARD ? "standard"
                : in.scheme == HK_SIG_BODY   ? "body"
                                             : "timestamped",
                in.scheme == HK_SIG_STANDARD ? "webhook-signature" : "X-Webhook-Signature");
        return 2;
    }
    if (body_file) {
        hk_buf text = {0};
        if (hk_cmd_read_file(body_file, &text) != HK_OK) {
            fprintf(stderr, "hookctl: --body-file: cannot read %s\n", body_file);
            return 2;
        }
        in.body_len = text.len;
        in.body = body = hk_buf_take(&text);
    }
    in.method = method ? method : (in.url && !body_file ? "GET" : "POST");
    char detail[256];
    int rc = hk_verify_check(&in, detail, sizeof detail);
    free(body);
    if (rc == HK_EINVAL) { /* a malformed header is bad input, whatever --json says */
        fprintf(stderr, "hookctl: %s\n", detail);
        return 2;
    }
    if (hk_cmd_json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "valid", rc == HK_OK);
        cJSON_AddStringToObject(o, "detail", detail);
        hk_print_json(o);
        cJSON_Delete(o);
    } else if (rc == HK_OK) {
        printf("%s\n", detail);
    } else {
        fprintf(stderr, "hookctl: %s\n", detail);
    }
    return rc == HK_OK ? 0 : 1;
}
