/*
 * fuzz_url.c — the field checks a task's and an override's URL and headers go through
 * (hk_validate_url, hk_validate_header).
 * Input: NUL-separated fields
 *   url \0 header name \0 header value
 * Checked: a URL it accepts is http or https, at most 2048 bytes, without whitespace, control
 * characters or user-info, with a host and a port of 1..65535; a header it accepts has a token name
 * and a value without CR, LF or NUL; refusals name the field; libcurl's own URL parser reads an
 * accepted URL with the same scheme and a host (found here: "https://a]b.example/" was accepted),
 * and a header value holds no control character but HTAB.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <strings.h>

#include "fuzz_common.h"
#include "hk_model.h"

enum { F_URL, F_NAME, F_VALUE, F_COUNT };

static void check_url(const char *url)
{
    hk_error err = {0};
    int rc = hk_validate_url(url, "url", &err);
    if (rc != HK_OK) {
        HK_FUZZ_CHECK(rc == HK_EINVAL, "rc %d", rc);
        HK_FUZZ_CHECK(strncmp(err.msg, "url", 3) == 0, "refusal names no field: %s", err.msg);
        return;
    }
    size_t len = strlen(url);
    HK_FUZZ_CHECK(len > 0 && len <= 2048, "length %zu", len);
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        HK_FUZZ_CHECK(*p > 0x20 && *p != 0x7f, "byte 0x%02x accepted", *p);
    size_t skip = strncasecmp(url, "https://", 8) == 0  ? 8
                  : strncasecmp(url, "http://", 7) == 0 ? 7
                                                        : 0;
    HK_FUZZ_CHECK(skip, "scheme of '%s'", url);
    const char *authority = url + skip;
    size_t alen = strcspn(authority, "/?#");
    HK_FUZZ_CHECK(!memchr(authority, '@', alen), "user-info accepted in '%s'", url);
    HK_FUZZ_CHECK(alen > 0 && authority[0] != ':', "no host in '%s'", url);

    /* libcurl, which will send it, must read it as a URL of the same scheme with a host. */
    CURLU *u = curl_url();
    HK_FUZZ_CHECK(u != NULL, "curl_url");
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    HK_FUZZ_CHECK(uc == CURLUE_OK, "'%s' accepted, but libcurl says: %s", url,
                  curl_url_strerror(uc));
    char *scheme = NULL, *host = NULL;
    HK_FUZZ_CHECK(curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
                      strncasecmp(scheme, url, strlen(scheme)) == 0 && skip == strlen(scheme) + 3,
                  "libcurl reads another scheme in '%s'", url);
    HK_FUZZ_CHECK(curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host,
                  "libcurl finds no host in '%s'", url);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
}

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_header(const char *name, const char *value)
{
    hk_error err = {0};
    int rc = hk_validate_header(name, value, "headers.x", &err);
    int rc_name = hk_validate_header(name, NULL, "headers.x", NULL);
    HK_FUZZ_CHECK(rc != HK_OK || rc_name == HK_OK, "name refused alone, accepted with a value");
    if (rc != HK_OK) {
        HK_FUZZ_CHECK(rc == HK_EINVAL, "rc %d", rc);
        HK_FUZZ_CHECK(strncmp(err.msg, "headers.x", 9) == 0, "refusal names no field: %s", err.msg);
        return;
    }
    size_t n = strlen(name);
    HK_FUZZ_CHECK(n > 0 && n <= 256, "name length %zu", n);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        HK_FUZZ_CHECK(is_tchar(*p), "name byte 0x%02x accepted", *p);
    HK_FUZZ_CHECK(!strpbrk(value, "\r\n") && strlen(value) <= 8192, "value accepted");
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        HK_FUZZ_CHECK(*p == '\t' || (*p >= 0x20 && *p != 0x7f), "value byte 0x%02x accepted", *p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_fuzz_fields ff;
    hk_fuzz_split(data, size, F_COUNT, &ff);
    check_url(ff.f[F_URL]);
    check_header(ff.f[F_NAME], ff.f[F_VALUE]);
    hk_fuzz_fields_free(&ff);
    return 0;
}
