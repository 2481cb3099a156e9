/*
 * deliveries.c — the delivery index: what a resend needs to find a delivery (its job, event
 * and task, its last attempt) and the event as consumed. The history writer (history.c) adds,
 * in one variadic HSET per batch into the hash of the current UTC hour, each consumed message's
 * event and an entry for each attempt that failed; hk_store_delivery_find looks through the
 * hours the history is kept, newest first, then in the job's history. A delivery delivered at
 * once has no entry (it is found with its job): entries cost Redis work per delivery, events
 * per message (decision 60). Hourly hashes keep each key small, so one expiring frees little.
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

/* Appends bytes to text as one piece. */
static void piece(hk_buf *text, hk_store__piece *out, size_t *n, const char *a, size_t alen,
                  const char *b, size_t blen)
{
    out[*n] = (hk_store__piece){.off = text->len, .len = alen + blen};
    hk_buf_append(text, a, alen);
    hk_buf_append(text, b, blen);
    (*n)++;
}

void hk_store__index_entry(const hk_store_history_ref *ref, hk_buf *text, hk_store__piece *out,
                           size_t *n)
{
    if (!ref->index)
        goto event;
    piece(text, out, n, "d:", 2, ref->delivery_id, strlen(ref->delivery_id));
    char head[16];
    int hl = snprintf(head, sizeof head, "%d\n", ref->attempt);
    size_t start = text->len;
    hk_buf_append(text, head, (size_t)hl);
    hk_buf_puts(text, ref->webhook_id);
    hk_buf_append(text, "\n", 1);
    hk_buf_puts(text, ref->event_id);
    hk_buf_append(text, "\n", 1);
    hk_buf_puts(text, ref->job_id);
    out[(*n)++] = (hk_store__piece){.off = start, .len = text->len - start};
event:
    if (ref->event && ref->event_len <= HK_STORE_EVENT_KEEP_MAX) {
        piece(text, out, n, "e:", 2, ref->event_id, strlen(ref->event_id));
        out[(*n)++] = (hk_store__piece){.ext = ref->event, .len = ref->event_len};
    }
}

void hk_store__index_argv(const hk_buf *text, const hk_store__piece *pieces, size_t n,
                          const char **argv, size_t *argvlen)
{
    for (size_t i = 0; i < n; i++) {
        argv[i] = pieces[i].ext ? pieces[i].ext : text->data + pieces[i].off;
        argvlen[i] = pieces[i].len;
    }
}

static char *tagged(const char *tag, const char *id)
{
    size_t n = strlen(id);
    char *f = hk_xmalloc(n + 3);
    memcpy(f, tag, 2);
    memcpy(f + 2, id, n + 1);
    return f;
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

/* The index entry "<attempt>\n<webhookId>\n<eventId>\n<jobId>" into out. */
static bool read_entry(const char *value, size_t len, hk_store_delivery *out)
{
    char *parts[4] = {0};
    char *text = hk_strndup(value, len), *save = NULL;
    char *tok = strtok_r(text, "\n", &save);
    for (int i = 0; i < 4 && tok; i++, tok = strtok_r(NULL, "\n", &save))
        parts[i] = tok;
    bool ok = parts[3] && atoi(parts[0]) > 0;
    if (ok) {
        out->attempt = atoi(parts[0]);
        out->webhook_id = hk_strdup(parts[1]);
        out->event_id = hk_strdup(parts[2]);
        out->job_id = hk_strdup(parts[3]);
    }
    free(text);
    return ok;
}

/* The delivery's records in the job's history: its task and event from the newest, and its
 * last attempt (the entry's, or a later one recorded since). False when none is there. */
static int from_job(hk_store *s, const char *delivery_id, hk_store_delivery *out, bool *found,
                    hk_error *err)
{
    cJSON *arr = NULL;
    *found = false;
    int rc = hk_store_history_get(s, out->job_id, &arr, err);
    if (rc != HK_OK)
        return rc;
    const cJSON *rec;
    cJSON_ArrayForEach(rec, arr)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "deliveryId"));
        const char *wh = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "webhookId"));
        const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "eventId"));
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(rec, "attempt");
        if (!id || strcmp(id, delivery_id) != 0 || !wh || !ev || !cJSON_IsNumber(n))
            continue;
        if (!*found && !out->webhook_id) { /* newest first */
            out->webhook_id = hk_strdup(wh);
            out->event_id = hk_strdup(ev);
        }
        *found = true;
        if (n->valueint > out->attempt)
            out->attempt = n->valueint;
    }
    cJSON_Delete(arr);
    return HK_OK;
}

int hk_store_delivery_find(hk_store *s, const char *delivery_id, const char *job_id,
                           hk_store_delivery *out, hk_error *err)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (job_id) {
        out->job_id = hk_strdup(job_id);
    } else {
        char *f = tagged("d:", delivery_id);
        redisReply *r = NULL;
        rc = newest(s, f, &r, err);
        free(f);
        if (rc != HK_OK)
            return rc;
        bool ok = r && read_entry(r->str, r->len, out);
        if (r)
            freeReplyObject(r);
        if (!ok)
            return hk_error_set(err, HK_ENOTFOUND, "deliveryId",
                                "no failed delivery %s in the history (kept %d days); one "
                                "delivered at once is found with its job (jobId, --job)",
                                delivery_id, HK_STORE_HISTORY_TTL_S / 86400);
    }
    bool in_job = false;
    if ((rc = from_job(s, delivery_id, out, &in_job, err)) != HK_OK) {
        hk_store_delivery_free(out);
        return rc;
    }
    if (!in_job && !out->webhook_id) {
        rc = hk_error_set(err, HK_ENOTFOUND, "deliveryId", "no delivery %s in job %s's history",
                          delivery_id, out->job_id);
        hk_store_delivery_free(out);
        return rc;
    }
    char *f = tagged("e:", out->event_id);
    redisReply *r = NULL;
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
    hk_buf text = {0};
    hk_store__piece pieces[4];
    size_t n = 0;
    hk_store__index_entry(ref, &text, pieces, &n);
    const char *argv[6] = {"HSET", index};
    size_t argvlen[6] = {4, strlen(index)};
    hk_store__index_argv(&text, pieces, n, argv + 2, argvlen + 2);
    redisAppendCommand(s->rc, "LPUSH %s %s", list, record_json);
    redisAppendCommand(s->rc, "LTRIM %s 0 %d", list, HK_STORE_HISTORY_CAP - 1);
    redisAppendCommand(s->rc, "EXPIRE %s %d", list, HK_STORE_HISTORY_TTL_S);
    redisAppendCommandArgv(s->rc, (int)(2 + n), argv, argvlen);
    redisAppendCommand(s->rc, "EXPIRE %s %d", index, HK_STORE_HISTORY_TTL_S);
    hk_buf_free(&text);
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
