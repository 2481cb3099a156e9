/*
 * fuzz_jsonpath.c — a wait's JSON paths (hk_jsonpath_parse, hk_jsonpath_get) and canonical
 * JSON (hk_json_canonical), fed any bytes: the text up to the first NUL is the path, and what
 * follows it (or, with no NUL, the path itself) is read as a JSON document. Invariants:
 *   - a refusal is HK_EINVAL, *out zeroed, one printable line "<field>: at byte N (...)" or a
 *     limit, never a crash, an overread or UB;
 *   - an accepted path has at most HK_WAIT_PATH_SEGMENTS_MAX segments and a canonical form
 *     (UTF-8, within HK_WAIT_PATH_MAX) that parses again to the same segments and itself;
 *   - both select the same value from a small fixed document (and from the input's JSON);
 *   - the walk over the text (hk_jsonpath_find) selects what the tree does, a span whose value
 *     has the same canonical JSON, on the fixed document and on any document the strict reader
 *     passes; on any other bytes it stays within them;
 *   - the canonical JSON of any value cJSON reads is JSON that cJSON reads back to a value with
 *     the same canonical JSON.
 */
#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "hk_inbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char doc_text[] =
    "{\"event\":{\"type\":\"message\",\"text\":\"hello\",\"items\":[1,{\"id\":2},[3]]},"
    "\"a.b\":true,\"\":null,\"it's\":\"q\",\"\xc3\xa9t\xc3\xa9\":[],\"\\u0001\":0}";

static void check_refusal(const hk_jsonpath *p, const hk_error *err)
{
    HK_FUZZ_CHECK(p->segs == NULL && p->canonical == NULL && p->len == 0, "*out not zeroed");
    HK_FUZZ_CHECK(strncmp(err->msg, "p: ", 3) == 0 && strcmp(err->field, "p") == 0, "message '%s'",
                  err->msg);
    size_t n = strlen(err->msg);
    HK_FUZZ_CHECK(hk_utf8_valid(err->msg, n), "message not UTF-8");
    for (size_t i = 0; i < n; i++)
        HK_FUZZ_CHECK((unsigned char)err->msg[i] >= 0x20 && err->msg[i] != 0x7f,
                      "control byte in '%s'", err->msg);
}

static void check_same_segments(const hk_jsonpath *a, const hk_jsonpath *b)
{
    HK_FUZZ_CHECK(a->len == b->len, "%zu segments, canonical %zu", a->len, b->len);
    for (size_t i = 0; i < a->len; i++) {
        const hk_jsonpath_seg *x = &a->segs[i], *y = &b->segs[i];
        HK_FUZZ_CHECK((x->name == NULL) == (y->name == NULL), "segment %zu kind", i);
        if (x->name)
            HK_FUZZ_CHECK(x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0,
                          "segment %zu name", i);
        else
            HK_FUZZ_CHECK(x->index == y->index, "segment %zu index %ld, %ld", i, x->index,
                          y->index);
    }
}

/* The walk over the text (hk_jsonpath_find) selects what the tree does, with the same value. */
static void check_find(const hk_jsonpath *p, const char *text, size_t len, const cJSON *tree)
{
    const cJSON *v = hk_jsonpath_get(p, tree);
    const char *at = NULL;
    size_t at_len = 0;
    bool found = hk_jsonpath_find(p, text, len, &at, &at_len);
    HK_FUZZ_CHECK(found == (v != NULL), "%s: the text walk %s, the tree %s", p->canonical,
                  found ? "found it" : "did not", v ? "did" : "did not");
    if (!found)
        return;
    HK_FUZZ_CHECK(at >= text && at + at_len <= text + len, "a span out of the text");
    cJSON *span = cJSON_ParseWithLength(at, at_len);
    HK_FUZZ_CHECK(span != NULL, "%s: the span '%.*s' is no JSON value", p->canonical, (int)at_len,
                  at);
    hk_buf a = {0}, b = {0};
    hk_json_canonical(v, &a);
    hk_json_canonical(span, &b);
    HK_FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
                  "%s: '%.200s' against '%.200s'", p->canonical, a.data, b.data);
    hk_buf_free(&a);
    hk_buf_free(&b);
    cJSON_Delete(span);
}

static void check_path(const char *text, const cJSON *input, const char *input_text,
                       size_t input_len)
{
    hk_jsonpath p, again;
    hk_error err = {0};
    if (hk_jsonpath_parse(text, "p", &p, &err) != HK_OK) {
        check_refusal(&p, &err);
        return;
    }
    HK_FUZZ_CHECK(p.len <= HK_WAIT_PATH_SEGMENTS_MAX, "%zu segments", p.len);
    size_t n = strlen(p.canonical);
    HK_FUZZ_CHECK(n <= HK_WAIT_PATH_MAX && p.canonical[0] == '$', "canonical '%s'", p.canonical);
    HK_FUZZ_CHECK(hk_utf8_valid(p.canonical, n), "canonical not UTF-8");
    int rc = hk_jsonpath_parse(p.canonical, "p", &again, &err);
    HK_FUZZ_CHECK(rc == HK_OK, "canonical '%s' refused: %s", p.canonical, err.msg);
    HK_FUZZ_CHECK(strcmp(again.canonical, p.canonical) == 0, "canonical '%s' became '%s'",
                  p.canonical, again.canonical);
    check_same_segments(&p, &again);

    cJSON *doc = cJSON_Parse(doc_text);
    HK_FUZZ_CHECK(doc != NULL, "the fixed document");
    HK_FUZZ_CHECK(hk_jsonpath_get(&p, doc) == hk_jsonpath_get(&again, doc), "selects differ");
    HK_FUZZ_CHECK(hk_jsonpath_get(&p, input) == hk_jsonpath_get(&again, input), "selects differ");
    HK_FUZZ_CHECK(hk_jsonpath_get(&p, NULL) == NULL, "a value in no document");
    check_find(&p, doc_text, strlen(doc_text), doc);
    if (input && hk_inbound_payload_json_check(input_text, input_len, &err) == HK_OK)
        check_find(&p, input_text, input_len, input);
    else /* any bytes: the walk stays in bounds */
        (void)hk_jsonpath_find(&p, input_text, input_len, &(const char *){NULL}, &(size_t){0});
    cJSON_Delete(doc);
    hk_jsonpath_free(&again);
    hk_jsonpath_free(&p);
}

static void check_canonical(const cJSON *v)
{
    hk_buf a = {0}, b = {0};
    hk_json_canonical(v, &a);
    cJSON *again = cJSON_ParseWithLength(a.data, a.len);
    HK_FUZZ_CHECK(again != NULL, "canonical JSON does not parse: %.200s", a.data);
    hk_json_canonical(again, &b);
    HK_FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
                  "canonical '%.200s' became '%.200s'", a.data, b.data);
    cJSON_Delete(again);
    hk_buf_free(&a);
    hk_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_fuzz_fields ff;
    hk_fuzz_split(data, size, 2, &ff); /* "<path>\0<document>", or the path alone */
    const char *doc = ff.n > 1 ? ff.f[1] : ff.f[0];
    size_t doc_len = ff.n > 1 ? ff.len[1] : ff.len[0];
    cJSON *input = cJSON_ParseWithLength(doc, doc_len);
    check_path(ff.f[0], input, doc, doc_len);
    if (input)
        check_canonical(input);
    cJSON_Delete(input);
    hk_fuzz_fields_free(&ff);
    return 0;
}
