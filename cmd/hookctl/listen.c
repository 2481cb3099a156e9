/*
 * listen.c — `hookctl listen`: a local receiver for development and the demo. It prints each
 * request it gets and, given the secret, whether its signature verifies. libmicrohttpd runs
 * the server on its own thread; the main thread waits for a signal or the --count'th request.
 */
#include "hookctl.h"

#include "hk_delivery.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct listener {
    const char *secret;
    const char *sig_header;
    unsigned status;
    long count;
    long seen;
    long tolerance_s;
    pthread_mutex_t lock;
    int wake[2];
} listener;

typedef struct req {
    char *uri;
    hk_buf body;
    bool started;
    bool last; /* the --count'th: stop once its response has gone out */
} req;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    (void)cls;
    (void)con;
    req *r = hk_xcalloc(1, sizeof *r);
    r->uri = hk_strdup(uri);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)con;
    (void)toe;
    req *r = *con_cls;
    if (!r)
        return;
    if (r->last) { /* after the response, not before: stopping earlier would cut it off */
        listener *l = cls;
        ssize_t w = write(l->wake[1], "x", 1);
        (void)w;
    }
    free(r->uri);
    hk_buf_free(&r->body);
    free(r);
    *con_cls = NULL;
}

/* Header values that may be credentials (a task's own Authorization header, say) are shown
 * masked, like every secret hookctl prints. Signature headers are not secrets. */
static bool sensitive(const char *name)
{
    static const char *const exact[] = {"authorization", "proxy-authorization", "cookie",
                                        "set-cookie"};
    static const char *const parts[] = {"token", "secret", "password", "api-key", "apikey"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcasecmp(name, exact[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strcasestr(name, parts[i]))
            return true;
    return false;
}

typedef struct header_walk {
    cJSON *json; /* --json: the headers object */
} header_walk;

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    header_walk *w = cls;
    char masked[16];
    if (sensitive(key)) {
        hk_secret_mask(value ? value : "", masked);
        value = masked;
    }
    if (w->json)
        cJSON_AddStringToObject(w->json, key, value ? value : "");
    else
        printf("  %s: %s\n", key, value ? value : "");
    return MHD_YES;
}

#define BODY_SHOWN 4096

static void print_request(listener *l, struct MHD_Connection *con, const char *method, req *r)
{
    const char *host = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Host");
    hk_buf url = {0};
    hk_buf_printf(&url, "http://%s%s", host ? host : "localhost", r->uri);
    cJSON *json = hk_cmd_json ? cJSON_CreateObject() : NULL;
    header_walk w = {.json = json ? cJSON_CreateObject() : NULL};
    if (json) {
        cJSON_AddStringToObject(json, "method", method);
        cJSON_AddStringToObject(json, "path", r->uri);
        cJSON_AddItemToObject(json, "headers", w.json);
    } else {
        printf("%s %s\n", method, r->uri);
    }
    MHD_get_connection_values(con, MHD_HEADER_KIND, on_header, &w);
    if (l->secret) {
        hk_verify_input in = {
            .secret = l->secret,
            .method = method,
            .url = url.data,
            .body = r->body.data ? r->body.data : "",
            .body_len = r->body.len,
            .signature = MHD_lookup_connection_value(con, MHD_HEADER_KIND, l->sig_header),
            .wh_id = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "webhook-id"),
            .wh_timestamp = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "webhook-timestamp"),
            .wh_signature = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "webhook-signature"),
            .tolerance_s = l->tolerance_s,
        };
        char detail[256];
        bool ok = hk_verify(&in, detail, sizeof detail) == HK_OK;
        if (json) {
            cJSON *sig = cJSON_AddObjectToObject(json, "signature");
            cJSON_AddBoolToObject(sig, "valid", ok);
            cJSON_AddStringToObject(sig, "detail", detail);
        } else {
            printf("  signature: %s%s\n", ok ? "" : "INVALID: ", detail);
        }
    }
    size_t shown = r->body.len > BODY_SHOWN ? BODY_SHOWN : r->body.len;
    if (json) {
        char *body = hk_strndup(r->body.data ? r->body.data : "", shown);
        cJSON_AddStringToObject(json, "body", body);
        cJSON_AddNumberToObject(json, "bodyBytes", (double)r->body.len);
        free(body);
        char *text = cJSON_PrintUnformatted(json);
        printf("%s\n", text); /* one request per line */
        free(text);
        cJSON_Delete(json);
    } else if (r->body.len) {
        printf("  body%s: %.*s\n", shown < r->body.len ? " (first 4 KiB)" : "", (int)shown,
               r->body.data);
    }
    fflush(stdout);
    hk_buf_free(&url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)url;
    (void)version;
    listener *l = cls;
    req *r = *con_cls;
    if (!r->started) {
        r->started = true;
        return MHD_YES;
    }
    if (*upload_data_size) {
        hk_buf_append(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&l->lock);
    print_request(l, con, method, r);
    l->seen++;
    bool done = l->count > 0 && l->seen >= l->count;
    pthread_mutex_unlock(&l->lock);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(con, l->status, resp);
    MHD_destroy_response(resp);
    r->last = done;
    return ret;
}

static int wake_fd = -1;
static void on_signal(int sig)
{
    (void)sig;
    ssize_t w = write(wake_fd, "s", 1);
    (void)w;
}

static void listen_usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl listen --port 9000 [--secret S] [--bind 127.0.0.1] [--status 204]\n"
            "                      [--signature-header X-Webhook-Signature] [--count N]\n"
            "                      [--tolerance 300]\n"
            "\n"
            "A local webhook receiver: prints every request (method, path, headers, the first\n"
            "4 KiB of the body) and, with --secret, whether its signature verifies (timestamped,\n"
            "body or standard scheme; --tolerance seconds, 0 for any age). Header values that\n"
            "may be credentials (Authorization, Cookie, *token*, *secret*) are masked.\n"
            "Answers every request with --status (default 204; try 500 or 410 to see hookd\n"
            "retry or disable the task). --json prints one JSON object per request and line.\n"
            "Stops on Ctrl-C, or after --count requests.\n"
            "Example: hookctl listen --port 9000 --secret mySecret --status 500\n");
}

int hk_cmd_listen(int argc, char **argv, const hk_config *cfg)
{
    (void)cfg;
    listener l = {.sig_header = "X-Webhook-Signature", .status = 204, .tolerance_s = 300};
    long port = -1;
    const char *bind_addr = "127.0.0.1";
    static const struct option flags[] = {
        {"help", no_argument, NULL, 'h'},
        {"port", required_argument, NULL, 'p'},
        {"secret", required_argument, NULL, 's'},
        {"bind", required_argument, NULL, 'b'},
        {"signature-header", required_argument, NULL, 'H'},
        {"status", required_argument, NULL, 'S'},
        {"count", required_argument, NULL, 'c'},
        {"tolerance", required_argument, NULL, 't'},
        {0},
    };
    hk_cmd_args args = {.argc = argc, .argv = argv, .flags = flags};
    for (int c; (c = hk_cmd_next(&args)) != -1;) {
        const char *v = args.value;
        char *end = NULL;
        long s;
        switch (c) {
        case 'h':
            listen_usage(stdout);
            return 0;
        case 'p':
            port = strtol(v, &end, 10);
            if (*end || port < 0 || port > 65535) {
                fprintf(stderr, "hookctl: --port: must be 0..65535\n");
                return 2;
            }
            break;
        case 's':
            l.secret = v;
            break;
        case 'b':
            bind_addr = v;
            break;
        case 'H':
            l.sig_header = v;
            break;
        case 'S':
            s = strtol(v, &end, 10);
            if (*end || s < 100 || s > 599) {
                fprintf(stderr, "hookctl: --status: must be an HTTP status 100..599\n");
                return 2;
            }
            l.status = (unsigned)s;
            break;
        case 'c':
            l.count = strtol(v, &end, 10);
            if (*end || l.count < 1) {
                fprintf(stderr, "hookctl: --count: must be a positive number\n");
                return 2;
            }
            break;
        case 't':
            l.tolerance_s = strtol(v, &end, 10);
            if (*end || l.tolerance_s < 0) {
                fprintf(stderr, "hookctl: --tolerance: must be a number of seconds\n");
                return 2;
            }
            break;
        case HK_CMD_NO_VALUE:
            fprintf(stderr, "hookctl: %s: needs a value (see hookctl listen --help)\n",
                    args.token);
            return 2;
        default:
            fprintf(stderr, "hookctl: %s: unknown flag (see hookctl listen --help)\n",
                    args.token);
            return 2;
        }
    }
    if (port < 0) {
        fprintf(stderr, "hookctl: --port: required\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "hookctl: --bind: not an IPv4 address\n");
        return 2;
    }
    pthread_mutex_init(&l.lock, NULL);
    if (pipe(l.wake) < 0)
        return 1;
    wake_fd = l.wake[1];
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, on_request,
        &l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, &l, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "hookctl: --port: cannot listen on %s:%ld\n", bind_addr, port);
        return 1;
    }
    printf("listening on http://%s:%ld/\n", bind_addr, port);
    fflush(stdout);
    char c;
    while (read(l.wake[0], &c, 1) < 0) {
    }
    MHD_stop_daemon(d);
    close(l.wake[0]);
    close(l.wake[1]);
    return 0;
}
