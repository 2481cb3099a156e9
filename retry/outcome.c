/*
 * outcome.c — the outcome record: one attempt's result as published to hookd.deliveries and
 * kept in the job's history in Redis, and its reader (hookctl deliveries reads it back from
 * there). The writer runs once per delivery, so it formats straight into a buffer rather than
 * building a cJSON tree or going through printf.
 */
#include "hk_retry.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Appends n in decimal. */
static void put_uint(hk_buf *b, unsigned long long n)
{
    char digits[24];
    size_t i = sizeof digits;
    do
        digits[--i] = (char)('0' + n % 10);
    while (n /= 10);
    hk_buf_append(b, digits + i, sizeof digits - i);
}

void hk_outcome_write(hk_buf *b, const hk_outcome *o)
{
    char ts[32];
    hk_format_time(o->at_ms, ts);
    static const char *const keys[] = {"{\"deliveryId\":\"", "\",\"webhookId\":\"",
                                       "\",\"flowId\":\"", "\",\"jobId\":\"", "\",\"eventId\":\""};
    const char *values[] = {o->ids.delivery_id, o->ids.webhook_id, o->ids.flow_id, o->ids.job_id,
                            o->ids.event_id};
    for (size_t i = 0; i < 5; i++) {
        hk_buf_puts(b, keys[i]);
        hk_buf_json_escape(b, values[i], strlen(values[i]));
    }
    hk_buf_puts(b, "\",\"attempt\":");
    put_uint(b, (unsigned)o->attempt);
    hk_buf_puts(b, o->delivered ? ",\"status\":\"delivered\",\"statusCode\":"
                                : ",\"status\":\"failed\",\"statusCode\":");
    if (o->http_status > 0)
        put_uint(b, (unsigned long)o->http_status);
    else
        hk_buf_puts(b, "null");
    if (o->error && o->error[0]) {
        hk_buf_puts(b, ",\"error\":\"");
        hk_buf_json_escape(b, o->error, strlen(o->error));
        hk_buf_puts(b, "\"");
    }
    if (o->warning && o->warning[0]) {
        hk_buf_puts(b, ",\"warning\":\"");
        hk_buf_json_escape(b, o->warning, strlen(o->warning));
        hk_buf_puts(b, "\"");
    }
    hk_buf_puts(b, ",\"latencyMs\":");
    put_uint(b, o->latency_ms);
    hk_buf_puts(b, ",\"at\":\"");
    hk_buf_puts(b, ts);
    hk_buf_puts(b, "\"}");
}

/* Appends `"body":"..."` or `"bodyBase64":"..."` with the first max bytes of data (text cut on
 * a character boundary), then `,"bodyTruncated":true|false`. */
static void put_body(hk_buf *b, const char *data, size_t len, size_t max)
{
    size_t keep = len < max ? len : max;
    if (keep < len)
        while (keep > 0 && ((unsigned char)data[keep] & 0xC0) == 0x80)
            keep--; /* a partial character is cut whole, so text stays text */
    if (hk_utf8_valid(data, keep) && !memchr(data, '\0', keep)) {
        hk_buf_puts(b, "\"body\":\"");
        hk_buf_json_escape(b, data, keep);
    } else {
        keep = len < max ? len : max;
        hk_buf_puts(b, "\"bodyBase64\":\"");
        char *b64 = hk_xmalloc(4 * ((keep + 2) / 3) + 1);
        int n = EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)data, (int)keep);
        hk_buf_append(b, b64, (size_t)n);
        free(b64);
    }
    hk_buf_puts(b, keep < len ? "\",\"bodyTruncated\":true" : "\",\"bodyTruncated\":false");
}

#define DETAIL_HEADERS_MAX 64

typedef struct header_line {
    char name[64];
    const char *value;
    size_t value_len;
    bool joined; /* an earlier line has this name: written with it */
} header_line;

/* Splits "Name: value\n" lines; names lower-cased, values trimmed. Longer names are left out. */
static size_t split_headers(const char *text, size_t len, header_line *out)
{
    size_t n = 0;
    for (const char *p = text, *end = text + len; p < end && n < DETAIL_HEADERS_MAX;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && colon > p && (size_t)(colon - p) < sizeof out[n].name) {
            header_line *h = &out[n++];
            size_t k = 0;
            for (const char *c = p; c < colon; c++)
                h->name[k++] = (char)tolower((unsigned char)*c);
            h->name[k] = '\0';
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
                ve--;
            h->value = v;
            h->value_len = (size_t)(ve - v);
            h->joined = false;
        }
        p = eol + 1;
    }
    return n;
}

/* Appends s escaped; a header that is not UTF-8 (obs-text) has its bytes above 0x7F as '?', so
 * the record stays valid JSON. */
static void put_header_text(hk_buf *b, const char *s, size_t len)
{
    if (hk_utf8_valid(s, len)) {
        hk_buf_json_escape(b, s, len);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        char c = (unsigned char)s[i] < 0x80 ? s[i] : '?';
        hk_buf_json_escape(b, &c, 1);
    }
}

static void put_headers(hk_buf *b, const char *text, size_t len)
{
    header_line lines[DETAIL_HEADERS_MAX];
    size_t n = split_headers(text, len, lines);
    hk_buf_puts(b, "\"headers\":{");
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].joined)
            continue;
        hk_buf_puts(b, first ? "\"" : ",\"");
        first = false;
        put_header_text(b, lines[i].name, strlen(lines[i].name));
        hk_buf_puts(b, "\":\"");
        put_header_text(b, lines[i].value, lines[i].value_len);
        for (size_t k = i + 1; k < n; k++) {
            if (!lines[k].joined && strcmp(lines[k].name, lines[i].name) == 0) {
                lines[k].joined = true;
                hk_buf_puts(b, ", ");
                put_header_text(b, lines[k].value, lines[k].value_len);
            }
        }
        hk_buf_puts(b, "\"");
    }
    hk_buf_puts(b, "}");
}

void hk_outcome_write_detail(hk_buf *b, const hk_outcome_detail *d)
{
    hk_buf_puts(b, ",\"request\":{\"bodyBytes\":");
    put_uint(b, d->request_body_len);
    if (d->request_body && d->request_body_len) {
        hk_buf_puts(b, ",");
        put_body(b, d->request_body, d->request_body_len, HK_HISTORY_REQUEST_BODY_MAX);
    }
    hk_buf_puts(b, "}");
    if (!d->answered)
        return;
    hk_buf_puts(b, ",\"response\":{");
    put_headers(b, d->response_headers ? d->response_headers : "", d->response_headers_len);
    hk_buf_puts(b, ",");
    put_body(b, d->response_body ? d->response_body : "", d->response_body_len,
             HK_HISTORY_RESPONSE_BODY_MAX);
    hk_buf_puts(b, "}");
}

static const char *str(const cJSON *rec, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, key));
}

static double num(const cJSON *rec, const char *key)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(rec, key);
    return cJSON_IsNumber(n) ? n->valuedouble : -1;
}

void hk_outcome_read(const cJSON *rec, hk_outcome_view *out)
{
    *out = (hk_outcome_view){
        .at = str(rec, "at"),
        .webhook_id = str(rec, "webhookId"),
        .delivery_id = str(rec, "deliveryId"),
        .status = str(rec, "status"),
        .error = str(rec, "error"),
        .attempt = (int)num(rec, "attempt"),
        .http_status = (long)num(rec, "statusCode"),
        .latency_ms = num(rec, "latencyMs"),
    };
}
