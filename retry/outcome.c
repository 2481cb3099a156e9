/*
 * outcome.c — the outcome record: one attempt's result as published to hookd.deliveries and
 * kept in the job's history in Redis, and its reader (hookctl deliveries reads it back from
 * there). The writer runs once per delivery, so it formats straight into a buffer rather than
 * building a cJSON tree or going through printf.
 */
#include "hk_retry.h"

#include <string.h>

/* Appends n in decimal. */
static void put_uint(hk_buf *b, unsigned long long n)
{
    char digits[24];
    size_t i = sizeof digits;
    do
        digits[--i] = (char)('0' + n % 10);
    while (n /= 10);
    hk_buf_append(b, digits + i, sizeof digits - i);
}

void hk_outcome_write(hk_buf *b, const hk_outcome *o)
{
    char ts[32];
    hk_format_time(o->at_ms, ts);
    static const char *const keys[] = {"{\"deliveryId\":\"", "\",\"webhookId\":\"",
                                       "\",\"flowId\":\"", "\",\"jobId\":\"", "\",\"eventId\":\""};
    const char *values[] = {o->ids.delivery_id, o->ids.webhook_id, o->ids.flow_id, o->ids.job_id,
                            o->ids.event_id};
    for (size_t i = 0; i < 5; i++) {
        hk_buf_puts(b, keys[i]);
        hk_buf_json_escape(b, values[i], strlen(values[i]));
    }
    hk_buf_puts(b, "\",\"attempt\":");
    put_uint(b, (unsigned)o->attempt);
    hk_buf_puts(b, o->delivered ? ",\"status\":\"delivered\",\"statusCode\":"
                                : ",\"status\":\"failed\",\"statusCode\":");
    if (o->http_status > 0)
        put_uint(b, (unsigned long)o->http_status);
    else
        hk_buf_puts(b, "null");
    if (o->error && o->error[0]) {
        hk_buf_puts(b, ",\"error\":\"");
        hk_buf_json_escape(b, o->error, strlen(o->error));
        hk_buf_puts(b, "\"");
    }
    if (o->warning && o->warning[0]) {
        hk_buf_puts(b, ",\"warning\":\"");
        hk_buf_json_escape(b, o->warning, strlen(o->warning));
        hk_buf_puts(b, "\"");
    }
    hk_buf_puts(b, ",\"latencyMs\":");
    put_uint(b, o->latency_ms);
    hk_buf_puts(b, ",\"at\":\"");
    hk_buf_puts(b, ts);
    hk_buf_puts(b, "\"}");
}

static const char *str(const cJSON *rec, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, key));
}

static double num(const cJSON *rec, const char *key)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(rec, key);
    return cJSON_IsNumber(n) ? n->valuedouble : -1;
}

void hk_outcome_read(const cJSON *rec, hk_outcome_view *out)
{
    *out = (hk_outcome_view){
        .at = str(rec, "at"),
        .webhook_id = str(rec, "webhookId"),
        .delivery_id = str(rec, "deliveryId"),
        .status = str(rec, "status"),
        .error = str(rec, "error"),
        .attempt = (int)num(rec, "attempt"),
        .http_status = (long)num(rec, "statusCode"),
        .latency_ms = num(rec, "latencyMs"),
    };
}
