/*
 * hk_delivery.h — turning a (task, event) into a signed HTTP request and sending it.
 *
 * delivery owns: body rendering ($references), the three signature schemes (signing, and the
 * receiver's check of them), the SSRF guard (address classifier and allow-list), and the
 * delivery engine (libcurl multi-socket on the core event loop, with global and per-host
 * in-flight caps). It depends only on model and core; it knows
 * nothing of Kafka, Redis or retries: it reports what happened and others decide what follows.
 */
#ifndef HK_DELIVERY_H
#define HK_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hk_model.h"

/* ---------------------------------------------------------------------------- render --- */

/* How a template's values are written (docs/decisions.md, "Escaping by the template's form"). */
typedef enum {
    HK_RENDER_RAW,         /* as they are */
    HK_RENDER_JSON_ESCAPE, /* each value JSON-string escaped, no quotes added */
    HK_RENDER_JSON,        /* the template is JSON: a value inside a string is JSON-escaped; one
                              outside is a JSON number as it is, else a quoted JSON string */
    HK_RENDER_FORM,        /* each value percent-encoded (RFC 3986 unreserved bytes kept) */
} hk_render_form;

/* The form of a template, first rule that holds: a Content-Type of
 * application/x-www-form-urlencoded is FORM; a template that is a JSON object or array once
 * each known reference is replaced by null is JSON; a Content-Type containing "json", or none
 * and a template starting with '{' or '[', is JSON_ESCAPE (a broken JSON template); else RAW.
 * headers and tmpl are borrowed; tmpl may be NULL. */
hk_render_form hk_render_form_of(const hk_kv *headers, size_t headers_len, const char *tmpl);

/* Renders a body (or any text) template: every known $reference ($jobId, $jobStatus, $flowId,
 * $flowName, $jobType, $eventType, $outputIds, $finishedAt, $webhookName, $attempt) is replaced
 * by its value written as `form` says; an unknown $name is left as written. $outputIds is the
 * ids joined with ",", each written as a value of its own (in a JSON template outside a string
 * and outside an array, wrapped in [ ] so the body stays JSON). Returns NULL, having allocated
 * nothing, when the output would be longer than max_bytes (SIZE_MAX: no limit); else the
 * output, its length in *len (len may be NULL). Caller frees the result. */
char *hk_render(const char *tmpl, const hk_event *ev, const hk_task *task, int attempt,
                hk_render_form form, size_t max_bytes, size_t *len);

/* True when a body should be treated as JSON by its Content-Type alone: one containing "json"
 * among headers, or no Content-Type and a body whose first non-space byte is '{' or '['. */
bool hk_render_is_json(const hk_kv *headers, size_t headers_len, const char *body);

/* --------------------------------------------------------------------------- signing --- */

/* HMAC-SHA256 of "<t_ms>.<payload>" with the secret's bytes, lowercase hex into out. */
void hk_sign_timestamped(const char *secret, uint64_t t_ms, const char *payload, size_t len,
                         char out[65]);
/* HMAC-SHA256 of the payload alone, lowercase hex. */
void hk_sign_body(const char *secret, const char *payload, size_t len, char out[65]);
/* Standard Webhooks: secret "whsec_<base64 key>"; signs "<msg_id>.<t_s>.<payload>" with the
 * decoded key; writes "v1,<base64>" into out (at least 64 bytes). HK_EINVAL on a bad secret. */
int hk_sign_standard(const char *secret, const char *msg_id, uint64_t t_s, const char *payload,
                     size_t len, char *out, size_t out_size);

/* The stable delivery id for (event_id, task_id): "msg_" + 26 lowercase hex chars of a SHA-256.
 * out must hold 32 bytes. */
void hk_delivery_id(const char *event_id, const char *task_id, char out[32]);

/* An X-Webhook-Signature value as a receiver reads it (sigheader.c): "t=<unix ms>,sha256=<hex>"
 * (timestamped) or "sha256=<hex>" (body), one sha256= per live secret. Fields are split on ','
 * with optional spaces or tabs around each; the keys are exactly "t" and "sha256". t is digits
 * only, at most once, and at most HK_SIGNATURE_T_MAX; each sha256 is 64 hex digits (kept in
 * lowercase). Any other form (t=-1, t=abc, an unknown key, an empty field) is HK_EINVAL, never
 * read as another scheme: err->field is "t" or "sha256", or empty when the fault is the value's
 * shape (the caller prefixes the header's name). value need not be NUL-terminated; nothing is
 * allocated. */
#define HK_SIGNATURE_MAX_SIGS 8
#define HK_SIGNATURE_T_MAX 253402300799999ULL /* 9999-12-31T23:59:59.999Z */
typedef struct hk_signature_header {
    bool has_t; /* a t= field was present: the timestamped scheme */
    uint64_t t_ms;
    size_t n_sigs; /* 1..HK_SIGNATURE_MAX_SIGS */
    char sigs[HK_SIGNATURE_MAX_SIGS][65];
} hk_signature_header;
int hk_signature_header_parse(const char *value, size_t len, hk_signature_header *out,
                              hk_error *err);

/* Checks a received signature as a receiver would (verify.c): `hookctl verify` and `hookctl
 * listen`. Everything is borrowed; a header value is NULL when absent. */
typedef struct hk_verify_input {
    const char *secret;
    const char *method; /* decides t.body or t.url for the timestamped scheme */
    const char *url;    /* full URL as sent, for GET and DELETE */
    const char *body;
    size_t body_len;
    const char *signature; /* X-Webhook-Signature or the task's own header */
    const char *wh_id;     /* webhook-id */
    const char *wh_timestamp;
    const char *wh_signature;
    long tolerance_s;     /* 0: don't check the age */
    hk_sig_scheme scheme; /* the scheme to check; HK_SIG_NONE: by the headers' form (listen) */
    const char *signature_name; /* the signature header's name for errors; NULL: the default */
} hk_verify_input;

/* HK_OK when a signature verifies in the scheme asked for, HK_ERR when it does not (or is older
 * than tolerance_s), HK_EINVAL when a header is malformed (a t= that is not digits, ...): detail
 * (always written) says which scheme and why. */
int hk_verify(const hk_verify_input *in, char *detail, size_t detail_size);

/* ---------------------------------------------------------------------------- request --- */

typedef struct hk_request {
    hk_method method;
    char *url;
    hk_kv *headers; /* final headers, signature headers included; one allocation (the array,
                       then its strings), made by hk_request_set_headers() */
    size_t headers_len;
    char *body; /* NULL for GET and DELETE */
    size_t body_len;
    long timeout_ms;
    bool validate_ssl;
} hk_request;

typedef struct hk_request_params {
    const hk_task *task;     /* borrowed */
    const hk_event *event;   /* borrowed */
    const char *delivery_id; /* X-Webhook-Id; borrowed */
    int attempt;             /* 1, 2, ... */
    uint64_t now_ms;         /* wall clock for the signature timestamp */
    long default_timeout_ms; /* used when the task's timeout_ms is 0 */
    size_t max_body_bytes;   /* HOOKD_MAX_BODY_BYTES; 0: HK_MAX_BODY_DEFAULT */
} hk_request_params;

#define HK_MAX_BODY_DEFAULT (1024 * 1024)

/* Builds the request: applies the event's override for the task, renders the body, adds the
 * task's headers, a default Content-Type, User-Agent, X-Webhook-Id, X-Webhook-Attempt and the
 * signature headers of every live secret. HK_EINVAL (err names the field) when an override makes
 * the request invalid (its url leaves the task url's origin and the task does not set
 * allowCrossOriginOverrides), or when the rendered body would pass max_body_bytes. *out is owned
 * by the caller (hk_request_destroy). */
int hk_request_build(const hk_request_params *p, hk_request **out, hk_error *err);
void hk_request_destroy(hk_request *req);
/* Replaces req's headers with a copy of kv[0..n) in one allocation. kv is borrowed. */
void hk_request_set_headers(hk_request *req, const hk_kv *kv, size_t n);
/* The value of a header of req (case-insensitive name), or NULL. Borrowed. */
const char *hk_request_header(const hk_request *req, const char *name);

/* ------------------------------------------------------------------------- SSRF guard --- */

typedef struct hk_cidr_list hk_cidr_list;

/* Parses "127.0.0.0/8,::1/128,10.1.2.3" (bare address = single host). Empty or NULL csv gives an
 * empty list. HK_EINVAL names the bad entry. *out is owned by the caller. */
int hk_cidr_list_parse(const char *csv, hk_cidr_list **out, hk_error *err);
void hk_cidr_list_destroy(hk_cidr_list *list);
bool hk_cidr_list_contains(const hk_cidr_list *list, const struct sockaddr *sa);
/* True when the list's entries together cover every address of family (AF_INET or AF_INET6),
 * as 0.0.0.0/0 or ::/0 do: the guard is then off for that family (hookd warns at start). */
bool hk_cidr_list_covers_all(const hk_cidr_list *list, int family);

/* Why an address is refused: "loopback", "private", "link-local", "cgnat", "multicast",
 * "unspecified" (0.0.0.0/8, ::), "reserved", ... or NULL when it is a public address.
 * IPv6 that carries an IPv4 address (mapped, translated, compatible, NAT64 well-known and
 * local-use, 6to4, Teredo) is classified as that IPv4 address; IPv6 outside 2000::/3 is
 * "reserved". */
const char *hk_ssrf_classify(const struct sockaddr *sa);

/* ---------------------------------------------------------------------------- engine --- */

typedef enum {
    HK_DELIVERY_OK,        /* 2xx within the timeout */
    HK_DELIVERY_RETRY,     /* failed; another attempt may succeed (status, timeout, network, TLS) */
    HK_DELIVERY_ERROR,     /* failed; retrying cannot fix it (blocked address, bad request) */
    HK_DELIVERY_CANCELLED, /* given up by hk_delivery_cancel_waiting() (never started) or by
                              hk_delivery_abort_inflight() (started, outcome unknown) */
    HK_DELIVERY_DEFERRED,  /* never started: its host is slow and its queue was full */
} hk_delivery_status;

/* Why an attempt failed, as the engine's classification (delivery/result.c) sees it: what the
 * worker hands to the retry decision (hk_retry_decide), so nothing downstream reads the error
 * message. */
typedef enum {
    HK_FAIL_NONE,    /* delivered, or never started (DEFERRED, CANCELLED) */
    HK_FAIL_HTTP,    /* an answer other than 2xx: http_status says which */
    HK_FAIL_TIMEOUT, /* the task's timeout ran out before an answer */
    HK_FAIL_NETWORK, /* DNS, connect, TLS, reset, or the transfer could not start */
    HK_FAIL_BLOCKED, /* the host's addresses are refused (the SSRF guard) */
    HK_FAIL_INVALID, /* the URL cannot be sent as written (parse, scheme) */
} hk_failure_kind;

#define HK_DELIVERY_MAX_RESPONSE (16 * 1024)
/* The response's headers kept (the final response's, credential headers left out): at most
 * this many bytes of "Name: value\n" lines; the rest are dropped whole. */
#define HK_DELIVERY_MAX_RESPONSE_HEADERS 2048

typedef struct hk_delivery_result {
    hk_delivery_status status;
    hk_failure_kind failure; /* HK_FAIL_NONE unless RETRY or ERROR */
    long http_status;        /* 0 when no response */
    bool timed_out;          /* RETRY because the task's timeout ran out */
    char error[256];         /* "" on success; curl's own message otherwise */
    uint64_t latency_ms;
    const char *response; /* first <= 16 KiB of the body; borrowed for the callback's duration */
    size_t response_len;
    const char *retry_after; /* Retry-After header value or NULL; borrowed likewise */
    /* The final response's headers as "Name: value\n" lines, credential headers
     * (hk_header_is_credential) left out, at most HK_DELIVERY_MAX_RESPONSE_HEADERS; borrowed
     * likewise ("" when none). */
    const char *response_headers;
    size_t response_headers_len;
    const char *request_body; /* what was sent (NULL: no body); borrowed likewise */
    size_t request_body_len;
} hk_delivery_result;

/* Whether a header carries credentials and is never kept (the history of a delivery):
 * Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key, X-Auth-Token, compared
 * without case. name need not end in NUL: len says how long it is. */
bool hk_header_is_credential(const char *name, size_t len);

/* Called once per submitted request, on the loop thread. */
typedef void (*hk_delivery_done_cb)(const hk_delivery_result *res, void *arg);

/* A host is slow while its every slot is taken and either its responses take HK_DELIVERY_SLOW_MS
 * or more on average, or none has come back for that long. Only a slow host's queue is bounded:
 * a fast host with a long queue drains it in moments, and the consumer's pause is the right
 * brake for it. */
#define HK_DELIVERY_SLOW_MS 500

typedef struct hk_delivery_config {
    int max_inflight;          /* requests in flight across all hosts */
    int max_inflight_per_host; /* per scheme://host:port */
    int max_queue_per_host;    /* waiting requests a slow host may have; 0: no bound */
    const hk_cidr_list *allow; /* borrowed; exempt from the SSRF guard; may be NULL */
    const char *proxy;         /* borrowed; "http[s]://[user:pass@]host:port" every transfer goes
                                  through (the target judged by the guard first), or NULL/"": none.
                                  The environment's proxy variables are never used. A secret. */
} hk_delivery_config;

typedef struct hk_delivery_engine hk_delivery_engine;

/* HK_OK for no proxy (NULL or "") or an http(s) URL with a host; else HK_EINVAL naming
 * HOOKD_HTTP_PROXY, the value never shown. For checking the configuration before anything
 * connects; hk_delivery_create checks it again. */
int hk_delivery_check_proxy(const char *proxy, hk_error *err);

/* loop, cfg->allow and cfg->proxy are borrowed and must outlive the engine. HK_EINVAL (field
 * HOOKD_HTTP_PROXY, the value never shown) for a proxy that is not an http(s) URL. */
int hk_delivery_create(hk_loop *loop, const hk_delivery_config *cfg, hk_delivery_engine **out,
                       hk_error *err);
/* Aborts transfers still running (their callbacks are not called). Accepts NULL. */
void hk_delivery_destroy(hk_delivery_engine *engine);

/* Queues req; it starts when a global and a per-host slot are free. When the host is slow and
 * already has max_queue_per_host requests waiting, req is not queued: cb gets
 * HK_DELIVERY_DEFERRED (so do the newest waiting requests beyond the bound when a host turns
 * slow). Takes ownership of req on every path (set your pointer to NULL). cb is always called
 * later, never from inside submit. */
void hk_delivery_submit(hk_delivery_engine *engine, hk_request *req, hk_delivery_done_cb cb,
                        void *arg);

/* Gives up every request still waiting for a slot (not started) whose keep(arg, ctx) returns
 * false (every one when keep is NULL); their callbacks run later, on the loop, with
 * HK_DELIVERY_CANCELLED and no response. Requests in flight are never cancelled. Returns how many
 * were given up. */
size_t hk_delivery_cancel_waiting(hk_delivery_engine *engine, bool (*keep)(void *arg, void *ctx),
                                  void *ctx);

/* Stops every transfer in flight (the receiver may or may not have got it); their callbacks run
 * later, on the loop, with HK_DELIVERY_CANCELLED. For a worker that must stop now and hand its
 * work on. Returns how many were stopped. */
size_t hk_delivery_abort_inflight(hk_delivery_engine *e);
/* Requests submitted and not yet completed (queued + in flight), and those in flight. */
size_t hk_delivery_pending(const hk_delivery_engine *engine);
size_t hk_delivery_inflight(const hk_delivery_engine *engine);

/* ---------------------------------------------------------------------------- metrics --- */

/* What delivery counts; delivery/metrics.c names each family and holds its HELP. A member is
 * named after its series: the name without hookd_ and _total. */
#define HK_DELIVERY_HOSTS_SHOWN 50 /* hookd_host_queue_depth lists the deepest hosts only */
struct hk_delivery_metrics {
    hk_histogram delivery_attempt_duration_seconds; /* every attempt handed to libcurl */
    hk_histogram delivery_queue_seconds; /* submitted to started: HOOKD_MAX_INFLIGHT, per host */
    hk_gauge requests_in_flight;         /* hookd_requests_in_flight */
    hk_gauge requests_queued;            /* hookd_requests_queued */
    hk_metric_set host_queue_depth;      /* hookd_host_queue_depth{host}, one source per engine */
    hk_metric_set host_failed_attempts;  /* hookd_host_failed_attempts{host}, the last minute */
};
extern struct hk_delivery_metrics hk_delivery_metrics;

#endif
