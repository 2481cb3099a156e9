/*
 * import.c — a flow's (or a space's) tasks as one document: export, and an all-or-nothing
 * import.
 *
 * The import validates every entry before writing anything and reports every bad entry by index
 * and field. An entry updates the flow's task with its id, else the one with its name, else it
 * creates a task; importing the same file twice therefore updates rather than duplicates. A
 * masked secret ("****" or "****abcd", as a plain export shows them) keeps the matched task's
 * secrets. An id that belongs to another flow is not taken over: that entry becomes a new task
 * (an export of one flow can seed another). The writes are one Lua script: the limit check, every
 * task and the version bump happen together or not at all.
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

/* KEYS: flow or space set, version, then one task key per entry. ARGV: max, then per entry: id,
 * JSON, "c" (create) or "u" (update). Returns the entries written, or -(1 + index) when an entry's
 * key was created or deleted since it was matched, or -1000000 over the limit. */
static const char import_script[] =
    "local creates = 0\n"
    "for i = 3, #KEYS do\n"
    "  local mode = ARGV[2 + (i - 3) * 3 + 2]\n"
    "  local exists = redis.call('EXISTS', KEYS[i]) == 1\n"
    "  if (mode == 'c') == exists then return -(i - 2) end\n"
    "  if mode == 'c' then creates = creates + 1 end\n"
    "end\n"
    "if redis.call('SCARD', KEYS[1]) + creates > tonumber(ARGV[1]) then return -1000000 end\n"
    "for i = 3, #KEYS do\n"
    "  local base = 2 + (i - 3) * 3\n"
    "  redis.call('SET', KEYS[i], ARGV[base + 1])\n"
    "  redis.call('SADD', KEYS[1], ARGV[base])\n"
    "end\n"
    "redis.call('INCR', KEYS[2])\n"
    "return #KEYS - 2\n";

int hk_store_flow_export(hk_store *s, const char *flow_id, hk_secret_mode mode, cJSON **out,
                         hk_error *err)
{
    return hk_store_export_in(s, &(hk_scope){HK_SCOPE_FLOW, flow_id}, mode, out, err);
}

int hk_store_export_in(hk_store *s, const hk_scope *scope, hk_secret_mode mode, cJSON **out,
                       hk_error *err)
{
    hk_task **tasks = NULL;
    size_t n = 0;
    int rc = hk_store_task_list_in(s, scope, &tasks, &n, err);
    if (rc != HK_OK)
        return rc;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, hk_scope_field(scope->kind), scope->id);
    char ts[32];
    hk_format_time(hk_wall_ms(), ts);
    cJSON_AddStringToObject(doc, "exportedAt", ts);
    cJSON_AddBoolToObject(doc, "secretsIncluded", mode == HK_SECRETS_FULL);
    cJSON *arr = cJSON_AddArrayToObject(doc, "webhooks");
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(arr, hk_task_to_json(tasks[i], mode));
        hk_task_destroy(tasks[i]);
    }
    free(tasks);
    *out = doc;
    return HK_OK;
}

/* msg is the entry's own one-line error, already starting with field ("url: ..."). */
static void report(hk_import_report *rep, size_t index, const char *field, const char *msg)
{
    if (rep->errors_len == HK_IMPORT_MAX_ERRORS) {
        rep->errors_dropped++;
        return;
    }
    snprintf(rep->fields[rep->errors_len], sizeof rep->fields[0], "webhooks[%zu].%s", index, field);
    snprintf(rep->errors[rep->errors_len++], sizeof rep->errors[0], "webhooks[%zu].%s", index, msg);
}

/* Entry i of the flow's existing tasks matched by id, else by name; NULL for none. */
static const hk_task *match(hk_task *const *existing, size_t n, const cJSON *entry)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(entry, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(entry, "name");
    for (size_t i = 0; cJSON_IsString(id) && i < n; i++)
        if (strcmp(existing[i]->id, id->valuestring) == 0)
            return existing[i];
    for (size_t i = 0; cJSON_IsString(name) && *name->valuestring && i < n; i++)
        if (existing[i]->name && strcmp(existing[i]->name, name->valuestring) == 0)
            return existing[i];
    return NULL;
}

/* Entry at (of the flow's existing tasks) into tasks[at] and update[at], or its errors into rep:
 * the flow imported into, the matched task's id and kept secrets, and no two entries naming the
 * same task. */
static void import_entry(const hk_scope *scope, hk_task *const *existing, size_t existing_n,
                         const cJSON *entry, size_t at, hk_task **tasks, bool *update,
                         hk_import_report *rep)
{
    if (!cJSON_IsObject(entry)) {
        report(rep, at, "webhook", "webhook: must be an object");
        return;
    }
    cJSON *copy = cJSON_Duplicate(entry, 1);
    /* The target is the flow or space imported into: an export of flow 7 may seed flow 8, or
     * space s1. */
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "flowId");
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "spaceId");
    cJSON_AddStringToObject(copy, hk_scope_field(scope->kind), scope->id);
    const hk_task *old = match(existing, existing_n, entry);
    if (old) { /* matched by name, the entry's id (if any) gives way to the task's */
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "id");
        cJSON_AddStringToObject(copy, "id", old->id);
    }
    if (hk_store__has_masked_secret(copy) && !hk_store__keep_secrets(copy, old)) {
        report(rep, at, "secret",
               "secret: masked (****), and no task of this flow with this id or name "
               "to keep the secret of; export with --with-secrets, or give the secret");
        cJSON_Delete(copy);
        return;
    }
    hk_error e = {0};
    if (hk_task_from_json(copy, true, &tasks[at], &e) != HK_OK)
        report(rep, at, e.field[0] ? e.field : "webhook", e.msg);
    cJSON_Delete(copy);
    update[at] = old != NULL;
    for (size_t k = 0; tasks[at] && k < at; k++) {
        bool same_id = tasks[k] && strcmp(tasks[k]->id, tasks[at]->id) == 0;
        bool same_name = tasks[k] && tasks[k]->name && tasks[at]->name && *tasks[at]->name &&
                         strcmp(tasks[k]->name, tasks[at]->name) == 0;
        if (same_id || same_name) {
            char msg[160];
            snprintf(msg, sizeof msg, "%s: the same task as webhooks[%zu]",
                     same_name ? "name" : "id", k);
            report(rep, at, same_name ? "name" : "id", msg);
            break;
        }
    }
}

/* A new entry whose given id is a task of another flow (an export of flow 7 imported into
 * flow 8) must not take that task over: it becomes a new task with an id of its own. */
static void import_fresh_ids(hk_store *s, hk_task **tasks, const bool *update, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!tasks[i] || update[i])
            continue;
        hk_task *other = NULL;
        hk_error e = {0};
        if (hk_store_task_get(s, tasks[i]->id, &other, &e) == HK_OK) {
            char fresh[32];
            hk_task_new_id(fresh);
            free(tasks[i]->id);
            tasks[i]->id = hk_strdup(fresh);
            hk_task_destroy(other);
        }
    }
}

/* The n checked tasks written by import_script in one go; counts them into rep on success. */
static int import_write(hk_store *s, const hk_scope *scope, hk_task *const *tasks,
                        const bool *update, size_t n, hk_import_report *rep, hk_error *err)
{
    int rc = HK_OK;
    /* EVAL, the script, the key count, the flow set, the version, n task keys, max, and
     * (id, JSON, mode) per task */
    size_t argc = 6 + 4 * n, i;
    const char **argv = hk_xcalloc(argc, sizeof *argv);
    size_t *lens = hk_xcalloc(argc, sizeof *lens);
    char **owned = hk_xcalloc(n + 3, sizeof *owned);
    char script_keys[24], max[16];
    snprintf(script_keys, sizeof script_keys, "%zu", n + 2);
    snprintf(max, sizeof max, "%d", s->cfg.max_per_flow);
    size_t a = 0;
    argv[a++] = "EVAL";
    argv[a++] = import_script;
    argv[a++] = script_keys;
    argv[a++] = owned[n] = hk_store__scope_key(&s->cfg, scope);
    argv[a++] = owned[n + 1] = hk_store__key(&s->cfg, "tasks:version", NULL, NULL);
    for (i = 0; i < n; i++)
        argv[a++] = owned[i] = hk_store__key(&s->cfg, "webhook:", tasks[i]->id, NULL);
    argv[a++] = max;
    char **json = hk_xcalloc(n, sizeof *json);
    for (i = 0; i < n; i++) {
        cJSON *j = hk_task_to_json(tasks[i], HK_SECRETS_FULL);
        json[i] = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        argv[a++] = tasks[i]->id;
        argv[a++] = json[i];
        argv[a++] = update[i] ? "u" : "c";
    }
    for (size_t k = 0; k < a; k++)
        lens[k] = strlen(argv[k]);
    redisReply *r = redisCommandArgv(s->rc, (int)a, argv, lens);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        rc = hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "redis %s:%d: %s", s->cfg.host,
                          s->cfg.port, r ? r->str : s->rc->errstr);
    } else if (r->integer == -1000000) {
        rc = hk_error_set(err, HK_ELIMIT, hk_scope_field(scope->kind),
                          "%s %s would pass %d webhook tasks (HOOKD_MAX_WEBHOOKS_PER_FLOW)",
                          hk_scope_noun(scope->kind), scope->id, s->cfg.max_per_flow);
    } else if (r->integer < 0) {
        rc = hk_error_set(err, HK_ERR, NULL,
                          "webhooks[%lld] changed while importing (created or deleted by "
                          "another writer); nothing written, try again",
                          -r->integer - 1);
    } else {
        for (i = 0; i < n; i++)
            *(update[i] ? &rep->updated : &rep->created) += 1;
    }
    if (r)
        freeReplyObject(r);
    for (i = 0; i < n; i++)
        free(json[i]);
    free(json);
    for (i = 0; i < n + 2; i++)
        free(owned[i]);
    free(owned);
    free(argv);
    free(lens);
    return rc;
}

int hk_store_flow_import(hk_store *s, const char *flow_id, const cJSON *doc, hk_import_report *rep,
                         hk_error *err)
{
    return hk_store_import_in(s, &(hk_scope){HK_SCOPE_FLOW, flow_id}, doc, rep, err);
}

int hk_store_import_in(hk_store *s, const hk_scope *scope, const cJSON *doc, hk_import_report *rep,
                       hk_error *err)
{
    memset(rep, 0, sizeof *rep);
    const cJSON *entries =
        cJSON_IsArray(doc) ? doc : cJSON_GetObjectItemCaseSensitive(doc, "webhooks");
    if (!cJSON_IsArray(entries))
        return hk_error_set(err, HK_EINVAL, "webhooks",
                            "the document must be an export ({\"webhooks\": [...]}) or an array "
                            "of tasks");
    size_t n = (size_t)cJSON_GetArraySize(entries);
    hk_task **existing = NULL;
    size_t existing_n = 0;
    int rc = hk_store_task_list_in(s, scope, &existing, &existing_n, err);
    if (rc != HK_OK)
        return rc;
    hk_task **tasks = hk_xcalloc(n ? n : 1, sizeof *tasks);
    bool *update = hk_xcalloc(n ? n : 1, sizeof *update);
    size_t i = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, entries)
    {
        import_entry(scope, existing, existing_n, entry, i, tasks, update, rep);
        i++;
    }
    import_fresh_ids(s, tasks, update, n);
    size_t creates = 0;
    for (i = 0; i < n; i++)
        creates += tasks[i] && !update[i];
    if (!rep->errors_len && existing_n + creates > (size_t)s->cfg.max_per_flow)
        rc = hk_error_set(err, HK_ELIMIT, hk_scope_field(scope->kind),
                          "%s %s has %zu webhook tasks; importing %zu more would pass %d "
                          "(HOOKD_MAX_WEBHOOKS_PER_FLOW)",
                          hk_scope_noun(scope->kind), scope->id, existing_n, creates,
                          s->cfg.max_per_flow);
    else if (rep->errors_len)
        rc = hk_error_set(err, HK_EINVAL, "webhooks", "%zu bad entr%s, nothing imported",
                          rep->errors_len + rep->errors_dropped,
                          rep->errors_len + rep->errors_dropped == 1 ? "y" : "ies");
    if (rc == HK_OK && n)
        rc = import_write(s, scope, tasks, update, n, rep, err);
    for (i = 0; i < n; i++)
        hk_task_destroy(tasks[i]);
    free(tasks);
    free(update);
    for (i = 0; i < existing_n; i++)
        hk_task_destroy(existing[i]);
    free(existing);
    return rc;
}
