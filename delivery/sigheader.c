/*
 * sigheader.c — reading an X-Webhook-Signature value strictly. A lenient reader is a downgrade:
 * with "t=-1" or "t=abc" read as "no timestamp", a captured timestamped signature of "<t>.<body>"
 * passes as a body signature of the body "<t>.<body>", with no age check, forever. So every
 * field must have exactly the form hookd sends, and the scheme is never guessed from a malformed
 * one. Pure: no allocation, no clock, no secret; fuzzed by tests/fuzz/fuzz_verify_header.c.
 */
#include "hk_delivery.h"

#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int parse_t(const char *v, size_t len, hk_signature_header *out, hk_error *err)
{
    if (out->has_t)
        return hk_error_set(err, HK_EINVAL, "t", "given more than once");
    if (len == 0)
        return hk_error_set(err, HK_EINVAL, "t", "empty; expected the unix time in milliseconds");
    uint64_t t = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return hk_error_set(err, HK_EINVAL, "t",
                                "expected the unix time in milliseconds, digits only");
        t = t * 10 + (uint64_t)(v[i] - '0');
        if (t > HK_SIGNATURE_T_MAX) /* checked per digit, so t never overflows */
            return hk_error_set(err, HK_EINVAL, "t", "out of range (after year 9999)");
    }
    out->has_t = true;
    out->t_ms = t;
    return HK_OK;
}

static int parse_sha256(const char *v, size_t len, hk_signature_header *out, hk_error *err)
{
    if (out->n_sigs == HK_SIGNATURE_MAX_SIGS)
        return hk_error_set(err, HK_EINVAL, "sha256", "more than %d signatures",
                            HK_SIGNATURE_MAX_SIGS);
    if (len != 64)
        return hk_error_set(err, HK_EINVAL, "sha256", "expected 64 hex digits, got %zu bytes", len);
    char *sig = out->sigs[out->n_sigs];
    for (size_t i = 0; i < 64; i++) {
        int h = hk_hex_digit(v[i]);
        if (h < 0)
            return hk_error_set(err, HK_EINVAL, "sha256", "expected 64 hex digits");
        sig[i] = "0123456789abcdef"[h];
    }
    sig[64] = '\0';
    out->n_sigs++;
    return HK_OK;
}

int hk_signature_header_parse(const char *value, size_t len, hk_signature_header *out,
                              hk_error *err)
{
    memset(out, 0, sizeof *out);
    if (!value || len == 0)
        return hk_error_set(err, HK_EINVAL, NULL, "empty");
    size_t pos = 0;
    for (;;) {
        size_t end = pos;
        while (end < len && value[end] != ',')
            end++;
        size_t a = pos, b = end; /* the field, without the spaces around it */
        while (a < b && is_space(value[a]))
            a++;
        while (b > a && is_space(value[b - 1]))
            b--;
        const char *field = value + a;
        size_t flen = b - a;
        const char *eq = flen ? memchr(field, '=', flen) : NULL;
        if (flen == 0)
            return hk_error_set(err, HK_EINVAL, NULL, "empty field");
        if (!eq)
            return hk_error_set(err, HK_EINVAL, NULL, "expected key=value fields (t=, sha256=)");
        size_t klen = (size_t)(eq - field), vlen = flen - klen - 1;
        int rc;
        if (klen == 1 && field[0] == 't')
            rc = parse_t(eq + 1, vlen, out, err);
        else if (klen == 6 && memcmp(field, "sha256", 6) == 0)
            rc = parse_sha256(eq + 1, vlen, out, err);
        else
            rc = hk_error_set(err, HK_EINVAL, NULL, "unknown field (only t= and sha256=)");
        if (rc != HK_OK)
            return rc;
        if (end == len)
            break;
        pos = end + 1;
    }
    if (out->n_sigs == 0)
        return hk_error_set(err, HK_EINVAL, "sha256", "missing");
    return HK_OK;
}
