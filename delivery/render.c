/*
 * render.c — $references in a body template. A reference is '$' and the longest run of
 * [A-Za-z0-9_] after it (starting with a letter or '_'); a known name is replaced, anything
 * else is copied as written, so "$$", "$5" and "$jobIdx" survive untouched.
 *
 * How a value is written depends on the template's form (hk_render_form_of), never on a guess
 * that a value could steer. And a render is bounded: the output is measured first, without
 * allocating, and refused when it would pass the limit; only then is it written, into one
 * allocation of exactly its size. A 256 KiB template of "$jobId" with a 700 KB jobId would
 * otherwise ask for tens of gigabytes.
 */
#include "hk_delivery.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Where output goes: with data NULL it is only measured. Once over max, nothing more is
 * written or counted. */
typedef struct sink {
    char *data;
    size_t len, max;
    bool over;
} sink;

static void emit(sink *s, const char *p, size_t n)
{
    if (s->over)
        return;
    if (n > s->max - s->len) {
        s->over = true;
        return;
    }
    if (s->data)
        memcpy(s->data + s->len, p, n);
    s->len += n;
}

static void emit_json_escaped(sink *s, const char *v, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len && !s->over; i++) {
        char rep[6];
        size_t n = hk_json_escape_byte((unsigned char)v[i], rep);
        if (n) {
            emit(s, v + start, i - start);
            emit(s, rep, n);
            start = i + 1;
        }
    }
    emit(s, v + start, len - start);
}

/* RFC 3986 percent-encoding: only unreserved bytes stay as they are. */
static void emit_percent_encoded(sink *s, const char *v, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = 0;
    for (size_t i = 0; i < len && !s->over; i++) {
        unsigned char c = (unsigned char)v[i];
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            continue;
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
        emit(s, v + start, i - start);
        emit(s, enc, 3);
        start = i + 1;
    }
    emit(s, v + start, len - start);
}

/* A JSON number exactly (RFC 8259, 6): -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_json_number(const char *v, size_t len)
{
    size_t i = 0;
    if (i < len && v[i] == '-')
        i++;
    if (i < len && v[i] == '0')
        i++;
    else if (i < len && v[i] >= '1' && v[i] <= '9')
        while (i < len && isdigit((unsigned char)v[i]))
            i++;
    else
        return false;
    if (i < len && v[i] == '.') {
        size_t d = ++i;
        while (i < len && isdigit((unsigned char)v[i]))
            i++;
        if (i == d)
            return false;
    }
    if (i < len && (v[i] == 'e' || v[i] == 'E')) {
        i++;
        if (i < len && (v[i] == '+' || v[i] == '-'))
            i++;
        size_t d = i;
        while (i < len && isdigit((unsigned char)v[i]))
            i++;
        if (i == d)
            return false;
    }
    return i == len;
}

/* One value, written as the form and its position want it. in_string: the reference sits
 * inside a JSON string of a JSON template. */
static void emit_value(sink *s, const char *v, size_t len, hk_render_form form, bool in_string)
{
    switch (form) {
    case HK_RENDER_RAW:
        emit(s, v, len);
        break;
    case HK_RENDER_JSON_ESCAPE:
        emit_json_escaped(s, v, len);
        break;
    case HK_RENDER_FORM:
        emit_percent_encoded(s, v, len);
        break;
    case HK_RENDER_JSON:
        if (in_string) {
            emit_json_escaped(s, v, len);
        } else if (is_json_number(v, len)) {
            emit(s, v, len);
        } else { /* outside a string, a value is one JSON token: a number or a string */
            emit(s, "\"", 1);
            emit_json_escaped(s, v, len);
            emit(s, "\"", 1);
        }
        break;
    }
}

static const char *const reference_names[] = {
    "jobId",      "jobStatus",   "flowId",  "flowName",  "jobType", "eventType",
    "finishedAt", "webhookName", "attempt", "outputIds", "spaceId", NULL,
};

static bool is_reference(const char *name, size_t len)
{
    for (size_t i = 0; reference_names[i]; i++)
        if (strlen(reference_names[i]) == len && memcmp(reference_names[i], name, len) == 0)
            return true;
    return false;
}

typedef struct render_ctx {
    const hk_event *ev;
    const hk_task *task;
    int attempt;
    hk_render_form form;
    bool probe; /* template_is_json: every known reference is written as null */
} render_ctx;

/* Writes the value of a known reference (is_reference). in_string and in_array say where it
 * sits in a JSON template (HK_RENDER_JSON). */
static void put_reference(sink *s, const char *name, size_t len, const render_ctx *c,
                          bool in_string, bool in_array)
{
#define IS(lit) (len == sizeof(lit) - 1 && memcmp(name, lit, len) == 0)
    if (c->probe) {
        emit(s, "null", 4);
        return;
    }
    const hk_event *ev = c->ev;
    const char *v = NULL;
    char n[16];
    if (IS("jobId"))
        v = ev->job_id;
    else if (IS("jobStatus"))
        v = ev->job_status;
    else if (IS("flowId"))
        v = ev->flow_id;
    else if (IS("flowName"))
        v = ev->flow_name;
    else if (IS("spaceId")) /* "" when the event names no space */
        v = ev->space_id ? ev->space_id : "";
    else if (IS("jobType"))
        v = ev->job_type;
    else if (IS("eventType"))
        v = ev->type;
    else if (IS("finishedAt"))
        v = ev->finished_at;
    else if (IS("webhookName"))
        v = c->task->name;
    else if (IS("attempt")) {
        snprintf(n, sizeof n, "%d", c->attempt);
        v = n;
    } else if (IS("outputIds")) {
        /* The ids joined with ",", each one a value of its own. Outside a string of a JSON
         * template they are elements: of the array the reference sits in ("[$outputIds]"), or
         * else of an array of their own ("{\"ids\":$outputIds}" is {"ids":[3,4]}). */
        bool wrap = c->form == HK_RENDER_JSON && !in_string && !in_array;
        if (wrap)
            emit(s, "[", 1);
        for (size_t i = 0; i < ev->output_ids_len; i++) {
            if (i)
                emit(s, ",", 1);
            emit_value(s, ev->output_ids[i], strlen(ev->output_ids[i]), c->form, in_string);
        }
        if (wrap)
            emit(s, "]", 1);
        return;
    }
#undef IS
    if (v)
        emit_value(s, v, strlen(v), c->form, in_string);
}

/* One pass over the template into s (measuring or writing). */
static void render_into(sink *s, const char *tmpl, const render_ctx *c)
{
    const char *p = tmpl, *copied = tmpl;
    /* A JSON template is valid JSON (template_is_json), nested at most CJSON_NESTING_LIMIT
     * deep: its strings and its containers are tracked exactly. */
    bool json = c->form == HK_RENDER_JSON;
    bool in_string = false;
    bool arrays[1024]; /* arrays[d]: the container at depth d + 1 is an array */
    size_t depth = 0;
    for (; *p && !s->over; p++) {
        if (json && *p == '"') {
            in_string = !in_string;
        } else if (json && *p == '\\' && in_string && p[1]) {
            p++; /* an escape: the next byte neither closes the string nor starts a $name */
        } else if (json && !in_string && (*p == '[' || *p == '{')) {
            if (depth < sizeof arrays / sizeof arrays[0])
                arrays[depth] = *p == '[';
            depth++;
        } else if (json && !in_string && (*p == ']' || *p == '}') && depth) {
            depth--;
        } else if (*p == '$' && is_name_start(p[1])) {
            const char *name = p + 1, *end = name;
            while (is_name_char(*end))
                end++;
            if (is_reference(name, (size_t)(end - name))) {
                bool in_array =
                    depth && depth <= sizeof arrays / sizeof arrays[0] && arrays[depth - 1];
                if (json && !c->probe && !in_string && in_array && c->ev->output_ids_len == 0 &&
                    end - name == 9 && memcmp(name, "outputIds", 9) == 0) {
                    /* No ids: the element vanishes, and with it one comma beside it, so that
                     * "[1,$outputIds]" is [1], not [1,]. The comma before it, if any, lies
                     * between the last thing copied and the reference (the template is JSON). */
                    /* between JSON tokens, what cJSON (which judged the template) skips */
                    const char *after = end;
                    while (*after && (unsigned char)*after <= 0x20)
                        after++;
                    const char *before = p;
                    while (before > copied && (unsigned char)before[-1] <= 0x20)
                        before--;
                    if (*after == ',') {
                        emit(s, copied, (size_t)(p - copied));
                        copied = after + 1;
                    } else {
                        emit(s, copied,
                             (size_t)((before > copied && before[-1] == ',' ? before - 1 : p) -
                                      copied));
                        copied = end;
                    }
                    p = copied - 1;
                    continue;
                }
                emit(s, copied, (size_t)(p - copied));
                put_reference(s, name, (size_t)(end - name), c, in_string, in_array);
                copied = end;
            }
            p = end - 1; /* an unknown $name stays as written, copied with the text around */
        }
    }
    emit(s, copied, strlen(copied));
}

char *hk_render(const char *tmpl, const hk_event *ev, const hk_task *task, int attempt,
                hk_render_form form, size_t max_bytes, size_t *len)
{
    render_ctx c = {.ev = ev, .task = task, .attempt = attempt, .form = form};
    sink measure = {.max = max_bytes};
    render_into(&measure, tmpl, &c);
    if (measure.over)
        return NULL;
    sink out = {.data = hk_xmalloc(measure.len + 1), .max = measure.len};
    render_into(&out, tmpl, &c);
    out.data[out.len] = '\0';
    if (len)
        *len = out.len;
    return out.data;
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

static bool is_form_type(const hk_kv *headers, size_t headers_len)
{
    static const char form[] = "application/x-www-form-urlencoded";
    for (size_t i = 0; i < headers_len; i++) {
        if (strcasecmp(headers[i].key, "Content-Type") != 0)
            continue;
        const char *v = headers[i].value;
        while (*v == ' ' || *v == '\t')
            v++;
        if (strncasecmp(v, form, sizeof form - 1) != 0)
            return false;
        char after = v[sizeof form - 1];
        return after == '\0' || after == ';' || after == ' ' || after == '\t';
    }
    return false;
}

/* True when the template, each known reference replaced by null, is a JSON object or array.
 * The references replaced are those render_into sees reading the template as JSON: a '$'
 * escaped inside a string ("\$jobId") is none, as when rendering. (Replacing it anyway made
 * "\$jobStatus" the valid escape "\null" in the probe while the body kept the invalid "\$":
 * a template judged JSON rendered a body that was not.) */
static bool template_is_json(const char *tmpl)
{
    const char *start = tmpl;
    while (isspace((unsigned char)*start))
        start++;
    if (*start != '{' && *start != '[')
        return false;
    render_ctx c = {.form = HK_RENDER_JSON, .probe = true};
    sink measure = {.max = SIZE_MAX};
    render_into(&measure, tmpl, &c);
    sink probe = {.data = hk_xmalloc(measure.len + 1), .max = measure.len};
    render_into(&probe, tmpl, &c);
    probe.data[probe.len] = '\0';
    const char *parse_end = NULL;
    cJSON *json = cJSON_ParseWithOpts(probe.data, &parse_end, true);
    bool ok = json && (cJSON_IsObject(json) || cJSON_IsArray(json));
    cJSON_Delete(json);
    free(probe.data);
    return ok;
}

hk_render_form hk_render_form_of(const hk_kv *headers, size_t headers_len, const char *tmpl)
{
    if (is_form_type(headers, headers_len))
        return HK_RENDER_FORM;
    if (tmpl && template_is_json(tmpl))
        return HK_RENDER_JSON;
    if (hk_render_is_json(headers, headers_len, tmpl))
        return HK_RENDER_JSON_ESCAPE;
    return HK_RENDER_RAW;
}
