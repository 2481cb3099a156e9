/*
 * record.c — the record hookd-ingress publishes to hookd.inbound for each accepted request
 * (key: the endpoint's flowId, so a flow's requests keep their order). Built as a cJSON tree:
 * it carries the request's payload, already a tree.
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

/* The headers as an object, names lower-cased, repeated ones joined with ", ". */
static cJSON *headers_json(const hk_inbound_record_params *p)
{
    cJSON *obj = cJSON_CreateObject();
    const hk_inbound_request *req = p->req;
    for (size_t i = 0; i < req->headers_len; i++) {
        const char *name = req->headers[i].key, *value = req->headers[i].value;
        if (always_left_out(name) || (p->is_credential && p->is_credential(p->ep, name)))
            continue;
        char lower[256];
        size_t n = strlen(name);
        if (n >= sizeof lower)
            n = sizeof lower - 1;
        for (size_t k = 0; k < n; k++)
            lower[k] = (char)tolower((unsigned char)name[k]);
        lower[n] = '\0';
        cJSON *had = cJSON_GetObjectItemCaseSensitive(obj, lower);
        if (had) {
            hk_buf joined = {0};
            hk_buf_printf(&joined, "%s, %s", had->valuestring, value);
            cJSON_ReplaceItemInObjectCaseSensitive(obj, lower, cJSON_CreateString(joined.data));
            hk_buf_free(&joined);
        } else {
            cJSON_AddStringToObject(obj, lower, value);
        }
    }
    return obj;
}

static void add_body(cJSON *rec, const char *body, size_t len)
{
    if (!body || len == 0) {
        cJSON_AddStringToObject(rec, "body", "");
        return;
    }
    if (hk_utf8_valid(body, len) && !memchr(body, '\0', len)) {
        char *text = hk_strndup(body, len);
        cJSON_AddStringToObject(rec, "body", text);
        free(text);
        return;
    }
    char *b64 = hk_xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)body, (int)len);
    cJSON_AddStringToObject(rec, "bodyBase64", b64);
    free(b64);
}

void hk_inbound_record_write(const hk_inbound_record_params *p, hk_buf *out)
{
    const hk_inbound_endpoint *ep = p->ep;
    const hk_inbound_request *req = p->req;
    cJSON *rec = cJSON_CreateObject();
    char at[32];
    hk_format_time(req->now_ms, at);
    cJSON_AddStringToObject(rec, "id", p->id);
    cJSON_AddStringToObject(rec, "endpointId", ep->id);
    cJSON_AddStringToObject(rec, "flowId", ep->flow_id);
    cJSON_AddStringToObject(rec, "source", hk_inbound_source_name(ep->source));
    cJSON_AddStringToObject(rec, "receivedAt", at);
    cJSON_AddStringToObject(rec, "method", req->method);
    cJSON_AddStringToObject(rec, "path", req->path);
    cJSON *query = cJSON_AddObjectToObject(rec, "query");
    for (const cJSON *q = p->query ? p->query->child : NULL; q; q = q->next)
        if (!p->is_credential_param || !p->is_credential_param(ep, q->string))
            cJSON_AddItemToObject(query, q->string, cJSON_Duplicate(q, 1));
    cJSON_AddItemToObject(rec, "headers", headers_json(p));
    if (p->content_type)
        cJSON_AddStringToObject(rec, "contentType", p->content_type);
    else
        cJSON_AddNullToObject(rec, "contentType");
    if (p->payload && hk_inbound_payload_kind(p->content_type) == HK_PAYLOAD_JSON) {
        /* The payload came from this body, which the payload's reader took as strict JSON: its
         * text is written as it came (after a byte-order mark). As faithful as JSON gets (a
         * number past a double's precision keeps its digits), and not printed again. */
        size_t from = req->body_len >= 3 && memcmp(req->body, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
        char *text = hk_strndup(req->body + from, req->body_len - from);
        cJSON_AddRawToObject(rec, "payload", text);
        free(text);
    } else if (p->payload)
        cJSON_AddItemReferenceToObject(rec, "payload", (cJSON *)p->payload); /* not copied */
    else
        cJSON_AddNullToObject(rec, "payload");
    add_body(rec, req->body, req->body_len);
    if (p->provider_event_id && *p->provider_event_id)
        cJSON_AddStringToObject(rec, "providerEventId", p->provider_event_id);
    else
        cJSON_AddNullToObject(rec, "providerEventId");
    cJSON_AddBoolToObject(rec, "startFlow", ep->start_flow);
    cJSON *waits = cJSON_AddArrayToObject(rec, "matchedWaits");
    for (size_t i = 0; i < p->matched_waits_len; i++)
        cJSON_AddItemToArray(waits, cJSON_CreateString(p->matched_waits[i]));
    char *text = cJSON_PrintUnformatted(rec);
    hk_buf_puts(out, text);
    free(text);
    cJSON_Delete(rec);
}
