/*
 * conn.c — Redis URLs, connections and key names, shared by the store's three parts.
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

hk_store_config hk_store_config_of(const hk_config *cfg)
{
    return (hk_store_config){
        .url = cfg->redis_url,
        .password = cfg->redis_password,
        .prefix = cfg->redis_prefix,
        .max_per_flow = cfg->max_webhooks_per_flow,
        .timeout_ms = 5000,
    };
}

int hk_store__cfg_init(hk_store__cfg *c, const hk_store_config *cfg, hk_error *err)
{
    memset(c, 0, sizeof *c);
    const char *url = cfg->url ? cfg->url : "redis://localhost:6379/0";
    if (strncmp(url, "redis://", 8) != 0)
        return hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL", "must start with redis://");
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        /* redis://[user]:password@host — only the password is used (AUTH password). */
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon)
            c->password = hk_strndup(colon + 1, (size_t)(at - colon - 1));
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hostport_len = slash ? (size_t)(slash - p) : strlen(p);
    char *hostport = hk_strndup(p, hostport_len);
    char *colon = strrchr(hostport, ':');
    c->port = 6379;
    if (colon) {
        *colon = '\0';
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 1 || port > 65535) {
            free(hostport);
            hk_store__cfg_free(c);
            return hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL", "invalid port");
        }
        c->port = (int)port;
    }
    if (!*hostport) {
        free(hostport);
        hk_store__cfg_free(c);
        return hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL", "has no host");
    }
    c->host = hostport;
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000) {
            hk_store__cfg_free(c);
            return hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL", "invalid database number");
        }
        c->db = (int)db;
    }
    if (cfg->password && *cfg->password) {
        free(c->password);
        c->password = hk_strdup(cfg->password);
    }
    c->prefix = hk_strdup(cfg->prefix ? cfg->prefix : "hookd:");
    c->max_per_flow = cfg->max_per_flow > 0 ? cfg->max_per_flow : 50;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    return HK_OK;
}

void hk_store__cfg_copy(hk_store__cfg *dst, const hk_store__cfg *src)
{
    *dst = *src;
    dst->host = hk_strdup(src->host);
    dst->password = src->password ? hk_strdup(src->password) : NULL;
    dst->prefix = hk_strdup(src->prefix);
}

void hk_store__cfg_free(hk_store__cfg *c)
{
    free(c->host);
    if (c->password) {
        explicit_bzero(c->password, strlen(c->password)); /* not dropped as a dead store */
        free(c->password);
    }
    free(c->prefix);
    memset(c, 0, sizeof *c);
}

redisContext *hk_store__connect(const hk_store__cfg *c, hk_error *err)
{
    struct timeval tv = {.tv_sec = c->timeout_ms / 1000, .tv_usec = (c->timeout_ms % 1000) * 1000};
    redisContext *rc = redisConnectWithTimeout(c->host, c->port, tv);
    if (!rc || rc->err) {
        hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "cannot connect to %s:%d: %s", c->host,
                     c->port, rc ? rc->errstr : "out of memory");
        redisFree(rc);
        return NULL;
    }
    redisSetTimeout(rc, tv);
    redisReply *r;
    if (c->password) {
        r = redisCommand(rc, "AUTH %s", c->password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            /* Redis's own message names no password; ours neither. */
            hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "authentication to %s:%d failed%s%s",
                         c->host, c->port, r ? ": " : "", r ? r->str : "");
            if (r)
                freeReplyObject(r);
            redisFree(rc);
            return NULL;
        }
        freeReplyObject(r);
    }
    if (c->db) {
        r = redisCommand(rc, "SELECT %d", c->db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "cannot select database %d", c->db);
            if (r)
                freeReplyObject(r);
            redisFree(rc);
            return NULL;
        }
        freeReplyObject(r);
    }
    return rc;
}

char *hk_store__key(const hk_store__cfg *c, const char *a, const char *b, const char *suffix)
{
    hk_buf k = {0};
    hk_buf_printf(&k, "%s%s%s%s", c->prefix, a, b ? b : "", suffix ? suffix : "");
    return hk_buf_take(&k);
}

char *hk_store__scope_key(const hk_store__cfg *c, const hk_scope *scope)
{
    return hk_store__key(c, scope->kind == HK_SCOPE_SPACE ? "space:" : "flow:", scope->id,
                         ":webhooks");
}

int hk_store__limit_error(const hk_store__cfg *c, const hk_scope *scope, hk_error *err)
{
    return hk_error_set(err, HK_ELIMIT, hk_scope_field(scope->kind),
                        "%s %s already has %d webhook tasks (HOOKD_MAX_WEBHOOKS_PER_FLOW)",
                        hk_scope_noun(scope->kind), scope->id, c->max_per_flow);
}

static bool masked(const char *secret)
{
    return strncmp(secret, "****", 4) == 0 && strlen(secret) <= 8;
}

bool hk_store__has_masked_secret(const cJSON *task_json)
{
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(task_json, "secret");
    if (cJSON_IsString(one) && masked(one->valuestring))
        return true;
    const cJSON *many = cJSON_GetObjectItemCaseSensitive(task_json, "secrets"), *s;
    cJSON_ArrayForEach(s, many) if (cJSON_IsString(s) && masked(s->valuestring)) return true;
    return false;
}

bool hk_store__keep_secrets(cJSON *task_json, const hk_task *old)
{
    if (!old || old->secrets_len == 0)
        return false;
    cJSON_DeleteItemFromObjectCaseSensitive(task_json, "secret");
    cJSON_DeleteItemFromObjectCaseSensitive(task_json, "secrets");
    cJSON *keep = cJSON_AddArrayToObject(task_json, "secrets");
    for (size_t k = 0; k < old->secrets_len; k++)
        cJSON_AddItemToArray(keep, cJSON_CreateString(old->secrets[k]));
    return true;
}
