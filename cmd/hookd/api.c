/*
 * api.c — the admin API's routes (docs/api.md): webhook tasks (per flow or per space), job
 * histories, hookd-ingress's inbound endpoints and the waits of flows on them. Each handler
 * validates the path's ids, takes a Redis connection from the pool, calls the store (or hk_cmd:
 * hk_webhook_test, the inbound endpoints and their waits), and answers JSON.
 * Secrets leave only masked; an error is {"error": {"code", "field", "message"}} naming the
 * field.
 */
#include "api.h"

#include "hk_cmd.h"
#include "hk_model.h"
#include "hk_store.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POOL_MAX 4 /* idle Redis connections kept; more are opened under load and closed after */
#define MAX_SEGMENTS 6
#define MAX_TOKENS 8 /* HOOKD_API_TOKEN: the current token and the ones being rotated out */
#define MIN_TOKEN_LEN 16

struct hk_api {
    const hk_config *cfg;
    hk_store_config scfg;
    unsigned char token_digest[MAX_TOKENS][32]; /* of each accepted token, the current first */
    size_t tokens;
    pthread_mutex_t lock;
    hk_store *idle[POOL_MAX];
    size_t idle_n;
};

static void digest(const char *text, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(text, len, out, &n, EVP_sha256(), NULL);
}

/* Admin API requests authorised by a token other than HOOKD_API_TOKEN's first: during a
 * rotation, the clients not yet moved to the new token. */
static struct api_metrics {
    hk_counter previous_token;
} api_metrics = {
    .previous_token = HK_COUNTER("hookd_api_previous_token_requests_total", NULL,
                                 "Admin API requests authorised by a token other than the first "
                                 "of HOOKD_API_TOKEN (a client still on a token being rotated "
                                 "out)."),
};
HK_METRICS_REGISTER("hookd", api_metrics)

/* HOOKD_API_TOKEN: one token, or several separated by commas (the current one first, then those
 * being rotated out), spaces around each ignored. Digests only are kept; an error never
 * shows a token, only its position. */
static int read_tokens(hk_api *a, const char *list, hk_error *err)
{
    size_t count = 1;
    for (const char *p = list; *p; p++)
        count += *p == ',';
    if (count > MAX_TOKENS)
        return hk_error_set(err, HK_EINVAL, "HOOKD_API_TOKEN",
                            "at most %d comma-separated tokens (%zu given)", MAX_TOKENS, count);
    const char *p = list;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && strchr(" \t\r\n", *b))
            b++;
        while (e > b && strchr(" \t\r\n", e[-1]))
            e--;
        if ((size_t)(e - b) < MIN_TOKEN_LEN) {
            if (count == 1)
                return hk_error_set(err, HK_EINVAL, "HOOKD_API_TOKEN",
                                    "must be at least 16 characters (e.g. openssl rand -hex 32)");
            return hk_error_set(err, HK_EINVAL, "HOOKD_API_TOKEN", "token %zu of %zu %s", i + 1,
                                count,
                                b == e ? "is empty (tokens are separated by single commas)"
                                       : "must be at least 16 characters (e.g. openssl rand "
                                         "-hex 32)");
        }
        digest(b, (size_t)(e - b), a->token_digest[i]);
        p = end + (*end == ',');
    }
    a->tokens = count;
    return HK_OK;
}

int hk_api_create(const hk_config *cfg, hk_api **out, hk_error *err)
{
    if (!cfg->api_token || !*cfg->api_token)
        return hk_error_set(err, HK_EINVAL, "HOOKD_API_TOKEN", "required for the admin API");
    hk_api *a = hk_xcalloc(1, sizeof *a);
    int rc = read_tokens(a, cfg->api_token, err);
    if (rc != HK_OK) {
        hk_api_destroy(a);
        return rc;
    }
    a->cfg = cfg;
    a->scfg = hk_store_config_of(cfg);
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return HK_OK;
}

void hk_api_destroy(hk_api *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->idle_n; i++)
        hk_store_close(a->idle[i]);
    if (a->cfg) /* the lock is made last in hk_api_create */
        pthread_mutex_destroy(&a->lock);
    OPENSSL_cleanse(a->token_digest, sizeof a->token_digest);
    free(a);
}

bool hk_api_authorized(const hk_api *a, const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    const char *token = authorization + 7;
    while (*token == ' ')
        token++;
    unsigned char d[32];
    digest(token, strlen(token), d);
    /* Every accepted token is compared, with no early exit: the time tells how many tokens
     * there are, never which one matched nor how much of one. */
    int match = -1;
    for (size_t i = 0; i < a->tokens; i++) {
        bool same = CRYPTO_memcmp(d, a->token_digest[i], sizeof d) == 0;
        match = same && match < 0 ? (int)i : match;
    }
    OPENSSL_cleanse(d, sizeof d);
    if (match > 0)
        hk_counter_add(&api_metrics.previous_token, 1);
    return match >= 0;
}

/* ----------------------------------------------------------------------- the store pool --- */

static hk_store *store_take(hk_api *a, hk_error *err)
{
    hk_store *s = NULL;
    pthread_mutex_lock(&a->lock);
    if (a->idle_n)
        s = a->idle[--a->idle_n];
    pthread_mutex_unlock(&a->lock);
    if (!s && hk_store_open(&a->scfg, &s, err) != HK_OK)
        return NULL;
    return s;
}

/* rc is the last store call's: after HK_ERR the connection may be broken, so it is closed. */
static void store_give(hk_api *a, hk_store *s, int rc)
{
    if (!s)
        return;
    if (rc != HK_ERR) {
        pthread_mutex_lock(&a->lock);
        if (a->idle_n < POOL_MAX) {
            a->idle[a->idle_n++] = s;
            s = NULL;
        }
        pthread_mutex_unlock(&a->lock);
    }
    hk_store_close(s);
}

/* ---------------------------------------------------------------------------- replies --- */

const char *hk_api_error_code(unsigned status)
{
    switch (status) {
    case 400:
        return "invalid";
    case 401:
        return "unauthorized";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 409:
        return "conflict";
    case 413:
        return "too_large";
    case 429:
        return "too_many_requests";
    case 503:
        return "unavailable";
    default:
        return status >= 500 ? "internal" : "invalid";
    }
}

char *hk_api_error_body(const char *code, const char *field, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    if (field && *field)
        cJSON_AddStringToObject(e, "field", field);
    else
        cJSON_AddNullToObject(e, "field");
    cJSON_AddStringToObject(e, "message", message);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void fail_code(hk_api_response *r, unsigned status, const char *code, const char *field,
                      const char *message)
{
    r->status = status;
    free(r->body);
    r->body = hk_api_error_body(code, field, message);
}

/* An error answer whose code is its status's (hk_api_error_code). */
static void fail(hk_api_response *r, unsigned status, const char *field, const char *message)
{
    fail_code(r, status, hk_api_error_code(status), field, message);
}

/* A store or test error: 400 invalid, 404 not found, 409 a conflict (code "conflict": a taken
 * id, a disabled task) or a limit (code "limit_exceeded": the flow's tasks, an endpoint's wait
 * shapes), 503 Redis. */
static void fail_rc(hk_api_response *r, int rc, const hk_error *e)
{
    if (rc == HK_EINVAL)
        fail(r, 400, e->field, e->msg);
    else if (rc == HK_ENOTFOUND)
        fail(r, 404, e->field, e->msg);
    else if (rc == HK_ECONFLICT)
        fail(r, 409, e->field, e->msg);
    else if (rc == HK_ELIMIT)
        fail_code(r, 409, "limit_exceeded", e->field, e->msg);
    else {
        /* The detail (Redis host, its error) goes to the log, not to the client. */
        HK_WARN("api", "store failure: %s", e->msg);
        fail(r, 503, NULL, "the task store (Redis) is unavailable; see hookd's log");
    }
}

static void reply_json(hk_api_response *r, unsigned status, cJSON *json)
{
    r->status = status;
    r->body = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
}

/* ------------------------------------------------------------------------------- lists --- */

/* Every list answers one page in an envelope {"data": [...], "iterator", "done"} (docs/api.md,
 * "Lists"), beside the list's own context fields (flowId, jobId, ...). The iterator is opaque to
 * clients: a letter naming the list's kind, then the hex of the last item's key. A list is one of
 * two kinds:
 * - ordered (tasks, endpoints: by id; waits: by expiresAt, then ref): the next page is the items
 *   whose key is above the iterator's. An item created or deleted meanwhile moves no other one,
 *   so no item is skipped or shown twice, even when the iterator's own item is gone;
 * - positional (a job's history: newest first, as Redis's list holds it): the next page starts
 *   after the item whose key is the iterator's. New attempts are pushed at the head, before it,
 *   and the list is trimmed at its tail, after it: when that item is gone, so is every item after
 *   it, and the page is empty and done. */
#define PAGE_DEFAULT 50
#define PAGE_MAX 250
#define ITERATOR_MAX_KEY 1024 /* bytes of a key: an id, a 256-byte ref and a time, ... */

typedef struct page_request {
    size_t limit;
    char *after; /* the iterator's key, owned; NULL: the first page */
} page_request;

/* An item's key, owned (never NULL). */
typedef char *(*page_key_fn)(const cJSON *item);

static char *key_of_id(const cJSON *item)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
    return hk_strdup(cJSON_IsString(id) ? id->valuestring : "");
}

static const char *string_of(const cJSON *item, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* "<expiresAt> <ref>": every expiresAt has the same length (RFC 3339 UTC with ms), so comparing
 * the keys compares the times, then the refs. */
static char *key_of_wait(const cJSON *item)
{
    hk_buf b = {0};
    hk_buf_printf(&b, "%s %s", string_of(item, "expiresAt"), string_of(item, "ref"));
    return hk_buf_take(&b);
}

/* "<deliveryId> <attempt> <at>": one attempt of the history. */
static char *key_of_attempt(const cJSON *item)
{
    const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(item, "attempt");
    hk_buf b = {0};
    hk_buf_printf(&b, "%s %d %s", string_of(item, "deliveryId"),
                  cJSON_IsNumber(attempt) ? attempt->valueint : 0, string_of(item, "at"));
    return hk_buf_take(&b);
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reads ?limit= and ?iterator= for a list of `kind`; false after answering 400 naming the
 * parameter. */
static bool page_params(const hk_api_query *q, char kind, page_request *p, hk_api_response *r)
{
    *p = (page_request){.limit = PAGE_DEFAULT};
    if (q && q->limit) {
        char *end = NULL;
        unsigned long v = 0;
        bool digits = *q->limit >= '0' && *q->limit <= '9';
        if (digits)
            v = strtoul(q->limit, &end, 10);
        if (!digits || *end || v < 1 || v > PAGE_MAX) {
            fail(r, 400, "limit", "limit: must be an integer from 1 to 250 (default 50)");
            return false;
        }
        p->limit = v;
    }
    if (q && q->iterator) {
        const char *it = q->iterator;
        size_t hex = strlen(it) - (*it ? 1 : 0);
        bool ok = *it == kind && hex > 0 && hex % 2 == 0 && hex / 2 <= ITERATOR_MAX_KEY;
        char *key = ok ? hk_xcalloc(1, hex / 2 + 1) : NULL;
        for (size_t i = 0; ok && i < hex / 2; i++) {
            int hi = hex_value(it[1 + 2 * i]), lo = hex_value(it[2 + 2 * i]);
            ok = hi >= 0 && lo >= 0 && (hi || lo); /* no NUL in a key */
            if (ok)
                key[i] = (char)(hi << 4 | lo);
        }
        if (!ok) {
            free(key);
            fail(r, 400, "iterator",
                 "iterator: not one this list gave (pass the previous page's iterator as it "
                 "came, or leave it out for the first page)");
            return false;
        }
        p->after = key;
    }
    return true;
}

static char *iterator_of(char kind, const char *key)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(key);
    char *it = hk_xcalloc(1, 2 * n + 2);
    it[0] = kind;
    for (size_t i = 0; i < n; i++) {
        it[1 + 2 * i] = hex[(unsigned char)key[i] >> 4];
        it[2 + 2 * i] = hex[(unsigned char)key[i] & 15];
    }
    return it;
}

typedef struct page_entry {
    char *key;
    cJSON *item;
} page_entry;

static int by_key(const void *a, const void *b)
{
    return strcmp(((const page_entry *)a)->key, ((const page_entry *)b)->key);
}

/* Adds one page of items (an array; taken) to the envelope o as "data", "iterator" (null when
 * done) and "done". ordered: the items are sorted by key here, so the order and the iterator's
 * comparison cannot disagree; else positional, in the array's order. */
static void page_reply(cJSON *o, cJSON *items, char kind, bool ordered, page_key_fn key_of,
                       const page_request *p)
{
    size_t n = (size_t)cJSON_GetArraySize(items), start = 0;
    page_entry *e = hk_xcalloc(n + 1, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[i].item = cJSON_DetachItemFromArray(items, 0);
        e[i].key = key_of(e[i].item);
    }
    cJSON_Delete(items);
    if (ordered)
        qsort(e, n, sizeof *e, by_key);
    if (p->after && ordered) {
        while (start < n && strcmp(e[start].key, p->after) <= 0)
            start++;
    } else if (p->after) {
        start = n; /* the item is gone: so is every one after it */
        for (size_t i = 0; i < n && start == n; i++)
            if (strcmp(e[i].key, p->after) == 0)
                start = i + 1;
    }
    size_t end = n - start > p->limit ? start + p->limit : n;
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    for (size_t i = start; i < end; i++) {
        cJSON_AddItemToArray(data, e[i].item);
        e[i].item = NULL;
    }
    if (end < n) {
        char *it = iterator_of(kind, e[end - 1].key);
        cJSON_AddStringToObject(o, "iterator", it);
        free(it);
    } else {
        cJSON_AddNullToObject(o, "iterator");
    }
    cJSON_AddBoolToObject(o, "done", end >= n);
    for (size_t i = 0; i < n; i++) {
        cJSON_Delete(e[i].item);
        free(e[i].key);
    }
    free(e);
}

/* The request's JSON body, or NULL after answering 400. */
static cJSON *parse_body(const char *body, size_t len, hk_api_response *r)
{
    if (!body || !len) {
        fail(r, 400, "body", "body: required (a JSON object)");
        return NULL;
    }
    hk_error nul = {0};
    if (hk_json_refuse_nul(body, len, "body", &nul) != HK_OK) {
        fail(r, 400, nul.field, nul.msg);
        return NULL;
    }
    size_t at = 0;
    cJSON *json = hk_json_parse_whole(body, len, &at);
    if (!json) {
        char msg[96];
        snprintf(msg, sizeof msg, "body: not valid JSON (at byte %zu)", at);
        fail(r, 400, "body", msg);
    }
    return json;
}

/* A handler's call: its JSON body (NULL: it takes none), a Redis connection from the pool, the
 * last store call's code and error. */
typedef struct api_call {
    cJSON *in;
    hk_store *s;
    int rc;
    hk_error e;
} api_call;

/* Reads the body when the handler takes one (false after answering 400), then takes a
 * connection (c->rc HK_ERR, c->e set, when none can be had). */
static bool begin(hk_api *a, bool takes_body, const char *body, size_t len, hk_api_response *r,
                  api_call *c)
{
    memset(c, 0, sizeof *c);
    if (takes_body && !(c->in = parse_body(body, len, r)))
        return false;
    c->s = store_take(a, &c->e);
    c->rc = c->s ? HK_OK : HK_ERR;
    return true;
}

/* Frees the body and gives the connection back (closed after HK_ERR). */
static void end(hk_api *a, api_call *c)
{
    cJSON_Delete(c->in);
    store_give(a, c->s, c->rc);
}

/* ---------------------------------------------------------------------------- handlers --- */

static cJSON *task_json(const hk_task *t)
{
    return hk_task_to_json(t, HK_SECRETS_MASKED);
}

/* /v1/flows/{flowId}/webhooks and /v1/spaces/{spaceId}/webhooks: the same handlers, in the
 * path's scope (a flow or a space). */
static void flow_webhooks(hk_api *a, const char *method, const hk_scope *scope,
                          const hk_api_query *q, const char *body, size_t len, hk_api_response *r)
{
    bool post = strcmp(method, "POST") == 0;
    page_request page = {0};
    if (!post && !page_params(q, 't', &page, r))
        return;
    api_call c;
    if (!begin(a, post, body, len, r, &c)) {
        free(page.after);
        return;
    }
    if (c.rc == HK_OK && c.in) {
        hk_task *t = NULL;
        if ((c.rc = hk_store_task_create_in(c.s, scope, c.in, &t, &c.e)) == HK_OK) {
            snprintf(r->location, sizeof r->location, "/v1/webhooks/%s", t->id);
            reply_json(r, 201, task_json(t));
            HK_INFO("api", "webhook %s created in %s %s", t->id, hk_scope_noun(scope->kind),
                    scope->id);
        }
        hk_task_destroy(t);
    } else if (c.rc == HK_OK) {
        hk_task **tasks = NULL;
        size_t n = 0;
        if ((c.rc = hk_store_task_list_in(c.s, scope, &tasks, &n, &c.e)) == HK_OK) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, hk_scope_field(scope->kind), scope->id);
            cJSON_AddNumberToObject(o, "maxWebhooks", a->cfg->max_webhooks_per_flow);
            cJSON *arr = cJSON_CreateArray();
            for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(arr, task_json(tasks[i]));
            page_reply(o, arr, 't', true, key_of_id, &page);
            reply_json(r, 200, o);
        }
        for (size_t i = 0; i < n; i++)
            hk_task_destroy(tasks[i]);
        free(tasks);
    }
    if (c.rc != HK_OK)
        fail_rc(r, c.rc, &c.e);
    end(a, &c);
    free(page.after);
}

static void flow_export(hk_api *a, const hk_scope *scope, hk_api_response *r)
{
    hk_error e = {0};
    hk_store *s = store_take(a, &e);
    int rc = s ? HK_OK : HK_ERR;
    cJSON *doc = NULL;
    /* Always masked: the API never returns a secret (hookctl export --with-secrets can). */
    if (rc == HK_OK && (rc = hk_store_export_in(s, scope, HK_SECRETS_MASKED, &doc, &e)) == HK_OK)
        reply_json(r, 200, doc);
    else
        fail_rc(r, rc, &e);
    store_give(a, s, rc);
}

static void flow_import(hk_api *a, const hk_scope *scope, const char *body, size_t len,
                        hk_api_response *r)
{
    cJSON *doc = parse_body(body, len, r);
    if (!doc)
        return;
    hk_error e = {0};
    hk_store *s = store_take(a, &e);
    int rc = s ? HK_OK : HK_ERR;
    hk_import_report *rep = hk_xcalloc(1, sizeof *rep);
    if (rc == HK_OK)
        rc = hk_store_import_in(s, scope, doc, rep, &e);
    if (rc == HK_OK) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, hk_scope_field(scope->kind), scope->id);
        cJSON_AddNumberToObject(o, "created", (double)rep->created);
        cJSON_AddNumberToObject(o, "updated", (double)rep->updated);
        reply_json(r, 200, o);
        HK_INFO("api", "%s %s imported: %zu created, %zu updated", hk_scope_noun(scope->kind),
                scope->id, rep->created, rep->updated);
    } else if (rc == HK_EINVAL && rep->errors_len) {
        /* Every bad entry, each naming its index and field: "webhooks[1].url: ..." */
        cJSON *o = cJSON_CreateObject();
        cJSON *err = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(err, "code", hk_api_error_code(400));
        cJSON_AddStringToObject(err, "field", e.field);
        cJSON_AddStringToObject(err, "message", e.msg);
        cJSON *details = cJSON_AddArrayToObject(err, "details");
        for (size_t i = 0; i < rep->errors_len; i++) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "field", rep->fields[i]);
            cJSON_AddStringToObject(d, "message", rep->errors[i]);
            cJSON_AddItemToArray(details, d);
        }
        reply_json(r, 400, o);
    } else {
        fail_rc(r, rc, &e);
    }
    free(rep);
    cJSON_Delete(doc);
    store_give(a, s, rc);
}

static void webhook(hk_api *a, const char *method, const char *id, const char *body, size_t len,
                    hk_api_response *r)
{
    bool put = strcmp(method, "PUT") == 0, del = strcmp(method, "DELETE") == 0;
    api_call c;
    if (!begin(a, put, body, len, r, &c))
        return;
    hk_task *t = NULL;
    if (c.rc == HK_OK && del) {
        if ((c.rc = hk_store_task_delete(c.s, id, &c.e)) == HK_OK) {
            r->status = 204;
            HK_INFO("api", "webhook %s deleted", id);
        }
    } else if (c.rc == HK_OK && put) {
        if ((c.rc = hk_store_task_update_json(c.s, id, c.in, &t, &c.e)) == HK_OK) {
            reply_json(r, 200, task_json(t));
            HK_INFO("api", "webhook %s updated", id);
        }
    } else if (c.rc == HK_OK) {
        if ((c.rc = hk_store_task_get(c.s, id, &t, &c.e)) == HK_OK)
            reply_json(r, 200, task_json(t));
    }
    if (c.rc != HK_OK)
        fail_rc(r, c.rc, &c.e);
    hk_task_destroy(t);
    end(a, &c);
}

/* Optional body {"jobId": "...", "jobStatus": "..."}; a string field is the sample's value. */
static bool test_param(const cJSON *in, const char *key, const char **out, hk_api_response *r)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, key);
    if (!v || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > 256) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: must be a string of 1 to 256 characters", key);
        fail(r, 400, key, msg);
        return false;
    }
    *out = v->valuestring;
    return true;
}

static void webhook_test(hk_api *a, const char *id, const char *body, size_t len,
                         hk_api_response *r)
{
    cJSON *in = NULL;
    const char *job_id = "test", *job_status = "Complete";
    if (body && len) {
        if (!(in = parse_body(body, len, r)))
            return;
        if (!cJSON_IsObject(in)) {
            fail(r, 400, "body", "body: must be a JSON object ({\"jobId\", \"jobStatus\"})");
            cJSON_Delete(in);
            return;
        }
        if (!test_param(in, "jobId", &job_id, r) || !test_param(in, "jobStatus", &job_status, r)) {
            cJSON_Delete(in);
            return;
        }
    }
    hk_error e = {0};
    hk_store *s = store_take(a, &e);
    int rc = s ? HK_OK : HK_ERR;
    hk_task *t = NULL;
    if (rc == HK_OK)
        rc = hk_store_task_get(s, id, &t, &e);
    store_give(a, s, rc); /* not held while the delivery runs */
    if (rc != HK_OK) {
        fail_rc(r, rc, &e);
        cJSON_Delete(in);
        return;
    }
    hk_test_result *res = hk_xcalloc(1, sizeof *res);
    rc = hk_webhook_test(a->cfg, t, job_id, job_status, res, &e);
    if (rc == HK_OK) {
        reply_json(r, 200, hk_test_result_json(id, res)); /* delivered or not: the outcome */
        HK_INFO("api", "webhook %s tested: %s", id, res->delivered ? "delivered" : "failed");
    } else if (rc == HK_EINVAL) {
        fail(r, 400, e.field, e.msg);
    } else {
        fail(r, 500, e.field, e.msg);
    }
    free(res);
    hk_task_destroy(t);
    cJSON_Delete(in);
}

/* POST /v1/webhooks/{id}/rotate-secret: {"secret"?, "keep"?} (hk_cmd_rotate_secret: the new
 * secret first, the current one signing beside it for keep, 24h unless given, "0": not at all).
 * Answers the task, masked: a drawn secret is read with hookctl webhooks export --with-secrets. */
static void webhook_rotate(hk_api *a, const char *id, const char *body, size_t len,
                           hk_api_response *r)
{
    cJSON *in = NULL;
    const char *secret = NULL, *keep = "24h";
    if (body && len) {
        if (!(in = parse_body(body, len, r)))
            return;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(in, "secret");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(in, "keep");
        if (!cJSON_IsObject(in) || (s && !cJSON_IsString(s)) || (k && !cJSON_IsString(k))) {
            fail(r, 400, "body",
                 "body: must be a JSON object {\"secret\": string, \"keep\": \"24h\"}");
            cJSON_Delete(in);
            return;
        }
        secret = s ? s->valuestring : NULL;
        keep = k ? k->valuestring : keep;
    }
    uint64_t keep_ms = 0;
    if ((strcmp(keep, "0") != 0 && !hk_parse_duration(keep, &keep_ms)) ||
        keep_ms > HK_ROTATE_KEEP_MAX_MS) {
        fail(r, 400, "keep",
             "keep: not a duration up to 30d (24h, 90m, 7d; \"0\" drops the old secret now)");
        cJSON_Delete(in);
        return;
    }
    hk_error e = {0};
    hk_store *st = store_take(a, &e);
    int rc = st ? HK_OK : HK_ERR;
    hk_task *t = NULL;
    if (rc == HK_OK)
        rc = hk_cmd_rotate_secret(st, id, secret, keep_ms, hk_wall_ms(), &t, &e);
    store_give(a, st, rc);
    if (rc == HK_OK) {
        reply_json(r, 200, hk_task_to_json(t, HK_SECRETS_MASKED));
        HK_INFO("api", "webhook %s: secret rotated (the previous one signs for %s)", id, keep);
    } else {
        fail_rc(r, rc, &e);
    }
    hk_task_destroy(t);
    cJSON_Delete(in);
}

/* POST /v1/flows/{flowId}/webhooks/test (or a space's): a draft task (the body, read as create
 * reads it, nothing stored) delivered once with the sample event, as webhook_test does a stored
 * one. */
static void draft_test(hk_api *a, const hk_scope *scope, const char *body, size_t len,
                       hk_api_response *r)
{
    cJSON *in = parse_body(body, len, r);
    if (!in)
        return;
    hk_error e = {0};
    hk_task *t = NULL;
    if (hk_store_task_draft_in(scope, in, &t, &e) != HK_OK) {
        fail(r, 400, e.field, e.msg);
        cJSON_Delete(in);
        return;
    }
    hk_test_result *res = hk_xcalloc(1, sizeof *res);
    int rc = hk_webhook_test(a->cfg, t, "test", "Complete", res, &e);
    if (rc == HK_OK) {
        reply_json(r, 200, hk_test_result_json(t->id, res));
        HK_INFO("api", "draft webhook for %s %s tested: %s", hk_scope_noun(scope->kind), scope->id,
                res->delivered ? "delivered" : "failed");
    } else {
        fail(r, rc == HK_EINVAL ? 400 : 500, e.field, e.msg);
    }
    free(res);
    hk_task_destroy(t);
    cJSON_Delete(in);
}

static bool valid(const char *kind, const char *value, hk_api_response *r);

/* POST /v1/deliveries/{id}/resend [{"jobId"}]: the delivery again now, as its next attempt
 * (hk_resend_*), found by its job when given; no Redis connection is held while it is
 * delivered. */
static void delivery_resend(hk_api *a, const char *id, const char *body, size_t len,
                            hk_api_response *r)
{
    cJSON *in = NULL;
    const char *job_id = NULL;
    if (body && len) {
        if (!(in = parse_body(body, len, r)))
            return;
        if (!cJSON_IsObject(in)) {
            fail(r, 400, "body", "body: must be a JSON object ({\"jobId\"})");
            cJSON_Delete(in);
            return;
        }
        if (!test_param(in, "jobId", &job_id, r) || (job_id && !valid("jobId", job_id, r))) {
            cJSON_Delete(in);
            return;
        }
    }
    hk_error e = {0};
    hk_resend rs = {0};
    hk_test_result *res = hk_xcalloc(1, sizeof *res);
    hk_store *s = store_take(a, &e);
    int rc = s ? hk_resend_prepare(s, id, job_id, &rs, &e) : HK_ERR;
    store_give(a, s, rc);
    if (rc == HK_OK && (rc = hk_resend_send(a->cfg, &rs, res, &e)) == HK_OK) {
        s = store_take(a, &e);
        rc = s ? hk_resend_record(s, &rs, res, &e) : HK_ERR;
        store_give(a, s, rc);
    }
    if (rc == HK_OK) {
        reply_json(r, 200, hk_test_result_json(rs.task->id, res)); /* delivered or not */
        HK_INFO("api", "delivery %s resent as attempt %d: %s", id, res->attempt,
                res->delivered ? "delivered" : "failed");
    } else if (rc == HK_EINVAL) {
        fail(r, 400, e.field, e.msg);
    } else {
        fail_rc(r, rc, &e);
    }
    hk_resend_free(&rs);
    free(res);
    cJSON_Delete(in);
}

static void job_deliveries(hk_api *a, const char *job, const hk_api_query *q, hk_api_response *r)
{
    page_request page;
    if (!page_params(q, 'd', &page, r))
        return;
    hk_error e = {0};
    hk_store *s = store_take(a, &e);
    int rc = s ? HK_OK : HK_ERR;
    cJSON *arr = NULL;
    if (rc == HK_OK && (rc = hk_store_history_get(s, job, &arr, &e)) == HK_OK) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "jobId", job);
        page_reply(o, arr, 'd', false, key_of_attempt, &page); /* newest first, as kept */
        reply_json(r, 200, o);
    } else {
        fail_rc(r, rc, &e);
    }
    store_give(a, s, rc);
    free(page.after);
}

/* ------------------------------------------------------------------- inbound endpoints --- */

/* hookd-ingress's endpoints (hk_cmd's inbound functions, the ones hookctl inbound uses). The
 * store refusing a taken id or name is a conflict with what exists: 409 naming the field. */
static void fail_inbound(hk_api_response *r, int rc, bool conflict, const hk_error *e)
{
    if (rc == HK_EINVAL && conflict)
        fail(r, 409, e->field, e->msg);
    else
        fail_rc(r, rc, e);
}

static void inbound_collection(hk_api *a, const char *method, const hk_api_query *q,
                               const char *body, size_t len, hk_api_response *r)
{
    bool post = strcmp(method, "POST") == 0;
    page_request page = {0};
    if (!post && !page_params(q, 'e', &page, r))
        return;
    api_call c;
    if (!begin(a, post, body, len, r, &c)) {
        free(page.after);
        return;
    }
    bool conflict = false;
    if (c.rc == HK_OK && c.in) {
        hk_inbound_endpoint *ep = NULL;
        if ((c.rc = hk_cmd_inbound_create(c.s, c.in, &ep, &conflict, &c.e)) == HK_OK) {
            snprintf(r->location, sizeof r->location, "/v1/inbound/%s", ep->id);
            reply_json(r, 201, hk_cmd_inbound_json(ep, 0));
            HK_INFO("api", "inbound endpoint %s created (%s, flow %s)", ep->id,
                    hk_inbound_source_name(ep->source), ep->flow_id);
        }
        hk_inbound_endpoint_destroy(ep);
    } else if (c.rc == HK_OK) {
        hk_inbound_endpoint **eps = NULL;
        size_t n = 0;
        if ((c.rc = hk_cmd_inbound_list(c.s, &eps, &n, &c.e)) == HK_OK) {
            cJSON *o = cJSON_CreateObject();
            cJSON *arr = cJSON_CreateArray();
            for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(arr, hk_inbound_endpoint_to_json(eps[i], false));
            page_reply(o, arr, 'e', true, key_of_id, &page);
            reply_json(r, 200, o);
        }
        hk_cmd_inbound_list_free(eps, n);
    }
    if (c.rc != HK_OK)
        fail_inbound(r, c.rc, conflict, &c.e);
    end(a, &c);
    free(page.after);
}

/* GET, PUT (the whole endpoint: HK_INBOUND_REPLACE), PATCH (a merge patch), DELETE. */
static void inbound_one(hk_api *a, const char *method, const char *id, const char *body, size_t len,
                        hk_api_response *r)
{
    bool put = strcmp(method, "PUT") == 0, patch = strcmp(method, "PATCH") == 0;
    api_call c;
    if (!begin(a, put || patch, body, len, r, &c))
        return;
    bool conflict = false;
    hk_inbound_endpoint *ep = NULL;
    if (c.rc == HK_OK && strcmp(method, "DELETE") == 0) {
        if ((c.rc = hk_store_inbound_delete(c.s, id, &c.e)) == HK_OK) {
            r->status = 204;
            HK_INFO("api", "inbound endpoint %s deleted", id);
        }
    } else if (c.rc == HK_OK && (put || patch)) {
        c.rc = hk_cmd_inbound_update(c.s, id, c.in, put ? HK_INBOUND_REPLACE : HK_INBOUND_PATCH,
                                     &ep, &conflict, &c.e);
        if (c.rc == HK_OK)
            HK_INFO("api", "inbound endpoint %s updated", id);
    } else if (c.rc == HK_OK) {
        c.rc = hk_cmd_inbound_get(c.s, id, &ep, &c.e);
    }
    cJSON *shown = NULL; /* GET, PUT, PATCH: the endpoint with its live waits' count */
    if (c.rc == HK_OK && ep && (c.rc = hk_cmd_inbound_show(c.s, ep, &shown, &c.e)) == HK_OK)
        reply_json(r, 200, shown);
    if (c.rc != HK_OK)
        fail_inbound(r, c.rc, conflict, &c.e);
    hk_inbound_endpoint_destroy(ep);
    end(a, &c);
}

/* ------------------------------------------------------------------- waits on endpoints --- */

/* "/v1/inbound/<id>/waits/<ref>" with the ref percent-encoded (RFC 3986: all but the unreserved
 * characters, '/' too), as the wait's Location; "" when it does not fit (r->location holds
 * 1023 bytes: a 256-byte ref encoded whole is 768), rather than a Location that is cut. */
static void wait_location(const char *id, const char *ref, hk_api_response *r)
{
    static const char hex[] = "0123456789ABCDEF";
    hk_buf b = {0};
    hk_buf_printf(&b, "/v1/inbound/%s/waits/", id);
    for (const unsigned char *p = (const unsigned char *)ref; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            hk_buf_append(&b, p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            hk_buf_append(&b, esc, 3);
        }
    }
    if (b.len < sizeof r->location)
        memcpy(r->location, b.data, b.len + 1);
    hk_buf_free(&b);
}

/* POST: registers a wait (201, or 200 when it replaced the one with its ref); GET: the live
 * ones, soonest to expire first. HK_ELIMIT (too many sets of paths) is 409, as for tasks. */
static void inbound_waits(hk_api *a, const char *method, const char *id, const hk_api_query *q,
                          const char *body, size_t len, hk_api_response *r)
{
    bool post = strcmp(method, "POST") == 0;
    page_request page = {0};
    if (!post && !page_params(q, 'w', &page, r))
        return;
    api_call c;
    if (!begin(a, post, body, len, r, &c)) {
        free(page.after);
        return;
    }
    cJSON *out = NULL;
    if (c.rc == HK_OK && c.in) {
        bool replaced = false;
        c.rc = hk_cmd_inbound_wait_put(c.s, id, c.in, &replaced, &out, &c.e);
        if (c.rc == HK_OK) {
            const char *ref = cJSON_GetObjectItemCaseSensitive(out, "ref")->valuestring;
            if (!replaced)
                wait_location(id, ref, r);
            HK_INFO("api", "wait %s %s on inbound endpoint %s", ref,
                    replaced ? "replaced" : "registered", id);
            reply_json(r, replaced ? 200 : 201, out);
        }
    } else if (c.rc == HK_OK && (c.rc = hk_cmd_inbound_wait_list(c.s, id, &out, &c.e)) == HK_OK) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "endpointId", id);
        page_reply(o, out, 'w', true, key_of_wait, &page); /* soonest to expire first */
        reply_json(r, 200, o);
    }
    if (c.rc != HK_OK)
        fail_rc(r, c.rc, &c.e);
    end(a, &c);
    free(page.after);
}

/* GET /v1/inbound/{id}/requests: what hookd-ingress answered its last requests, newest first. */
static void inbound_requests(hk_api *a, const char *id, const hk_api_query *q, hk_api_response *r)
{
    page_request page = {0};
    if (!page_params(q, 'r', &page, r))
        return;
    api_call c;
    if (!begin(a, false, NULL, 0, r, &c)) {
        free(page.after);
        return;
    }
    cJSON *out = NULL;
    if (c.rc == HK_OK && (c.rc = hk_cmd_inbound_requests(c.s, id, &out, &c.e)) == HK_OK) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "endpointId", id);
        page_reply(o, out, 'r', false, key_of_id, &page); /* newest first, as kept */
        reply_json(r, 200, o);
    }
    if (c.rc != HK_OK)
        fail_rc(r, c.rc, &c.e);
    end(a, &c);
    free(page.after);
}

/* GET or DELETE one wait, by its ref (already percent-decoded: the path comes so). */
static void inbound_wait(hk_api *a, const char *method, const char *id, const char *ref,
                         hk_api_response *r)
{
    api_call c;
    if (!begin(a, false, NULL, 0, r, &c))
        return;
    cJSON *out = NULL;
    if (c.rc == HK_OK && strcmp(method, "DELETE") == 0) {
        if ((c.rc = hk_cmd_inbound_wait_delete(c.s, id, ref, &c.e)) == HK_OK) {
            r->status = 204;
            HK_INFO("api", "wait %s deleted from inbound endpoint %s", ref, id);
        }
    } else if (c.rc == HK_OK &&
               (c.rc = hk_cmd_inbound_wait_get(c.s, id, ref, &out, &c.e)) == HK_OK) {
        reply_json(r, 200, out);
    }
    if (c.rc != HK_OK)
        fail_rc(r, c.rc, &c.e);
    end(a, &c);
}

/* ------------------------------------------------------------------------ dead letters --- */

/* A Kafka failure of a dead-letter call: 503, the detail to the log only. */
static void fail_kafka(hk_api_response *r, int rc, const hk_error *e)
{
    if (rc == HK_EINVAL) {
        fail(r, 400, e->field, e->msg);
        return;
    }
    HK_WARN("api", "dead-letter topic: %s", e->msg);
    fail(r, 503, NULL, "the dead-letter topic (Kafka) cannot be read or written; see hookd's log");
}

/* webhookId, since and until of a dead-letter filter, each NULL when absent: a task id and RFC
 * 3339 times, since not after until. */
static bool dlq_filter(hk_api *a, const char *webhook, const char *since, const char *until,
                       hk_dead_letter_filter *f, hk_api_response *r)
{
    *f = (hk_dead_letter_filter){.group = hk_config_kafka(a->cfg, "group.id")};
    hk_error e = {0};
    if (webhook && hk_validate_task_id(webhook, "webhookId", &e) != HK_OK) {
        fail(r, 400, e.field, e.msg);
        return false;
    }
    f->webhook_id = webhook;
    const char *names[] = {"since", "until"};
    const char *values[] = {since, until};
    uint64_t *out[] = {&f->since_ms, &f->until_ms};
    for (size_t i = 0; i < 2; i++) {
        if (values[i] && (!hk_parse_time(values[i], out[i]) || !*out[i])) {
            char msg[128];
            snprintf(msg, sizeof msg, "%s: must be an RFC 3339 time (2026-11-23T10:00:00Z)",
                     names[i]);
            fail(r, 400, names[i], msg);
            return false;
        }
    }
    if (f->since_ms && f->until_ms && f->until_ms < f->since_ms) {
        fail(r, 400, "until", "until: before since: nothing could match");
        return false;
    }
    return true;
}

/* GET /v1/dlq: a page of this group's dead letters, newest first; the lists' limit and iterator
 * (page_params), the iterator wrapping the last dead letter's place (hk_dlq_page). */
static void dlq_list(hk_api *a, const hk_api_query *q, hk_api_response *r)
{
    static const hk_api_query none = {0};
    if (!q)
        q = &none;
    hk_dead_letter_filter f;
    page_request page;
    if (!dlq_filter(a, q->webhook_id, q->since, q->until, &f, r) || !page_params(q, 'l', &page, r))
        return;
    cJSON *out = NULL;
    hk_error e = {0};
    int rc = hk_dlq_page(a->cfg, &f, page.limit, page.after, &out, &e);
    free(page.after);
    if (rc != HK_OK) {
        fail_kafka(r, rc, &e);
        return;
    }
    const char *next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out, "iterator"));
    if (next) {
        char *it = iterator_of('l', next);
        cJSON_ReplaceItemInObjectCaseSensitive(out, "iterator", cJSON_CreateString(it));
        free(it);
    }
    reply_json(r, 200, out);
}

#define REPLAY_LISTED_MAX 250u /* deliveries a replay's answer names; the rest are counted */

typedef struct replay_listing {
    cJSON *list;
    size_t omitted;
} replay_listing;

static void replay_listed(const cJSON *rec, int32_t partition, int64_t offset, void *arg)
{
    replay_listing *l = arg;
    if ((size_t)cJSON_GetArraySize(l->list) >= REPLAY_LISTED_MAX) {
        l->omitted++;
        return;
    }
    cJSON *o = cJSON_CreateObject();
    static const char *const keys[] = {"deliveryId", "webhookId", "jobId", "deadAt", "reason"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, keys[i]));
        cJSON_AddStringToObject(o, keys[i], v ? v : "");
    }
    cJSON_AddNumberToObject(o, "dlqPartition", partition);
    cJSON_AddNumberToObject(o, "dlqOffset", (double)offset);
    cJSON_AddItemToArray(l->list, o);
}

/* POST /v1/dlq/replay {webhookId, since, until, deliveryIds, limit, dryRun}: hk_dlq_replay, as
 * `hookctl dlq replay` runs it. */
static void dlq_replay(hk_api *a, const char *body, size_t len, hk_api_response *r)
{
    cJSON *in = NULL;
    if (body && len) {
        if (!(in = parse_body(body, len, r)))
            return;
        if (!cJSON_IsObject(in)) {
            fail(r, 400, "body", "body: must be a JSON object");
            cJSON_Delete(in);
            return;
        }
    }
    const char *webhook = NULL, *since = NULL, *until = NULL;
    const char **ids = NULL;
    size_t ids_len = 0;
    hk_dlq_replay_opts opts = {0};
    bool ok = true;
    const cJSON *v;
    cJSON_ArrayForEach(v, in) /* every field known, each of its type */
    {
        const char *k = v->string;
        char msg[160] = "";
        if (cJSON_GetObjectItemCaseSensitive(in, k) != v) /* cJSON keeps both: which is meant? */
            snprintf(msg, sizeof msg, "%.64s: given twice", k);
        else if (strcmp(k, "webhookId") == 0 || strcmp(k, "since") == 0 ||
                 strcmp(k, "until") == 0) {
            if (!cJSON_IsString(v))
                snprintf(msg, sizeof msg, "%s: must be a string", k);
            else
                *(k[0] == 'w' ? &webhook : k[0] == 's' ? &since : &until) = v->valuestring;
        } else if (strcmp(k, "limit") == 0) {
            if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1 && v->valuedouble <= 1000000) ||
                v->valuedouble != (double)(long long)v->valuedouble) /* in range: cast safely */
                snprintf(msg, sizeof msg, "limit: must be an integer from 1 to 1000000");
            else
                opts.limit = (size_t)v->valuedouble;
        } else if (strcmp(k, "dryRun") == 0) {
            if (!cJSON_IsBool(v))
                snprintf(msg, sizeof msg, "dryRun: must be true or false");
            else
                opts.dry_run = cJSON_IsTrue(v);
        } else if (strcmp(k, "deliveryIds") == 0) {
            int n = cJSON_GetArraySize(v);
            if (!cJSON_IsArray(v) || n < 1 || n > (int)HK_DLQ_PAGE_MAX) {
                snprintf(msg, sizeof msg, "deliveryIds: must be a list of 1 to %u delivery ids",
                         HK_DLQ_PAGE_MAX);
            } else {
                ids = hk_xcalloc((size_t)n, sizeof *ids);
                int i = 0;
                const cJSON *id;
                cJSON_ArrayForEach(id, v)
                {
                    if (!cJSON_IsString(id) || !*id->valuestring || strlen(id->valuestring) > 256) {
                        snprintf(msg, sizeof msg,
                                 "deliveryIds[%d]: must be a string of 1 to 256 characters", i);
                        break;
                    }
                    ids[i++] = id->valuestring;
                }
                ids_len = (size_t)i;
            }
        } else {
            snprintf(msg, sizeof msg,
                     "%.64s: unknown field (webhookId, since, until, deliveryIds, limit, dryRun)",
                     k);
        }
        if (msg[0]) {
            char field[80];
            snprintf(field, sizeof field, "%.64s", k);
            if (strncmp(msg, "deliveryIds[", 12) == 0)
                snprintf(field, sizeof field, "%.*s", (int)(strchr(msg, ':') - msg), msg);
            fail(r, 400, field, msg);
            ok = false;
            break;
        }
    }
    hk_dead_letter_filter f;
    if (ok && dlq_filter(a, webhook, since, until, &f, r)) {
        if (ids) {
            f.delivery_ids = ids;
            f.delivery_ids_len = ids_len;
        }
        replay_listing listing = {.list = cJSON_CreateArray()};
        opts.preview = replay_listed;
        opts.arg = &listing;
        hk_dlq_replay_stats stats;
        hk_error e = {0};
        int rc = hk_dlq_replay(a->cfg, &f, &opts, &stats, &e);
        if (rc == HK_OK) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddBoolToObject(o, "dryRun", opts.dry_run);
            cJSON_AddNumberToObject(o, "replayed", (double)stats.replayed);
            cJSON_AddNumberToObject(o, "skipped", (double)stats.skipped);
            cJSON_AddBoolToObject(o, "limited", stats.limited);
            cJSON_AddStringToObject(o, "topic", stats.topic);
            cJSON_AddStringToObject(o, "group", f.group ? f.group : "");
            cJSON_AddItemToObject(o, "deliveries", listing.list);
            listing.list = NULL;
            cJSON_AddNumberToObject(o, "deliveriesOmitted", (double)listing.omitted);
            reply_json(r, 200, o);
            HK_INFO("api", "dead letters %s: %zu deliveries to %s, %zu skipped",
                    opts.dry_run ? "previewed" : "replayed", stats.replayed, stats.topic,
                    stats.skipped);
        } else {
            fail_kafka(r, rc, &e);
        }
        cJSON_Delete(listing.list);
    }
    free(ids);
    cJSON_Delete(in);
}

/* ----------------------------------------------------------------------------- routing --- */

static bool job_id_valid(const char *id)
{
    size_t n = strlen(id);
    for (const char *p = id; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return n > 0 && n <= 256;
}

/* Checks an id in the path by its own rules (a task's, a flow's, an inbound endpoint's); answers
 * 400 naming it when it is not one. */
static bool valid(const char *kind, const char *value, hk_api_response *r)
{
    hk_error e = {0};
    bool scope = strcmp(kind, "flowId") == 0 || strcmp(kind, "spaceId") == 0;
    int rc = strcmp(kind, "id") == 0           ? hk_validate_task_id(value, kind, &e)
             : scope                           ? hk_validate_flow_id(value, kind, &e)
             : strcmp(kind, "inbound id") == 0 ? hk_inbound_validate_id(value, "id", &e)
             : job_id_valid(value)
                 ? HK_OK
                 : hk_error_set(&e, HK_EINVAL, kind,
                                "must be 1 to 256 characters without control characters");
    if (rc != HK_OK)
        fail(r, 400, e.field, e.msg);
    return rc == HK_OK;
}

/* 405 unless method is one of allowed ("GET, POST"). */
static bool allowed(const char *method, const char *allow, hk_api_response *r)
{
    size_t n = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)); p += n)
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return true;
    r->allow = allow;
    char msg[96];
    snprintf(msg, sizeof msg, "method %s not allowed here (allowed: %s)", method, allow);
    fail(r, 405, NULL, msg);
    return false;
}

/* /v1/inbound/{id}/waits and /v1/inbound/{id}/waits/{ref}, taken before the path is split: a
 * ref may hold '/' ("run-42/wait-1"), so it is the whole rest of the path. libmicrohttpd hands
 * the path percent-decoded, so "run-42%2Fwait-1" arrives as "run-42/wait-1" and is not decoded
 * again (a ref with a '%' in it stays as it is). False when path (after "/v1/") is neither. */
static bool route_waits(hk_api *a, const char *method, const char *path, const hk_api_query *q,
                        const char *body, size_t body_len, hk_api_response *r)
{
    if (strncmp(path, "inbound/", 8) != 0)
        return false;
    const char *at = path + 8, *end = strchr(at, '/');
    if (!end || strncmp(end, "/waits", 6) != 0 || (end[6] != '\0' && end[6] != '/'))
        return false;
    char *id = hk_strndup(at, (size_t)(end - at));
    const char *ref = end[6] ? end + 7 : ""; /* ".../waits/" is the collection too */
    if (!valid("inbound id", id, r)) {
        /* answered */
    } else if (!*ref) {
        if (allowed(method, "GET, POST", r))
            inbound_waits(a, method, id, q, body, body_len, r);
    } else if (allowed(method, "GET, DELETE", r)) {
        inbound_wait(a, method, id, ref, r);
    }
    free(id);
    return true;
}

/* /v1/flows/{flowId}/webhooks[/sub] and /v1/spaces/{spaceId}/webhooks[/sub] (scope checked);
 * an unknown sub is left unanswered (404). */
static void route_scope(hk_api *a, const char *method, const hk_scope *scope, const char *sub,
                        const hk_api_query *q, const char *body, size_t body_len,
                        hk_api_response *r)
{
    if (!sub) {
        if (allowed(method, "GET, POST", r))
            flow_webhooks(a, method, scope, q, body, body_len, r);
    } else if (strcmp(sub, "test") == 0) {
        if (allowed(method, "POST", r))
            draft_test(a, scope, body, body_len, r);
    } else if (strcmp(sub, "export") == 0) {
        if (allowed(method, "GET", r))
            flow_export(a, scope, r);
    } else if (strcmp(sub, "import") == 0) {
        if (allowed(method, "POST", r))
            flow_import(a, scope, body, body_len, r);
    }
}

void hk_api_handle(hk_api *a, const char *method, const char *path, const hk_api_query *q,
                   const char *body, size_t body_len, hk_api_response *r)
{
    memset(r, 0, sizeof *r);
    if (route_waits(a, method, path + 4, q, body, body_len, r))
        return;
    char *copy = hk_strdup(path + 4); /* after "/v1/" */
    char *seg[MAX_SEGMENTS];
    size_t n = 0;
    bool too_deep = false;
    for (char *save = NULL, *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGMENTS) {
            too_deep = true;
            break;
        }
        seg[n++] = t;
    }
#define IS(i, s) (n > (i) && strcmp(seg[i], s) == 0)
    if (too_deep) {
        /* no route is this deep */
    } else if ((n == 3 || n == 4) && (IS(0, "flows") || IS(0, "spaces")) && IS(2, "webhooks")) {
        hk_scope scope = {IS(0, "spaces") ? HK_SCOPE_SPACE : HK_SCOPE_FLOW, seg[1]};
        if (valid(hk_scope_field(scope.kind), seg[1], r))
            route_scope(a, method, &scope, n == 4 ? seg[3] : NULL, q, body, body_len, r);
    } else if (n == 2 && IS(0, "webhooks")) {
        if (valid("id", seg[1], r) && allowed(method, "GET, PUT, DELETE", r))
            webhook(a, method, seg[1], body, body_len, r);
    } else if (n == 3 && IS(0, "webhooks") && IS(2, "rotate-secret")) {
        if (valid("id", seg[1], r) && allowed(method, "POST", r))
            webhook_rotate(a, seg[1], body, body_len, r);
    } else if (n == 3 && IS(0, "webhooks") && IS(2, "test")) {
        if (valid("id", seg[1], r) && allowed(method, "POST", r))
            webhook_test(a, seg[1], body, body_len, r);
    } else if (n == 1 && IS(0, "inbound")) {
        if (allowed(method, "GET, POST", r))
            inbound_collection(a, method, q, body, body_len, r);
    } else if (n == 2 && IS(0, "inbound")) {
        if (valid("inbound id", seg[1], r) && allowed(method, "GET, PUT, PATCH, DELETE", r))
            inbound_one(a, method, seg[1], body, body_len, r);
    } else if (n == 3 && IS(0, "inbound") && IS(2, "requests")) {
        if (valid("inbound id", seg[1], r) && allowed(method, "GET", r))
            inbound_requests(a, seg[1], q, r);
    } else if (n == 3 && IS(0, "deliveries") && IS(2, "resend")) {
        if (valid("deliveryId", seg[1], r) && allowed(method, "POST", r))
            delivery_resend(a, seg[1], body, body_len, r);
    } else if (n == 1 && IS(0, "dlq")) {
        if (allowed(method, "GET", r))
            dlq_list(a, q, r);
    } else if (n == 2 && IS(0, "dlq") && IS(1, "replay")) {
        if (allowed(method, "POST", r))
            dlq_replay(a, body, body_len, r);
    } else if (n == 3 && IS(0, "jobs") && IS(2, "deliveries")) {
        if (valid("jobId", seg[1], r) && allowed(method, "GET", r))
            job_deliveries(a, seg[1], q, r);
    }
#undef IS
    if (!r->status)
        fail(r, 404, NULL, "no such endpoint (see docs/api.md)");
    free(copy);
}
