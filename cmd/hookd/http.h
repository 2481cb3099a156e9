/*
 * http.h — hookd's HTTP endpoints: on HOOKD_LISTEN /healthz, /readyz, /metrics, and the admin
 * API under /v1 (api.h) unless HOOKD_API_LISTEN serves it alone; on HOOKD_PROBE_LISTEN /healthz
 * and /readyz alone. Private to cmd/hookd/.
 * libmicrohttpd serves them on its own threads; the health endpoints read only atomics.
 */
#ifndef HK_HTTP_H
#define HK_HTTP_H

#include <stdatomic.h>
#include <stdint.h>

#include "hk_core.h"

/* The probes' answers, computed by the worker from atomics only (any thread may call them):
 * each returns 200 or 503 and appends a short plain-text report to body. */
typedef struct hk_http_probes {
    int (*alive)(void *arg, hk_buf *body); /* /healthz */
    int (*ready)(void *arg, hk_buf *body); /* /readyz */
    void *arg;
} hk_http_probes;

typedef struct hk_http hk_http;
typedef struct hk_api hk_api;

/* listen is "host:port" (port 0 picks a free one; the port is logged). probes and api are
 * borrowed and must outlive the server; api NULL turns /v1 off (404), saying it is on
 * HOOKD_API_LISTEN when api_elsewhere. */
int hk_http_start(const char *listen, const hk_http_probes *probes, hk_api *api, bool api_elsewhere,
                  hk_http **out, hk_error *err);
/* HOOKD_API_LISTEN: the admin API (/v1) alone, 404 for anything else (no probe, no /metrics),
 * with HOOKD_LISTEN's limits (a thread per connection, 16 per address, the header deadline).
 * Same listen format and ownership as hk_http_start(). */
int hk_http_start_api(const char *listen, hk_api *api, hk_http **out, hk_error *err);
/* HOOKD_PROBE_LISTEN: /healthz and /readyz only (404 for anything else), on a listener of their
 * own that no API client can starve. Same listen format and ownership as hk_http_start(). */
int hk_http_start_probes(const char *listen, const hk_http_probes *probes, hk_http **out,
                         hk_error *err);
void hk_http_stop(hk_http *http); /* accepts NULL */
uint16_t hk_http_port(const hk_http *http);

#endif
