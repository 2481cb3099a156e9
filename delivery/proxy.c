/*
 * proxy.c — the engine's proxy mode. The environment's proxies (http_proxy, https_proxy,
 * ALL_PROXY, NO_PROXY) are never used: with one, the guard would see only the proxy's address
 * (engine.c's set_proxy_options() says so on every transfer). With a configured proxy, curl
 * never resolves the target, so the engine does (resolve.c, off the loop), judges every
 * address with the same guard, and pins the first allowed one: curl then asks the proxy for a
 * tunnel to that address (CONNECT <ip>:<port>, plain http included), so the proxy never
 * resolves a name of its own and a refused target never reaches it. The sockets curl opens
 * then all go to the proxy, which the operator chose: they are not judged (see
 * docs/decisions.md). Also here: hk_delivery_check_proxy(), the proxy URL's check.
 */
#include "engine_internal.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* The proxy URL names its scheme (http or https) and a host. */
static bool proxy_valid(const char *proxy)
{
    if (!proxy || !*proxy)
        return true; /* none */
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = u && !curl_url_set(u, CURLUPART_URL, proxy, 0) &&
              !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
              !curl_url_get(u, CURLUPART_HOST, &host, 0) && *host &&
              (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

int hk_delivery_check_proxy(const char *proxy, hk_error *err)
{
    if (!proxy_valid(proxy))
        return hk_error_set(err, HK_EINVAL, "HOOKD_HTTP_PROXY",
                            "must be an http:// or https:// URL with a host (value not shown: "
                            "it may hold credentials)");
    return HK_OK;
}

/* The URL's host (IPv6 without brackets, IDN as punycode) and port as the transfer will read
 * them: the same parser and flags as curl's own. NULL, or why the URL is refused. */
static const char *target_of(const char *url, char **host, char port[8])
{
    const char *why = "the URL cannot be parsed";
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *p = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME))
        goto done;
    unsigned host_flags = 0;
#ifdef CURLU_PUNYCODE
    host_flags |= CURLU_PUNYCODE;
#endif
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
        curl_url_get(u, CURLUPART_HOST, &h, host_flags) ||
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) || !*h || strlen(p) >= 8)
        goto done;
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        why = "the URL's scheme is not http or https";
        goto done;
    }
    size_t len = strlen(h);
    if (strcasecmp(h, "localhost") == 0 ||
        (len > 10 && strcasecmp(h + len - 10, ".localhost") == 0)) {
        /* as curl does (RFC 6761): loopback, never a name server's answer */
        *host = hk_strdup("localhost");
    } else if (h[0] == '[' && len > 2 && h[len - 1] == ']') {
        *host = hk_strdup(h + 1);
        (*host)[len - 2] = '\0';
    } else {
        *host = hk_strdup(h);
    }
    strcpy(port, p);
    why = NULL;
done:
    curl_free(scheme);
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return why;
}

/* Judges every address of the target with the guard and pins the first one allowed; when
 * none is, t->blocked names the first refused. */
static bool pin_target(hk_delivery_engine *e, transfer *t, const struct addrinfo *res)
{
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        const struct sockaddr *sa = ai->ai_addr;
        if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
            continue;
        const char *reason = hk_ssrf_classify(sa);
        if (reason && !(e->cfg.allow && hk_cidr_list_contains(e->cfg.allow, sa))) {
            if (!t->blocked[0])
                hk_delivery__describe_blocked(t, sa, reason);
            continue;
        }
        char ip[INET6_ADDRSTRLEN];
        hk_delivery__address_text(sa, ip);
        unsigned port =
            ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                           : ((const struct sockaddr_in6 *)sa)->sin6_port);
        /* empty host and port: whatever the URL names, connect to this address */
        snprintf(t->connect_to_text, sizeof t->connect_to_text,
                 sa->sa_family == AF_INET ? "::%s:%u" : "::[%s]:%u", ip, port);
        t->connect_to.data = t->connect_to_text;
        t->connect_to.next = NULL;
        t->blocked[0] = '\0'; /* a refused sibling address is not why a later failure failed */
        return true;
    }
    if (!t->blocked[0])
        snprintf(t->blocked, sizeof t->blocked, "%s (no internet address)", t->target);
    return false;
}

/* The target's addresses are known: refuse it, or hand the transfer to curl, pinned. Runs on
 * the loop, from the resolver's eventfd (never from inside pump). */
static void on_resolved(int rc, const struct addrinfo *res, void *arg)
{
    transfer *t = arg;
    hk_delivery_engine *e = t->engine;
    t->job = NULL;
    CURLcode code;
    uint64_t spent = hk_now_ms() - t->started_ms;
    long left = t->req->timeout_ms - (long)spent;
    if (rc != 0) {
        snprintf(t->errbuf, sizeof t->errbuf, "Could not resolve host: %s", t->target);
        code = CURLE_COULDNT_RESOLVE_HOST;
    } else if (!pin_target(e, t, res)) {
        code = CURLE_COULDNT_CONNECT; /* t->blocked says why */
    } else if (left <= 0) {
        snprintf(t->errbuf, sizeof t->errbuf, "Resolving timed out after %llu milliseconds",
                 (unsigned long long)spent);
        code = CURLE_OPERATION_TIMEDOUT;
    } else {
        curl_easy_setopt(t->easy, CURLOPT_CONNECT_TO, &t->connect_to);
        curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, left);
        curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, left < 10000 ? left : 10000L);
        if (curl_multi_add_handle(e->multi, t->easy) == CURLM_OK)
            return;
        snprintf(t->errbuf, sizeof t->errbuf, "could not start the transfer");
        code = CURLE_FAILED_INIT;
    }
    hk_delivery__finish_transfer(e, t, code);
    pump_later(e);
}

/* A target whose name server does not answer within the task's timeout times out like a
 * transfer would (checked on every kick, so up to KICK_MS late). */
void hk_delivery__expire_resolving(hk_delivery_engine *e)
{
    if (!e->resolver)
        return;
    uint64_t now = hk_now_ms();
    for (;;) {
        transfer *t = e->active;
        while (t && !(t->job && now - t->started_ms >= (uint64_t)t->req->timeout_ms))
            t = t->active_next;
        if (!t)
            return;
        hk_resolver__cancel(e->resolver, t->job);
        t->job = NULL;
        snprintf(t->errbuf, sizeof t->errbuf, "Resolving timed out after %llu milliseconds",
                 (unsigned long long)(now - t->started_ms));
        hk_delivery__finish_transfer(e, t, CURLE_OPERATION_TIMEDOUT);
        pump_later(e);
    }
}

bool hk_delivery__start_resolving(hk_delivery_engine *e, transfer *t)
{
    char port[8];
    const char *why = target_of(t->req->url, &t->target, port);
    if (why) {
        t->early_error = why;
        t->early_status = HK_DELIVERY_ERROR;
        return false;
    }
    t->job = hk_resolver__lookup(e->resolver, t->target, port, on_resolved, t);
    return true;
}
