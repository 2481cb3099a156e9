/*
 * record.c — the retry record: one delivery on its way to its next attempt, as published to a
 * tier topic, and the Retry-After parser (the rule using it is in policy.c). The record is JSON
 * with "dueAt" first, so a tier's consumer reads the due time with a short scan before deciding
 * to parse anything.
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
    if (r->outcomes_omitted > 0)
        hk_buf_printf(b, ",\"outcomesOmitted\":%d", r->outcomes_omitted);
    hk_buf_puts(b, ",\"event\":");
    hk_buf_append(b, r->event_json, r->event_len);
    hk_buf_puts(b, ",\"outcomes\":");
    if (r->outcomes_json && *r->outcomes_json)
        hk_buf_puts(b, r->outcomes_json);
    else
        hk_buf_puts(b, "[]");
    hk_buf_puts(b, "}");
}

/* The record's bytes but for the event and the outcomes. */
static size_t envelope_size(const hk_retry_record *r)
{
    hk_retry_record head = *r;
    head.event_json = "";
    head.event_len = 0;
    head.outcomes_json = "";
    hk_buf b = {0};
    hk_retry_record_write(&b, &head);
    size_t n = b.len - 2; /* the "[]" written for no outcomes */
    hk_buf_free(&b);
    return n;
}

static size_t outcomes_size(const char *outcomes)
{
    return outcomes && *outcomes ? strlen(outcomes) : 2;
}

size_t hk_retry_record_size(const hk_retry_record *r)
{
    return envelope_size(r) + r->event_len + outcomes_size(r->outcomes_json);
}

int hk_retry_record_write_within(hk_buf *out, const hk_retry_record *r, size_t limit, hk_error *err)
{
    size_t full = hk_retry_record_size(r);
    if (full <= limit) {
        hk_retry_record_write(out, r);
        return HK_OK;
    }
    cJSON *arr = r->outcomes_json ? cJSON_Parse(r->outcomes_json) : NULL;
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    char **item = hk_xcalloc((size_t)n + 1, sizeof *item);
    size_t *item_len = hk_xcalloc((size_t)n + 1, sizeof *item_len);
    int i = 0;
    for (const cJSON *o = arr ? arr->child : NULL; o && i < n; o = o->next, i++) {
        item[i] = cJSON_PrintUnformatted(o);
        item_len[i] = strlen(item[i]);
    }
    cJSON_Delete(arr);
    hk_retry_record cut = *r;
    cut.outcomes_json = "[]";
    cut.outcomes_omitted = r->outcomes_omitted + n;
    size_t smallest = hk_retry_record_size(&cut);
    int rc = HK_OK;
    if (smallest > limit) {
        rc = hk_error_set(err, HK_ELIMIT, "record",
                          "a retry record of %zu bytes (%zu without any outcome) passes the "
                          "%zu-byte limit",
                          full, smallest, limit);
        goto done;
    }
    /* Keep the newest k outcomes that fit, k from all-but-one down to none. */
    int keep = 0;
    size_t kept_bytes = 0;
    for (int k = 1; k < n; k++) {
        size_t bytes = kept_bytes + item_len[n - k] + (k > 1 ? 1 : 0);
        cut.outcomes_omitted = r->outcomes_omitted + (n - k);
        if (envelope_size(&cut) + r->event_len + 2 + bytes > limit)
            break;
        keep = k;
        kept_bytes = bytes;
    }
    hk_buf text = {0};
    hk_buf_puts(&text, "[");
    for (int k = n - keep; k < n; k++) {
        if (k > n - keep)
            hk_buf_puts(&text, ",");
        hk_buf_append(&text, item[k], item_len[k]);
    }
    hk_buf_puts(&text, "]");
    cut.outcomes_json = text.data;
    cut.outcomes_omitted = r->outcomes_omitted + (n - keep);
    hk_retry_record_write(out, &cut);
    hk_buf_free(&text);
done:
    for (i = 0; i < n; i++)
        free(item[i]);
    free(item);
    free(item_len);
    return rc;
}

size_t hk_retry_record_min_size(const char *group, const char *flow_id, const char *job_id,
                                const char *event_id, size_t event_len)
{
    /* model/task.c: a task id is "wh_" and at most 67 bytes; a delivery id is 30 */
    char webhook[68], delivery[31];
    memset(webhook, 'w', sizeof webhook - 1);
    webhook[sizeof webhook - 1] = '\0';
    memset(delivery, 'd', sizeof delivery - 1);
    delivery[sizeof delivery - 1] = '\0';
    hk_retry_record r = {
        .group = (char *)group,
        .delivery_id = delivery,
        .webhook_id = webhook,
        .flow_id = (char *)flow_id,
        .job_id = (char *)job_id,
        .event_id = (char *)event_id,
        .attempt = 1000000, /* the parser's cap */
        .due_ms = UINT64_MAX,
        .first_seen_ms = UINT64_MAX,
        .deferred = true,
        .deferrals = 1000000,
        .event_len = event_len,
        .outcomes_json = "[]",
        .outcomes_omitted = 1000000,
    };
    return hk_retry_record_size(&r);
}

/* Past this a double no longer holds every whole number, and a cast to uint64_t may be
 * undefined: times in ms are far below it (year 285,000). */
#define NUM_MAX 9007199254740991.0 /* 2^53 - 1 */

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
    size_t digits = 0;
    if (p && len > sizeof key && memcmp(p, key, sizeof key - 1) == 0)
        while (sizeof key - 1 + digits < len && isdigit((unsigned char)p[sizeof key - 1 + digits]))
            digits++;
    /* The written form: 15 digits at most are exact in a double too, so this agrees with the
     * parse (longer ones take the slow path and its range check). */
    if (digits > 0 && digits <= 15) {
        uint64_t v = 0;
        for (size_t i = 0; i < digits; i++)
            v = v * 10 + (uint64_t)(p[sizeof key - 1 + i] - '0');
        return v;
    }
    cJSON *root = parse_head(payload, len);
    const cJSON *due = cJSON_GetObjectItemCaseSensitive(root, "dueAt");
    /* Out of range: 0 (due now), and the parse refuses the record as bad. */
    uint64_t v = cJSON_IsNumber(due) && due->valuedouble > 0 && due->valuedouble <= NUM_MAX
                     ? (uint64_t)due->valuedouble
                     : 0;
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
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= NUM_MAX))
        return hk_error_set(err, HK_EINVAL, key, "missing or not a number from %.0f to 2^53 - 1",
                            min);
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
    const cJSON *omitted = cJSON_GetObjectItemCaseSensitive(root, "outcomesOmitted");
    if (cJSON_IsNumber(omitted) && omitted->valuedouble >= 1)
        r->outcomes_omitted = omitted->valuedouble > 1000000 ? 1000000 : (int)omitted->valuedouble;
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
    const cJSON *delivery = cJSON_GetObjectItemCaseSensitive(rec, "deliveryId");
    bool listed = !f->delivery_ids;
    for (size_t i = 0; !listed && cJSON_IsString(delivery) && i < f->delivery_ids_len; i++)
        listed = strcmp(delivery->valuestring, f->delivery_ids[i]) == 0;
    uint64_t at = 0;
    bool selected =
        listed &&
        (!f->group || !cJSON_IsString(group) || strcmp(group->valuestring, f->group) == 0) &&
        (!f->webhook_id ||
         (cJSON_IsString(webhook) && strcmp(webhook->valuestring, f->webhook_id) == 0)) &&
        (!f->since_ms || (cJSON_IsString(dead_at) && hk_parse_time(dead_at->valuestring, &at) &&
                          at >= f->since_ms)) &&
        (!f->until_ms || (cJSON_IsString(dead_at) && hk_parse_time(dead_at->valuestring, &at) &&
                          at <= f->until_ms));
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
