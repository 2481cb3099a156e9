/*
 * event.c — job events as the job platform publishes them (contract, "Job event"). Anything
 * refused here is a poison message: the worker dead-letters it with err.msg as the reason.
 */
#include "hk_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A string hookd reads must be UTF-8 text: it reaches receivers in bodies, headers and URLs.
 * cJSON copies a string's bytes as they come, without checking them. */
static int text_check(const char *s, const char *field, hk_error *err)
{
    if (!hk_utf8_valid(s, strlen(s)))
        return hk_error_set(err, HK_EINVAL, field, "not valid UTF-8");
    return HK_OK;
}

/* An id may be a string or a number; a number is kept as its text ("12345", not "12345.0"). */
static int id_text(const cJSON *item, const char *field, bool required, char **out, hk_error *err)
{
    if (!item || cJSON_IsNull(item)) {
        if (required)
            return hk_error_set(err, HK_EINVAL, field, "required");
        *out = NULL;
        return HK_OK;
    }
    if (cJSON_IsString(item)) {
        if (!item->valuestring[0])
            return hk_error_set(err, HK_EINVAL, field, "must not be empty");
        if (text_check(item->valuestring, field, err) != HK_OK)
            return HK_EINVAL;
        *out = hk_strdup(item->valuestring);
        return HK_OK;
    }
    if (cJSON_IsNumber(item)) {
        /* cJSON keeps only the double: a whole number below 2^53 is the one kind whose text
         * comes back exactly. 1e400 (inf), 2^64 or 0.1 would reach receivers as another id. */
        double v = item->valuedouble;
        if (!isfinite(v) || v != floor(v) || fabs(v) >= 9007199254740992.0)
            return hk_error_set(err, HK_EINVAL, field,
                                "a number must be whole and below 2^53 (send it as a string)");
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        *out = hk_strdup(buf);
        return HK_OK;
    }
    return hk_error_set(err, HK_EINVAL, field, "must be a string or a number");
}

static int opt_string(const cJSON *obj, const char *field, char **out, hk_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!item || cJSON_IsNull(item)) {
        *out = hk_strdup("");
        return HK_OK;
    }
    if (!cJSON_IsString(item))
        return hk_error_set(err, HK_EINVAL, field, "must be a string");
    if (text_check(item->valuestring, field, err) != HK_OK)
        return HK_EINVAL;
    *out = hk_strdup(item->valuestring);
    return HK_OK;
}

/* The event's top-level fields hookd reads. */
static const char *const used_fields[] = {"eventId",   "type",    "jobId",      "runId",
                                          "jobStatus", "flowId",  "spaceId",    "flowName",
                                          "outputIds", "jobType", "finishedAt", "webhookOverrides",
                                          "webhookId", "reason",  "disabledAt"};

static bool is_used_field(const char *name)
{
    for (size_t i = 0; i < sizeof used_fields / sizeof used_fields[0]; i++)
        if (name && strcmp(name, used_fields[i]) == 0)
            return true;
    return false;
}

/* What cJSON lets through in the text itself (RFC 8259): a control character must be escaped
 * inside a string, only whitespace may surround the value, and no byte order mark may lead.
 * (A NUL, escaped or raw, was refused before parsing: hk_json_refuse_nul.) */
static int scan_text(const char *buf, size_t len, size_t value_end, hk_error *err)
{
    bool in_string = false;
    /* cJSON skips a byte order mark, but a retry record embeds the event's text as it came,
     * and a mark inside that record is not JSON: the retry would be lost as a bad record. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        return hk_error_set(err, HK_EINVAL, "event",
                            "not valid JSON (a byte order mark before the value)");
    for (size_t i = 0; i < value_end; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '"') {
            in_string = !in_string;
        } else if (c == '\\' && in_string) {
            i++; /* cJSON parsed the text, so an escape is complete: \X or \uXXXX */
        } else if (c < 0x20 && (in_string || !strchr(" \t\r\n", c) || !c)) {
            /* cJSON skips any byte up to 0x20 between tokens as if it were whitespace */
            return hk_error_set(err, HK_EINVAL, "event",
                                "not valid JSON (control character U+%04X at byte %zu)", c, i);
        }
    }
    for (size_t i = value_end; i < len; i++)
        if (!strchr(" \t\r\n", buf[i]) || !buf[i])
            return hk_error_set(err, HK_EINVAL, "event",
                                "not valid JSON (data after the value at byte %zu)", i);
    return HK_OK;
}

/* A field given twice is read by one parser as the first and by another as the last (I-JSON,
 * RFC 7493, forbids it): refused for the fields hookd reads. */
static int duplicate_check(const cJSON *root, hk_error *err)
{
    for (const cJSON *a = root->child; a; a = a->next) {
        if (!is_used_field(a->string))
            continue;
        for (const cJSON *b = a->next; b; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return hk_error_set(err, HK_EINVAL, a->string, "given more than once");
    }
    return HK_OK;
}

static int parse_overrides(const cJSON *arr, hk_event *ev, hk_error *err)
{
    if (!arr || cJSON_IsNull(arr))
        return HK_OK;
    if (!cJSON_IsArray(arr))
        return hk_error_set(err, HK_EINVAL, "webhookOverrides", "must be an array");
    int n = cJSON_GetArraySize(arr);
    ev->overrides = hk_xcalloc((size_t)n, sizeof *ev->overrides);
    char field[96];
    int i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        hk_override *ov = &ev->overrides[i];
        ev->overrides_len = (size_t)i + 1;
        snprintf(field, sizeof field, "webhookOverrides[%d]", i);
        if (!cJSON_IsObject(o))
            return hk_error_set(err, HK_EINVAL, field, "must be an object");
        snprintf(field, sizeof field, "webhookOverrides[%d].webhookId", i);
        if (id_text(cJSON_GetObjectItemCaseSensitive(o, "webhookId"), field, true, &ov->webhook_id,
                    err) != HK_OK)
            return HK_EINVAL;
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(o, "url");
        if (url && !cJSON_IsNull(url)) {
            snprintf(field, sizeof field, "webhookOverrides[%d].url", i);
            if (!cJSON_IsString(url))
                return hk_error_set(err, HK_EINVAL, field, "must be a string");
            if (hk_validate_url(url->valuestring, field, err) != HK_OK)
                return HK_EINVAL;
            ov->url = hk_strdup(url->valuestring);
        }
        const cJSON *headers = cJSON_GetObjectItemCaseSensitive(o, "headers");
        if (headers && !cJSON_IsNull(headers)) {
            snprintf(field, sizeof field, "webhookOverrides[%d].headers", i);
            if (!cJSON_IsObject(headers))
                return hk_error_set(err, HK_EINVAL, field, "must be an object");
            ov->has_headers = true;
            ov->headers = hk_xcalloc((size_t)cJSON_GetArraySize(headers) + 1, sizeof(hk_kv));
            const cJSON *h;
            cJSON_ArrayForEach(h, headers)
            {
                snprintf(field, sizeof field, "webhookOverrides[%d].headers.%.40s", i, h->string);
                if (!cJSON_IsString(h))
                    return hk_error_set(err, HK_EINVAL, field, "must be a string");
                if (hk_validate_header(h->string, h->valuestring, field, err) != HK_OK)
                    return HK_EINVAL;
                ov->headers[ov->headers_len].key = hk_strdup(h->string);
                ov->headers[ov->headers_len].value = hk_strdup(h->valuestring);
                ov->headers_len++;
            }
        }
        const cJSON *skip = cJSON_GetObjectItemCaseSensitive(o, "skip");
        if (skip && !cJSON_IsNull(skip)) {
            snprintf(field, sizeof field, "webhookOverrides[%d].skip", i);
            if (!cJSON_IsBool(skip))
                return hk_error_set(err, HK_EINVAL, field, "must be true or false");
            ov->skip = cJSON_IsTrue(skip);
        }
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(o, "body");
        if (body && !cJSON_IsNull(body)) {
            snprintf(field, sizeof field, "webhookOverrides[%d].body", i);
            if (!cJSON_IsString(body))
                return hk_error_set(err, HK_EINVAL, field, "must be a string");
            if (strlen(body->valuestring) > HK_TASK_MAX_BODY)
                return hk_error_set(err, HK_EINVAL, field, "over the 256 KiB limit");
            ov->body = hk_strdup(body->valuestring);
        }
        i++;
    }
    return HK_OK;
}

/* task.disabled's own field: the reason, a string (required). */
static int operational_fields(const cJSON *root, hk_event *ev, hk_error *err)
{
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(root, "reason");
    if (!reason || cJSON_IsNull(reason))
        return hk_error_set(err, HK_EINVAL, "reason", "required");
    return opt_string(root, "reason", &ev->reason, err);
}

char *hk_event_task_disabled_json(const char *group, const char *webhook_id, const char *flow_id,
                                  const char *space_id, const char *name, const char *reason,
                                  const char *disabled_at)
{
    hk_buf b = {0};
    hk_buf_printf(&b, "{\"type\":\"" HK_EVENT_TASK_DISABLED "\",\"eventId\":\"");
    hk_buf_json_escape(&b, HK_EVENT_TASK_DISABLED "/", strlen(HK_EVENT_TASK_DISABLED) + 1);
    hk_buf_json_escape(&b, webhook_id, strlen(webhook_id));
    hk_buf_puts(&b, "/");
    hk_buf_json_escape(&b, disabled_at, strlen(disabled_at));
    const char *names[] = {"group",       "webhookId", flow_id ? "flowId" : "spaceId",
                           "webhookName", "reason",    "disabledAt"};
    const char *values[] = {group,  webhook_id, flow_id ? flow_id : space_id, name ? name : "",
                            reason, disabled_at};
    for (size_t i = 0; i < 6; i++) {
        hk_buf_printf(&b, "\",\"%s\":\"", names[i]);
        hk_buf_json_escape(&b, values[i], strlen(values[i]));
    }
    hk_buf_puts(&b, "\"}");
    return hk_buf_take(&b);
}

int hk_event_parse(const char *buf, size_t len, const char *fallback_id, hk_event **out,
                   hk_error *err)
{
    *out = NULL;
    if (len > HK_EVENT_MAX_BYTES)
        return hk_error_set(err, HK_EINVAL, "event", "%zu bytes, over the 1 MiB limit", len);
    /* A NUL anywhere in a string (\u0000 or a raw byte), overrides included: cJSON would keep
     * it, and each C string read from the tree would end there ("a\u0000b" read as "a"). */
    if (hk_json_refuse_nul(buf, len, "event", err) != HK_OK)
        return HK_EINVAL;
    const char *value_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &value_end, false);
    if (!root)
        return hk_error_set(err, HK_EINVAL, "event", "not valid JSON");
    hk_event *ev = hk_xcalloc(1, sizeof *ev);
    int rc = HK_EINVAL;
    if (scan_text(buf, len, (size_t)(value_end - buf), err) != HK_OK)
        goto error;
    if (!cJSON_IsObject(root)) {
        hk_error_set(err, HK_EINVAL, "event", "must be a JSON object");
        goto error;
    }
    if (duplicate_check(root, err) != HK_OK)
        goto error;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (type && !cJSON_IsNull(type)) {
        if (!cJSON_IsString(type) || !type->valuestring[0]) {
            hk_error_set(err, HK_EINVAL, "type", "must be a non-empty string");
            goto error;
        }
        if (text_check(type->valuestring, "type", err) != HK_OK)
            goto error;
        ev->type = hk_strdup(type->valuestring);
    } else {
        ev->type = hk_strdup("job.completed");
    }
    /* An orchestration run carries runId where a job carries jobId. */
    const char *id_field = "jobId";
    if (strcmp(ev->type, "orchestration.completed") == 0 &&
        !cJSON_GetObjectItemCaseSensitive(root, "jobId"))
        id_field = "runId";
    bool disabled = strcmp(ev->type, HK_EVENT_TASK_DISABLED) == 0;
    if (disabled)
        id_field = "webhookId";
    if (id_text(cJSON_GetObjectItemCaseSensitive(root, id_field), id_field, true, &ev->job_id,
                err) != HK_OK)
        goto error;
    if (disabled && operational_fields(root, ev, err) != HK_OK)
        goto error;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "jobStatus");
    if (disabled && (!status || cJSON_IsNull(status))) {
        ev->job_status = hk_strdup("disabled");
    } else if (!status || cJSON_IsNull(status)) {
        hk_error_set(err, HK_EINVAL, "jobStatus", "required");
        goto error;
    } else if (!cJSON_IsString(status) || !status->valuestring[0]) {
        hk_error_set(err, HK_EINVAL, "jobStatus", "must be a non-empty string");
        goto error;
    } else if (text_check(status->valuestring, "jobStatus", err) != HK_OK) {
        goto error;
    } else {
        ev->job_status = hk_strdup(status->valuestring);
    }
    ev->outcome = hk_job_outcome_from_status(ev->job_status);
    if (id_text(cJSON_GetObjectItemCaseSensitive(root, "flowId"), "flowId", !disabled, &ev->flow_id,
                err) != HK_OK)
        goto error;
    /* Optional: the space the flow belongs to, whose tasks take the event too. */
    if (id_text(cJSON_GetObjectItemCaseSensitive(root, "spaceId"), "spaceId", false, &ev->space_id,
                err) != HK_OK)
        goto error;
    /* A space's task has no flow: its task.disabled names the space alone, and reaches the
     * space's tasks only ("" is no flow's id). */
    if (!ev->flow_id && !ev->space_id) {
        hk_error_set(err, HK_EINVAL, "flowId", "required");
        goto error;
    }
    if (!ev->flow_id)
        ev->flow_id = hk_strdup("");
    if (id_text(cJSON_GetObjectItemCaseSensitive(root, "eventId"), "eventId", false, &ev->event_id,
                err) != HK_OK)
        goto error;
    if (!ev->event_id)
        ev->event_id = hk_strdup(fallback_id ? fallback_id : "");
    if (opt_string(root, "flowName", &ev->flow_name, err) != HK_OK ||
        opt_string(root, "jobType", &ev->job_type, err) != HK_OK ||
        opt_string(root, disabled ? "disabledAt" : "finishedAt", &ev->finished_at, err) != HK_OK)
        goto error;
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(root, "outputIds");
    if (outputs && !cJSON_IsNull(outputs)) {
        if (!cJSON_IsArray(outputs)) {
            hk_error_set(err, HK_EINVAL, "outputIds", "must be an array");
            goto error;
        }
        ev->output_ids = hk_xcalloc((size_t)cJSON_GetArraySize(outputs) + 1, sizeof(char *));
        const cJSON *o;
        cJSON_ArrayForEach(o, outputs)
        {
            char field[32];
            snprintf(field, sizeof field, "outputIds[%zu]", ev->output_ids_len);
            if (id_text(o, field, true, &ev->output_ids[ev->output_ids_len], err) != HK_OK)
                goto error;
            ev->output_ids_len++;
        }
    }
    if (parse_overrides(cJSON_GetObjectItemCaseSensitive(root, "webhookOverrides"), ev, err) !=
        HK_OK)
        goto error;
    /* After the fields, so that a bad field is named; the record as a whole must be text. */
    if (!hk_utf8_valid(buf, len)) {
        hk_error_set(err, HK_EINVAL, "event", "not valid UTF-8");
        goto error;
    }
    cJSON_Delete(root);
    *out = ev;
    return HK_OK;
error:
    cJSON_Delete(root);
    hk_event_destroy(ev);
    return rc;
}

void hk_event_destroy(hk_event *ev)
{
    if (!ev)
        return;
    free(ev->event_id);
    free(ev->type);
    free(ev->job_id);
    free(ev->job_status);
    free(ev->flow_id);
    free(ev->space_id);
    free(ev->flow_name);
    for (size_t i = 0; i < ev->output_ids_len; i++)
        free(ev->output_ids[i]);
    free(ev->output_ids);
    for (size_t i = 0; i < ev->overrides_len; i++) {
        free(ev->overrides[i].webhook_id);
        free(ev->overrides[i].url);
        hk_kv_free(ev->overrides[i].headers, ev->overrides[i].headers_len);
        free(ev->overrides[i].body);
    }
    free(ev->overrides);
    free(ev->job_type);
    free(ev->finished_at);
    free(ev->reason);
    free(ev);
}

hk_job_outcome hk_job_outcome_from_status(const char *s)
{
    static const char *const ok[] = {"complete", "completed", "success", "succeeded"};
    static const char *const bad[] = {"failed", "failure", "error"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcasecmp(s, ok[i]) == 0)
            return HK_JOB_SUCCESS;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strcasecmp(s, bad[i]) == 0)
            return HK_JOB_FAILURE;
    return HK_JOB_OTHER;
}

size_t hk_event_unknown_overrides(const hk_event *ev, const hk_task *const *tasks, size_t n,
                                  hk_buf *out)
{
    size_t unknown = 0;
    for (size_t i = 0; i < ev->overrides_len; i++) {
        bool known = false;
        for (size_t k = 0; k < n && !known; k++)
            known = strcmp(tasks[k]->id, ev->overrides[i].webhook_id) == 0;
        if (known)
            continue;
        hk_buf_printf(out, "%swebhookOverrides[%zu]: no webhook task %.64s in flow %.128s",
                      unknown++ ? "; " : "", i, ev->overrides[i].webhook_id, ev->flow_id);
        if (ev->space_id)
            hk_buf_printf(out, " or space %.128s", ev->space_id);
    }
    return unknown;
}

const hk_override *hk_event_override_for(const hk_event *ev, const char *task_id)
{
    for (size_t i = 0; i < ev->overrides_len; i++)
        if (strcmp(ev->overrides[i].webhook_id, task_id) == 0)
            return &ev->overrides[i];
    return NULL;
}
