/*
 * endpoint.c — an inbound endpoint's JSON form, read as strictly as a webhook task (model/
 * task.c): unknown fields refused, each refusal one line naming the field by its path, defaults
 * filled in, secrets masked on output and never quoted in an error. The source decides which
 * credentials an endpoint needs and which it may not carry: a field with no meaning for the
 * source is refused rather than kept unused, so an endpoint never looks protected by a secret
 * nothing checks. The custom verification is endpoint_custom.c, an update endpoint_merge.c.
 */
#include "endpoint_internal.h"

#include <ctype.h>
#include <math.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const source_names[] = {
    "github",   "slack",    "stripe",   "twilio", "pagerduty", "zendesk", "twitter",
    "facebook", "sendgrid", "standard", "hookd",  "custom",    NULL,
};
_Static_assert(sizeof source_names / sizeof source_names[0] == HK_SOURCE__COUNT + 1,
               "one name per source");

static const char *const input_fields[] = {
    "id",      "name",        "flowId",    "enabled",   "startFlow",    "source",   "secret",
    "secrets", "verifyToken", "publicKey", "publicUrl", "verification", "response", NULL,
};
static const char *const stored_fields[] = {
    "id",       "name",     "flowId",         "enabled",   "startFlow", "source",
    "secret",   "secrets",  "verifyToken",    "publicKey", "publicUrl", "verification",
    "response", "verified", "stateChangedAt", NULL,
};
static const char *const response_fields[] = {"status", "contentType", "body", NULL};

#define DEFAULT_RESPONSE_BODY "{\"ok\":true}"

const char *hk_inbound_source_name(hk_inbound_source source)
{
    return (unsigned)source < HK_SOURCE__COUNT ? source_names[source] : "unknown";
}

bool hk_inbound_source_from_name(const char *name, hk_inbound_source *out)
{
    int i = name ? hk_inbound__name_index(name, source_names) : -1;
    if (i < 0)
        return false;
    *out = (hk_inbound_source)i;
    return true;
}

bool hk_inbound_source_is_challenge(hk_inbound_source source)
{
    return source == HK_SOURCE_SLACK || source == HK_SOURCE_FACEBOOK || source == HK_SOURCE_TWITTER;
}

/* Whether the source verifies with the endpoint's secret(s). sendgrid verifies with its public
 * key, custom with its verification (whose hmac type takes the secret, checked there). */
static bool source_takes_secret(hk_inbound_source source)
{
    return source != HK_SOURCE_SENDGRID && source != HK_SOURCE_CUSTOM;
}

int hk_inbound_validate_id(const char *id, const char *field, hk_error *err)
{
    size_t n = strlen(id);
    bool ok = strncmp(id, "in_", 3) == 0 && n > 3 && n <= 67;
    for (const char *p = id + 3; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
    return ok ? HK_OK
              : hk_error_set(err, HK_EINVAL, field,
                             "must be in_ followed by 1 to 64 letters, digits, _ or -");
}

void hk_inbound_endpoint_new_id(char out[32])
{
    hk_new_id("in_", out);
}

/* ------------------------------------------------------------------ shared readers --- */

int hk_inbound__get_string(const cJSON *obj, const char *key, const char *field, size_t max,
                           bool nonempty, char **out, hk_error *err)
{
    *out = NULL;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item))
        return HK_OK;
    if (!cJSON_IsString(item))
        return hk_error_set(err, HK_EINVAL, field, "must be a string");
    if (nonempty && !item->valuestring[0])
        return hk_error_set(err, HK_EINVAL, field, "must not be empty");
    if (strlen(item->valuestring) > max)
        return hk_error_set(err, HK_EINVAL, field, "longer than %zu bytes", max);
    *out = hk_strdup(item->valuestring);
    return HK_OK;
}

int hk_inbound__get_bool(const cJSON *obj, const char *key, const char *field, bool def, bool *out,
                         hk_error *err)
{
    *out = def;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item))
        return HK_OK;
    if (!cJSON_IsBool(item))
        return hk_error_set(err, HK_EINVAL, field, "must be true or false");
    *out = cJSON_IsTrue(item);
    return HK_OK;
}

int hk_inbound__get_int(const cJSON *obj, const char *key, const char *field, long lo, long hi,
                        long def, long *out, hk_error *err)
{
    *out = def;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item))
        return HK_OK;
    if (!cJSON_IsNumber(item) || item->valuedouble != floor(item->valuedouble) ||
        item->valuedouble < (double)lo || item->valuedouble > (double)hi)
        return hk_error_set(err, HK_EINVAL, field, "must be an integer from %ld to %ld", lo, hi);
    *out = (long)item->valuedouble;
    return HK_OK;
}

int hk_inbound__name_index(const char *s, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

int hk_inbound__refuse_unknown(const cJSON *obj, const char *const *names, const char *prefix,
                               const char *why, hk_error *err)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, obj)
    {
        bool known = false;
        for (size_t i = 0; names[i] && !known; i++)
            known = strcmp(item->string, names[i]) == 0;
        char field[128];
        snprintf(field, sizeof field, "%s%s%.64s", prefix, prefix[0] ? "." : "", item->string);
        /* cJSON keeps both copies of a repeated key and reads the first: refuse the doubt. */
        for (const cJSON *before = obj->child; known && before != item; before = before->next)
            if (strcmp(before->string, item->string) == 0)
                return hk_error_set(err, HK_EINVAL, field, "given twice");
        if (known)
            continue;
        return hk_error_set(err, HK_EINVAL, field, "unknown field%s%s", why ? " " : "",
                            why ? why : "");
    }
    return HK_OK;
}

bool hk_inbound__is_masked(const char *value)
{
    return value && strncmp(value, "****", 4) == 0 && strlen(value) <= 8;
}

bool hk_inbound__mask_matches(const char *given, const char *secret)
{
    if (!secret)
        return false;
    if (strcmp(given, "****") == 0)
        return true;
    char masked[16];
    hk_secret_mask(secret, masked);
    return strcmp(masked, given) == 0;
}

void hk_inbound__add_secret(cJSON *obj, const char *name, const char *secret, bool with_secrets)
{
    char masked[16];
    const char *v = secret;
    if (!with_secrets) {
        hk_secret_mask(secret, masked);
        v = masked;
    }
    if (name)
        cJSON_AddStringToObject(obj, name, v);
    else
        cJSON_AddItemToArray(obj, cJSON_CreateString(v));
}

void hk_inbound__free_secret(char *secret)
{
    if (!secret)
        return;
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
}

/* A secret-bearing string member: as get_string, and a masked value is refused (it would be
 * stored as the secret itself and never match). */
static int get_secret(const cJSON *obj, const char *key, const char *field, char **out,
                      hk_error *err)
{
    if (hk_inbound__get_string(obj, key, field, HK_INBOUND_MAX_SECRET, true, out, err) != HK_OK)
        return HK_EINVAL;
    if (*out && hk_inbound__is_masked(*out)) {
        hk_inbound__free_secret(*out);
        *out = NULL;
        return hk_error_set(err, HK_EINVAL, field, "masked (****); give the secret itself");
    }
    return HK_OK;
}

/* ------------------------------------------------------------------------ parse --- */

static int parse_identity(const cJSON *json, bool generate_id, hk_inbound_endpoint *ep,
                          hk_error *err)
{
    if (hk_inbound__get_string(json, "id", "id", 67, false, &ep->id, err) != HK_OK)
        return HK_EINVAL;
    if (ep->id) {
        if (hk_inbound_validate_id(ep->id, "id", err) != HK_OK)
            return HK_EINVAL;
    } else if (generate_id) {
        char id[32];
        hk_inbound_endpoint_new_id(id);
        ep->id = hk_strdup(id);
    } else {
        return hk_error_set(err, HK_EINVAL, "id", "required");
    }

    /* A task's name rule (at most 200 bytes), and required; one line of text, since tables
     * and logs print it. */
    if (hk_inbound__get_string(json, "name", "name", 200, true, &ep->name, err) != HK_OK)
        return HK_EINVAL;
    if (!ep->name)
        return hk_error_set(err, HK_EINVAL, "name", "required");
    for (const unsigned char *p = (const unsigned char *)ep->name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return hk_error_set(err, HK_EINVAL, "name", "contains a control character");
    if (!hk_utf8_valid(ep->name, strlen(ep->name)))
        return hk_error_set(err, HK_EINVAL, "name", "is not valid UTF-8");

    const cJSON *flow = cJSON_GetObjectItemCaseSensitive(json, "flowId");
    if (!flow || cJSON_IsNull(flow))
        return hk_error_set(err, HK_EINVAL, "flowId", "required");
    if (cJSON_IsString(flow)) {
        ep->flow_id = hk_strdup(flow->valuestring);
    } else if (cJSON_IsNumber(flow) && isfinite(flow->valuedouble) &&
               flow->valuedouble == floor(flow->valuedouble) && fabs(flow->valuedouble) < 9.0e15) {
        char buf[32]; /* numbers are accepted for ids and kept as their text, as for tasks */
        snprintf(buf, sizeof buf, "%lld", (long long)flow->valuedouble);
        ep->flow_id = hk_strdup(buf);
    } else {
        return hk_error_set(err, HK_EINVAL, "flowId", "must be a string or a number");
    }
    if (hk_validate_flow_id(ep->flow_id, "flowId", err) != HK_OK)
        return HK_EINVAL;

    if (hk_inbound__get_bool(json, "enabled", "enabled", true, &ep->enabled, err) != HK_OK ||
        hk_inbound__get_bool(json, "startFlow", "startFlow", false, &ep->start_flow, err) != HK_OK)
        return HK_EINVAL;
    return HK_OK;
}

static int parse_source(const cJSON *json, hk_inbound_endpoint *ep, hk_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "source");
    if (!item || cJSON_IsNull(item))
        return hk_error_set(err, HK_EINVAL, "source", "required");
    if (!cJSON_IsString(item) || !hk_inbound_source_from_name(item->valuestring, &ep->source))
        return hk_error_set(err, HK_EINVAL, "source",
                            "must be github, slack, stripe, twilio, pagerduty, zendesk, twitter, "
                            "facebook, sendgrid, standard, hookd or custom");
    return HK_OK;
}

/* secret or secrets into ep->secrets; *field_out names the member given (for later refusals). */
static int read_secrets(const cJSON *json, hk_inbound_endpoint *ep, const char **field_out,
                        hk_error *err)
{
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(json, "secret");
    const cJSON *many = cJSON_GetObjectItemCaseSensitive(json, "secrets");
    bool has_one = one && !cJSON_IsNull(one), has_many = many && !cJSON_IsNull(many);
    *field_out = has_many ? "secrets" : "secret";
    if (has_one && has_many)
        return hk_error_set(err, HK_EINVAL, "secrets", "give either secret or secrets, not both");
    if (has_one) {
        ep->secrets = hk_xcalloc(1, sizeof(char *));
        if (get_secret(json, "secret", "secret", &ep->secrets[0], err) != HK_OK)
            return HK_EINVAL;
        ep->secrets_len = 1;
    } else if (has_many) {
        int n = cJSON_IsArray(many) ? cJSON_GetArraySize(many) : 0;
        if (n < 1 || n > HK_INBOUND_MAX_SECRETS)
            return hk_error_set(err, HK_EINVAL, "secrets",
                                "must be an array of 1 to %d non-empty strings",
                                HK_INBOUND_MAX_SECRETS);
        ep->secrets = hk_xcalloc((size_t)n, sizeof(char *));
        for (int i = 0; i < n; i++) {
            char field[32];
            snprintf(field, sizeof field, "secrets[%d]", i);
            cJSON *wrap = cJSON_CreateObject(); /* one reader for both forms */
            cJSON_AddItemReferenceToObject(wrap, "s", cJSON_GetArrayItem(many, i));
            int rc = get_secret(wrap, "s", field, &ep->secrets[i], err);
            cJSON_Delete(wrap);
            if (rc == HK_OK && !ep->secrets[i])
                rc = hk_error_set(err, HK_EINVAL, field, "must be a non-empty string");
            if (rc != HK_OK)
                return HK_EINVAL;
            ep->secrets_len++;
        }
    }
    return HK_OK;
}

/* The secret(s) the source needs, and none where the source has no use for one. */
static int parse_secrets(const cJSON *json, hk_inbound_endpoint *ep, hk_error *err)
{
    const char *field;
    if (read_secrets(json, ep, &field, err) != HK_OK)
        return HK_EINVAL;
    bool custom_hmac = ep->source == HK_SOURCE_CUSTOM && ep->verification.type == HK_CUSTOM_HMAC;
    if (source_takes_secret(ep->source) || custom_hmac) {
        if (ep->secrets_len == 0)
            return custom_hmac ? hk_error_set(err, HK_EINVAL, "secret",
                                              "required for verification type hmac (its key)")
                               : hk_error_set(err, HK_EINVAL, "secret", "required for source %s",
                                              source_names[ep->source]);
    } else if (ep->secrets_len) {
        return ep->source == HK_SOURCE_SENDGRID
                   ? hk_error_set(err, HK_EINVAL, field,
                                  "not used by source sendgrid (it verifies with publicKey)")
                   : hk_error_set(err, HK_EINVAL, field,
                                  "not used by verification type %s (only hmac takes a secret)",
                                  hk_inbound__custom_type_names[ep->verification.type]);
    }
    for (size_t i = 0; ep->source == HK_SOURCE_STANDARD && i < ep->secrets_len; i++) {
        unsigned char key[96];
        int n = hk_whsec_decode(ep->secrets[i], key);
        OPENSSL_cleanse(key, sizeof key);
        if (n < 0) {
            char name[32];
            if (strcmp(field, "secret") == 0)
                snprintf(name, sizeof name, "secret");
            else
                snprintf(name, sizeof name, "secrets[%zu]", i);
            return hk_error_set(err, HK_EINVAL, name,
                                "source standard needs whsec_ followed by base64 of 24 to 64 "
                                "bytes");
        }
    }
    return HK_OK;
}

/* A SendGrid verification key: base64 of a DER SubjectPublicKeyInfo (as SendGrid's settings
 * show it) or PEM, holding an EC key. Kept as base64 DER whichever form came, so the verifier
 * reads one form. */
static int normalise_public_key(const char *text, char **out, hk_error *err)
{
    *out = NULL;
    EVP_PKEY *pkey = NULL;
    if (strncmp(text, "-----BEGIN", 10) == 0) {
        BIO *bio = BIO_new_mem_buf(text, -1);
        pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
    } else {
        size_t len = strlen(text);
        bool ok = len > 0 && len % 4 == 0;
        for (size_t i = 0; ok && i < len; i++)
            ok = isalnum((unsigned char)text[i]) || text[i] == '+' || text[i] == '/' ||
                 (text[i] == '=' && i >= len - 2);
        unsigned char *der = ok ? hk_xmalloc(len) : NULL;
        int n = ok ? EVP_DecodeBlock(der, (const unsigned char *)text, (int)len) : -1;
        if (n > 0) {
            n -= (text[len - 1] == '=') + (text[len - 2] == '='); /* padding counted as data */
            const unsigned char *p = der;
            pkey = d2i_PUBKEY(NULL, &p, n);
            if (pkey && p != der + n) { /* trailing bytes after the key */
                EVP_PKEY_free(pkey);
                pkey = NULL;
            }
        }
        free(der);
    }
    if (!pkey || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return hk_error_set(err, HK_EINVAL, "publicKey",
                            "must be an EC public key: base64 of its DER SubjectPublicKeyInfo "
                            "(as SendGrid shows it) or PEM");
    }
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pkey, &der);
    EVP_PKEY_free(pkey);
    if (n <= 0) {
        ERR_clear_error();
        return hk_error_set(err, HK_EINVAL, "publicKey", "cannot be encoded as DER");
    }
    *out = hk_xmalloc(4 * ((size_t)n + 2) / 3 + 1);
    EVP_EncodeBlock((unsigned char *)*out, der, n);
    OPENSSL_free(der);
    return HK_OK;
}

/* verifyToken, publicKey, publicUrl: each only where its source uses it. */
static int parse_credentials(const cJSON *json, hk_inbound_endpoint *ep, hk_error *err)
{
    if (get_secret(json, "verifyToken", "verifyToken", &ep->verify_token, err) != HK_OK)
        return HK_EINVAL;
    if (ep->source == HK_SOURCE_FACEBOOK && !ep->verify_token)
        return hk_error_set(err, HK_EINVAL, "verifyToken",
                            "required for source facebook (its hub.verify_token)");
    if (ep->source != HK_SOURCE_FACEBOOK && ep->verify_token)
        return hk_error_set(err, HK_EINVAL, "verifyToken", "only for source facebook");

    char *key = NULL;
    if (hk_inbound__get_string(json, "publicKey", "publicKey", 4096, true, &key, err) != HK_OK)
        return HK_EINVAL;
    if (ep->source == HK_SOURCE_SENDGRID && !key)
        return hk_error_set(err, HK_EINVAL, "publicKey", "required for source sendgrid");
    if (ep->source != HK_SOURCE_SENDGRID && key) {
        free(key);
        return hk_error_set(err, HK_EINVAL, "publicKey", "only for source sendgrid");
    }
    int rc = key ? normalise_public_key(key, &ep->public_key, err) : HK_OK;
    free(key);
    if (rc != HK_OK)
        return HK_EINVAL;

    if (hk_inbound__get_string(json, "publicUrl", "publicUrl", 2048, true, &ep->public_url, err) !=
        HK_OK)
        return HK_EINVAL;
    if (ep->public_url && hk_validate_url(ep->public_url, "publicUrl", err) != HK_OK)
        return HK_EINVAL;
    return HK_OK;
}

static int parse_verification(const cJSON *json, hk_inbound_endpoint *ep, hk_error *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "verification");
    bool given = item && !cJSON_IsNull(item);
    if (ep->source != HK_SOURCE_CUSTOM)
        return given ? hk_error_set(err, HK_EINVAL, "verification",
                                    "only for source custom (source %s verifies as its provider "
                                    "does)",
                                    source_names[ep->source])
                     : HK_OK;
    if (!given)
        return hk_error_set(err, HK_EINVAL, "verification",
                            "required for source custom: {\"type\": \"none\"}, \"basic\", "
                            "\"apiKey\", \"headers\" or \"hmac\"");
    return hk_inbound__custom_parse(item, &ep->verification, err);
}

static int parse_response(const cJSON *json, hk_inbound_response *r, hk_error *err)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(json, "response");
    if (obj && !cJSON_IsNull(obj) && !cJSON_IsObject(obj))
        return hk_error_set(err, HK_EINVAL, "response", "must be an object");
    if (obj && cJSON_IsObject(obj) &&
        hk_inbound__refuse_unknown(obj, response_fields, "response", NULL, err) != HK_OK)
        return HK_EINVAL;
    long status;
    if (hk_inbound__get_int(obj, "status", "response.status", 200, 299, 200, &status, err) != HK_OK)
        return HK_EINVAL;
    r->status = (int)status;
    if (hk_inbound__get_string(obj, "contentType", "response.contentType", 256, true,
                               &r->content_type, err) != HK_OK)
        return HK_EINVAL;
    if (!r->content_type)
        r->content_type = hk_strdup("application/json");
    if (hk_validate_header("Content-Type", r->content_type, "response.contentType", err) != HK_OK)
        return HK_EINVAL;
    if (!strchr(r->content_type, '/'))
        return hk_error_set(err, HK_EINVAL, "response.contentType",
                            "must be a media type (type/subtype)");

    /* 204 and 205 carry no body (RFC 9110, 15.3.5-6), so their default is none. */
    bool no_body = r->status == 204 || r->status == 205;
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(obj, "body");
    if (!body || cJSON_IsNull(body))
        r->body = hk_strdup(no_body ? "" : DEFAULT_RESPONSE_BODY);
    else if (cJSON_IsString(body))
        r->body = hk_strdup(body->valuestring);
    else if (cJSON_IsObject(body) || cJSON_IsArray(body)) /* JSON written as JSON: its text */
        r->body = cJSON_PrintUnformatted(body);
    else
        return hk_error_set(err, HK_EINVAL, "response.body",
                            "must be a string, or a JSON object or array");
    if (!r->body)
        return hk_error_set(err, HK_EINVAL, "response.body", "cannot be written out");
    if (strlen(r->body) > HK_INBOUND_MAX_RESPONSE_BODY)
        return hk_error_set(err, HK_EINVAL, "response.body", "%zu bytes, over the 64 KiB limit",
                            strlen(r->body));
    if (no_body && r->body[0])
        return hk_error_set(err, HK_EINVAL, "response.body", "a %d response has no body",
                            r->status);
    return HK_OK;
}

/* The stored state (from_stored only). */
static int parse_state(const cJSON *json, hk_inbound_endpoint *ep, hk_error *err)
{
    if (hk_inbound__get_bool(json, "verified", "verified", false, &ep->verified, err) != HK_OK)
        return HK_EINVAL;
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(json, "stateChangedAt");
    if (!at || cJSON_IsNull(at))
        return HK_OK;
    if (!cJSON_IsString(at) || !hk_parse_time(at->valuestring, &ep->state_changed_ms))
        return hk_error_set(err, HK_EINVAL, "stateChangedAt", "must be an RFC 3339 time");
    return HK_OK;
}

static int endpoint_read(const cJSON *json, bool generate_id, bool stored,
                         hk_inbound_endpoint **out, hk_error *err)
{
    *out = NULL;
    if (!cJSON_IsObject(json))
        return hk_error_set(err, HK_EINVAL, "endpoint", "must be a JSON object");
    if (!stored) {
        const char *state[] = {"verified", "stateChangedAt"};
        for (size_t i = 0; i < 2; i++)
            if (cJSON_GetObjectItemCaseSensitive(json, state[i]))
                return hk_error_set(err, HK_EINVAL, state[i],
                                    "kept by hookd-ingress (a new endpoint is unverified until "
                                    "its provider proves it); leave it out");
    }
    if (hk_inbound__refuse_unknown(json, stored ? stored_fields : input_fields, "", NULL, err) !=
        HK_OK)
        return HK_EINVAL;
    hk_inbound_endpoint *ep = hk_xcalloc(1, sizeof *ep);
    if (parse_identity(json, generate_id, ep, err) != HK_OK ||
        parse_source(json, ep, err) != HK_OK || parse_verification(json, ep, err) != HK_OK ||
        parse_secrets(json, ep, err) != HK_OK || parse_credentials(json, ep, err) != HK_OK ||
        parse_response(json, &ep->response, err) != HK_OK ||
        (stored && parse_state(json, ep, err) != HK_OK)) {
        hk_inbound_endpoint_destroy(ep);
        return HK_EINVAL;
    }
    *out = ep;
    return HK_OK;
}

int hk_inbound_endpoint_from_json(const cJSON *json, bool generate_id, hk_inbound_endpoint **out,
                                  hk_error *err)
{
    return endpoint_read(json, generate_id, false, out, err);
}

int hk_inbound_endpoint_from_stored(const cJSON *json, hk_inbound_endpoint **out, hk_error *err)
{
    return endpoint_read(json, false, true, out, err);
}

int hk_inbound_endpoint_parse(const char *text, size_t len, bool generate_id,
                              hk_inbound_endpoint **out, hk_error *err)
{
    *out = NULL;
    if (hk_json_refuse_nul(text, len, "endpoint", err) != HK_OK)
        return HK_EINVAL;
    cJSON *json = hk_json_parse_whole(text, len, NULL); /* {"a":1} junk is not JSON */
    if (!json)
        return hk_error_set(err, HK_EINVAL, "endpoint", "not valid JSON");
    int rc = hk_inbound_endpoint_from_json(json, generate_id, out, err);
    cJSON_Delete(json);
    return rc;
}

/* -------------------------------------------------------------------- serialise --- */

cJSON *hk_inbound_endpoint_to_json(const hk_inbound_endpoint *ep, bool with_secrets)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", ep->id);
    cJSON_AddStringToObject(o, "name", ep->name);
    cJSON_AddStringToObject(o, "flowId", ep->flow_id);
    cJSON_AddBoolToObject(o, "enabled", ep->enabled);
    cJSON_AddBoolToObject(o, "startFlow", ep->start_flow);
    cJSON_AddStringToObject(o, "source", hk_inbound_source_name(ep->source));
    if (ep->secrets_len == 1) {
        hk_inbound__add_secret(o, "secret", ep->secrets[0], with_secrets);
    } else if (ep->secrets_len > 1) {
        cJSON *arr = cJSON_AddArrayToObject(o, "secrets");
        for (size_t i = 0; i < ep->secrets_len; i++)
            hk_inbound__add_secret(arr, NULL, ep->secrets[i], with_secrets);
    }
    if (ep->verify_token)
        hk_inbound__add_secret(o, "verifyToken", ep->verify_token, with_secrets);
    if (ep->public_key)
        cJSON_AddStringToObject(o, "publicKey", ep->public_key);
    if (ep->public_url)
        cJSON_AddStringToObject(o, "publicUrl", ep->public_url);
    if (ep->source == HK_SOURCE_CUSTOM)
        cJSON_AddItemToObject(o, "verification",
                              hk_inbound__custom_to_json(&ep->verification, with_secrets));
    cJSON *r = cJSON_AddObjectToObject(o, "response");
    cJSON_AddNumberToObject(r, "status", ep->response.status);
    cJSON_AddStringToObject(r, "contentType", ep->response.content_type);
    cJSON_AddStringToObject(r, "body", ep->response.body);
    cJSON_AddBoolToObject(o, "verified", ep->verified);
    if (ep->state_changed_ms) {
        char at[32];
        hk_format_time(ep->state_changed_ms, at);
        cJSON_AddStringToObject(o, "stateChangedAt", at);
    } else {
        cJSON_AddNullToObject(o, "stateChangedAt");
    }
    return o;
}

void hk_inbound_endpoint_destroy(hk_inbound_endpoint *ep)
{
    if (!ep)
        return;
    free(ep->id);
    free(ep->name);
    free(ep->flow_id);
    for (size_t i = 0; i < ep->secrets_len; i++)
        hk_inbound__free_secret(ep->secrets[i]);
    free(ep->secrets);
    hk_inbound__free_secret(ep->verify_token);
    free(ep->public_key);
    free(ep->public_url);
    hk_inbound__custom_free(&ep->verification);
    free(ep->response.content_type);
    free(ep->response.body);
    free(ep);
}
