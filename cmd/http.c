/*
 * http.c — /healthz (the process answers), /readyz (ready to consume), /metrics (Prometheus
 * text format, every counter of core/metrics.c).
 */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct hk_http {
    struct MHD_Daemon *daemon;
    hk_http_state *state;
    uint16_t port;
};

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status, const char *type,
                             char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", type);
    enum MHD_Result r = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
    hk_http *h = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(con, 405, "text/plain", hk_strdup("method not allowed\n"));
    if (strcmp(url, "/healthz") == 0)
        return reply(con, 200, "text/plain", hk_strdup("ok\n"));
    if (strcmp(url, "/readyz") == 0) {
        bool ready = atomic_load(&h->state->ready);
        return reply(con, ready ? 200 : 503, "text/plain",
                     hk_strdup(ready ? "ready\n" : "not ready\n"));
    }
    if (strcmp(url, "/metrics") == 0) {
        hk_buf b = {0};
        hk_metrics_render(&b);
        return reply(con, 200, "text/plain; version=0.0.4", hk_buf_take(&b));
    }
    return reply(con, 404, "text/plain", hk_strdup("not found\n"));
}

int hk_http_start(const char *listen, hk_http_state *state, hk_http **out, hk_error *err)
{
    const char *colon = strrchr(listen, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || !*(colon + 1) || *end || port < 0 || port > 65535)
        return hk_error_set(err, HK_EINVAL, "HOOKD_LISTEN", "expected host:port, got '%s'", listen);
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, *host ? host : "0.0.0.0", &sa.sin_addr) != 1)
        return hk_error_set(err, HK_EINVAL, "HOOKD_LISTEN", "'%s' is not an IPv4 address", host);
    hk_http *h = hk_xcalloc(1, sizeof *h);
    h->state = state;
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL,
                                 on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!h->daemon) {
        free(h);
        return hk_error_set(err, HK_ERR, "HOOKD_LISTEN", "cannot listen on %s", listen);
    }
    h->port = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    *out = h;
    return HK_OK;
}

void hk_http_stop(hk_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}

uint16_t hk_http_port(const hk_http *h)
{
    return h->port;
}
