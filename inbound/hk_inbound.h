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

/* ---------------------------------------------------------- verification (verify*.c) --- */

/* ----------------------------------------------------------------- payloads (payload*.c) --- */

/* --------------------------------------------------------------------- the record (record.c) --- */

#endif
