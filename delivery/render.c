/*
 * render.c — $references in a body template. One pass: a reference is '$' and the longest run
 * of [A-Za-z0-9_] after it (starting with a letter or '_'); a known name is replaced, anything
 * else is copied as written, so "$$", "$5" and "$jobIdx" survive untouched.
 */
#include "hk_delivery.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static void put(hk_buf *out, const char *v, size_t len, bool json_escape)
{
    if (json_escape)
        hk_buf_json_escape(out, v, len);
    else
        hk_buf_append(out, v, len);
}

/* Appends the value of a reference; false when the name is not a known reference. */
static bool put_reference(hk_buf *out, const char *name, size_t len, const hk_event *ev,
                          const hk_task *task, int attempt, bool json_escape)
{
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(name, lit, len) == 0)
    const char *v = NULL;
    if (IS("jobId"))
        v = ev->job_id;
    else if (IS("jobStatus"))
        v = ev->job_status;
    else if (IS("flowId"))
        v = ev->flow_id;
    else if (IS("flowName"))
        v = ev->flow_name;
    else if (IS("jobType"))
        v = ev->job_type;
    else if (IS("eventType"))
        v = ev->type;
    else if (IS("finishedAt"))
        v = ev->finished_at;
    else if (IS("webhookName"))
        v = task->name;
    else if (IS("attempt")) {
        char n[16];
        snprintf(n, sizeof n, "%d", attempt);
        hk_buf_puts(out, n);
        return true;
    } else if (IS("outputIds")) {
        for (size_t i = 0; i < ev->output_ids_len; i++) {
            if (i)
                hk_buf_puts(out, ",");
            put(out, ev->output_ids[i], strlen(ev->output_ids[i]), json_escape);
        }
        return true;
    }
#undef IS
    if (!v)
        return false;
    put(out, v, strlen(v), json_escape);
    return true;
}

char *hk_render(const char *tmpl, const hk_event *ev, const hk_task *task, int attempt,
                bool json_escape)
{
    hk_buf out = {0};
    const char *p = tmpl, *copied = tmpl;
    while ((p = strchr(p, '$'))) {
        const char *name = p + 1;
        if (!is_name_start(*name)) {
            p++;
            continue;
        }
        const char *end = name;
        while (is_name_char(*end))
            end++;
        hk_buf_append(&out, copied, (size_t)(p - copied));
        size_t mark = out.len;
        if (!put_reference(&out, name, (size_t)(end - name), ev, task, attempt, json_escape)) {
            out.len = mark;
            hk_buf_append(&out, p, (size_t)(end - p)); /* unknown: as written */
        }
        p = copied = end;
    }
    hk_buf_puts(&out, copied);
    return hk_buf_take(&out);
}

bool hk_render_is_json(const hk_kv *headers, size_t headers_len, const char *body)
{
    for (size_t i = 0; i < headers_len; i++)
        if (strcasecmp(headers[i].key, "Content-Type") == 0)
            return strcasestr(headers[i].value, "json") != NULL;
    if (!body)
        return false;
    while (isspace((unsigned char)*body))
        body++;
    return *body == '{' || *body == '[';
}
