/*
 * request.c — reading a received request: its headers by name and its query parameters.
 */
#include "hk_inbound.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *hk_inbound_header(const hk_inbound_request *req, const char *name)
{
    for (size_t i = 0; i < req->headers_len; i++)
        if (strcasecmp(req->headers[i].key, name) == 0)
            return req->headers[i].value;
    return NULL;
}

char *hk_inbound_form_decode(const char *s, size_t n, size_t *out_len)
{
    char *out = hk_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && (hi = hk_hex_digit(s[i + 1])) >= 0 &&
                   (lo = hk_hex_digit(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

/* Decodes s[0..n) into out, cut at out_len - 1 bytes. */
static void decode(const char *s, size_t n, char *out, size_t out_len)
{
    size_t len;
    char *d = hk_inbound_form_decode(s, n, &len);
    if (len >= out_len)
        len = out_len - 1;
    memcpy(out, d, len);
    out[len] = '\0';
    free(d);
}

bool hk_inbound_query_param(const hk_inbound_request *req, const char *name, char *out,
                            size_t out_len)
{
    if (!req->query || out_len == 0)
        return false;
    size_t name_len = strlen(name);
    const char *p = req->query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t key_len = eq ? (size_t)(eq - p) : len;
        char key[256];
        decode(p, key_len, key, sizeof key);
        if (strlen(key) == name_len && memcmp(key, name, name_len) == 0) {
            if (eq)
                decode(eq + 1, len - key_len - 1, out, out_len);
            else
                out[0] = '\0';
            return true;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}
