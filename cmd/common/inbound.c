/*
 * inbound.c — hookd-ingress's endpoints in the store, for the programs that manage them
 * (`hookctl inbound ...` and the admin API's /v1/inbound), so both read and write them one way:
 * validated by inbound/ (hk_inbound_endpoint_from_json / _merge), written whole with their
 * secrets (hk_inbound_endpoint_to_json(ep, true)), read back with
 * hk_inbound_endpoint_from_stored. The verified state is taken from the store's state hash,
 * which hookd-ingress writes: the document's own copy is the one of its last write and may be
 * stale. The waits of flows on an endpoint are read and written here too (validated by
 * inbound/'s hk_inbound_wait_from_json, kept by the store), and so is hookctl's --match form.
 */
#include "hk_cmd.h"

#include "hk_store.h"

#include <openssl/crypto.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* A stored document inbound/ refuses was written past this code (by hand, or an older build):
 * a runtime failure naming the endpoint, never a client's bad input. */
static int from_text(const char *id, const char *text, hk_inbound_endpoint **out, hk_error *err)
{
    cJSON *json = hk_json_parse_whole(text, strlen(text), NULL);
    hk_error bad = {0};
    int rc = json ? hk_inbound_endpoint_from_stored(json, out, &bad)
                  : hk_error_set(&bad, HK_EINVAL, NULL, "not JSON");
    cJSON_Delete(json);
    if (rc != HK_OK)
        return hk_error_set(err, HK_ERR, NULL, "inbound endpoint %s: stored record unreadable: %s",
                            id, bad.msg);
    return HK_OK;
}

static int with_state(hk_store *store, hk_inbound_endpoint *ep, hk_error *err)
{
    return hk_store_inbound_get_state(store, ep->id, &ep->verified, &ep->state_changed_ms, err);
}

int hk_cmd_inbound_get(hk_store *store, const char *id, hk_inbound_endpoint **out, hk_error *err)
{
    *out = NULL;
    char *text = NULL;
    int rc = hk_store_inbound_get(store, id, &text, err);
    if (rc == HK_OK)
        rc = from_text(id, text, out, err);
    free(text);
    if (rc == HK_OK && (rc = with_state(store, *out, err)) != HK_OK) {
        hk_inbound_endpoint_destroy(*out);
        *out = NULL;
    }
    return rc;
}

int hk_cmd_inbound_list(hk_store *store, hk_inbound_endpoint ***out, size_t *n, hk_error *err)
{
    *out = NULL;
    *n = 0;
    char **texts = NULL;
    size_t count = 0;
    int rc = hk_store_inbound_list(store, &texts, &count, err);
    hk_inbound_endpoint **eps = hk_xcalloc(count + 1, sizeof *eps);
    size_t got = 0;
    for (size_t i = 0; i < count; i++) {
        if (rc == HK_OK && (rc = from_text("(listed)", texts[i], &eps[got], err)) == HK_OK &&
            (rc = with_state(store, eps[got], err)) == HK_OK)
            got++;
        else if (eps[got]) { /* parsed, then its state failed */
            hk_inbound_endpoint_destroy(eps[got]);
            eps[got] = NULL;
        }
        free(texts[i]);
    }
    free(texts);
    if (rc != HK_OK) {
        hk_cmd_inbound_list_free(eps, got);
        return rc;
    }
    *out = eps;
    *n = got;
    return HK_OK;
}

void hk_cmd_inbound_list_free(hk_inbound_endpoint **eps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hk_inbound_endpoint_destroy(eps[i]);
    free(eps);
}

/* Writes ep whole. The store refuses a taken id (create) or name with HK_EINVAL naming it:
 * *conflict says so, for the API's 409. */
static int put(hk_store *store, const hk_inbound_endpoint *ep, bool create, uint64_t now_ms,
               bool *conflict, hk_error *err)
{
    cJSON *json = hk_inbound_endpoint_to_json(ep, true);
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    int rc = hk_store_inbound_put(store, ep->id, ep->name, text, create, now_ms, err);
    if (text) { /* it holds the secrets */
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    if (conflict)
        *conflict = rc == HK_EINVAL;
    return rc;
}

int hk_cmd_inbound_create(hk_store *store, const cJSON *input, hk_inbound_endpoint **out,
                          bool *conflict, hk_error *err)
{
    *out = NULL;
    if (conflict)
        *conflict = false;
    hk_inbound_endpoint *ep = NULL;
    int rc = hk_inbound_endpoint_from_json(input, true, &ep, err);
    uint64_t now = hk_wall_ms();
    if (rc == HK_OK && (rc = put(store, ep, true, now, conflict, err)) == HK_OK) {
        ep->verified = false; /* what the store just recorded */
        ep->state_changed_ms = now;
        *out = ep;
        return HK_OK;
    }
    hk_inbound_endpoint_destroy(ep);
    return rc;
}

/* "liveWaits" is output only (hk_cmd_inbound_json): an update may carry it as a display showed
 * it, and it is left out before the merge (inbound/ knows no such field). *out is NULL when
 * patch has none (use it as it is), else a copy without it. A value no display shows (not a
 * count, not null) is refused rather than ignored. */
static int without_live_waits(const cJSON *patch, cJSON **out, hk_error *err)
{
    *out = NULL;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(patch, "liveWaits");
    if (!n)
        return HK_OK;
    if (!cJSON_IsNull(n) && !(cJSON_IsNumber(n) && n->valuedouble >= 0))
        return hk_error_set(err, HK_EINVAL, "liveWaits",
                            "output only (the endpoint's live waits, counted by the "
                            "store); leave it out or as a get showed it");
    *out = cJSON_Duplicate(patch, true);
    cJSON_DeleteItemFromObjectCaseSensitive(*out, "liveWaits");
    return HK_OK;
}

int hk_cmd_inbound_update(hk_store *store, const char *id, const cJSON *patch,
                          hk_inbound_merge_mode mode, hk_inbound_endpoint **out, bool *conflict,
                          hk_error *err)
{
    *out = NULL;
    if (conflict)
        *conflict = false;
    hk_inbound_endpoint *old = NULL, *ep = NULL;
    cJSON *input = NULL;
    int rc = without_live_waits(patch, &input, err);
    if (rc == HK_OK)
        rc = hk_cmd_inbound_get(store, id, &old, err);
    if (rc == HK_OK)
        rc = hk_inbound_endpoint_merge(old, input ? input : patch, mode, &ep, err);
    cJSON_Delete(input);
    /* Not atomic with the read: two updates at once, the last one wins whole (as for tasks). */
    if (rc == HK_OK && (rc = put(store, ep, false, hk_wall_ms(), conflict, err)) == HK_OK)
        *out = ep;
    else
        hk_inbound_endpoint_destroy(ep);
    hk_inbound_endpoint_destroy(old);
    return rc;
}

cJSON *hk_cmd_inbound_json(const hk_inbound_endpoint *ep, long long live_waits)
{
    cJSON *o = hk_inbound_endpoint_to_json(ep, false);
    cJSON_AddNumberToObject(o, "liveWaits", (double)live_waits);
    return o;
}

int hk_cmd_inbound_show(hk_store *store, const hk_inbound_endpoint *ep, cJSON **out, hk_error *err)
{
    long long n = 0;
    int rc = hk_store_wait_count(store, ep->id, &n, err);
    *out = rc == HK_OK ? hk_cmd_inbound_json(ep, n) : NULL;
    return rc;
}

/* ---------------------------------------------------------------------------- waits --- */

/* A ref that comes alone (a URL path, --delete), checked by the rule of the wait's JSON. */
static int check_ref(const char *ref, hk_error *err)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "ref", ref);
    cJSON_AddObjectToObject(doc, "matches");
    hk_inbound_wait *w = NULL;
    int rc = hk_inbound_wait_from_json(doc, &w, err);
    hk_inbound_wait_destroy(w);
    cJSON_Delete(doc);
    return rc;
}

static int not_an_endpoint(const char *endpoint_id, hk_error *err)
{
    return hk_error_set(err, HK_ENOTFOUND, NULL, "no inbound endpoint %s", endpoint_id);
}

/* HK_OK when the endpoint exists, else HK_ENOTFOUND ("no inbound endpoint <id>") or HK_ERR. */
static int endpoint_exists(hk_store *store, const char *endpoint_id, hk_error *err)
{
    char *text = NULL;
    int rc = hk_store_inbound_get(store, endpoint_id, &text, err);
    if (text) { /* it holds the secrets */
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    return rc == HK_ENOTFOUND ? not_an_endpoint(endpoint_id, err) : rc;
}

/* After the store found no wait with the ref (its error in err): which 404 it is, no such
 * endpoint or no such wait on it. */
static int which_not_found(hk_store *store, const char *endpoint_id, hk_error *err)
{
    hk_error e = {0};
    int rc = endpoint_exists(store, endpoint_id, &e);
    if (rc == HK_OK)
        return HK_ENOTFOUND;
    *err = e;
    return rc;
}

/* A wait as shown; NULL (err set) when its stored matches are not JSON. */
static cJSON *wait_json(const hk_store_wait_info *w, hk_error *err)
{
    const char *m = w->matches_json ? w->matches_json : "";
    cJSON *matches = hk_json_parse_whole(m, strlen(m), NULL);
    if (!matches) {
        hk_error_set(err, HK_ERR, NULL, "wait %.200s: stored matches unreadable", w->ref);
        return NULL;
    }
    char created[32], expires[32];
    hk_format_time(w->created_ms > 0 ? (uint64_t)w->created_ms : 0, created);
    hk_format_time(w->expires_ms > 0 ? (uint64_t)w->expires_ms : 0, expires);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ref", w->ref);
    cJSON_AddItemToObject(o, "matches", matches);
    cJSON_AddNumberToObject(o, "ttlSeconds", (double)w->ttl_s);
    cJSON_AddStringToObject(o, "createdAt", created);
    cJSON_AddStringToObject(o, "expiresAt", expires);
    return o;
}

int hk_cmd_inbound_wait_put(hk_store *store, const char *endpoint_id, const cJSON *doc,
                            bool *replaced, cJSON **out, hk_error *err)
{
    *out = NULL;
    if (replaced)
        *replaced = false;
    hk_inbound_wait *w = NULL;
    int rc = hk_inbound_validate_id(endpoint_id, "id", err);
    if (rc == HK_OK)
        rc = hk_inbound_wait_from_json(doc, &w, err);
    if (rc != HK_OK)
        return rc;
    const hk_store_wait sw = {.ref = w->ref,
                              .shape = w->shape,
                              .shape_json = w->shape_json,
                              .digest = w->digest,
                              .matches_json = w->matches_json,
                              .ttl_s = w->ttl_s};
    hk_store_wait_info info = {0};
    rc = hk_store_wait_put(store, endpoint_id, &sw, HK_WAIT_SHAPES_MAX, replaced, &info, err);
    if (rc == HK_ENOTFOUND)
        rc = not_an_endpoint(endpoint_id, err);
    if (rc == HK_OK && !(*out = wait_json(&info, err)))
        rc = HK_ERR;
    hk_store_wait_info_clear(&info);
    hk_inbound_wait_destroy(w);
    return rc;
}

int hk_cmd_inbound_wait_list(hk_store *store, const char *endpoint_id, cJSON **out, hk_error *err)
{
    *out = NULL;
    int rc = hk_inbound_validate_id(endpoint_id, "id", err);
    hk_store_wait_info *ws = NULL;
    size_t n = 0;
    if (rc == HK_OK)
        rc = hk_store_wait_list(store, endpoint_id, &ws, &n, err);
    if (rc == HK_OK && n == 0) /* the store lists none for an unknown endpoint: which is it? */
        rc = endpoint_exists(store, endpoint_id, err);
    cJSON *arr = rc == HK_OK ? cJSON_CreateArray() : NULL;
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *one = wait_json(&ws[i], err);
        if (!one) {
            cJSON_Delete(arr);
            arr = NULL;
            rc = HK_ERR;
        } else {
            cJSON_AddItemToArray(arr, one);
        }
    }
    hk_store_wait_list_free(ws, n);
    *out = arr;
    return rc;
}

int hk_cmd_inbound_wait_get(hk_store *store, const char *endpoint_id, const char *ref, cJSON **out,
                            hk_error *err)
{
    *out = NULL;
    int rc = hk_inbound_validate_id(endpoint_id, "id", err);
    if (rc == HK_OK)
        rc = check_ref(ref, err);
    hk_store_wait_info info = {0};
    if (rc == HK_OK)
        rc = hk_store_wait_get(store, endpoint_id, ref, &info, err);
    if (rc == HK_ENOTFOUND)
        rc = which_not_found(store, endpoint_id, err);
    if (rc == HK_OK && !(*out = wait_json(&info, err)))
        rc = HK_ERR;
    hk_store_wait_info_clear(&info);
    return rc;
}

int hk_cmd_inbound_wait_delete(hk_store *store, const char *endpoint_id, const char *ref,
                               hk_error *err)
{
    int rc = hk_inbound_validate_id(endpoint_id, "id", err);
    if (rc == HK_OK)
        rc = check_ref(ref, err);
    if (rc == HK_OK)
        rc = hk_store_wait_delete(store, endpoint_id, ref, err);
    if (rc == HK_ENOTFOUND)
        rc = which_not_found(store, endpoint_id, err);
    return rc;
}

/* ------------------------------------------------------------------------ --match --- */

/* Where "PATH=VALUE" ends its path: the first '=' outside a quoted name. A quote opens a name
 * only right after '[' (spaces between allowed), so a quote elsewhere is a byte of the path;
 * inside a name a backslash escapes the next byte (\' does not close it). -1 when there is no
 * such '='. */
static ptrdiff_t match_split(const char *arg)
{
    char quote = 0;
    bool after_bracket = false;
    for (const char *p = arg; *p; p++) {
        if (quote) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == quote)
                quote = 0;
        } else if ((*p == '\'' || *p == '"') && after_bracket) {
            quote = *p;
            after_bracket = false;
        } else if (*p == '=') {
            return p - arg;
        } else if (*p == '[') {
            after_bracket = true;
        } else if (*p != ' ') {
            after_bracket = false;
        }
    }
    return -1;
}

int hk_cmd_wait_match(const char *arg, char **path, cJSON **value, hk_error *err)
{
    *path = NULL;
    *value = NULL;
    ptrdiff_t eq = match_split(arg);
    if (eq < 0)
        return hk_error_set(err, HK_EINVAL, "--match",
                            "expected PATH=VALUE (e.g. $.event.type=message); a '=' "
                            "inside a quoted name of the path does not count");
    if (eq == 0)
        return hk_error_set(err, HK_EINVAL, "--match",
                            "the path before '=' is empty (PATH=VALUE, e.g. "
                            "$.event.type=message)");
    const char *text = arg + eq + 1;
    size_t len = strlen(text);
    cJSON *json = len ? hk_json_parse_whole(text, len, NULL) : NULL;
    hk_error nul = {0};
    if (json && hk_json_refuse_nul(text, len, "--match", &nul) != HK_OK) {
        cJSON_Delete(json);
        return hk_error_set(err, HK_EINVAL, "--match",
                            "the value after '=' is JSON with a \\u0000 in it, which is "
                            "not allowed");
    }
    *value = json ? json : cJSON_CreateString(text); /* not JSON: the string as written */
    *path = hk_strndup(arg, (size_t)eq);
    return HK_OK;
}

int hk_cmd_inbound_requests(hk_store *store, const char *endpoint_id, cJSON **out, hk_error *err)
{
    *out = NULL;
    int rc = hk_inbound_validate_id(endpoint_id, "id", err);
    if (rc == HK_OK)
        rc = endpoint_exists(store, endpoint_id, err);
    char **entries = NULL;
    size_t n = 0;
    if (rc == HK_OK)
        rc = hk_store_inbound_recent(store, endpoint_id, &entries, &n, err);
    cJSON *arr = rc == HK_OK ? cJSON_CreateArray() : NULL;
    for (size_t i = 0; i < n; i++) {
        cJSON *one = cJSON_Parse(entries[i]);
        if (arr && cJSON_IsObject(one)) /* hookd-ingress wrote it; anything else is skipped */
            cJSON_AddItemToArray(arr, one);
        else
            cJSON_Delete(one);
        free(entries[i]);
    }
    free(entries);
    *out = arr;
    return rc;
}
