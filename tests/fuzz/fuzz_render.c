/*
 * fuzz_render.c — the body renderer (hk_render, hk_render_form_of): a fuzzed template, fuzzed
 * event values, every form and a fuzzed size limit.
 *
 * Input: NUL-separated fields
 *   template \0 jobId \0 jobStatus \0 flowId \0 flowName \0 jobType \0 eventType \0 finishedAt
 *   \0 webhookName \0 outputIds (comma-separated; empty: no ids; "," is two empty ids)
 *   ($spaceId is given flowName's value: it has no field of its own)
 *   \0 control (the rest of the input, bytes):
 *        [0]     mode: bits 0-1 the form the random limit is tried on (0 RAW, 1 JSON_ESCAPE,
 *                2 FORM, 3 JSON); bit 7 set: the limit is taken as it is, else it is taken
 *                modulo (that form's output length + 2), so it lands around the boundary
 *        [1..4]  attempt, int32 little-endian (negative too)
 *        [5..12] the limit (max_bytes), uint64 little-endian (missing bytes are 0)
 *
 * Checked, on every input, with every form rendered without a limit (SIZE_MAX):
 *  - RAW equals reference_render below: the rule of hk_delivery.h written plainly, $outputIds
 *    being the ids joined with ",".
 *  - JSON_ESCAPE: when the template needs no escaping itself (no byte < 0x20, '"' or '\\'), the
 *    output put in quotes parses (all of it) as one JSON string whose value is the RAW output.
 *  - FORM: let the skeleton be the RAW rendering with every value and every id "" (so
 *    $outputIds leaves its n-1 separating commas, which FORM writes as they are). Each byte
 *    that is neither RFC 3986 unreserved (A-Za-z0-9-._~) nor '%' occurs in the output exactly
 *    as often as in the skeleton: a value contributes only unreserved bytes and '%'. When the
 *    template holds no '%', every '%' of the output starts %XX (uppercase hex) encoding a byte
 *    that is not unreserved, and percent-decoding the output gives the RAW output.
 *  - JSON, when hk_render_form_of(NULL, 0, template) says JSON (and FORM when the Content-Type
 *    is application/x-www-form-urlencoded, whatever the template): the output parses as JSON,
 *    all of it (cJSON_ParseWithLengthOpts, nothing after the value). Let P be the template with
 *    each known reference replaced by null, parsed (what render.c tests), and O the output
 *    parsed. Walking P and O together in document order, O is P where:
 *      - every object has the same number of members, in the same order; every key and every
 *        string is the template's string token with each reference inside it replaced by its
 *        value (the token, escaped by an escaper of this file, then decoded by cJSON);
 *      - a literal null, true, false, number stays as it is;
 *      - a null that was a reference outside a string (other than $outputIds) is one token: a
 *        number equal to the value when the value is exactly a JSON number (RFC 8259 6), else a
 *        string equal to the value;
 *      - $outputIds outside a string, as an array element, is n_ids elements in its place
 *        (each one token as above); anywhere else it is an array of those n_ids tokens.
 *    So the keys at every depth are the template's, with references in key text substituted.
 *    With no ids, such an element vanishes with one comma beside it ("[1,$outputIds]" is
 *    "[1]"; found here, it was "[1,]").
 *    Skipped: templates 999 or more containers deep (a wrapped $outputIds would pass cJSON's
 *    nesting limit of 1000), and templates with over 4096 nulls or strings (this file's tables).
 *  - The limit, every form: with max_bytes = the output's length L the same bytes come back and
 *    *len == L == strlen; with L - 1 NULL. With the random limit m (around L for the form the
 *    mode picks, as given for the others): NULL exactly when L > m, else the same bytes and
 *    *len == strlen (len NULL when m is odd).
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "hk_delivery.h"

enum {
    F_TMPL,
    F_JOB_ID,
    F_STATUS,
    F_FLOW_ID,
    F_FLOW_NAME,
    F_JOB_TYPE,
    F_TYPE,
    F_FINISHED,
    F_NAME,
    F_OUTPUTS,
    F_CONTROL,
    F_COUNT
};

#define MAX_IDS 64

/* A known reference and its value; OUTPUTS is the $outputIds entry (value: the joined ids). */
typedef struct ref {
    const char *name;
    const char *value;
} ref;

enum { N_REFS = 11, OUTPUTS = 9 };

/* The known reference at p ('$' + [A-Za-z_][A-Za-z0-9_]*, longest run), its index in refs and
 * its end; -1 when p is no reference or an unknown one (*end is still the end of the name). */
static int reference_at(const char *p, const ref *refs, const char **end)
{
    *end = p + 1;
    if (p[0] != '$' || !(isalpha((unsigned char)p[1]) || p[1] == '_'))
        return -1;
    const char *e = p + 1;
    while (isalnum((unsigned char)*e) || *e == '_')
        e++;
    *end = e;
    size_t len = (size_t)(e - p - 1);
    for (int i = 0; i < N_REFS; i++)
        if (strlen(refs[i].name) == len && memcmp(refs[i].name, p + 1, len) == 0)
            return i;
    return -1;
}

/* The rule, written out plainly: a known reference is replaced by its value, anything else is
 * copied as written. */
static char *reference_render(const char *tmpl, const ref *refs)
{
    hk_buf out = {0};
    for (const char *p = tmpl; *p;) {
        const char *end;
        int r = reference_at(p, refs, &end);
        if (r >= 0)
            hk_buf_puts(&out, refs[r].value);
        else
            hk_buf_append(&out, p, (size_t)(end - p));
        p = end;
    }
    return hk_buf_take(&out);
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lowercase is not what RFC 3986 2.1 asks of producers */
}

/* A JSON string body: '"', '\\' and controls escaped (written here, not render.c's). */
static void json_escape(hk_buf *b, const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            hk_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            hk_buf_printf(b, "\\u%04x", *p);
        else
            hk_buf_append(b, p, 1);
    }
}

/* RFC 8259 6, as a small state machine: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool is_json_number(const char *v)
{
    const char *p = v;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        p += strspn(p, "0123456789");
    else
        return false;
    if (*p == '.') {
        size_t n = strspn(++p, "0123456789");
        if (!n)
            return false;
        p += n;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t n = strspn(p, "0123456789");
        if (!n)
            return false;
        p += n;
    }
    return *p == '\0';
}

static cJSON *parse_all(const char *s, size_t len)
{
    const char *end = NULL;
    /* cJSON 1.7.15 wants the terminating NUL inside the length to see it. */
    cJSON *j = cJSON_ParseWithLengthOpts(s, len + 1, &end, true);
    if (j && end != s + len) {
        cJSON_Delete(j);
        j = NULL;
    }
    return j;
}

/* ---- the JSON form: the template read as JSON text -------------------------------------- */

/* What the template holds outside its strings where P has a null: a literal null (-1) or the
 * known reference refs[i] (i); and its string tokens (between the quotes), in document order. */
typedef struct json_tmpl {
    int slots[4096];
    size_t n_slots, slot_i;
    const char *str_start[4096], *str_end[4096];
    size_t n_strs, str_i;
    bool overflow;
} json_tmpl;

static void lex_template(const char *tmpl, const ref *refs, json_tmpl *t)
{
    bool in_string = false;
    const char *start = NULL;
    for (const char *p = tmpl; *p;) {
        const char *end;
        if (in_string) {
            if (*p == '\\' && p[1]) {
                p += 2;
            } else if (*p == '"') {
                if (t->n_strs < 4096) {
                    t->str_start[t->n_strs] = start;
                    t->str_end[t->n_strs] = p;
                    t->n_strs++;
                } else {
                    t->overflow = true;
                }
                in_string = false;
                p++;
            } else if (reference_at(p, refs, &end) >= 0) {
                p = end;
            } else {
                p++;
            }
            continue;
        }
        int r = reference_at(p, refs, &end);
        if (*p == '"') {
            in_string = true;
            start = ++p;
        } else if (r >= 0 || *p == 'n') { /* outside strings only null has an 'n' */
            if (t->n_slots < 4096)
                t->slots[t->n_slots++] = r;
            else
                t->overflow = true;
            p = r >= 0 ? end : p + 4;
        } else {
            p++;
        }
    }
}

/* String token i of the template as the renderer should leave it, decoded. Caller frees. */
static char *expected_string(const json_tmpl *t, size_t i, const ref *refs)
{
    hk_buf b = {0};
    hk_buf_puts(&b, "\"");
    for (const char *p = t->str_start[i]; p < t->str_end[i];) {
        const char *end;
        if (*p == '\\') {
            hk_buf_append(&b, p, 2);
            p += 2;
        } else if (reference_at(p, refs, &end) >= 0) {
            json_escape(&b, refs[reference_at(p, refs, &end)].value);
            p = end;
        } else {
            hk_buf_append(&b, p, 1);
            p++;
        }
    }
    hk_buf_puts(&b, "\"");
    cJSON *j = parse_all(b.data, b.len);
    HK_FUZZ_CHECK(cJSON_IsString(j), "template string token %zu with values is no string: %s", i,
                  b.data);
    char *s = hk_strdup(j->valuestring);
    cJSON_Delete(j);
    hk_buf_free(&b);
    return s;
}

static int next_slot(json_tmpl *t)
{
    HK_FUZZ_CHECK(t->slot_i < t->n_slots, "more nulls in the template's JSON than slots");
    return t->slots[t->slot_i++];
}

static void check_token(const cJSON *o, const char *v, const char *what)
{
    if (is_json_number(v)) {
        HK_FUZZ_CHECK(cJSON_IsNumber(o) && o->valuedouble == strtod(v, NULL),
                      "%s: '%s' is not that number", what, v);
    } else {
        HK_FUZZ_CHECK(cJSON_IsString(o) && strcmp(o->valuestring, v) == 0,
                      "%s: '%s' is not that string", what, v);
    }
}

typedef struct walk_ctx {
    json_tmpl *t;
    const ref *refs;
    char **ids;
    size_t n_ids;
} walk_ctx;

static void walk(const cJSON *p, const cJSON *o, walk_ctx *c);

/* Checks o against P's node p, an element of an array; returns the next element of O. */
static const cJSON *walk_element(const cJSON *p, const cJSON *o, walk_ctx *c)
{
    if (cJSON_IsNull(p) && c->t->slot_i < c->t->n_slots && c->t->slots[c->t->slot_i] == OUTPUTS) {
        c->t->slot_i++;
        for (size_t k = 0; k < c->n_ids; k++) {
            HK_FUZZ_CHECK(o != NULL, "$outputIds in an array: id %zu missing", k);
            check_token(o, c->ids[k], "$outputIds element");
            o = o->next;
        }
        return o;
    }
    HK_FUZZ_CHECK(o != NULL, "array shorter than the template's");
    walk(p, o, c);
    return o->next;
}

static void walk(const cJSON *p, const cJSON *o, walk_ctx *c)
{
    if (cJSON_IsObject(p)) {
        HK_FUZZ_CHECK(cJSON_IsObject(o), "not an object where the template has one");
        const cJSON *oc = o->child;
        for (const cJSON *pc = p->child; pc; pc = pc->next, oc = oc->next) {
            HK_FUZZ_CHECK(oc != NULL, "object has fewer members than the template's");
            HK_FUZZ_CHECK(c->t->str_i < c->t->n_strs, "more keys than string tokens");
            char *key = expected_string(c->t, c->t->str_i++, c->refs);
            HK_FUZZ_CHECK(strcmp(oc->string, key) == 0, "key '%s' where '%s' is expected",
                          oc->string, key);
            free(key);
            walk(pc, oc, c);
        }
        HK_FUZZ_CHECK(oc == NULL, "object has more members than the template's");
    } else if (cJSON_IsArray(p)) {
        HK_FUZZ_CHECK(cJSON_IsArray(o), "not an array where the template has one");
        const cJSON *oc = o->child;
        for (const cJSON *pc = p->child; pc; pc = pc->next)
            oc = walk_element(pc, oc, c);
        HK_FUZZ_CHECK(oc == NULL, "array has more elements than the template's");
    } else if (cJSON_IsNull(p)) {
        int r = next_slot(c->t);
        if (r < 0) {
            HK_FUZZ_CHECK(cJSON_IsNull(o), "a literal null became something else");
        } else if (r == OUTPUTS) { /* not an element (walk_element): an array of its own */
            HK_FUZZ_CHECK(cJSON_IsArray(o), "$outputIds outside an array is no array");
            const cJSON *oc = o->child;
            for (size_t k = 0; k < c->n_ids; k++, oc = oc->next) {
                HK_FUZZ_CHECK(oc != NULL, "$outputIds array: id %zu missing", k);
                check_token(oc, c->ids[k], "$outputIds array element");
            }
            HK_FUZZ_CHECK(oc == NULL, "$outputIds array has more than the ids");
        } else {
            check_token(o, c->refs[r].value, c->refs[r].name);
        }
    } else if (cJSON_IsString(p)) {
        HK_FUZZ_CHECK(c->t->str_i < c->t->n_strs, "more strings than string tokens");
        char *want = expected_string(c->t, c->t->str_i++, c->refs);
        HK_FUZZ_CHECK(cJSON_IsString(o) && strcmp(o->valuestring, want) == 0, "string is not '%s'",
                      want);
        free(want);
    } else if (cJSON_IsNumber(p)) {
        HK_FUZZ_CHECK(cJSON_IsNumber(o) && o->valuedouble == p->valuedouble,
                      "a literal number changed");
    } else {
        HK_FUZZ_CHECK((o->type & 0xff) == (p->type & 0xff), "a literal true/false changed");
    }
}

/* P's depth (containers), and whether it has $outputIds as an element of an array with other
 * elements (the open edge when there are no ids). Uses its own slot cursor. */
static size_t scan(const cJSON *p, json_tmpl *t, bool *edge)
{
    if (cJSON_IsNull(p)) {
        next_slot(t);
        return 0;
    }
    if (!cJSON_IsObject(p) && !cJSON_IsArray(p))
        return 0;
    size_t deepest = 0, n = (size_t)cJSON_GetArraySize(p);
    for (const cJSON *pc = p->child; pc; pc = pc->next) {
        if (cJSON_IsArray(p) && n > 1 && cJSON_IsNull(pc) && t->slot_i < t->n_slots &&
            t->slots[t->slot_i] == OUTPUTS)
            *edge = true;
        size_t d = scan(pc, t, edge);
        if (d > deepest)
            deepest = d;
    }
    return deepest + 1;
}

static void check_json(const char *tmpl, const char *out, size_t len, const ref *refs, char **ids,
                       size_t n_ids)
{
    hk_buf probe = {0};
    for (const char *p = tmpl; *p;) {
        const char *end;
        int r = reference_at(p, refs, &end);
        if (r >= 0)
            hk_buf_puts(&probe, "null");
        else
            hk_buf_append(&probe, p, (size_t)(end - p));
        p = end;
    }
    cJSON *pj = parse_all(probe.data, probe.len);
    HK_FUZZ_CHECK(cJSON_IsObject(pj) || cJSON_IsArray(pj),
                  "hk_render_form_of says JSON, the template with nulls is not: %s", probe.data);
    json_tmpl *t = calloc(1, sizeof *t);
    HK_FUZZ_CHECK(t != NULL, "out of memory");
    lex_template(tmpl, refs, t);
    bool edge = false;
    size_t depth = scan(pj, t, &edge);
    t->slot_i = 0;
    bool skip = t->overflow || depth >= CJSON_NESTING_LIMIT - 1 /* $outputIds adds one */;
    if (!skip) {
        cJSON *oj = parse_all(out, len);
        HK_FUZZ_CHECK(oj != NULL, "JSON template rendered invalid JSON:\n%s\n%s", tmpl, out);
        walk_ctx c = {.t = t, .refs = refs, .ids = ids, .n_ids = n_ids};
        walk(pj, oj, &c);
        HK_FUZZ_CHECK(t->slot_i == t->n_slots && t->str_i == t->n_strs,
                      "template tokens left over: %zu/%zu slots, %zu/%zu strings", t->slot_i,
                      t->n_slots, t->str_i, t->n_strs);
        cJSON_Delete(oj);
    }
    free(t);
    cJSON_Delete(pj);
    hk_buf_free(&probe);
}

/* ---- the other forms --------------------------------------------------------------------- */

static void check_json_escape(const char *tmpl, const char *escaped, const char *raw)
{
    for (const unsigned char *p = (const unsigned char *)tmpl; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\')
            return;
    hk_buf quoted = {0};
    hk_buf_puts(&quoted, "\"");
    hk_buf_puts(&quoted, escaped);
    hk_buf_puts(&quoted, "\"");
    cJSON *j = parse_all(quoted.data, quoted.len);
    HK_FUZZ_CHECK(cJSON_IsString(j), "escaped rendering is not a JSON string body: %s",
                  quoted.data);
    HK_FUZZ_CHECK(strcmp(j->valuestring, raw) == 0, "escaped rendering decodes to something else");
    cJSON_Delete(j);
    hk_buf_free(&quoted);
}

static void check_form(const char *tmpl, const char *form, const char *raw, const char *skeleton)
{
    size_t count_out[256] = {0}, count_skel[256] = {0};
    for (const unsigned char *p = (const unsigned char *)form; *p; p++)
        count_out[*p]++;
    for (const unsigned char *p = (const unsigned char *)skeleton; *p; p++)
        count_skel[*p]++;
    for (int b = 1; b < 256; b++)
        if (!is_unreserved((unsigned char)b) && b != '%')
            HK_FUZZ_CHECK(count_out[b] == count_skel[b],
                          "byte 0x%02x: %zu in the form output, %zu in the template's text", b,
                          count_out[b], count_skel[b]);
    if (strchr(tmpl, '%'))
        return;
    hk_buf decoded = {0};
    for (const unsigned char *p = (const unsigned char *)form; *p; p++) {
        if (*p != '%') {
            hk_buf_append(&decoded, p, 1);
            continue;
        }
        int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
        HK_FUZZ_CHECK(hi >= 0 && lo >= 0, "'%%' not followed by two uppercase hex digits: %s",
                      (const char *)p);
        unsigned char c = (unsigned char)(hi * 16 + lo);
        HK_FUZZ_CHECK(!is_unreserved(c), "unreserved byte '%c' percent-encoded", c);
        hk_buf_append(&decoded, &c, 1);
        p += 2;
    }
    hk_buf_append(&decoded, "", 1);
    HK_FUZZ_CHECK(strcmp(decoded.data, raw) == 0, "form output decodes to something else");
    hk_buf_free(&decoded);
}

/* The limit: at the output's own length it comes back whole, one byte short it is refused; at
 * max it is refused exactly when longer. */
static void check_limit(const char *tmpl, const hk_event *ev, const hk_task *task, int attempt,
                        hk_render_form form, const char *full, size_t full_len, size_t max)
{
    size_t len = (size_t)-1;
    char *r = hk_render(tmpl, ev, task, attempt, form, full_len, &len);
    HK_FUZZ_CHECK(r && len == full_len && strcmp(r, full) == 0, "form %d refused at its length",
                  (int)form);
    free(r);
    if (full_len) {
        r = hk_render(tmpl, ev, task, attempt, form, full_len - 1, &len);
        HK_FUZZ_CHECK(r == NULL, "form %d: %zu bytes under a limit of %zu", (int)form, full_len,
                      full_len - 1);
    }
    len = (size_t)-1;
    r = hk_render(tmpl, ev, task, attempt, form, max, max & 1 ? NULL : &len);
    HK_FUZZ_CHECK((r == NULL) == (full_len > max), "form %d: %zu bytes, limit %zu, %s", (int)form,
                  full_len, max, r ? "rendered" : "refused");
    if (r) {
        HK_FUZZ_CHECK(strcmp(r, full) == 0, "form %d: limited output differs", (int)form);
        HK_FUZZ_CHECK((max & 1) || len == strlen(r), "form %d: *len %zu, strlen %zu", (int)form,
                      len, strlen(r));
    }
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_fuzz_fields ff;
    hk_fuzz_split(data, size, F_COUNT, &ff);

    /* The outputIds field split at every comma (empty ids kept); an empty field is no id. */
    char *ids_copy = hk_strdup(ff.f[F_OUTPUTS]);
    char *ids[MAX_IDS];
    size_t n_ids = 0;
    if (*ids_copy)
        for (char *p = ids_copy; p && n_ids < MAX_IDS;) {
            ids[n_ids++] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = '\0';
        }
    hk_buf joined = {0}, commas = {0};
    for (size_t i = 0; i < n_ids; i++) {
        if (i) {
            hk_buf_puts(&joined, ",");
            hk_buf_puts(&commas, ",");
        }
        hk_buf_puts(&joined, ids[i]);
    }
    char *outputs = hk_buf_take(&joined);
    char *empty_ids = hk_buf_take(&commas);

    const unsigned char *ctl = (const unsigned char *)ff.f[F_CONTROL];
    size_t ctl_len = ff.len[F_CONTROL];
    unsigned mode = ctl_len ? ctl[0] : 0;
    uint32_t attempt_bits = 0;
    for (size_t i = 1; i < 5 && i < ctl_len; i++)
        attempt_bits |= (uint32_t)ctl[i] << (8 * (i - 1));
    int attempt = (int)(int32_t)attempt_bits;
    uint64_t max_in = ctl_len > 5 ? hk_fuzz_u64(ff.f[F_CONTROL] + 5, ctl_len - 5) : 0;
    char attempt_text[16];
    snprintf(attempt_text, sizeof attempt_text, "%d", attempt);

    hk_event ev = {
        .event_id = "ev-1",
        .type = (char *)ff.f[F_TYPE],
        .job_id = (char *)ff.f[F_JOB_ID],
        .job_status = (char *)ff.f[F_STATUS],
        .flow_id = (char *)ff.f[F_FLOW_ID],
        .flow_name = (char *)ff.f[F_FLOW_NAME],
        .output_ids = ids,
        .output_ids_len = n_ids,
        .job_type = (char *)ff.f[F_JOB_TYPE],
        .finished_at = (char *)ff.f[F_FINISHED],
        .space_id = (char *)ff.f[F_FLOW_NAME], /* a fuzzed value; no field of its own */
    };
    hk_task task = {.id = "wh_fuzz", .name = (char *)ff.f[F_NAME]};
    const char *tmpl = ff.f[F_TMPL];

    const ref refs[N_REFS] = {
        {"jobId", ev.job_id},           {"jobStatus", ev.job_status},
        {"flowId", ev.flow_id},         {"flowName", ev.flow_name},
        {"jobType", ev.job_type},       {"eventType", ev.type},
        {"finishedAt", ev.finished_at}, {"webhookName", task.name},
        {"attempt", attempt_text},      [OUTPUTS] = {"outputIds", outputs},
        {"spaceId", ev.space_id},
    };
    ref blank[N_REFS];
    for (int i = 0; i < N_REFS; i++)
        blank[i] = (ref){refs[i].name, i == OUTPUTS ? empty_ids : ""};

    static const hk_render_form forms[4] = {HK_RENDER_RAW, HK_RENDER_JSON_ESCAPE, HK_RENDER_FORM,
                                            HK_RENDER_JSON};
    char *out[4];
    size_t len[4];
    for (int f = 0; f < 4; f++) {
        len[f] = (size_t)-1;
        out[f] = hk_render(tmpl, &ev, &task, attempt, forms[f], SIZE_MAX, &len[f]);
        HK_FUZZ_CHECK(out[f] != NULL, "form %d: NULL without a limit", f);
        HK_FUZZ_CHECK(len[f] == strlen(out[f]), "form %d: *len %zu, strlen %zu", f, len[f],
                      strlen(out[f]));
    }

    char *want = reference_render(tmpl, refs);
    HK_FUZZ_CHECK(strcmp(out[0], want) == 0, "rendering differs from the rule:\n%s\n%s", out[0],
                  want);
    check_json_escape(tmpl, out[1], out[0]);
    char *skeleton = reference_render(tmpl, blank);
    check_form(tmpl, out[2], out[0], skeleton);

    hk_kv form_type = {(char *)"content-type",
                       (char *)" Application/X-WWW-Form-Urlencoded; charset=utf-8"};
    HK_FUZZ_CHECK(hk_render_form_of(&form_type, 1, tmpl) == HK_RENDER_FORM,
                  "a form Content-Type is not FORM");
    if (hk_render_form_of(NULL, 0, tmpl) == HK_RENDER_JSON)
        check_json(tmpl, out[3], len[3], refs, ids, n_ids);

    for (int f = 0; f < 4; f++) {
        size_t max = (size_t)max_in;
        if ((unsigned)f == (mode & 3) && !(mode & 0x80))
            max = (size_t)(max_in % ((uint64_t)len[f] + 2));
        check_limit(tmpl, &ev, &task, attempt, forms[f], out[f], len[f], max);
    }

    for (int f = 0; f < 4; f++)
        free(out[f]);
    free(skeleton);
    free(want);
    free(empty_ids);
    free(outputs);
    free(ids_copy);
    hk_fuzz_fields_free(&ff);
    return 0;
}
