/*
 * record.c — the record hookd-ingress publishes to hookd.inbound for each accepted request
 * (key: the endpoint's flowId, so a flow's requests keep their order). Written straight into
 * the buffer, member by member: a JSON body goes in as its own text, other payloads as their
 * tree printed.
 */
#include "hk_inbound.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

void hk_inbound_record_id(char out[32])
{
    hk_new_id("req_", out);
}

static bool always_left_out(const char *name)
{
    static const char *const names[] = {"authorization", "proxy-authorization", "cookie"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------- JSON writing --- */

static void put_string(hk_buf *b, const char *s, size_t len)
{
    hk_buf_append(b, "\"", 1);
    hk_buf_json_escape(b, s, len);
    hk_buf_append(b, "\"", 1);
}

/* ,"key": (no comma before the first member) */
static void put_key(hk_buf *b, const char *key)
{
    if (b->len && b->data[b->len - 1] != '{')
        hk_buf_append(b, ",", 1);
    put_string(b, key, strlen(key));
    hk_buf_append(b, ":", 1);
}

static void put_member(hk_buf *b, const char *key, const char *value)
{
    put_key(b, key);
    if (value)
        put_string(b, value, strlen(value));
    else
        hk_buf_puts(b, "null");
}

static void put_tree(hk_buf *b, const cJSON *v)
{
    char *text = cJSON_PrintUnformatted(v);
    hk_buf_puts(b, text ? text : "null");
    free(text);
}

/* The headers as an object, names lower-cased (up to 255 bytes), each name once in the order it
 * first came, a repeated one's values joined with ", " (RFC 9110). */
static void put_headers(hk_buf *b, const hk_inbound_record_params *p)
{
    const hk_inbound_request *req = p->req;
    size_t n = req->headers_len;
    char(*lower)[256] = n ? hk_xmalloc(n * sizeof *lower) : NULL;
    bool *kept = n ? hk_xcalloc(n, sizeof *kept) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *name = req->headers[i].key;
        kept[i] = !always_left_out(name) && !(p->is_credential && p->is_credential(p->ep, name));
        size_t len = strlen(name);
        if (len >= sizeof lower[i])
            len = sizeof lower[i] - 1;
        for (size_t k = 0; k < len; k++)
            lower[i][k] = (char)tolower((unsigned char)name[k]);
        lower[i][len] = '\0';
    }
    hk_buf_puts(b, "{");
    for (size_t i = 0; i < n; i++) {
        if (!kept[i])
            continue;
        put_key(b, lower[i]);
        hk_buf_append(b, "\"", 1);
        const char *v = req->headers[i].value ? req->headers[i].value : "";
        hk_buf_json_escape(b, v, strlen(v));
        for (size_t k = i + 1; k < n; k++)
            if (kept[k] && strcmp(lower[k], lower[i]) == 0) {
                v = req->headers[k].value ? req->headers[k].value : "";
                hk_buf_append(b, ", ", 2);
                hk_buf_json_escape(b, v, strlen(v));
                kept[k] = false;
            }
        hk_buf_append(b, "\"", 1);
    }
    hk_buf_puts(b, "}");
    free(lower);
    free(kept);
}

static void put_body(hk_buf *b, const char *body, size_t len, bool checked_text)
{
    if (!body || len == 0) {
        put_member(b, "body", "");
        return;
    }
    if (checked_text || (hk_utf8_valid(body, len) && !memchr(body, '\0', len))) {
        put_key(b, "body");
        put_string(b, body, len);
        return;
    }
    char *b64 = hk_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)body, (int)len);
    put_member(b, "bodyBase64", b64);
    free(b64);
}

void hk_inbound_record_write(const hk_inbound_record_params *p, hk_buf *out)
{
    hk_inbound_record_write_head(p, out);
    hk_inbound_record_write_tail(p->matched_waits, p->matched_waits_len, out);
}

void hk_inbound_record_write_head(const hk_inbound_record_params *p, hk_buf *out)
{
    const hk_inbound_endpoint *ep = p->ep;
    const hk_inbound_request *req = p->req;
    char at[32];
    hk_format_time(req->now_ms, at);
    hk_buf_puts(out, "{");
    put_member(out, "id", p->id);
    put_member(out, "endpointId", ep->id);
    put_member(out, "flowId", ep->flow_id);
    put_member(out, "source", hk_inbound_source_name(ep->source));
    put_member(out, "receivedAt", at);
    put_member(out, "method", req->method);
    put_member(out, "path", req->path);
    put_key(out, "query");
    hk_buf_puts(out, "{");
    for (const cJSON *q = p->query ? p->query->child : NULL; q; q = q->next)
        if (!p->is_credential_param || !p->is_credential_param(ep, q->string)) {
            put_key(out, q->string);
            put_tree(out, q);
        }
    hk_buf_puts(out, "}");
    put_key(out, "headers");
    put_headers(out, p);
    put_member(out, "contentType", p->content_type);
    put_key(out, "payload");
    /* A JSON body is its own payload, checked strictly by the payload reader: written as it
     * came (after a byte-order mark), so a number past a double's precision keeps its digits. */
    bool json_body = p->payload_is_body ||
                     (p->payload && hk_inbound_payload_kind(p->content_type) == HK_PAYLOAD_JSON);
    if (json_body) {
        size_t from = req->body_len >= 3 && memcmp(req->body, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
        hk_buf_append(out, req->body + from, req->body_len - from);
    } else if (p->payload) {
        put_tree(out, p->payload);
    } else {
        hk_buf_puts(out, "null");
    }
    put_body(out, req->body, req->body_len, json_body);
    put_member(out, "providerEventId",
               p->provider_event_id && *p->provider_event_id ? p->provider_event_id : NULL);
    put_key(out, "startFlow");
    hk_buf_puts(out, ep->start_flow ? "true" : "false");
}

void hk_inbound_record_write_tail(const char *const *matched_waits, size_t n, hk_buf *out)
{
    put_key(out, "matchedWaits");
    hk_buf_puts(out, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            hk_buf_append(out, ",", 1);
        put_string(out, matched_waits[i], strlen(matched_waits[i]));
    }
    hk_buf_puts(out, "]}");
}
