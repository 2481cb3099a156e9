/*
 * http.h — hookd's HTTP endpoint on HOOKD_LISTEN: /healthz, /readyz, /metrics. Private to cmd/.
 * libmicrohttpd serves it on its own thread; it reads only atomics.
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

/* listen is "host:port" (port 0 picks a free one; the port is logged). state is borrowed and
 * must outlive the server. */
int hk_http_start(const char *listen, hk_http_state *state, hk_http **out, hk_error *err);
void hk_http_stop(hk_http *http); /* accepts NULL */
uint16_t hk_http_port(const hk_http *http);

#endif
