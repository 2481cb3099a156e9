/*
 * util.c — errors, allocation, buffers, clocks, hex and secret masking: the small pieces every
 * module needs and none should write again.
 */
#include "hk_core.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int hk_error_set(hk_error *err, int rc, const char *field, const char *fmt, ...)
{
    if (!err)
        return rc;
    char detail[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (field && *field) {
        snprintf(err->field, sizeof err->field, "%s", field);
        int n = snprintf(err->msg, sizeof err->msg, "%s: ", field);
        if (n > 0 && (size_t)n < sizeof err->msg)
            memcpy(err->msg + n, detail, strnlen(detail, sizeof err->msg - (size_t)n - 1) + 1);
        err->msg[sizeof err->msg - 1] = '\0';
    } else {
        err->field[0] = '\0';
        memcpy(err->msg, detail, sizeof err->msg);
    }
    /* One printable line, always: a stray newline in a detail (a value quoted back) would break
     * log parsing, and an escape sequence would reach the operator's terminal. */
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
        else if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return rc;
}

void hk_kv_free(hk_kv *kv, size_t n)
{
    if (!kv)
        return;
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void oom(void)
{
    fputs("hookd: out of memory\n", stderr);
    abort();
}

void *hk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *hk_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *hk_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *hk_strdup(const char *s)
{
    return hk_strndup(s, strlen(s));
}

char *hk_strndup(const char *s, size_t n)
{
    char *d = hk_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void buf_reserve(hk_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = hk_xrealloc(b->data, cap);
    if (b->cap == 0)
        b->data[0] = '\0'; /* a new buffer is "" from the start, whatever comes (or not) next */
    b->cap = cap;
}

void hk_buf_append(hk_buf *b, const void *data, size_t len)
{
    buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void hk_buf_puts(hk_buf *b, const char *s)
{
    hk_buf_append(b, s, strlen(s));
}

void hk_buf_printf(hk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) {
        buf_reserve(b, 0);
        return;
    }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t hk_json_escape_byte(unsigned char c, char out[6])
{
    static const char hex[] = "0123456789abcdef";
    char short_form = 0;
    switch (c) {
    case '"':
        short_form = '"';
        break;
    case '\\':
        short_form = '\\';
        break;
    case '\n':
        short_form = 'n';
        break;
    case '\r':
        short_form = 'r';
        break;
    case '\t':
        short_form = 't';
        break;
    case '\b':
        short_form = 'b';
        break;
    case '\f':
        short_form = 'f';
        break;
    default:
        if (c >= 0x20)
            return 0;
        memcpy(out, "\\u00", 4);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        return 6;
    }
    out[0] = '\\';
    out[1] = short_form;
    return 2;
}

/* 1 for a byte JSON escapes in a string: '"', '\\' and the controls below 0x20. */
static const unsigned char json_escaped[256] = {1, 1, 1, 1, 1, 1, 1, 1, 1,         1,         1, 1,
                                                1, 1, 1, 1, 1, 1, 1, 1, 1,         1,         1, 1,
                                                1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1};

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* Some byte of w is zero (Bit Twiddling Hacks: exact). */
#define HAS_ZERO(w) (((w)-ONES) & ~(w)&HIGHS)
/* Some byte of w is below n, for n <= 128 (exact). */
#define HAS_LESS(w, n) (((w)-ONES * (n)) & ~(w)&HIGHS)

size_t hk_json_plain_prefix(const char *s, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) { /* eight bytes at a time while none needs escaping */
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (HAS_LESS(w, 0x20) || HAS_ZERO(w ^ (ONES * '"')) || HAS_ZERO(w ^ (ONES * '\\')))
            break;
    }
    while (i < len && !json_escaped[(unsigned char)s[i]])
        i++;
    return i;
}

/* The runs between escaped bytes are copied whole, straight into the buffer: a body is mostly
 * such runs (JSON text has a quote every few bytes, so the per-run cost matters too). */
void hk_buf_json_escape(hk_buf *b, const char *s, size_t len)
{
    buf_reserve(b, len + len / 8 + 8);
    size_t i = 0;
    for (;;) {
        size_t run = hk_json_plain_prefix(s + i, len - i);
        if (b->len + run + 7 > b->cap)
            buf_reserve(b, run + 6);
        if (run) /* s may be NULL when len is 0 */
            memcpy(b->data + b->len, s + i, run);
        b->len += run;
        i += run;
        if (i >= len)
            break;
        b->len += hk_json_escape_byte((unsigned char)s[i], b->data + b->len);
        i++;
    }
    b->data[b->len] = '\0';
}

char *hk_buf_take(hk_buf *b)
{
    if (!b->data)
        buf_reserve(b, 0);
    char *d = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void hk_buf_free(hk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

uint64_t hk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t hk_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void hk_format_time(uint64_t wall_ms, char out[32])
{
    /* Every outcome record carries a time: the date part is formatted once a second. */
    static _Thread_local time_t cached_secs = -1;
    static _Thread_local char cached[24];
    static _Thread_local size_t cached_len;
    time_t secs = (time_t)(wall_ms / 1000u);
    if (secs != cached_secs) {
        struct tm tm;
        gmtime_r(&secs, &tm);
        cached_len = strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_secs = secs;
    }
    unsigned ms = (unsigned)(wall_ms % 1000u);
    memcpy(out, cached, cached_len);
    char *p = out + cached_len;
    *p++ = '.';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    *p++ = 'Z';
    *p = '\0';
}

#define HK_TIME_MAX_MS 253402300799999ull /* 9999-12-31T23:59:59.999Z */

bool hk_parse_time(const char *text, uint64_t *wall_ms)
{
    struct tm tm = {0};
    const char *p = text ? strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!p)
        return false;
    uint64_t ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (uint64_t)(*p - '0');
        if (!digits)
            return false;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    long offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
               isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
               isdigit((unsigned char)p[5])) {
        offset_s =
            ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L + ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
        if (*p == '-')
            offset_s = -offset_s;
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || (long long)t - offset_s < 0)
        return false;
    uint64_t at = (uint64_t)((long long)t - offset_s) * 1000u + ms;
    /* An offset can carry 9999-12-31 into year 10000, which RFC 3339 (and hk_format_time's
     * four-digit year) cannot write: not a time of ours. */
    if (at > HK_TIME_MAX_MS)
        return false;
    *wall_ms = at;
    return true;
}

bool hk_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) { /* ASCII without NUL, eight bytes at a time */
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & HIGHS) && !HAS_ZERO(w)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        /* 0xC0, 0xC1 only start overlong forms; 0xF5.. would pass U+10FFFF */
        size_t extra = c >= 0xC2 && c <= 0xDF   ? 1
                       : (c & 0xF0) == 0xE0     ? 2
                       : c >= 0xF0 && c <= 0xF4 ? 3
                                                : 0;
        if (extra == 0 || len - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        /* overlong three- and four-byte forms, UTF-16 surrogates, code points past U+10FFFF */
        if ((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xED && p[i + 1] >= 0xA0) ||
            (c == 0xF0 && p[i + 1] < 0x90) || (c == 0xF4 && p[i + 1] >= 0x90))
            return false;
        i += extra + 1;
    }
    return true;
}

void hk_hex(const unsigned char *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void hk_secret_mask(const char *secret, char out[16])
{
    size_t n = secret ? strlen(secret) : 0;
    /* Short secrets show nothing: four characters of an eight-character secret is half of it. */
    if (n < 12)
        snprintf(out, 16, "****");
    else
        snprintf(out, 16, "****%s", secret + n - 4);
}

int hk_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool hk_parse_duration(const char *text, uint64_t *ms)
{
    if (!isdigit((unsigned char)text[0]))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || v == 0)
        return false;
    uint64_t unit = strcmp(end, "ms") == 0  ? 1
                    : strcmp(end, "s") == 0 ? 1000
                    : strcmp(end, "m") == 0 ? 60000
                    : strcmp(end, "h") == 0 ? 3600000
                    : strcmp(end, "d") == 0 ? 86400000
                                            : 0;
    if (!unit || v > UINT64_MAX / unit / 2)
        return false;
    *ms = v * unit;
    return true;
}
