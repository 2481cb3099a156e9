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
 * Sections: the request (request.c), endpoints (endpoint*.c), verification (verify*.c), payloads
 * (payload*.c), waits and JSON paths (wait.c, jsonpath.c), the record (record.c). Design:
 * docs/inbound.md.
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
    const char *method;   /* "POST", "GET" */
    const char *path;     /* "/in/in_abc", without the query */
    const char *query;    /* the raw query string without '?', or NULL */
    const hk_kv *headers; /* as received (names in any case), in order */
    size_t headers_len;
    const char *body; /* may hold NUL bytes; NULL when empty */
    size_t body_len;
    uint64_t now_ms; /* wall clock when it arrived */
} hk_inbound_request;

/* The value of the first header named `name` (ASCII case-insensitive), or NULL. */
const char *hk_inbound_header(const hk_inbound_request *req, const char *name);
/* Percent-decodes s[0..n) as a form or query string does: '+' is a space, %XX a byte, a '%' not
 * followed by two hex digits kept as written. A new string (the caller frees) of *out_len bytes
 * (may hold NUL bytes; out_len may be NULL), NUL-terminated. */
char *hk_inbound_form_decode(const char *s, size_t n, size_t *out_len);
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
    char *header;                   /* hmac: the signature's header */
    hk_hmac_algorithm algorithm;    /* hmac */
    hk_signature_encoding encoding; /* hmac */
    char *prefix;                   /* hmac: before the signature ("sha256="), or NULL */
    char *timestamp_header; /* hmac: signed is "<timestamp>.<body>" when set, else the body */
    int tolerance_s;        /* hmac with a timestamp: how old it may be (default 300) */
} hk_custom_verification;

/* What the endpoint answers on success (default 200, application/json, {"ok":true}). */
typedef struct hk_inbound_response {
    int status;
    char *content_type;
    char *body;
} hk_inbound_response;

typedef struct hk_inbound_endpoint {
    char *id; /* "in_" + 24 lowercase hex when generated; a client may choose "in_" + 1..64 of
                 [A-Za-z0-9_-] */
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

#define HK_INBOUND_MAX_SECRETS 5
#define HK_INBOUND_MAX_RESPONSE_BODY (64 * 1024)
#define HK_INBOUND_MAX_CUSTOM_HEADERS 20

/* The source's name in the JSON ("github", ..., "standard", "hookd", "custom"). */
const char *hk_inbound_source_name(hk_inbound_source source);
/* The source named `name` (ASCII case-insensitive); false when there is none. */
bool hk_inbound_source_from_name(const char *name, hk_inbound_source *out);
/* True for the sources that prove the URL with a challenge (slack, facebook, twitter): until
 * one is answered, every other request is ignored. */
bool hk_inbound_source_is_challenge(hk_inbound_source source);

/* The id rule: "in_" followed by 1..64 of [A-Za-z0-9_-] (URL-safe: it is the path /in/<id>).
 * For ids that arrive outside an endpoint's JSON too (a URL path, a command line). */
int hk_inbound_validate_id(const char *id, const char *field, hk_error *err);
/* A fresh "in_" + 24 lowercase hex id (96 random bits) into out (at least 32 bytes). */
void hk_inbound_endpoint_new_id(char out[32]);

/* Parses and validates an endpoint from a client's JSON (create; the contract's endpoint form):
 * unknown fields refused, the first refusal HK_EINVAL with err naming the field by its path
 * ("verification.algorithm", "secrets[1]"), never quoting a secret. When there is no "id" and
 * generate_id is true a new one is made, else "id" is required. A masked secret ("****abcd") is
 * refused, and so are the state fields "verified" and "stateChangedAt": hookd-ingress earns the
 * state, a client cannot claim it. The result is unverified with state_changed_ms 0: the caller
 * (the store) sets the creation time. json is borrowed; *out is the caller's
 * (hk_inbound_endpoint_destroy). */
int hk_inbound_endpoint_from_json(const cJSON *json, bool generate_id, hk_inbound_endpoint **out,
                                  hk_error *err);
/* The same from JSON text (len bytes, not NUL-terminated): strict JSON, no NUL anywhere. */
int hk_inbound_endpoint_parse(const char *text, size_t len, bool generate_id,
                              hk_inbound_endpoint **out, hk_error *err);
/* The store's own records, written by hk_inbound_endpoint_to_json(ep, true): as from_json,
 * with "id" required and "verified" / "stateChangedAt" read back. */
int hk_inbound_endpoint_from_stored(const cJSON *json, hk_inbound_endpoint **out, hk_error *err);
/* Serialises an endpoint, with every default written out and the state as "verified" (bool)
 * and "stateChangedAt" (RFC 3339, null while state_changed_ms is 0). with_secrets false masks
 * secret(s), verifyToken, verification.password, verification.value and the values of
 * verification.headers ("****" + last 4): every display; true only for storage and an export
 * that asks for secrets. The caller owns the result (cJSON_Delete). */
cJSON *hk_inbound_endpoint_to_json(const hk_inbound_endpoint *ep, bool with_secrets);
/* Frees ep and wipes its secrets. Accepts NULL and a half-built endpoint. */
void hk_inbound_endpoint_destroy(hk_inbound_endpoint *ep);

typedef enum {
    HK_INBOUND_PATCH,   /* RFC 7396 merge patch: absent fields keep old's, null resets one */
    HK_INBOUND_REPLACE, /* the whole endpoint (PUT): absent fields take their defaults */
} hk_inbound_merge_mode;
/* An update: old changed by patch, validated as from_json (err names the field). Both modes
 * keep old's id (a different "id" is refused), and REPLACE keeps old's flowId when the patch has
 * none. A masked value ("****abcd", or "****" alone) where a secret goes keeps old's value at
 * that place when it masks to the same text: secret / secrets[i] (each matched to one of old's
 * secrets, so ["new", "****abcd"] rotates), verifyToken, verification.password,
 * verification.value, verification.headers.<name>; with nothing to keep it is refused. The state
 * is old's: "verified" and "stateChangedAt" may be given only as they are (a get, edited, put
 * back). old and patch are borrowed; *out is the caller's. */
int hk_inbound_endpoint_merge(const hk_inbound_endpoint *old, const cJSON *patch,
                              hk_inbound_merge_mode mode, hk_inbound_endpoint **out, hk_error *err);

/* ---------------------------------------------------------- verification (verify*.c) --- */

/* Verifying a request as its provider signs it (verify.c: the verdict, the shared checks and
 * the credential headers; verify_presets.c: the presets; verify_keyed.c: twilio and sendgrid;
 * verify_custom.c: custom; verify_sign.c: the signer). Every signature, token and password is
 * compared in constant time (CRYPTO_memcmp, over fixed-length digests where lengths differ);
 * any of ep->secrets may match (rotation); a signed timestamp may be at most
 * HK_INBOUND_TOLERANCE_S from req->now_ms either way. No clock is read: req->now_ms is the time. */
#define HK_INBOUND_TOLERANCE_S 300

typedef enum {
    HK_VERDICT_ACCEPT,    /* verified: publish the record, answer the endpoint's response */
    HK_VERDICT_CHALLENGE, /* a provider's challenge: answer challenge_*, publish nothing */
    HK_VERDICT_REJECT,    /* 404 with no detail; log hk_inbound_reject_text, count by label */
} hk_inbound_verdict_kind;

/* Why a request was refused; each has a stable label for the metric and a text for the log. */
typedef enum {
    HK_REJECT_NONE,                /* "none": not rejected */
    HK_REJECT_MISSING_SIGNATURE,   /* "missing_signature": a signature or timestamp header absent */
    HK_REJECT_MALFORMED_SIGNATURE, /* "malformed_signature": not in the provider's form */
    HK_REJECT_BAD_SIGNATURE,       /* "bad_signature": matches none of the secrets */
    HK_REJECT_STALE_TIMESTAMP,     /* "stale_timestamp": matches, but its signed time is off */
    HK_REJECT_BAD_BODY_HASH,       /* "bad_body_hash": twilio's bodySHA256 is not the body's */
    HK_REJECT_MISSING_CREDENTIALS, /* "missing_credentials": custom basic/apiKey/headers absent */
    HK_REJECT_WRONG_CREDENTIALS,   /* "wrong_credentials": present but wrong */
    HK_REJECT_NOT_A_CHALLENGE,     /* "not_a_challenge": a challenge source not yet verified got
                                      something else, or a GET that is no challenge */
    HK_REJECT_WRONG_VERIFY_TOKEN,  /* "wrong_verify_token": facebook's hub.verify_token */
    HK_REJECT_NOT_CONFIGURED,      /* "not_configured": the endpoint lacks what its source needs
                                      (no secret, verify token, readable public key or URL) */
    HK_REJECT__COUNT
} hk_inbound_reject;

/* "bad_signature", ...: stable, for a metric's label. Never NULL. */
const char *hk_inbound_reject_label(hk_inbound_reject reason);
/* One sentence for the log. Never NULL. */
const char *hk_inbound_reject_text(hk_inbound_reject reason);

typedef struct hk_inbound_verdict {
    hk_inbound_verdict_kind kind;
    hk_inbound_reject reason; /* HK_REJECT_NONE unless kind is REJECT */
    /* This request proves the endpoint (a signature or credentials that passed, a challenge
     * answered): hookd-ingress marks an unverified endpoint verified. True on every ACCEPT and
     * CHALLENGE (custom `none` included: its first request is its proof). */
    bool marks_verified;
    int challenge_status;            /* CHALLENGE: the reply's status (200) */
    char challenge_content_type[64]; /* CHALLENGE: "text/plain", "application/json" */
    hk_buf challenge_body;           /* CHALLENGE: owned; free with hk_inbound_verdict_free */
    char provider_event_id[128];     /* "" when the provider names none (or it does not fit) */
    char detail[160]; /* REJECT: which header or field and why, for the log; never a secret */
} hk_inbound_verdict;

/*
 * Verifies req as ep's source signs it and fills *out (zeroed first; free it with
 * hk_inbound_verdict_free). ep and req are borrowed. It is the one place that decides:
 * - challenge sources (slack, facebook, twitter) answer their challenge whenever it comes, and
 *   while ep->verified is false refuse everything else (HK_REJECT_NOT_A_CHALLENGE);
 * - every other source is judged on each request alone (ep->enabled is the caller's: 404 before).
 * url: the request's URL as the provider sees it (ep->public_url if set, else what the program
 * reconstructs: scheme://host/path), with or without the query: when it has none, "?" +
 * req->query is added. Twilio signs it; hookd's timestamped scheme signs it for GET and DELETE.
 * May be NULL (twilio then rejects as not_configured).
 */
void hk_inbound_verify(const hk_inbound_endpoint *ep, const hk_inbound_request *req,
                       const char *url, hk_inbound_verdict *out);
/* Frees the challenge body; accepts a zeroed verdict. */
void hk_inbound_verdict_free(hk_inbound_verdict *v);

/* True when header `name` (any case) carries credentials and must be left out of the record:
 * Authorization, Proxy-Authorization, Cookie, the preset's signature and timestamp headers,
 * custom's api-key header, listed headers, hmac signature and timestamp headers. */
bool hk_inbound_is_credential_header(const hk_inbound_endpoint *ep, const char *name);
/* True when query parameter `name` (exact) carries credentials and must be left out of the
 * record's query: custom apiKey's parameter when in_query, facebook's hub.verify_token. */
bool hk_inbound_is_credential_param(const hk_inbound_endpoint *ep, const char *name);

/*
 * The headers `source` would send with body (for `hookctl inbound sign` and tests), signed with
 * secret at now_ms: github X-Hub-Signature-256; stripe Stripe-Signature; slack
 * X-Slack-Request-Timestamp and X-Slack-Signature; twilio X-Twilio-Signature over url (needed:
 * a form body's parameters are signed with it; a JSON body needs "bodySHA256=<hex sha256>" in
 * url's query); pagerduty X-PagerDuty-Signature; zendesk X-Zendesk-Webhook-Signature and its
 * -Timestamp; twitter x-twitter-webhooks-signature; facebook X-Hub-Signature-256; standard
 * webhook-id, webhook-timestamp, webhook-signature (secret whsec_...); hookd X-Webhook-Id and a
 * timestamped X-Webhook-Signature (POST). sendgrid (a private key) and custom (its own rules):
 * HK_EINVAL naming "source". On HK_OK *headers (n pairs) is the caller's: hk_kv_free(*headers, *n).
 * On error nothing is allocated and err names the field (source, secret, url).
 */
int hk_inbound_sign(hk_inbound_source source, const char *secret, const char *body, size_t len,
                    uint64_t now_ms, const char *url, hk_kv **headers, size_t *n, hk_error *err);

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
#define HK_PAYLOAD_MAX_DEPTH 100           /* JSON arrays/objects, XML elements, nested */
#define HK_PAYLOAD_MAX_JSON_VALUES 1000000 /* values in a JSON body */
#define HK_PAYLOAD_MAX_ITEMS 100000        /* XML elements + attributes; form pairs */
#define HK_PAYLOAD_MAX_PARTS 1000          /* multipart parts */

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
/* For a body of kind JSON: hk_inbound_payload's checks and errors, without building its tree
 * (the record takes such a body's own text: payload_is_body). */
int hk_inbound_payload_json_check(const char *body, size_t len, hk_error *err);

/* --------------------------------------------------------- waits and JSON paths (wait.c) --- */

/* A flow waiting for a webhook registers a wait on its endpoint: a ref (the platform's own name
 * for it), a "matches" object of JSON paths and the values they must have (ANDed; {} matches
 * every request) and a TTL. hookd-ingress claims every live wait whose matches hold for a
 * request, each exactly once (store/ does the claiming; docs/inbound.md, "Waits").
 *
 * Waits are indexed by their shape, the set of paths they test: a request extracts each of a
 * shape's paths from its payload once, and digests the values; the waits of that shape whose
 * digest is the same are the ones that match. Two values are equal when their canonical JSON
 * (hk_json_canonical) is. */

#define HK_WAIT_REF_MAX 256          /* bytes of a ref */
#define HK_WAIT_MATCHES_MAX 20       /* entries of matches */
#define HK_WAIT_PATH_MAX 512         /* bytes of one path as written */
#define HK_WAIT_PATH_SEGMENTS_MAX 64 /* segments of one path */
#define HK_WAIT_VALUE_MAX 4096       /* bytes of one value's canonical JSON */
#define HK_WAIT_TTL_DEFAULT_S 86400  /* ttlSeconds left out */
#define HK_WAIT_TTL_MAX_S 31536000   /* a year */
#define HK_WAIT_SHAPES_MAX 32        /* distinct shapes on one endpoint (store/ enforces it) */
#define HK_WAIT_HASH_LEN 32          /* hex digits of a shape id or a digest */

/* One segment of a JSON path: a member name (name != NULL; may hold NUL bytes, name_len bytes)
 * or an array index (name == NULL; negative counts from the end, -1 the last). */
typedef struct hk_jsonpath_seg {
    char *name;
    size_t name_len;
    long index;
} hk_jsonpath_seg;

/* A parsed path: `$`, then `.name`, `['name']`, `["name"]`, `[n]` in any mix (the grammar is in
 * docs/inbound.md, "JSON paths"). canonical is the path in one spelling ($['a'][0]...), so two
 * spellings of one path compare equal. */
typedef struct hk_jsonpath {
    hk_jsonpath_seg *segs;
    size_t len;
    char *canonical;
} hk_jsonpath;

/* Parses text (NUL-terminated). HK_EINVAL with err: one line naming `field` (the caller's name
 * for the path, e.g. "matches[\"$.a.\"]") and the byte where it went wrong; never quotes
 * more of the path than it must. *out is zeroed on failure. */
int hk_jsonpath_parse(const char *text, const char *field, hk_jsonpath *out, hk_error *err);
void hk_jsonpath_free(hk_jsonpath *p); /* accepts a zeroed path */
/* The value at p in doc, borrowed from doc, or NULL when a segment is missing (a name on a
 * non-object, an index on a non-array or out of range, no such member). doc may be NULL. */
const cJSON *hk_jsonpath_get(const hk_jsonpath *p, const cJSON *doc);

/* The same on a JSON text (len bytes; a byte-order mark first is skipped) that
 * hk_inbound_payload_json_check passed, without building a tree: the value's text is
 * doc[*at, *at + *at_len). false when a segment is missing. Bounded by the text whatever it
 * holds, but only checked text gives the tree's answer. */
bool hk_jsonpath_find(const hk_jsonpath *p, const char *doc, size_t len, const char **at,
                      size_t *at_len);

/* Appends v's canonical JSON: objects' members sorted by name (bytewise), no whitespace, strings
 * escaped one way (\" \\ \b \f \n \r \t, other control characters \u00XX, everything else
 * as UTF-8), numbers as a double prints them shortest ("3" for 3, 3.0 and 3e0; "0.1"; "1e+300"),
 * so two values are JSON-equal exactly when their canonical texts are. */
void hk_json_canonical(const cJSON *v, hk_buf *out);

/* A wait as registered: POST /v1/inbound/{id}/waits, hookctl inbound wait. */
typedef struct hk_inbound_wait {
    char ref[HK_WAIT_REF_MAX + 1];
    int64_t ttl_s;
    char *matches_json; /* the matches object as given (paths as written), printed compactly */
    size_t n;           /* entries, sorted by canonical path */
    hk_jsonpath *paths; /* n */
    char **values;      /* n: each value's canonical JSON */
    char shape[HK_WAIT_HASH_LEN + 1];  /* hk_inbound_shape_id of the canonical paths */
    char *shape_json;                  /* the canonical paths as a JSON array, in order */
    char digest[HK_WAIT_HASH_LEN + 1]; /* hk_inbound_digest of values, in order */
} hk_inbound_wait;

/* Reads a wait's JSON: {"ref": string (required; 1 to HK_WAIT_REF_MAX bytes of UTF-8, no
 * control character), "matches": object (required, may be empty; at most HK_WAIT_MATCHES_MAX
 * entries; each name a path, each value any JSON value of at most HK_WAIT_VALUE_MAX bytes
 * canonical), "ttlSeconds": integer 1..HK_WAIT_TTL_MAX_S (default HK_WAIT_TTL_DEFAULT_S)}.
 * Unknown fields and repeated names are refused; two spellings of one path in matches are
 * refused. HK_EINVAL: err names the field (`ref`, `matches["$.a["]`, `ttlSeconds`). HK_OK: *out
 * is the caller's (hk_inbound_wait_destroy). */
int hk_inbound_wait_from_json(const cJSON *doc, hk_inbound_wait **out, hk_error *err);
void hk_inbound_wait_destroy(hk_inbound_wait *w); /* accepts NULL */

/* The shape id of n canonical paths (in sorted order): hex of the first 16 bytes of SHA-256 of
 * the paths each followed by '\n'. n = 0 is the shape of an empty matches. */
void hk_inbound_shape_id(const char *const *canonical_paths, size_t n,
                         char out[HK_WAIT_HASH_LEN + 1]);
/* The digest of n canonical values in their shape's order, the same way. */
void hk_inbound_digest(const char *const *canonical_values, size_t n,
                       char out[HK_WAIT_HASH_LEN + 1]);

/* A shape as hookd-ingress caches it: its id and parsed paths. */
typedef struct hk_inbound_shape {
    char id[HK_WAIT_HASH_LEN + 1];
    size_t n;
    hk_jsonpath *paths;
} hk_inbound_shape;

/* Reads a shape's stored form (shape_json: the JSON array of canonical paths a wait's
 * shape_json is) and checks that its id is what hk_inbound_shape_id gives. HK_EINVAL otherwise. */
int hk_inbound_shape_parse(const char *id, const char *shape_json, hk_inbound_shape *out,
                           hk_error *err);
void hk_inbound_shape_free(hk_inbound_shape *s); /* accepts a zeroed shape */
/* The digest of payload's values at the shape's paths (hk_jsonpath_get, hk_json_canonical,
 * hk_inbound_digest); false when a path is missing in payload (no wait of the shape can match).
 * payload NULL (a raw body) has only the empty shape's values. */
bool hk_inbound_shape_digest(const hk_inbound_shape *s, const cJSON *payload,
                             char out[HK_WAIT_HASH_LEN + 1]);
/* The same for a JSON body as it came (checked by hk_inbound_payload_json_check), with
 * hk_jsonpath_find: only the values at the paths are read into trees. */
bool hk_inbound_shape_digest_text(const hk_inbound_shape *s, const char *json, size_t len,
                                  char out[HK_WAIT_HASH_LEN + 1]);

/* --------------------------------------------------------------------- the record (record.c) ---
 */

/* What goes into one record on hookd.inbound (docs/inbound.md has its JSON Schema). Borrowed. */
typedef struct hk_inbound_record_params {
    const hk_inbound_endpoint *ep;
    const hk_inbound_request *req;
    const char *id;           /* the record's id (hk_inbound_record_id) */
    const char *content_type; /* the request's Content-Type, or NULL */
    const cJSON *query;       /* the query string's parameters as an object, or NULL: none */
    /* The body's JSON form as hk_inbound_payload made it from req's body, or NULL: kept raw
     * only. For a JSON body the record holds the body's own text (which that reader checked). */
    const cJSON *payload;
    /* The body is JSON that hk_inbound_payload_json_check passed (payload NULL): it is the
     * payload, written as it came. */
    bool payload_is_body;
    const char *provider_event_id; /* NULL or "": none */
    /* Headers left out of the record besides Authorization, Cookie and Proxy-Authorization: the
     * preset's credentials and signatures (hk_inbound_is_credential_header). May be NULL. */
    bool (*is_credential)(const hk_inbound_endpoint *ep, const char *name);
    /* Query parameters left out likewise (hk_inbound_is_credential_param: a custom apiKey in the
     * query, hub.verify_token). May be NULL. */
    bool (*is_credential_param)(const hk_inbound_endpoint *ep, const char *name);
    const char *const *matched_waits; /* the waits this request claimed (refs) */
    size_t matched_waits_len;
} hk_inbound_record_params;

/* A new record id: "req_" and 24 lowercase hex digits from the system's CSPRNG. */
void hk_inbound_record_id(char out[32]);
/* Appends the record as one JSON object: header names lower-cased, a repeated header's values
 * joined with ", " (RFC 9110), the body as "body" when it is UTF-8 without NUL, else as
 * "bodyBase64". */
void hk_inbound_record_write(const hk_inbound_record_params *p, hk_buf *out);
/* The same in two steps, for a record whose waits are claimed after it is built: every member
 * up to matchedWaits (p's matched_waits are not read), then matchedWaits and the end. */
void hk_inbound_record_write_head(const hk_inbound_record_params *p, hk_buf *out);
void hk_inbound_record_write_tail(const char *const *matched_waits, size_t n, hk_buf *out);

#endif
