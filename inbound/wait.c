/*
 * wait.c — a flow's wait on an endpoint, read strictly from its JSON (each refusal one line
 * naming the field, as endpoint.c does), and the two hashes that index waits: the shape (the
 * set of canonical paths a wait tests) and the digest (the canonical values it wants, in the
 * shape's order). A request digests its payload once per shape; the waits of that shape with
 * the same digest are the ones that match (docs/inbound.md, "Waits" and "JSON paths").
 */
#include "endpoint_internal.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const char *const wait_fields[] = {"ref", "matches", "ttlSeconds", NULL};

/* A path shown inside a message or a field name: JSON-escaped (no control character, no bare
 * quote), bytes that are not UTF-8 as '?', cut at a character to at most max bytes with "..."
 * marking the cut. out holds max + 1 bytes. */
static void show_path(const char *path, size_t max, char *out)
{
    hk_buf b = {0};
    size_t cut = 0, n = strlen(path);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)path[i];
        size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2, e;
        char esc[6];
        if (c >= 0x80 && (i + len > n || !hk_utf8_valid(path + i, len))) {
            hk_buf_puts(&b, "?");
            len = 1;
        } else if (c == 0x7f) {
            hk_buf_puts(&b, "\\u007f");
        } else if (c < 0x80 && (e = hk_json_escape_byte(c, esc)) > 0) {
            hk_buf_append(&b, esc, e);
        } else {
            hk_buf_append(&b, path + i, len);
        }
        i += len;
        if (b.len + 3 <= max)
            cut = b.len;
    }
    if (b.len > max)
        snprintf(out, max + 1, "%.*s...", (int)cut, b.data);
    else
        snprintf(out, max + 1, "%s", b.data ? b.data : "");
    hk_buf_free(&b);
}

/* matches["<path>"], whole within hk_error.field (63 bytes): the path shown in 52. */
static void match_field(const char *path, char out[64])
{
    char shown[53];
    show_path(path, sizeof shown - 1, shown);
    snprintf(out, 64, "matches[\"%s\"]", shown);
}

static int read_ref(const cJSON *doc, hk_inbound_wait *w, hk_error *err)
{
    char *ref = NULL;
    if (hk_inbound__get_string(doc, "ref", "ref", HK_WAIT_REF_MAX, true, &ref, err) != HK_OK)
        return HK_EINVAL;
    if (!ref)
        return hk_error_set(err, HK_EINVAL, "ref", "required");
    int rc = HK_OK;
    for (const unsigned char *p = (const unsigned char *)ref; rc == HK_OK && *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            rc = hk_error_set(err, HK_EINVAL, "ref", "contains a control character");
    if (rc == HK_OK && !hk_utf8_valid(ref, strlen(ref)))
        rc = hk_error_set(err, HK_EINVAL, "ref", "is not valid UTF-8");
    if (rc == HK_OK)
        snprintf(w->ref, sizeof w->ref, "%s", ref);
    free(ref);
    return rc;
}

/* True when some object in v names a member twice (cJSON keeps both and reads the first). */
static bool has_repeated_name(const cJSON *v)
{
    for (const cJSON *c = v->child; c; c = c->next) {
        if (has_repeated_name(c))
            return true;
        for (const cJSON *b = v->child; cJSON_IsObject(v) && b != c; b = b->next)
            if (strcmp(b->string, c->string) == 0)
                return true;
    }
    return false;
}

/* One entry of matches while it is read. */
typedef struct match_entry {
    const char *written; /* the path as given (borrowed from the document) */
    hk_jsonpath path;
    char *value;  /* canonical JSON */
    size_t order; /* in the document: two spellings of a path are named in it */
} match_entry;

static int entry_cmp(const void *a, const void *b)
{
    const match_entry *x = a, *y = b;
    int c = strcmp(x->path.canonical, y->path.canonical);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int read_entry(const cJSON *item, match_entry *e, hk_error *err)
{
    char field[64];
    match_field(item->string, field);
    e->written = item->string;
    if (hk_jsonpath_parse(item->string, field, &e->path, err) != HK_OK)
        return HK_EINVAL;
    hk_buf b = {0};
    hk_json_canonical(item, &b);
    e->value = hk_buf_take(&b);
    size_t n = strlen(e->value);
    if (n > HK_WAIT_VALUE_MAX)
        return hk_error_set(err, HK_EINVAL, field,
                            "the value is %zu bytes as canonical JSON, over %d", n,
                            HK_WAIT_VALUE_MAX);
    if (has_repeated_name(item)) /* after the size check: at most a few hundred names */
        return hk_error_set(err, HK_EINVAL, field, "the value names a member twice in one object");
    return HK_OK;
}

/* The sorted entries into w: paths, values, shape and digest. */
static void fill_wait(hk_inbound_wait *w, match_entry *e, size_t n)
{
    w->n = n;
    w->paths = hk_xcalloc(n ? n : 1, sizeof *w->paths);
    w->values = hk_xcalloc(n ? n : 1, sizeof *w->values);
    const char **paths = hk_xcalloc(n ? n : 1, sizeof *paths);
    hk_buf json = {0};
    hk_buf_puts(&json, "[");
    for (size_t i = 0; i < n; i++) {
        w->paths[i] = e[i].path;
        w->values[i] = e[i].value;
        e[i].value = NULL;
        memset(&e[i].path, 0, sizeof e[i].path);
        paths[i] = w->paths[i].canonical;
        hk_buf_puts(&json, i ? ",\"" : "\"");
        hk_buf_json_escape(&json, paths[i], strlen(paths[i]));
        hk_buf_puts(&json, "\"");
    }
    hk_buf_puts(&json, "]");
    w->shape_json = hk_buf_take(&json);
    hk_inbound_shape_id(paths, n, w->shape);
    hk_inbound_digest((const char *const *)w->values, n, w->digest);
    free(paths);
}

static int read_matches(const cJSON *doc, hk_inbound_wait *w, hk_error *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "matches");
    if (!m || cJSON_IsNull(m))
        return hk_error_set(err, HK_EINVAL, "matches",
                            "required: an object of JSON paths and their values ({} matches "
                            "every request)");
    if (!cJSON_IsObject(m))
        return hk_error_set(err, HK_EINVAL, "matches", "must be an object");
    int n = cJSON_GetArraySize(m);
    if (n > HK_WAIT_MATCHES_MAX)
        return hk_error_set(err, HK_EINVAL, "matches", "%d entries, over the limit of %d", n,
                            HK_WAIT_MATCHES_MAX);
    match_entry *e = hk_xcalloc(n ? (size_t)n : 1, sizeof *e);
    int rc = HK_OK;
    size_t got = 0;
    for (const cJSON *item = m->child; rc == HK_OK && item; item = item->next, got++) {
        e[got].order = got;
        rc = read_entry(item, &e[got], err);
    }
    if (rc == HK_OK)
        qsort(e, got, sizeof *e, entry_cmp);
    for (size_t i = 1; rc == HK_OK && i < got; i++) {
        if (strcmp(e[i - 1].path.canonical, e[i].path.canonical) != 0)
            continue;
        char a[64], b[64];
        show_path(e[i - 1].written, 60, a);
        show_path(e[i].written, 60, b);
        if (strcmp(e[i - 1].written, e[i].written) == 0) {
            char field[64];
            match_field(e[i].written, field);
            rc = hk_error_set(err, HK_EINVAL, field, "given twice");
        } else {
            rc = hk_error_set(err, HK_EINVAL, "matches", "\"%s\" and \"%s\" are the same path", a,
                              b);
        }
    }
    if (rc == HK_OK) {
        w->matches_json = cJSON_PrintUnformatted(m);
        fill_wait(w, e, got);
    }
    for (size_t i = 0; i < got; i++) {
        hk_jsonpath_free(&e[i].path);
        free(e[i].value);
    }
    free(e);
    return rc;
}

int hk_inbound_wait_from_json(const cJSON *doc, hk_inbound_wait **out, hk_error *err)
{
    *out = NULL;
    if (!cJSON_IsObject(doc))
        return hk_error_set(err, HK_EINVAL, "wait", "must be a JSON object");
    if (hk_inbound__refuse_unknown(doc, wait_fields, "", NULL, err) != HK_OK)
        return HK_EINVAL;
    hk_inbound_wait *w = hk_xcalloc(1, sizeof *w);
    long ttl = 0;
    if (read_ref(doc, w, err) != HK_OK || read_matches(doc, w, err) != HK_OK ||
        hk_inbound__get_int(doc, "ttlSeconds", "ttlSeconds", 1, HK_WAIT_TTL_MAX_S,
                            HK_WAIT_TTL_DEFAULT_S, &ttl, err) != HK_OK) {
        hk_inbound_wait_destroy(w);
        return HK_EINVAL;
    }
    w->ttl_s = ttl;
    if (!w->matches_json) { /* cJSON could not print it: only an allocation fails there */
        hk_inbound_wait_destroy(w);
        return hk_error_set(err, HK_ENOMEM, "matches", "out of memory");
    }
    *out = w;
    return HK_OK;
}

void hk_inbound_wait_destroy(hk_inbound_wait *w)
{
    if (!w)
        return;
    free(w->matches_json);
    for (size_t i = 0; w->paths && i < w->n; i++)
        hk_jsonpath_free(&w->paths[i]);
    for (size_t i = 0; w->values && i < w->n; i++)
        free(w->values[i]);
    free(w->paths);
    free(w->values);
    free(w->shape_json);
    free(w);
}

/* ------------------------------------------------------------------ shapes, digests --- */

/* Hex of the first 16 bytes of SHA-256 over each string followed by '\n' (canonical paths and
 * canonical JSON hold no raw newline, so the lines cannot run into each other). */
static void hash_lines(const char *const *lines, size_t n, char out[HK_WAIT_HASH_LEN + 1])
{
    hk_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        hk_buf_puts(&b, lines[i]);
        hk_buf_puts(&b, "\n");
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    EVP_Digest(b.data ? b.data : "", b.len, md, NULL, EVP_sha256(), NULL);
    hk_buf_free(&b);
    hk_hex(md, HK_WAIT_HASH_LEN / 2, out);
}

void hk_inbound_shape_id(const char *const *canonical_paths, size_t n,
                         char out[HK_WAIT_HASH_LEN + 1])
{
    hash_lines(canonical_paths, n, out);
}

void hk_inbound_digest(const char *const *canonical_values, size_t n,
                       char out[HK_WAIT_HASH_LEN + 1])
{
    hash_lines(canonical_values, n, out);
}

/* Each of arr's strings a canonical path, sorted, once, into s->paths. */
static int shape_paths(const cJSON *arr, hk_inbound_shape *s, hk_error *err)
{
    size_t n = 0;
    for (const cJSON *c = arr->child; c; c = c->next)
        n++;
    if (n > HK_WAIT_MATCHES_MAX)
        return hk_error_set(err, HK_EINVAL, "shape", "%zu paths, over the limit of %d", n,
                            HK_WAIT_MATCHES_MAX);
    s->paths = hk_xcalloc(n ? n : 1, sizeof *s->paths);
    size_t i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        char field[32];
        snprintf(field, sizeof field, "shape[%zu]", i);
        if (!cJSON_IsString(c))
            return hk_error_set(err, HK_EINVAL, field, "must be a string");
        if (hk_jsonpath_parse(c->valuestring, field, &s->paths[i], err) != HK_OK)
            return HK_EINVAL;
        s->n = i + 1;
        if (strcmp(s->paths[i].canonical, c->valuestring) != 0)
            return hk_error_set(err, HK_EINVAL, field, "not in canonical form");
        if (i && strcmp(s->paths[i - 1].canonical, s->paths[i].canonical) >= 0)
            return hk_error_set(err, HK_EINVAL, field, "paths must be sorted and distinct");
    }
    return HK_OK;
}

int hk_inbound_shape_parse(const char *id, const char *shape_json, hk_inbound_shape *out,
                           hk_error *err)
{
    memset(out, 0, sizeof *out);
    if (!id || !shape_json)
        return hk_error_set(err, HK_EINVAL, "shape", "missing its id or its paths");
    cJSON *arr = hk_json_parse_whole(shape_json, strlen(shape_json), NULL);
    int rc = HK_OK;
    if (!cJSON_IsArray(arr))
        rc = hk_error_set(err, HK_EINVAL, "shape", "must be a JSON array of canonical paths");
    else
        rc = shape_paths(arr, out, err);
    cJSON_Delete(arr);
    if (rc == HK_OK) {
        const char **paths = hk_xcalloc(out->n ? out->n : 1, sizeof *paths);
        for (size_t i = 0; i < out->n; i++)
            paths[i] = out->paths[i].canonical;
        hk_inbound_shape_id(paths, out->n, out->id);
        free(paths);
        if (strcmp(out->id, id) != 0)
            rc = hk_error_set(err, HK_EINVAL, "shape", "its id is not its paths' (%s)", out->id);
    }
    if (rc != HK_OK)
        hk_inbound_shape_free(out);
    return rc;
}

void hk_inbound_shape_free(hk_inbound_shape *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->paths && i < s->n; i++)
        hk_jsonpath_free(&s->paths[i]);
    free(s->paths);
    memset(s, 0, sizeof *s);
}

/* The canonical JSON of the value at p in a payload (the caller frees), or NULL: missing. */
typedef char *(*value_at_fn)(const hk_jsonpath *p, const void *payload);

static char *canonical_of(const cJSON *v)
{
    hk_buf b = {0};
    hk_json_canonical(v, &b);
    return hk_buf_take(&b);
}

static char *value_in_tree(const hk_jsonpath *p, const void *payload)
{
    const cJSON *v = hk_jsonpath_get(p, payload);
    return v ? canonical_of(v) : NULL;
}

typedef struct json_text {
    const char *s;
    size_t len;
} json_text;

static char *value_in_text(const hk_jsonpath *p, const void *payload)
{
    const json_text *t = payload;
    const char *at = NULL;
    size_t at_len = 0;
    if (!hk_jsonpath_find(p, t->s, t->len, &at, &at_len))
        return NULL;
    cJSON *v = cJSON_ParseWithLength(at, at_len);
    char *out = v ? canonical_of(v) : NULL;
    cJSON_Delete(v);
    return out;
}

static bool digest_with(const hk_inbound_shape *s, value_at_fn value_at, const void *payload,
                        char out[HK_WAIT_HASH_LEN + 1])
{
    char **values = hk_xcalloc(s->n ? s->n : 1, sizeof *values);
    bool found = true;
    for (size_t i = 0; found && i < s->n; i++)
        found = (values[i] = value_at(&s->paths[i], payload)) != NULL;
    if (found)
        hk_inbound_digest((const char *const *)values, s->n, out);
    for (size_t i = 0; i < s->n; i++)
        free(values[i]);
    free(values);
    return found;
}

bool hk_inbound_shape_digest(const hk_inbound_shape *s, const cJSON *payload,
                             char out[HK_WAIT_HASH_LEN + 1])
{
    return digest_with(s, value_in_tree, payload, out);
}

bool hk_inbound_shape_digest_text(const hk_inbound_shape *s, const char *json, size_t len,
                                  char out[HK_WAIT_HASH_LEN + 1])
{
    json_text t = {.s = json, .len = len};
    return digest_with(s, value_in_text, &t, out);
}
