/*
 * payload_internal.h — what the payload files (payload.c, payload_xml.c, payload_multipart.c)
 * share, internal to inbound/: the builder of an object whose repeated names become arrays, and
 * reading a parameter of a header value (`; name=value` or `; name="quoted"`).
 */
#ifndef HK_INBOUND_PAYLOAD_INTERNAL_H
#define HK_INBOUND_PAYLOAD_INTERNAL_H

#include "hk_inbound.h"

/* Members added in order under their names; a name given again turns its value into an array
 * of every value, in order. The object is written with each name where it first came (so a
 * name's values stay together even when others come between them). Names are hashed: a
 * thousand distinct names cost no more than a thousand lookups. */
typedef struct hk__group_entry {
    char *name;    /* owned */
    cJSON *value;  /* the first value (owned until finished) */
    cJSON *array;  /* every value once the name came twice, else NULL (owned until finished) */
} hk__group_entry;

typedef struct hk__group {
    hk__group_entry *entries;
    size_t len, cap;
    size_t *slots; /* open addressing: entry index + 1, 0 empty */
    size_t slots_len;
} hk__group;

/* Takes ownership of value (also on failure). HK_OK or HK_ENOMEM. */
int hk__group_add(hk__group *g, const char *name, cJSON *value);
/* Adds every member to obj in order and empties the group. HK_OK or HK_ENOMEM. */
int hk__group_finish(hk__group *g, cJSON *obj);
/* Frees what was not finished; the group may be reused after. */
void hk__group_free(hk__group *g);

/* The value of parameter `name` (ASCII case-insensitive) in a header value of the form
 * `type; a=b; c="d \" e"` (parameters after the first ';'), unquoted, as a new string in *out
 * (free()). 1 found, 0 absent, -1 malformed (an unterminated quoted string, a parameter
 * without a name). The first of a repeated parameter counts. */
int hk__header_param(const char *value, size_t len, const char *name, char **out);

/* The JSON forms of the kinds other than JSON and form (their own files). Same contract as
 * hk_inbound_payload. */
int hk__payload_xml(const char *body, size_t len, cJSON **out, hk_error *err);
int hk__payload_multipart(const char *content_type, const char *body, size_t len, cJSON **out,
                          hk_error *err);

#endif
