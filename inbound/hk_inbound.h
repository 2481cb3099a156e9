/*
 * hk_inbound.h — the receiving side's logic, for hookd-ingress (the program under
 * cmd/hookd-ingress wires it to HTTP, Kafka and Redis).
 *
 * inbound owns: the inbound endpoint (its JSON form, strict validation naming the field, secrets
 * masked on output), verifying a request as its provider signs it (the presets and the custom
 * methods, challenges, constant-time comparison), turning a request's payload into JSON (JSON,
 * form, XML, multipart, raw), and the record published to hookd.inbound. It is pure: no Kafka,
 * no Redis, no sockets, no clock reads (callers pass the time). It shares the signing code with
 * the sender (delivery/) and the field checks with the task model (model/).
 *
 * Sections: endpoints (endpoint.c), verification (verify*.c), payloads (payload*.c), the record
 * (record.c). Design: docs/inbound.md.
 */
#ifndef HK_INBOUND_H
#define HK_INBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hk_core.h"
#include "hk_delivery.h"
#include "hk_model.h"

/* ------------------------------------------------------------------ a request (request.c) --- */

/* One request as hookd-ingress received it. Everything is borrowed from the caller for the
 * duration of a call. */
typedef struct hk_inbound_request {
    const char *method;     /* "POST", "GET" */
    const char *path;       /* "/in/in_abc", without the query */
    const char *query;      /* the raw query string without '?', or NULL */
    const hk_kv *headers;   /* as received (names in any case), in order */
    size_t headers_len;
    const char *body;       /* may hold NUL bytes; NULL when empty */
    size_t body_len;
    uint64_t now_ms;        /* wall clock when it arrived */
} hk_inbound_request;

/* The value of the first header named `name` (ASCII case-insensitive), or NULL. */
const char *hk_inbound_header(const hk_inbound_request *req, const char *name);
/* The value of query parameter `name` (percent-decoded, '+' as space) into out (NUL-terminated,
 * cut at out_len - 1); false when absent. */
bool hk_inbound_query_param(const hk_inbound_request *req, const char *name, char *out,
                            size_t out_len);

/* ------------------------------------------------------------------ endpoints (endpoint.c) --- */

/* The provider a request comes from: how it is verified. */
typedef enum {
    HK_SOURCE_GITHUB,
    HK_SOURCE_SLACK,
    HK_SOURCE_STRIPE,
    HK_SOURCE_TWILIO,
    HK_SOURCE_PAGERDUTY,
    HK_SOURCE_ZENDESK,
    HK_SOURCE_TWITTER,
    HK_SOURCE_FACEBOOK,
    HK_SOURCE_SENDGRID,
    HK_SOURCE_STANDARD, /* Standard Webhooks */
    HK_SOURCE_HOOKD,    /* hookd's own X-Webhook-Signature */
    HK_SOURCE_CUSTOM,   /* the endpoint's `verification` */
    HK_SOURCE__COUNT
} hk_inbound_source;

/* A custom endpoint's verification. */
typedef enum {
    HK_CUSTOM_NONE,
    HK_CUSTOM_BASIC,   /* username, password */
    HK_CUSTOM_API_KEY, /* a header or query parameter (name) with a value */
    HK_CUSTOM_HEADERS, /* every listed header present with exactly its value */
    HK_CUSTOM_HMAC,    /* a signature header over the body or timestamp + body */
} hk_custom_type;

typedef enum { HK_HMAC_SHA1, HK_HMAC_SHA256, HK_HMAC_SHA512 } hk_hmac_algorithm;
typedef enum { HK_ENCODING_HEX, HK_ENCODING_BASE64 } hk_signature_encoding;

typedef struct hk_custom_verification {
    hk_custom_type type;
    char *username; /* basic */
    char *password; /* basic; a secret */
    char *name;     /* apiKey: the header or query parameter's name */
    bool in_query;  /* apiKey: a query parameter rather than a header */
    char *value;    /* apiKey: a secret */
    hk_kv *headers; /* headers: each name with its exact value (values are secrets) */
    size_t headers_len;
    char *header;                    /* hmac: the signature's header */
    hk_hmac_algorithm algorithm;     /* hmac */
    hk_signature_encoding encoding;  /* hmac */
    char *prefix;                    /* hmac: before the signature ("sha256="), or NULL */
    char *timestamp_header;          /* hmac: signed is "<timestamp>.<body>" when set, else the body */
    int tolerance_s;                 /* hmac with a timestamp: how old it may be (default 300) */
} hk_custom_verification;

/* What the endpoint answers on success (default 200, application/json, {"ok":true}). */
typedef struct hk_inbound_response {
    int status;
    char *content_type;
    char *body;
} hk_inbound_response;

typedef struct hk_inbound_endpoint {
    char *id; /* "in_" + 24 lowercase hex, generated */
    char *name;
    char *flow_id;
    bool enabled;
    bool start_flow;
    hk_inbound_source source;
    char **secrets; /* secret / secrets: any of them verifies (rotation); secrets */
    size_t secrets_len;
    char *verify_token; /* facebook's hub.verify_token; a secret */
    char *public_key;   /* sendgrid's ECDSA public key (base64 DER, as SendGrid shows it) */
    char *public_url;   /* the URL as the provider sees it (twilio signs it) */
    hk_custom_verification verification; /* custom only */
    hk_inbound_response response;
    /* State, kept by hookd-ingress (not part of the user's input): a new endpoint is unverified;
     * it becomes verified by a challenge answered or by its first request that passes. */
    bool verified;
    uint64_t state_changed_ms; /* wall clock of the last change of `verified` (creation first) */
} hk_inbound_endpoint;


/* ---------------------------------------------------------- verification (verify*.c) --- */

/* ----------------------------------------------------------------- payloads (payload*.c) --- */

/* A request body as JSON, by its Content-Type (payload.c: kinds, JSON, form; payload_xml.c;
 * payload_multipart.c). The conventions, in full, are in docs/inbound.md ("Payloads"). */
typedef enum {
    HK_PAYLOAD_JSON,      /* application/json, any +json: the JSON value itself */
    HK_PAYLOAD_FORM,      /* application/x-www-form-urlencoded: an object, repeats as arrays */
    HK_PAYLOAD_XML,       /* application/xml, text/xml, any +xml: {"<root>": <element>} */
    HK_PAYLOAD_MULTIPART, /* multipart/form-data: {"fields": {...}, "files": [...]} */
    HK_PAYLOAD_RAW,       /* anything else, or no Content-Type: no JSON form */
} hk_payload_kind;

/* Limits past which a payload is refused (HK_EINVAL, so 400): each bounds the memory a body
 * of HOOKD_INGRESS_MAX_BODY can make the JSON form (and libxml2's tree) take. */
#define HK_PAYLOAD_MAX_DEPTH 100        /* JSON arrays/objects, XML elements, nested */
#define HK_PAYLOAD_MAX_JSON_VALUES 1000000 /* values in a JSON body */
#define HK_PAYLOAD_MAX_ITEMS 100000     /* XML elements + attributes; form pairs */
#define HK_PAYLOAD_MAX_PARTS 1000       /* multipart parts */

/* The kind of a Content-Type value: its media type (before any ';'), trimmed, compared
 * case-insensitively; parameters are ignored. NULL or "" is RAW. */
hk_payload_kind hk_inbound_payload_kind(const char *content_type);

/* The JSON form of a body of len bytes (may hold NUL bytes; NULL when len is 0), by its
 * Content-Type (borrowed, may be NULL). HK_OK: *out is the JSON form, owned by the caller
 * (cJSON_Delete), or NULL for RAW. HK_EINVAL: the body is not what its type says, or is over a
 * limit above; *out is NULL and err holds one line naming the part ("payload: invalid JSON at
 * byte 12 (...)", "payload: XML: ...", "payload: form: pair 3: ...", "payload: multipart: part
 * 2: ..."); never any of the body's values. HK_ENOMEM when an allocation fails. Thread-safe (the
 * first call initialises libxml2 once). */
int hk_inbound_payload(const char *content_type, const char *body, size_t len, cJSON **out,
                       hk_error *err);


/* --------------------------------------------------------------------- the record (record.c) --- */

#endif
