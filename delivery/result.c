/*
 * result.c — what comes back from a transfer: the first HK_DELIVERY_MAX_RESPONSE bytes of the
 * body, the Retry-After header and the final response's headers without credentials (for the
 * history), captured by curl's callbacks, the refused address when the
 * SSRF guard stopped it, and the one place its result is classified:
 * hk_delivery__classify(), called from hk_delivery__finish_transfer(), gives its status and
 * failure kind (hk_failure_kind); what follows is decided in retry/ (hk_retry_decide).
 */
#include "engine_internal.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

size_t hk_delivery__on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    transfer *t = userdata;
    size_t n = size * nmemb;
    /* Keep reading past the cap so the connection stays reusable; just stop storing. */
    if (t->response.len < HK_DELIVERY_MAX_RESPONSE) {
        size_t room = HK_DELIVERY_MAX_RESPONSE - t->response.len;
        hk_buf_append(&t->response, ptr, n < room ? n : room);
    }
    return n;
}

bool hk_header_is_credential(const char *name, size_t len)
{
    static const char *const names[] = {"authorization", "proxy-authorization", "cookie",
                                        "set-cookie",    "x-api-key",           "x-auth-token"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && strncasecmp(name, names[i], len) == 0)
            return true;
    return false;
}

/* Keeps one header line (without its CR LF) for the history, unless it carries credentials or
 * would not fit whole. A status line starts a response: a 100 Continue's headers are
 * forgotten, so only the final response's stay. */
static void keep_header(transfer *t, const char *line, size_t n)
{
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        t->headers_in_len = 0;
        return;
    }
    const char *colon = memchr(line, ':', n);
    if (!colon || colon == line || hk_header_is_credential(line, (size_t)(colon - line)))
        return;
    if (t->headers_in_len + n + 1 > sizeof t->headers_in)
        return;
    memcpy(t->headers_in + t->headers_in_len, line, n);
    t->headers_in_len += n;
    t->headers_in[t->headers_in_len++] = '\n';
}

size_t hk_delivery__on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    transfer *t = userdata;
    size_t n = size * nitems;
    size_t line = n;
    while (line && (buf[line - 1] == '\r' || buf[line - 1] == '\n'))
        line--;
    if (line)
        keep_header(t, buf, line);
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
        const char *v = buf + sizeof name - 1;
        size_t vlen = n - (sizeof name - 1);
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        if (vlen >= sizeof t->retry_after)
            vlen = sizeof t->retry_after - 1;
        memcpy(t->retry_after, v, vlen);
        t->retry_after[vlen] = '\0';
    }
    return n;
}

void hk_delivery__address_text(const struct sockaddr *sa, char ip[INET6_ADDRSTRLEN])
{
    strcpy(ip, "?");
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, INET6_ADDRSTRLEN);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, INET6_ADDRSTRLEN);
}

/* "<address> (<reason>)", which hk_delivery__classify() turns into "blocked address ...". */
void hk_delivery__describe_blocked(transfer *t, const struct sockaddr *sa, const char *reason)
{
    char ip[INET6_ADDRSTRLEN];
    hk_delivery__address_text(sa, ip);
    snprintf(t->blocked, sizeof t->blocked, "%s (%s)", ip, reason);
}

/* What became of a transfer: its status for the engine's caller and why it failed
 * (hk_failure_kind); the retry decision (retry/) makes the verdict from these. */
void hk_delivery__classify(transfer *t, CURLcode code, hk_delivery_result *res)
{
    memset(res, 0, sizeof *res);
    res->response_headers = t->headers_in;
    res->request_body = t->req ? t->req->body : NULL;
    res->request_body_len = t->req && t->req->body ? t->req->body_len : 0;
    if (t->early_error) {
        res->status = t->early_status;
        res->failure = t->early_status == HK_DELIVERY_ERROR   ? HK_FAIL_INVALID
                       : t->early_status == HK_DELIVERY_RETRY ? HK_FAIL_NETWORK
                                                              : HK_FAIL_NONE;
        snprintf(res->error, sizeof res->error, "%s", t->early_error);
        return;
    }
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &res->http_status);
    res->latency_ms = hk_now_ms() - t->started_ms;
    res->response = t->response.data ? t->response.data : "";
    res->response_len = t->response.len;
    res->retry_after = t->retry_after[0] ? t->retry_after : NULL;
    res->response_headers_len = t->headers_in_len;
    if (code == CURLE_OK) {
        if (res->http_status >= 200 && res->http_status < 300) {
            res->status = HK_DELIVERY_OK;
        } else {
            res->status = HK_DELIVERY_RETRY;
            res->failure = HK_FAIL_HTTP;
            snprintf(res->error, sizeof res->error, "HTTP %ld", res->http_status);
        }
        return;
    }
    if (t->blocked[0]) {
        res->status = HK_DELIVERY_ERROR;
        res->failure = HK_FAIL_BLOCKED;
        snprintf(res->error, sizeof res->error, "blocked address %s", t->blocked);
        return;
    }
    switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        res->status = HK_DELIVERY_ERROR;
        res->failure = HK_FAIL_INVALID;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        res->timed_out = true;
        res->status = HK_DELIVERY_RETRY;
        res->failure = HK_FAIL_TIMEOUT;
        break;
    default:
        res->status = HK_DELIVERY_RETRY;
        res->failure = HK_FAIL_NETWORK;
    }
    /* A status came before the transfer failed (a timeout reading the body): it counts as the
     * answer. */
    if (res->status == HK_DELIVERY_RETRY && res->http_status > 0)
        res->failure = HK_FAIL_HTTP;
    snprintf(res->error, sizeof res->error, "%s",
             t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
}
