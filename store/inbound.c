/*
 * inbound.c — hookd-ingress's data in Redis: inbound endpoints as JSON documents (validated by
 * the caller with inbound/'s rules: the store keeps them opaque), unique by name, their verified
 * state, and the provider event ids already accepted (duplicates). Each write is one Lua script,
 * so the document, the name index and the version change together or not at all.
 *
 *   <prefix>inbound:<id>                     the endpoint JSON (secrets in full)
 *   <prefix>inbound:names                    hash: name -> id
 *   <prefix>inbound:state                    hash: id -> "<0|1>:<ms>" (verified, since when)
 *   <prefix>inbound:version                  bumped by every write, state included
 *   <prefix>inbound:seen:<id>:<eventId>      "pending" while being published, then "done"
 */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

/* KEYS: doc, names, version, state. ARGV: json, id, name, create (1/0). -1: id exists (create)
 * or not found (update); -2: the name is another endpoint's (its id is returned as well). */
static const char put_script[] =
    "local old = redis.call('GET', KEYS[1])\n"
    "if ARGV[4] == '1' and old then return {-1} end\n"
    "if ARGV[4] == '0' and not old then return {-1} end\n"
    "local owner = redis.call('HGET', KEYS[2], ARGV[3])\n"
    "if owner and owner ~= ARGV[2] then return {-2, owner} end\n"
    "if old then\n"
    "  local ok, t = pcall(cjson.decode, old)\n"
    "  if ok and t['name'] and t['name'] ~= ARGV[3] then redis.call('HDEL', KEYS[2], t['name']) "
    "end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])\n"
    "if ARGV[4] == '1' then redis.call('HSETNX', KEYS[4], ARGV[2], '0:' .. ARGV[5]) end\n"
    "redis.call('INCR', KEYS[3])\n"
    "return {1}\n";

/* KEYS: doc, names, version, state, then the endpoint's wait keys (store/waits.c: the last is
 * the waits' version, bumped). ARGV: id. */
static const char delete_script[] =
    "local old = redis.call('GET', KEYS[1])\n"
    "if not old then return -1 end\n"
    "for i = 5, 11 do redis.call('DEL', KEYS[i]) end\n"
    "redis.call('INCR', KEYS[12])\n"
    "local ok, t = pcall(cjson.decode, old)\n"
    "if ok and t['name'] and redis.call('HGET', KEYS[2], t['name']) == ARGV[1] then\n"
    "  redis.call('HDEL', KEYS[2], t['name'])\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HDEL', KEYS[4], ARGV[1])\n"
    "redis.call('INCR', KEYS[3])\n"
    "return 1\n";

/* KEYS: doc, state, version. ARGV: id, verified (0/1), ms. Only a change is written. */
static const char state_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "local cur = redis.call('HGET', KEYS[2], ARGV[1])\n"
    "if cur and string.sub(cur, 1, 1) == ARGV[2] then return 0 end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. ARGV[3])\n"
    "redis.call('INCR', KEYS[3])\n"
    "return 1\n";

int hk_store_inbound_put(hk_store *s, const char *id, const char *name, const char *json,
                         bool create, uint64_t now_ms, hk_error *err)
{
    char *doc = hk_store__key(&s->cfg, "inbound:", id, NULL);
    char *names = hk_store__key(&s->cfg, "inbound:names", NULL, NULL);
    char *version = hk_store__key(&s->cfg, "inbound:version", NULL, NULL);
    char *state = hk_store__key(&s->cfg, "inbound:state", NULL, NULL);
    char ms[24];
    snprintf(ms, sizeof ms, "%llu", (unsigned long long)now_ms);
    redisReply *r = redisCommand(s->rc, "EVAL %s 4 %s %s %s %s %s %s %s %s %s", put_script, doc,
                                 names, version, state, json, id, name, create ? "1" : "0", ms);
    free(doc);
    free(names);
    free(version);
    free(state);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return hk_store__failed(s, r, err);
    long long code = r->element[0]->integer;
    int rc = HK_OK;
    if (code == -1)
        rc = create ? hk_error_set(err, HK_EINVAL, "id", "inbound endpoint %s already exists", id)
                    : hk_error_set(err, HK_ENOTFOUND, NULL, "inbound endpoint %s not found", id);
    else if (code == -2)
        rc = hk_error_set(err, HK_EINVAL, "name", "already used by inbound endpoint %.64s",
                          r->elements > 1 && r->element[1]->str ? r->element[1]->str : "?");
    freeReplyObject(r);
    return rc;
}

int hk_store_inbound_get(hk_store *s, const char *id, char **json, hk_error *err)
{
    *json = NULL;
    char *doc = hk_store__key(&s->cfg, "inbound:", id, NULL);
    redisReply *r = redisCommand(s->rc, "GET %s", doc);
    free(doc);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
        return hk_store__failed(s, r, err);
    int rc = HK_OK;
    if (r->type == REDIS_REPLY_NIL)
        rc = hk_error_set(err, HK_ENOTFOUND, NULL, "inbound endpoint %s not found", id);
    else
        *json = hk_strndup(r->str, r->len);
    freeReplyObject(r);
    return rc;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int hk_store_inbound_list(hk_store *s, char ***jsons, size_t *n, hk_error *err)
{
    *jsons = NULL;
    *n = 0;
    char *names = hk_store__key(&s->cfg, "inbound:names", NULL, NULL);
    redisReply *ids = redisCommand(s->rc, "HVALS %s", names);
    free(names);
    if (!ids || ids->type != REDIS_REPLY_ARRAY)
        return hk_store__failed(s, ids, err);
    char **id_list = hk_xcalloc(ids->elements + 1, sizeof *id_list);
    for (size_t i = 0; i < ids->elements; i++)
        id_list[i] = ids->element[i]->str;
    qsort(id_list, ids->elements, sizeof *id_list, by_text);
    char **out = hk_xcalloc(ids->elements + 1, sizeof *out);
    size_t got = 0;
    int rc = HK_OK;
    for (size_t i = 0; i < ids->elements && rc == HK_OK; i++) {
        char *json = NULL;
        rc = hk_store_inbound_get(s, id_list[i], &json, err);
        if (rc == HK_ENOTFOUND) { /* deleted between the two reads */
            rc = HK_OK;
            continue;
        }
        if (rc == HK_OK)
            out[got++] = json;
    }
    free(id_list);
    freeReplyObject(ids);
    if (rc != HK_OK) {
        for (size_t i = 0; i < got; i++)
            free(out[i]);
        free(out);
        return rc;
    }
    *jsons = out;
    *n = got;
    return HK_OK;
}

/* inbound:recent:<id>: the endpoint's recent requests (hk_store_inbound_recent). */
static char *recent_key_of(const char *prefix, const char *endpoint_id)
{
    hk_buf k = {0};
    hk_buf_puts(&k, prefix);
    hk_buf_puts(&k, "inbound:recent:");
    hk_buf_puts(&k, endpoint_id);
    return k.data;
}

int hk_store_inbound_delete(hk_store *s, const char *id, hk_error *err)
{
    char *doc = hk_store__key(&s->cfg, "inbound:", id, NULL);
    char *names = hk_store__key(&s->cfg, "inbound:names", NULL, NULL);
    char *version = hk_store__key(&s->cfg, "inbound:version", NULL, NULL);
    char *state = hk_store__key(&s->cfg, "inbound:state", NULL, NULL);
    char *w[8]; /* waits, data, index, shapes, counts, version, holds, held */
    hk_store__wait_keys(s->cfg.prefix, id, w);
    redisReply *r =
        redisCommand(s->rc, "EVAL %s 12 %s %s %s %s %s %s %s %s %s %s %s %s %s", delete_script, doc,
                     names, version, state, w[0], w[1], w[2], w[3], w[4], w[6], w[7], w[5], id);
    free(doc);
    free(names);
    free(version);
    free(state);
    for (int i = 0; i < 8; i++)
        free(w[i]);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        return hk_store__failed(s, r, err);
    int rc = r->integer == -1
                 ? hk_error_set(err, HK_ENOTFOUND, NULL, "inbound endpoint %s not found", id)
                 : HK_OK;
    freeReplyObject(r);
    if (rc == HK_OK) { /* its recent requests go with it (outside the script: a log, not state) */
        char *recent = recent_key_of(s->cfg.prefix, id);
        redisReply *d = redisCommand(s->rc, "DEL %s", recent);
        free(recent);
        if (!d || d->type == REDIS_REPLY_ERROR)
            return hk_store__failed(s, d, err);
        freeReplyObject(d);
    }
    return rc;
}

int hk_store_inbound_set_state(hk_store *s, const char *id, bool verified, uint64_t at_ms,
                               bool *changed, hk_error *err)
{
    char *doc = hk_store__key(&s->cfg, "inbound:", id, NULL);
    char *state = hk_store__key(&s->cfg, "inbound:state", NULL, NULL);
    char *version = hk_store__key(&s->cfg, "inbound:version", NULL, NULL);
    char ms[24];
    snprintf(ms, sizeof ms, "%llu", (unsigned long long)at_ms);
    redisReply *r = redisCommand(s->rc, "EVAL %s 3 %s %s %s %s %s %s", state_script, doc, state,
                                 version, id, verified ? "1" : "0", ms);
    free(doc);
    free(state);
    free(version);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        return hk_store__failed(s, r, err);
    long long code = r->integer;
    freeReplyObject(r);
    if (changed)
        *changed = code == 1;
    if (code == -1)
        return hk_error_set(err, HK_ENOTFOUND, NULL, "inbound endpoint %s not found", id);
    return HK_OK;
}

int hk_store_inbound_get_state(hk_store *s, const char *id, bool *verified, uint64_t *at_ms,
                               hk_error *err)
{
    *verified = false;
    *at_ms = 0;
    char *state = hk_store__key(&s->cfg, "inbound:state", NULL, NULL);
    redisReply *r = redisCommand(s->rc, "HGET %s %s", state, id);
    free(state);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
        return hk_store__failed(s, r, err);
    if (r->type == REDIS_REPLY_STRING && r->len >= 2 && r->str[1] == ':') {
        *verified = r->str[0] == '1';
        *at_ms = strtoull(r->str + 2, NULL, 10);
    }
    freeReplyObject(r);
    return HK_OK;
}

/* --------------------------------------------------------------- recent requests --- */

int hk_store_inbound_recent(hk_store *s, const char *endpoint_id, char ***entries, size_t *n,
                            hk_error *err)
{
    *entries = NULL;
    *n = 0;
    char *key = recent_key_of(s->cfg.prefix, endpoint_id);
    redisReply *r = redisCommand(s->rc, "LRANGE %s 0 %d", key, HK_STORE_RECENT_KEEP - 1);
    free(key);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return hk_store__failed(s, r, err);
    char **out = hk_xcalloc(r->elements + 1, sizeof *out);
    size_t got = 0;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            out[got++] = hk_strndup(r->element[i]->str, r->element[i]->len);
    freeReplyObject(r);
    *entries = out;
    *n = got;
    return HK_OK;
}

/* ---------------------------------------------------------------------- duplicates --- */

static char *seen_key_of(const char *prefix, const char *endpoint_id, const char *event_id)
{
    hk_buf k = {0}; /* per request, twice: no format to parse */
    hk_buf_puts(&k, prefix);
    hk_buf_puts(&k, "inbound:seen:");
    hk_buf_puts(&k, endpoint_id);
    hk_buf_puts(&k, ":");
    hk_buf_puts(&k, event_id);
    return k.data;
}

static char *seen_key(hk_store *s, const char *endpoint_id, const char *event_id)
{
    return seen_key_of(s->cfg.prefix, endpoint_id, event_id);
}

/* A claim is SET NX (a plain command, no script: the common case costs Redis one command); only
 * when the id is taken does a GET say whether it is done or pending. An id that expires between
 * the two reads as pending (503: the provider's retry claims it). SET NX ... GET would do both
 * in one, but needs Redis 7. */
static const char RELEASE_SCRIPT[] = "if redis.call('GET', KEYS[1]) == 'pending' then "
                                     "return redis.call('DEL', KEYS[1]) end return 0";

/* SET NX's reply: claimed (OK), or taken (nil); false for anything else. */
static bool set_nx_of(const redisReply *r, bool *claimed)
{
    if (!r || (r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_NIL))
        return false;
    *claimed = r->type == REDIS_REPLY_STATUS;
    return true;
}

/* The GET of a taken id: done, or pending (also when it expired meanwhile). */
static bool taken_of(const redisReply *r, hk_event_claim *out)
{
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
        return false;
    *out = r->type == REDIS_REPLY_STRING && strcmp(r->str, "done") == 0 ? HK_EVENT_DONE
                                                                        : HK_EVENT_PENDING;
    return true;
}

int hk_store_inbound_event_claim(hk_store *s, const char *endpoint_id, const char *event_id,
                                 int pending_ttl_s, hk_event_claim *out, hk_error *err)
{
    char *key = seen_key(s, endpoint_id, event_id);
    redisReply *r = redisCommand(s->rc, "SET %s pending NX EX %d", key, pending_ttl_s);
    bool claimed = false;
    int rc = HK_OK;
    if (!set_nx_of(r, &claimed)) {
        rc = hk_store__failed(s, r, err);
    } else if (claimed) {
        *out = HK_EVENT_CLAIMED;
        freeReplyObject(r);
    } else {
        freeReplyObject(r);
        r = redisCommand(s->rc, "GET %s", key);
        if (!taken_of(r, out))
            rc = hk_store__failed(s, r, err);
        else
            freeReplyObject(r);
    }
    free(key);
    return rc;
}

int hk_store_inbound_event_done(hk_store *s, const char *endpoint_id, const char *event_id,
                                int ttl_s, hk_error *err)
{
    char *key = seen_key(s, endpoint_id, event_id);
    redisReply *r = redisCommand(s->rc, "SET %s done EX %d", key, ttl_s);
    free(key);
    if (!r || r->type != REDIS_REPLY_STATUS)
        return hk_store__failed(s, r, err);
    freeReplyObject(r);
    return HK_OK;
}

int hk_store_inbound_event_release(hk_store *s, const char *endpoint_id, const char *event_id,
                                   hk_error *err)
{
    char *key = seen_key(s, endpoint_id, event_id);
    redisReply *r = redisCommand(s->rc, "EVAL %s 1 %s", RELEASE_SCRIPT, key);
    free(key);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        return hk_store__failed(s, r, err);
    freeReplyObject(r);
    return HK_OK;
}

int hk_store_inbound_version(hk_store *s, long long *out, hk_error *err)
{
    char *key = hk_store__key(&s->cfg, "inbound:version", NULL, NULL);
    redisReply *r = redisCommand(s->rc, "GET %s", key);
    free(key);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
        return hk_store__failed(s, r, err);
    *out = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    return HK_OK;
}

/* ------------------------------------------------------------------- on a loop --- */

typedef struct claim_call {
    hk_store_async *a;
    char *key;
    hk_event_claim_cb cb;
    void *arg;
} claim_call;

static void claim_done(claim_call *c, int rc, hk_event_claim claim, const redisReply *r)
{
    if (r && rc != HK_OK)
        HK_WARN("redis", "claiming an event id: %s", r->str ? r->str : "an unexpected reply");
    hk_event_claim_cb cb = c->cb;
    void *arg = c->arg;
    free(c->key);
    free(c);
    cb(rc, claim, arg);
}

/* A command of argc strings, with no format for hiredis to parse. */
static int async_cmd(hk_store_async *a, hk_store__async_cb cb, void *arg, const char **argv,
                     int argc)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return hk_store__async_argv(a, cb, arg, argc, argv, lens);
}

static void on_taken(redisReply *r, void *arg)
{
    hk_event_claim claim = HK_EVENT_PENDING;
    int rc = taken_of(r, &claim) ? HK_OK : HK_ERR; /* before claim is read as an argument */
    claim_done(arg, rc, claim, r);
}

static void on_set_nx(redisReply *r, void *arg)
{
    claim_call *c = arg;
    bool claimed = false;
    if (!set_nx_of(r, &claimed))
        claim_done(c, HK_ERR, HK_EVENT_PENDING, r);
    else if (claimed)
        claim_done(c, HK_OK, HK_EVENT_CLAIMED, r);
    else if (async_cmd(c->a, on_taken, c, (const char *[]){"GET", c->key}, 2) != HK_OK)
        claim_done(c, HK_ERR, HK_EVENT_PENDING, NULL);
}

int hk_store_inbound_event_claim_async(hk_store_async *a, const char *endpoint_id,
                                       const char *event_id, int pending_ttl_s,
                                       hk_event_claim_cb cb, void *arg)
{
    claim_call *c = hk_xcalloc(1, sizeof *c);
    *c = (claim_call){.a = a,
                      .key = seen_key_of(hk_store__async_prefix(a), endpoint_id, event_id),
                      .cb = cb,
                      .arg = arg};
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", pending_ttl_s);
    int rc =
        async_cmd(a, on_set_nx, c, (const char *[]){"SET", c->key, "pending", "NX", "EX", ttl}, 6);
    if (rc != HK_OK) {
        free(c->key);
        free(c);
    }
    return rc;
}

/* A reply nobody waits for: an error is logged (a failed connection was logged already). */
static void on_unanswered(redisReply *r, void *arg)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        HK_WARN("redis", "%s: %s", (const char *)arg, r->str);
}

void hk_store_inbound_event_done_async(hk_store_async *a, const char *endpoint_id,
                                       const char *event_id, int ttl_s)
{
    char *key = seen_key_of(hk_store__async_prefix(a), endpoint_id, event_id);
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    async_cmd(a, on_unanswered, "marking an event id done",
              (const char *[]){"SET", key, "done", "EX", ttl}, 5);
    free(key);
}

void hk_store_inbound_event_release_async(hk_store_async *a, const char *endpoint_id,
                                          const char *event_id)
{
    char *key = seen_key_of(hk_store__async_prefix(a), endpoint_id, event_id);
    hk_store__async_command(a, on_unanswered, "releasing an event id", "EVAL %s 1 %s",
                            RELEASE_SCRIPT, key);
    free(key);
}

void hk_store_inbound_recent_push_async(hk_store_async *a, const char *endpoint_id,
                                        const char *entry)
{
    char *key = recent_key_of(hk_store__async_prefix(a), endpoint_id);
    char keep[16], ttl[16];
    snprintf(keep, sizeof keep, "%d", HK_STORE_RECENT_KEEP - 1);
    snprintf(ttl, sizeof ttl, "%d", HK_STORE_RECENT_TTL_S);
    /* three commands, written together: hiredis sends what is queued in one write */
    async_cmd(a, on_unanswered, "recording a recent request", (const char *[]){"LPUSH", key, entry},
              3);
    async_cmd(a, on_unanswered, "trimming the recent requests",
              (const char *[]){"LTRIM", key, "0", keep}, 4);
    async_cmd(a, on_unanswered, "renewing the recent requests",
              (const char *[]){"EXPIRE", key, ttl}, 3);
    free(key);
}
