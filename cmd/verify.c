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

static bool hex_equal(const char *a, const char *b, size_t len)
{
    return strlen(a) >= len && strlen(b) >= len && CRYPTO_memcmp(a, b, len) == 0;
}

static bool body_method(const char *method)
{
    return strcasecmp(method, "POST") == 0 || strcasecmp(method, "PUT") == 0 ||
           strcasecmp(method, "PATCH") == 0;
}

/* "t=<ms>,sha256=<hex>[,sha256=<hex>]" or "sha256=<hex>[,...]" */
static bool verify_hmac_header(const hk_verify_input *in, char *detail, size_t n)
{
    char *copy = hk_strdup(in->signature), *save = NULL;
    long long t = -1;
    const char *sigs[8];
    size_t nsigs = 0;
    for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        while (*part == ' ')
            part++;
        if (strncmp(part, "t=", 2) == 0)
            t = atoll(part + 2);
        else if (strncmp(part, "sha256=", 7) == 0 && nsigs < 8)
            sigs[nsigs++] = part + 7;
    }
    bool ok = false;
    char expect[65];
    if (nsigs == 0) {
        snprintf(detail, n, "no sha256= value in the signature header");
        goto done;
    }
    if (t >= 0) {
        bool use_body = body_method(in->method ? in->method : "POST");
        const char *payload = use_body ? in->body : in->url;
        size_t len = use_body ? in->body_len : (payload ? strlen(payload) : 0);
        if (!payload) {
            snprintf(detail, n, "a GET or DELETE signature needs the URL (--url)");
            goto done;
        }
        hk_sign_timestamped(in->secret, (uint64_t)t, payload, len, expect);
    } else {
        hk_sign_body(in->secret, in->body ? in->body : "", in->body ? in->body_len : 0, expect);
    }
    for (size_t i = 0; i < nsigs && !ok; i++)
        ok = hex_equal(sigs[i], expect, 64) && strlen(sigs[i]) == 64;
    if (!ok) {
        snprintf(detail, n, "%s signature does not match", t >= 0 ? "timestamped" : "body");
        goto done;
    }
    if (t >= 0 && in->tolerance_s > 0) {
        long long age_ms = (long long)hk_wall_ms() - t;
        if (llabs(age_ms) > in->tolerance_s * 1000LL) {
            snprintf(detail, n, "timestamped signature matches but t=%lld is %lld s old (tolerance %ld s)",
                     t, age_ms / 1000, in->tolerance_s);
            ok = false;
            goto done;
        }
        snprintf(detail, n, "valid timestamped signature (t=%lld, age %lld ms)", t, age_ms);
    } else {
        snprintf(detail, n, "valid %s signature", t >= 0 ? "timestamped" : "body");
    }
done:
    free(copy);
    return ok;
}

static bool verify_standard(const hk_verify_input *in, char *detail, size_t n)
{
    if (!in->wh_id || !in->wh_timestamp) {
        snprintf(detail, n, "standard signature needs webhook-id and webhook-timestamp");
        return false;
    }
    long long ts = atoll(in->wh_timestamp);
    char expect[128];
    if (hk_sign_standard(in->secret, in->wh_id, (uint64_t)ts, in->body ? in->body : "",
                         in->body ? in->body_len : 0, expect, sizeof expect) != HK_OK) {
        snprintf(detail, n, "the secret is not a whsec_ secret");
        return false;
    }
    bool ok = false;
    char *copy = hk_strdup(in->wh_signature), *save = NULL;
    for (char *part = strtok_r(copy, " ", &save); part && !ok; part = strtok_r(NULL, " ", &save))
        ok = strlen(part) == strlen(expect) && CRYPTO_memcmp(part, expect, strlen(expect)) == 0;
    free(copy);
    if (!ok) {
        snprintf(detail, n, "standard signature does not match");
        return false;
    }
    long long age = (long long)(hk_wall_ms() / 1000) - ts;
    if (in->tolerance_s > 0 && llabs(age) > in->tolerance_s) {
        snprintf(detail, n, "standard signature matches but is %lld s old", age);
        return false;
    }
    snprintf(detail, n, "valid standard signature (webhook-id %s, age %lld s)", in->wh_id, age);
    return true;
}

bool hk_verify(const hk_verify_input *in, char *detail, size_t n)
{
    if (in->wh_signature)
        return verify_standard(in, detail, n);
    if (in->signature)
        return verify_hmac_header(in, detail, n);
    snprintf(detail, n, "no signature header");
    return false;
}

static void verify_usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl verify --secret S --header 'Name: value' [--header ...]\n"
            "                      [--body-file F | --url U] [--method M] [--tolerance 300]\n"
            "\n"
            "Checks a hookd signature as a receiver would. Give the signature header(s) as\n"
            "received: X-Webhook-Signature (timestamped or body scheme, or the task's own\n"
            "header name), or webhook-id, webhook-timestamp and webhook-signature (standard).\n"
            "The timestamped scheme signs '<t>.<body>' for POST, PUT and PATCH and '<t>.<url>'\n"
            "for GET and DELETE (--url U implies GET unless --method says otherwise).\n"
            "--tolerance is the largest accepted age in seconds (0: no check; default 300).\n"
            "Exit 0 when it verifies, 1 when it does not, 2 on bad usage.\n"
            "Example: hookctl verify --secret mySecret --header 'X-Webhook-Signature: t=1568818215724,sha256=...' --body-file body.txt --tolerance 0\n");
}

int hk_cmd_verify(int argc, char **argv, const hk_config *cfg)
{
    (void)cfg;
    hk_verify_input in = {.tolerance_s = 300};
    const char *body_file = NULL, *method = NULL;
    char *body = NULL;
    int status = 2;
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
        else if (strcmp(a, "--tolerance") == 0) {
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
            else
                in.signature = val;
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
    bool valid = hk_verify(&in, detail, sizeof detail);
    if (hk_cmd_json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "valid", valid);
        cJSON_AddStringToObject(o, "detail", detail);
        hk_print_json(o);
        cJSON_Delete(o);
    } else if (valid) {
        printf("%s\n", detail);
    } else {
        fprintf(stderr, "hookctl: %s\n", detail);
    }
    status = valid ? 0 : 1;
    free(body);
    return status;
}
