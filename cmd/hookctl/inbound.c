/*
 * inbound.c — `hookctl inbound`: hookd-ingress's endpoints in Redis (create, list, get, update,
 * delete) and the waits of flows on them (wait: register, list, delete), through hk_cmd's
 * inbound functions, the ones the admin API uses; and two commands for whoever sets up a
 * provider: `sign` prints the headers a provider would send with a body, and `send` signs a body
 * as an endpoint's provider would and posts it to hookd-ingress.
 * Secrets are never printed: endpoints are shown with hk_inbound_endpoint_to_json(ep, false),
 * and sign prints signatures only. Exit: 0 ok, 1 runtime failure or not found (send: not 2xx),
 * 2 bad usage or invalid input, with one line on stderr naming the field or flag.
 */
#include "hookctl.h"

#include "hk_inbound.h"
#include "hk_store.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_INGRESS "http://127.0.0.1:8090" /* HOOKD_INGRESS_LISTEN's default port */
#define SEND_RESPONSE_MAX (64 * 1024)           /* the reply's body shown, at most */
#define SEND_TIMEOUT_S 30L

static void inbound_usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl inbound create --file endpoint.json\n"
            "       hookctl inbound list\n"
            "       hookctl inbound get <id>\n"
            "       hookctl inbound update <id> --file endpoint.json\n"
            "       hookctl inbound delete <id>\n"
            "       hookctl inbound sign --source S --secret K --file body [--url U]\n"
            "       hookctl inbound send <id> --file body [--to URL] [--content-type T]\n"
            "       hookctl inbound wait <id> --ref R [--match 'PATH=VALUE']... [--ttl SECONDS]\n"
            "       hookctl inbound wait <id> --file wait.json\n"
            "       hookctl inbound wait <id> --list\n"
            "       hookctl inbound wait <id> --delete R\n"
            "       hookctl inbound requests <id>\n"
            "\n"
            "Manages hookd-ingress's inbound endpoints in Redis (HOOKD_REDIS_URL,\n"
            "HOOKD_REDIS_PREFIX). An endpoint is JSON (docs/inbound.md): name (unique), flowId,\n"
            "source (github, slack, stripe, twilio, pagerduty, zendesk, twitter, facebook,\n"
            "sendgrid, standard, hookd, custom), secret or secrets, verifyToken (facebook),\n"
            "publicKey (sendgrid), publicUrl, verification (custom), response, enabled,\n"
            "startFlow. id is generated (in_...) unless given. Every field is validated and the\n"
            "first refusal names it. Providers post to /in/<id> on hookd-ingress.\n"
            "\n"
            "create   stores a new endpoint, unverified; prints it with its id.\n"
            "list     every endpoint: ID NAME SOURCE FLOW ENABLED VERIFIED.\n"
            "get      one endpoint, secrets masked (****abcd), with its state: verified and\n"
            "         stateChangedAt (hookd-ingress verifies an endpoint with the first request\n"
            "         that passes, or the challenge answered for slack, facebook, twitter), and\n"
            "         liveWaits, how many waits on it are live (output only: update ignores it).\n"
            "update   replaces the endpoint with the file (fields left out take their defaults,\n"
            "         id and flowId stay); a masked secret keeps the stored one, so get --json,\n"
            "         edit and update does not lose it. The state is kept.\n"
            "delete   removes it; hookd-ingress answers 404 for it from then on.\n"
            "sign     prints the headers the provider S would send with the body, signed with\n"
            "         K now, one 'Name: value' a line (--json: an object). twilio signs --url\n"
            "         (required for it); sendgrid (a private key) and custom cannot be signed.\n"
            "send     signs the body as the endpoint's source would, with its first secret,\n"
            "         and POSTs it to --to (default " DEFAULT_INGRESS "/in/<id>) with\n"
            "         Content-Type T (default application/json); prints the status and the\n"
            "         reply. Exit 0 on 2xx, 1 otherwise.\n"
            "wait     registers a wait: a flow waiting for a webhook on endpoint <id>. The\n"
            "         first accepted request to <id> whose payload matches claims it, exactly\n"
            "         once (one request, even with several hookd-ingress replicas), and that\n"
            "         request's record on the inbound topic lists the wait's ref R in\n"
            "         matchedWaits: R is the flow's own name for the wait (run-42/wait-1).\n"
            "         --match 'PATH=VALUE' (repeatable, at most %d; all must hold): PATH is a\n"
            "         JSON path into the payload: $, .name, ['name'], [\"name\"], [n] (n < 0\n"
            "         from the end), e.g. $.event.type or $['a=b'][0]; the first '=' outside\n"
            "         the path's quoted names ends it. VALUE is JSON when it parses as JSON\n"
            "         (3, true, null, \"3\", {\"a\":1}), else the string as written (message);\n"
            "         values compare as JSON (3 equals 3.0; \"3\" does not). No --match: any\n"
            "         request to <id> matches. --ttl: seconds until it expires unclaimed\n"
            "         (default %d, at most %d); an expired wait is gone, never\n"
            "         listed or claimed. The same R again replaces the wait (its matches and\n"
            "         TTL anew). An endpoint takes waits on at most %d different sets of\n"
            "         paths; deleting it deletes its waits.\n"
            "         --file: the wait as JSON: {\"ref\": R, \"matches\": {PATH: VALUE, ...},\n"
            "         \"ttlSeconds\": N}. --list: the live waits, soonest to expire first:\n"
            "         REF EXPIRES MATCHES (--json: an array). --delete R: removes one.\n"
            "requests what hookd-ingress answered the endpoint's last %d requests, newest\n"
            "         first: AT METHOD STATUS OUTCOME REASON EVENT (accepted, duplicate,\n"
            "         challenge, rejected with its reason, malformed, too_large,\n"
            "         unavailable); --json adds the detail (what was wrong, naming the header),\n"
            "         the size and the latency. Never a header or a body. Kept for 7 days.\n"
            "\n"
            "--file - reads standard input. --json prints JSON instead of tables and fields.\n"
            "Exit status: 0 ok, 1 not found or runtime failure, 2 invalid input or usage.\n"
            "\n"
            "Examples:\n"
            "  hookctl inbound create --file github.json\n"
            "  hookctl inbound get in_3f9c1a0b7d2e4c5f6a8b9c0d --json > e.json\n"
            "  hookctl inbound update in_3f9c1a0b7d2e4c5f6a8b9c0d --file e.json\n"
            "  hookctl inbound sign --source github --secret \"$SECRET\" --file push.json\n"
            "  hookctl inbound send in_3f9c1a0b7d2e4c5f6a8b9c0d --file push.json\n"
            "  hookctl inbound wait in_3f9c1a0b7d2e4c5f6a8b9c0d --ref run-42/wait-1 \\\n"
            "      --match '$.event.type=message' --match '$.event.user=U42' --ttl 3600\n"
            "  hookctl inbound wait in_3f9c1a0b7d2e4c5f6a8b9c0d --list\n"
            "  hookctl inbound wait in_3f9c1a0b7d2e4c5f6a8b9c0d --delete run-42/wait-1\n"
            "  hookctl inbound requests in_3f9c1a0b7d2e4c5f6a8b9c0d\n",
            HK_WAIT_MATCHES_MAX, HK_WAIT_TTL_DEFAULT_S, HK_WAIT_TTL_MAX_S, HK_WAIT_SHAPES_MAX,
            HK_STORE_RECENT_KEEP);
}

/* The flags taking a value, by index into inbound_opts.value; which verbs take each. */
enum {
    OPT_FILE,
    OPT_SOURCE,
    OPT_SECRET,
    OPT_URL,
    OPT_TO,
    OPT_CONTENT_TYPE,
    OPT_REF,
    OPT_MATCH,
    OPT_TTL,
    OPT_LIST,
    OPT_DELETE,
    OPT__COUNT
};
#define OPT_BASE 0x100 /* an option's val: OPT_BASE + its index (no character clashes) */
static const struct option inbound_flag_table[] = {
    {"file", required_argument, NULL, OPT_BASE + OPT_FILE},
    {"source", required_argument, NULL, OPT_BASE + OPT_SOURCE},
    {"secret", required_argument, NULL, OPT_BASE + OPT_SECRET},
    {"url", required_argument, NULL, OPT_BASE + OPT_URL},
    {"to", required_argument, NULL, OPT_BASE + OPT_TO},
    {"content-type", required_argument, NULL, OPT_BASE + OPT_CONTENT_TYPE},
    {"ref", required_argument, NULL, OPT_BASE + OPT_REF},
    {"match", required_argument, NULL, OPT_BASE + OPT_MATCH},
    {"ttl", required_argument, NULL, OPT_BASE + OPT_TTL},
    {"list", no_argument, NULL, OPT_BASE + OPT_LIST},
    {"delete", required_argument, NULL, OPT_BASE + OPT_DELETE},
    {"help", no_argument, NULL, 'h'},
    {0},
};
static const char *const flag_verbs[OPT__COUNT] = {
    [OPT_FILE] = " create update sign send wait ",
    [OPT_SOURCE] = " sign ",
    [OPT_SECRET] = " sign ",
    [OPT_URL] = " sign ",
    [OPT_TO] = " send ",
    [OPT_CONTENT_TYPE] = " send ",
    [OPT_REF] = " wait ",
    [OPT_MATCH] = " wait ",
    [OPT_TTL] = " wait ",
    [OPT_LIST] = " wait ",
    [OPT_DELETE] = " wait ",
};

/* What `hookctl inbound <verb>`'s flags gave. */
typedef struct {
    const char *id;
    const char *value[OPT__COUNT];            /* NULL: not given; "" for --list */
    const char *matches[HK_WAIT_MATCHES_MAX]; /* each --match, in order */
    size_t matches_len;
} inbound_opts;

/* Reads the flags after the verb into o, refusing one the verb has no use for: -1 to go on,
 * else the exit code (0 after --help, 2 on bad usage). */
static int inbound_flags(int argc, char **argv, const char *verb, inbound_opts *o)
{
    hk_cmd_args args = {.argc = argc - 1, .argv = argv + 1, .flags = inbound_flag_table};
    for (int c; (c = hk_cmd_next(&args)) != -1;) {
        if (c == 'h') {
            inbound_usage(stdout);
            return 0;
        }
        if (c < OPT_BASE || c >= OPT_BASE + OPT__COUNT) {
            if (hk_ctl_other_flag(&args, c, &o->id, "hookctl inbound --help") >= 0)
                return 2;
            continue;
        }
        char padded[16];
        snprintf(padded, sizeof padded, " %s ", verb);
        if (!strstr(flag_verbs[c - OPT_BASE], padded)) {
            fprintf(stderr,
                    "hookctl: --%s: not a flag of 'inbound %s' (see hookctl inbound --help)\n",
                    inbound_flag_table[c - OPT_BASE].name, verb);
            return 2;
        }
        if (c - OPT_BASE == OPT_MATCH && o->matches_len == HK_WAIT_MATCHES_MAX) {
            fprintf(stderr, "hookctl: --match: at most %d per wait\n", HK_WAIT_MATCHES_MAX);
            return 2;
        }
        if (c - OPT_BASE == OPT_MATCH)
            o->matches[o->matches_len++] = args.value;
        o->value[c - OPT_BASE] = args.value ? args.value : "";
    }
    return -1;
}

/* One endpoint as JSON (--json) or a field list after a headline: shown, hk_cmd_inbound_json's
 * form (secrets masked, liveWaits), taken and freed. */
static void print_endpoint(cJSON *shown, const char *id, const char *headline)
{
    char line[256];
    if (headline)
        snprintf(line, sizeof line, "%s %s: providers post to /in/%s on hookd-ingress", headline,
                 id, id);
    hk_ctl_print_one(shown, headline ? line : NULL);
}

/* The endpoints' JSON (masked, with their state; from Redis or the API: one printer). */
static void print_endpoints(const cJSON *arr)
{
    if (hk_cmd_json) {
        hk_print_json(arr);
        return;
    }
    static const char *const head[] = {"ID", "NAME", "SOURCE", "FLOW", "ENABLED", "VERIFIED"};
    hk_table *t = hk_table_new(head, 6);
    const cJSON *ep;
    cJSON_ArrayForEach(ep, arr)
    {
        const char *row[] = {
            hk_ctl_str(ep, "id"),
            hk_ctl_str(ep, "name"),
            hk_ctl_str(ep, "source"),
            hk_ctl_str(ep, "flowId"),
            cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ep, "enabled")) ? "no" : "yes",
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ep, "verified")) ? "yes" : "no"};
        hk_table_row(t, row);
    }
    hk_table_print(t, stdout);
    int n = cJSON_GetArraySize(arr);
    printf("%d inbound endpoint%s\n", n, n == 1 ? "" : "s");
}

static int inbound_list(hk_store *store, hk_error *err)
{
    hk_inbound_endpoint **eps = NULL;
    size_t n = 0;
    int rc = hk_cmd_inbound_list(store, &eps, &n, err);
    if (rc != HK_OK)
        return rc;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, hk_inbound_endpoint_to_json(eps[i], false));
    print_endpoints(arr);
    cJSON_Delete(arr);
    hk_cmd_inbound_list_free(eps, n);
    return HK_OK;
}

/* create, update, get, delete or list through the admin API, printed as inbound_apply prints. */
static int inbound_api(const char *verb, const char *id, const cJSON *input, const hk_config *cfg)
{
    cJSON *out = NULL;
    hk_buf path = {0};
    int status;
    bool is_create = strcmp(verb, "create") == 0, is_update = strcmp(verb, "update") == 0;
    if (strcmp(verb, "list") == 0) {
        cJSON *first = NULL;
        if (!(status = hk_ctl_api_list(cfg, "/v1/inbound", &out, &first)))
            print_endpoints(out);
        cJSON_Delete(first);
    } else if (is_create) {
        if (!(status = hk_ctl_api(cfg, "POST", "/v1/inbound", input, &out))) {
            char *made = hk_strdup(hk_ctl_str(out, "id"));
            print_endpoint(out, made, "created");
            free(made);
            out = NULL;
        }
    } else {
        hk_buf_printf(&path, "/v1/inbound/%s", id); /* validated: [A-Za-z0-9_-] */
        bool is_delete = strcmp(verb, "delete") == 0;
        status = hk_ctl_api(cfg,
                            is_update   ? "PUT"
                            : is_delete ? "DELETE"
                                        : "GET",
                            path.data, input, &out);
        if (!status && is_delete) {
            hk_ctl_print_deleted(id);
        } else if (!status) {
            print_endpoint(out, id, is_update ? "updated" : NULL);
            out = NULL;
        }
    }
    cJSON_Delete(out);
    hk_buf_free(&path);
    return status;
}

/* create, update, get, delete or list against the store, printing the result. */
static int inbound_apply(hk_store *store, const char *verb, const char *id, const cJSON *input,
                         hk_error *err)
{
    hk_inbound_endpoint *ep = NULL;
    cJSON *shown = NULL;
    int rc;
    if (strcmp(verb, "create") == 0) {
        if ((rc = hk_cmd_inbound_create(store, input, &ep, NULL, err)) == HK_OK)
            print_endpoint(hk_cmd_inbound_json(ep, 0), ep->id, "created");
    } else if (strcmp(verb, "update") == 0) {
        rc = hk_cmd_inbound_update(store, id, input, HK_INBOUND_REPLACE, &ep, NULL, err);
        if (rc == HK_OK && (rc = hk_cmd_inbound_show(store, ep, &shown, err)) == HK_OK)
            print_endpoint(shown, ep->id, "updated");
    } else if (strcmp(verb, "get") == 0) {
        if ((rc = hk_cmd_inbound_get(store, id, &ep, err)) == HK_OK &&
            (rc = hk_cmd_inbound_show(store, ep, &shown, err)) == HK_OK)
            print_endpoint(shown, ep->id, NULL);
    } else if (strcmp(verb, "delete") == 0) {
        if ((rc = hk_store_inbound_delete(store, id, err)) == HK_OK)
            hk_ctl_print_deleted(id);
    } else {
        rc = inbound_list(store, err);
    }
    hk_inbound_endpoint_destroy(ep);
    return rc;
}

static int inbound_crud(const char *verb, const inbound_opts *o, const hk_config *cfg)
{
    bool is_create = !strcmp(verb, "create"), is_update = !strcmp(verb, "update");
    bool is_list = !strcmp(verb, "list");
    if ((is_create || is_update) && !o->value[OPT_FILE])
        return hk_ctl_fail(2, "--file: required");
    if (!is_create && !is_list && !o->id)
        return hk_ctl_fail(2, "<id>: required");
    if ((is_create || is_list) && o->id) {
        fprintf(stderr, "hookctl: %s: unexpected argument\n", o->id);
        return 2;
    }
    hk_error bad = {0};
    if (o->id && hk_inbound_validate_id(o->id, "<id>", &bad) != HK_OK)
        return hk_ctl_fail(2, bad.msg);
    cJSON *input = NULL;
    if ((is_create || is_update) &&
        hk_cmd_load_json(o->value[OPT_FILE], "--file", &input, &bad) != HK_OK)
        return hk_ctl_fail(2, bad.msg);
    if (hk_ctl_api_on(cfg)) {
        int status = inbound_api(verb, o->id, input, cfg);
        cJSON_Delete(input);
        return status;
    }
    hk_store *store = NULL;
    int status = hk_ctl_open_store(cfg, &store);
    if (status) {
        cJSON_Delete(input);
        return status;
    }
    hk_error err = {0};
    int rc = inbound_apply(store, verb, o->id, input, &err);
    cJSON_Delete(input);
    hk_store_close(store);
    return rc == HK_OK ? 0 : hk_ctl_fail(hk_ctl_status(rc), err.msg);
}

/* --------------------------------------------------------------------- recent requests --- */

static void print_requests(const cJSON *arr)
{
    if (hk_cmd_json) {
        hk_print_json(arr);
        return;
    }
    static const char *const head[] = {"AT", "METHOD", "STATUS", "OUTCOME", "REASON", "EVENT"};
    hk_table *t = hk_table_new(head, 6);
    const cJSON *q;
    cJSON_ArrayForEach(q, arr)
    {
        char status[16];
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(q, "status");
        snprintf(status, sizeof status, "%d", cJSON_IsNumber(st) ? st->valueint : 0);
        const char *row[] = {
            hk_ctl_str(q, "at"),      hk_ctl_str(q, "method"), status,
            hk_ctl_str(q, "outcome"), hk_ctl_str(q, "reason"), hk_ctl_str(q, "eventId")};
        hk_table_row(t, row);
    }
    hk_table_print(t, stdout);
    int n = cJSON_GetArraySize(arr);
    printf("%d recent request%s (--json for each one's detail)\n", n, n == 1 ? "" : "s");
}

/* requests <id>: from Redis, or GET /v1/inbound/{id}/requests; one printer. */
static int inbound_requests(const inbound_opts *o, const hk_config *cfg)
{
    if (!o->id)
        return hk_ctl_fail(2, "<id>: required");
    hk_error bad = {0};
    if (hk_inbound_validate_id(o->id, "<id>", &bad) != HK_OK)
        return hk_ctl_fail(2, bad.msg);
    cJSON *arr = NULL;
    if (hk_ctl_api_on(cfg)) {
        hk_buf path = {0};
        hk_buf_printf(&path, "/v1/inbound/%s/requests", o->id); /* validated: [A-Za-z0-9_-] */
        cJSON *first = NULL;
        int status = hk_ctl_api_list(cfg, path.data, &arr, &first);
        hk_buf_free(&path);
        cJSON_Delete(first);
        if (status)
            return status;
    } else {
        hk_store *store = NULL;
        int status = hk_ctl_open_store(cfg, &store);
        if (status)
            return status;
        hk_error err = {0};
        int rc = hk_cmd_inbound_requests(store, o->id, &arr, &err);
        hk_store_close(store);
        if (rc != HK_OK)
            return hk_ctl_fail(hk_ctl_status(rc), err.msg);
    }
    print_requests(arr);
    cJSON_Delete(arr);
    return 0;
}

/* ---------------------------------------------------------------------------- signing --- */

/* A signer's refusal without its field's name in front (the signer names it, at times twice). */
static const char *sign_detail(const hk_error *e)
{
    size_t n = strlen(e->field);
    const char *msg = e->msg;
    while (n && strncmp(msg, e->field, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
        msg += n + 2;
    return msg;
}

/* A signer's refusal, its field ("source", "secret", "url") named as the flag that gave it. */
static int fail_flag(const hk_error *e)
{
    if (e->field[0])
        fprintf(stderr, "hookctl: --%s: %s\n", e->field, sign_detail(e));
    else
        fprintf(stderr, "hookctl: %s\n", e->msg);
    return 2;
}

static void print_headers(const hk_kv *h, size_t n)
{
    if (hk_cmd_json) {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0; i < n; i++)
            cJSON_AddStringToObject(o, h[i].key, h[i].value);
        hk_print_json(o);
        cJSON_Delete(o);
        return;
    }
    for (size_t i = 0; i < n; i++)
        printf("%s: %s\n", h[i].key, h[i].value);
}

static int inbound_sign(const inbound_opts *o)
{
    if (o->id) {
        fprintf(stderr, "hookctl: %s: unexpected argument\n", o->id);
        return 2;
    }
    if (!o->value[OPT_SOURCE])
        return hk_ctl_fail(2, "--source: required");
    hk_inbound_source source;
    if (!hk_inbound_source_from_name(o->value[OPT_SOURCE], &source))
        return hk_ctl_fail(2,
                           "--source: must be github, slack, stripe, twilio, pagerduty, zendesk, "
                           "twitter, facebook, standard or hookd");
    if (!o->value[OPT_FILE])
        return hk_ctl_fail(2, "--file: required (the body to sign; - reads standard input)");
    hk_buf body = {0};
    if (hk_cmd_read_file(o->value[OPT_FILE], &body) != HK_OK) {
        fprintf(stderr, "hookctl: --file: cannot read %s\n", o->value[OPT_FILE]);
        return 2;
    }
    hk_kv *h = NULL;
    size_t n = 0;
    hk_error err = {0};
    int rc = hk_inbound_sign(source, o->value[OPT_SECRET], body.data, body.len, hk_wall_ms(),
                             o->value[OPT_URL], &h, &n, &err);
    hk_buf_free(&body);
    if (rc != HK_OK)
        return rc == HK_EINVAL ? fail_flag(&err) : hk_ctl_fail(1, err.msg);
    print_headers(h, n);
    hk_kv_free(h, n);
    return 0;
}

/* ---------------------------------------------------------------------------- sending --- */

typedef struct {
    hk_buf body;
    bool truncated;
} reply_buf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    reply_buf *r = arg;
    size_t len = size * nmemb, room = SEND_RESPONSE_MAX - r->body.len;
    if (len > room)
        r->truncated = true;
    hk_buf_append(&r->body, data, len < room ? len : room);
    return len;
}

/* POSTs body to url with the signed headers; prints the outcome. Returns the exit status. */
static int post(const char *url, const char *content_type, const hk_buf *body, const hk_kv *h,
                size_t n)
{
    CURL *easy = curl_easy_init();
    if (!easy)
        return hk_ctl_fail(1, "libcurl: cannot start a transfer");
    struct curl_slist *list = NULL;
    hk_buf line = {0};
    hk_buf_printf(&line, "Content-Type: %s", content_type);
    list = curl_slist_append(list, line.data);
    list = curl_slist_append(list, "Expect:"); /* no 100-continue round trip */
    for (size_t i = 0; i < n; i++) {
        line.len = 0;
        hk_buf_printf(&line, "%s: %s", h[i].key, h[i].value);
        list = curl_slist_append(list, line.data);
    }
    hk_buf_free(&line);
    reply_buf reply = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body->data ? body->data : "");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT, SEND_TIMEOUT_S);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(easy);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    curl_easy_cleanup(easy);
    int exit_status;
    if (cc != CURLE_OK) {
        fprintf(stderr, "hookctl: POST %s: %s\n", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        exit_status = 1;
    } else {
        if (hk_cmd_json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "url", url);
            cJSON_AddNumberToObject(o, "statusCode", (double)status);
            cJSON_AddStringToObject(o, "response", reply.body.data ? reply.body.data : "");
            cJSON_AddBoolToObject(o, "responseTruncated", reply.truncated);
            hk_print_json(o);
            cJSON_Delete(o);
        } else {
            printf("HTTP %ld from %s\n", status, url);
            if (reply.body.len)
                printf("%s%s\n", reply.body.data, reply.truncated ? "\n(first 64 KiB)" : "");
        }
        exit_status = status >= 200 && status < 300 ? 0 : 1;
    }
    hk_buf_free(&reply.body);
    return exit_status;
}

/* Twilio posts a body that is no form to the URL with bodySHA256=<hex SHA-256 of the body> in
 * its query, and signs that URL: so does send, to the URL it posts to and the one it signs. */
static void twilio_body_hash(const hk_buf *body, hk_buf *url, hk_buf *signed_url)
{
    unsigned char digest[32];
    unsigned int len = sizeof digest;
    char hex[65];
    EVP_Digest(body->data ? body->data : "", body->len, digest, &len, EVP_sha256(), NULL);
    hk_hex(digest, sizeof digest, hex);
    hk_buf_printf(url, "%sbodySHA256=%s", strchr(url->data, '?') ? "&" : "?", hex);
    hk_buf_printf(signed_url, "%sbodySHA256=%s", strchr(signed_url->data, '?') ? "&" : "?", hex);
}

static int inbound_send(const inbound_opts *o, const hk_config *cfg)
{
    if (!o->id)
        return hk_ctl_fail(2, "<id>: required");
    hk_error err = {0};
    if (hk_inbound_validate_id(o->id, "<id>", &err) != HK_OK)
        return hk_ctl_fail(2, err.msg);
    if (!o->value[OPT_FILE])
        return hk_ctl_fail(2, "--file: required (the body to send; - reads standard input)");
    if (o->value[OPT_TO] && hk_validate_url(o->value[OPT_TO], "--to", &err) != HK_OK)
        return hk_ctl_fail(2, err.msg);
    const char *content_type =
        o->value[OPT_CONTENT_TYPE] ? o->value[OPT_CONTENT_TYPE] : "application/json";
    if (hk_validate_header("Content-Type", content_type, "--content-type", &err) != HK_OK)
        return hk_ctl_fail(2, err.msg);
    hk_buf body = {0};
    if (hk_cmd_read_file(o->value[OPT_FILE], &body) != HK_OK) {
        fprintf(stderr, "hookctl: --file: cannot read %s\n", o->value[OPT_FILE]);
        return 2;
    }
    hk_store *store = NULL;
    int status = hk_ctl_open_store(cfg, &store);
    hk_inbound_endpoint *ep = NULL;
    int rc = status ? HK_ERR : hk_cmd_inbound_get(store, o->id, &ep, &err);
    hk_store_close(store);
    if (status || rc != HK_OK) {
        hk_buf_free(&body);
        return status ? status : hk_ctl_fail(hk_ctl_status(rc), err.msg);
    }
    hk_buf url = {0}, signed_url = {0};
    if (o->value[OPT_TO])
        hk_buf_puts(&url, o->value[OPT_TO]);
    else
        hk_buf_printf(&url, "%s/in/%s", DEFAULT_INGRESS, ep->id);
    /* Signed as the provider sees the URL: its publicUrl when set (twilio signs it). */
    hk_buf_puts(&signed_url, ep->public_url ? ep->public_url : url.data);
    if (ep->source == HK_SOURCE_TWILIO && hk_inbound_payload_kind(content_type) != HK_PAYLOAD_FORM)
        twilio_body_hash(&body, &url, &signed_url);
    hk_kv *h = NULL;
    size_t n = 0;
    rc = hk_inbound_sign(ep->source, ep->secrets_len ? ep->secrets[0] : NULL, body.data, body.len,
                         hk_wall_ms(), signed_url.data, &h, &n, &err);
    if (rc != HK_OK) {
        fprintf(stderr, "hookctl: %s: cannot sign as its provider: %s: %s\n", ep->id,
                err.field[0] ? err.field : "source", sign_detail(&err));
        status = 2;
    } else {
        status = post(url.data, content_type, &body, h, n);
    }
    hk_kv_free(h, n);
    hk_buf_free(&url);
    hk_buf_free(&signed_url);
    hk_buf_free(&body);
    hk_inbound_endpoint_destroy(ep);
    return status;
}

/* ------------------------------------------------------------------------------ waits --- */

/* The wait --ref, --match and --ttl describe, as the JSON --file would hold: 0 with *out, or
 * the exit status after a one-line error naming the flag. */
static int wait_from_flags(const inbound_opts *o, cJSON **out)
{
    *out = NULL;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "ref", o->value[OPT_REF]);
    cJSON *matches = cJSON_AddObjectToObject(doc, "matches");
    hk_error err = {0};
    for (size_t i = 0; i < o->matches_len; i++) {
        char *path = NULL;
        cJSON *value = NULL;
        if (hk_cmd_wait_match(o->matches[i], &path, &value, &err) != HK_OK) {
            cJSON_Delete(doc);
            return hk_ctl_fail(2, err.msg);
        }
        if (cJSON_GetObjectItemCaseSensitive(matches, path)) {
            fprintf(stderr, "hookctl: --match: the path %.200s is given twice\n", path);
            free(path);
            cJSON_Delete(value);
            cJSON_Delete(doc);
            return 2;
        }
        cJSON_AddItemToObject(matches, path, value);
        free(path);
    }
    const char *ttl = o->value[OPT_TTL];
    if (ttl) {
        char *end = NULL;
        errno = 0;
        long long n = strtoll(ttl, &end, 10);
        if (!*ttl || *end || errno) {
            cJSON_Delete(doc);
            fprintf(stderr, "hookctl: --ttl: must be a whole number of seconds, 1 to %d\n",
                    HK_WAIT_TTL_MAX_S);
            return 2;
        }
        cJSON_AddNumberToObject(doc, "ttlSeconds", (double)n);
    }
    *out = doc;
    return 0;
}

/* A call's failure: exit 1 (not found, Redis) or 2 (invalid, the limit). A field of a wait made
 * from flags is named by its flag (ref_flag: --ref or --delete), the message's own leading
 * "ref: " or "ttlSeconds: " then left out; a path stays named as matches["..."]. */
static int fail_wait(int rc, const hk_error *e, bool from_flags, const char *ref_flag)
{
    const char *flag = NULL;
    if (rc == HK_EINVAL && from_flags)
        flag = strncmp(e->field, "matches", 7) == 0  ? "--match"
               : strcmp(e->field, "ttlSeconds") == 0 ? "--ttl"
               : strcmp(e->field, "ref") == 0        ? ref_flag
                                                     : NULL;
    if (!flag)
        return hk_ctl_fail(hk_ctl_status(rc), e->msg);
    fprintf(stderr, "hookctl: %s: %s\n", flag,
            strcmp(flag, "--match") == 0 ? e->msg : sign_detail(e));
    return 2;
}

static void print_waits(const char *id, const cJSON *waits)
{
    if (hk_cmd_json) {
        hk_print_json(waits);
        return;
    }
    static const char *const head[] = {"REF", "EXPIRES", "MATCHES"};
    hk_table *t = hk_table_new(head, 3);
    const cJSON *w;
    cJSON_ArrayForEach(w, waits)
    {
        char *matches = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(w, "matches"));
        const char *row[] = {cJSON_GetObjectItemCaseSensitive(w, "ref")->valuestring,
                             cJSON_GetObjectItemCaseSensitive(w, "expiresAt")->valuestring,
                             matches};
        hk_table_row(t, row);
        free(matches);
    }
    hk_table_print(t, stdout);
    int n = cJSON_GetArraySize(waits);
    printf("%d live wait%s on %s\n", n, n == 1 ? "" : "s", id);
}

/* The wait verb through the admin API, printed as wait_apply prints. */
static int wait_api(const inbound_opts *o, const cJSON *doc, const hk_config *cfg)
{
    cJSON *out = NULL;
    hk_buf path = {0};
    hk_buf_printf(&path, "/v1/inbound/%s/waits", o->id); /* validated: [A-Za-z0-9_-] */
    int status;
    if (o->value[OPT_LIST]) {
        cJSON *first = NULL;
        if (!(status = hk_ctl_api_list(cfg, path.data, &out, &first)))
            print_waits(o->id, out);
        cJSON_Delete(first);
    } else if (o->value[OPT_DELETE]) {
        const char *ref = o->value[OPT_DELETE];
        char *escaped = hk_ctl_api_escape(ref);
        hk_buf_printf(&path, "/%s", escaped);
        free(escaped);
        if (!(status = hk_ctl_api(cfg, "DELETE", path.data, NULL, &out)) && hk_cmd_json) {
            out = cJSON_CreateObject();
            cJSON_AddStringToObject(out, "deleted", ref);
            cJSON_AddStringToObject(out, "endpointId", o->id);
            hk_print_json(out);
        } else if (!status) {
            printf("deleted wait %s on %s\n", ref, o->id);
        }
    } else if (!(status = hk_ctl_api(cfg, "POST", path.data, doc, &out))) {
        char line[HK_WAIT_REF_MAX + 160];
        snprintf(line, sizeof line, "%s wait %s on %s: the first request that matches claims it",
                 hk_ctl_api_last_status() == 201 ? "registered" : "replaced",
                 hk_ctl_str(out, "ref"), o->id);
        hk_ctl_print_one(out, line);
        out = NULL;
    }
    cJSON_Delete(out);
    hk_buf_free(&path);
    return status;
}

/* The wait verb against the store: list, delete or register (doc). */
static int wait_apply(hk_store *store, const inbound_opts *o, const cJSON *doc, hk_error *err)
{
    cJSON *out = NULL;
    int rc;
    if (o->value[OPT_LIST]) {
        if ((rc = hk_cmd_inbound_wait_list(store, o->id, &out, err)) == HK_OK)
            print_waits(o->id, out);
        cJSON_Delete(out);
    } else if (o->value[OPT_DELETE]) {
        const char *ref = o->value[OPT_DELETE];
        if ((rc = hk_cmd_inbound_wait_delete(store, o->id, ref, err)) == HK_OK && hk_cmd_json) {
            out = cJSON_CreateObject();
            cJSON_AddStringToObject(out, "deleted", ref);
            cJSON_AddStringToObject(out, "endpointId", o->id);
            hk_print_json(out);
            cJSON_Delete(out);
        } else if (rc == HK_OK) {
            printf("deleted wait %s on %s\n", ref, o->id);
        }
    } else {
        bool replaced = false;
        if ((rc = hk_cmd_inbound_wait_put(store, o->id, doc, &replaced, &out, err)) == HK_OK) {
            char line[HK_WAIT_REF_MAX + 160];
            snprintf(line, sizeof line,
                     "%s wait %s on %s: the first request that matches claims it",
                     replaced ? "replaced" : "registered",
                     cJSON_GetObjectItemCaseSensitive(out, "ref")->valuestring, o->id);
            hk_ctl_print_one(out, line);
        }
    }
    return rc;
}

static int inbound_wait(const inbound_opts *o, const hk_config *cfg)
{
    if (!o->id)
        return hk_ctl_fail(2, "<id>: required (the endpoint the flow waits on)");
    hk_error err = {0};
    if (hk_inbound_validate_id(o->id, "<id>", &err) != HK_OK)
        return hk_ctl_fail(2, err.msg);
    const char *file = o->value[OPT_FILE], *ref = o->value[OPT_REF];
    int modes = !!file + !!ref + !!o->value[OPT_LIST] + !!o->value[OPT_DELETE];
    if (modes == 0)
        return hk_ctl_fail(2, "--ref: required (or --file, --list or --delete; see hookctl "
                              "inbound --help)");
    if (modes > 1)
        return hk_ctl_fail(2, "--ref, --file, --list, --delete: one of them at a time");
    if (!ref && (o->matches_len || o->value[OPT_TTL]))
        return hk_ctl_fail(2, o->matches_len ? "--match: only with --ref (a --file holds its own)"
                                             : "--ttl: only with --ref (a --file holds its own)");
    cJSON *doc = NULL;
    int status = 0;
    if (file && hk_cmd_load_json(file, "--file", &doc, &err) != HK_OK)
        return hk_ctl_fail(2, err.msg);
    if (ref && (status = wait_from_flags(o, &doc)))
        return status;
    if (hk_ctl_api_on(cfg)) {
        status = wait_api(o, doc, cfg);
        cJSON_Delete(doc);
        return status;
    }
    hk_store *store = NULL;
    if ((status = hk_ctl_open_store(cfg, &store))) {
        cJSON_Delete(doc);
        return status;
    }
    int rc = wait_apply(store, o, doc, &err);
    cJSON_Delete(doc);
    hk_store_close(store);
    return rc == HK_OK ? 0 : fail_wait(rc, &err, !file, ref ? "--ref" : "--delete");
}

int hk_cmd_inbound(int argc, char **argv, const hk_config *cfg)
{
    int status =
        hk_ctl_verb(argc, argv, "inbound", "create list get update delete sign send wait requests",
                    inbound_usage);
    if (status >= 0)
        return status;
    const char *verb = argv[1];
    inbound_opts o = {0};
    if ((status = inbound_flags(argc, argv, verb, &o)) >= 0)
        return status;
    if (strcmp(verb, "sign") == 0)
        return inbound_sign(&o);
    if (strcmp(verb, "send") == 0) /* it signs with the endpoint's secret, which no API returns */
        return hk_ctl_api_on(cfg) ? hk_ctl_api_none("inbound send") : inbound_send(&o, cfg);
    if (strcmp(verb, "wait") == 0)
        return inbound_wait(&o, cfg);
    if (strcmp(verb, "requests") == 0)
        return inbound_requests(&o, cfg);
    return inbound_crud(verb, &o, cfg);
}
