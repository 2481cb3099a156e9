/*
 * tasks.c — synchronous task CRUD for hookctl and the admin API. Each write is one Lua script,
 * so the per-flow limit check, the task key, the flow's set and the version bump change
 * together or not at all, whatever other writers do at the same moment.
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

/* KEYS: task, flow or space set, version. ARGV: json, id, max. */
static const char create_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end\n"
    "if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then return -2 end\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "redis.call('SADD', KEYS[2], ARGV[2])\n"
    "redis.call('INCR', KEYS[3])\n"
    "return 1\n";

/* KEYS: task, new flow or space set, version. ARGV: json, id, max, prefix. The old set is the
 * stored task's (its spaceId's, else its flowId's). */
static const char update_script[] =
    "local old = redis.call('GET', KEYS[1])\n"
    "if not old then return -1 end\n"
    "local o = cjson.decode(old)\n"
    "local oldset = ARGV[4] .. 'flow:' .. tostring(o['flowId']) .. ':webhooks'\n"
    "if type(o['spaceId']) == 'string' then\n"
    "  oldset = ARGV[4] .. 'space:' .. o['spaceId'] .. ':webhooks'\n"
    "end\n"
    "if oldset ~= KEYS[2] then\n"
    "  if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then return -2 end\n"
    "  redis.call('SREM', oldset, ARGV[2])\n"
    "  redis.call('SADD', KEYS[2], ARGV[2])\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "redis.call('INCR', KEYS[3])\n"
    "return 1\n";

/* KEYS: task, version. ARGV: prefix, id. */
static const char delete_script[] =
    "local old = redis.call('GET', KEYS[1])\n"
    "if not old then return -1 end\n"
    "local ok, t = pcall(cjson.decode, old)\n"
    "if ok and type(t['spaceId']) == 'string' then\n"
    "  redis.call('SREM', ARGV[1] .. 'space:' .. t['spaceId'] .. ':webhooks', ARGV[2])\n"
    "elseif ok and t['flowId'] then\n"
    "  redis.call('SREM', ARGV[1] .. 'flow:' .. tostring(t['flowId']) .. ':webhooks', ARGV[2])\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('INCR', KEYS[2])\n"
    "return 1\n";

/* KEYS: task, version. ARGV: the JSON read, the JSON to write. Writes only when the task is
 * still exactly as read, so a concurrent update is never overwritten. */
static const char swap_script[] = "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
                                  "redis.call('SET', KEYS[1], ARGV[2])\n"
                                  "redis.call('INCR', KEYS[2])\n"
                                  "return 1\n";

/* Connects s, whose cfg (its own copy) is set; closes s when it cannot. */
static int open_with(hk_store *s, hk_store **out, hk_error *err)
{
    s->rc = hk_store__connect(&s->cfg, err);
    if (!s->rc) {
        hk_store_close(s);
        return HK_ERR;
    }
    *out = s;
    return HK_OK;
}

int hk_store_open(const hk_store_config *cfg, hk_store **out, hk_error *err)
{
    hk_store *s = hk_xcalloc(1, sizeof *s);
    int rc = hk_store__cfg_init(&s->cfg, cfg, err);
    if (rc != HK_OK) {
        free(s);
        return rc;
    }
    return open_with(s, out, err);
}

int hk_store__open(const hk_store__cfg *c, hk_store **out, hk_error *err)
{
    hk_store *s = hk_xcalloc(1, sizeof *s);
    hk_store__cfg_copy(&s->cfg, c);
    return open_with(s, out, err);
}

void hk_store_close(hk_store *s)
{
    if (!s)
        return;
    if (s->rc)
        redisFree(s->rc);
    hk_store__cfg_free(&s->cfg);
    free(s);
}

int hk_store__failed(hk_store *s, redisReply *r, hk_error *err)
{
    int rc = hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "redis %s:%d: %s", s->cfg.host,
                          s->cfg.port, r && r->str ? r->str : s->rc->errstr);
    if (r)
        freeReplyObject(r);
    return rc;
}

static int write_task(hk_store *s, const hk_task *task, bool create, hk_error *err)
{
    cJSON *json = hk_task_to_json(task, HK_SECRETS_FULL);
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    char *task_key = hk_store__key(&s->cfg, "webhook:", task->id, NULL);
    hk_scope scope = hk_task_scope(task);
    char *flow_key = hk_store__scope_key(&s->cfg, &scope);
    char *version_key = hk_store__key(&s->cfg, "tasks:version", NULL, NULL);
    char max[16];
    snprintf(max, sizeof max, "%d", s->cfg.max_per_flow);
    redisReply *r;
    if (create)
        r = redisCommand(s->rc, "EVAL %s 3 %s %s %s %s %s %s", create_script, task_key, flow_key,
                         version_key, text, task->id, max);
    else
        r = redisCommand(s->rc, "EVAL %s 3 %s %s %s %s %s %s %s", update_script, task_key, flow_key,
                         version_key, text, task->id, max, s->cfg.prefix);
    int rc = HK_OK;
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        rc = hk_store__failed(s, r, err);
        r = NULL;
    } else if (r->integer == -1) {
        rc = create ? hk_error_set(err, HK_ECONFLICT, "id", "webhook %s already exists", task->id)
                    : hk_error_set(err, HK_ENOTFOUND, NULL, "webhook %s not found", task->id);
    } else if (r->integer == -2) {
        rc = hk_store__limit_error(&s->cfg, &scope, err);
    }
    if (r)
        freeReplyObject(r);
    free(text);
    free(task_key);
    free(flow_key);
    free(version_key);
    return rc;
}

int hk_store_task_create(hk_store *s, const hk_task *task, hk_error *err)
{
    return write_task(s, task, true, err);
}

int hk_store_task_update(hk_store *s, const hk_task *task, hk_error *err)
{
    return write_task(s, task, false, err);
}

/* The path's scope into the task JSON copy: its field filled in when missing, equal when given;
 * the other scope's field, given, is refused (a task has one). */
static int draft_scope(const hk_scope *scope, cJSON *copy, hk_error *err)
{
    const char *field = hk_scope_field(scope->kind);
    const char *other =
        hk_scope_field(scope->kind == HK_SCOPE_FLOW ? HK_SCOPE_SPACE : HK_SCOPE_FLOW);
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(copy, field);
    const cJSON *given_other = cJSON_GetObjectItemCaseSensitive(copy, other);
    if (given_other && !cJSON_IsNull(given_other))
        return hk_error_set(err, HK_EINVAL, other,
                            "a task has flowId or spaceId, not both (the "
                            "path gives its %s)",
                            hk_scope_noun(scope->kind));
    if (given && !cJSON_IsNull(given)) {
        char *text = cJSON_IsString(given) ? hk_strdup(given->valuestring) : cJSON_Print(given);
        int rc = strcmp(text, scope->id) == 0
                     ? HK_OK
                     : hk_error_set(err, HK_EINVAL, field, "does not match the %s in the path",
                                    hk_scope_noun(scope->kind));
        free(text);
        return rc;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(copy, field);
    cJSON_AddStringToObject(copy, field, scope->id);
    return HK_OK;
}

int hk_store_task_draft(const char *flow_id, const cJSON *json, hk_task **out, hk_error *err)
{
    hk_scope flow = {HK_SCOPE_FLOW, flow_id};
    return hk_store_task_draft_in(flow_id ? &flow : NULL, json, out, err);
}

int hk_store_task_draft_in(const hk_scope *scope, const cJSON *json, hk_task **out, hk_error *err)
{
    *out = NULL;
    if (!cJSON_IsObject(json))
        return hk_error_set(err, HK_EINVAL, "webhook", "must be a JSON object");
    cJSON *copy = cJSON_Duplicate(json, 1);
    int rc = scope ? draft_scope(scope, copy, err) : HK_OK;
    if (rc == HK_OK && hk_store__has_masked_secret(copy))
        rc = hk_error_set(err, HK_EINVAL, "secret",
                          "masked (****); a new task needs the secret itself");
    if (rc == HK_OK)
        rc = hk_task_from_json(copy, true, out, err);
    cJSON_Delete(copy);
    return rc;
}

int hk_store_task_create_json(hk_store *s, const char *flow_id, const cJSON *json, hk_task **out,
                              hk_error *err)
{
    hk_scope flow = {HK_SCOPE_FLOW, flow_id};
    return hk_store_task_create_in(s, flow_id ? &flow : NULL, json, out, err);
}

int hk_store_task_create_in(hk_store *s, const hk_scope *scope, const cJSON *json, hk_task **out,
                            hk_error *err)
{
    if (out)
        *out = NULL;
    hk_task *task = NULL;
    int rc = hk_store_task_draft_in(scope, json, &task, err);
    if (rc == HK_OK)
        rc = hk_store_task_create(s, task, err);
    if (rc == HK_OK && out)
        *out = task;
    else
        hk_task_destroy(task);
    return rc;
}

int hk_store_task_update_json(hk_store *s, const char *id, const cJSON *json, hk_task **out,
                              hk_error *err)
{
    if (out)
        *out = NULL;
    if (!cJSON_IsObject(json))
        return hk_error_set(err, HK_EINVAL, "webhook", "must be a JSON object");
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(json, "id");
    if (given && !cJSON_IsNull(given) &&
        (!cJSON_IsString(given) || strcmp(given->valuestring, id) != 0))
        return hk_error_set(err, HK_EINVAL, "id", "does not match the webhook being updated");
    hk_task *old = NULL;
    int rc = hk_store_task_get(s, id, &old, err);
    if (rc != HK_OK)
        return rc;
    cJSON *copy = cJSON_Duplicate(json, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "id");
    cJSON_AddStringToObject(copy, "id", id);
    const cJSON *flow = cJSON_GetObjectItemCaseSensitive(copy, "flowId");
    const cJSON *space = cJSON_GetObjectItemCaseSensitive(copy, "spaceId");
    if ((!flow || cJSON_IsNull(flow)) && (!space || cJSON_IsNull(space))) {
        hk_scope kept = hk_task_scope(old); /* the task stays in its flow or space */
        cJSON_DeleteItemFromObjectCaseSensitive(copy, hk_scope_field(kept.kind));
        cJSON_AddStringToObject(copy, hk_scope_field(kept.kind), kept.id);
    }
    if (hk_store__has_masked_secret(copy) && !hk_store__keep_secrets(copy, old))
        rc = hk_error_set(err, HK_EINVAL, "secret",
                          "masked (****), and the webhook has no secret to keep; give the "
                          "secret itself");
    hk_task_destroy(old);
    hk_task *task = NULL;
    if (rc == HK_OK)
        rc = hk_task_from_json(copy, false, &task, err);
    cJSON_Delete(copy);
    if (rc == HK_OK)
        rc = hk_store_task_update(s, task, err);
    if (rc == HK_OK && out)
        *out = task;
    else
        hk_task_destroy(task);
    return rc;
}

int hk_store_task_get(hk_store *s, const char *id, hk_task **out, hk_error *err)
{
    *out = NULL;
    char *key = hk_store__key(&s->cfg, "webhook:", id, NULL);
    redisReply *r = redisCommand(s->rc, "GET %s", key);
    free(key);
    if (!r || r->type == REDIS_REPLY_ERROR)
        return hk_store__failed(s, r, err);
    int rc;
    if (r->type != REDIS_REPLY_STRING)
        rc = hk_error_set(err, HK_ENOTFOUND, NULL, "webhook %s not found", id);
    else if (hk_task_parse(r->str, r->len, false, out, err) != HK_OK)
        rc = HK_ERR; /* stored but unreadable: err names the field */
    else
        rc = HK_OK;
    freeReplyObject(r);
    return rc;
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(hk_task *const *)a)->id, (*(hk_task *const *)b)->id);
}

int hk_store_task_list(hk_store *s, const char *flow_id, hk_task ***out, size_t *n, hk_error *err)
{
    return hk_store_task_list_in(s, &(hk_scope){HK_SCOPE_FLOW, flow_id}, out, n, err);
}

int hk_store_task_list_in(hk_store *s, const hk_scope *scope, hk_task ***out, size_t *n,
                          hk_error *err)
{
    *out = NULL;
    *n = 0;
    char *flow_key = hk_store__scope_key(&s->cfg, scope);
    redisReply *ids = redisCommand(s->rc, "SMEMBERS %s", flow_key);
    free(flow_key);
    if (!ids || ids->type != REDIS_REPLY_ARRAY)
        return hk_store__failed(s, ids, err);
    hk_task **tasks = hk_xcalloc(ids->elements + 1, sizeof *tasks);
    size_t count = 0;
    for (size_t i = 0; i < ids->elements; i++) {
        hk_task *t = NULL;
        hk_error ignore;
        /* A dangling id (task deleted by hand) is skipped rather than failing the listing. */
        if (hk_store_task_get(s, ids->element[i]->str, &t, &ignore) == HK_OK)
            tasks[count++] = t;
    }
    freeReplyObject(ids);
    qsort(tasks, count, sizeof *tasks, by_id);
    *out = tasks;
    *n = count;
    return HK_OK;
}

int hk_store_task_delete(hk_store *s, const char *id, hk_error *err)
{
    char *task_key = hk_store__key(&s->cfg, "webhook:", id, NULL);
    char *version_key = hk_store__key(&s->cfg, "tasks:version", NULL, NULL);
    redisReply *r = redisCommand(s->rc, "EVAL %s 2 %s %s %s %s", delete_script, task_key,
                                 version_key, s->cfg.prefix, id);
    free(task_key);
    free(version_key);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        return hk_store__failed(s, r, err);
    int rc = r->integer == -1 ? hk_error_set(err, HK_ENOTFOUND, NULL, "webhook %s not found", id)
                              : HK_OK;
    freeReplyObject(r);
    return rc;
}

int hk_store_task_disable(hk_store *s, const char *id, const char *reason, uint64_t at_ms,
                          bool *changed, hk_error *err)
{
    return hk_store__task_disable(s, id, reason, at_ms, changed, NULL, err);
}

int hk_store__task_disable(hk_store *s, const char *id, const char *reason, uint64_t at_ms,
                           bool *changed, hk_task **disabled, hk_error *err)
{
    if (changed)
        *changed = false;
    if (disabled)
        *disabled = NULL;
    char *task_key = hk_store__key(&s->cfg, "webhook:", id, NULL);
    char *version_key = hk_store__key(&s->cfg, "tasks:version", NULL, NULL);
    int rc = HK_ERR;
    bool raced = false;
    /* Read, change, swap; a writer in between makes the swap refuse, and it is tried again. */
    for (int round = 0; round < 5 && rc == HK_ERR; round++) {
        redisReply *r = redisCommand(s->rc, "GET %s", task_key);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            rc = hk_store__failed(s, r, err);
            break;
        }
        if (r->type != REDIS_REPLY_STRING) {
            freeReplyObject(r);
            rc = hk_error_set(err, HK_ENOTFOUND, NULL, "webhook %s not found", id);
            break;
        }
        hk_task *t = NULL;
        if (hk_task_parse(r->str, r->len, false, &t, err) != HK_OK) {
            freeReplyObject(r);
            break; /* unreadable: err names the field */
        }
        if (!t->enabled) {
            hk_task_destroy(t);
            freeReplyObject(r);
            rc = HK_OK; /* already disabled: keep the first reason and time */
            break;
        }
        char ts[32];
        hk_format_time(at_ms, ts);
        t->enabled = false;
        free(t->disabled_reason);
        free(t->disabled_at);
        t->disabled_reason = hk_strdup(reason);
        t->disabled_at = hk_strdup(ts);
        cJSON *json = hk_task_to_json(t, HK_SECRETS_FULL);
        char *text = cJSON_PrintUnformatted(json);
        cJSON_Delete(json);
        redisReply *w = redisCommand(s->rc, "EVAL %s 2 %s %s %b %s", swap_script, task_key,
                                     version_key, r->str, r->len, text);
        freeReplyObject(r);
        free(text);
        if (!w || w->type != REDIS_REPLY_INTEGER) {
            hk_task_destroy(t);
            rc = hk_store__failed(s, w, err);
            break;
        }
        raced = w->integer != 1;
        if (!raced) {
            rc = HK_OK;
            if (changed)
                *changed = true;
            if (disabled) /* the task as it now is, for whoever tells of it */
                *disabled = t, t = NULL;
        }
        hk_task_destroy(t);
        freeReplyObject(w);
    }
    if (raced)
        hk_error_set(err, HK_ERR, NULL, "webhook %s kept changing; not disabled", id);
    free(task_key);
    free(version_key);
    return rc;
}

int hk_store_history_get(hk_store *s, const char *job_id, cJSON **out, hk_error *err)
{
    char *key = hk_store__key(&s->cfg, "job:", job_id, ":deliveries");
    redisReply *r = redisCommand(s->rc, "LRANGE %s 0 -1", key);
    free(key);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return hk_store__failed(s, r, err);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < r->elements; i++) {
        cJSON *item = cJSON_ParseWithLength(r->element[i]->str, r->element[i]->len);
        if (item)
            cJSON_AddItemToArray(arr, item);
    }
    freeReplyObject(r);
    *out = arr;
    return HK_OK;
}
