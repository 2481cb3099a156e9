/*
 * record.c — the retry record: one delivery on its way to its next attempt, as published to a
 * tier topic, and the Retry-After rule. The record is JSON with "dueAt" first, so a tier's
 * consumer reads the due time with a short scan before deciding to parse anything.
 */
#include "hk_retry.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

static void put_str(hk_buf *b, const char *key, const char *value)
{
    hk_buf_printf(b, ",\"%s\":\"", key);
    hk_buf_json_escape(b, value, strlen(value));
    hk_buf_puts(b, "\"");
}

void hk_retry_record_write(hk_buf *b, const hk_retry_record *r)
{
    hk_buf_printf(b, "{\"dueAt\":%llu,\"group\":\"", (unsigned long long)r->due_ms);
    const char *group = r->group ? r->group : "";
    hk_buf_json_escape(b, group, strlen(group));
    hk_buf_puts(b, "\",\"kind\":\"retry\"");
    put_str(b, "deliveryId", r->delivery_id);
    put_str(b, "webhookId", r->webhook_id);
    put_str(b, "flowId", r->flow_id);
    put_str(b, "jobId", r->job_id);
    put_str(b, "eventId", r->event_id);
    hk_buf_printf(b, ",\"attempt\":%d,\"firstSeenAt\":%llu,\"deferred\":%s", r->attempt,
                  (unsigned long long)r->first_seen_ms, r->deferred ? "true" : "false");
    if (r->deferred)
        hk_buf_printf(b, ",\"deferrals\":%d", r->deferrals);
    hk_buf_puts(b, ",\"event\":");
    hk_buf_append(b, r->event_json, r->event_len);
    hk_buf_puts(b, ",\"outcomes\":");
    if (r->outcomes_json && *r->outcomes_json)
        hk_buf_puts(b, r->outcomes_json);
    else
        hk_buf_puts(b, "[]");
    hk_buf_puts(b, "}");
}

/* The record parsed, for a record not written by hk_retry_record_write (by hand, or by a tool
 * that spaces its JSON): NULL when it is not a JSON object. */
static cJSON *parse_head(const void *payload, size_t len)
{
    cJSON *root = payload ? cJSON_ParseWithLength(payload, len) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

uint64_t hk_retry_record_due(const void *payload, size_t len)
{
    static const char key[] = "{\"dueAt\":";
    const char *p = payload;
    if (p && len > sizeof key && memcmp(p, key, sizeof key - 1) == 0 &&
        isdigit((unsigned char)p[sizeof key - 1])) {
        uint64_t v = 0;
        for (size_t i = sizeof key - 1; i < len && isdigit((unsigned char)p[i]) && i < 40; i++)
            v = v * 10 + (uint64_t)(p[i] - '0');
        return v;
    }
    cJSON *root = parse_head(payload, len);
    const cJSON *due = cJSON_GetObjectItemCaseSensitive(root, "dueAt");
    uint64_t v = cJSON_IsNumber(due) && due->valuedouble > 0 ? (uint64_t)due->valuedouble : 0;
    cJSON_Delete(root);
    return v;
}

bool hk_retry_record_for_group(const void *payload, size_t len, const char *group)
{
    static const char head[] = "{\"dueAt\":", key[] = ",\"group\":\"";
    const char *p = payload;
    size_t i = sizeof head - 1, n = strlen(group);
    if (p && len > i && memcmp(p, head, i) == 0 && !strpbrk(group, "\"\\")) {
        while (i < len && isdigit((unsigned char)p[i]))
            i++;
        if (len - i >= sizeof key - 1 && memcmp(p + i, key, sizeof key - 1) == 0) {
            i += sizeof key - 1;
            /* Written by hk_retry_record_write: the bytes decide, unless the record's group
             * has an escape where ours would be. */
            if (len - i > n && memcmp(p + i, group, n) == 0 && p[i + n] == '"')
                return true;
            if (!memchr(p + i, '\\', len - i < n + 1 ? len - i : n + 1))
                return false;
        }
    }
    cJSON *root = parse_head(payload, len);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "group");
    bool ours = !cJSON_IsString(g) || strcmp(g->valuestring, group) == 0;
    cJSON_Delete(root);
    return ours; /* without a group (or unreadable): ours, for the parser to judge */
}

static int take_str(cJSON *root, const char *key, char **out, hk_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsString(v) || !*v->valuestring)
        return hk_error_set(err, HK_EINVAL, key, "missing or not a non-empty string");
    *out = hk_strdup(v->valuestring);
    return HK_OK;
}

static int take_num(cJSON *root, const char *key, double min, double *out, hk_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < min)
        return hk_error_set(err, HK_EINVAL, key, "missing or not a number >= %.0f", min);
    *out = v->valuedouble;
    return HK_OK;
}

int hk_retry_record_parse(const void *payload, size_t len, hk_retry_record *r, hk_error *err)
{
    memset(r, 0, sizeof *r);
    cJSON *root = cJSON_ParseWithLength(payload, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hk_error_set(err, HK_EINVAL, "record", "not a JSON object");
    }
    double due = 0, attempt = 0, first = 0;
    int rc = HK_OK;
    if ((rc = take_num(root, "dueAt", 0, &due, err)) != HK_OK ||
        (rc = take_str(root, "deliveryId", &r->delivery_id, err)) != HK_OK ||
        (rc = take_str(root, "webhookId", &r->webhook_id, err)) != HK_OK ||
        (rc = take_str(root, "flowId", &r->flow_id, err)) != HK_OK ||
        (rc = take_str(root, "jobId", &r->job_id, err)) != HK_OK ||
        (rc = take_str(root, "eventId", &r->event_id, err)) != HK_OK ||
        (rc = take_num(root, "attempt", 1, &attempt, err)) != HK_OK ||
        (rc = take_num(root, "firstSeenAt", 0, &first, err)) != HK_OK)
        goto done;
    r->due_ms = (uint64_t)due;
    r->attempt = attempt > 1000000 ? 1000000 : (int)attempt;
    r->first_seen_ms = (uint64_t)first;
    r->deferred = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "deferred"));
    const cJSON *group = cJSON_GetObjectItemCaseSensitive(root, "group");
    if (cJSON_IsString(group))
        r->group = hk_strdup(group->valuestring);
    const cJSON *deferrals = cJSON_GetObjectItemCaseSensitive(root, "deferrals");
    if (r->deferred)
        r->deferrals = cJSON_IsNumber(deferrals) && deferrals->valuedouble >= 1 &&
                               deferrals->valuedouble <= 1000000
                           ? (int)deferrals->valuedouble
                           : 1;
    cJSON *event = cJSON_GetObjectItemCaseSensitive(root, "event");
    if (!cJSON_IsObject(event)) {
        rc = hk_error_set(err, HK_EINVAL, "event", "missing or not an object");
        goto done;
    }
    r->event_json = cJSON_PrintUnformatted(event);
    r->event_len = strlen(r->event_json);
    cJSON *outcomes = cJSON_GetObjectItemCaseSensitive(root, "outcomes");
    r->outcomes_json = cJSON_IsArray(outcomes) ? cJSON_PrintUnformatted(outcomes) : hk_strdup("[]");
done:
    cJSON_Delete(root);
    if (rc != HK_OK)
        hk_retry_record_free(r);
    return rc;
}

void hk_retry_record_free(hk_retry_record *r)
{
    if (!r)
        return;
    free(r->group);
    free(r->delivery_id);
    free(r->webhook_id);
    free(r->flow_id);
    free(r->job_id);
    free(r->event_id);
    free(r->event_json);
    free(r->outcomes_json);
    memset(r, 0, sizeof *r);
}

bool hk_retry_after_ms(const char *value, uint64_t now_ms, uint64_t *out)
{
    if (!value)
        return false;
    while (*value == ' ')
        value++;
    if (isdigit((unsigned char)*value)) {
        char *end;
        unsigned long long s = strtoull(value, &end, 10);
        while (*end == ' ')
            end++;
        if (*end || s > 100ULL * 365 * 86400)
            return false;
        *out = s * 1000;
        return true;
    }
    /* An HTTP date (RFC 9110 IMF-fixdate): "Sun, 06 Nov 1994 08:49:37 GMT" */
    struct tm tm = {0};
    const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return false;
    time_t t = timegm(&tm);
    if (t < 0)
        return false;
    uint64_t at = (uint64_t)t * 1000;
    *out = at > now_ms ? at - now_ms : 0;
    return true;
}

uint64_t hk_retry_delay_ms(const hk_retry_policy *policy, size_t tier, long http_status,
                           const char *retry_after, uint64_t now_ms)
{
    uint64_t delay = policy->delays_ms[tier];
    uint64_t cap = policy->delays_ms[policy->tiers - 1], asked;
    if ((http_status == 429 || http_status == 503) &&
        hk_retry_after_ms(retry_after, now_ms, &asked)) {
        if (asked > cap)
            asked = cap;
        if (asked > delay)
            delay = asked; /* later, never earlier */
    }
    return delay;
}

/* ------------------------------------------------------------------ dead-letter replay --- */

int hk_dead_letter_select(const void *value, size_t len, const hk_dead_letter_filter *f,
                          cJSON **out, hk_error *err)
{
    *out = NULL;
    cJSON *rec = parse_head(value, len);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(rec, "kind");
    if (!cJSON_IsString(kind)) {
        cJSON_Delete(rec);
        return hk_error_set(err, HK_EINVAL, "kind", "not a dead letter");
    }
    const cJSON *group = cJSON_GetObjectItemCaseSensitive(rec, "group");
    const cJSON *webhook = cJSON_GetObjectItemCaseSensitive(rec, "webhookId");
    const cJSON *dead_at = cJSON_GetObjectItemCaseSensitive(rec, "deadAt");
    uint64_t at = 0;
    bool selected =
        (!f->group || !cJSON_IsString(group) || strcmp(group->valuestring, f->group) == 0) &&
        (!f->webhook_id ||
         (cJSON_IsString(webhook) && strcmp(webhook->valuestring, f->webhook_id) == 0)) &&
        (!f->since_ms || (cJSON_IsString(dead_at) && hk_parse_time(dead_at->valuestring, &at) &&
                          at >= f->since_ms));
    if (!selected) {
        cJSON_Delete(rec);
        return HK_ENOTFOUND;
    }
    *out = rec;
    return HK_OK;
}

static const char *get_str(const cJSON *rec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

int hk_retry_record_replay(const cJSON *dl, const char *group, uint64_t now_ms, hk_buf *out,
                           hk_error *err)
{
    const char *kind = get_str(dl, "kind");
    if (!kind || strcmp(kind, "delivery") != 0)
        return hk_error_set(err, HK_EINVAL, "kind",
                            "a %s record, not a delivery: there is no task to send it to",
                            kind ? kind : "kindless");
    static const char *const keys[] = {"deliveryId", "webhookId", "flowId", "jobId", "eventId"};
    const char *v[5];
    for (size_t i = 0; i < 5; i++)
        if (!(v[i] = get_str(dl, keys[i])))
            return hk_error_set(err, HK_EINVAL, keys[i], "missing or not a non-empty string");
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(dl, "event");
    if (!cJSON_IsObject(event))
        return hk_error_set(err, HK_EINVAL, "event",
                            "kept only as a payload (too big or not JSON): it cannot be sent");
    char *event_json = cJSON_PrintUnformatted(event);
    hk_retry_record r = {
        .group = (char *)group,
        .delivery_id = (char *)v[0],
        .webhook_id = (char *)v[1],
        .flow_id = (char *)v[2],
        .job_id = (char *)v[3],
        .event_id = (char *)v[4],
        .attempt = 1,
        .due_ms = now_ms,
        .first_seen_ms = now_ms,
        .event_json = event_json,
        .event_len = strlen(event_json),
        .outcomes_json = "[]",
    };
    hk_retry_record_write(out, &r);
    free(event_json);
    return HK_OK;
}
