/*
 * http.h — hookd's HTTP endpoint on HOOKD_LISTEN: /healthz, /readyz, /metrics, and the admin
 * API under /v1 (api.h). Private to cmd/. libmicrohttpd serves it on its own threads; the
 * health endpoints read only atomics.
 */
#ifndef HK_HTTP_H
#define HK_HTTP_H

#include <stdatomic.h>
#include <stdint.h>

#include "hk_core.h"

typedef struct hk_http_state {
    atomic_bool ready;    /* Kafka and Redis answered at start-up, and not draining */
} hk_http_state;

typedef struct hk_http hk_http;
typedef struct hk_api hk_api;

/* listen is "host:port" (port 0 picks a free one; the port is logged). state and api are
 * borrowed and must outlive the server; api NULL turns /v1 off (404). */
int hk_http_start(const char *listen, hk_http_state *state, hk_api *api, hk_http **out,
                  hk_error *err);
void hk_http_stop(hk_http *http); /* accepts NULL */
uint16_t hk_http_port(const hk_http *http);

#endif
