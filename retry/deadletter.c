/*
 * deadletter.c — the dead letter (a hookd.dlq record): built for a delivery that failed for good
 * or for an event refused as poison, with the consumed payload kept as text or base64, and
 * printed within a size limit by cutting what it carries. Its readers (hk_dead_letter_select,
 * hk_retry_record_replay) are in record.c next to the retry record they turn it into.
 */
#include "hk_retry.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

/* ----------------------------------------------------------------------------- building --- */

void hk_dead_letter_add_payload(cJSON *rec, const char *payload, size_t len)
{
    size_t n = len > HK_DEAD_LETTER_PAYLOAD_MAX ? HK_DEAD_LETTER_PAYLOAD_MAX : len;
    const unsigned char *p = (const unsigned char *)payload;
    while (n < len && n > 0 && (p[n] & 0xC0) == 0x80)
        n--; /* do not split a multi-byte character */
    cJSON_AddNumberToObject(rec, "payloadBytes", (double)len);
    if (n < len)
        cJSON_AddBoolToObject(rec, "payloadTruncated", 1);
    if (hk_utf8_valid(payload, n)) {
        char *text = hk_strndup(payload, n);
        cJSON_AddStringToObject(rec, "payload", text);
        free(text);
        return;
    }
    char *b64 = hk_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, p, (int)n);
    cJSON_AddStringToObject(rec, "payloadBase64", b64);
    free(b64);
}

cJSON *hk_dead_letter_delivery(const hk_delivery_ids *ids, int attempts, const char *reason,
                               const char *error, const char *event, size_t event_len,
                               const char *outcomes, int outcomes_omitted)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "kind", "delivery");
    cJSON_AddStringToObject(rec, "reason", reason);
    if (error && *error)
        cJSON_AddStringToObject(rec, "error", error);
    cJSON_AddStringToObject(rec, "deliveryId", ids->delivery_id);
    cJSON_AddStringToObject(rec, "webhookId", ids->webhook_id);
    cJSON_AddStringToObject(rec, "flowId", ids->flow_id);
    cJSON_AddStringToObject(rec, "jobId", ids->job_id);
    cJSON_AddStringToObject(rec, "eventId", ids->event_id);
    cJSON_AddNumberToObject(rec, "attempts", attempts);
    cJSON *parsed =
        event_len <= HK_DEAD_LETTER_PAYLOAD_MAX ? cJSON_ParseWithLength(event, event_len) : NULL;
    if (parsed)
        cJSON_AddItemToObject(rec, "event", parsed);
    else
        hk_dead_letter_add_payload(rec, event, event_len);
    cJSON *list = outcomes ? cJSON_Parse(outcomes) : NULL;
    cJSON_AddItemToObject(rec, "outcomes", list ? list : cJSON_CreateArray());
    if (outcomes_omitted > 0)
        cJSON_AddNumberToObject(rec, "outcomesOmitted", outcomes_omitted);
    return rec;
}

cJSON *hk_dead_letter_poison(const char *reason, const char *topic, int32_t partition,
                             int64_t offset, const char *payload, size_t len)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "kind", "poison");
    cJSON_AddStringToObject(rec, "reason", reason);
    cJSON_AddStringToObject(rec, "topic", topic);
    cJSON_AddNumberToObject(rec, "partition", partition);
    cJSON_AddNumberToObject(rec, "offset", (double)offset);
    hk_dead_letter_add_payload(rec, payload, len);
    return rec;
}

void hk_dead_letter_stamp(cJSON *rec, const char *group, uint64_t wall_ms)
{
    char ts[32];
    hk_format_time(wall_ms, ts);
    cJSON_AddStringToObject(rec, "deadAt", ts);
    cJSON_AddStringToObject(rec, "group", group);
}

/* ----------------------------------------------------------------------------- printing --- */

static char *print_len(const cJSON *rec, size_t *len)
{
    char *text = cJSON_PrintUnformatted(rec);
    *len = strlen(text);
    return text;
}

/* Sets rec[key] to true, adding it when missing. */
static void set_true(cJSON *rec, const char *key)
{
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, key))) {
        cJSON_DeleteItemFromObjectCaseSensitive(rec, key);
        cJSON_AddBoolToObject(rec, key, 1);
    }
}

/* Cuts s (NUL-terminated, owned by cJSON) to at most keep bytes in place, on a UTF-8 character
 * boundary (base64: on a 4-character boundary). */
static void cut_string(char *s, size_t keep, bool base64)
{
    size_t n = strlen(s);
    if (keep >= n)
        return;
    if (base64)
        keep -= keep % 4;
    else
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
            keep--;
    s[keep] = '\0';
}

#define DEAD_LETTER_STRING_MAX 256

int hk_dead_letter_print_within(cJSON *rec, size_t limit, char **out, size_t *len)
{
    size_t n;
    char *text = print_len(rec, &n);
    /* 1. the oldest outcomes */
    cJSON *outcomes = cJSON_GetObjectItemCaseSensitive(rec, "outcomes");
    while (n > limit && cJSON_IsArray(outcomes) && outcomes->child) {
        size_t excess = n - limit, freed = 0;
        int drop = 0;
        for (const cJSON *o = outcomes->child; o && freed < excess; o = o->next, drop++) {
            char *t = cJSON_PrintUnformatted(o);
            freed += strlen(t) + 1;
            free(t);
        }
        for (int i = 0; i < drop; i++)
            cJSON_DeleteItemFromArray(outcomes, 0);
        const cJSON *had = cJSON_GetObjectItemCaseSensitive(rec, "outcomesOmitted");
        double omitted = (cJSON_IsNumber(had) ? had->valuedouble : 0) + drop;
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "outcomesOmitted");
        cJSON_AddNumberToObject(rec, "outcomesOmitted", omitted);
        free(text);
        text = print_len(rec, &n);
    }
    /* 2. the event, as a payload that can be cut */
    cJSON *event = cJSON_GetObjectItemCaseSensitive(rec, "event");
    if (n > limit && event && !cJSON_IsString(event)) {
        char *ev = cJSON_PrintUnformatted(event);
        cJSON_DeleteItemFromObjectCaseSensitive(rec, "event");
        if (!cJSON_GetObjectItemCaseSensitive(rec, "payloadBytes"))
            cJSON_AddNumberToObject(rec, "payloadBytes", (double)strlen(ev));
        cJSON_AddStringToObject(rec, "payload", ev);
        free(ev);
        free(text);
        text = print_len(rec, &n);
    }
    /* 3. the payload: every byte cut takes at least one byte off the printed record */
    static const char *const payloads[] = {"payload", "payloadBase64"};
    for (size_t k = 0; k < 2; k++) {
        cJSON *p = cJSON_GetObjectItemCaseSensitive(rec, payloads[k]);
        while (n > limit && cJSON_IsString(p) && p->valuestring[0]) {
            size_t have = strlen(p->valuestring), excess = n - limit + 32;
            cut_string(p->valuestring, have > excess ? have - excess : 0, k == 1);
            set_true(rec, "payloadTruncated");
            free(text);
            text = print_len(rec, &n);
        }
    }
    /* 4. any long string left (ids, error, reason) */
    if (n > limit) {
        bool cut = false;
        for (cJSON *c = rec->child; c; c = c->next)
            if (cJSON_IsString(c) && strlen(c->valuestring) > DEAD_LETTER_STRING_MAX) {
                cut_string(c->valuestring, DEAD_LETTER_STRING_MAX, false);
                cut = true;
            }
        if (cut) {
            set_true(rec, "truncated");
            free(text);
            text = print_len(rec, &n);
        }
    }
    if (n > limit) {
        free(text);
        return HK_ELIMIT;
    }
    *out = text;
    *len = n;
    return HK_OK;
}
