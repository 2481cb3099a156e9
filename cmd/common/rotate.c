/*
 * rotate.c — a task's secret rotated in one call (`hookctl webhooks rotate-secret` and the admin
 * API's POST /v1/webhooks/{id}/rotate-secret): the new secret (given, or drawn from the CSPRNG)
 * signs first, the current one keeps signing beside it until previousSecretsUntil, and then the
 * worker stops using it without another write (hk_task_signing_secrets). Svix keeps an old
 * secret 24 hours; so does the default here.
 */
#include "hk_cmd.h"

#include "hk_model.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

/* A new secret in the task's scheme's form: whsec_ + base64 of 24 bytes for Standard Webhooks,
 * 48 hex digits (24 bytes) otherwise. */
static char *new_secret(const hk_task *t)
{
    unsigned char raw[24];
    if (RAND_bytes(raw, sizeof raw) != 1)
        abort(); /* the CSPRNG failing is not a state to go on in */
    char text[64];
    if (t->signature == HK_SIG_STANDARD) {
        memcpy(text, "whsec_", 6);
        EVP_EncodeBlock((unsigned char *)text + 6, raw, sizeof raw);
    } else {
        hk_hex(raw, sizeof raw, text);
    }
    OPENSSL_cleanse(raw, sizeof raw);
    return hk_strdup(text);
}

int hk_cmd_rotate_secret(hk_store *store, const char *id, const char *given, uint64_t keep_ms,
                         uint64_t now_ms, hk_task **out, hk_error *err)
{
    *out = NULL;
    if (keep_ms > HK_ROTATE_KEEP_MAX_MS)
        return hk_error_set(err, HK_EINVAL, "keep", "at most 30d");
    hk_task *t = NULL;
    int rc = hk_validate_task_id(id, "id", err);
    if (rc == HK_OK)
        rc = hk_store_task_get(store, id, &t, err);
    if (rc != HK_OK)
        return rc;
    if (given && (!*given || strlen(given) > 256)) {
        hk_task_destroy(t);
        return hk_error_set(err, HK_EINVAL, "secret",
                            "must be a non-empty string of at most 256 characters");
    }
    char *fresh = given ? hk_strdup(given) : new_secret(t);
    char *current = t->secrets_len ? t->secrets[0] : NULL;
    for (size_t i = 1; i < t->secrets_len; i++) { /* older ones than the current go now */
        OPENSSL_cleanse(t->secrets[i], strlen(t->secrets[i]));
        free(t->secrets[i]);
    }
    free(t->secrets);
    bool keep = current && keep_ms > 0;
    t->secrets = hk_xcalloc(2, sizeof *t->secrets);
    t->secrets[0] = fresh;
    t->secrets_len = 1;
    if (keep)
        t->secrets[t->secrets_len++] = current;
    else if (current) {
        OPENSSL_cleanse(current, strlen(current));
        free(current);
    }
    t->previous_secrets_until_ms = keep ? now_ms + keep_ms : 0;
    if (t->signature == HK_SIG_NONE)
        t->signature = HK_SIG_TIMESTAMPED; /* a task with no secret had none: it signs now */
    cJSON *json = hk_task_to_json(t, HK_SECRETS_FULL);
    hk_task *checked = NULL; /* the stored form read back: every rule, a given secret's too */
    rc = hk_task_from_json(json, false, &checked, err);
    cJSON_Delete(json);
    if (rc == HK_OK)
        rc = hk_store_task_update(store, checked, err);
    hk_task_destroy(t);
    if (rc != HK_OK) {
        hk_task_destroy(checked);
        return rc;
    }
    *out = checked;
    return HK_OK;
}
