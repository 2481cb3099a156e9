/*
 * endpoint_custom.c — a custom endpoint's "verification": the type, and for each type exactly
 * its fields (a field of another type is refused, naming both, rather than kept unused). The
 * values a client proves itself with (basic's password, apiKey's value, the headers' values) are
 * secrets: masked on output, wiped when freed, never quoted in an error. The hmac type's key is
 * the endpoint's secret / secrets (endpoint.c requires them), so it rotates like every preset's.
 */
#include "endpoint_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const hk_inbound__custom_type_names[] = {"none",    "basic", "apiKey",
                                                     "headers", "hmac",  NULL};
const char *const hk_inbound__algorithm_names[] = {"sha1", "sha256", "sha512", NULL};
const char *const hk_inbound__encoding_names[] = {"hex", "base64", NULL};
static const char *const in_names[] = {"header", "query", NULL};

/* Each type's fields ("type" first). */
static const char *const type_fields[][8] = {
    [HK_CUSTOM_NONE] = {"type", NULL},
    [HK_CUSTOM_BASIC] = {"type", "username", "password", NULL},
    [HK_CUSTOM_API_KEY] = {"type", "name", "in", "value", NULL},
    [HK_CUSTOM_HEADERS] = {"type", "headers", NULL},
    [HK_CUSTOM_HMAC] = {"type", "header", "algorithm", "encoding", "prefix", "timestampHeader",
                        "toleranceSeconds", NULL},
};

/* A secret member: a non-empty string, not masked, that a header may carry (no control
 * character but tab: it is compared with what arrives in a header or a query). */
static int get_secret_value(const cJSON *obj, const char *key, const char *field, char **out,
                            hk_error *err)
{
    if (hk_inbound__get_string(obj, key, field, HK_INBOUND_MAX_VALUE, true, out, err) != HK_OK)
        return HK_EINVAL;
    if (!*out)
        return hk_error_set(err, HK_EINVAL, field, "required");
    if (hk_inbound__is_masked(*out))
        return hk_error_set(err, HK_EINVAL, field, "masked (****); give the value itself");
    return hk_validate_header("X", *out, field, err);
}

/* A header name member: required, a token. */
static int get_header_name(const cJSON *obj, const char *key, const char *field, bool required,
                           char **out, hk_error *err)
{
    if (hk_inbound__get_string(obj, key, field, 256, true, out, err) != HK_OK)
        return HK_EINVAL;
    if (!*out)
        return required ? hk_error_set(err, HK_EINVAL, field, "required") : HK_OK;
    return hk_validate_header(*out, NULL, field, err);
}

static int get_enum(const cJSON *obj, const char *key, const char *field, const char *const *names,
                    int def, const char *choices, int *out, hk_error *err)
{
    *out = def;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item))
        return HK_OK;
    int i = cJSON_IsString(item) ? hk_inbound__name_index(item->valuestring, names) : -1;
    if (i < 0)
        return hk_error_set(err, HK_EINVAL, field, "must be %s", choices);
    *out = i;
    return HK_OK;
}

static int parse_basic(const cJSON *json, hk_custom_verification *v, hk_error *err)
{
    if (hk_inbound__get_string(json, "username", "verification.username", HK_INBOUND_MAX_SECRET,
                               true, &v->username, err) != HK_OK)
        return HK_EINVAL;
    if (!v->username)
        return hk_error_set(err, HK_EINVAL, "verification.username", "required");
    /* Basic credentials are "user:password": a colon in the user would split them elsewhere
     * (RFC 7617, 2); a control character could never arrive in a header. */
    for (const unsigned char *p = (const unsigned char *)v->username; *p; p++)
        if (*p == ':' || *p < 0x20 || *p == 0x7f)
            return hk_error_set(err, HK_EINVAL, "verification.username",
                                "must not contain ':' or a control character");
    return get_secret_value(json, "password", "verification.password", &v->password, err);
}

static int parse_api_key(const cJSON *json, hk_custom_verification *v, hk_error *err)
{
    int in;
    if (get_enum(json, "in", "verification.in", in_names, 0, "header or query", &in, err) != HK_OK)
        return HK_EINVAL;
    v->in_query = in == 1;
    if (v->in_query) {
        if (hk_inbound__get_string(json, "name", "verification.name", 256, true, &v->name, err) !=
            HK_OK)
            return HK_EINVAL;
        if (!v->name)
            return hk_error_set(err, HK_EINVAL, "verification.name", "required");
        for (const unsigned char *p = (const unsigned char *)v->name; *p; p++)
            if (*p <= 0x20 || *p == 0x7f || *p == '&' || *p == '=' || *p == '#')
                return hk_error_set(err, HK_EINVAL, "verification.name",
                                    "a query parameter's name holds no space, control "
                                    "character, '&', '=' or '#'");
    } else if (get_header_name(json, "name", "verification.name", true, &v->name, err) != HK_OK) {
        return HK_EINVAL;
    }
    return get_secret_value(json, "value", "verification.value", &v->value, err);
}

static int parse_headers(const cJSON *json, hk_custom_verification *v, hk_error *err)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(json, "headers");
    if (!obj || cJSON_IsNull(obj))
        return hk_error_set(err, HK_EINVAL, "verification.headers", "required");
    int n = cJSON_IsObject(obj) ? cJSON_GetArraySize(obj) : 0;
    if (n < 1 || n > HK_INBOUND_MAX_CUSTOM_HEADERS)
        return hk_error_set(err, HK_EINVAL, "verification.headers",
                            "must be an object of 1 to %d header names with their values",
                            HK_INBOUND_MAX_CUSTOM_HEADERS);
    v->headers = hk_xcalloc((size_t)n, sizeof(hk_kv));
    const cJSON *h;
    cJSON_ArrayForEach(h, obj)
    {
        char field[128];
        snprintf(field, sizeof field, "verification.headers.%.64s", h->string);
        if (hk_validate_header(h->string, NULL, field, err) != HK_OK)
            return HK_EINVAL;
        for (size_t i = 0; i < v->headers_len; i++)
            if (strcasecmp(v->headers[i].key, h->string) == 0)
                return hk_error_set(err, HK_EINVAL, field,
                                    "listed twice (header names ignore case)");
        cJSON *wrap = cJSON_CreateObject();
        cJSON_AddItemReferenceToObject(wrap, "v", (cJSON *)h);
        char *value = NULL;
        int rc = get_secret_value(wrap, "v", field, &value, err);
        cJSON_Delete(wrap);
        if (rc != HK_OK) {
            hk_inbound__free_secret(value);
            return HK_EINVAL;
        }
        v->headers[v->headers_len].key = hk_strdup(h->string);
        v->headers[v->headers_len].value = value;
        v->headers_len++;
    }
    return HK_OK;
}

static int parse_hmac(const cJSON *json, hk_custom_verification *v, hk_error *err)
{
    if (get_header_name(json, "header", "verification.header", true, &v->header, err) != HK_OK)
        return HK_EINVAL;
    int alg, enc;
    if (get_enum(json, "algorithm", "verification.algorithm", hk_inbound__algorithm_names,
                 HK_HMAC_SHA256, "sha1, sha256 or sha512", &alg, err) != HK_OK ||
        get_enum(json, "encoding", "verification.encoding", hk_inbound__encoding_names,
                 HK_ENCODING_HEX, "hex or base64", &enc, err) != HK_OK)
        return HK_EINVAL;
    v->algorithm = (hk_hmac_algorithm)alg;
    v->encoding = (hk_signature_encoding)enc;
    if (hk_inbound__get_string(json, "prefix", "verification.prefix", 64, true, &v->prefix, err) !=
        HK_OK)
        return HK_EINVAL;
    if (v->prefix && hk_validate_header("X", v->prefix, "verification.prefix", err) != HK_OK)
        return HK_EINVAL;
    if (get_header_name(json, "timestampHeader", "verification.timestampHeader", false,
                        &v->timestamp_header, err) != HK_OK)
        return HK_EINVAL;
    const cJSON *tol = cJSON_GetObjectItemCaseSensitive(json, "toleranceSeconds");
    if (tol && !cJSON_IsNull(tol) && !v->timestamp_header)
        return hk_error_set(err, HK_EINVAL, "verification.toleranceSeconds",
                            "only with timestampHeader (without one nothing is timed)");
    long t;
    if (hk_inbound__get_int(json, "toleranceSeconds", "verification.toleranceSeconds", 1, 86400,
                            300, &t, err) != HK_OK)
        return HK_EINVAL;
    v->tolerance_s = v->timestamp_header ? (int)t : 0;
    return HK_OK;
}

int hk_inbound__custom_parse(const cJSON *json, hk_custom_verification *v, hk_error *err)
{
    memset(v, 0, sizeof *v);
    if (!cJSON_IsObject(json))
        return hk_error_set(err, HK_EINVAL, "verification", "must be an object");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
    if (!type || cJSON_IsNull(type))
        return hk_error_set(err, HK_EINVAL, "verification.type", "required");
    int t = cJSON_IsString(type)
                ? hk_inbound__name_index(type->valuestring, hk_inbound__custom_type_names)
                : -1;
    if (t < 0)
        return hk_error_set(err, HK_EINVAL, "verification.type",
                            "must be none, basic, apiKey, headers or hmac");
    v->type = (hk_custom_type)t;
    char why[48];
    snprintf(why, sizeof why, "for type %s", hk_inbound__custom_type_names[t]);
    if (hk_inbound__refuse_unknown(json, type_fields[t], "verification", why, err) != HK_OK)
        return HK_EINVAL;
    switch (v->type) {
    case HK_CUSTOM_NONE:
        return HK_OK;
    case HK_CUSTOM_BASIC:
        return parse_basic(json, v, err);
    case HK_CUSTOM_API_KEY:
        return parse_api_key(json, v, err);
    case HK_CUSTOM_HEADERS:
        return parse_headers(json, v, err);
    case HK_CUSTOM_HMAC:
        return parse_hmac(json, v, err);
    }
    return HK_OK;
}

cJSON *hk_inbound__custom_to_json(const hk_custom_verification *v, bool with_secrets)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", hk_inbound__custom_type_names[v->type]);
    switch (v->type) {
    case HK_CUSTOM_NONE:
        break;
    case HK_CUSTOM_BASIC:
        cJSON_AddStringToObject(o, "username", v->username);
        hk_inbound__add_secret(o, "password", v->password, with_secrets);
        break;
    case HK_CUSTOM_API_KEY:
        cJSON_AddStringToObject(o, "name", v->name);
        cJSON_AddStringToObject(o, "in", v->in_query ? "query" : "header");
        hk_inbound__add_secret(o, "value", v->value, with_secrets);
        break;
    case HK_CUSTOM_HEADERS: {
        cJSON *h = cJSON_AddObjectToObject(o, "headers");
        for (size_t i = 0; i < v->headers_len; i++)
            hk_inbound__add_secret(h, v->headers[i].key, v->headers[i].value, with_secrets);
        break;
    }
    case HK_CUSTOM_HMAC:
        cJSON_AddStringToObject(o, "header", v->header);
        cJSON_AddStringToObject(o, "algorithm", hk_inbound__algorithm_names[v->algorithm]);
        cJSON_AddStringToObject(o, "encoding", hk_inbound__encoding_names[v->encoding]);
        if (v->prefix)
            cJSON_AddStringToObject(o, "prefix", v->prefix);
        if (v->timestamp_header) {
            cJSON_AddStringToObject(o, "timestampHeader", v->timestamp_header);
            cJSON_AddNumberToObject(o, "toleranceSeconds", v->tolerance_s);
        }
        break;
    }
    return o;
}

void hk_inbound__custom_free(hk_custom_verification *v)
{
    free(v->username);
    hk_inbound__free_secret(v->password);
    free(v->name);
    hk_inbound__free_secret(v->value);
    for (size_t i = 0; i < v->headers_len; i++) {
        free(v->headers[i].key);
        hk_inbound__free_secret(v->headers[i].value);
    }
    free(v->headers);
    free(v->header);
    free(v->prefix);
    free(v->timestamp_header);
    memset(v, 0, sizeof *v);
}
