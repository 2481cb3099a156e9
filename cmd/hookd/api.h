/*
 * api.h — hookd's admin API under /v1 (docs/api.md, docs/openapi.yaml). Private to cmd/hookd/.
 *
 * The HTTP server (http.c, libmicrohttpd) parses requests, bounds bodies and calls in here with
 * a whole request; this file authorises it, routes it, and answers in JSON. Every write goes
 * through the store's JSON entry points (hk_store_task_create_json, ..., hk_store_flow_import),
 * the same ones hookctl uses, so validation lives in one place. Thread-safe: requests may run on
 * several threads at once (Redis connections come from a small pool).
 */
#ifndef HK_API_H
#define HK_API_H

#include <stdbool.h>
#include <stddef.h>

#include "hk_core.h"

#define HK_API_MAX_BODY (1024 * 1024) /* larger request bodies are refused with 413 */

typedef struct hk_api hk_api;

typedef struct hk_api_response {
    unsigned status;
    char *body;          /* JSON text, owned (free()); NULL for 204 */
    char location[1024]; /* "" or the new resource's path (201): a wait's ref encoded */
    const char *allow;   /* NULL or the methods the path accepts (405) */
} hk_api_response;

/* cfg (with api_token set) is borrowed and must outlive the API. Opens no connection yet.
 * HK_EINVAL naming HOOKD_API_TOKEN (never showing a token) for a token under 16 characters, an
 * empty one in the list, or more than 8. */
int hk_api_create(const hk_config *cfg, hk_api **out, hk_error *err);
void hk_api_destroy(hk_api *api); /* accepts NULL */

/* True when the Authorization header value is "Bearer <token>" for one of HOOKD_API_TOKEN's
 * comma-separated tokens (a request with any but the first is counted in
 * hookd_api_previous_token_requests_total). Compares SHA-256 digests in constant time, each of
 * them, so neither the token's bytes, its length nor which one matched leak through timing. */
bool hk_api_authorized(const hk_api *api, const char *authorization);

/* A request's query parameters that the API reads (lists: ?limit=, ?iterator=), each NULL when
 * absent. Borrowed for the call. */
typedef struct hk_api_query {
    const char *limit;
    const char *iterator;
    const char *webhook_id; /* GET /v1/dlq's filter: ?webhookId=, ?since=, ?until= */
    const char *since;
    const char *until;
} hk_api_query;

/* Fills resp for one authorised request. path starts with "/v1/"; query and body may be NULL. */
void hk_api_handle(hk_api *api, const char *method, const char *path, const hk_api_query *query,
                   const char *body, size_t body_len, hk_api_response *resp);

/* The JSON error body {"error": {"code": c, "field": f or null, "message": m}} (owned). The code
 * is stable, for programs (docs/api.md): hk_api_error_code(status), or a narrower one. */
char *hk_api_error_body(const char *code, const char *field, const char *message);
const char *hk_api_error_code(unsigned status);

#endif
