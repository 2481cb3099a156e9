/*
 * fuzz_jsonpath.c — a wait's JSON paths (hk_jsonpath_parse, hk_jsonpath_get) and canonical
 * JSON (hk_json_canonical), fed any bytes: the text up to the first NUL is the path, the whole
 * input is also read as JSON. Invariants:
 *   - a refusal is HK_EINVAL, *out zeroed, one printable line "<field>: at byte N (...)" or a
 *     limit, never a crash, an overread or UB;
 *   - an accepted path has at most HK_WAIT_PATH_SEGMENTS_MAX segments and a canonical form
 *     (UTF-8, within HK_WAIT_PATH_MAX) that parses again to the same segments and itself;
 *   - both select the same value from a small fixed document (and from the input's JSON);
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

static void check_path(const char *text, const cJSON *input)
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
    hk_fuzz_split(data, size, 1, &ff);
    cJSON *input = cJSON_ParseWithLength(ff.f[0], ff.len[0]);
    check_path(ff.f[0], input); /* a C string: the path ends at the first NUL */
    if (input)
        check_canonical(input);
    cJSON_Delete(input);
    hk_fuzz_fields_free(&ff);
    return 0;
}
