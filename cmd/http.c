/*
 * http.c — /healthz (the loops turn), /readyz (Kafka and Redis reachable, the group joined),
 * both answered by the worker's probes, /metrics (Prometheus text format, core/metrics.c), and with
 * HOOKD_API_TOKEN the admin API under /v1 (api.c). libmicrohttpd parses HTTP and runs a thread per
 * connection, so a slow POST /v1/webhooks/{id}/test never holds up a probe. Here a /v1 request is
 * authorised as soon as its headers arrive (401 before any body is read), its body is bounded
 * (413), and then it goes whole to hk_api_handle().
 */
#include "http.h"

#include "api.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct hk_http {
    struct MHD_Daemon *daemon;
    const hk_http_probes *probes;
    hk_api *api; /* NULL: the admin API is off */
    uint16_t port;
};

/* One /v1 request's body as it arrives. */
typedef struct api_request {
    hk_buf body;
    bool too_big;
} api_request;

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

/* Counts a /v1 answer and logs it: method, path, status; never a body or a header. */
static void api_done(const char *method, const char *url, unsigned status, uint64_t t0)
{
    hk_metric_add(HK_M_API_REQUESTS, 1);
    if (status == 401)
        hk_metric_add(HK_M_API_UNAUTHORIZED, 1);
    else if (status >= 500)
        hk_metric_add(HK_M_API_SERVER_ERRORS, 1);
    else if (status >= 400)
        hk_metric_add(HK_M_API_CLIENT_ERRORS, 1);
    if (!hk_log_enabled(HK_LOG_INFO))
        return;
    hk_log_field f[] = {HK_STR("method", method), HK_STR("path", url), HK_NUM("status", status),
                        HK_NUM("latencyMs", hk_now_ms() - t0)};
    hk_log_write(status >= 500 ? HK_LOG_WARN : HK_LOG_INFO, "api", f, sizeof f / sizeof f[0],
                 "%s %s %u", method, url, status);
}

static enum MHD_Result api_error(struct MHD_Connection *con, const char *method, const char *url,
                                 unsigned status, const char *field, const char *message)
{
    char *body = hk_api_error_body(field, message);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"hookd\"");
    enum MHD_Result r = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    api_done(method, url, status, hk_now_ms());
    return r;
}

static enum MHD_Result on_api(hk_http *h, struct MHD_Connection *con, const char *url,
                              const char *method, const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    api_request *req = *con_cls;
    if (!req) { /* the headers are in; no body has been read yet */
        if (!h->api)
            return api_error(con, method, url, 404, NULL,
                             "the admin API is off (HOOKD_API_TOKEN is not set)");
        const char *auth =
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!hk_api_authorized(h->api, auth))
            return api_error(con, method, url, 401, NULL, "unauthorized");
        const char *cl =
            MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > HK_API_MAX_BODY)
            return api_error(con, method, url, 413, "body", "body: larger than 1 MiB");
        *con_cls = hk_xcalloc(1, sizeof(api_request));
        return MHD_YES;
    }
    if (*upload_data_size) { /* a chunk of the body (chunked uploads have no Content-Length) */
        if (req->body.len + *upload_data_size > HK_API_MAX_BODY)
            req->too_big = true;
        if (!req->too_big)
            hk_buf_append(&req->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->too_big)
        return api_error(con, method, url, 413, "body", "body: larger than 1 MiB");
    uint64_t t0 = hk_now_ms();
    hk_api_response ar;
    hk_api_handle(h->api, method, url, req->body.data, req->body.len, &ar);
    struct MHD_Response *resp =
        ar.body ? MHD_create_response_from_buffer(strlen(ar.body), ar.body, MHD_RESPMEM_MUST_FREE)
                : MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (ar.body)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    if (ar.location[0])
        MHD_add_response_header(resp, "Location", ar.location);
    if (ar.allow)
        MHD_add_response_header(resp, "Allow", ar.allow);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result r = MHD_queue_response(con, ar.status, resp);
    MHD_destroy_response(resp);
    api_done(method, url, ar.status, t0);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)con, (void)toe;
    api_request *req = *con_cls;
    if (req) {
        hk_buf_free(&req->body);
        free(req);
        *con_cls = NULL;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    hk_http *h = cls;
    if (strncmp(url, "/v1/", 4) == 0)
        return on_api(h, con, url, method, upload_data, upload_data_size, con_cls);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(con, 405, "text/plain", hk_strdup("method not allowed\n"));
    bool health = strcmp(url, "/healthz") == 0;
    if (health || strcmp(url, "/readyz") == 0) {
        hk_buf b = {0};
        int status = (health ? h->probes->alive : h->probes->ready)(h->probes->arg, &b);
        return reply(con, (unsigned)status, "text/plain", hk_buf_take(&b));
    }
    if (strcmp(url, "/metrics") == 0) {
        hk_buf b = {0};
        hk_metrics_render(&b);
        return reply(con, 200, "text/plain; version=0.0.4", hk_buf_take(&b));
    }
    return reply(con, 404, "text/plain", hk_strdup("not found\n"));
}

int hk_http_start(const char *listen, const hk_http_probes *probes, hk_api *api, hk_http **out,
                  hk_error *err)
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
    h->probes = probes;
    h->api = api;
    h->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL,
        (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT, 64u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
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
