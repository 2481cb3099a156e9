/* inbound/: waits (wait.c) and their JSON paths (jsonpath.c): the path grammar and its
 * canonical spelling, selecting values, canonical JSON, a wait's strict JSON form naming the
 * field of each refusal, and the shapes and digests that index waits. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hk_inbound.h"

#define SLACK                                                                                      \
    "{\"token\":\"x\",\"event\":{\"type\":\"message\",\"text\":\"hello\",\"channel\":\"C1\"},"     \
    "\"type\":\"event_callback\"}"
#define SEED_MATCHES "{\"$['event']['type']\":\"message\",\"$['event']['text']\":\"hello\"}"

/* ------------------------------------------------------------------------- helpers --- */

static hk_jsonpath path_ok(const char *text)
{
    hk_jsonpath p;
    hk_error err = {0};
    int rc = hk_jsonpath_parse(text, "p", &p, &err);
    cr_assert_eq(rc, HK_OK, "refused %s: %s", text, err.msg);
    cr_assert_not_null(p.canonical);
    return p;
}

/* The canonical spelling of text (asserted accepted); the caller frees. */
static char *canon(const char *text)
{
    hk_jsonpath p = path_ok(text);
    char *c = strdup(p.canonical);
    hk_jsonpath_free(&p);
    return c;
}

static void canon_is(const char *text, const char *want)
{
    char *got = canon(text);
    cr_assert_str_eq(got, want, "%s", text);
    /* and the canonical form is canonical: it reads back as itself */
    char *again = canon(got);
    cr_assert_str_eq(again, got, "%s", text);
    free(again);
    free(got);
}

/* Asserts text is refused naming field "p", its message holding want. */
static void path_refused(const char *text, const char *want)
{
    hk_jsonpath p;
    memset(&p, 0xAB, sizeof p);
    hk_error err = {0};
    int rc = hk_jsonpath_parse(text, "p", &p, &err);
    cr_assert_eq(rc, HK_EINVAL, "accepted: %s", text);
    cr_assert_null(p.segs, "%s: *out is zeroed", text);
    cr_assert_null(p.canonical);
    cr_assert_eq(p.len, 0);
    cr_assert_str_eq(err.field, "p");
    cr_assert(strncmp(err.msg, "p: ", 3) == 0, "%s", err.msg);
    cr_assert(strstr(err.msg, want), "%s: message '%s' lacks '%s'", text, err.msg, want);
    cr_assert(strchr(err.msg, '\n') == NULL);
}

static cJSON *json(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "bad test JSON: %s", text);
    return j;
}

/* Canonical JSON of v; the caller frees. */
static char *canonical_of(const cJSON *v)
{
    hk_buf b = {0};
    hk_json_canonical(v, &b);
    return hk_buf_take(&b);
}

static char *canonical_text(const char *text)
{
    cJSON *j = json(text);
    char *c = canonical_of(j);
    cJSON_Delete(j);
    return c;
}

static void canonical_is(const char *text, const char *want)
{
    char *got = canonical_text(text);
    cr_assert_str_eq(got, want, "%s", text);
    free(got);
}

/* The canonical JSON of the value at path in doc, or NULL when there is none. */
static char *select_text(const char *path, const char *doc)
{
    hk_jsonpath p = path_ok(path);
    cJSON *d = doc ? json(doc) : NULL;
    const cJSON *v = hk_jsonpath_get(&p, d);
    char *out = v ? canonical_of(v) : NULL;
    cJSON_Delete(d);
    hk_jsonpath_free(&p);
    return out;
}

static void selects(const char *path, const char *doc, const char *want)
{
    char *got = select_text(path, doc);
    if (!want) {
        cr_assert_null(got, "%s selects %s", path, got);
        return;
    }
    cr_assert_not_null(got, "%s selects nothing in %s", path, doc);
    cr_assert_str_eq(got, want, "%s", path);
    free(got);
}

static hk_inbound_wait *wait_ok(const char *text)
{
    cJSON *j = json(text);
    hk_inbound_wait *w = NULL;
    hk_error err = {0};
    int rc = hk_inbound_wait_from_json(j, &w, &err);
    cJSON_Delete(j);
    cr_assert_eq(rc, HK_OK, "refused %s: %s", text, err.msg);
    cr_assert_not_null(w);
    return w;
}

static void wait_refused(const char *text, const char *field, const char *want)
{
    cJSON *j = json(text);
    hk_inbound_wait *w = (hk_inbound_wait *)0x1;
    hk_error err = {0};
    int rc = hk_inbound_wait_from_json(j, &w, &err);
    cJSON_Delete(j);
    cr_assert_eq(rc, HK_EINVAL, "accepted: %s", text);
    cr_assert_null(w);
    cr_assert_str_eq(err.field, field, "%s: %s", text, err.msg);
    cr_assert(strncmp(err.msg, field, strlen(field)) == 0, "%s", err.msg);
    cr_assert(strstr(err.msg, want), "%s: message '%s' lacks '%s'", text, err.msg, want);
    cr_assert(strchr(err.msg, '\n') == NULL);
}

/* The digest a payload (JSON text, or NULL) gives for shape (id, json); false when a path is
 * missing. */
static bool payload_digest(const char *id, const char *shape_json, const char *payload,
                           char out[HK_WAIT_HASH_LEN + 1])
{
    hk_inbound_shape s;
    hk_error err = {0};
    cr_assert_eq(hk_inbound_shape_parse(id, shape_json, &s, &err), HK_OK, "%s", err.msg);
    cJSON *d = payload ? json(payload) : NULL;
    bool found = hk_inbound_shape_digest(&s, d, out);
    cJSON_Delete(d);
    hk_inbound_shape_free(&s);
    return found;
}

static void shape_refused(const char *id, const char *shape_json, const char *field,
                          const char *want)
{
    hk_inbound_shape s;
    hk_error err = {0};
    cr_assert_eq(hk_inbound_shape_parse(id, shape_json, &s, &err), HK_EINVAL, "accepted %s",
                 shape_json);
    cr_assert_null(s.paths);
    cr_assert_eq(s.n, 0);
    cr_assert_str_eq(err.field, field, "%s", err.msg);
    cr_assert(strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
}

/* ------------------------------------------------------------------------- paths --- */

Test(jsonpath, the_seed_spellings_are_one_path)
{
    canon_is("$['event']['type']", "$['event']['type']");
    canon_is("$.event.type", "$['event']['type']");
    canon_is("$[\"event\"][\"type\"]", "$['event']['type']");
    canon_is("$[ 'event' ][\t\"type\"\r\n]", "$['event']['type']");
    canon_is("$.event['type']", "$['event']['type']");
    canon_is("$", "$");
    selects("$['event']['type']", SLACK, "\"message\"");
    selects("$.event.type", SLACK, "\"message\"");
    selects("$[\"event\"][\"type\"]", SLACK, "\"message\"");
    selects("$.type", SLACK, "\"event_callback\"");

    hk_jsonpath p = path_ok("$.items[0].id");
    cr_assert_eq(p.len, 3);
    cr_assert_str_eq(p.segs[0].name, "items");
    cr_assert_eq(p.segs[0].name_len, 5);
    cr_assert_null(p.segs[1].name);
    cr_assert_eq(p.segs[1].index, 0);
    cr_assert_str_eq(p.segs[2].name, "id");
    cr_assert_str_eq(p.canonical, "$['items'][0]['id']");
    hk_jsonpath_free(&p);
    hk_jsonpath_free(&p); /* a freed path is zeroed: freeing again is harmless */
}

Test(jsonpath, quoted_names_and_their_escapes)
{
    canon_is("$['it\\'s']", "$['it\\'s']");
    canon_is("$[\"it's\"]", "$['it\\'s']");
    canon_is("$[\"quo\\\"te\"]", "$['quo\"te']");
    canon_is("$['quo\"te']", "$['quo\"te']");
    canon_is("$['a\\\\b']", "$['a\\\\b']");
    canon_is("$['a.b']", "$['a.b']");
    canon_is("$[\"a.b\"]", "$['a.b']");
    canon_is("$['\\/']", "$['/']");
    canon_is("$['\\b\\f\\n\\r\\t']", "$['\\b\\f\\n\\r\\t']");
    canon_is("$['\\u0008\\u000C\\u000a']", "$['\\b\\f\\n']");
    canon_is("$['\\u0001\\u001F']", "$['\\u0001\\u001f']");
    canon_is("$['\\u0041\\u00E9']", "$['Aé']");
    canon_is("$['']", "$['']");
    canon_is("$['user-id']", "$['user-id']");
    canon_is("$['a b']", "$['a b']");
    canon_is("$['\x7f']", "$['\x7f']");

    /* \u00e9t\u00e9, été quoted and été as a .name are one path */
    canon_is("$['\\u00e9t\\u00e9']", "$['été']");
    canon_is("$['été']", "$['été']");
    canon_is("$.été", "$['été']");
    selects("$['\\u00e9t\\u00e9']", "{\"été\":1}", "1");

    /* \u0000: the name holds a NUL byte, counted, and never matches a cJSON name */
    hk_jsonpath p = path_ok("$['a\\u0000b']");
    cr_assert_eq(p.segs[0].name_len, 3);
    cr_assert(memcmp(p.segs[0].name, "a\0b", 3) == 0);
    cr_assert_str_eq(p.canonical, "$['a\\u0000b']");
    cJSON *d = json("{\"a\":1,\"ab\":2}");
    cr_assert_null(hk_jsonpath_get(&p, d));
    cJSON_Delete(d);
    hk_jsonpath_free(&p);
    canon_is("$['a\\u0000b']", "$['a\\u0000b']");

    path_refused("$[\"it\\'s\"]", "escapes are \\\"");
    path_refused("$['quo\\\"te']", "escapes are \\'");
    path_refused("$['\\x']", "at byte 4");
    path_refused("$['\\u12']", "four hex digits");
    path_refused("$['a\tb']", "a control character");
    path_refused("$['a\nb']", "at byte 4 (byte 0x0a)");
    path_refused("$['abc", "no closing quote");
    path_refused("$['abc\\", "at byte 7 (the end)");
    path_refused("$['a']['b", "at byte 7 (\"'\"): the quoted name has no closing quote");
    path_refused("$['a']['b'", "at byte 10 (the end): ']' expected");
    path_refused("$['a'", "']' expected");
    path_refused("$['a' 'b']", "']' expected");
}

Test(jsonpath, surrogate_pairs_and_utf8)
{
    hk_jsonpath p = path_ok("$['\\ud83d\\ude00']");
    cr_assert_eq(p.segs[0].name_len, 4);
    cr_assert(memcmp(p.segs[0].name, "\xF0\x9F\x98\x80", 4) == 0);
    cr_assert_str_eq(p.canonical, "$['\xF0\x9F\x98\x80']");
    hk_jsonpath_free(&p);
    canon_is("$['\\uD83D\\uDE00']", "$['\xF0\x9F\x98\x80']");
    canon_is("$.\xF0\x9F\x98\x80", "$['\xF0\x9F\x98\x80']");

    path_refused("$['\\ud83d']", "lone UTF-16 surrogate");
    path_refused("$['\\ude00']", "lone UTF-16 surrogate");
    path_refused("$['\\ud83dx']", "lone UTF-16 surrogate");
    path_refused("$['\\ud83d\\u0041']", "lone UTF-16 surrogate");
    path_refused("$['\\ud83d\\ud83d']", "lone UTF-16 surrogate");
    path_refused("$['\xff']", "not valid UTF-8");
    path_refused("$['\xc3']", "not valid UTF-8");
    path_refused("$['\xed\xa0\x80']", "not valid UTF-8"); /* a surrogate written as UTF-8 */
    path_refused("$['\xc0\xaf']", "not valid UTF-8");     /* overlong */
    path_refused("$.\xc3", "not valid UTF-8");
    path_refused("$.a\x80", "at byte 3 (byte 0x80): not valid UTF-8");
}

Test(jsonpath, dot_names)
{
    canon_is("$.a", "$['a']");
    canon_is("$._a1", "$['_a1']");
    canon_is("$.Z_9", "$['Z_9']");
    canon_is("$.日本.x", "$['日本']['x']");
    canon_is("$.a[0]", "$['a'][0]");
    path_refused("$.user-id", "at byte 6 ('-')");
    path_refused("$.user-id", "['user-id']");
    path_refused("$.1a", "at byte 2 ('1')");
    path_refused("$.", "at byte 2 (the end)");
    path_refused("$.a.", "at byte 4 (the end)");
    path_refused("$.a b", "a space");
    path_refused("$.'a'", "at byte 2");
}

Test(jsonpath, indexes)
{
    canon_is("$[0]", "$[0]");
    canon_is("$[ 12 ]", "$[12]");
    canon_is("$[-1]", "$[-1]");
    canon_is("$.items[-1]", "$['items'][-1]");
    canon_is("$[9223372036854775807]", "$[9223372036854775807]");
    canon_is("$[-9223372036854775808]", "$[-9223372036854775808]");
    path_refused("$[01]", "leading zeros");
    path_refused("$[00]", "leading zeros");
    path_refused("$[-01]", "leading zeros");
    path_refused("$[-0]", "-0 is not an index");
    path_refused("$[-]", "digits after '-'");
    path_refused("$[9223372036854775808]", "out of range");
    path_refused("$[-9223372036854775809]", "out of range");
    path_refused("$[1.5]", "']' expected");
    path_refused("$[+1]", "a bracket holds");
    path_refused("$[]", "a bracket holds");
}

Test(jsonpath, what_is_not_supported_says_so)
{
    path_refused("$.*", "wildcards (*) are not supported");
    path_refused("$[*]", "wildcards (*) are not supported");
    path_refused("$..a", "descendant segments (..) are not supported");
    path_refused("$.a..b", "descendant segments (..) are not supported");
    path_refused("$[?(@.a)]", "filters (?) are not supported");
    path_refused("$[?@.a==1]", "filters (?) are not supported");
    path_refused("$[0:2]", "slices (:) are not supported");
    path_refused("$[:2]", "slices (:) are not supported");
    path_refused("$[0,1]", "unions (,) are not supported");
    path_refused("$['a','b']", "unions (,) are not supported");
    path_refused("$['a' ,'b']", "unions (,) are not supported");
}

Test(jsonpath, start_and_trailing_garbage)
{
    path_refused("a.b", "at byte 0 ('a'): a path starts with $");
    path_refused("", "at byte 0 (the end): a path starts with $");
    path_refused(" $.a", "at byte 0 (a space)");
    path_refused("@.a", "starts with $");
    path_refused("$a", "at byte 1 ('a')");
    path_refused("$.a ", "at byte 3 (a space)");
    path_refused("$.a]", "at byte 3 (']')");
    path_refused("$['a']x", "at byte 6 ('x')");
    path_refused("$['a'] ", "at byte 6");
    path_refused("$[", "at byte 2 (the end)");
    path_refused("$$", "at byte 1 ('$')");

    hk_error err = {0};
    hk_jsonpath p;
    cr_assert_eq(hk_jsonpath_parse(NULL, "p", &p, &err), HK_EINVAL);
    cr_assert_null(p.canonical);
}

Test(jsonpath, limits)
{
    char text[2 * HK_WAIT_PATH_MAX];
    strcpy(text, "$");
    for (int i = 0; i < HK_WAIT_PATH_SEGMENTS_MAX; i++)
        strcat(text, ".a");
    hk_jsonpath p = path_ok(text);
    cr_assert_eq(p.len, HK_WAIT_PATH_SEGMENTS_MAX);
    hk_jsonpath_free(&p);
    strcat(text, ".a");
    path_refused(text, "more than 64 segments");
    path_refused("$[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
                 "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
                 "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]",
                 "more than 64 segments");

    /* HK_WAIT_PATH_MAX bytes as written pass, one more is refused */
    memset(text, 0, sizeof text);
    strcpy(text, "$['");
    memset(text + 3, 'x', HK_WAIT_PATH_MAX - 5);
    strcat(text, "']");
    cr_assert_eq(strlen(text), HK_WAIT_PATH_MAX);
    p = path_ok(text);
    cr_assert_eq(strlen(p.canonical), HK_WAIT_PATH_MAX);
    hk_jsonpath_free(&p);
    memmove(text + 4, text + 3, strlen(text + 3) + 1);
    text[3] = 'x';
    cr_assert_eq(strlen(text), HK_WAIT_PATH_MAX + 1);
    path_refused(text, "longer than 512 bytes");

    /* .name is ['name'] canonical, 3 bytes longer: the canonical form has the same limit */
    memset(text, 0, sizeof text);
    strcpy(text, "$.");
    memset(text + 2, 'x', HK_WAIT_PATH_MAX - 2);
    cr_assert_eq(strlen(text), HK_WAIT_PATH_MAX);
    path_refused(text, "canonical form");
}

/* ----------------------------------------------------------------------- selecting --- */

Test(jsonpath, selecting_values)
{
    const char *doc = "{\"a\":{\"b\":[10,{\"id\":\"x\"},30]},\"n\":null,\"e\":[],\"s\":\"str\","
                      "\"a.b\":7,\"user-id\":8,\"\":9}";
    selects("$", doc,
            "{\"\":9,\"a\":{\"b\":[10,{\"id\":\"x\"},30]},\"a.b\":7,\"e\":[],\"n\":null,"
            "\"s\":\"str\",\"user-id\":8}");
    selects("$.a.b[0]", doc, "10");
    selects("$.a.b[1].id", doc, "\"x\"");
    selects("$.a.b[-1]", doc, "30");
    selects("$.a.b[-3]", doc, "10");
    selects("$.a.b[-4]", doc, NULL);
    selects("$.a.b[3]", doc, NULL);
    selects("$['a.b']", doc, "7");
    selects("$[\"a.b\"]", doc, "7");
    selects("$['user-id']", doc, "8");
    selects("$['']", doc, "9");
    selects("$.n", doc, "null"); /* present and null: a value */
    selects("$.e", doc, "[]");
    selects("$.e[0]", doc, NULL);
    selects("$.e[-1]", doc, NULL);
    selects("$.missing", doc, NULL);
    selects("$.a.missing.deeper", doc, NULL);
    selects("$.a.b.id", doc, NULL);   /* a name on an array */
    selects("$.a[0]", doc, NULL);     /* an index on an object */
    selects("$.s[0]", doc, NULL);     /* an index on a string */
    selects("$.s.length", doc, NULL); /* a name on a string */
    selects("$.A", doc, NULL);        /* names are case-sensitive */
    selects("$[0]", "[1,2]", "1");
    selects("$[-9223372036854775808]", "[1,2]", NULL);
    selects("$[9223372036854775807]", "[1,2]", NULL);
    selects("$.a", "{\"a\":1,\"a\":2}", "1"); /* cJSON's first; payloads refuse repeats */
    selects("$", NULL, NULL);
    selects("$.a", NULL, NULL);
}

/* docs/inbound.md, "JSON paths", the table of examples, row by row. */
Test(jsonpath, the_documented_examples)
{
    const char *doc = "{\"event\":{\"type\":\"message\",\"text\":\"hello\",\"user-id\":\"U1\","
                      "\"a.b\":1},\"a.b\":2,\"items\":[{\"id\":\"x\"},{\"id\":\"y\"}],\"it's\":3,"
                      "\"quo\\\"te\":4,\"a\\\\b\":5,\"été\":6,\"😀\":7}";
    static const struct {
        const char *path, *canonical, *value;
    } rows[] = {
        {"$['event']['type']", "$['event']['type']", "\"message\""},
        {"$.event.type", "$['event']['type']", "\"message\""},
        {"$[\"event\"][\"type\"]", "$['event']['type']", "\"message\""},
        {"$[ 'event' ][ \"text\" ]", "$['event']['text']", "\"hello\""},
        {"$.event['user-id']", "$['event']['user-id']", "\"U1\""},
        {"$[\"a.b\"]", "$['a.b']", "2"},
        {"$.event['a.b']", "$['event']['a.b']", "1"},
        {"$.items[0].id", "$['items'][0]['id']", "\"x\""},
        {"$.items[-1]", "$['items'][-1]", "{\"id\":\"y\"}"},
        {"$.items[2]", "$['items'][2]", NULL},
        {"$.items.id", "$['items']['id']", NULL},
        {"$.event[0]", "$['event'][0]", NULL},
        {"$.missing", "$['missing']", NULL},
        {"$['it\\'s']", "$['it\\'s']", "3"},
        {"$[\"it's\"]", "$['it\\'s']", "3"},
        {"$[\"quo\\\"te\"]", "$['quo\"te']", "4"},
        {"$['quo\"te']", "$['quo\"te']", "4"},
        {"$['a\\\\b']", "$['a\\\\b']", "5"},
        {"$.été", "$['été']", "6"},
        {"$['été']", "$['été']", "6"},
        {"$['\\u00e9t\\u00e9']", "$['été']", "6"},
        {"$['\\ud83d\\ude00']", "$['😀']", "7"},
        {"$.😀", "$['😀']", "7"},
        {"$['tab\\there']", "$['tab\\there']", NULL},
        {"$['\\u0001']", "$['\\u0001']", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        canon_is(rows[i].path, rows[i].canonical);
        selects(rows[i].path, doc, rows[i].value);
    }
    char *whole = select_text("$", doc);
    char *want = canonical_text(doc);
    cr_assert_str_eq(whole, want);
    free(whole);
    free(want);
    path_refused("$.event.user-id", "['user-id']");
    const char *unsupported[] = {"$.*", "$..id", "$.items[?@.id]", "$.items[0:1]", "$.items[0,1]"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        path_refused(unsupported[i], "not supported");
    const char *refused[] = {"event.type", "$[01]", "$[-0]", "$['\\ud83d']", "$.a "};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        path_refused(refused[i], "at byte ");

    /* form and XML payloads: paths apply to their JSON form */
    cJSON *form = NULL, *xml = NULL;
    hk_error err = {0};
    const char *f = "a=1&b=x&a=2", *x = "<order id=\"7\"><item>2</item></order>";
    cr_assert_eq(hk_inbound_payload("application/x-www-form-urlencoded", f, strlen(f), &form, &err),
                 HK_OK);
    cr_assert_eq(hk_inbound_payload("application/xml", x, strlen(x), &xml, &err), HK_OK, "%s",
                 err.msg);
    hk_jsonpath p = path_ok("$.b");
    cr_assert_str_eq(hk_jsonpath_get(&p, form)->valuestring, "x");
    hk_jsonpath_free(&p);
    p = path_ok("$.a[1]");
    cr_assert_str_eq(hk_jsonpath_get(&p, form)->valuestring, "2");
    hk_jsonpath_free(&p);
    p = path_ok("$.order.item");
    cr_assert_str_eq(hk_jsonpath_get(&p, xml)->valuestring, "2");
    hk_jsonpath_free(&p);
    p = path_ok("$.order['@id']");
    cr_assert_str_eq(hk_jsonpath_get(&p, xml)->valuestring, "7");
    hk_jsonpath_free(&p);
    cJSON_Delete(form);
    cJSON_Delete(xml);
}

/* ------------------------------------------------------------------ canonical JSON --- */

Test(canonical, numbers_by_their_double)
{
    canonical_is("3", "3");
    canonical_is("3.0", "3");
    canonical_is("3e0", "3");
    canonical_is("30e-1", "3");
    canonical_is("0.3e1", "3");
    canonical_is("-0", "0");
    canonical_is("-0.0", "0");
    canonical_is("-3", "-3");
    canonical_is("0.1", "0.1");
    canonical_is("1e-7", "1e-07");
    canonical_is("1e300", "1e+300");
    canonical_is("1E+300", "1e+300");
    canonical_is("1e21", "1e+21");
    canonical_is("123456789012", "123456789012");
    canonical_is("9007199254740991", "9007199254740991");
    canonical_is("9007199254740992", "9007199254740992");
    canonical_is("12345678901234567890", "1.2345678901234567e+19");
    canonical_is("0.30000000000000004", "0.30000000000000004");
    canonical_is("2.5", "2.5");
    canonical_is("-1.5e-3", "-0.0015");

    cJSON *n = cJSON_CreateNumber(NAN);
    char *c = canonical_of(n);
    cr_assert_str_eq(c, "null");
    free(c);
    cJSON_Delete(n);
    n = cJSON_CreateNumber(-INFINITY);
    c = canonical_of(n);
    cr_assert_str_eq(c, "null");
    free(c);
    cJSON_Delete(n);
}

Test(canonical, strings_literals_arrays_objects)
{
    canonical_is("\"3\"", "\"3\"");
    canonical_is("true", "true");
    canonical_is("\"true\"", "\"true\"");
    canonical_is("false", "false");
    canonical_is("null", "null");
    canonical_is("\"\\u00e9\\/\\\"\\\\\"", "\"é/\\\"\\\\\"");
    canonical_is("\"\\b\\f\\n\\r\\t\\u0001\\u001F\\u007f\"",
                 "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
    canonical_is("\"\\ud83d\\ude00\"", "\"\xF0\x9F\x98\x80\"");
    canonical_is(" [ 1 , 2.0 , [ ] , { } ] ", "[1,2,[],{}]");
    canonical_is("{\"b\":1,\"a\":[1,2]}", "{\"a\":[1,2],\"b\":1}");
    canonical_is("{\"b\":1,\"B\":2,\"\xc3\xa9\":3,\"a\":4,\"\":5,\"ab\":6}",
                 "{\"\":5,\"B\":2,\"a\":4,\"ab\":6,\"b\":1,\"\xc3\xa9\":3}");
    canonical_is("{\"o\":{\"z\":1,\"y\":{\"b\":true,\"a\":null}}}",
                 "{\"o\":{\"y\":{\"a\":null,\"b\":true},\"z\":1}}");
    /* a repeated name (refused earlier, but never a crash): both kept, in their order */
    canonical_is("{\"b\":2,\"a\":1,\"b\":1}", "{\"a\":1,\"b\":2,\"b\":1}");

    /* equal values, equal texts; different values, different texts */
    char *x = canonical_text("{\"b\":{\"d\":3.0,\"c\":[1,\"2\"]},\"a\":true}");
    char *y = canonical_text("{\"a\":true,\"b\":{\"c\":[1e0,\"2\"],\"d\":30e-1}}");
    cr_assert_str_eq(x, y);
    free(y);
    y = canonical_text("{\"a\":true,\"b\":{\"c\":[\"1\",\"2\"],\"d\":3}}");
    cr_assert_str_neq(x, y);
    free(y);
    free(x);
    x = canonical_text("3");
    y = canonical_text("\"3\"");
    cr_assert_str_neq(x, y);
    free(y);
    free(x);
    canonical_is("[1,2]", "[1,2]");
    x = canonical_text("[2,1]");
    cr_assert_str_eq(x, "[2,1]"); /* arrays keep their order */
    free(x);
    hk_buf b = {0};
    hk_json_canonical(NULL, &b);
    cr_assert_str_eq(b.data, "null");
    hk_buf_free(&b);
}

/* ----------------------------------------------------------------------------- waits --- */

Test(wait, the_seed_example)
{
    hk_inbound_wait *w = wait_ok("{\"ref\":\"task-1\",\"matches\":" SEED_MATCHES "}");
    cr_assert_str_eq(w->ref, "task-1");
    cr_assert_eq(w->ttl_s, HK_WAIT_TTL_DEFAULT_S);
    cr_assert_eq(w->n, 2);
    cr_assert_str_eq(w->paths[0].canonical, "$['event']['text']"); /* sorted */
    cr_assert_str_eq(w->paths[1].canonical, "$['event']['type']");
    cr_assert_str_eq(w->values[0], "\"hello\"");
    cr_assert_str_eq(w->values[1], "\"message\"");
    cr_assert_str_eq(w->matches_json, SEED_MATCHES);
    cr_assert_str_eq(w->shape_json, "[\"$['event']['text']\",\"$['event']['type']\"]");
    cr_assert_eq(strlen(w->shape), HK_WAIT_HASH_LEN);
    cr_assert_eq(strlen(w->digest), HK_WAIT_HASH_LEN);
    const char *paths[] = {"$['event']['text']", "$['event']['type']"};
    char id[HK_WAIT_HASH_LEN + 1];
    hk_inbound_shape_id(paths, 2, id);
    cr_assert_str_eq(w->shape, id);

    /* the payload's values give the wait's digest; "bye" another */
    char got[HK_WAIT_HASH_LEN + 1];
    cr_assert(payload_digest(w->shape, w->shape_json, SLACK, got));
    cr_assert_str_eq(got, w->digest);
    cr_assert(payload_digest(w->shape, w->shape_json,
                             "{\"event\":{\"text\":\"bye\",\"type\":\"message\"}}", got));
    cr_assert_str_neq(got, w->digest);
    cr_assert_not(payload_digest(w->shape, w->shape_json, "{\"event\":{\"type\":\"message\"}}",
                                 got)); /* a path missing: no wait of the shape matches */
    cr_assert_not(payload_digest(w->shape, w->shape_json, NULL, got));
    hk_inbound_wait_destroy(w);

    /* another spelling of the same matches, and ttlSeconds: the same shape and digest */
    hk_inbound_wait *v = wait_ok("{\"ttlSeconds\":60,\"matches\":{\"$.event.text\":\"hello\","
                                 "\"$[\\\"event\\\"].type\":\"message\"},\"ref\":\"r\"}");
    cr_assert_eq(v->ttl_s, 60);
    cr_assert_str_eq(v->shape, id);
    cr_assert(payload_digest(v->shape, v->shape_json, SLACK, got));
    cr_assert_str_eq(v->digest, got);
    cr_assert_str_eq(v->matches_json,
                     "{\"$.event.text\":\"hello\",\"$[\\\"event\\\"].type\":\"message\"}");
    hk_inbound_wait_destroy(v);
    hk_inbound_wait_destroy(NULL);
}

Test(wait, empty_matches_match_every_payload)
{
    hk_inbound_wait *w = wait_ok("{\"ref\":\"all\",\"matches\":{},\"ttlSeconds\":null}");
    cr_assert_eq(w->n, 0);
    cr_assert_eq(w->ttl_s, HK_WAIT_TTL_DEFAULT_S);
    cr_assert_str_eq(w->shape_json, "[]");
    cr_assert_str_eq(w->matches_json, "{}");
    char got[HK_WAIT_HASH_LEN + 1];
    const char *payloads[] = {SLACK, "[1,2]", "\"text\"", "null", "{}", NULL};
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        memset(got, 0, sizeof got);
        cr_assert(payload_digest(w->shape, w->shape_json, payloads[i], got));
        cr_assert_str_eq(got, w->digest, "%s", payloads[i] ? payloads[i] : "NULL");
    }
    /* the digest of nothing: SHA-256 of no bytes */
    cr_assert_str_eq(w->digest, "e3b0c44298fc1c149afbf4c8996fb924");
    cr_assert_str_eq(w->shape, "e3b0c44298fc1c149afbf4c8996fb924");
    hk_inbound_wait_destroy(w);
}

Test(wait, values_compare_as_canonical_json)
{
    const char *same[] = {"3", "3.0", "3e0", "30e-1"};
    char first[HK_WAIT_HASH_LEN + 1] = "";
    for (size_t i = 0; i < 4; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"ref\":\"r\",\"matches\":{\"$.n\":%s}}", same[i]);
        hk_inbound_wait *w = wait_ok(text);
        cr_assert_str_eq(w->values[0], "3");
        if (i == 0)
            strcpy(first, w->digest);
        cr_assert_str_eq(w->digest, first, "%s", same[i]);
        hk_inbound_wait_destroy(w);
    }
    const char *other[] = {"\"3\"", "true", "\"true\"", "null", "[3]", "{\"n\":3}", "3.5"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"ref\":\"r\",\"matches\":{\"$.n\":%s}}", other[i]);
        hk_inbound_wait *w = wait_ok(text);
        cr_assert_str_neq(w->digest, first, "%s", other[i]);
        hk_inbound_wait_destroy(w);
    }

    /* an object value matches the payload's whatever its member order */
    hk_inbound_wait *w = wait_ok(
        "{\"ref\":\"r\",\"matches\":{\"$.o\":{\"b\":[1,{\"d\":null,\"c\":true}],\"a\":1}}}");
    cr_assert_str_eq(w->values[0], "{\"a\":1,\"b\":[1,{\"c\":true,\"d\":null}]}");
    char got[HK_WAIT_HASH_LEN + 1];
    cr_assert(payload_digest(w->shape, w->shape_json,
                             "{\"o\":{\"a\":1.0,\"b\":[1,{\"c\":true,\"d\":null}]}}", got));
    cr_assert_str_eq(got, w->digest);
    cr_assert(payload_digest(w->shape, w->shape_json,
                             "{\"o\":{\"a\":1,\"b\":[{\"c\":true,\"d\":null},1]}}", got));
    cr_assert_str_neq(got, w->digest);
    hk_inbound_wait_destroy(w);
}

Test(wait, refusals_name_their_field)
{
    wait_refused("[]", "wait", "must be a JSON object");
    wait_refused("{\"matches\":{}}", "ref", "required");
    wait_refused("{\"ref\":null,\"matches\":{}}", "ref", "required");
    wait_refused("{\"ref\":\"\",\"matches\":{}}", "ref", "must not be empty");
    wait_refused("{\"ref\":7,\"matches\":{}}", "ref", "must be a string");
    wait_refused("{\"ref\":\"a\\nb\",\"matches\":{}}", "ref", "control character");
    wait_refused("{\"ref\":\"a\\u007fb\",\"matches\":{}}", "ref", "control character");
    wait_refused("{\"ref\":\"a\xff\",\"matches\":{}}", "ref", "UTF-8");
    wait_refused("{\"ref\":\"r\",\"matches\":{},\"extra\":1}", "extra", "unknown field");
    wait_refused("{\"ref\":\"r\",\"matches\":{},\"ref\":\"s\"}", "ref", "given twice");
    wait_refused("{\"ref\":\"r\",\"matches\":{},\"ttlSeconds\":0}", "ttlSeconds",
                 "must be an integer from 1 to 31536000");
    wait_refused("{\"ref\":\"r\",\"matches\":{},\"ttlSeconds\":1.5}", "ttlSeconds", "integer");
    wait_refused("{\"ref\":\"r\",\"matches\":{},\"ttlSeconds\":31536001}", "ttlSeconds", "integer");
    wait_refused("{\"ref\":\"r\",\"matches\":{},\"ttlSeconds\":-5}", "ttlSeconds", "integer");
    wait_refused("{\"ref\":\"r\",\"matches\":{},\"ttlSeconds\":\"60\"}", "ttlSeconds", "integer");
    wait_refused("{\"ref\":\"r\"}", "matches", "required");
    wait_refused("{\"ref\":\"r\",\"matches\":null}", "matches", "required");
    wait_refused("{\"ref\":\"r\",\"matches\":[]}", "matches", "must be an object");
    wait_refused("{\"ref\":\"r\",\"matches\":\"$.a\"}", "matches", "must be an object");
    wait_refused("{\"ref\":\"r\",\"matches\":{\"$.a\":1,\"$['a']\":2}}", "matches",
                 "\"$.a\" and \"$['a']\" are the same path");
    wait_refused("{\"ref\":\"r\",\"matches\":{\"$.a\":1,\"$.b\":2,\"$.a\":1}}", "matches[\"$.a\"]",
                 "given twice");
    wait_refused("{\"ref\":\"r\",\"matches\":{\"$.a[\":1}}", "matches[\"$.a[\"]",
                 "at byte 4 (the end)");
    wait_refused("{\"ref\":\"r\",\"matches\":{\"$.a\":1,\"$..b\":2}}", "matches[\"$..b\"]",
                 "not supported");
    wait_refused("{\"ref\":\"r\",\"matches\":{\"$.user-id\":1}}", "matches[\"$.user-id\"]",
                 "['user-id']");
    wait_refused("{\"ref\":\"r\",\"matches\":{\"$.o\":{\"a\":1,\"a\":2}}}", "matches[\"$.o\"]",
                 "names a member twice");

    /* the ttl's bounds themselves pass */
    hk_inbound_wait *w = wait_ok("{\"ref\":\"r\",\"matches\":{},\"ttlSeconds\":31536000}");
    cr_assert_eq(w->ttl_s, HK_WAIT_TTL_MAX_S);
    hk_inbound_wait_destroy(w);
    w = wait_ok("{\"ref\":\"r\",\"matches\":{},\"ttlSeconds\":1.0}");
    cr_assert_eq(w->ttl_s, 1);
    hk_inbound_wait_destroy(w);
}

Test(wait, limits)
{
    /* ref: HK_WAIT_REF_MAX bytes pass, one more is refused */
    char text[2 * HK_WAIT_VALUE_MAX + 256];
    char ref[HK_WAIT_REF_MAX + 2];
    memset(ref, 'r', HK_WAIT_REF_MAX);
    ref[HK_WAIT_REF_MAX] = '\0';
    snprintf(text, sizeof text, "{\"ref\":\"%s\",\"matches\":{}}", ref);
    hk_inbound_wait *w = wait_ok(text);
    cr_assert_str_eq(w->ref, ref);
    hk_inbound_wait_destroy(w);
    strcat(ref, "r");
    snprintf(text, sizeof text, "{\"ref\":\"%s\",\"matches\":{}}", ref);
    wait_refused(text, "ref", "longer than 256 bytes");

    /* 20 entries pass, 21 are refused */
    hk_buf b = {0};
    hk_buf_puts(&b, "{\"ref\":\"r\",\"matches\":{");
    for (int i = 0; i < HK_WAIT_MATCHES_MAX; i++)
        hk_buf_printf(&b, "%s\"$.k%02d\":%d", i ? "," : "", i, i);
    hk_buf_puts(&b, "}}");
    w = wait_ok(b.data);
    cr_assert_eq(w->n, HK_WAIT_MATCHES_MAX);
    hk_inbound_wait_destroy(w);
    b.len -= 2;
    hk_buf_puts(&b, ",\"$.k99\":1}}");
    wait_refused(b.data, "matches", "21 entries, over the limit of 20");
    hk_buf_free(&b);

    /* a value of HK_WAIT_VALUE_MAX bytes canonical passes, one more is refused */
    char big[HK_WAIT_VALUE_MAX + 1];
    memset(big, 'v', HK_WAIT_VALUE_MAX - 2);
    big[HK_WAIT_VALUE_MAX - 2] = '\0';
    snprintf(text, sizeof text, "{\"ref\":\"r\",\"matches\":{\"$.v\":\"%s\"}}", big);
    w = wait_ok(text);
    cr_assert_eq(strlen(w->values[0]), HK_WAIT_VALUE_MAX);
    hk_inbound_wait_destroy(w);
    strcat(big, "v");
    snprintf(text, sizeof text, "{\"ref\":\"r\",\"matches\":{\"$.v\":\"%s\"}}", big);
    wait_refused(text, "matches[\"$.v\"]", "4097 bytes as canonical JSON, over 4096");
    /* counted canonical: spaces do not count */
    snprintf(text, sizeof text, "{\"ref\":\"r\",\"matches\":{\"$.v\":[%*s1]}}", 5000, "");
    w = wait_ok(text);
    cr_assert_str_eq(w->values[0], "[1]");
    hk_inbound_wait_destroy(w);
}

Test(wait, path_fields_are_cut_and_shown_safely)
{
    /* a long path: the field keeps its closing "] within hk_error.field, the cut marked */
    char text[1024], path[300];
    memset(path, 0, sizeof path);
    strcpy(path, "$.");
    memset(path + 2, 'a', 200);
    strcat(path, "-");
    snprintf(text, sizeof text, "{\"ref\":\"r\",\"matches\":{\"%s\":1}}", path);
    cJSON *j = json(text);
    hk_inbound_wait *w = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_inbound_wait_from_json(j, &w, &err), HK_EINVAL);
    cJSON_Delete(j);
    cr_assert(strlen(err.field) <= 63);
    cr_assert(strncmp(err.field, "matches[\"$.aaaa", 15) == 0, "%s", err.field);
    size_t n = strlen(err.field);
    cr_assert_str_eq(err.field + n - 5, "...\"]", "%s", err.field);
    cr_assert(strstr(err.msg, "at byte 202 ('-')"), "%s", err.msg);

    /* control characters and quotes escaped, no raw control byte anywhere */
    wait_refused("{\"ref\":\"r\",\"matches\":{\"$.a\\u0001\\\"\":1}}",
                 "matches[\"$.a\\u0001\\\"\"]", "at byte 3 (byte 0x01)");
    wait_refused("{\"ref\":\"r\",\"matches\":{\"x\\n\":1}}", "matches[\"x\\n\"]",
                 "a path starts with $");
}

/* ---------------------------------------------------------------- shapes, digests --- */

Test(shape, hashes_are_sha256_of_lines)
{
    unsigned char md[32];
    char want[65];
    EVP_Digest("a\nbc\n", 5, md, NULL, EVP_sha256(), NULL);
    hk_hex(md, 16, want);
    const char *lines[] = {"a", "bc"};
    char got[HK_WAIT_HASH_LEN + 1];
    hk_inbound_shape_id(lines, 2, got);
    cr_assert_str_eq(got, want);
    hk_inbound_digest(lines, 2, got);
    cr_assert_str_eq(got, want);
    const char *other[] = {"abc"}, *three[] = {"a", "b", "c"};
    hk_inbound_digest(other, 1, got);
    cr_assert_str_neq(got, want);
    hk_inbound_digest(three, 3, got);
    cr_assert_str_neq(got, want);
}

Test(shape, parse_round_trip_and_refusals)
{
    hk_inbound_wait *w = wait_ok(
        "{\"ref\":\"r\",\"matches\":{\"$.b[-1]\":1,\"$['a\\\\'s']\":2,\"$.c['x\\\\u0001']\":3}}");
    cr_assert_str_eq(w->shape_json, "[\"$['a\\\\'s']\",\"$['b'][-1]\",\"$['c']['x\\\\u0001']\"]");
    hk_inbound_shape s;
    hk_error err = {0};
    cr_assert_eq(hk_inbound_shape_parse(w->shape, w->shape_json, &s, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(s.id, w->shape);
    cr_assert_eq(s.n, 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_str_eq(s.paths[i].canonical, w->paths[i].canonical);
    char got[HK_WAIT_HASH_LEN + 1];
    cJSON *d = json("{\"a's\":2,\"b\":[0,1],\"c\":{\"x\\u0001\":3.0},\"z\":0}");
    cr_assert(hk_inbound_shape_digest(&s, d, got));
    cr_assert_str_eq(got, w->digest);
    cJSON_Delete(d);
    hk_inbound_shape_free(&s);
    hk_inbound_shape_free(&s);

    /* a tampered id */
    char id[HK_WAIT_HASH_LEN + 1];
    strcpy(id, w->shape);
    id[0] = id[0] == '0' ? '1' : '0';
    shape_refused(id, w->shape_json, "shape", "its id is not its paths'");
    shape_refused("", w->shape_json, "shape", "its id is not its paths'");
    shape_refused(NULL, w->shape_json, "shape", "missing");
    hk_inbound_wait_destroy(w);

    /* unsorted, repeated, not canonical, not paths */
    const char *two[] = {"$['a']", "$['b']"};
    hk_inbound_shape_id(two, 2, id);
    shape_refused(id, "[\"$['b']\",\"$['a']\"]", "shape[1]", "sorted");
    shape_refused(id, "[\"$['a']\",\"$['a']\"]", "shape[1]", "distinct");
    shape_refused(id, "[\"$.a\",\"$['b']\"]", "shape[0]", "not in canonical form");
    shape_refused(id, "[\"$['a']\",\"$[\\\"b\\\"]\"]", "shape[1]", "not in canonical form");
    shape_refused(id, "[\"$['a']\",\"$[?b]\"]", "shape[1]", "not supported");
    shape_refused(id, "[\"$['a']\",2]", "shape[1]", "must be a string");
    shape_refused(id, "{}", "shape", "JSON array");
    shape_refused(id, "[\"$['a']\",\"$['b']\"] x", "shape", "JSON array");
    shape_refused(id, "", "shape", "JSON array");
    cr_assert_eq(hk_inbound_shape_parse(id, "[\"$['a']\",\"$['b']\"]", &s, &err), HK_OK, "%s",
                 err.msg);
    hk_inbound_shape_free(&s);

    /* the empty shape: always the digest of no values, NULL payload included */
    hk_inbound_shape_id(NULL, 0, id);
    cr_assert_eq(hk_inbound_shape_parse(id, "[]", &s, &err), HK_OK, "%s", err.msg);
    cr_assert_eq(s.n, 0);
    char none[HK_WAIT_HASH_LEN + 1];
    hk_inbound_digest(NULL, 0, none);
    cr_assert(hk_inbound_shape_digest(&s, NULL, got));
    cr_assert_str_eq(got, none);
    hk_inbound_shape_free(&s);

    /* `$` alone: the whole payload, which a raw body (NULL) lacks */
    const char *root[] = {"$"};
    hk_inbound_shape_id(root, 1, id);
    cr_assert_eq(hk_inbound_shape_parse(id, "[\"$\"]", &s, &err), HK_OK, "%s", err.msg);
    cr_assert_not(hk_inbound_shape_digest(&s, NULL, got));
    d = json("[1]");
    cr_assert(hk_inbound_shape_digest(&s, d, got));
    const char *one[] = {"[1]"};
    hk_inbound_digest(one, 1, none);
    cr_assert_str_eq(got, none);
    cJSON_Delete(d);
    hk_inbound_shape_free(&s);
}

/* ------------------------------------------------------------- selecting in the text --- */

/* What hk_jsonpath_find selects in text, as canonical JSON ("" when missing); the caller frees. */
static char *found_in_text(const char *path, const char *text)
{
    hk_jsonpath p = path_ok(path);
    const char *at = NULL;
    size_t len = 0;
    char *out = strdup("");
    if (hk_jsonpath_find(&p, text, strlen(text), &at, &len)) {
        cJSON *v = cJSON_ParseWithLength(at, len);
        cr_assert_not_null(v, "%s: the span '%.*s' is no JSON value", path, (int)len, at);
        hk_buf b = {0};
        hk_json_canonical(v, &b);
        free(out);
        out = hk_buf_take(&b);
        cJSON_Delete(v);
    }
    hk_jsonpath_free(&p);
    return out;
}

/* The same through the tree. */
static char *found_in_tree(const char *path, const char *text)
{
    hk_jsonpath p = path_ok(path);
    cJSON *doc = cJSON_Parse(text);
    cr_assert_not_null(doc);
    const cJSON *v = hk_jsonpath_get(&p, doc);
    char *out = strdup("");
    if (v) {
        hk_buf b = {0};
        hk_json_canonical(v, &b);
        free(out);
        out = hk_buf_take(&b);
    }
    cJSON_Delete(doc);
    hk_jsonpath_free(&p);
    return out;
}

Test(jsonpath, the_text_walk_selects_what_the_tree_does)
{
    static const char *const docs[] = {
        SLACK,
        " { \"a\" : [ 1 , { \"b\" : [ true , null , \"x\\\"]\" ] } , [ ] , -2.5e3 ] ,\n"
        "\t\"c\\u0041\" : { \"\" : 0 } , \"d\" : \"}\" , \"e\" : {} } ",
        "\xEF\xBB\xBF{\"k\":\"v\",\"n\":{\"m\":[[1,2],[3,[4,5]]]}}",
        "[{\"id\":1},{\"id\":2},{\"id\":3}]",
        "\"just a string\"",
    };
    static const char *const paths[] = {
        "$",
        "$.event.type",
        "$['event']['text']",
        "$.type",
        "$.token.x",
        "$.a[0]",
        "$.a[1].b[2]",
        "$.a[1].b[-1]",
        "$.a[-1]",
        "$.a[-4]",
        "$.a[-5]",
        "$.a[4]",
        "$.a[2]",
        "$.cA",
        "$['cA']['']",
        "$.d",
        "$.e",
        "$.e.x",
        "$.k",
        "$.n.m[1][1][-2]",
        "$[0].id",
        "$[-1].id",
        "$[3]",
        "$.missing",
        "$[0]",
        "$.event",
        "$.a[1].b[1]",
        "$['a'][1]['b'][0]",
    };
    int found = 0;
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++)
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            char *text = found_in_text(paths[i], docs[d]);
            char *tree = found_in_tree(paths[i], docs[d]);
            cr_assert_str_eq(text, tree, "doc %zu, %s: the text walk '%s', the tree '%s'", d,
                             paths[i], text, tree);
            found += *text != '\0';
            free(text);
            free(tree);
        }
    cr_assert_geq(found, 25, "only %d paths found anything: the walk is not being tested", found);
}

Test(shape, a_digest_from_the_text_is_the_digest_from_the_tree)
{
    hk_inbound_wait *w = NULL;
    hk_error err = {0};
    cJSON *doc = cJSON_Parse("{\"ref\":\"r\",\"matches\":" SEED_MATCHES "}");
    cr_assert_eq(hk_inbound_wait_from_json(doc, &w, &err), HK_OK, "%s", err.msg);
    hk_inbound_shape s;
    cr_assert_eq(hk_inbound_shape_parse(w->shape, w->shape_json, &s, &err), HK_OK, "%s", err.msg);
    char from_text[HK_WAIT_HASH_LEN + 1], from_tree[HK_WAIT_HASH_LEN + 1];
    cr_assert(hk_inbound_shape_digest_text(&s, SLACK, strlen(SLACK), from_text));
    cr_assert_str_eq(from_text, w->digest, "the wait's own digest");
    cJSON *payload = cJSON_Parse(SLACK);
    cr_assert(hk_inbound_shape_digest(&s, payload, from_tree));
    cr_assert_str_eq(from_text, from_tree);
    static const char bye[] = "{\"event\":{\"type\":\"message\",\"text\":\"bye\"}}";
    cr_assert(hk_inbound_shape_digest_text(&s, bye, strlen(bye), from_text));
    cr_assert_str_neq(from_text, w->digest);
    static const char none[] = "{\"event\":{\"type\":\"message\"}}";
    cr_assert_not(hk_inbound_shape_digest_text(&s, none, strlen(none), from_text));
    cJSON_Delete(payload);
    cJSON_Delete(doc);
    hk_inbound_shape_free(&s);
    hk_inbound_wait_destroy(w);
}
