/*
 * task.c — webhook tasks: the contract's JSON form, every validation rule (each refusal names
 * the field by its JSON path), serialisation with secrets masked for display, and matching a
 * task's trigger against a job event. The field checks it shares with job events (URLs,
 * headers, ids, Standard Webhooks secrets) are in fields.c.
 */
#include "hk_model.h"

#include <math.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const method_names[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
static const char *const trigger_names[] = {"success", "failure", "any"};
static const char *const sig_names[] = {"none", "timestamped", "body", "standard"};

static const char *const known_fields[] = {
    "id",
    "flowId",
    "spaceId",
    "name",
    "url",
    "method",
    "headers",
    "body",
    "trigger",
    "secret",
    "secrets",
    "signature",
    "signatureHeader",
    "validateSsl",
    "retry",
    "timeoutMs",
    "enabled",
    "disabledReason",
    "disabledAt",
    "allowCrossOriginOverrides",
    "previousSecretsUntil",
    "rateLimit",
    NULL,
};

/* Headers whose value hookd decides (framing, connection, identity, the Standard Webhooks
 * trio): a signatureHeader naming one would make curl send a forged or doubled copy. */
static const char *const managed_headers[] = {
    "Content-Length",
    "Transfer-Encoding",
    "Host",
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "TE",
    "Trailer",
    "Upgrade",
    "Expect",
    "Content-Type",
    "User-Agent",
    "X-Webhook-Id",
    "X-Webhook-Attempt",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    NULL,
};

const char *hk_method_name(hk_method m)
{
    return method_names[m];
}

bool hk_method_has_body(hk_method m)
{
    return m == HK_METHOD_POST || m == HK_METHOD_PUT || m == HK_METHOD_PATCH;
}

/* Ids are drawn from the CSPRNG a block at a time, per thread: one RAND_bytes per id (its DRBG
 * lock and bookkeeping) was 5% of hookd-ingress's CPU per request. No program of hookd forks
 * after drawing one (a child would share the block's rest with its parent). */
#define ID_RANDOM_BLOCK 1200

void hk_new_id(const char *prefix, char out[32])
{
    static _Thread_local unsigned char block[ID_RANDOM_BLOCK];
    static _Thread_local size_t used = ID_RANDOM_BLOCK;
    unsigned char raw[12];
    if (used + sizeof raw > sizeof block) {
        if (RAND_bytes(block, sizeof block) != 1)
            abort(); /* no entropy: never hand out a guessable id */
        used = 0;
    }
    memcpy(raw, block + used, sizeof raw);
    explicit_bzero(block + used, sizeof raw); /* each byte serves once */
    used += sizeof raw;
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    hk_hex(raw, sizeof raw, out + n);
}

void hk_task_new_id(char out[32])
{
    hk_new_id("wh_", out);
}

const char *hk_scope_field(hk_scope_kind kind)
{
    return kind == HK_SCOPE_SPACE ? "spaceId" : "flowId";
}

const char *hk_scope_noun(hk_scope_kind kind)
{
    return kind == HK_SCOPE_SPACE ? "space" : "flow";
}

hk_scope hk_task_scope(const hk_task *t)
{
    return t->space_id ? (hk_scope){HK_SCOPE_SPACE, t->space_id}
                       : (hk_scope){HK_SCOPE_FLOW, t->flow_id};
}

/* -------------------------------------------------------------------------- parse --- */

static int get_id_text(const cJSON *item, const char *field, char **out, hk_error *err)
{
    if (cJSON_IsString(item)) {
        *out = hk_strdup(item->valuestring);
        return HK_OK;
    }
    if (cJSON_IsNumber(item) && isfinite(item->valuedouble) &&
        item->valuedouble == floor(item->valuedouble) && fabs(item->valuedouble) < 9.0e15) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)item->valuedouble);
        *out = hk_strdup(buf);
        return HK_OK;
    }
    return hk_error_set(err, HK_EINVAL, field, "must be a string or a number");
}

static int get_bool(const cJSON *obj, const char *key, const char *field, bool def, bool *out,
                    hk_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) {
        *out = def;
        return HK_OK;
    }
    if (!cJSON_IsBool(item))
        return hk_error_set(err, HK_EINVAL, field, "must be true or false");
    *out = cJSON_IsTrue(item);
    return HK_OK;
}

static int get_int(const cJSON *obj, const char *key, const char *field, long lo, long hi,
                   long *out, hk_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) {
        *out = 0;
        return HK_OK;
    }
    if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble) ||
        item->valuedouble < (double)lo || item->valuedouble > (double)hi) {
        /* HK_EINVAL spelled out rather than hk_error_set's return: callers read *out after an
         * HK_OK, and only a literal lets the compiler see that every HK_OK path has set it. */
        hk_error_set(err, HK_EINVAL, field, "must be an integer from %ld to %ld", lo, hi);
        return HK_EINVAL;
    }
    *out = (long)item->valuedouble;
    return HK_OK;
}

static int get_string(const cJSON *obj, const char *key, const char *field, size_t max, char **out,
                      hk_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) {
        *out = NULL;
        return HK_OK;
    }
    if (!cJSON_IsString(item))
        return hk_error_set(err, HK_EINVAL, field, "must be a string");
    if (strlen(item->valuestring) > max)
        return hk_error_set(err, HK_EINVAL, field, "longer than %zu bytes", max);
    *out = hk_strdup(item->valuestring);
    return HK_OK;
}

static int enum_index(const char *s, const char *const *names, size_t n, bool nocase)
{
    for (size_t i = 0; i < n; i++)
        if (nocase ? strcasecmp(s, names[i]) == 0 : strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

static int parse_secrets(const cJSON *json, hk_task *t, hk_error *err)
{
    const cJSON *secret = cJSON_GetObjectItemCaseSensitive(json, "secret");
    const cJSON *secrets = cJSON_GetObjectItemCaseSensitive(json, "secrets");
    bool has_one = secret && !cJSON_IsNull(secret);
    bool has_many = secrets && !cJSON_IsNull(secrets);
    if (has_one && has_many)
        return hk_error_set(err, HK_EINVAL, "secrets", "give either secret or secrets, not both");
    if (has_one) {
        if (!cJSON_IsString(secret) || !secret->valuestring[0])
            return hk_error_set(err, HK_EINVAL, "secret", "must be a non-empty string");
        if (strlen(secret->valuestring) > 256)
            return hk_error_set(err, HK_EINVAL, "secret", "longer than 256 characters");
        t->secrets = hk_xcalloc(1, sizeof(char *));
        t->secrets[0] = hk_strdup(secret->valuestring);
        t->secrets_len = 1;
    } else if (has_many) {
        if (!cJSON_IsArray(secrets) || cJSON_GetArraySize(secrets) == 0)
            return hk_error_set(err, HK_EINVAL, "secrets", "must be a non-empty array of strings");
        t->secrets = hk_xcalloc((size_t)cJSON_GetArraySize(secrets), sizeof(char *));
        const cJSON *s;
        cJSON_ArrayForEach(s, secrets)
        {
            char field[32];
            snprintf(field, sizeof field, "secrets[%zu]", t->secrets_len);
            if (!cJSON_IsString(s) || !s->valuestring[0] || strlen(s->valuestring) > 256)
                return hk_error_set(err, HK_EINVAL, field,
                                    "must be a non-empty string of at most 256 characters");
            t->secrets[t->secrets_len++] = hk_strdup(s->valuestring);
        }
    }
    const cJSON *until = cJSON_GetObjectItemCaseSensitive(json, "previousSecretsUntil");
    if (until && !cJSON_IsNull(until)) {
        if (!cJSON_IsString(until) ||
            !hk_parse_time(until->valuestring, &t->previous_secrets_until_ms))
            return hk_error_set(err, HK_EINVAL, "previousSecretsUntil",
                                "must be an RFC 3339 time (2026-12-01T10:00:00Z)");
        if (t->secrets_len < 2)
            return hk_error_set(err, HK_EINVAL, "previousSecretsUntil",
                                "only with secrets listing the new one and the previous ones");
    }
    return HK_OK;
}

size_t hk_task_signing_secrets(const hk_task *t, uint64_t now_ms)
{
    if (t->secrets_len > 1 && t->previous_secrets_until_ms &&
        now_ms >= t->previous_secrets_until_ms)
        return 1;
    return t->secrets_len;
}

/* hk_task_from_json's field groups, in the order it checks them (the order decides which error a
 * task with several bad fields gets, and the tests compare those messages). Each sets its fields
 * on t and returns HK_OK, or sets err and returns HK_EINVAL; the caller destroys t on an error. */

/* flowId or spaceId: exactly one, by the same rule (hk_validate_flow_id). */
static int parse_scope(const cJSON *json, hk_task *t, hk_error *err)
{
    const cJSON *flow = cJSON_GetObjectItemCaseSensitive(json, "flowId");
    const cJSON *space = cJSON_GetObjectItemCaseSensitive(json, "spaceId");
    bool has_flow = flow && !cJSON_IsNull(flow), has_space = space && !cJSON_IsNull(space);
    if (has_flow && has_space)
        return hk_error_set(err, HK_EINVAL, "spaceId", "a task has flowId or spaceId, not both");
    if (!has_flow && !has_space)
        return hk_error_set(err, HK_EINVAL, "flowId", "required (or spaceId)");
    const char *field = has_flow ? "flowId" : "spaceId";
    char **id = has_flow ? &t->flow_id : &t->space_id;
    if (get_id_text(has_flow ? flow : space, field, id, err) != HK_OK)
        return HK_EINVAL;
    return hk_validate_flow_id(*id, field, err);
}

static int parse_identity(const cJSON *json, bool generate_id, hk_task *t, hk_error *err)
{
    if (get_string(json, "id", "id", 67, &t->id, err) != HK_OK)
        return HK_EINVAL;
    if (t->id) {
        if (hk_validate_task_id(t->id, "id", err) != HK_OK)
            return HK_EINVAL;
    } else if (generate_id) {
        char id[32];
        hk_task_new_id(id);
        t->id = hk_strdup(id);
    } else {
        return hk_error_set(err, HK_EINVAL, "id", "required");
    }

    if (parse_scope(json, t, err) != HK_OK)
        return HK_EINVAL;

    if (get_string(json, "name", "name", 200, &t->name, err) != HK_OK)
        return HK_EINVAL;
    if (!t->name)
        t->name = hk_strdup("");
    return HK_OK;
}

static int parse_headers(const cJSON *json, hk_task *t, hk_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "headers");
    if (!item || cJSON_IsNull(item))
        return HK_OK;
    if (!cJSON_IsObject(item))
        return hk_error_set(err, HK_EINVAL, "headers", "must be an object of strings");
    t->headers = hk_xcalloc((size_t)cJSON_GetArraySize(item) + 1, sizeof(hk_kv));
    const cJSON *h;
    cJSON_ArrayForEach(h, item)
    {
        char field[300];
        snprintf(field, sizeof field, "headers.%.256s", h->string);
        if (!cJSON_IsString(h))
            return hk_error_set(err, HK_EINVAL, field, "must be a string");
        if (hk_validate_header(h->string, h->valuestring, field, err) != HK_OK)
            return HK_EINVAL;
        t->headers[t->headers_len].key = hk_strdup(h->string);
        t->headers[t->headers_len].value = hk_strdup(h->valuestring);
        t->headers_len++;
    }
    return HK_OK;
}

/* url, method, headers, body. */
static int parse_request(const cJSON *json, hk_task *t, hk_error *err)
{
    if (get_string(json, "url", "url", 4096, &t->url, err) != HK_OK)
        return HK_EINVAL;
    if (!t->url)
        return hk_error_set(err, HK_EINVAL, "url", "required");
    if (hk_validate_url(t->url, "url", err) != HK_OK)
        return HK_EINVAL;

    char *s = NULL;
    if (get_string(json, "method", "method", 16, &s, err) != HK_OK)
        return HK_EINVAL;
    t->method = HK_METHOD_POST;
    if (s) {
        int m = enum_index(s, method_names, 5, true);
        free(s);
        if (m < 0)
            return hk_error_set(err, HK_EINVAL, "method",
                                "must be GET, POST, PUT, PATCH or DELETE");
        t->method = (hk_method)m;
    }

    if (parse_headers(json, t, err) != HK_OK)
        return HK_EINVAL;

    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "body");
    if (item && !cJSON_IsNull(item) && !cJSON_IsString(item))
        return hk_error_set(err, HK_EINVAL, "body", "must be a string");
    if (item && cJSON_IsString(item) && strlen(item->valuestring) > HK_TASK_MAX_BODY)
        return hk_error_set(err, HK_EINVAL, "body", "%zu bytes, over the 256 KiB limit",
                            strlen(item->valuestring));
    t->body = hk_strdup(item && cJSON_IsString(item) ? item->valuestring : "");
    return HK_OK;
}

static int parse_trigger_objects(const cJSON *objs, hk_task *t, hk_error *err)
{
    if (cJSON_IsString(objs) && strcasecmp(objs->valuestring, "any") == 0) {
        t->trigger_any_object = true;
    } else if (cJSON_IsArray(objs) && cJSON_GetArraySize(objs) > 0) {
        t->trigger_any_object = false;
        t->trigger_objects = hk_xcalloc((size_t)cJSON_GetArraySize(objs), sizeof(char *));
        const cJSON *o;
        cJSON_ArrayForEach(o, objs)
        {
            char field[48];
            snprintf(field, sizeof field, "trigger.objects[%zu]", t->trigger_objects_len);
            if (get_id_text(o, field, &t->trigger_objects[t->trigger_objects_len], err) != HK_OK)
                return HK_EINVAL;
            t->trigger_objects_len++;
        }
    } else {
        return hk_error_set(err, HK_EINVAL, "trigger.objects",
                            "must be \"any\" or a non-empty list of output ids");
    }
    return HK_OK;
}

static const char *const event_type_names[] = {"job.completed", "orchestration.completed",
                                               HK_EVENT_TASK_DISABLED};
#define EVENT_TYPES (sizeof event_type_names / sizeof event_type_names[0])

/* trigger.types: a non-empty list of known event types, each once. */
static int parse_trigger_types(const cJSON *types, hk_task *t, hk_error *err)
{
    if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) == 0)
        return hk_error_set(err, HK_EINVAL, "trigger.types",
                            "must be a non-empty list of event types (leave it out for all)");
    size_t i = 0;
    const cJSON *ty;
    cJSON_ArrayForEach(ty, types)
    {
        char field[48];
        snprintf(field, sizeof field, "trigger.types[%zu]", i++);
        int k = cJSON_IsString(ty)
                    ? enum_index(ty->valuestring, event_type_names, EVENT_TYPES, false)
                    : -1;
        if (k < 0)
            return hk_error_set(err, HK_EINVAL, field,
                                "must be job.completed or orchestration.completed, or "
                                "task.disabled");
        if (t->trigger_types & (1u << k))
            return hk_error_set(err, HK_EINVAL, field, "%s is listed twice", event_type_names[k]);
        t->trigger_types |= 1u << k;
    }
    return HK_OK;
}

static int parse_trigger(const cJSON *json, hk_task *t, hk_error *err)
{
    t->trigger_event = HK_TRIGGER_SUCCESS;
    t->trigger_any_object = true;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "trigger");
    if (!item || cJSON_IsNull(item))
        return HK_OK;
    if (!cJSON_IsObject(item))
        return hk_error_set(err, HK_EINVAL, "trigger", "must be an object");
    const cJSON *sub;
    cJSON_ArrayForEach(sub, item)
    {
        if (strcmp(sub->string, "event") != 0 && strcmp(sub->string, "objects") != 0 &&
            strcmp(sub->string, "types") != 0) {
            char field[96];
            snprintf(field, sizeof field, "trigger.%.64s", sub->string);
            return hk_error_set(err, HK_EINVAL, field, "unknown field");
        }
    }
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(item, "event");
    if (ev && !cJSON_IsNull(ev)) {
        int e = cJSON_IsString(ev) ? enum_index(ev->valuestring, trigger_names, 3, true) : -1;
        if (e < 0)
            return hk_error_set(err, HK_EINVAL, "trigger.event", "must be success, failure or any");
        t->trigger_event = (hk_trigger_event)e;
    }
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(item, "types");
    if (types && !cJSON_IsNull(types) && parse_trigger_types(types, t, err) != HK_OK)
        return HK_EINVAL;
    const cJSON *objs = cJSON_GetObjectItemCaseSensitive(item, "objects");
    if (objs && !cJSON_IsNull(objs))
        return parse_trigger_objects(objs, t, err);
    return HK_OK;
}

/* A standard signature's secrets must each decode as whsec_ + base64. */
static int check_standard_secrets(const cJSON *json, const hk_task *t, hk_error *err)
{
    for (size_t i = 0; i < t->secrets_len; i++) {
        unsigned char key[96];
        if (hk_whsec_decode(t->secrets[i], key) < 0) {
            char field[32];
            if (t->secrets_len == 1 && cJSON_GetObjectItemCaseSensitive(json, "secret"))
                snprintf(field, sizeof field, "secret");
            else
                snprintf(field, sizeof field, "secrets[%zu]", i);
            return hk_error_set(err, HK_EINVAL, field,
                                "a standard signature needs whsec_ followed by base64 of 24 to 64 "
                                "bytes");
        }
    }
    return HK_OK;
}

/* secret(s), signature, signatureHeader. */
static int parse_signing(const cJSON *json, hk_task *t, hk_error *err)
{
    if (parse_secrets(json, t, err) != HK_OK)
        return HK_EINVAL;
    char *s = NULL;
    if (get_string(json, "signature", "signature", 32, &s, err) != HK_OK)
        return HK_EINVAL;
    if (s) {
        int sig = enum_index(s, sig_names, 4, true);
        free(s);
        if (sig < 0)
            return hk_error_set(err, HK_EINVAL, "signature",
                                "must be timestamped, body, standard or none");
        t->signature = (hk_sig_scheme)sig;
        if (t->signature != HK_SIG_NONE && t->secrets_len == 0)
            return hk_error_set(err, HK_EINVAL, "secret", "required when signature is %s",
                                sig_names[t->signature]);
    } else {
        t->signature = t->secrets_len ? HK_SIG_TIMESTAMPED : HK_SIG_NONE;
    }
    if (t->signature == HK_SIG_STANDARD && check_standard_secrets(json, t, err) != HK_OK)
        return HK_EINVAL;
    if (get_string(json, "signatureHeader", "signatureHeader", 256, &t->signature_header, err) !=
        HK_OK)
        return HK_EINVAL;
    if (t->signature_header &&
        hk_validate_header(t->signature_header, NULL, "signatureHeader", err) != HK_OK)
        return HK_EINVAL;
    for (size_t i = 0; t->signature_header && managed_headers[i]; i++) {
        if (strcasecmp(t->signature_header, managed_headers[i]) == 0)
            return hk_error_set(err, HK_EINVAL, "signatureHeader",
                                "%s is a header hookd sets itself; choose another name",
                                managed_headers[i]);
    }
    return HK_OK;
}

/* allowCrossOriginOverrides, validateSsl, retry, timeoutMs, rateLimit. */
static int parse_delivery_options(const cJSON *json, hk_task *t, hk_error *err)
{
    if (get_bool(json, "allowCrossOriginOverrides", "allowCrossOriginOverrides", false,
                 &t->allow_cross_origin_overrides, err) != HK_OK)
        return HK_EINVAL;
    if (get_bool(json, "validateSsl", "validateSsl", true, &t->validate_ssl, err) != HK_OK)
        return HK_EINVAL;
    t->retry_enabled = true;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "retry");
    if (item && !cJSON_IsNull(item)) {
        if (!cJSON_IsObject(item))
            return hk_error_set(err, HK_EINVAL, "retry", "must be an object");
        long v;
        if (get_bool(item, "enabled", "retry.enabled", true, &t->retry_enabled, err) != HK_OK ||
            get_int(item, "maxAttempts", "retry.maxAttempts", 1, HK_TASK_MAX_ATTEMPTS, &v, err) !=
                HK_OK)
            return HK_EINVAL;
        t->max_attempts = (int)v;
    }
    if (get_int(json, "timeoutMs", "timeoutMs", 1, HK_TASK_MAX_TIMEOUT_MS, &t->timeout_ms, err) !=
        HK_OK)
        return HK_EINVAL;
    long rate;
    if (get_int(json, "rateLimit", "rateLimit", 1, HK_TASK_MAX_RATE_LIMIT, &rate, err) != HK_OK)
        return HK_EINVAL;
    t->rate_limit = (unsigned)rate; /* left out: 0, no limit */
    return HK_OK;
}

/* enabled, disabledReason, disabledAt. */
static int parse_state(const cJSON *json, hk_task *t, hk_error *err)
{
    if (get_bool(json, "enabled", "enabled", true, &t->enabled, err) != HK_OK)
        return HK_EINVAL;
    if (get_string(json, "disabledReason", "disabledReason", 1024, &t->disabled_reason, err) !=
            HK_OK ||
        get_string(json, "disabledAt", "disabledAt", 64, &t->disabled_at, err) != HK_OK)
        return HK_EINVAL;
    return HK_OK;
}

int hk_task_from_json(const cJSON *json, bool generate_id, hk_task **out, hk_error *err)
{
    *out = NULL;
    if (!cJSON_IsObject(json))
        return hk_error_set(err, HK_EINVAL, "task", "must be a JSON object");
    const cJSON *item;
    cJSON_ArrayForEach(item, json)
    {
        if (enum_index(item->string, known_fields, sizeof known_fields / sizeof known_fields[0] - 1,
                       false) < 0)
            return hk_error_set(err, HK_EINVAL, item->string, "unknown field");
    }
    hk_task *t = hk_xcalloc(1, sizeof *t);
    if (parse_identity(json, generate_id, t, err) != HK_OK ||
        parse_request(json, t, err) != HK_OK || parse_trigger(json, t, err) != HK_OK ||
        parse_signing(json, t, err) != HK_OK || parse_delivery_options(json, t, err) != HK_OK ||
        parse_state(json, t, err) != HK_OK) {
        hk_task_destroy(t);
        return HK_EINVAL;
    }
    *out = t;
    return HK_OK;
}

int hk_task_parse(const char *text, size_t len, bool generate_id, hk_task **out, hk_error *err)
{
    *out = NULL;
    if (hk_json_refuse_nul(text, len, "task", err) != HK_OK)
        return HK_EINVAL;
    cJSON *json = hk_json_parse_whole(text, len, NULL);
    if (!json) {
        *out = NULL;
        return hk_error_set(err, HK_EINVAL, "task", "not valid JSON");
    }
    int rc = hk_task_from_json(json, generate_id, out, err);
    cJSON_Delete(json);
    return rc;
}

/* ---------------------------------------------------------------------- serialise --- */

static void add_secret(cJSON *arr_or_obj, const char *name, const char *secret, hk_secret_mode mode)
{
    char masked[16];
    const char *v = secret;
    if (mode == HK_SECRETS_MASKED) {
        hk_secret_mask(secret, masked);
        v = masked;
    }
    if (name)
        cJSON_AddStringToObject(arr_or_obj, name, v);
    else
        cJSON_AddItemToArray(arr_or_obj, cJSON_CreateString(v));
}

cJSON *hk_task_to_json(const hk_task *t, hk_secret_mode mode)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", t->id);
    if (t->space_id)
        cJSON_AddStringToObject(o, "spaceId", t->space_id);
    else
        cJSON_AddStringToObject(o, "flowId", t->flow_id);
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "url", t->url);
    cJSON_AddStringToObject(o, "method", method_names[t->method]);
    cJSON *headers = cJSON_AddObjectToObject(o, "headers");
    for (size_t i = 0; i < t->headers_len; i++)
        cJSON_AddStringToObject(headers, t->headers[i].key, t->headers[i].value);
    cJSON_AddStringToObject(o, "body", t->body);
    cJSON *trigger = cJSON_AddObjectToObject(o, "trigger");
    cJSON_AddStringToObject(trigger, "event", trigger_names[t->trigger_event]);
    if (t->trigger_types) { /* left out: every type */
        cJSON *types = cJSON_AddArrayToObject(trigger, "types");
        for (size_t k = 0; k < EVENT_TYPES; k++)
            if (t->trigger_types & (1u << k))
                cJSON_AddItemToArray(types, cJSON_CreateString(event_type_names[k]));
    }
    if (t->trigger_any_object) {
        cJSON_AddStringToObject(trigger, "objects", "any");
    } else {
        cJSON *objs = cJSON_AddArrayToObject(trigger, "objects");
        for (size_t i = 0; i < t->trigger_objects_len; i++)
            cJSON_AddItemToArray(objs, cJSON_CreateString(t->trigger_objects[i]));
    }
    if (t->secrets_len == 1) {
        add_secret(o, "secret", t->secrets[0], mode);
    } else if (t->secrets_len > 1) {
        cJSON *arr = cJSON_AddArrayToObject(o, "secrets");
        for (size_t i = 0; i < t->secrets_len; i++)
            add_secret(arr, NULL, t->secrets[i], mode);
        if (t->previous_secrets_until_ms) {
            char until[32];
            hk_format_time(t->previous_secrets_until_ms, until);
            cJSON_AddStringToObject(o, "previousSecretsUntil", until);
        }
    }
    cJSON_AddStringToObject(o, "signature", sig_names[t->signature]);
    if (t->signature_header)
        cJSON_AddStringToObject(o, "signatureHeader", t->signature_header);
    if (t->allow_cross_origin_overrides)
        cJSON_AddBoolToObject(o, "allowCrossOriginOverrides", true);
    cJSON_AddBoolToObject(o, "validateSsl", t->validate_ssl);
    cJSON *retry = cJSON_AddObjectToObject(o, "retry");
    cJSON_AddBoolToObject(retry, "enabled", t->retry_enabled);
    if (t->max_attempts)
        cJSON_AddNumberToObject(retry, "maxAttempts", t->max_attempts);
    if (t->timeout_ms)
        cJSON_AddNumberToObject(o, "timeoutMs", (double)t->timeout_ms);
    if (t->rate_limit) /* left out: no limit, and a task stored before it prints as before */
        cJSON_AddNumberToObject(o, "rateLimit", t->rate_limit);
    cJSON_AddBoolToObject(o, "enabled", t->enabled);
    if (t->disabled_reason)
        cJSON_AddStringToObject(o, "disabledReason", t->disabled_reason);
    if (t->disabled_at)
        cJSON_AddStringToObject(o, "disabledAt", t->disabled_at);
    return o;
}

void hk_task_destroy(hk_task *t)
{
    if (!t)
        return;
    free(t->id);
    free(t->flow_id);
    free(t->space_id);
    free(t->name);
    free(t->url);
    hk_kv_free(t->headers, t->headers_len);
    free(t->body);
    for (size_t i = 0; i < t->trigger_objects_len; i++)
        free(t->trigger_objects[i]);
    free(t->trigger_objects);
    for (size_t i = 0; i < t->secrets_len; i++) {
        OPENSSL_cleanse(t->secrets[i], strlen(t->secrets[i]));
        free(t->secrets[i]);
    }
    free(t->secrets);
    free(t->signature_header);
    free(t->disabled_reason);
    free(t->disabled_at);
    free(t);
}

/* ------------------------------------------------------------------------- match --- */

/* The event's type as a trigger.types bit; 0 for a type a task cannot name. */
static unsigned event_type_bit(const char *type)
{
    for (size_t k = 0; k < EVENT_TYPES; k++)
        if (strcmp(type, event_type_names[k]) == 0)
            return 1u << k;
    return 0;
}

bool hk_task_matches(const hk_task *t, const hk_event *ev)
{
    if (!t->enabled)
        return false;
    unsigned type = event_type_bit(ev->type);
    if (type & HK_EVENT_TYPES_OPERATIONAL) /* named, and about another task (its id: jobId) */
        return (t->trigger_types & type) && strcmp(ev->job_id, t->id) != 0;
    if (t->trigger_types && !(t->trigger_types & type))
        return false;
    if (t->trigger_event == HK_TRIGGER_SUCCESS && ev->outcome != HK_JOB_SUCCESS)
        return false;
    if (t->trigger_event == HK_TRIGGER_FAILURE && ev->outcome != HK_JOB_FAILURE)
        return false;
    if (t->trigger_any_object)
        return true;
    for (size_t i = 0; i < ev->output_ids_len; i++)
        for (size_t j = 0; j < t->trigger_objects_len; j++)
            if (strcmp(ev->output_ids[i], t->trigger_objects[j]) == 0)
                return true;
    return false;
}
