/*
 * jsonpath.c — the JSON paths of a wait's matches (a subset of RFC 9535: singular paths of
 * member names and array indexes, no wildcards, filters, slices or descendants) and canonical
 * JSON, the one spelling of a value that makes equal values equal text. A path is refused with
 * the byte where it went wrong and what is not supported; an accepted one carries its
 * canonical spelling, RFC 9535's Normalized Path ($['a'][0]), so two spellings of one path are
 * one shape. The grammar and the spellings are in docs/inbound.md, "JSON paths".
 */
#include "hk_inbound.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ parsing --- */

typedef struct path_parser {
    const char *s; /* the path as written, NUL-terminated */
    size_t len, i;
    const char *field;
    hk_error *err;
    hk_jsonpath *out;
    size_t cap;  /* of out->segs */
    hk_buf name; /* the quoted name being decoded */
} path_parser;

/* The byte at `at` for a message: 'x' when it is printable ASCII ("'" for a quote), else its
 * value. */
static void describe_byte(const path_parser *pp, size_t at, char out[24])
{
    unsigned char c = at < pp->len ? (unsigned char)pp->s[at] : 0;
    if (at >= pp->len)
        snprintf(out, 24, "the end");
    else if (c == ' ')
        snprintf(out, 24, "a space");
    else if (c == '\'')
        snprintf(out, 24, "\"'\"");
    else if (c > 0x20 && c < 0x7f)
        snprintf(out, 24, "'%c'", c);
    else
        snprintf(out, 24, "byte 0x%02x", c);
}

/* Refuses the path at byte `at` (0-based) saying why; never quotes the path itself. */
static int fail(path_parser *pp, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(path_parser *pp, size_t at, const char *fmt, ...)
{
    char what[24], why[200];
    describe_byte(pp, at, what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return hk_error_set(pp->err, HK_EINVAL, pp->field, "at byte %zu (%s): %s", at, what, why);
}

static int add_segment(path_parser *pp, size_t at, const char *name, size_t name_len, long index)
{
    hk_jsonpath *p = pp->out;
    if (p->len == HK_WAIT_PATH_SEGMENTS_MAX)
        return fail(pp, at, "more than %d segments", HK_WAIT_PATH_SEGMENTS_MAX);
    if (p->len == pp->cap) {
        pp->cap = pp->cap ? 2 * pp->cap : 4;
        p->segs = hk_xrealloc(p->segs, pp->cap * sizeof *p->segs);
    }
    hk_jsonpath_seg *seg = &p->segs[p->len++];
    seg->name = name ? hk_xmalloc(name_len + 1) : NULL;
    if (name) {
        if (name_len)
            memcpy(seg->name, name, name_len);
        seg->name[name_len] = '\0';
    }
    seg->name_len = name ? name_len : 0;
    seg->index = index;
    return HK_OK;
}

/* The length of the UTF-8 character at pp->i (a byte >= 0x80), or 0 when it is not one:
 * hk_utf8_valid judges the sequence its lead byte announces. */
static size_t utf8_char(const path_parser *pp)
{
    unsigned char c = (unsigned char)pp->s[pp->i];
    size_t n = c >= 0xC0 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xF0 ? 4 : 0;
    return n && pp->i + n <= pp->len && hk_utf8_valid(pp->s + pp->i, n) ? n : 0;
}

static bool is_name_first(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

/* `.name` at pp->i (the '.'). */
static int parse_dot(path_parser *pp)
{
    size_t dot = pp->i++;
    if (pp->i < pp->len && pp->s[pp->i] == '.')
        return fail(pp, dot, "descendant segments (..) are not supported");
    if (pp->i < pp->len && pp->s[pp->i] == '*')
        return fail(pp, pp->i, "wildcards (*) are not supported");
    size_t start = pp->i;
    while (pp->i < pp->len) {
        unsigned char c = (unsigned char)pp->s[pp->i];
        if (c >= 0x80) {
            size_t n = utf8_char(pp);
            if (!n)
                return fail(pp, pp->i, "not valid UTF-8");
            pp->i += n;
        } else if (is_name_first(c) || (pp->i > start && c >= '0' && c <= '9')) {
            pp->i++;
        } else {
            break;
        }
    }
    if (pp->i == start || (pp->i < pp->len && pp->s[pp->i] != '.' && pp->s[pp->i] != '['))
        return fail(pp, pp->i,
                    "a .name is letters, digits (not first), _ and non-ASCII characters; write "
                    "any other name in brackets, as ['user-id']");
    return add_segment(pp, start, pp->s + start, pp->i - start, 0);
}

static int hex4(const char *s)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hk_hex_digit(s[k]); /* s is NUL-terminated: a short escape stops at a non-digit */
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static void append_utf8(hk_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    hk_buf_append(b, u, n);
}

/* The escape at pp->i (its '\\') inside a name quoted with q; appended to pp->name. */
static int parse_escape(path_parser *pp, char q)
{
    size_t at = pp->i;
    char e = pp->s[at + 1]; /* at most the NUL after the text */
    const char *from = "bfnrt", *to = "\b\f\n\r\t";
    const char *k = e ? strchr(from, e) : NULL;
    if (e == q || e == '\\' || e == '/' || k) {
        char c = k ? to[k - from] : e;
        hk_buf_append(&pp->name, &c, 1);
        pp->i += 2;
        return HK_OK;
    }
    if (e != 'u')
        return fail(pp, at + 1,
                    q == '\'' ? "escapes are \\' \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX"
                              : "escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX");
    int u = hex4(pp->s + at + 2);
    if (u < 0)
        return fail(pp, at, "\\u takes four hex digits");
    pp->i += 6;
    unsigned cp = (unsigned)u;
    if (u >= 0xDC00 && u <= 0xDFFF)
        return fail(pp, at, "a lone UTF-16 surrogate (a low one with no high one before it)");
    if (u >= 0xD800 && u <= 0xDBFF) {
        int lo = pp->s[pp->i] == '\\' && pp->s[pp->i + 1] == 'u' ? hex4(pp->s + pp->i + 2) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fail(pp, at, "a lone UTF-16 surrogate (a high one with no low one after it)");
        cp = 0x10000 + (((unsigned)u - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
        pp->i += 6;
    }
    append_utf8(&pp->name, cp);
    return HK_OK;
}

/* A name quoted with q at pp->i (the quote) into pp->name; pp->i ends past the closing quote. */
static int parse_quoted(path_parser *pp, char q)
{
    size_t open = pp->i++;
    pp->name.len = 0;
    while (pp->i < pp->len) {
        unsigned char c = (unsigned char)pp->s[pp->i];
        if (c == (unsigned char)q) {
            pp->i++;
            return HK_OK;
        }
        if (c == '\\') {
            if (parse_escape(pp, q) != HK_OK)
                return HK_EINVAL;
        } else if (c < 0x20) {
            return fail(pp, pp->i, "a control character in a name (write it as \\u00XX)");
        } else if (c >= 0x80) {
            size_t n = utf8_char(pp);
            if (!n)
                return fail(pp, pp->i, "not valid UTF-8");
            hk_buf_append(&pp->name, pp->s + pp->i, n);
            pp->i += n;
        } else {
            hk_buf_append(&pp->name, pp->s + pp->i, 1);
            pp->i++;
        }
    }
    return fail(pp, open, "the quoted name has no closing quote");
}

/* An index at pp->i ('-' or a digit) into *out: 0, or a non-zero digit and digits, optionally
 * after '-' (not -0), within a long. */
static int parse_index(path_parser *pp, long *out)
{
    size_t start = pp->i;
    if (pp->s[pp->i] == '-')
        pp->i++;
    size_t digits = pp->i;
    while (pp->i < pp->len && pp->s[pp->i] >= '0' && pp->s[pp->i] <= '9')
        pp->i++;
    if (pp->i == digits)
        return fail(pp, pp->i, "an index needs digits after '-'");
    if (pp->s[digits] == '0' && pp->i - digits > 1)
        return fail(pp, digits, "an index has no leading zeros");
    if (pp->s[digits] == '0' && digits > start)
        return fail(pp, start, "-0 is not an index (write 0)");
    errno = 0;
    *out = strtol(pp->s + start, NULL, 10); /* exactly the digits checked above */
    if (errno == ERANGE)
        return fail(pp, start, "the index is out of range");
    return HK_OK;
}

static void skip_blank(path_parser *pp)
{
    while (pp->i < pp->len && strchr(" \t\r\n", pp->s[pp->i]))
        pp->i++;
}

/* `[ 'name' ]`, `[ "name" ]` or `[ n ]` at pp->i (the '['). */
static int parse_bracket(path_parser *pp)
{
    pp->i++;
    skip_blank(pp);
    size_t at = pp->i;
    char c = at < pp->len ? pp->s[at] : '\0';
    long index = 0;
    bool is_name = c == '\'' || c == '"';
    if (is_name) {
        if (parse_quoted(pp, c) != HK_OK)
            return HK_EINVAL;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (parse_index(pp, &index) != HK_OK)
            return HK_EINVAL;
    } else {
        return fail(pp, at,
                    c == '*'   ? "wildcards (*) are not supported"
                    : c == '?' ? "filters (?) are not supported"
                    : c == ':' ? "slices (:) are not supported"
                               : "a bracket holds 'name', \"name\" or an index");
    }
    skip_blank(pp);
    c = pp->i < pp->len ? pp->s[pp->i] : '\0';
    if (c != ']')
        return fail(pp, pp->i,
                    c == ','               ? "unions (,) are not supported"
                    : c == ':' && !is_name ? "slices (:) are not supported"
                                           : "']' expected");
    pp->i++;
    return is_name ? add_segment(pp, at, pp->name.data ? pp->name.data : "", pp->name.len, 0)
                   : add_segment(pp, at, NULL, 0, index);
}

/* RFC 9535's Normalized Path: names in single quotes with ' and \ escaped by a backslash,
 * \b \f \n \r \t, other control characters (NUL included) as \u00xx in lowercase hex;
 * indexes in decimal. */
static char *canonical_of(const hk_jsonpath *p)
{
    hk_buf b = {0};
    hk_buf_puts(&b, "$");
    for (size_t i = 0; i < p->len; i++) {
        const hk_jsonpath_seg *seg = &p->segs[i];
        if (!seg->name) {
            hk_buf_printf(&b, "[%ld]", seg->index);
            continue;
        }
        hk_buf_puts(&b, "['");
        for (size_t k = 0; k < seg->name_len; k++) {
            unsigned char c = (unsigned char)seg->name[k];
            char esc[6];
            size_t n = c == '"' ? 0 : hk_json_escape_byte(c, esc);
            if (c == '\'')
                hk_buf_append(&b, "\\'", 2);
            else
                hk_buf_append(&b, n ? esc : (const char *)&seg->name[k], n ? n : 1);
        }
        hk_buf_puts(&b, "']");
    }
    return hk_buf_take(&b);
}

int hk_jsonpath_parse(const char *text, const char *field, hk_jsonpath *out, hk_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return hk_error_set(err, HK_EINVAL, field, "required");
    path_parser pp = {.s = text, .len = strlen(text), .field = field, .err = err, .out = out};
    int rc = HK_OK;
    if (pp.len > HK_WAIT_PATH_MAX)
        rc = hk_error_set(err, HK_EINVAL, field, "longer than %d bytes", HK_WAIT_PATH_MAX);
    else if (pp.len == 0 || text[0] != '$')
        rc = fail(&pp, 0, "a path starts with $");
    for (pp.i = 1; rc == HK_OK && pp.i < pp.len;) {
        if (text[pp.i] == '.')
            rc = parse_dot(&pp);
        else if (text[pp.i] == '[')
            rc = parse_bracket(&pp);
        else
            rc = fail(&pp, pp.i, "a segment is .name, ['name'], [\"name\"] or [index]");
    }
    hk_buf_free(&pp.name);
    if (rc == HK_OK) {
        out->canonical = canonical_of(out);
        /* The canonical spelling is stored and read back (a shape): it must pass the same limit
         * (.a is ['a'], 3 bytes longer). */
        if (strlen(out->canonical) > HK_WAIT_PATH_MAX)
            rc = hk_error_set(err, HK_EINVAL, field,
                              "its canonical form ($['...']...) is longer than %d bytes",
                              HK_WAIT_PATH_MAX);
    }
    if (rc != HK_OK)
        hk_jsonpath_free(out);
    return rc;
}

void hk_jsonpath_free(hk_jsonpath *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->len; i++)
        free(p->segs[i].name);
    free(p->segs);
    free(p->canonical);
    memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------------- selecting --- */

static const cJSON *member(const cJSON *obj, const char *name, size_t len)
{
    if (!cJSON_IsObject(obj) || memchr(name, '\0', len)) /* cJSON's names hold no NUL */
        return NULL;
    for (const cJSON *c = obj->child; c; c = c->next) /* the first of a repeated name, as cJSON */
        if (c->string && strlen(c->string) == len && memcmp(c->string, name, len) == 0)
            return c;
    return NULL;
}

static const cJSON *element(const cJSON *arr, long index)
{
    if (!cJSON_IsArray(arr))
        return NULL;
    long n = 0;
    for (const cJSON *c = arr->child; c; c = c->next)
        n++;
    if (index < -n || index >= n)
        return NULL;
    long k = index < 0 ? n + index : index;
    const cJSON *c = arr->child;
    while (k-- > 0)
        c = c->next;
    return c;
}

const cJSON *hk_jsonpath_get(const hk_jsonpath *p, const cJSON *doc)
{
    const cJSON *cur = doc;
    for (size_t i = 0; cur && i < p->len; i++) {
        const hk_jsonpath_seg *seg = &p->segs[i];
        cur = seg->name ? member(cur, seg->name, seg->name_len) : element(cur, seg->index);
    }
    return cur;
}

/* ------------------------------------------------------- selecting in a JSON text --- */

/* A walk over JSON text that the strict reader passed (hk_inbound_payload_json_check): it
 * relies on the text being well-formed, and stays within its bounds whatever it holds. */
typedef struct walk {
    const char *s, *end;
} walk;

static void skip_space(walk *w)
{
    while (w->s < w->end && (*w->s == ' ' || *w->s == '\t' || *w->s == '\n' || *w->s == '\r'))
        w->s++;
}

/* At a '"': past the closing one. Whether the string holds an escape, in *escaped. */
static void skip_string(walk *w, bool *escaped)
{
    w->s++;
    while (w->s < w->end) {
        w->s += hk_json_plain_prefix(w->s, (size_t)(w->end - w->s));
        if (w->s >= w->end)
            return;
        if (*w->s == '"') {
            w->s++;
            return;
        }
        if (*w->s == '\\') {
            *escaped = true;
            w->s++;
        }
        w->s++; /* the escaped byte, or a control byte (not in checked text) */
    }
}

static void skip_value(walk *w)
{
    bool escaped = false;
    int depth = 0;
    do {
        skip_space(w);
        if (w->s >= w->end)
            return;
        char c = *w->s;
        if (c == '"') {
            skip_string(w, &escaped);
        } else if (c == '{' || c == '[') {
            depth++;
            w->s++;
        } else if (c == '}' || c == ']') {
            depth--;
            w->s++;
        } else if (c == ',' || c == ':') {
            w->s++;
        } else { /* a number, true, false, null; any other byte (not in checked text) alone */
            const char *from = w->s;
            while (w->s < w->end && !memchr(",:]} \t\r\n", *w->s, 7))
                w->s++;
            if (w->s == from)
                w->s++;
        }
    } while (depth > 0 && w->s < w->end);
}

/* Whether the member name at w (a '"') is name; w is left past it. A name with an escape is
 * decoded by cJSON (rare: providers write plain names). */
static bool name_is(walk *w, const char *name, size_t len)
{
    const char *from = w->s;
    bool escaped = false;
    skip_string(w, &escaped);
    if (!escaped)
        return (size_t)(w->s - from) == len + 2 && memcmp(from + 1, name, len) == 0;
    cJSON *key = cJSON_ParseWithLength(from, (size_t)(w->s - from));
    bool same = cJSON_IsString(key) && !memchr(name, '\0', len) &&
                strlen(key->valuestring) == len && memcmp(key->valuestring, name, len) == 0;
    cJSON_Delete(key);
    return same;
}

/* Past the value at w and the ',' after it: false at the end of its object or array. */
static bool to_next(walk *w)
{
    skip_value(w);
    skip_space(w);
    if (w->s >= w->end || *w->s != ',')
        return false;
    w->s++;
    return true;
}

/* At an object: to the value of its member name (true), or not there (false). */
static bool to_member(walk *w, const char *name, size_t len)
{
    skip_space(w);
    if (w->s >= w->end || *w->s != '{')
        return false;
    w->s++;
    for (;;) {
        skip_space(w);
        if (w->s >= w->end || *w->s != '"')
            return false; /* '}': no such member */
        bool found = name_is(w, name, len);
        skip_space(w);
        if (w->s >= w->end || *w->s != ':')
            return false;
        w->s++;
        if (found) /* the first of a repeated name, as cJSON (checked text has none) */
            return true;
        if (!to_next(w))
            return false;
    }
}

/* At an array: to its element index (from the end when negative). */
static bool to_element(walk *w, long index)
{
    skip_space(w);
    if (w->s >= w->end || *w->s != '[')
        return false;
    const char *open = w->s;
    long n = 0;
    if (index < 0) { /* count them first */
        w->s++;
        skip_space(w);
        while (w->s < w->end && *w->s != ']') {
            skip_value(w);
            n++;
            skip_space(w);
            if (w->s < w->end && *w->s == ',')
                w->s++;
        }
        if (index < -n)
            return false;
        index += n;
        w->s = open;
    }
    w->s++;
    for (long k = 0;; k++) {
        skip_space(w);
        if (w->s >= w->end || *w->s == ']')
            return false;
        if (k == index)
            return true;
        if (!to_next(w))
            return false;
    }
}

bool hk_jsonpath_find(const hk_jsonpath *p, const char *doc, size_t len, const char **at,
                      size_t *at_len)
{
    walk w = {.s = doc, .end = doc + len};
    if (len >= 3 && memcmp(doc, "\xEF\xBB\xBF", 3) == 0)
        w.s += 3;
    for (size_t i = 0; i < p->len; i++) {
        const hk_jsonpath_seg *seg = &p->segs[i];
        if (!(seg->name ? to_member(&w, seg->name, seg->name_len) : to_element(&w, seg->index)))
            return false;
    }
    skip_space(&w);
    if (w.s >= w.end)
        return false;
    const char *from = w.s;
    skip_value(&w);
    *at = from;
    *at_len = (size_t)(w.s - from);
    return *at_len > 0;
}

/* ------------------------------------------------------------------ canonical JSON --- */

/* The shortest text that reads back as d: integers below 2^53 in plain digits ("-0" is "0"),
 * others the first of %.15g, %.16g, %.17g that strtod reads back exactly. */
static void canonical_number(double d, hk_buf *out)
{
    if (!isfinite(d)) { /* JSON has no such number; cJSON never reads one */
        hk_buf_puts(out, "null");
        return;
    }
    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        hk_buf_printf(out, "%lld", (long long)d); /* -0.0 casts to 0: "0" */
        return;
    }
    char text[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, d);
        if (strtod(text, NULL) == d)
            break;
    }
    hk_buf_puts(out, text);
}

static void canonical_string(const char *s, hk_buf *out)
{
    hk_buf_puts(out, "\"");
    hk_buf_json_escape(out, s ? s : "", s ? strlen(s) : 0);
    hk_buf_puts(out, "\"");
}

typedef struct member_ref {
    const cJSON *item;
    size_t order; /* as given: the sort is stable */
} member_ref;

static int member_cmp(const void *a, const void *b)
{
    const member_ref *x = a, *y = b;
    int c = strcmp(x->item->string ? x->item->string : "", y->item->string ? y->item->string : "");
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static void canonical_object(const cJSON *v, hk_buf *out)
{
    size_t n = 0;
    for (const cJSON *c = v->child; c; c = c->next)
        n++;
    member_ref *m = n ? hk_xmalloc(n * sizeof *m) : NULL;
    n = 0;
    for (const cJSON *c = v->child; c; c = c->next, n++)
        m[n] = (member_ref){c, n};
    if (n > 1)
        qsort(m, n, sizeof *m, member_cmp); /* strcmp: bytewise, as unsigned char */
    hk_buf_puts(out, "{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            hk_buf_puts(out, ",");
        canonical_string(m[i].item->string, out);
        hk_buf_puts(out, ":");
        hk_json_canonical(m[i].item, out);
    }
    hk_buf_puts(out, "}");
    free(m);
}

void hk_json_canonical(const cJSON *v, hk_buf *out)
{
    if (cJSON_IsFalse(v)) {
        hk_buf_puts(out, "false");
    } else if (cJSON_IsTrue(v)) {
        hk_buf_puts(out, "true");
    } else if (cJSON_IsNumber(v)) {
        canonical_number(v->valuedouble, out);
    } else if (cJSON_IsString(v)) {
        canonical_string(v->valuestring, out);
    } else if (cJSON_IsArray(v)) {
        hk_buf_puts(out, "[");
        for (const cJSON *c = v->child; c; c = c->next) {
            hk_json_canonical(c, out);
            if (c->next)
                hk_buf_puts(out, ",");
        }
        hk_buf_puts(out, "]");
    } else if (cJSON_IsObject(v)) {
        canonical_object(v, out);
    } else { /* null; also NULL, an invalid item and cJSON_Raw, which no parse makes */
        hk_buf_puts(out, "null");
    }
}
