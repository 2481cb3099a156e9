/*
 * fields.c — the field checks that webhook tasks and job events share: URLs (http or https,
 * a host libcurl can read, a valid port) and whether two share an origin, header names and
 * values, task ids and flowIds, and Standard Webhooks secrets. Each refusal is HK_EINVAL with
 * err naming the field the caller passes, so a task, an event override, an API path and a
 * command line all get the same message (hk_model.h declares them).
 */
#include "hk_model.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int hk_validate_url(const char *url, const char *field, hk_error *err)
{
    size_t len = strlen(url);
    if (len == 0)
        return hk_error_set(err, HK_EINVAL, field, "required");
    if (len > 2048)
        return hk_error_set(err, HK_EINVAL, field, "longer than 2048 characters");
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return hk_error_set(err, HK_EINVAL, field,
                                "contains whitespace or a control character");
    /* A fragment never leaves the client: the receiver could not check a signature over it. */
    if (strchr(url, '#'))
        return hk_error_set(err, HK_EINVAL, field,
                            "has a fragment (#...), which is never sent: leave it out");
    size_t scheme_len;
    if (strncasecmp(url, "https://", 8) == 0)
        scheme_len = 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        scheme_len = 7;
    else
        return hk_error_set(err, HK_EINVAL, field, "scheme must be http or https");
    const char *authority = url + scheme_len;
    size_t alen = strcspn(authority, "/?#");
    if (memchr(authority, '@', alen))
        return hk_error_set(err, HK_EINVAL, field, "must not contain user-info (user:password@)");
    size_t host_len = alen;
    if (alen && authority[0] == '[') {
        const char *close = memchr(authority, ']', alen);
        if (!close)
            return hk_error_set(err, HK_EINVAL, field, "unterminated IPv6 address");
        host_len = (size_t)(close - authority) + 1;
    } else {
        const char *colon = memchr(authority, ':', alen);
        if (colon)
            host_len = (size_t)(colon - authority);
    }
    if (host_len == 0)
        return hk_error_set(err, HK_EINVAL, field, "has no host");
    /* The host as libcurl will read it: an IPv6 literal it can parse, or a name of letters,
     * digits, '-', '.' and '_' (an international name in its xn-- form). Anything else is a
     * task that could never be delivered (found by fuzz_url: "https://a]b.example/"). */
    if (authority[0] == '[') {
        char literal[64];
        struct in6_addr a6;
        if (host_len - 2 >= sizeof literal)
            return hk_error_set(err, HK_EINVAL, field, "has an invalid IPv6 address");
        memcpy(literal, authority + 1, host_len - 2);
        literal[host_len - 2] = '\0';
        if (inet_pton(AF_INET6, literal, &a6) != 1)
            return hk_error_set(err, HK_EINVAL, field, "has an invalid IPv6 address");
    } else {
        for (size_t i = 0; i < host_len; i++) {
            unsigned char c = (unsigned char)authority[i];
            if (!isalnum(c) && c != '-' && c != '.' && c != '_')
                return hk_error_set(err, HK_EINVAL, field,
                                    "host may hold only letters, digits, '-', '.' and '_' (an "
                                    "international name in its xn-- form)");
        }
    }
    if (host_len < alen) {
        const char *port = authority + host_len + 1;
        size_t plen = alen - host_len - 1;
        if (authority[host_len] != ':' || plen == 0 || plen > 5)
            return hk_error_set(err, HK_EINVAL, field, "has an invalid port");
        for (size_t i = 0; i < plen; i++)
            if (!isdigit((unsigned char)port[i]))
                return hk_error_set(err, HK_EINVAL, field, "has an invalid port");
        if (atoi(port) < 1 || atoi(port) > 65535)
            return hk_error_set(err, HK_EINVAL, field, "has an invalid port");
    }
    return HK_OK;
}

/* The host of a valid URL (brackets kept for IPv6), its length, and its port (the default
 * one of the scheme when none is written). */
static void url_origin(const char *url, bool *https, const char **host, size_t *host_len,
                       long *port)
{
    *https = strncasecmp(url, "https://", 8) == 0;
    const char *authority = url + (*https ? 8 : 7);
    size_t alen = strcspn(authority, "/?#");
    size_t hlen = alen;
    if (alen && authority[0] == '[') {
        const char *close = memchr(authority, ']', alen);
        hlen = close ? (size_t)(close - authority) + 1 : alen;
    } else {
        const char *colon = memchr(authority, ':', alen);
        if (colon)
            hlen = (size_t)(colon - authority);
    }
    *host = authority;
    *host_len = hlen;
    *port = hlen < alen ? strtol(authority + hlen + 1, NULL, 10) : (*https ? 443 : 80);
}

char *hk_url_as_sent(const char *url)
{
    const char *authority = strstr(url, "://");
    authority = authority ? authority + 3 : url;
    size_t alen = strcspn(authority, "/?");
    if (authority[alen] == '/')
        return hk_strdup(url);
    hk_buf b = {0}; /* "https://x.example?q" is sent as "GET /?q": "/" goes in */
    hk_buf_append(&b, url, (size_t)(authority - url) + alen);
    hk_buf_puts(&b, "/");
    hk_buf_puts(&b, authority + alen);
    return b.data;
}

bool hk_url_same_origin(const char *a, const char *b)
{
    bool https_a, https_b;
    const char *host_a, *host_b;
    size_t len_a, len_b;
    long port_a, port_b;
    url_origin(a, &https_a, &host_a, &len_a, &port_a);
    url_origin(b, &https_b, &host_b, &len_b, &port_b);
    return https_a == https_b && port_a == port_b && len_a == len_b &&
           strncasecmp(host_a, host_b, len_a) == 0;
}

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int hk_validate_header(const char *name, const char *value, const char *field, hk_error *err)
{
    if (!*name)
        return hk_error_set(err, HK_EINVAL, field, "header name is empty");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (!is_tchar(*p))
            return hk_error_set(err, HK_EINVAL, field, "header name is not a token");
    if (strlen(name) > 256)
        return hk_error_set(err, HK_EINVAL, field, "header name is too long");
    /* CR and LF split the header; every other control byte (\x01, \x0b, DEL) reaches the
     * wire as it is, where receivers and proxies each read it their own way. Tab is the one
     * control character a field value may hold (RFC 9110, 5.5). */
    for (const unsigned char *p = (const unsigned char *)value; value && *p; p++) {
        if (*p == '\r' || *p == '\n')
            return hk_error_set(err, HK_EINVAL, field, "header value contains CR or LF");
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return hk_error_set(err, HK_EINVAL, field,
                                "header value contains a control character (0x%02x)", *p);
    }
    if (value && strlen(value) > 8192)
        return hk_error_set(err, HK_EINVAL, field, "header value is longer than 8192 bytes");
    return HK_OK;
}

int hk_whsec_decode(const char *secret, unsigned char key[96])
{
    if (strncmp(secret, "whsec_", 6) != 0)
        return -1;
    const char *b64 = secret + 6;
    size_t len = strlen(b64);
    if (len == 0 || len % 4 != 0 || len > 128)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b64[i];
        if (!(isalnum(c) || c == '+' || c == '/' || (c == '=' && i >= len - 2)))
            return -1;
    }
    if (b64[len - 2] == '=' && b64[len - 1] != '=')
        return -1;
    int n = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)len);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as data bytes. */
    if (b64[len - 1] == '=')
        n--;
    if (b64[len - 2] == '=')
        n--;
    return n >= 24 && n <= 64 ? n : -1;
}

int hk_validate_task_id(const char *id, const char *field, hk_error *err)
{
    bool ok = strncmp(id, "wh_", 3) == 0 && strlen(id) > 3 && strlen(id) <= 67;
    for (const char *p = id + 3; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
    return ok ? HK_OK
              : hk_error_set(err, HK_EINVAL, field,
                             "must look like wh_ followed by letters, digits, _ or -");
}

int hk_validate_flow_id(const char *flow_id, const char *field, hk_error *err)
{
    size_t n = strlen(flow_id);
    bool ok = n > 0 && n <= 128;
    for (const char *p = flow_id; ok && *p; p++)
        ok = (unsigned char)*p >= 0x20 && *p != 0x7f && !strchr(" :{}*?[]", *p);
    return ok ? HK_OK
              : hk_error_set(err, HK_EINVAL, field,
                             "must be 1 to 128 characters without spaces, control characters, "
                             "':' or glob characters");
}
