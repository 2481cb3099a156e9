/*
 * payload.c — a request body as JSON by its Content-Type: the kind of a media type, the JSON
 * body (checked strictly before cJSON reads it, so a refusal names the byte), the form body, and
 * what the payload files share (payload_internal.h). XML and multipart are in their own files.
 */
#include "payload_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------- the kind --- */

hk_payload_kind hk_inbound_payload_kind(const char *content_type)
{
    if (!content_type)
        return HK_PAYLOAD_RAW;
    const char *p = content_type;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strcspn(p, ";");
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    char type[128];
    if (n == 0 || n >= sizeof type)
        return HK_PAYLOAD_RAW;
    for (size_t i = 0; i < n; i++)
        type[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
    type[n] = '\0';
    const char *slash = strchr(type, '/');
    if (!slash || slash == type || !slash[1])
        return HK_PAYLOAD_RAW;
    size_t sub = strlen(slash + 1);
    if (strcmp(type, "application/json") == 0 || (sub > 5 && strcmp(type + n - 5, "+json") == 0))
        return HK_PAYLOAD_JSON;
    if (strcmp(type, "application/x-www-form-urlencoded") == 0)
        return HK_PAYLOAD_FORM;
    if (strcmp(type, "application/xml") == 0 || strcmp(type, "text/xml") == 0 ||
        (sub > 4 && strcmp(type + n - 4, "+xml") == 0))
        return HK_PAYLOAD_XML;
    if (strcmp(type, "multipart/form-data") == 0)
        return HK_PAYLOAD_MULTIPART;
    return HK_PAYLOAD_RAW;
}

/* ---------------------------------------------------------------------- JSON bodies --- */

/* RFC 8259's grammar, walked without recursion (a stack of open containers), so a refusal
 * names its byte. cJSON alone would let through what decision 26 lists (control bytes
 * between tokens, data after the value, "01", "1.", raw control characters in strings) and
 * keeps a \u0000 that every C string read from the tree then ends at. */
/* A member name as it stands in the text, between its quotes. */
typedef struct name_span {
    size_t at, len;
} name_span;

typedef struct json_scan {
    const char *s;
    size_t len, i, values;
    const char *why; /* set on a refusal, at byte i */
    /* Member names of the objects open now, innermost last: duplicates are found at each '}'.
     * A name with an escape is left to the tree's check (escaped_names): "a" and "\u0061" are
     * one name. */
    name_span *names;
    size_t names_len, names_cap;
    bool escaped_names;
    bool repeated_name; /* the refusal is a name given twice (no byte offset in its message) */
} json_scan;

static size_t skip_ws(const json_scan *j, size_t i)
{
    while (i < j->len && (j->s[i] == ' ' || j->s[i] == '\t' || j->s[i] == '\n' || j->s[i] == '\r'))
        i++;
    return i;
}

static bool fail(json_scan *j, size_t at, const char *why)
{
    j->i = at;
    j->why = why;
    return false;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A string at j->i (its '"'); on success j->i is past the closing quote. UTF-8 was checked
 * over the whole body before, so bytes >= 0x80 stand as they are. */
static bool scan_string(json_scan *j)
{
    size_t i = j->i + 1;
    while (i < j->len) {
        i += hk_json_plain_prefix(j->s + i, j->len - i);
        if (i >= j->len)
            break;
        unsigned char c = (unsigned char)j->s[i];
        if (c == '"') {
            j->i = i + 1;
            return true;
        }
        if (c < 0x20)
            return fail(j, i, "a control character in a string");
        if (c != '\\') {
            i++;
            continue;
        }
        if (i + 1 >= j->len)
            break;
        char e = j->s[i + 1];
        if (strchr("\"\\/bfnrt", e) && e) {
            i += 2;
            continue;
        }
        if (e != 'u')
            return fail(j, i, "an invalid escape");
        int u = i + 6 <= j->len ? hex4(j->s + i + 2) : -1;
        if (u < 0)
            return fail(j, i, "an invalid \\u escape");
        if (u == 0)
            return fail(j, i, "\\u0000 is not accepted");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return fail(j, i, "a lone UTF-16 surrogate");
        if (u >= 0xD800 && u <= 0xDBFF) {
            int lo = i + 12 <= j->len && j->s[i + 6] == '\\' && j->s[i + 7] == 'u'
                         ? hex4(j->s + i + 8)
                         : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(j, i, "a lone UTF-16 surrogate");
            i += 6;
        }
        i += 6;
    }
    return fail(j, j->len, "an unterminated string");
}

static bool scan_number(json_scan *j)
{
    size_t i = j->i;
    const char *s = j->s;
    if (s[i] == '-')
        i++;
    if (i < j->len && s[i] == '0') {
        i++;
    } else if (i < j->len && s[i] >= '1' && s[i] <= '9') {
        while (i < j->len && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return fail(j, i, "an invalid number");
    }
    if (i < j->len && s[i] == '.') {
        size_t d = ++i;
        while (i < j->len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return fail(j, i, "an invalid number");
    }
    if (i < j->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < j->len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < j->len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return fail(j, i, "an invalid number");
    }
    /* cJSON copies a number into 64 bytes before strtod: a longer one it cannot read */
    if (i - j->i > 63)
        return fail(j, j->i, "a number longer than 63 characters");
    /* 1e400 would be a double's infinity, which cJSON prints as null: another value */
    char copy[64];
    memcpy(copy, s + j->i, i - j->i);
    copy[i - j->i] = '\0';
    if (isinf(strtod(copy, NULL)))
        return fail(j, j->i, "a number out of a double's range");
    j->i = i;
    return true;
}

/* One scalar or the opening of a container at j->i (after whitespace). *opened is the container
 * opened ('{' or '['), or 0 for a scalar. */
static bool scan_value_start(json_scan *j, char *opened)
{
    *opened = 0;
    if (j->i >= j->len)
        return fail(j, j->i, "a value expected");
    if (++j->values > HK_PAYLOAD_MAX_JSON_VALUES)
        return fail(j, j->i, "more than 1000000 values");
    char c = j->s[j->i];
    if (c == '{' || c == '[') {
        *opened = c;
        j->i++;
        return true;
    }
    if (c == '"')
        return scan_string(j);
    if (c == '-' || (c >= '0' && c <= '9'))
        return scan_number(j);
    static const char *const words[] = {"true", "false", "null"};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(words[k]);
        if (j->len - j->i >= n && memcmp(j->s + j->i, words[k], n) == 0) {
            j->i += n;
            return true;
        }
    }
    return fail(j, j->i, "a value expected");
}

/* One message for a repeated name, whichever check finds it. */
#define REPEATED_NAME "invalid JSON (an object names a member twice: RFC 7493)"

static size_t name_hash_n(const char *s, size_t n)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t k = 0; k < n; k++)
        h = (h ^ (unsigned char)s[k]) * 1099511628211u;
    return h;
}

static bool same_name(const json_scan *j, const name_span *a, const name_span *b)
{
    return a->len == b->len && memcmp(j->s + a->at, j->s + b->at, a->len) == 0;
}

/* Whether the n names from `first` (one object's) hold one twice: pairwise when few, else an
 * open-addressing table. */
static bool names_repeat(const json_scan *j, const name_span *first, size_t n)
{
    if (n < 2)
        return false;
    if (n <= 16) {
        for (size_t a = 1; a < n; a++)
            for (size_t b = 0; b < a; b++)
                if (same_name(j, &first[a], &first[b]))
                    return true;
        return false;
    }
    size_t slots_len = 32;
    while (slots_len < 2 * n)
        slots_len *= 2;
    const name_span **slots = hk_xcalloc(slots_len, sizeof *slots);
    bool dup = false;
    for (size_t a = 0; a < n && !dup; a++) {
        size_t k = name_hash_n(j->s + first[a].at, first[a].len) & (slots_len - 1);
        for (; slots[k] && !dup; k = (k + 1) & (slots_len - 1))
            dup = same_name(j, slots[k], &first[a]);
        slots[k] = &first[a];
    }
    free(slots);
    return dup;
}

static void push_name(json_scan *j, size_t at, size_t len)
{
    if (memchr(j->s + at, '\\', len)) {
        j->escaped_names = true;
        return;
    }
    if (j->names_len == j->names_cap) {
        j->names_cap = j->names_cap ? 2 * j->names_cap : 32;
        j->names = hk_xrealloc(j->names, j->names_cap * sizeof *j->names);
    }
    j->names[j->names_len++] = (name_span){.at = at, .len = len};
}

static bool scan_json(json_scan *j)
{
    char stack[HK_PAYLOAD_MAX_DEPTH];
    size_t first_name[HK_PAYLOAD_MAX_DEPTH]; /* an object's first name in j->names */
    size_t depth = 0;
    bool want_value = true; /* else: after a value, or at a container's first member */
    bool at_first = false;  /* just after '{' or '[' */
    j->i = skip_ws(j, j->i);
    for (;;) {
        if (want_value) {
            char opened;
            if (!scan_value_start(j, &opened))
                return false;
            if (opened) {
                if (depth == HK_PAYLOAD_MAX_DEPTH)
                    return fail(j, j->i - 1, "nested deeper than 100");
                first_name[depth] = j->names_len;
                stack[depth++] = opened;
                at_first = true;
            }
            want_value = false;
        }
        j->i = skip_ws(j, j->i);
        if (depth == 0)
            return j->i == j->len || fail(j, j->i, "data after the value");
        if (j->i >= j->len)
            return fail(j, j->i, "an unterminated array or object");
        char c = j->s[j->i], top = stack[depth - 1];
        if ((top == '{' && c == '}') || (top == '[' && c == ']')) {
            if (top == '{') {
                size_t from = first_name[depth - 1];
                if (j->names_len - from > 1 &&
                    names_repeat(j, j->names + from, j->names_len - from)) {
                    j->repeated_name = true;
                    return fail(j, j->i, "an object names a member twice");
                }
                j->names_len = from;
            }
            j->i++;
            depth--;
            at_first = false;
            continue;
        }
        if (!at_first) {
            if (c != ',')
                return fail(j, j->i, top == '{' ? "',' or '}' expected" : "',' or ']' expected");
            j->i = skip_ws(j, j->i + 1);
        }
        at_first = false;
        if (top == '{') {
            if (j->i >= j->len || j->s[j->i] != '"')
                return fail(j, j->i, "a member name expected");
            size_t name_at = j->i + 1;
            if (!scan_string(j))
                return false;
            push_name(j, name_at, j->i - 1 - name_at);
            j->i = skip_ws(j, j->i);
            if (j->i >= j->len || j->s[j->i] != ':')
                return fail(j, j->i, "':' expected");
            j->i = skip_ws(j, j->i + 1);
        }
        want_value = true;
    }
}

static size_t name_hash(const char *s);

/* True when some object in the tree (depth <= HK_PAYLOAD_MAX_DEPTH) names a member twice. */
static bool has_duplicate_name(const cJSON *v)
{
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return false;
    size_t n = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
        if (has_duplicate_name(c))
            return true;
        n++;
    }
    if (!cJSON_IsObject(v) || n < 2)
        return false;
    size_t slots_len = 4;
    while (slots_len < 2 * n)
        slots_len *= 2;
    const char **slots = hk_xcalloc(slots_len, sizeof *slots);
    bool dup = false;
    for (const cJSON *c = v->child; c && !dup; c = c->next) {
        size_t k = name_hash(c->string) & (slots_len - 1);
        for (; slots[k] && !dup; k = (k + 1) & (slots_len - 1))
            dup = strcmp(slots[k], c->string) == 0;
        slots[k] = c->string;
    }
    free(slots);
    return dup;
}

/* The strict read of a JSON body (UTF-8, grammar, limits, names once per object). HK_OK, or
 * HK_EINVAL with err; *escaped: some name has an escape, left to the tree's check. */
static int check_json(const char *body, size_t len, size_t *from, bool *escaped, hk_error *err)
{
    if (!hk_utf8_valid(body ? body : "", len)) {
        const char *nul = len ? memchr(body, '\0', len) : NULL;
        if (nul)
            return hk_error_set(err, HK_EINVAL, "payload", "invalid JSON at byte %zu (a NUL byte)",
                                (size_t)(nul - body));
        return hk_error_set(err, HK_EINVAL, "payload", "invalid JSON (not UTF-8 text)");
    }
    json_scan j = {.s = body ? body : "", .len = len};
    /* RFC 8259 8.1 lets a parser ignore a byte order mark: the body itself is kept as it came
     * (the record carries it as a string), so nothing else reads it as JSON. cJSON is given the
     * text after it: its own skip needs more than 4 bytes (BOM + "0" was not read). */
    *from = len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    j.i = *from;
    bool ok = scan_json(&j);
    free(j.names);
    *escaped = j.escaped_names;
    /* {"a":1,"a":2}: cJSON (and so the flows' JSON paths) reads the first, most other parsers
     * the last; I-JSON (RFC 7493) refuses it, as decision 26 does for events. */
    if (!ok && j.repeated_name)
        return hk_error_set(err, HK_EINVAL, "payload", REPEATED_NAME);
    if (!ok)
        return hk_error_set(err, HK_EINVAL, "payload", "invalid JSON at byte %zu (%s)", j.i, j.why);
    return HK_OK;
}

static int payload_json(const char *body, size_t len, cJSON **out, hk_error *err)
{
    size_t from = 0;
    bool escaped = false;
    int rc = check_json(body, len, &from, &escaped, err);
    if (rc != HK_OK || (!out && !escaped))
        return rc;
    const char *text = body ? body : "";
    cJSON *tree = cJSON_ParseWithLengthOpts(text + from, len - from, NULL, false);
    if (!tree) /* the grammar passed: only an allocation can fail here */
        return hk_error_set(err, HK_ENOMEM, "payload", "out of memory reading the JSON");
    if (escaped && has_duplicate_name(tree)) {
        cJSON_Delete(tree);
        return hk_error_set(err, HK_EINVAL, "payload", REPEATED_NAME);
    }
    if (out)
        *out = tree;
    else
        cJSON_Delete(tree);
    return HK_OK;
}

int hk_inbound_payload_json_check(const char *body, size_t len, hk_error *err)
{
    return payload_json(body, len, NULL, err);
}

/* ---------------------------------------------------------------------- form bodies --- */

static int form_text(const char *s, size_t n, size_t pair, const char *what, char **out,
                     hk_error *err)
{
    size_t len;
    char *text = hk_inbound_form_decode(s, n, &len);
    if (memchr(text, '\0', len)) {
        free(text);
        return hk_error_set(err, HK_EINVAL, "payload", "form: pair %zu: the %s holds a NUL (%%00)",
                            pair, what);
    }
    if (!hk_utf8_valid(text, len)) {
        free(text);
        return hk_error_set(err, HK_EINVAL, "payload",
                            "form: pair %zu: the %s is not UTF-8 after percent-decoding", pair,
                            what);
    }
    *out = text;
    return HK_OK;
}

static int payload_form(const char *body, size_t len, cJSON **out, hk_error *err)
{
    hk__group g = {0};
    size_t pairs = 0;
    int rc = HK_OK;
    for (size_t at = 0; at < len && rc == HK_OK;) {
        const char *amp = memchr(body + at, '&', len - at);
        size_t end = amp ? (size_t)(amp - body) : len;
        if (end > at) { /* "a=1&&b=2": an empty pair is skipped */
            if (++pairs > HK_PAYLOAD_MAX_ITEMS) {
                rc = hk_error_set(err, HK_EINVAL, "payload", "form: more than %d pairs",
                                  HK_PAYLOAD_MAX_ITEMS);
                break;
            }
            const char *p = body + at, *eq = memchr(p, '=', end - at);
            size_t name_len = eq ? (size_t)(eq - p) : end - at;
            char *name = NULL, *value = NULL;
            rc = form_text(p, name_len, pairs, "name", &name, err);
            if (rc == HK_OK)
                rc = eq ? form_text(eq + 1, end - at - name_len - 1, pairs, "value", &value, err)
                        : form_text("", 0, pairs, "value", &value, err);
            if (rc == HK_OK) {
                cJSON *v = cJSON_CreateString(value);
                rc = v ? hk__group_add(&g, name, v) : HK_ENOMEM;
            }
            free(name);
            free(value);
        }
        at = end + 1;
    }
    cJSON *obj = rc == HK_OK ? cJSON_CreateObject() : NULL;
    if (rc == HK_OK && (!obj || hk__group_finish(&g, obj) != HK_OK))
        rc = HK_ENOMEM;
    hk__group_free(&g);
    if (rc != HK_OK) {
        cJSON_Delete(obj);
        return rc == HK_ENOMEM ? hk_error_set(err, rc, "payload", "out of memory") : rc;
    }
    *out = obj;
    return HK_OK;
}

/* ------------------------------------------------------------------------ the entry --- */

int hk_inbound_payload(const char *content_type, const char *body, size_t len, cJSON **out,
                       hk_error *err)
{
    *out = NULL;
    if (!body)
        len = 0;
    switch (hk_inbound_payload_kind(content_type)) {
    case HK_PAYLOAD_JSON:
        return payload_json(body, len, out, err);
    case HK_PAYLOAD_FORM:
        return payload_form(body, len, out, err);
    case HK_PAYLOAD_XML:
        return hk__payload_xml(body, len, out, err);
    case HK_PAYLOAD_MULTIPART:
        return hk__payload_multipart(content_type, body, len, out, err);
    case HK_PAYLOAD_RAW:
        break;
    }
    return HK_OK;
}

/* ---------------------------------------------------------------- shared: the group --- */

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static int group_rehash(hk__group *g)
{
    size_t n = g->slots_len ? g->slots_len * 2 : 16;
    size_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return HK_ENOMEM;
    for (size_t e = 0; e < g->len; e++) {
        size_t k = name_hash(g->entries[e].name) & (n - 1);
        while (slots[k])
            k = (k + 1) & (n - 1);
        slots[k] = e + 1;
    }
    free(g->slots);
    g->slots = slots;
    g->slots_len = n;
    return HK_OK;
}

int hk__group_add(hk__group *g, const char *name, cJSON *value)
{
    if (!value)
        return HK_ENOMEM;
    if ((g->len + 1) * 2 > g->slots_len && group_rehash(g) != HK_OK) {
        cJSON_Delete(value);
        return HK_ENOMEM;
    }
    size_t k = name_hash(name) & (g->slots_len - 1);
    for (; g->slots[k]; k = (k + 1) & (g->slots_len - 1)) {
        hk__group_entry *e = &g->entries[g->slots[k] - 1];
        if (strcmp(e->name, name) != 0)
            continue;
        if (!e->array) {
            e->array = cJSON_CreateArray();
            if (!e->array) {
                cJSON_Delete(value);
                return HK_ENOMEM;
            }
            cJSON_AddItemToArray(e->array, e->value);
            e->value = NULL;
        }
        cJSON_AddItemToArray(e->array, value);
        return HK_OK;
    }
    if (g->len == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        hk__group_entry *entries = realloc(g->entries, cap * sizeof *entries);
        if (!entries) {
            cJSON_Delete(value);
            return HK_ENOMEM;
        }
        g->entries = entries;
        g->cap = cap;
    }
    g->entries[g->len] = (hk__group_entry){.name = hk_strdup(name), .value = value};
    g->slots[k] = ++g->len;
    return HK_OK;
}

int hk__group_finish(hk__group *g, cJSON *obj)
{
    for (size_t e = 0; e < g->len; e++) {
        hk__group_entry *en = &g->entries[e];
        cJSON *v = en->array ? en->array : en->value;
        if (!cJSON_AddItemToObject(obj, en->name, v))
            return HK_ENOMEM; /* v stays in the entry: hk__group_free frees it */
        en->array = en->value = NULL;
    }
    return HK_OK;
}

void hk__group_free(hk__group *g)
{
    for (size_t e = 0; e < g->len; e++) {
        free(g->entries[e].name);
        cJSON_Delete(g->entries[e].value);
        cJSON_Delete(g->entries[e].array);
    }
    free(g->entries);
    free(g->slots);
    *g = (hk__group){0};
}

/* ----------------------------------------------------- shared: a header's parameters --- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int hk__header_param(const char *value, size_t len, const char *name, char **out)
{
    *out = NULL;
    const char *p = memchr(value, ';', len), *end = value + len;
    while (p && p < end) {
        p++; /* past ';' */
        while (p < end && is_ows(*p))
            p++;
        if (p == end)
            return 0; /* a trailing ';' */
        const char *k = p;
        while (p < end && *p != '=' && *p != ';')
            p++;
        const char *kend = p;
        while (kend > k && is_ows(kend[-1]))
            kend--;
        if (kend == k)
            return -1;
        bool match = (size_t)(kend - k) == strlen(name) && strncasecmp(k, name, strlen(name)) == 0;
        if (p == end || *p == ';') {
            if (match) {
                *out = hk_strdup("");
                return 1;
            }
            continue;
        }
        p++; /* past '=' */
        while (p < end && is_ows(*p))
            p++;
        hk_buf v = {0};
        if (p < end && *p == '"') {
            for (p++;; p++) {
                if (p == end) {
                    hk_buf_free(&v);
                    return -1;
                }
                if (*p == '"')
                    break;
                if (*p == '\\' && p + 1 < end)
                    p++;
                hk_buf_append(&v, p, 1);
            }
            p++;
            while (p < end && is_ows(*p))
                p++;
            if (p < end && *p != ';') {
                hk_buf_free(&v);
                return -1;
            }
        } else {
            const char *s = p;
            while (p < end && *p != ';')
                p++;
            const char *e = p;
            while (e > s && is_ows(e[-1]))
                e--;
            hk_buf_append(&v, s, (size_t)(e - s));
        }
        if (match) {
            *out = hk_buf_take(&v);
            return 1;
        }
        hk_buf_free(&v);
        p = p < end ? p : NULL;
    }
    return 0;
}
