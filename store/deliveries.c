/*
 * deliveries.c — the delivery index: what a resend needs to find a delivery by its id alone
 * (its job, event and task, its last attempt, and the event as consumed). The history writer
 * (history.c) adds an entry with every attempt record, in one variadic HSET per batch into the
 * hash of the current UTC hour; hk_store_delivery_find looks through the hours the history is
 * kept, newest first. Hourly hashes keep each key small, so one expiring frees little at a time
 * (decision 60).
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INDEX_HOURS (HK_STORE_HISTORY_TTL_S / 3600 + 1)

char *hk_store__index_key(const hk_store__cfg *c, uint64_t wall_ms)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char hour[16];
    strftime(hour, sizeof hour, "%Y%m%d%H", &tm);
    return hk_store__key(c, "history:", hour, "");
}

static char *field(const char *tag, const char *id)
{
    size_t n = strlen(id);
    char *f = hk_xmalloc(n + 3);
    memcpy(f, tag, 2);
    memcpy(f + 2, id, n + 1);
    return f;
}

void hk_store__index_fields(const hk_store_history_ref *ref, char **argv, size_t *argvlen,
                            int *argc)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "jobId", ref->job_id);
    cJSON_AddStringToObject(o, "eventId", ref->event_id);
    cJSON_AddStringToObject(o, "webhookId", ref->webhook_id);
    cJSON_AddNumberToObject(o, "attempt", ref->attempt);
    argv[*argc] = field("d:", ref->delivery_id);
    argvlen[*argc] = strlen(argv[*argc]);
    (*argc)++;
    argv[*argc] = cJSON_PrintUnformatted(o);
    argvlen[*argc] = strlen(argv[*argc]);
    (*argc)++;
    cJSON_Delete(o);
    if (ref->event && ref->event_len <= HK_STORE_EVENT_KEEP_MAX) {
        argv[*argc] = field("e:", ref->event_id);
        argvlen[*argc] = strlen(argv[*argc]);
        (*argc)++;
        argv[*argc] = hk_xmalloc(ref->event_len + 1);
        memcpy(argv[*argc], ref->event, ref->event_len);
        argv[*argc][ref->event_len] = '\0';
        argvlen[*argc] = ref->event_len;
        (*argc)++;
    }
}

/* HGETs field from every hour's hash, newest first, pipelined; the first found (a bulk string,
 * the caller's) or NULL. HK_ERR on a connection failure. */
static int newest(hk_store *s, const char *f, redisReply **found, hk_error *err)
{
    *found = NULL;
    uint64_t now = hk_wall_ms();
    for (int h = 0; h < INDEX_HOURS; h++) {
        char *key = hk_store__index_key(&s->cfg, now - (uint64_t)h * 3600 * 1000);
        redisAppendCommand(s->rc, "HGET %s %s", key, f);
        free(key);
    }
    int rc = HK_OK;
    for (int h = 0; h < INDEX_HOURS; h++) {
        redisReply *r = NULL;
        if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || !r) {
            return hk_store__failed(s, NULL, err); /* the connection is reset: nothing to drain */
        }
        if (r->type == REDIS_REPLY_STRING && !*found && rc == HK_OK) {
            *found = r;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR && rc == HK_OK)
            rc = hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "Redis refused HGET: %s", r->str);
        freeReplyObject(r);
    }
    if (rc != HK_OK && *found) {
        freeReplyObject(*found);
        *found = NULL;
    }
    return rc;
}

static char *json_str(const cJSON *o, const char *key)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return v ? hk_strdup(v) : NULL;
}

int hk_store_delivery_find(hk_store *s, const char *delivery_id, hk_store_delivery *out,
                           hk_error *err)
{
    memset(out, 0, sizeof *out);
    char *f = field("d:", delivery_id);
    redisReply *r = NULL;
    int rc = newest(s, f, &r, err);
    free(f);
    if (rc != HK_OK)
        return rc;
    if (!r)
        return hk_error_set(err, HK_ENOTFOUND, "deliveryId",
                            "no delivery %s in the history (kept %d days)", delivery_id,
                            HK_STORE_HISTORY_TTL_S / 86400);
    cJSON *o = cJSON_ParseWithLength(r->str, r->len);
    freeReplyObject(r);
    const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(o, "attempt");
    out->job_id = json_str(o, "jobId");
    out->event_id = json_str(o, "eventId");
    out->webhook_id = json_str(o, "webhookId");
    out->attempt = cJSON_IsNumber(attempt) ? attempt->valueint : 0;
    cJSON_Delete(o);
    if (!out->job_id || !out->event_id || !out->webhook_id || out->attempt < 1) {
        hk_store_delivery_free(out);
        return hk_error_set(err, HK_ERR, "deliveryId", "the index entry of %s is not readable",
                            delivery_id);
    }
    f = field("e:", out->event_id);
    rc = newest(s, f, &r, err);
    free(f);
    if (rc != HK_OK) {
        hk_store_delivery_free(out);
        return rc;
    }
    if (r) {
        out->event = hk_xmalloc(r->len + 1);
        memcpy(out->event, r->str, r->len);
        out->event[r->len] = '\0';
        out->event_len = r->len;
        freeReplyObject(r);
    }
    return HK_OK;
}

void hk_store_delivery_free(hk_store_delivery *d)
{
    free(d->job_id);
    free(d->event_id);
    free(d->webhook_id);
    free(d->event);
    memset(d, 0, sizeof *d);
}

int hk_store_history_write(hk_store *s, const hk_store_history_ref *ref, const char *record_json,
                           hk_error *err)
{
    char *list = hk_store__key(&s->cfg, "job:", ref->job_id, ":deliveries");
    char *index = hk_store__index_key(&s->cfg, hk_wall_ms());
    char *argv[6] = {"HSET", index};
    size_t argvlen[6] = {4, strlen(index)};
    int argc = 2;
    hk_store__index_fields(ref, argv, argvlen, &argc);
    redisAppendCommand(s->rc, "LPUSH %s %s", list, record_json);
    redisAppendCommand(s->rc, "LTRIM %s 0 %d", list, HK_STORE_HISTORY_CAP - 1);
    redisAppendCommand(s->rc, "EXPIRE %s %d", list, HK_STORE_HISTORY_TTL_S);
    redisAppendCommandArgv(s->rc, argc, (const char **)argv, argvlen);
    redisAppendCommand(s->rc, "EXPIRE %s %d", index, HK_STORE_HISTORY_TTL_S);
    for (int i = 2; i < argc; i++)
        free(argv[i]);
    free(list);
    free(index);
    int rc = HK_OK;
    for (int c = 0; c < 5; c++) {
        redisReply *r = NULL;
        if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || !r)
            return hk_store__failed(s, NULL, err);
        if (r->type == REDIS_REPLY_ERROR && rc == HK_OK)
            rc = hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "Redis refused the history write: %s",
                              r->str);
        freeReplyObject(r);
    }
    return rc;
}
