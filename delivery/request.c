/*
 * request.c — builds the exact HTTP request for one delivery attempt: the event's override,
 * the rendered body, the task's headers (system headers cannot be spoofed by a task), and the
 * signature headers of every live secret.
 */
#include "hk_delivery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Headers hookd sets itself; a task's own copy of any of them is dropped. */
static const char *const system_headers[] = {
    "User-Agent", "X-Webhook-Id",      "X-Webhook-Attempt", "X-Webhook-Signature",
    "webhook-id", "webhook-timestamp", "webhook-signature", "Content-Length",
    "Host",       "Transfer-Encoding", "Connection",        "Expect",
    NULL,
};

static bool is_system_header(const char *name, const char *sig_header)
{
    if (sig_header && strcasecmp(name, sig_header) == 0)
        return true;
    for (size_t i = 0; system_headers[i]; i++)
        if (strcasecmp(name, system_headers[i]) == 0)
            return true;
    return false;
}

/* The headers of a request being built: pointers borrowed from the task, the event and the
 * builder's own buffers, copied into the request in one allocation at the end. */
typedef struct header_list {
    hk_kv *kv; /* first the builder's array on the stack, on the heap once that is full */
    size_t len, cap;
    bool on_heap;
} header_list;

static void add_header(header_list *l, const char *name, const char *value)
{
    if (l->len == l->cap) {
        hk_kv *kv = hk_xmalloc(2 * l->cap * sizeof *kv);
        memcpy(kv, l->kv, l->len * sizeof *kv);
        if (l->on_heap)
            free(l->kv);
        l->kv = kv;
        l->cap *= 2;
        l->on_heap = true;
    }
    l->kv[l->len].key = (char *)name;
    l->kv[l->len].value = (char *)value;
    l->len++;
}

void hk_request_set_headers(hk_request *req, const hk_kv *kv, size_t n)
{
    size_t bytes = n * sizeof *kv;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(kv[i].key) + 1 + strlen(kv[i].value) + 1;
    hk_kv *out = hk_xmalloc(bytes ? bytes : 1);
    char *p = (char *)(out + n);
    for (size_t i = 0; i < n; i++) {
        size_t klen = strlen(kv[i].key) + 1, vlen = strlen(kv[i].value) + 1;
        out[i].key = memcpy(p, kv[i].key, klen);
        out[i].value = memcpy(p + klen, kv[i].value, vlen);
        p += klen + vlen;
    }
    free(req->headers);
    req->headers = out;
    req->headers_len = n;
}

const char *hk_request_header(const hk_request *req, const char *name)
{
    for (size_t i = 0; i < req->headers_len; i++)
        if (strcasecmp(req->headers[i].key, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* Adds the signature headers of every live secret; their values are written into sig, which
 * must outlive l's use. */
static void add_signatures(header_list *l, const hk_request *req, const hk_task *task,
                           const char *delivery_id, uint64_t now_ms, hk_buf *sig, char ts[24])
{
    if (task->secrets_len == 0 || task->signature == HK_SIG_NONE)
        return;
    size_t live = hk_task_signing_secrets(task, now_ms); /* a rotation's grace may have ended */
    const char *body = req->body ? req->body : "";
    size_t body_len = req->body ? req->body_len : 0;
    const char *header = task->signature_header ? task->signature_header : "X-Webhook-Signature";
    char hex[65];
    switch (task->signature) {
    case HK_SIG_TIMESTAMPED: {
        /* The seed's algorithm: "<t>.<body>" for POST, PUT, PATCH; "<t>.<url>" for GET, DELETE. */
        bool use_body = hk_method_has_body(req->method);
        const char *payload = use_body ? body : req->url;
        size_t len = use_body ? body_len : strlen(req->url);
        hk_buf_printf(sig, "t=%llu", (unsigned long long)now_ms);
        for (size_t i = 0; i < live; i++) {
            hk_sign_timestamped(task->secrets[i], now_ms, payload, len, hex);
            hk_buf_puts(sig, ",sha256=");
            hk_buf_append(sig, hex, 64);
        }
        add_header(l, header, sig->data);
        break;
    }
    case HK_SIG_BODY:
        for (size_t i = 0; i < live; i++) {
            hk_sign_body(task->secrets[i], body, body_len, hex);
            hk_buf_puts(sig, i ? ",sha256=" : "sha256=");
            hk_buf_append(sig, hex, 64);
        }
        add_header(l, header, sig->data);
        break;
    case HK_SIG_STANDARD: {
        uint64_t t_s = now_ms / 1000;
        char one[128];
        snprintf(ts, 24, "%llu", (unsigned long long)t_s);
        for (size_t i = 0; i < live; i++) {
            /* Validated at create; a secret that no longer decodes simply does not sign. */
            if (hk_sign_standard(task->secrets[i], delivery_id, t_s, body, body_len, one,
                                 sizeof one) == HK_OK) {
                if (sig->len)
                    hk_buf_puts(sig, " ");
                hk_buf_puts(sig, one);
            }
        }
        add_header(l, "webhook-id", delivery_id);
        add_header(l, "webhook-timestamp", ts);
        add_header(l, "webhook-signature", sig->data ? sig->data : "");
        break;
    }
    case HK_SIG_NONE:
        break;
    }
}

/* A JSON string member, or null when the value is empty (an event's optional fields). */
static void put_text(hk_buf *b, const char *name, const char *value, bool first)
{
    hk_buf_puts(b, first ? "{\"" : ",\"");
    hk_buf_puts(b, name);
    hk_buf_puts(b, "\":");
    if (!value || !*value) {
        hk_buf_puts(b, "null");
        return;
    }
    hk_buf_puts(b, "\"");
    hk_buf_json_escape(b, value, strlen(value));
    hk_buf_puts(b, "\"");
}

/* The body of a POST, PUT or PATCH task with none of its own: the event as hookd saw it, the
 * task and the attempt (docs/api.md, "The default payload", has its JSON Schema). */
static char *default_body(const hk_request_params *p, size_t *len)
{
    static const char *const outcomes[] = {"success", "failure", "other"};
    const hk_event *ev = p->event;
    hk_buf b = {0};
    put_text(&b, "type", ev->type, true);
    put_text(&b, "jobId", ev->job_id, false);
    put_text(&b, "jobStatus", ev->job_status, false);
    put_text(&b, "outcome", outcomes[ev->outcome], false);
    put_text(&b, "flowId", ev->flow_id, false);
    put_text(&b, "flowName", ev->flow_name, false);
    put_text(&b, "spaceId", ev->space_id, false);
    put_text(&b, "jobType", ev->job_type, false);
    hk_buf_puts(&b, ",\"outputIds\":[");
    for (size_t i = 0; i < ev->output_ids_len; i++) {
        hk_buf_puts(&b, i ? ",\"" : "\"");
        hk_buf_json_escape(&b, ev->output_ids[i], strlen(ev->output_ids[i]));
        hk_buf_puts(&b, "\"");
    }
    hk_buf_puts(&b, "]");
    put_text(&b, "finishedAt", ev->finished_at, false);
    if (ev->reason) /* an operational event's (task.disabled) */
        put_text(&b, "reason", ev->reason, false);
    put_text(&b, "eventId", ev->event_id, false);
    put_text(&b, "webhookId", p->task->id, false);
    put_text(&b, "webhookName", p->task->name, false);
    put_text(&b, "deliveryId", p->delivery_id, false);
    hk_buf_printf(&b, ",\"attempt\":%d}", p->attempt);
    *len = b.len;
    return b.data;
}

int hk_request_build(const hk_request_params *p, hk_request **out, hk_error *err)
{
    const hk_task *task = p->task;
    const hk_override *ov = hk_event_override_for(p->event, task->id);
    const char *url = ov && ov->url ? ov->url : task->url;
    const hk_kv *headers = ov && ov->has_headers ? ov->headers : task->headers;
    size_t headers_len = ov && ov->has_headers ? ov->headers_len : task->headers_len;
    const char *body_tmpl = ov && ov->body ? ov->body : task->body;
    *out = NULL;
    if (ov && ov->url && hk_validate_url(ov->url, "webhookOverrides.url", err) != HK_OK)
        return HK_EINVAL;
    /* The request carries the task's secrets and headers (a bearer token, say): an event may
     * move it within the task's origin, never to another one unless the task says so. */
    if (ov && ov->url && !task->allow_cross_origin_overrides &&
        !hk_url_same_origin(ov->url, task->url))
        return hk_error_set(err, HK_EINVAL, "webhookOverrides.url",
                            "leaves the origin (scheme, host, port) of the webhook's url, which "
                            "the webhook allows only with allowCrossOriginOverrides");

    /* GET and DELETE send no body: their template's form is never needed (judging a JSON
     * template parses it). */
    hk_render_form form = HK_RENDER_RAW;
    char *body = NULL;
    size_t body_len = 0;
    size_t max = p->max_body_bytes ? p->max_body_bytes : HK_MAX_BODY_DEFAULT;
    if (hk_method_has_body(task->method) && !*body_tmpl) { /* no body of its own: the default */
        form = HK_RENDER_JSON;
        body = default_body(p, &body_len);
        if (body_len > max) {
            free(body);
            return hk_error_set(err, HK_EINVAL, "body",
                                "the default payload is over HOOKD_MAX_BODY_BYTES (%zu bytes)",
                                max);
        }
    } else if (hk_method_has_body(task->method)) {
        form = hk_render_form_of(headers, headers_len, body_tmpl);
        body = hk_render(body_tmpl, p->event, task, p->attempt, form, max, &body_len);
        if (!body)
            return hk_error_set(err, HK_EINVAL, ov && ov->body ? "webhookOverrides.body" : "body",
                                "the rendered body is over HOOKD_MAX_BODY_BYTES (%zu bytes)", max);
    }
    hk_request *req = hk_xcalloc(1, sizeof *req);
    req->method = task->method;
    req->url = hk_url_as_sent(url); /* what the request line says, and what is signed */
    req->timeout_ms = task->timeout_ms ? task->timeout_ms : p->default_timeout_ms;
    req->validate_ssl = task->validate_ssl;
    req->body = body;
    req->body_len = body_len;
    bool json = form == HK_RENDER_JSON || form == HK_RENDER_JSON_ESCAPE;
    hk_kv first[16];
    header_list l = {.kv = first, .cap = 16};
    bool has_type = false;
    for (size_t i = 0; i < headers_len; i++) {
        if (is_system_header(headers[i].key, task->signature_header))
            continue;
        has_type |= strcasecmp(headers[i].key, "Content-Type") == 0;
        add_header(&l, headers[i].key, headers[i].value);
    }
    if (req->body && !has_type)
        add_header(&l, "Content-Type", json ? "application/json" : "text/plain; charset=utf-8");
    char attempt[16], ts[24];
    snprintf(attempt, sizeof attempt, "%d", p->attempt);
    add_header(&l, "User-Agent", "hookd/" HK_VERSION);
    add_header(&l, "X-Webhook-Id", p->delivery_id);
    add_header(&l, "X-Webhook-Attempt", attempt);
    hk_buf sig = {0};
    add_signatures(&l, req, task, p->delivery_id, p->now_ms, &sig, ts);
    hk_request_set_headers(req, l.kv, l.len);
    hk_buf_free(&sig);
    if (l.on_heap)
        free(l.kv);
    *out = req;
    return HK_OK;
}

void hk_request_destroy(hk_request *req)
{
    if (!req)
        return;
    free(req->url);
    free(req->headers); /* one block: hk_request_set_headers() */
    free(req->body);
    free(req);
}
