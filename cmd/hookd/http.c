/*
 * http.c — /healthz (the loops turn), /readyz (Kafka and Redis reachable, the group joined),
 * both answered by the worker's probes, /metrics (Prometheus text format: every module's
 * families, rendered by core/metrics.c), and with HOOKD_API_TOKEN the admin API under /v1
 * (api.c). Here a /v1 request is authorised as soon as its headers arrive (401 before any body is
 * read), its body is bounded (413), and then it goes whole to hk_api_handle().
 *
 * Separate listeners, so that no client of one can starve another:
 * - HOOKD_LISTEN (everything): libmicrohttpd runs a thread per connection, because an API
 *   handler may block (a POST /v1/webhooks/{id}/test waits for a real delivery); in an epoll
 *   thread pool it would stall every connection of its thread. Threads are capped
 *   (HK_HTTP_API_CONNECTIONS: 512 cost 35 MiB resident when all were taken), and one address may
 *   hold only HK_HTTP_API_PER_IP of them.
 * - HOOKD_PROBE_LISTEN (/healthz and /readyz only, for the kubelet): answers come from atomics and
 *   never block, so one epoll thread serves every connection.
 * - HOOKD_API_LISTEN, when set: /v1 alone, as HOOKD_LISTEN serves it, which then answers /v1 with
 *   404; so a NetworkPolicy can let Prometheus reach one port and API clients the other.
 * On both, a request's headers must be complete within a deadline counted from the connection's
 * start (or from the previous response on a kept-alive one). libmicrohttpd's own timeout is an
 * idle timeout, and a client that trickles one header byte every few seconds is never idle: such
 * a connection is shut down by a sweeper thread once its deadline passes.
 */
#include "http.h"

#include "api.h"

#include "hk_cmd.h"
#include "hk_console.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* The API listener: threads in all, and per client address. */
#define HK_HTTP_API_CONNECTIONS 512u
#define HK_HTTP_API_PER_IP 16u
/* The probe listener: kubelets connect once per probe and close. */
#define HK_HTTP_PROBE_CONNECTIONS 128u
#define HK_HTTP_PROBE_PER_IP 16u
/* Idle timeout (libmicrohttpd's, seconds) and the header deadline (ours, ms). */
#define HK_HTTP_IDLE_TIMEOUT_S 10u
#define HK_HTTP_HEADER_DEADLINE_MS 5000u
#define HK_HTTP_SWEEP_MS 250u

/* A connection whose request headers have a deadline. Linked in hk_http.conns from libmicrohttpd's
 * NOTIFY_STARTED to its NOTIFY_CLOSED, which comes before it closes the socket: so while linked,
 * fd is this connection's and the sweeper may shut it down (under the lock). */
typedef struct tracked_conn {
    struct tracked_conn *prev, *next;
    int fd;
    _Atomic uint64_t deadline_ms; /* 0: headers in, a request is being handled */
    bool cut;
} tracked_conn;

struct hk_http {
    struct MHD_Daemon *daemon;
    const hk_http_probes *probes; /* NULL on the API's own listener */
    hk_api *api;                  /* NULL: the admin API is off, or elsewhere */
    bool api_elsewhere;           /* HOOKD_LISTEN with HOOKD_API_LISTEN set: no /v1 here */
    bool api_only;                /* HOOKD_API_LISTEN: /v1 and nothing else */
    bool probes_only;
    uint16_t port;
    pthread_mutex_t lock; /* conns, stopping */
    pthread_cond_t wake;
    tracked_conn conns; /* list head */
    bool stopping;
    pthread_t sweeper;
    bool sweeper_started;
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

/* The admin API's families (counted only here) and hookd's version. The code label is bounded:
 * the statuses the API answers with, each its own series, and any other under its class
 * ("4xx"), which `code=~"4.."` still selects. A member is named after its series. */
#define API_REQUESTS(code)                                                                         \
    HK_COUNTER("hookd_api_requests_total", "code=\"" code "\"",                                    \
               "Admin API requests answered (/v1), by status code; a code the API does not "       \
               "use is counted under its class (4xx).")
/* The codes, once: the API's own (api.c, http.c), then the classes; X-macro so that the names
 * and the members cannot disagree. */
#define API_CODE_LIST(X)                                                                           \
    X("200")                                                                                       \
    X("201") X("204") X("400") X("401") X("403") X("404") X("405") X("409") X("413") X("415")      \
        X("422") X("429") X("500") X("501") X("502") X("503") X("504") X("1xx") X("2xx") X("3xx")  \
            X("4xx") X("5xx")
#define API_CODE_NAME(code) code,
#define API_CODE_MEMBER(code) API_REQUESTS(code),
static const char *const api_codes[] = {API_CODE_LIST(API_CODE_NAME)};
#define API_CODES (sizeof api_codes / sizeof api_codes[0])
/* From 1 ms to 30 s (a test delivery waits for the receiver, up to its timeout). */
static const uint64_t api_bounds_ms[] = {1,   5,    10,   25,   50,    100,  250,
                                         500, 1000, 2500, 5000, 10000, 30000};
static struct http_metrics {
    hk_counter api_requests[API_CODES]; /* in api_codes' order */
    hk_histogram api_request_duration_seconds;
    hk_gauge build_info;
} http_metrics = {
    .api_requests = {API_CODE_LIST(API_CODE_MEMBER)},
    .api_request_duration_seconds = HK_HISTOGRAM_MS(
        "hookd_api_request_duration_seconds",
        "Time from an admin API request's arrival to its answer (/v1), every status.",
        api_bounds_ms),
    .build_info = HK_GAUGE_AT("hookd_build_info", "version=\"" HK_VERSION "\"",
                              "Always 1; the version is in the label.", 1),
};
HK_METRICS_REGISTER("hookd", http_metrics)

/* hookd_api_requests_total{code} and the duration of one finished /v1 request. */
static void api_count(unsigned status, uint64_t ms)
{
    char code[4];
    snprintf(code, sizeof code, "%03u", status < 1000 ? status : 599);
    size_t i = 0;
    while (i < API_CODES - 5 && strcmp(api_codes[i], code) != 0)
        i++;
    if (i == API_CODES - 5) /* not one of the API's own: its class, 1xx..5xx */
        i = API_CODES - 5 + (status >= 100 && status < 600 ? status / 100 - 1 : 4);
    hk_counter_add(&http_metrics.api_requests[i], 1);
    hk_histogram_observe_ms(&http_metrics.api_request_duration_seconds, ms);
}

/* Counts a /v1 answer and logs it: method, path, status; never a body or a header. */
static void api_done(const char *method, const char *url, unsigned status, uint64_t t0)
{
    api_count(status, hk_now_ms() - t0);
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
    char *body = hk_api_error_body(hk_api_error_code(status), field, message);
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
                             h->api_elsewhere
                                 ? "the admin API is not served here (it is on HOOKD_API_LISTEN)"
                                 : "the admin API is off (HOOKD_API_TOKEN is not set)");
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
    hk_api_query query = {
        .limit = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "limit"),
        .iterator = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "iterator"),
        .webhook_id = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "webhookId"),
        .since = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "since"),
        .until = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "until"),
    };
    hk_api_handle(h->api, method, url, &query, req->body.data, req->body.len, &ar);
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

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static tracked_conn *tracked_of(struct MHD_Connection *con)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The request's headers are complete: its deadline is met. */
static void headers_in(struct MHD_Connection *con)
{
    tracked_conn *c = tracked_of(con);
    if (c)
        atomic_store(&c->deadline_ms, 0);
}

static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    hk_http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
        tracked_conn *c = hk_xcalloc(1, sizeof *c);
        c->fd = ci ? ci->connect_fd : -1;
        atomic_store(&c->deadline_ms, mono_ms() + HK_HTTP_HEADER_DEADLINE_MS);
        pthread_mutex_lock(&h->lock);
        c->next = h->conns.next;
        c->prev = &h->conns;
        c->next->prev = c;
        h->conns.next = c;
        pthread_mutex_unlock(&h->lock);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        tracked_conn *c = *socket_context;
        pthread_mutex_lock(&h->lock);
        c->prev->next = c->next;
        c->next->prev = c->prev;
        pthread_mutex_unlock(&h->lock);
        free(c);
        *socket_context = NULL;
    }
}

/* Shuts down every connection still short of its headers at its deadline; libmicrohttpd then
 * reads the end of the stream and closes it the usual way. */
static void *sweeper_main(void *arg)
{
    hk_http *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        uint64_t now = mono_ms();
        for (tracked_conn *c = h->conns.next; c != &h->conns; c = c->next) {
            uint64_t deadline = atomic_load(&c->deadline_ms);
            if (deadline && now > deadline && !c->cut && c->fd >= 0) {
                shutdown(c->fd, SHUT_RDWR);
                c->cut = true;
            }
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += HK_HTTP_SWEEP_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->wake, &h->lock, &until);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)toe;
    /* A kept-alive connection's next request gets a deadline of its own. */
    tracked_conn *c = tracked_of(con);
    if (c)
        atomic_store(&c->deadline_ms, mono_ms() + HK_HTTP_HEADER_DEADLINE_MS);
    api_request *req = *con_cls;
    if (req) {
        hk_buf_free(&req->body);
        free(req);
        *con_cls = NULL;
    }
}

/* The console's page files (hk_console.h), with the headers the console module gives them.
 * "/console" is redirected to "/console/", so that the page's relative links resolve under it. */
static enum MHD_Result on_console(struct MHD_Connection *con, const char *url, const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(con, 405, "text/plain", hk_strdup("method not allowed\n"));
    hk_console_file f;
    struct MHD_Response *resp;
    unsigned status = 200;
    if (strcmp(url, "/console") == 0) {
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Location", HK_CONSOLE_PREFIX);
        status = 308;
    } else if (hk_console_find(url, &f)) {
        resp = MHD_create_response_from_buffer(f.len, (void *)f.data, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Content-Type", f.type);
    } else {
        resp = MHD_create_response_from_buffer(10, "not found\n", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Content-Type", "text/plain");
        status = 404;
    }
    const char *value;
    const char *name;
    for (size_t i = 0; (name = hk_console_header(i, &value)) != NULL; i++)
        MHD_add_response_header(resp, name, value);
    enum MHD_Result r = MHD_queue_response(con, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    hk_http *h = cls;
    headers_in(con);
    if (!h->probes_only && strncmp(url, "/v1/", 4) == 0)
        return on_api(h, con, url, method, upload_data, upload_data_size, con_cls);
    /* The console goes with the API: on the listener that serves /v1, only when the API is on. */
    if (h->api && (strcmp(url, "/console") == 0 ||
                   strncmp(url, HK_CONSOLE_PREFIX, strlen(HK_CONSOLE_PREFIX)) == 0))
        return on_console(con, url, method);
    if (h->api_only) /* no probe and no /metrics: a NetworkPolicy tells the two ports apart */
        return reply(con, 404, "text/plain", hk_strdup("not found\n"));
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(con, 405, "text/plain", hk_strdup("method not allowed\n"));
    bool health = strcmp(url, "/healthz") == 0;
    if (health || strcmp(url, "/readyz") == 0) {
        hk_buf b = {0};
        int status = (health ? h->probes->alive : h->probes->ready)(h->probes->arg, &b);
        return reply(con, (unsigned)status, "text/plain", hk_buf_take(&b));
    }
    if (!h->probes_only && strcmp(url, "/metrics") == 0) {
        hk_buf b = {0};
        hk_metrics_render(&b);
        return reply(con, 200, "text/plain; version=0.0.4", hk_buf_take(&b));
    }
    return reply(con, 404, "text/plain", hk_strdup("not found\n"));
}

/* What a listener serves: everything, all but /v1 (the API elsewhere), the probes alone, or /v1
 * alone. */
typedef enum { SERVE_ALL, SERVE_NO_API, SERVE_PROBES, SERVE_API } serves;

static int http_start(const char *field, const char *listen, const hk_http_probes *probes,
                      hk_api *api, serves what, hk_http **out, hk_error *err)
{
    struct sockaddr_in sa;
    if (hk_cmd_listen_addr(field, listen, &sa, err) != HK_OK)
        return HK_EINVAL;
    bool probes_only = what == SERVE_PROBES;
    hk_http *h = hk_xcalloc(1, sizeof *h);
    h->probes = probes;
    h->api = api;
    h->api_elsewhere = what == SERVE_NO_API;
    h->api_only = what == SERVE_API;
    h->probes_only = probes_only;
    h->conns.next = h->conns.prev = &h->conns;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     (probes_only ? MHD_USE_EPOLL : MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL);
    h->daemon = MHD_start_daemon(
        flags, ntohs(sa.sin_port), NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, HK_HTTP_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT,
        probes_only ? HK_HTTP_PROBE_CONNECTIONS : HK_HTTP_API_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, probes_only ? HK_HTTP_PROBE_PER_IP : HK_HTTP_API_PER_IP,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_END);
    if (!h->daemon) {
        hk_http_stop(h);
        return hk_error_set(err, HK_ERR, field, "cannot listen on %s", listen);
    }
    int rc = pthread_create(&h->sweeper, NULL, sweeper_main, h);
    if (rc != 0) {
        hk_http_stop(h);
        return hk_error_set(err, HK_ERR, field, "cannot start a thread: %s", strerror(rc));
    }
    h->sweeper_started = true;
    h->port = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    *out = h;
    return HK_OK;
}

int hk_http_start(const char *listen, const hk_http_probes *probes, hk_api *api, bool api_elsewhere,
                  hk_http **out, hk_error *err)
{
    return http_start("HOOKD_LISTEN", listen, probes, api, api_elsewhere ? SERVE_NO_API : SERVE_ALL,
                      out, err);
}

int hk_http_start_api(const char *listen, hk_api *api, hk_http **out, hk_error *err)
{
    return http_start("HOOKD_API_LISTEN", listen, NULL, api, SERVE_API, out, err);
}

int hk_http_start_probes(const char *listen, const hk_http_probes *probes, hk_http **out,
                         hk_error *err)
{
    return http_start("HOOKD_PROBE_LISTEN", listen, probes, NULL, SERVE_PROBES, out, err);
}

void hk_http_stop(hk_http *h)
{
    if (!h)
        return;
    if (h->sweeper_started) {
        pthread_mutex_lock(&h->lock);
        h->stopping = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->sweeper, NULL);
    }
    if (h->daemon)
        MHD_stop_daemon(h->daemon); /* closes every connection: each leaves conns */
    for (tracked_conn *c = h->conns.next, *next; c != &h->conns; c = next) {
        next = c->next; /* none, unless a close went unreported */
        free(c);
    }
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

uint16_t hk_http_port(const hk_http *h)
{
    return h->port;
}
