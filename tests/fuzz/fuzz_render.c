/*
 * fuzz_render.c — the body renderer (hk_render): a fuzzed template and fuzzed event values.
 * Input: NUL-separated fields
 *   template \0 jobId \0 jobStatus \0 flowId \0 flowName \0 jobType \0 eventType \0 finishedAt
 *   \0 webhookName \0 outputIds (comma-separated) \0 attempt (its first bytes, as a number)
 * Checked: the plain rendering against a small reference implementation of the rule in
 * hk_delivery.h; the JSON-escaped rendering, quoted, parses as a JSON string whose value is the
 * plain rendering (whenever the template itself needs no escaping); and the growth bound.
 */
#include <cjson/cJSON.h>
#include <ctype.h>

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
    F_ATTEMPT,
    F_COUNT
};

/* The rule, written out plainly: '$' + [A-Za-z_][A-Za-z0-9_]* is a reference; a known one is
 * replaced by its value, anything else is copied as written. */
typedef struct ref {
    const char *name;
    const char *value;
} ref;

static char *reference_render(const char *tmpl, const ref *refs, size_t n)
{
    hk_buf out = {0};
    for (const char *p = tmpl; *p;) {
        if (p[0] == '$' && (isalpha((unsigned char)p[1]) || p[1] == '_')) {
            const char *end = p + 1;
            while (isalnum((unsigned char)*end) || *end == '_')
                end++;
            size_t len = (size_t)(end - p - 1);
            const char *v = NULL;
            for (size_t i = 0; i < n && !v; i++)
                if (strlen(refs[i].name) == len && memcmp(refs[i].name, p + 1, len) == 0)
                    v = refs[i].value;
            if (v)
                hk_buf_puts(&out, v);
            else
                hk_buf_append(&out, p, (size_t)(end - p));
            p = end;
        } else {
            hk_buf_append(&out, p, 1);
            p++;
        }
    }
    return hk_buf_take(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hk_fuzz_fields ff;
    hk_fuzz_split(data, size, F_COUNT, &ff);

    /* The outputIds field, split at commas (an empty one is no output). */
    char *ids_copy = hk_strdup(ff.f[F_OUTPUTS]);
    char *ids[64];
    size_t n_ids = 0;
    if (*ids_copy) {
        char *save = NULL;
        for (char *tok = strtok_r(ids_copy, ",", &save); tok && n_ids < 64;
             tok = strtok_r(NULL, ",", &save))
            ids[n_ids++] = tok;
    }
    hk_buf joined = {0};
    for (size_t i = 0; i < n_ids; i++) {
        if (i)
            hk_buf_puts(&joined, ",");
        hk_buf_puts(&joined, ids[i]);
    }
    char *outputs = hk_buf_take(&joined);

    int attempt = (int)(hk_fuzz_u64(ff.f[F_ATTEMPT], ff.len[F_ATTEMPT]) & 0x7fffffff);
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
    };
    hk_task task = {.id = "wh_fuzz", .name = (char *)ff.f[F_NAME]};
    const char *tmpl = ff.f[F_TMPL];

    char *plain = hk_render(tmpl, &ev, &task, attempt, false);
    char *escaped = hk_render(tmpl, &ev, &task, attempt, true);
    HK_FUZZ_CHECK(plain && escaped, "NULL rendering");

    const ref refs[] = {
        {"jobId", ev.job_id},           {"jobStatus", ev.job_status}, {"flowId", ev.flow_id},
        {"flowName", ev.flow_name},     {"jobType", ev.job_type},     {"eventType", ev.type},
        {"finishedAt", ev.finished_at}, {"webhookName", task.name},   {"outputIds", outputs},
        {"attempt", attempt_text},
    };
    char *want = reference_render(tmpl, refs, sizeof refs / sizeof refs[0]);
    HK_FUZZ_CHECK(strcmp(plain, want) == 0, "rendering differs from the rule:\n%s\n%s", plain,
                  want);

    /* Growth: each reference adds at most its longest value, six times over when escaped
     * (\u00XX per byte). */
    size_t longest =
        strlen(outputs) > strlen(attempt_text) ? strlen(outputs) : strlen(attempt_text);
    for (size_t i = F_JOB_ID; i <= F_NAME; i++)
        if (ff.len[i] > longest)
            longest = ff.len[i];
    size_t dollars = 0;
    for (const char *p = tmpl; (p = strchr(p, '$')); p++)
        dollars++;
    HK_FUZZ_CHECK(strlen(plain) <= strlen(tmpl) + dollars * longest, "plain rendering too long");
    HK_FUZZ_CHECK(strlen(escaped) <= strlen(tmpl) + dollars * longest * 6,
                  "escaped rendering too long");

    /* Escaping: where the template needs none itself, the escaped rendering is the body of a
     * JSON string whose value is the plain rendering. */
    bool tmpl_plain = true;
    for (const unsigned char *p = (const unsigned char *)tmpl; *p && tmpl_plain; p++)
        tmpl_plain = *p >= 0x20 && *p != '"' && *p != '\\';
    if (tmpl_plain) {
        hk_buf quoted = {0};
        hk_buf_puts(&quoted, "\"");
        hk_buf_puts(&quoted, escaped);
        hk_buf_puts(&quoted, "\"");
        cJSON *j = cJSON_ParseWithLength(quoted.data, quoted.len);
        HK_FUZZ_CHECK(cJSON_IsString(j), "escaped rendering is not a JSON string body: %s",
                      quoted.data);
        HK_FUZZ_CHECK(strcmp(j->valuestring, plain) == 0,
                      "escaped rendering decodes to something else");
        cJSON_Delete(j);
        hk_buf_free(&quoted);
    }

    free(want);
    free(escaped);
    free(plain);
    free(outputs);
    free(ids_copy);
    hk_fuzz_fields_free(&ff);
    return 0;
}
