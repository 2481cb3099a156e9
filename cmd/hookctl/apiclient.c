/*
 * apiclient.c — hookctl through the admin API (--api-url, HOOKD_API_URL): one libcurl call per
 * request, the bearer token from --api-token-file or HOOKD_API_TOKEN (its first entry), lists
 * followed page by page. The verbs print what they would print from Redis: the API answers the
 * same JSON the store's functions give (docs/api.md). An API error is one line with its code
 * and message. The token is never printed, not even in an error.
 */
#include "hookctl.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define API_TIMEOUT_S                                                                              \
    330L /* a test or a resend waits for the receiver (a task's timeout: 300 s at most) */

static long last_status; /* the last call's HTTP status (hookctl makes one call at a time) */

long hk_ctl_api_last_status(void)
{
    return last_status;
}

const char *hk_ctl_str(const cJSON *json, const char *name)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, name));
    return v ? v : "";
}

bool hk_ctl_api_on(const hk_config *cfg)
{
    return cfg->api_url && *cfg->api_url;
}

int hk_ctl_api_none(const char *verb)
{
    fprintf(stderr,
            "hookctl: %s: has no admin API route; run it without --api-url (HOOKD_API_URL), "
            "with Redis and Kafka access\n",
            verb);
    return 2;
}

/* The token to send: the file's (trailing newline dropped) or HOOKD_API_TOKEN's first entry,
 * trimmed. 0, or the exit status after a one-line error that never shows it. */
static int api_token(const hk_config *cfg, hk_buf *out)
{
    const char *text = cfg->api_token;
    hk_buf file = {0};
    if (cfg->api_token_file && *cfg->api_token_file) {
        if (hk_cmd_read_file(cfg->api_token_file, &file) != HK_OK)
            return hk_ctl_fail(2, "--api-token-file: cannot be read");
        text = file.data ? file.data : "";
    }
    if (!text)
        text = "";
    const char *b = text, *e = strchr(text, ',');
    if (!e)
        e = text + strlen(text);
    while (b < e && strchr(" \t\r\n", *b))
        b++;
    while (e > b && strchr(" \t\r\n", e[-1]))
        e--;
    if (b < e)
        hk_buf_append(out, b, (size_t)(e - b));
    if (file.data)
        OPENSSL_cleanse(file.data, file.len);
    hk_buf_free(&file);
    if (!out->len)
        return hk_ctl_fail(2, "--api-token: required with --api-url (or HOOKD_API_TOKEN, "
                              "--api-token-file)");
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    hk_buf_append(arg, data, size * n);
    return size * n;
}

/* Prints the API's error answer as one line: "hookctl: <code>: <message>" (an import's bad
 * entries first, one line each), and returns the exit status: 2 for what the caller can fix
 * (400, 409, 413), else 1. */
static int api_error(long status, const char *text, size_t len)
{
    cJSON *doc = cJSON_ParseWithLength(text, len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(e, "details"))
    {
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "message"));
        if (m)
            fprintf(stderr, "hookctl: %s\n", m);
    }
    if (code && msg)
        fprintf(stderr, "hookctl: %s: %s\n", code, msg);
    else
        fprintf(stderr, "hookctl: the admin API answered HTTP %ld without an error body\n", status);
    cJSON_Delete(doc);
    return status == 400 || status == 409 || status == 413 ? 2 : 1;
}

int hk_ctl_api(const hk_config *cfg, const char *method, const char *path, const cJSON *body,
               cJSON **out)
{
    *out = NULL;
    const char *base = cfg->api_url;
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return hk_ctl_fail(2, "--api-url: must start with http:// or https://");
    hk_buf token = {0}, auth = {0}, url = {0}, answer = {0};
    int status = api_token(cfg, &token);
    if (status)
        return status;
    size_t base_len = strlen(base);
    while (base_len && base[base_len - 1] == '/')
        base_len--;
    hk_buf_append(&url, base, base_len);
    hk_buf_puts(&url, path);
    hk_buf_puts(&auth, "Authorization: Bearer ");
    hk_buf_append(&auth, token.data, token.len);
    OPENSSL_cleanse(token.data, token.len);
    hk_buf_free(&token);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = curl_slist_append(NULL, auth.data);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    CURL *easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url.data);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT, API_TIMEOUT_S);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer);
    char user_agent[64];
    snprintf(user_agent, sizeof user_agent, "hookctl/%s", HK_VERSION);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent);
    if (text) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    }
    CURLcode cc = curl_easy_perform(easy);
    long http = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http);
    last_status = http;
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    OPENSSL_cleanse(auth.data, auth.len);
    hk_buf_free(&auth);
    if (text) /* may hold a secret (a task, a rotation) */
        OPENSSL_cleanse(text, strlen(text));
    free(text);
    if (cc != CURLE_OK) {
        /* the URL is the operator's (no token in it); curl's own words say what failed */
        fprintf(stderr, "hookctl: --api-url: %s %s: %s\n", method, url.data,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));
        status = 1;
    } else if (http < 200 || http > 299) {
        status = api_error(http, answer.data ? answer.data : "", answer.len);
    } else if (answer.len && !(*out = cJSON_ParseWithLength(answer.data, answer.len))) {
        fprintf(stderr, "hookctl: --api-url: %s %s: the answer is not JSON\n", method, url.data);
        status = 1;
    }
    hk_buf_free(&url);
    hk_buf_free(&answer);
    return status;
}

char *hk_ctl_api_escape(const char *segment)
{
    CURL *easy = curl_easy_init();
    char *escaped = curl_easy_escape(easy, segment, 0);
    char *copy = hk_strdup(escaped ? escaped : "");
    curl_free(escaped);
    curl_easy_cleanup(easy);
    return copy;
}

int hk_ctl_api_list(const hk_config *cfg, const char *path, cJSON **items, cJSON **first)
{
    *items = cJSON_CreateArray();
    *first = NULL;
    char *iterator = NULL;
    for (;;) {
        hk_buf page = {0};
        hk_buf_printf(&page, "%s%climit=250%s%s", path, strchr(path, '?') ? '&' : '?',
                      iterator ? "&iterator=" : "", iterator ? iterator : "");
        free(iterator);
        iterator = NULL;
        cJSON *doc = NULL;
        int status = hk_ctl_api(cfg, "GET", page.data, NULL, &doc);
        hk_buf_free(&page);
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");
        if (!status && !cJSON_IsArray(data)) {
            fprintf(stderr, "hookctl: --api-url: GET %s: the answer is not a list page\n", path);
            status = 1;
        }
        if (status) {
            cJSON_Delete(doc);
            cJSON_Delete(*items);
            cJSON_Delete(*first);
            *items = *first = NULL;
            return status;
        }
        cJSON *item;
        while ((item = cJSON_DetachItemFromArray((cJSON *)data, 0)))
            cJSON_AddItemToArray(*items, item);
        const char *next = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "iterator"));
        bool done = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "done")) || !next;
        if (!done)
            iterator = hk_ctl_api_escape(next);
        if (!*first)
            *first = doc;
        else
            cJSON_Delete(doc);
        if (done)
            return 0;
    }
}

/* The result of POST .../test or .../resend back into the form hk_ctl_print_test prints. */
void hk_ctl_api_test_result(const cJSON *json, hk_test_result *r)
{
    memset(r, 0, sizeof *r);
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "status"));
    r->delivered = status && strcmp(status, "delivered") == 0;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(json, "statusCode");
    r->http_status = cJSON_IsNumber(code) ? (long)code->valuedouble : 0;
    const cJSON *latency = cJSON_GetObjectItemCaseSensitive(json, "latencyMs");
    r->latency_ms = cJSON_IsNumber(latency) ? (uint64_t)latency->valuedouble : 0;
    const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(json, "attempt");
    r->attempt = cJSON_IsNumber(attempt) ? attempt->valueint : 0;
    const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "error"));
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "deliveryId"));
    snprintf(r->delivery_id, sizeof r->delivery_id, "%s", id ? id : "");
    const char *resp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "response"));
    r->response_len = resp ? strlen(resp) : 0;
    if (r->response_len > HK_TEST_RESPONSE_MAX)
        r->response_len = HK_TEST_RESPONSE_MAX;
    if (resp)
        memcpy(r->response, resp, r->response_len);
    r->response_truncated =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "responseTruncated"));
}
