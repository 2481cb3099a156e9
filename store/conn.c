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

/* The n bytes at s with each %XX decoded, as redis-cli and redis-py read a URL's user and
 * password (so "p%40ss" is "p@ss"); NULL when a % is not followed by two hex digits or one
 * decodes to NUL. The caller frees (it may be a secret: never echoed). */
static char *percent_decode(const char *s, size_t n)
{
    char *out = hk_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < n ? hk_hex_digit(s[i + 1]) : -1;
        int lo = i + 2 < n ? hk_hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            explicit_bzero(out, n + 1);
            free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

/* The user info "[user][:password]" of the URL (n bytes at s) into c->user and c->password,
 * decoded. A user without ':' is a user (as RFC 3986 and redis-py read it; redis-cli's -u reads
 * it as a password); ":password" is the default user's password. */
static int parse_userinfo(hk_store__cfg *c, const char *s, size_t n, hk_error *err)
{
    const char *colon = memchr(s, ':', n);
    size_t user_len = colon ? (size_t)(colon - s) : n;
    if (user_len) {
        c->user = percent_decode(s, user_len);
        if (!c->user)
            goto bad;
    }
    if (colon) {
        c->password = percent_decode(colon + 1, n - user_len - 1);
        if (!c->password)
            goto bad;
        if (!*c->password && !c->user) { /* "redis://:@host": no password at all */
            free(c->password);
            c->password = NULL;
        }
    }
    return HK_OK;
bad:
    /* Neither the user nor the password is echoed: either may be what was mistyped. */
    return hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL",
                        "the user or password has a bad percent-encoding (%%XX, XX two hex "
                        "digits, not %%00)");
}

int hk_store__cfg_init(hk_store__cfg *c, const hk_store_config *cfg, hk_error *err)
{
    memset(c, 0, sizeof *c);
    const char *url = cfg->url ? cfg->url : "redis://localhost:6379/0";
    if (strncmp(url, "rediss://", 9) == 0)
        return hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL",
                            "rediss:// (TLS) is not spoken by hookd itself: TLS to Redis is the "
                            "sidecar's (the chart's redis.tls, docs/operations.md#redis-over-tls),"
                            " and hookd takes redis://127.0.0.1:<its port>");
    if (strncmp(url, "redis://", 8) != 0)
        return hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL", "must start with redis://");
    const char *p = url + 8;
    const char *at = strrchr(p, '@'); /* the last: a password may hold an unencoded '@' */
    int rc;
    if (at) {
        if ((rc = parse_userinfo(c, p, (size_t)(at - p), err)) != HK_OK)
            goto error;
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    const char *end_hp = slash ? slash : p + strlen(p);
    const char *host = p, *port_s = NULL;
    size_t host_len = (size_t)(end_hp - p);
    if (p[0] == '[') { /* [IPv6]:port */
        const char *close = memchr(p, ']', host_len);
        if (!close || (close + 1 < end_hp && close[1] != ':')) {
            rc = hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL", "has a bad [IPv6] host");
            goto error;
        }
        host = p + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < end_hp)
            port_s = close + 2;
    } else {
        for (const char *q = end_hp; q > p; q--)
            if (q[-1] == ':') {
                host_len = (size_t)(q - 1 - p);
                port_s = q;
                break;
            }
    }
    if (!host_len) {
        rc = hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL", "has no host");
        goto error;
    }
    c->host = hk_strndup(host, host_len);
    c->port = 6379;
    if (port_s) {
        char *end;
        long port = strtol(port_s, &end, 10);
        if (end != end_hp || port_s == end_hp || port < 1 || port > 65535) {
            rc = hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL", "invalid port");
            goto error;
        }
        c->port = (int)port;
    }
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000) {
            rc = hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL", "invalid database number");
            goto error;
        }
        c->db = (int)db;
    }
    if (cfg->password && *cfg->password) {
        if (c->password)
            explicit_bzero(c->password, strlen(c->password));
        free(c->password);
        c->password = hk_strdup(cfg->password);
    }
    if (c->user && !c->password) {
        /* AUTH needs one; "user:@" says an empty one (an ACL user that is nopass). */
        rc = hk_error_set(err, HK_EINVAL, "HOOKD_REDIS_URL",
                          "names a user but no password: give it as user:password@ or in "
                          "HOOKD_REDIS_PASSWORD");
        goto error;
    }
    c->prefix = hk_strdup(cfg->prefix ? cfg->prefix : "hookd:");
    c->max_per_flow = cfg->max_per_flow > 0 ? cfg->max_per_flow : 50;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    return HK_OK;
error:
    hk_store__cfg_free(c);
    return rc;
}

void hk_store__cfg_copy(hk_store__cfg *dst, const hk_store__cfg *src)
{
    *dst = *src;
    dst->host = hk_strdup(src->host);
    dst->user = src->user ? hk_strdup(src->user) : NULL;
    dst->password = src->password ? hk_strdup(src->password) : NULL;
    dst->prefix = hk_strdup(src->prefix);
}

void hk_store__cfg_free(hk_store__cfg *c)
{
    free(c->host);
    free(c->user);
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
        r = c->user ? redisCommand(rc, "AUTH %s %s", c->user, c->password)
                    : redisCommand(rc, "AUTH %s", c->password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            /* Redis's own message names no password; ours neither. */
            hk_error_set(err, HK_ERR, "HOOKD_REDIS_URL", "authentication to %s:%d failed%s%s",
                         c->host, c->port, r ? ": " : "", r ? r->str : rc->errstr);
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
