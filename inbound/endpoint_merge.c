/*
 * endpoint_merge.c — an update of an endpoint: the old endpoint changed by a patch (RFC 7396
 * merge patch) or replaced whole (PUT), then validated exactly as a new one. What a display
 * showed masked comes back masked, so a masked value where a secret goes stands for the old
 * secret it masks (as for tasks in store/); the state (verified, since when) stays hookd-
 * ingress's, so an endpoint read, edited and written back is accepted as it is.
 */
#include "endpoint_internal.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Wipes every string of a tree before it is deleted: the trees here hold the old secrets. */
static void wipe_strings(cJSON *json)
{
    for (cJSON *c = json->child; c; c = c->next)
        wipe_strings(c);
    if (cJSON_IsString(json) && json->valuestring)
        OPENSSL_cleanse(json->valuestring, strlen(json->valuestring));
}

static void delete_tree(cJSON *json)
{
    if (json)
        wipe_strings(json);
    cJSON_Delete(json);
}

static void set_member(cJSON *obj, const char *key, cJSON *value)
{
    if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value))
        cJSON_AddItemToObject(obj, key, value);
}

/* RFC 7396: target (an object) changed by patch (an object). */
static void merge_patch(cJSON *target, const cJSON *patch)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, patch)
    {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(target, m->string);
        if (cJSON_IsNull(m)) {
            cJSON_DeleteItemFromObjectCaseSensitive(target, m->string);
        } else if (cJSON_IsObject(m)) {
            if (!cJSON_IsObject(t)) {
                t = cJSON_CreateObject();
                set_member(target, m->string, t);
            }
            merge_patch(t, m);
        } else {
            set_member(target, m->string, cJSON_Duplicate(m, true));
        }
    }
}

/* A state field in the patch must say what old says (a get, edited and put back). */
static int check_state(const cJSON *patch, const hk_inbound_endpoint *old, hk_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(patch, "verified");
    if (v && !cJSON_IsNull(v) && (!cJSON_IsBool(v) || cJSON_IsTrue(v) != old->verified))
        return hk_error_set(err, HK_EINVAL, "verified",
                            "kept by hookd-ingress (it is %s); an update cannot change it",
                            old->verified ? "true" : "false");
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(patch, "stateChangedAt");
    uint64_t ms = 0;
    if (at && !cJSON_IsNull(at) &&
        (!cJSON_IsString(at) || !hk_parse_time(at->valuestring, &ms) ||
         ms != old->state_changed_ms))
        return hk_error_set(err, HK_EINVAL, "stateChangedAt",
                            "kept by hookd-ingress; an update cannot change it");
    return HK_OK;
}

/* The masked string at obj[key] (or array element when key is NULL and item given) replaced by
 * secret when the mask stands for it. */
static int keep_one(cJSON *obj, const char *key, const char *secret, const char *field,
                    hk_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(item) || !hk_inbound__is_masked(item->valuestring))
        return HK_OK;
    if (!hk_inbound__mask_matches(item->valuestring, secret))
        return hk_error_set(err, HK_EINVAL, field,
                            "masked (****), and the endpoint has no such value to keep; give "
                            "the value itself");
    set_member(obj, key, cJSON_CreateString(secret));
    return HK_OK;
}

/* The old secret a masked secret stands for: the first one not yet taken that it masks. */
static int keep_secret(cJSON *item, const hk_inbound_endpoint *old, bool *taken, const char *field,
                       cJSON **replacement, hk_error *err)
{
    *replacement = NULL;
    if (!cJSON_IsString(item) || !hk_inbound__is_masked(item->valuestring))
        return HK_OK;
    for (size_t k = 0; k < old->secrets_len; k++) {
        if (!taken[k] && hk_inbound__mask_matches(item->valuestring, old->secrets[k])) {
            taken[k] = true;
            *replacement = cJSON_CreateString(old->secrets[k]);
            return HK_OK;
        }
    }
    return hk_error_set(err, HK_EINVAL, field,
                        "masked (****), and the endpoint has no secret it stands for; give the "
                        "secret itself");
}

static int keep_secrets(cJSON *json, const hk_inbound_endpoint *old, hk_error *err)
{
    bool taken[HK_INBOUND_MAX_SECRETS + 1] = {false};
    if (old->secrets_len > HK_INBOUND_MAX_SECRETS)
        return hk_error_set(err, HK_EINVAL, "secrets", "the endpoint holds too many secrets");
    cJSON *rep;
    if (keep_secret(cJSON_GetObjectItemCaseSensitive(json, "secret"), old, taken, "secret", &rep,
                    err) != HK_OK)
        return HK_EINVAL;
    if (rep)
        set_member(json, "secret", rep);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(json, "secrets");
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    for (int i = 0; i < n; i++) {
        char field[32];
        snprintf(field, sizeof field, "secrets[%d]", i);
        if (keep_secret(cJSON_GetArrayItem(arr, i), old, taken, field, &rep, err) != HK_OK)
            return HK_EINVAL;
        if (rep)
            cJSON_ReplaceItemInArray(arr, i, rep);
    }
    return HK_OK;
}

static int keep_verification(cJSON *json, const hk_inbound_endpoint *old, hk_error *err)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(json, "verification");
    if (!cJSON_IsObject(v))
        return HK_OK;
    const hk_custom_verification *ov = &old->verification;
    if (keep_one(v, "password", ov->password, "verification.password", err) != HK_OK ||
        keep_one(v, "value", ov->value, "verification.value", err) != HK_OK)
        return HK_EINVAL;
    cJSON *headers = cJSON_GetObjectItemCaseSensitive(v, "headers");
    if (!cJSON_IsObject(headers))
        return HK_OK;
    int n = cJSON_GetArraySize(headers);
    for (int k = 0; k < n; k++) {
        /* keep_one may replace the member: its name is copied first. */
        char *name = hk_strdup(cJSON_GetArrayItem(headers, k)->string);
        const char *secret = NULL;
        for (size_t i = 0; i < ov->headers_len && !secret; i++)
            if (strcasecmp(ov->headers[i].key, name) == 0)
                secret = ov->headers[i].value;
        char field[128];
        snprintf(field, sizeof field, "verification.headers.%.64s", name);
        int rc = keep_one(headers, name, secret, field, err);
        free(name);
        if (rc != HK_OK)
            return HK_EINVAL;
    }
    return HK_OK;
}

/* The JSON the update stands for, before validation; NULL with err set when refused. */
static cJSON *updated_json(const hk_inbound_endpoint *old, const cJSON *patch,
                           hk_inbound_merge_mode mode, hk_error *err)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(patch, "id");
    if (id && !cJSON_IsNull(id) && (!cJSON_IsString(id) || strcmp(id->valuestring, old->id) != 0)) {
        hk_error_set(err, HK_EINVAL, "id", "does not match the endpoint being updated");
        return NULL;
    }
    if (check_state(patch, old, err) != HK_OK)
        return NULL;
    cJSON *json;
    if (mode == HK_INBOUND_PATCH) {
        json = hk_inbound_endpoint_to_json(old, true);
        /* secret and secrets are one field in two spellings: a patch giving either replaces
         * both (else {"secrets": [...]} over a stored "secret" would be both at once). */
        if (cJSON_GetObjectItemCaseSensitive(patch, "secret") ||
            cJSON_GetObjectItemCaseSensitive(patch, "secrets")) {
            cJSON_DeleteItemFromObjectCaseSensitive(json, "secret");
            cJSON_DeleteItemFromObjectCaseSensitive(json, "secrets");
        }
        merge_patch(json, patch);
    } else {
        json = cJSON_Duplicate(patch, true);
        const cJSON *flow = cJSON_GetObjectItemCaseSensitive(json, "flowId");
        if (!flow || cJSON_IsNull(flow))
            set_member(json, "flowId", cJSON_CreateString(old->flow_id));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(json, "verified");
    cJSON_DeleteItemFromObjectCaseSensitive(json, "stateChangedAt");
    set_member(json, "id", cJSON_CreateString(old->id));
    if (keep_secrets(json, old, err) != HK_OK || keep_verification(json, old, err) != HK_OK ||
        keep_one(json, "verifyToken", old->verify_token, "verifyToken", err) != HK_OK) {
        delete_tree(json);
        return NULL;
    }
    return json;
}

int hk_inbound_endpoint_merge(const hk_inbound_endpoint *old, const cJSON *patch,
                              hk_inbound_merge_mode mode, hk_inbound_endpoint **out, hk_error *err)
{
    *out = NULL;
    if (!cJSON_IsObject(patch))
        return hk_error_set(err, HK_EINVAL, "endpoint", "must be a JSON object");
    cJSON *json = updated_json(old, patch, mode, err);
    if (!json)
        return HK_EINVAL;
    int rc = hk_inbound_endpoint_from_json(json, false, out, err);
    delete_tree(json);
    if (rc != HK_OK)
        return rc;
    (*out)->verified = old->verified;
    (*out)->state_changed_ms = old->state_changed_ms;
    return HK_OK;
}
