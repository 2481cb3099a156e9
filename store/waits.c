/*
 * waits.c — flows' waits on inbound endpoints, and claiming them for a request exactly once.
 * Every step is one Lua script on the endpoint's keys, so a wait is indexed, claimed, held,
 * put back or expired whole, whatever number of hookd-ingress processes run at once. Times are
 * Redis's clock (TIME), the one clock every process shares.
 *
 *   <prefix>inbound:waits:<id>          zset: ref -> when it expires (ms): the waits
 *   <prefix>inbound:waits:<id>:data     hash: ref ->
 * "<shape>:<digest>|<createdMs>|<ttlS>|<matches>" <prefix>inbound:waits:<id>:index    zset, every
 * score 0: "<shape>:<digest>:<ref>", read by prefix (ZRANGEBYLEX): the waits a request's values
 * match <prefix>inbound:waits:<id>:shapes   hash: shape -> its paths (a JSON array)
 *   <prefix>inbound:waits:<id>:counts   hash: shape -> how many waits have it
 *   <prefix>inbound:waits:<id>:version  bumped whenever a shape comes or goes
 *   <prefix>inbound:waits:<id>:holds    zset: record id -> when its hold lapses (ms)
 *   <prefix>inbound:waits:<id>:held     hash: record id -> the waits it claimed (JSON), to put back
 *
 * A wait is live while its expiry is after Redis's now. A shape id and a digest are 32 hex
 * digits each (inbound/), so an index member's ref starts at byte 67.
 */
#include "conn.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { K_WAITS, K_DATA, K_INDEX, K_SHAPES, K_COUNTS, K_VERSION, K_HOLDS, K_HELD, K__COUNT };
static const char *const key_suffix[K__COUNT] = {"",        ":data",    ":index", ":shapes",
                                                 ":counts", ":version", ":holds", ":held"};

/* Functions every script shares. KEYS[1..8] are the endpoint's keys in the order above. */
#define PRELUDE                                                                                    \
    "local function now_ms()\n"                                                                    \
    "  local t = redis.call('TIME')\n"                                                             \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                         \
    "end\n"                                                                                        \
    "local function ms(x) return string.format('%.0f', x) end\n"                                   \
    "local function member_of(data) return string.sub(data, 1, 65) end\n"                          \
    "local function unindex(ref, data)\n"                                                          \
    "  local shape = string.sub(data, 1, 32)\n"                                                    \
    "  redis.call('ZREM', KEYS[1], ref)\n"                                                         \
    "  redis.call('HDEL', KEYS[2], ref)\n"                                                         \
    "  redis.call('ZREM', KEYS[3], member_of(data) .. ':' .. ref)\n"                               \
    "  if redis.call('HINCRBY', KEYS[5], shape, -1) <= 0 then\n"                                   \
    "    redis.call('HDEL', KEYS[5], shape)\n"                                                     \
    "    redis.call('HDEL', KEYS[4], shape)\n"                                                     \
    "    redis.call('INCR', KEYS[6])\n"                                                            \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "local function index(ref, data, exp, shape_json)\n"                                           \
    "  local shape = string.sub(data, 1, 32)\n"                                                    \
    "  redis.call('ZADD', KEYS[1], exp, ref)\n"                                                    \
    "  redis.call('HSET', KEYS[2], ref, data)\n"                                                   \
    "  redis.call('ZADD', KEYS[3], 0, member_of(data) .. ':' .. ref)\n"                            \
    "  if redis.call('HINCRBY', KEYS[5], shape, 1) == 1 then\n"                                    \
    "    redis.call('HSET', KEYS[4], shape, shape_json)\n"                                         \
    "    redis.call('INCR', KEYS[6])\n"                                                            \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "local function restore(rec, now)\n"                                                           \
    "  local held = redis.call('HGET', KEYS[8], rec)\n"                                            \
    "  redis.call('HDEL', KEYS[8], rec)\n"                                                         \
    "  redis.call('ZREM', KEYS[7], rec)\n"                                                         \
    "  local back, gone = 0, 0\n"                                                                  \
    "  if not held then return back, gone end\n"                                                   \
    "  for _, w in ipairs(cjson.decode(held)) do\n"                                                \
    "    if tonumber(w[3]) > now and redis.call('HEXISTS', KEYS[2], w[1]) == 0 then\n"             \
    "      index(w[1], w[2], w[3], w[4])\n"                                                        \
    "      back = back + 1\n"                                                                      \
    "    else\n"                                                                                   \
    "      gone = gone + 1\n"                                                                      \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "  return back, gone\n"                                                                        \
    "end\n"

/* KEYS[9]: the endpoint. ARGV: ref, "<shape>:<digest>", shape JSON, ttl s, matches, max
 * shapes. {-1}: no endpoint; {-2}: one shape too many; else {replaced, created, expires}. */
static const char put_script[] = PRELUDE
    "if redis.call('EXISTS', KEYS[9]) == 0 then return {-1} end\n"
    "local shape = string.sub(ARGV[2], 1, 32)\n"
    "local old = redis.call('HGET', KEYS[2], ARGV[1])\n"
    "if redis.call('HEXISTS', KEYS[5], shape) == 0 then\n"
    "  local shapes = redis.call('HLEN', KEYS[5])\n"
    "  if old and tonumber(redis.call('HGET', KEYS[5], string.sub(old, 1, 32))) == 1 then\n"
    "    shapes = shapes - 1\n"
    "  end\n"
    "  if shapes >= tonumber(ARGV[6]) then return {-2} end\n"
    "end\n"
    "if old then unindex(ARGV[1], old) end\n"
    "local now = now_ms()\n"
    "local exp = now + tonumber(ARGV[4]) * 1000\n"
    "index(ARGV[1], ARGV[2] .. '|' .. ms(now) .. '|' .. ARGV[4] .. '|' .. ARGV[5], exp, ARGV[3])\n"
    "return {old and 1 or 0, now, exp}\n";

/* ARGV: ref or '' (every wait). The live waits, soonest to expire first: {ref, expiry, data}
 * in a row for each. */
static const char read_script[] =
    PRELUDE "local now = now_ms()\n"
            "local out = {}\n"
            "local refs\n"
            "if ARGV[1] ~= '' then\n"
            "  local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
            "  refs = exp and {ARGV[1], exp} or {}\n"
            "else\n"
            "  refs = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ms(now), '+inf', 'WITHSCORES')\n"
            "end\n"
            "for i = 1, #refs, 2 do\n"
            "  local data = redis.call('HGET', KEYS[2], refs[i])\n"
            "  if data and tonumber(refs[i + 1]) > now then\n"
            "    out[#out + 1] = refs[i]\n"
            "    out[#out + 1] = refs[i + 1]\n"
            "    out[#out + 1] = data\n"
            "  end\n"
            "end\n"
            "return out\n";

/* ARGV: ref. 1: deleted; 0: there was no live wait with the ref (an expired one is removed; one
 * held by a request in flight is taken out of its hold, so that a record that then fails does
 * not put it back). */
static const char delete_script[] =
    PRELUDE "local data = redis.call('HGET', KEYS[2], ARGV[1])\n"
            "if not data then\n"
            "  redis.call('ZREM', KEYS[1], ARGV[1])\n"
            "  local held = redis.call('HGETALL', KEYS[8])\n"
            "  for i = 1, #held, 2 do\n"
            "    local keep, found = {}, false\n"
            "    for _, w in ipairs(cjson.decode(held[i + 1])) do\n"
            "      if w[1] == ARGV[1] then found = true else keep[#keep + 1] = w end\n"
            "    end\n"
            "    if found and #keep > 0 then\n"
            "      redis.call('HSET', KEYS[8], held[i], cjson.encode(keep))\n"
            "    elseif found then\n"
            "      redis.call('HDEL', KEYS[8], held[i])\n"
            "      redis.call('ZREM', KEYS[7], held[i])\n"
            "    end\n"
            "  end\n"
            "  return 0\n"
            "end\n"
            "local exp = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0')\n"
            "unindex(ARGV[1], data)\n"
            "if exp > now_ms() then return 1 end\n"
            "return 0\n";

static const char count_script[] =
    PRELUDE "return redis.call('ZCOUNT', KEYS[1], '(' .. ms(now_ms()), '+inf')\n";

/* ARGV: max. {expired, restored, live}. */
static const char sweep_script[] = PRELUDE
    "local now = now_ms()\n"
    "local max = tonumber(ARGV[1])\n"
    "local expired, restored = 0, 0\n"
    "for _, ref in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms(now), 'LIMIT', 0, "
    "max)) do\n"
    "  local data = redis.call('HGET', KEYS[2], ref)\n"
    "  if data then unindex(ref, data) else redis.call('ZREM', KEYS[1], ref) end\n"
    "  expired = expired + 1\n"
    "end\n"
    "for _, rec in ipairs(redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', ms(now), 'LIMIT', 0, "
    "max)) do\n"
    "  local back, gone = restore(rec, now)\n"
    "  restored = restored + back\n"
    "  expired = expired + gone\n"
    "end\n"
    "return {expired, restored, redis.call('ZCOUNT', KEYS[1], '(' .. ms(now), '+inf')}\n";

/* KEYS[9]: the event id's key. ARGV: version, record id, claim the event id (1/0), pending
 * ttl s, then the lookups. {'done'}, {'pending'}: the event id is taken; else it is claimed, and
 * {'stale', version, {shape, json, ...}} (no wait claimed) or {'ok', version, {ref, ...},
 * expired}. */
static const char accept_script[] = PRELUDE
    "if ARGV[3] == '1' and not redis.call('SET', KEYS[9], 'pending', 'NX', 'EX', ARGV[4]) then\n"
    "  if redis.call('GET', KEYS[9]) == 'done' then return {'done'} end\n"
    "  return {'pending'}\n"
    "end\n"
    "local ver = tonumber(redis.call('GET', KEYS[6]) or '0')\n"
    "if ver ~= tonumber(ARGV[1]) then\n"
    "  return {'stale', ver, redis.call('HGETALL', KEYS[4])}\n"
    "end\n"
    "if #ARGV < 5 then return {'ok', ver, {}, 0} end\n"
    "local now = now_ms()\n"
    "local claimed, held, expired = {}, {}, 0\n"
    "for i = 5, #ARGV do\n"
    "  local from, to = '[' .. ARGV[i] .. ':', '(' .. ARGV[i] .. ';'\n"
    "  for _, m in ipairs(redis.call('ZRANGEBYLEX', KEYS[3], from, to)) do\n"
    "    local ref = string.sub(m, 67)\n"
    "    local exp = tonumber(redis.call('ZSCORE', KEYS[1], ref) or '0')\n"
    "    local data = redis.call('HGET', KEYS[2], ref)\n"
    "    if not data then\n"
    "      redis.call('ZREM', KEYS[3], m)\n"
    "    elseif exp <= now then\n"
    "      unindex(ref, data)\n"
    "      expired = expired + 1\n"
    "    else\n"
    "      held[#held + 1] = {ref, data, ms(exp), "
    "redis.call('HGET', KEYS[4], string.sub(data, 1, 32))}\n"
    "      unindex(ref, data)\n"
    "      claimed[#claimed + 1] = ref\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if #held > 0 then\n"
    "  redis.call('HSET', KEYS[8], ARGV[2], cjson.encode(held))\n"
    "  redis.call('ZADD', KEYS[7], now + tonumber(ARGV[4]) * 1000, ARGV[2])\n"
    "end\n"
    "return {'ok', tonumber(redis.call('GET', KEYS[6]) or '0'), claimed, expired}\n";

/* KEYS[9]: the event id's key. ARGV: record id, has an event id (1/0), done ttl s. */
static const char done_script[] =
    "if ARGV[2] == '1' then redis.call('SET', KEYS[9], 'done', 'EX', ARGV[3]) end\n"
    "redis.call('ZREM', KEYS[7], ARGV[1])\n"
    "redis.call('HDEL', KEYS[8], ARGV[1])\n"
    "return 1\n";

/* KEYS[9]: the event id's key. ARGV: record id, has an event id (1/0). {back, gone}. */
static const char release_script[] =
    PRELUDE "if ARGV[2] == '1' and redis.call('GET', KEYS[9]) == 'pending' then\n"
            "  redis.call('DEL', KEYS[9])\n"
            "end\n"
            "local back, gone = restore(ARGV[1], now_ms())\n"
            "return {back, gone}\n";

/* ------------------------------------------------------------------------- keys --- */

/* The endpoint's keys, then (K__COUNT) the event id's, "<prefix>inbound:seen:<id>:<event>",
 * or with no event id the endpoint's own, which scripts only test for. One allocation. */
typedef struct keys {
    char *buf;
    const char *k[K__COUNT + 1];
    size_t len[K__COUNT + 1];
} keys;

static void keys_make(keys *ks, const char *prefix, const char *endpoint_id, const char *event_id)
{
    hk_buf b = {0}; /* per request: no format to parse */
    size_t at[K__COUNT + 1];
    bool seen = event_id && *event_id;
    for (int i = 0; i <= K__COUNT; i++) {
        at[i] = b.len;
        hk_buf_puts(&b, prefix);
        hk_buf_puts(&b, i < K__COUNT ? "inbound:waits:" : seen ? "inbound:seen:" : "inbound:");
        hk_buf_puts(&b, endpoint_id);
        if (i < K__COUNT) {
            hk_buf_puts(&b, key_suffix[i]);
        } else if (seen) {
            hk_buf_puts(&b, ":");
            hk_buf_puts(&b, event_id);
        }
        ks->len[i] = b.len - at[i];
        hk_buf_append(&b, "", 1);
    }
    ks->buf = b.data;
    for (int i = 0; i <= K__COUNT; i++)
        ks->k[i] = b.data + at[i];
}

static void keys_free(keys *ks)
{
    free(ks->buf);
    ks->buf = NULL;
}

/* A script's command: EVAL (or EVALSHA with sha) script 9 keys... args... */
typedef struct script_call {
    const char *argv[K__COUNT + 8 + 3 + HK_STORE_ACCEPT_LOOKUPS_MAX];
    size_t lens[K__COUNT + 8 + 3 + HK_STORE_ACCEPT_LOOKUPS_MAX];
    int argc;
} script_call;

static void call_init(script_call *c, const char *script, const keys *ks)
{
    c->argc = 0;
    c->argv[c->argc] = "EVAL";
    c->lens[c->argc++] = 4;
    c->argv[c->argc] = script;
    c->lens[c->argc++] = strlen(script);
    c->argv[c->argc] = "9";
    c->lens[c->argc++] = 1;
    for (int i = 0; i <= K__COUNT; i++) {
        c->argv[c->argc] = ks->k[i];
        c->lens[c->argc++] = ks->len[i];
    }
}

static void call_arg(script_call *c, const char *s)
{
    c->argv[c->argc] = s;
    c->lens[c->argc++] = strlen(s);
}

/* --------------------------------------------------------------------- sync --- */

/* Runs script on the endpoint's keys (and the event id's, or the endpoint's, as the ninth) with
 * args. */
static redisReply *run(hk_store *s, const char *script, const char *endpoint_id,
                       const char *event_id, const char *const *args, int nargs)
{
    keys ks;
    keys_make(&ks, s->cfg.prefix, endpoint_id, event_id);
    script_call c;
    call_init(&c, script, &ks);
    for (int i = 0; i < nargs; i++)
        call_arg(&c, args[i]);
    redisReply *r = redisCommandArgv(s->rc, c.argc, c.argv, c.lens);
    keys_free(&ks);
    return r;
}

static long long int_at(const redisReply *r, size_t i)
{
    if (r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return 0;
    const redisReply *e = r->element[i];
    return e->type == REDIS_REPLY_INTEGER  ? e->integer
           : e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10)
                                           : 0;
}

/* A wait from its ref, expiry and data ("<member>|<created>|<ttl>|<matches>"). */
static bool info_of(const char *ref, long long expires, const char *data, hk_store_wait_info *out)
{
    const char *a = strchr(data, '|');
    const char *b = a ? strchr(a + 1, '|') : NULL;
    const char *c = b ? strchr(b + 1, '|') : NULL;
    if (!c)
        return false;
    *out = (hk_store_wait_info){.ref = hk_strdup(ref),
                                .matches_json = hk_strdup(c + 1),
                                .ttl_s = strtoll(b + 1, NULL, 10),
                                .created_ms = strtoll(a + 1, NULL, 10),
                                .expires_ms = expires};
    return true;
}

void hk_store_wait_info_clear(hk_store_wait_info *w)
{
    if (!w)
        return;
    free(w->ref);
    free(w->matches_json);
    *w = (hk_store_wait_info){0};
}

void hk_store_wait_list_free(hk_store_wait_info *ws, size_t n)
{
    for (size_t i = 0; ws && i < n; i++)
        hk_store_wait_info_clear(&ws[i]);
    free(ws);
}

int hk_store_wait_put(hk_store *s, const char *endpoint_id, const hk_store_wait *w, int max_shapes,
                      bool *replaced, hk_store_wait_info *out, hk_error *err)
{
    char member[128], ttl[24], max[16];
    snprintf(member, sizeof member, "%s:%s", w->shape, w->digest);
    snprintf(ttl, sizeof ttl, "%lld", (long long)w->ttl_s);
    snprintf(max, sizeof max, "%d", max_shapes);
    const char *args[] = {w->ref, member, w->shape_json, ttl, w->matches_json, max};
    redisReply *r = run(s, put_script, endpoint_id, NULL, args, 6); /* KEYS[9]: the endpoint */
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return hk_store__failed(s, r, err);
    long long code = int_at(r, 0);
    int rc = HK_OK;
    if (code == -1) {
        rc = hk_error_set(err, HK_ENOTFOUND, NULL, "inbound endpoint %s not found", endpoint_id);
    } else if (code == -2) {
        rc = hk_error_set(err, HK_ELIMIT, "matches",
                          "inbound endpoint %s already has waits on %d different sets of paths "
                          "(the most it takes): use one of those sets",
                          endpoint_id, max_shapes);
    } else {
        hk_counter_add(&hk_store_metrics.waits_registered, 1);
        if (replaced)
            *replaced = code == 1;
        if (out)
            *out = (hk_store_wait_info){.ref = hk_strdup(w->ref),
                                        .matches_json = hk_strdup(w->matches_json),
                                        .ttl_s = w->ttl_s,
                                        .created_ms = int_at(r, 1),
                                        .expires_ms = int_at(r, 2)};
    }
    freeReplyObject(r);
    return rc;
}

/* The read script's answer as waits. */
static int read_waits(hk_store *s, const char *endpoint_id, const char *ref,
                      hk_store_wait_info **out, size_t *n, hk_error *err)
{
    *out = NULL;
    *n = 0;
    redisReply *r = run(s, read_script, endpoint_id, NULL, (const char *[]){ref}, 1);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 3)
        return hk_store__failed(s, r, err);
    hk_store_wait_info *ws = hk_xcalloc(r->elements / 3 + 1, sizeof *ws);
    size_t got = 0;
    for (size_t i = 0; i + 2 < r->elements; i += 3) {
        const redisReply *e = r->element[i + 2];
        if (e->type == REDIS_REPLY_STRING && r->element[i]->type == REDIS_REPLY_STRING &&
            info_of(r->element[i]->str, int_at(r, i + 1), e->str, &ws[got]))
            got++;
    }
    freeReplyObject(r);
    *out = ws;
    *n = got;
    return HK_OK;
}

int hk_store_wait_list(hk_store *s, const char *endpoint_id, hk_store_wait_info **out, size_t *n,
                       hk_error *err)
{
    return read_waits(s, endpoint_id, "", out, n, err);
}

int hk_store_wait_get(hk_store *s, const char *endpoint_id, const char *ref,
                      hk_store_wait_info *out, hk_error *err)
{
    *out = (hk_store_wait_info){0};
    hk_store_wait_info *ws = NULL;
    size_t n = 0;
    int rc = read_waits(s, endpoint_id, ref, &ws, &n, err);
    if (rc == HK_OK && n == 0)
        rc = hk_error_set(err, HK_ENOTFOUND, NULL, "no live wait %.200s on inbound endpoint %s",
                          ref, endpoint_id);
    if (rc == HK_OK) {
        *out = ws[0];
        ws[0] = (hk_store_wait_info){0};
    }
    hk_store_wait_list_free(ws, n);
    return rc;
}

int hk_store_wait_delete(hk_store *s, const char *endpoint_id, const char *ref, hk_error *err)
{
    redisReply *r = run(s, delete_script, endpoint_id, NULL, (const char *[]){ref}, 1);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        return hk_store__failed(s, r, err);
    long long code = r->integer;
    freeReplyObject(r);
    if (code != 1)
        return hk_error_set(err, HK_ENOTFOUND, NULL, "no live wait %.200s on inbound endpoint %s",
                            ref, endpoint_id);
    return HK_OK;
}

int hk_store_wait_count(hk_store *s, const char *endpoint_id, long long *out, hk_error *err)
{
    redisReply *r = run(s, count_script, endpoint_id, NULL, NULL, 0);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        return hk_store__failed(s, r, err);
    *out = r->integer;
    freeReplyObject(r);
    return HK_OK;
}

int hk_store_wait_sweep(hk_store *s, const char *endpoint_id, int max, hk_store_wait_swept *out,
                        hk_error *err)
{
    char m[16];
    snprintf(m, sizeof m, "%d", max > 0 ? max : 1);
    redisReply *r = run(s, sweep_script, endpoint_id, NULL, (const char *[]){m}, 1);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return hk_store__failed(s, r, err);
    *out = (hk_store_wait_swept){
        .expired = int_at(r, 0), .restored = int_at(r, 1), .live = int_at(r, 2)};
    freeReplyObject(r);
    return HK_OK;
}

int hk_store_inbound_accept_release(hk_store *s, const char *endpoint_id, const char *record_id,
                                    const char *event_id, hk_error *err)
{
    const char *args[] = {record_id, event_id && *event_id ? "1" : "0"};
    redisReply *r = run(s, release_script, endpoint_id, event_id, args, 2);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return hk_store__failed(s, r, err);
    freeReplyObject(r);
    return HK_OK;
}

/* The keys the endpoint's deletion removes with it (store/inbound.c): every one but the
 * version, which is bumped instead, so a process caching the shapes reads them again. */
void hk_store__wait_keys(const char *prefix, const char *endpoint_id, char *out[8])
{
    keys ks;
    keys_make(&ks, prefix, endpoint_id, NULL);
    for (int i = 0; i < K__COUNT; i++)
        out[i] = hk_strdup(ks.k[i]);
    keys_free(&ks);
}

/* ----------------------------------------------------------------- on a loop --- */

/* A request's claim is plain commands, pipelined, when this process knows the endpoint's shapes
 * (version >= 0): SET NX of the event id, GET of the shapes' version, and for each lookup a
 * ZRANGEBYLEX ... LIMIT 0 1 of the index. Nearly always that is the whole answer: the version
 * has not moved and no wait has the request's values. Only when a lookup finds a candidate, or
 * the version moved, does the claim script run (the event id, claimed already, is not claimed
 * again): it claims atomically, or answers with the shapes as they are. A request whose process
 * does not know the shapes yet runs the script at once. Script: EVALSHA, and EVAL once when
 * Redis does not know it (a restart, SCRIPT FLUSH), which loads it. */
static char accept_sha[41];
static pthread_once_t accept_sha_once = PTHREAD_ONCE_INIT;

static void accept_sha_init(void)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(accept_script, strlen(accept_script), md, &len, EVP_sha1(), NULL);
    hk_hex(md, len, accept_sha);
}

typedef struct accept_call {
    hk_store_async *a;
    keys ks; /* the endpoint's, then the event id's (K__COUNT) */
    char version[24], ttl[16], record_id[64];
    char *lookups[HK_STORE_ACCEPT_LOOKUPS_MAX];
    size_t lookups_len;
    bool claim_event; /* the event id is to be claimed (it has one, not held already) */
    long long want;   /* the version the lookups were made at; -1: unknown */
    int expect, step; /* the plain step's replies: still to come, seen */
    bool failed, taken, candidate;
    long long read_version; /* as the plain step read it */
    script_call *sc;        /* the script's command, once it runs */
    bool retried;           /* the script sent again with EVAL after NOSCRIPT */
    hk_store_accept_cb cb;
    void *arg;
} accept_call;

static void accept_call_free(accept_call *c)
{
    keys_free(&c->ks);
    free(c->sc);
    for (size_t i = 0; i < c->lookups_len; i++)
        free(c->lookups[i]);
    free(c);
}

static void finish_call(accept_call *c, int rc, const hk_store_accepted *res)
{
    hk_store_accept_cb cb = c->cb;
    void *arg = c->arg;
    accept_call_free(c);
    cb(rc, rc == HK_OK ? res : NULL, arg);
}

static const char *str_of(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING ? e->str : "";
}

/* The script's answer, read into res (its strings point into r; strs has room for the list's
 * elements); false when it is not one. */
static bool accepted_of(const redisReply *r, hk_store_accepted *res, const char **strs,
                        size_t strs_len)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return false;
    const char *status = r->element[0]->str;
    *res = (hk_store_accepted){.event = HK_EVENT_CLAIMED};
    if (strcmp(status, "done") == 0 || strcmp(status, "pending") == 0) {
        res->event = status[0] == 'd' ? HK_EVENT_DONE : HK_EVENT_PENDING;
        return true;
    }
    if (r->elements < 3 || r->element[2]->type != REDIS_REPLY_ARRAY)
        return false;
    const redisReply *list = r->element[2];
    size_t n = list->elements;
    if (n > strs_len)
        return false;
    res->version = int_at(r, 1);
    if (strcmp(status, "stale") == 0 && n % 2 == 0) { /* HGETALL: id, json, id, json, ... */
        res->stale = true;
        res->shapes_len = n / 2;
        for (size_t i = 0; i < n / 2; i++) {
            strs[i] = str_of(list->element[2 * i]);
            strs[n / 2 + i] = str_of(list->element[2 * i + 1]);
        }
        res->shape_ids = strs;
        res->shape_jsons = strs + n / 2;
        return true;
    }
    if (strcmp(status, "ok") != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        strs[i] = str_of(list->element[i]);
    res->refs = strs;
    res->refs_len = n;
    res->expired = r->elements > 3 ? int_at(r, 3) : 0;
    return true;
}

static void on_script(redisReply *r, void *arg)
{
    accept_call *c = arg;
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && !c->retried) {
        c->retried = true;
        c->sc->argv[0] = "EVAL";
        c->sc->lens[0] = 4;
        c->sc->argv[1] = accept_script;
        c->sc->lens[1] = strlen(accept_script);
        if (hk_store__async_argv(c->a, on_script, c, c->sc->argc, c->sc->argv, c->sc->lens) ==
            HK_OK)
            return;
        r = NULL;
    }
    size_t cap = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
                         r->element[2]->type == REDIS_REPLY_ARRAY
                     ? r->element[2]->elements + 2
                     : 2;
    const char **strs = hk_xcalloc(cap, sizeof *strs);
    hk_store_accepted res;
    bool ok = accepted_of(r, &res, strs, cap);
    if (r && !ok)
        HK_WARN("redis", "claiming for a request: %s",
                r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
    finish_call(c, ok ? HK_OK : HK_ERR, &res);
    free(strs);
}

/* The claim script, with the call's keys and lookups. */
static int run_script(accept_call *c)
{
    pthread_once(&accept_sha_once, accept_sha_init);
    if (!c->sc)
        c->sc = hk_xmalloc(sizeof *c->sc);
    script_call *sc = c->sc;
    call_init(sc, accept_sha, &c->ks);
    sc->argv[0] = "EVALSHA";
    sc->lens[0] = 7;
    call_arg(sc, c->version);
    call_arg(sc, c->record_id);
    call_arg(sc, c->claim_event ? "1" : "0");
    call_arg(sc, c->ttl);
    for (size_t i = 0; i < c->lookups_len; i++)
        call_arg(sc, c->lookups[i]);
    return hk_store__async_argv(c->a, on_script, c, sc->argc, sc->argv, sc->lens);
}

static void on_taken(redisReply *r, void *arg)
{
    bool ok = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL);
    hk_store_accepted res = {.event =
                                 ok && r->type == REDIS_REPLY_STRING && strcmp(r->str, "done") == 0
                                     ? HK_EVENT_DONE
                                     : HK_EVENT_PENDING}; /* expired meanwhile: pending */
    finish_call(arg, ok ? HK_OK : HK_ERR, &res);
}

/* Every reply of the plain step is in: the answer, or the script, or who holds the event id. */
static void plain_decide(accept_call *c)
{
    if (c->failed) {
        finish_call(c, HK_ERR, NULL);
    } else if (c->taken) {
        const char *argv[] = {"GET", c->ks.k[K__COUNT]};
        const size_t lens[] = {3, c->ks.len[K__COUNT]};
        if (hk_store__async_argv(c->a, on_taken, c, 2, argv, lens) != HK_OK)
            finish_call(c, HK_ERR, NULL);
    } else if (c->read_version != c->want || c->candidate) {
        c->claim_event = false; /* this step claimed it */
        if (run_script(c) != HK_OK)
            finish_call(c, HK_ERR, NULL);
    } else {
        hk_store_accepted res = {.event = HK_EVENT_CLAIMED, .version = c->read_version};
        finish_call(c, HK_OK, &res);
    }
}

static void on_plain(redisReply *r, void *arg)
{
    accept_call *c = arg;
    int step = c->step++ - (c->claim_event ? 1 : 0); /* -1: SET NX, 0: GET version, then ranges */
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            HK_WARN("redis", "claiming for a request: %s", r->str);
        c->failed = true;
    } else if (step == -1) {
        c->taken = r->type == REDIS_REPLY_NIL;
    } else if (step == 0) {
        c->read_version = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        c->candidate = true;
    }
    if (--c->expect == 0)
        plain_decide(c);
}

/* Sends the plain step's commands. HK_ERR when not even the first could be sent. */
static int run_plain(accept_call *c)
{
    int sent = 0, total = (c->claim_event ? 1 : 0) + 1 + (int)c->lookups_len;
    c->expect = total;
    if (c->claim_event) {
        const char *argv[] = {"SET", c->ks.k[K__COUNT], "pending", "NX", "EX", c->ttl};
        const size_t lens[] = {3, c->ks.len[K__COUNT], 7, 2, 2, strlen(c->ttl)};
        if (hk_store__async_argv(c->a, on_plain, c, 6, argv, lens) != HK_OK)
            return HK_ERR;
        sent++;
    }
    const char *get[] = {"GET", c->ks.k[K_VERSION]};
    const size_t get_lens[] = {3, c->ks.len[K_VERSION]};
    bool ok = hk_store__async_argv(c->a, on_plain, c, 2, get, get_lens) == HK_OK;
    sent += ok;
    for (size_t i = 0; ok && i < c->lookups_len; i++) {
        char from[160], to[160]; /* a lookup is 65 bytes */
        int fl = snprintf(from, sizeof from, "[%s:", c->lookups[i]);
        int tl = snprintf(to, sizeof to, "(%s;", c->lookups[i]);
        const char *argv[] = {"ZRANGEBYLEX", c->ks.k[K_INDEX], from, to, "LIMIT", "0", "1"};
        const size_t lens[] = {11, c->ks.len[K_INDEX], (size_t)fl, (size_t)tl, 5, 1, 1};
        ok = hk_store__async_argv(c->a, on_plain, c, 7, argv, lens) == HK_OK;
        sent += ok;
    }
    if (sent == 0)
        return HK_ERR;
    if (sent < total) { /* the connection failed midway: the sent ones' replies end it */
        c->failed = true;
        c->expect = sent;
    }
    return HK_OK;
}

int hk_store_inbound_accept_async(hk_store_async *a, const hk_store_accept *q,
                                  hk_store_accept_cb cb, void *arg)
{
    if (q->lookups_len > HK_STORE_ACCEPT_LOOKUPS_MAX)
        return HK_ERR;
    accept_call *c = hk_xcalloc(1, sizeof *c);
    c->a = a;
    c->cb = cb;
    c->arg = arg;
    c->want = q->version;
    c->claim_event = q->event_id && *q->event_id && !q->event_held;
    keys_make(&c->ks, hk_store__async_prefix(a), q->endpoint_id, q->event_id);
    snprintf(c->version, sizeof c->version, "%lld", q->version);
    snprintf(c->record_id, sizeof c->record_id, "%s", q->record_id);
    snprintf(c->ttl, sizeof c->ttl, "%d", q->pending_ttl_s);
    for (size_t i = 0; i < q->lookups_len; i++)
        c->lookups[i] = hk_strdup(q->lookups[i]);
    c->lookups_len = q->lookups_len;
    int rc = q->version < 0 ? run_script(c) : run_plain(c);
    if (rc != HK_OK)
        accept_call_free(c);
    return rc;
}

/* A reply nobody waits for: an error is logged (a failed connection was logged already). */
static void on_unanswered(redisReply *r, void *arg)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        HK_WARN("redis", "%s: %s", (const char *)arg, r->str);
}

static void send_unanswered(hk_store_async *a, const char *what, const char *script,
                            const char *endpoint_id, const char *event_id, const char *const *args,
                            int nargs)
{
    keys ks;
    keys_make(&ks, hk_store__async_prefix(a), endpoint_id, event_id);
    script_call c;
    call_init(&c, script, &ks);
    for (int i = 0; i < nargs; i++)
        call_arg(&c, args[i]);
    hk_store__async_argv(a, on_unanswered, (void *)what, c.argc, c.argv, c.lens);
    keys_free(&ks);
}

void hk_store_inbound_accept_done_async(hk_store_async *a, const char *endpoint_id,
                                        const char *record_id, const char *event_id, int ttl_s,
                                        bool waits_held)
{
    bool has_event = event_id && *event_id;
    if (!waits_held) { /* the common case: one plain command, or none */
        if (has_event)
            hk_store_inbound_event_done_async(a, endpoint_id, event_id, ttl_s);
        return;
    }
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s);
    const char *args[] = {record_id, has_event ? "1" : "0", ttl};
    send_unanswered(a, "marking a request's claims done", done_script, endpoint_id, event_id, args,
                    3);
}

void hk_store_inbound_accept_release_async(hk_store_async *a, const char *endpoint_id,
                                           const char *record_id, const char *event_id,
                                           bool waits_held)
{
    bool has_event = event_id && *event_id;
    if (!waits_held) {
        if (has_event)
            hk_store_inbound_event_release_async(a, endpoint_id, event_id);
        return;
    }
    const char *args[] = {record_id, has_event ? "1" : "0"};
    send_unanswered(a, "releasing a request's claims", release_script, endpoint_id, event_id, args,
                    2);
}
