/*
 * deliveries.c — `hookctl deliveries`: a job's recorded attempts (--job, with --detail what was
 * sent and what came back), and `deliveries resend <deliveryId>`: that delivery again now, as
 * its next attempt (hk_resend_*, the admin API's POST /v1/deliveries/{id}/resend).
 */
#include "hookctl.h"

#include <stdlib.h>
#include <string.h>

static void deliveries_usage(FILE *out)
{
    fprintf(out,
            "Usage: hookctl deliveries --job <jobId> [--detail]\n"
            "       hookctl deliveries resend <deliveryId> [--job <jobId>]\n\n"
            "--job prints the job's recorded delivery attempts (delivery id, task, attempt,\n"
            "result, status code, latency, error), newest first, from Redis (kept %d days, at\n"
            "most %d). --detail adds what was sent (the first 4 KiB of the body, unless\n"
            "HOOKD_HISTORY_BODIES=off) and what came back (the headers, credentials left out,\n"
            "and the first 1 KiB of the body); --json prints the records as JSON.\n\n"
            "resend sends one delivery again now: re-rendered from its event with the task as it\n"
            "is now, signed, with the same X-Webhook-Id, recorded as its next attempt. A delivery\n"
            "that failed at least once is found by its id; one delivered at once, with --job\n"
            "(its job, as --job lists it). Exit 1 if it fails or is not found (the event is kept\n"
            "%d days, up to %d KiB).\n\n"
            "Examples: hookctl deliveries --job 12345 --detail\n"
            "          hookctl deliveries resend msg_2f6c1d0e9b8a7f6e5d4c3b2a10 [--job 12345]\n",
            HK_STORE_HISTORY_TTL_S / 86400, HK_STORE_HISTORY_CAP, HK_STORE_HISTORY_TTL_S / 86400,
            HK_STORE_EVENT_KEEP_MAX / 1024);
}

/* Untrusted text (a receiver's answer) for a terminal: each line indented, control characters
 * other than tab shown as '.', so no escape sequence reaches the terminal. */
static void print_text(const char *indent, const char *s)
{
    fputs(indent, stdout);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n') {
            putchar('\n');
            if (s[1])
                fputs(indent, stdout);
        } else {
            putchar(c < 0x20 && c != '\t' ? '.' : c == 0x7f ? '.' : c);
        }
    }
    putchar('\n');
}

static void print_body(const char *what, const cJSON *part)
{
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "body"));
    const char *b64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(part, "bodyBase64"));
    bool cut = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part, "bodyTruncated"));
    if (text && *text) {
        printf("  %s%s:\n", what, cut ? " (cut)" : "");
        print_text("    ", text);
    } else if (b64) {
        printf("  %s (binary, base64%s):\n", what, cut ? ", cut" : "");
        print_text("    ", b64);
    }
}

/* One attempt's request and response, under its table row. */
static void print_detail(const cJSON *rec)
{
    hk_outcome_view o;
    hk_outcome_read(rec, &o);
    printf("%s  %s  attempt %d  %s  %s\n", o.at ? o.at : "-", o.delivery_id ? o.delivery_id : "-",
           o.attempt, o.webhook_id ? o.webhook_id : "-", o.status ? o.status : "-");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(rec, "request");
    const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(req, "bodyBytes");
    if (cJSON_IsNumber(bytes))
        printf("  sent: %.0f bytes%s\n", bytes->valuedouble,
               cJSON_GetObjectItemCaseSensitive(req, "body") ||
                       cJSON_GetObjectItemCaseSensitive(req, "bodyBase64")
                   ? ""
                   : " (body not kept)");
    print_body("request body", req);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(rec, "response");
    if (!res) {
        printf("  no response%s%s\n", o.error ? ": " : "", o.error ? o.error : "");
        return;
    }
    printf("  response: HTTP %ld\n", o.http_status);
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(res, "headers"))
    {
        char line[1024];
        snprintf(line, sizeof line, "%s: %s", h->string, cJSON_IsString(h) ? h->valuestring : "");
        print_text("    ", line);
    }
    print_body("response body", res);
}

/* The job's attempts, newest first: from Redis, or every page of GET /v1/jobs/{jobId}/deliveries
 * (the same records). 0 with *arr set, else the exit status after one line. */
static int fetch_job(const char *job, const hk_config *cfg, cJSON **arr)
{
    if (hk_ctl_api_on(cfg)) {
        char *id = hk_ctl_api_escape(job);
        hk_buf path = {0};
        hk_buf_printf(&path, "/v1/jobs/%s/deliveries", id);
        free(id);
        cJSON *first = NULL;
        int status = hk_ctl_api_list(cfg, path.data, arr, &first);
        cJSON_Delete(first);
        hk_buf_free(&path);
        return status;
    }
    hk_store *store = NULL;
    int status = hk_ctl_open_store(cfg, &store);
    if (status)
        return status;
    hk_error err = {0};
    int rc = hk_store_history_get(store, job, arr, &err);
    hk_store_close(store);
    return rc == HK_OK ? 0 : hk_ctl_fail(hk_ctl_status(rc), err.msg);
}

static int list_job(const char *job, bool detail, const hk_config *cfg)
{
    cJSON *arr = NULL;
    int status = fetch_job(job, cfg, &arr);
    if (status)
        return status;
    if (hk_cmd_json) {
        hk_print_json(arr);
    } else if (cJSON_GetArraySize(arr) == 0) {
        printf("no deliveries recorded for job %s (history is kept %d days)\n", job,
               HK_STORE_HISTORY_TTL_S / 86400);
    } else {
        static const char *const head[] = {"AT",     "DELIVERY", "WEBHOOK", "ATTEMPT",
                                           "RESULT", "STATUS",   "LATENCY", "ERROR"};
        hk_table *t = hk_table_new(head, 8);
        const cJSON *rec;
        cJSON_ArrayForEach(rec, arr)
        {
            hk_outcome_view o;
            hk_outcome_read(rec, &o);
            char attempt[16] = "-", status[24] = "-", latency[24] = "-";
            if (o.attempt >= 0)
                snprintf(attempt, sizeof attempt, "%d", o.attempt);
            if (o.http_status >= 0)
                snprintf(status, sizeof status, "%ld", o.http_status);
            if (o.latency_ms >= 0)
                snprintf(latency, sizeof latency, "%.0f ms", o.latency_ms);
            const char *row[] = {o.at,     o.delivery_id, o.webhook_id, attempt,
                                 o.status, status,        latency,      o.error};
            hk_table_row(t, row);
        }
        hk_table_print(t, stdout);
        if (detail) {
            cJSON_ArrayForEach(rec, arr)
            {
                putchar('\n');
                print_detail(rec);
            }
        }
    }
    cJSON_Delete(arr);
    return 0;
}

/* resend through the API: POST /v1/deliveries/{id}/resend [{"jobId"}]. */
static int resend_api(const char *id, const char *job, const hk_config *cfg)
{
    char *escaped = hk_ctl_api_escape(id);
    hk_buf path = {0};
    hk_buf_printf(&path, "/v1/deliveries/%s/resend", escaped);
    free(escaped);
    cJSON *body = NULL, *out = NULL;
    if (job) {
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "jobId", job);
    }
    int status = hk_ctl_api(cfg, "POST", path.data, body, &out);
    if (!status) {
        hk_test_result r;
        hk_ctl_api_test_result(out, &r);
        const char *webhook =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out, "webhookId"));
        hk_ctl_print_test(webhook ? webhook : "", &r);
        status = r.delivered ? 0 : 1;
    }
    cJSON_Delete(out);
    cJSON_Delete(body);
    hk_buf_free(&path);
    return status;
}

static int resend(const char *id, const char *job, const hk_config *cfg)
{
    if (!id)
        return hk_ctl_fail(2, "<deliveryId>: required (see hookctl deliveries --help)");
    if (hk_ctl_api_on(cfg))
        return resend_api(id, job, cfg);
    hk_store *store = NULL;
    int status = hk_ctl_open_store(cfg, &store);
    if (status)
        return status;
    hk_resend r;
    hk_test_result res;
    hk_error err = {0};
    int rc = hk_resend_prepare(store, id, job, &r, &err);
    if (rc == HK_OK && (rc = hk_resend_send(cfg, &r, &res, &err)) == HK_OK)
        rc = hk_resend_record(store, &r, &res, &err);
    hk_store_close(store);
    if (rc != HK_OK) {
        hk_resend_free(&r);
        return hk_ctl_fail(hk_ctl_status(rc), err.msg);
    }
    hk_ctl_print_test(r.task->id, &res);
    hk_resend_free(&r);
    return res.delivered ? 0 : 1;
}

int hk_cmd_deliveries(int argc, char **argv, const hk_config *cfg)
{
    bool is_resend = argc >= 2 && strcmp(argv[1], "resend") == 0;
    const char *job = NULL, *id = NULL;
    bool detail = false;
    static const struct option flags[] = {
        {"help", no_argument, NULL, 'h'},
        {"job", required_argument, NULL, 'j'},
        {"detail", no_argument, NULL, 'd'},
        {0},
    };
    hk_cmd_args args = {.argc = argc - is_resend, .argv = argv + is_resend, .flags = flags};
    for (int c; (c = hk_cmd_next(&args)) != -1;) {
        switch (c) {
        case 'h':
            deliveries_usage(stdout);
            return 0;
        case 'j':
            job = args.value;
            break;
        case 'd':
            detail = true;
            break;
        default: /* the delivery id (resend), an unknown flag, or --job last */
            if (is_resend && hk_ctl_other_flag(&args, c, &id, "hookctl deliveries --help") < 0)
                break;
            if (!is_resend)
                fprintf(stderr,
                        "hookctl: %s: unknown flag or missing value "
                        "(see hookctl deliveries --help)\n",
                        args.token);
            return 2;
        }
    }
    if (is_resend)
        return resend(id, job, cfg);
    if (!job)
        return hk_ctl_fail(2, "--job: required");
    return list_job(job, detail, cfg);
}
