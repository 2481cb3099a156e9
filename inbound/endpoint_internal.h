/*
 * endpoint_internal.h — what the endpoint's files (endpoint.c, endpoint_custom.c,
 * endpoint_merge.c) share and nothing outside inbound/ may use: the strict readers of one JSON
 * member (each refusal naming the field), the masked-secret rule, and the custom verification's
 * parts.
 */
#ifndef HK_INBOUND_ENDPOINT_INTERNAL_H
#define HK_INBOUND_ENDPOINT_INTERNAL_H

#include "hk_inbound.h"

/* Longest secret, token, password or key value (a task's secret is 256; API keys and header
 * values are often longer: JWTs). */
#define HK_INBOUND_MAX_SECRET 256
#define HK_INBOUND_MAX_VALUE 1024

/* obj[key] as a new string into *out, or NULL when absent or null. Refused (err naming field):
 * not a string, longer than max bytes, empty when nonempty is set. */
int hk_inbound__get_string(const cJSON *obj, const char *key, const char *field, size_t max,
                           bool nonempty, char **out, hk_error *err);
/* obj[key] as a boolean, def when absent or null. */
int hk_inbound__get_bool(const cJSON *obj, const char *key, const char *field, bool def, bool *out,
                         hk_error *err);
/* obj[key] as an integer in lo..hi, def when absent or null. */
int hk_inbound__get_int(const cJSON *obj, const char *key, const char *field, long lo, long hi,
                        long def, long *out, hk_error *err);
/* Refuses a member of obj whose key is not in names (NULL-terminated): "<prefix>.<key>: unknown
 * field" (or "<key>: ..." with an empty prefix), `why` appended when not NULL. */
int hk_inbound__refuse_unknown(const cJSON *obj, const char *const *names, const char *prefix,
                               const char *why, hk_error *err);
/* Index of s in names (NULL-terminated), ASCII case-insensitive; -1 when absent. */
int hk_inbound__name_index(const char *s, const char *const *names);

/* True for a value as a display shows a secret: "****" plus at most 4 characters. */
bool hk_inbound__is_masked(const char *value);
/* True when `given` (a masked value) stands for `secret`: "****" alone, or secret's own mask. */
bool hk_inbound__mask_matches(const char *given, const char *secret);
/* Adds a secret to obj under name (or to an array when name is NULL), masked unless
 * with_secrets. */
void hk_inbound__add_secret(cJSON *obj, const char *name, const char *secret, bool with_secrets);
/* Frees and wipes a secret string; accepts NULL. */
void hk_inbound__free_secret(char *secret);

extern const char *const hk_inbound__custom_type_names[]; /* "none", "basic", ... */
extern const char *const hk_inbound__algorithm_names[];   /* "sha1", "sha256", "sha512" */
extern const char *const hk_inbound__encoding_names[];    /* "hex", "base64" */

/* The custom verification object (json: the "verification" member, present and not null)
 * into v; fields named "verification.<...>". v is zeroed first; on an error it may be half
 * built (hk_inbound__custom_free frees it). */
int hk_inbound__custom_parse(const cJSON *json, hk_custom_verification *v, hk_error *err);
cJSON *hk_inbound__custom_to_json(const hk_custom_verification *v, bool with_secrets);
void hk_inbound__custom_free(hk_custom_verification *v);

#endif
