/*
 * inbound.c — hookd-ingress's endpoints in the store, for the programs that manage them
 * (`hookctl inbound ...` and the admin API's /v1/inbound), so both read and write them one way:
 * validated by inbound/ (hk_inbound_endpoint_from_json / _merge), written whole with their
 * secrets (hk_inbound_endpoint_to_json(ep, true)), read back with
 * hk_inbound_endpoint_from_stored. The verified state is taken from the store's state hash,
 * which hookd-ingress writes: the document's own copy is the one of its last write and may be
 * stale.
 */
#include "hk_cmd.h"

#include "hk_store.h"

#include <openssl/crypto.h>
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

int hk_cmd_inbound_update(hk_store *store, const char *id, const cJSON *patch,
                          hk_inbound_merge_mode mode, hk_inbound_endpoint **out, bool *conflict,
                          hk_error *err)
{
    *out = NULL;
    if (conflict)
        *conflict = false;
    hk_inbound_endpoint *old = NULL, *ep = NULL;
    int rc = hk_cmd_inbound_get(store, id, &old, err);
    if (rc == HK_OK)
        rc = hk_inbound_endpoint_merge(old, patch, mode, &ep, err);
    /* Not atomic with the read: two updates at once, the last one wins whole (as for tasks). */
    if (rc == HK_OK && (rc = put(store, ep, false, hk_wall_ms(), conflict, err)) == HK_OK)
        *out = ep;
    else
        hk_inbound_endpoint_destroy(ep);
    hk_inbound_endpoint_destroy(old);
    return rc;
}
