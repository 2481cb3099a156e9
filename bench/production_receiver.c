/*
 * production_receiver.c — the receiving side of bench/production: one process serving N webhook
 * receivers, each its own listening socket on its own loopback address (receiver i listens on
 * 127.1.<i / 250>.<1 + i % 250>:PORT), every TLS_EVERY-th one over TLS with a certificate the
 * benchmark made. A benchmark tool, not a test and not a server to expose.
 *
 * One thread, epoll (level-triggered), non-blocking OpenSSL, a binary heap of connections whose
 * answer is due. HTTP/1.1 with keep-alive: a request is read whole (Content-Length or chunked),
 * then answered after a delay, deterministically from a hash of its X-Webhook-Id and
 * X-Webhook-Attempt (and --seed), so that a retry draws again and the same events draw the same
 * answers in every run:
 *
 *   --mix full, --slow-by request (the default): each request on its own:
 *       1% never answered (held until the client gives up and closes), 5% answered after 1 s,
 *       the rest after a log-normal delay (median --median-ms 50, sigma --sigma 0.5, at most
 *       999 ms); independently, 5% are 500, 1% are 429 with Retry-After: 1, the rest 204 or 200;
 *   --mix full, --slow-by receiver: each receiver has a class, fixed by its index and the seed
 *       (exact counts: 1% hang, 5% slow, 5% answer 500, 1% answer 429, the rest healthy); a
 *       hanging receiver holds every request, a slow one answers 2xx after 1 s, a 500 or 429 one
 *       answers every request that way after the log-normal delay, a healthy one 2xx after it;
 *   --mix healthy: every request 2xx after the log-normal delay (the run without the slow ones;
 *       receivers keep the class they would have, so the same receivers can be compared).
 *
 * A "healthy" answer is a 2xx after the log-normal delay from a receiver of class healthy.
 *
 * Counts, per receiver: requests (first attempts and retries by X-Webhook-Attempt), accepted
 * connections, TLS handshakes (full and resumed), answers by status, hangs and hangs the client
 * gave up on, slow answers, healthy answers, the sum of the delays answered. SIGUSR1 writes them
 * to --stats FILE (written whole, then renamed), SIGTERM or SIGINT writes them and exits 0.
 *
 * usage: production_receiver --cert PEM --key PEM --stats FILE [--receivers 1000] [--port 29300]
 *            [--tls-every 5] [--mix full|healthy] [--slow-by request|receiver] [--seed 1]
 *            [--median-ms 50] [--sigma 0.5] [--slow-ms 1000]
 *        production_receiver --layout [--receivers ...] [--port ...] [--tls-every ...] [...]
 *            prints "index address port tls class" per receiver and exits (no certificate needed)
 * Prints "ready <receivers>" on stdout once every socket listens.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define IN_MAX 16384
#define OUT_MAX 512
#define MAX_RECEIVERS 10000

enum kind { K_LISTENER, K_CONN, K_SIGNAL };
enum cls { C_HEALTHY, C_HANG, C_SLOW, C_E500, C_E429 };
static const char *const cls_name[] = {"healthy", "hang", "slow", "e500", "e429"};
enum cstate { S_HANDSHAKE, S_READING, S_WAITING, S_HANGING, S_WRITING };

struct rcv {
    int kind; /* K_LISTENER, first: epoll's data.ptr points at a listener or a conn */
    int idx;
    int fd;
    bool tls;
    enum cls cls;
    char addr[24];
    uint64_t requests, first, retries, accepts, handshakes, resumed, s200, s204, s500, s429, other,
        hangs, hang_closed, pending_closed, slow, healthy, answered, delay_ms_sum, bad, tls_failed,
        conns_open;
};

struct conn {
    int kind; /* K_CONN */
    int fd;
    struct rcv *r;
    SSL *ssl;
    enum cstate state;
    bool close_after, want_out;
    int heap_idx;
    uint64_t due_ms;
    size_t in_len, req_len, out_len, out_off;
    int status;
    bool healthy_answer, slow_answer;
    uint32_t delay_ms;
    char out[OUT_MAX];
    char in[IN_MAX];
};

static struct {
    int receivers, port, tls_every, seed;
    bool healthy_mix, by_receiver, layout;
    double median_ms, sigma, slow_ms;
    const char *cert, *key, *stats;
} opt = {1000, 29300, 5, 1, false, false, false, 50, 0.5, 1000, NULL, NULL, NULL};

static int ep;
static SSL_CTX *ctx;
static struct rcv *rcvs;
static struct conn **heap;
static size_t heap_len, heap_cap;
static uint64_t conns_total_open, snapshots;

static void die(const char *what)
{
    fprintf(stderr, "production_receiver: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mix64(uint64_t x)
{ /* splitmix64's finaliser */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static double unit(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

static uint32_t lognormal_ms(uint64_t h)
{
    double u1 = unit(mix64(h ^ 0x1111)), u2 = unit(mix64(h ^ 0x2222));
    if (u1 < 1e-12)
        u1 = 1e-12;
    double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    double d = opt.median_ms * exp(opt.sigma * z);
    if (d < 1)
        d = 1;
    if (d > 999)
        d = 999;
    return (uint32_t)d;
}

/* ---- the heap of answers due ---------------------------------------------------------------- */

static void heap_swap(size_t a, size_t b)
{
    struct conn *t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
    heap[a]->heap_idx = (int)a;
    heap[b]->heap_idx = (int)b;
}

static void heap_up(size_t i)
{
    while (i > 0 && heap[(i - 1) / 2]->due_ms > heap[i]->due_ms) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_len && heap[l]->due_ms < heap[m]->due_ms)
            m = l;
        if (r < heap_len && heap[r]->due_ms < heap[m]->due_ms)
            m = r;
        if (m == i)
            return;
        heap_swap(i, m);
        i = m;
    }
}

static void heap_push(struct conn *c)
{
    if (heap_len == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 1024;
        heap = realloc(heap, heap_cap * sizeof *heap);
        if (!heap)
            die("realloc");
    }
    heap[heap_len] = c;
    c->heap_idx = (int)heap_len++;
    heap_up(heap_len - 1);
}

static void heap_remove(struct conn *c)
{
    size_t i = (size_t)c->heap_idx;
    c->heap_idx = -1;
    if (--heap_len == i)
        return;
    heap[i] = heap[heap_len];
    heap[i]->heap_idx = (int)i;
    heap_up(i);
    heap_down((size_t)heap[i]->heap_idx);
}

/* ---- statistics ----------------------------------------------------------------------------- */

static void write_stats(void)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", opt.stats);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "production_receiver: %s: %s\n", tmp, strerror(errno));
        return;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    fprintf(f,
            "{\"seq\":%llu,\"time\":%.6f,\"mono_ms\":%llu,\"mix\":\"%s\",\"slow_by\":\"%s\","
            "\"seed\":%d,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"maxrss_kib\":%ld,"
            "\"conns_open\":%llu,\"due\":%zu,\"receivers\":[\n",
            (unsigned long long)++snapshots, (double)wall.tv_sec + wall.tv_nsec / 1e9,
            (unsigned long long)now_ms(), opt.healthy_mix ? "healthy" : "full",
            opt.by_receiver ? "receiver" : "request", opt.seed,
            (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss,
            (unsigned long long)conns_total_open, heap_len);
    for (int i = 0; i < opt.receivers; i++) {
        const struct rcv *r = &rcvs[i];
#define U(x) (unsigned long long)(x)
        fprintf(f,
                "{\"i\":%d,\"addr\":\"%s\",\"tls\":%d,\"class\":\"%s\",\"requests\":%llu,"
                "\"first\":%llu,\"retries\":%llu,\"accepts\":%llu,\"handshakes\":%llu,"
                "\"resumed\":%llu,\"s200\":%llu,\"s204\":%llu,\"s500\":%llu,\"s429\":%llu,"
                "\"other\":%llu,\"hangs\":%llu,\"hang_closed\":%llu,\"pending_closed\":%llu,"
                "\"slow\":%llu,\"healthy\":%llu,\"answered\":%llu,\"delay_ms_sum\":%llu,"
                "\"bad\":%llu,\"tls_failed\":%llu,\"conns_open\":%llu}%s\n",
                r->idx, r->addr, r->tls ? 1 : 0, cls_name[r->cls], U(r->requests), U(r->first),
                U(r->retries), U(r->accepts), U(r->handshakes), U(r->resumed), U(r->s200),
                U(r->s204), U(r->s500), U(r->s429), U(r->other), U(r->hangs), U(r->hang_closed),
                U(r->pending_closed), U(r->slow), U(r->healthy), U(r->answered), U(r->delay_ms_sum),
                U(r->bad), U(r->tls_failed), U(r->conns_open), i + 1 < opt.receivers ? "," : "");
#undef U
    }
    fprintf(f, "]}\n");
    if (fclose(f) != 0 || rename(tmp, opt.stats) != 0)
        fprintf(stderr, "production_receiver: writing %s: %s\n", opt.stats, strerror(errno));
}

/* ---- connections ---------------------------------------------------------------------------- */

static void set_events(struct conn *c, bool out)
{
    if (out == c->want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl MOD");
    c->want_out = out;
}

static void conn_close(struct conn *c)
{
    if (c->state == S_HANGING)
        c->r->hang_closed++;
    else if (c->state == S_WAITING || c->state == S_WRITING)
        c->r->pending_closed++;
    if (c->heap_idx >= 0)
        heap_remove(c);
    if (c->ssl) {
        SSL_free(c->ssl); /* no close_notify: the peer closed, or we give up on it */
    }
    close(c->fd);
    c->r->conns_open--;
    conns_total_open--;
    free(c);
}

/* Reads what there is; false if the connection is gone (closed here). */
static bool conn_read(struct conn *c)
{
    for (;;) {
        if (c->in_len == IN_MAX) {
            c->r->bad++; /* a request larger than the buffer, or data piling up: give up */
            conn_close(c);
            return false;
        }
        if (c->ssl) {
            int n = SSL_read(c->ssl, c->in + c->in_len, (int)(IN_MAX - c->in_len));
            if (n > 0) {
                c->in_len += (size_t)n;
                continue;
            }
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ)
                return true;
            if (e == SSL_ERROR_WANT_WRITE) {
                set_events(c, true);
                return true;
            }
            ERR_clear_error();
            conn_close(c);
            return false;
        }
        ssize_t n = read(c->fd, c->in + c->in_len, IN_MAX - c->in_len);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n < 0 && errno == EINTR)
            continue;
        conn_close(c);
        return false;
    }
}

/* Writes what is left of the answer; false if the connection is gone. */
static bool conn_flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        if (c->ssl) {
            int n = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
            if (n > 0) {
                c->out_off += (size_t)n;
                continue;
            }
            int e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                set_events(c, e == SSL_ERROR_WANT_WRITE);
                return true;
            }
            ERR_clear_error();
            conn_close(c);
            return false;
        }
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(c, true);
            return true;
        }
        if (n < 0 && errno == EINTR)
            continue;
        conn_close(c);
        return false;
    }
    return true;
}

static const char *find_crlf2(const char *p, size_t len)
{
    return memmem(p, len, "\r\n\r\n", 4);
}

/* A chunked body from p (len bytes): its length up to and including the last CRLF, 0 if not
 * whole yet, -1 if malformed. Trailers are not expected (none are sent by libcurl). */
static long chunked_len(const char *p, size_t len)
{
    size_t at = 0;
    for (;;) {
        const char *eol = memmem(p + at, len - at, "\r\n", 2);
        if (!eol)
            return 0;
        char *end;
        unsigned long size = strtoul(p + at, &end, 16);
        if (end == p + at)
            return -1;
        at = (size_t)(eol - p) + 2;
        if (size == 0)
            return len - at >= 2 ? (memcmp(p + at, "\r\n", 2) == 0 ? (long)(at + 2) : -1) : 0;
        if (len - at < size + 2)
            return 0;
        at += size + 2;
    }
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
                      size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return false;
    const char *v = line + n + 1, *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *value = v;
    *vlen = (size_t)(e - v);
    return true;
}

static void conn_respond(struct conn *c); /* below */

/* Parses one whole request from the buffer, if there is one, and schedules its answer. False if
 * the connection is gone. */
static bool conn_request(struct conn *c)
{
    if (c->state != S_READING || c->in_len == 0)
        return true;
    const char *hend = find_crlf2(c->in, c->in_len);
    if (!hend)
        return true;
    size_t hlen = (size_t)(hend - c->in) + 4;
    long clen = 0;
    bool chunked = false, http10 = false;
    const char *id = NULL, *att = NULL;
    size_t id_len = 0, att_len = 0;
    const char *line = c->in, *stop = hend + 2;
    bool first_line = true;
    while (line < stop) {
        const char *eol = memmem(line, (size_t)(stop - line), "\r\n", 2);
        if (!eol)
            break;
        size_t len = (size_t)(eol - line);
        const char *v;
        size_t vl;
        if (first_line) {
            http10 = len >= 8 && memcmp(eol - 8, "HTTP/1.0", 8) == 0;
            first_line = false;
        } else if (header_is(line, len, "content-length", &v, &vl)) {
            clen = strtol(v, NULL, 10);
        } else if (header_is(line, len, "transfer-encoding", &v, &vl)) {
            chunked = vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0;
        } else if (header_is(line, len, "connection", &v, &vl)) {
            if (vl == 5 && strncasecmp(v, "close", 5) == 0)
                c->close_after = true;
        } else if (header_is(line, len, "x-webhook-id", &v, &vl)) {
            id = v, id_len = vl;
        } else if (header_is(line, len, "x-webhook-attempt", &v, &vl)) {
            att = v, att_len = vl;
        }
        line = eol + 2;
    }
    if (http10)
        c->close_after = true;
    size_t total;
    if (chunked) {
        long b = chunked_len(c->in + hlen, c->in_len - hlen);
        if (b < 0) {
            c->r->bad++;
            conn_close(c);
            return false;
        }
        if (b == 0)
            return true;
        total = hlen + (size_t)b;
    } else {
        if (clen < 0 || (size_t)clen > IN_MAX - hlen) {
            c->r->bad++;
            conn_close(c);
            return false;
        }
        total = hlen + (size_t)clen;
        if (c->in_len < total)
            return true;
    }
    c->req_len = total;

    struct rcv *r = c->r;
    r->requests++;
    long attempt = att ? strtol(att, NULL, 10) : 1;
    (void)att_len;
    if (attempt > 1)
        r->retries++;
    else
        r->first++;
    uint64_t h;
    if (id) {
        h = 0xcbf29ce484222325ull; /* FNV-1a of the delivery id */
        for (size_t i = 0; i < id_len; i++)
            h = (h ^ (unsigned char)id[i]) * 0x100000001b3ull;
        h = mix64(h ^ (uint64_t)attempt * 0x9E3779B97F4A7C15ull);
    } else {
        h = mix64(((uint64_t)r->idx << 40) ^ r->requests);
    }
    h = mix64(h ^ (uint64_t)(unsigned)opt.seed);

    double u_delay = unit(h), u_status = unit(mix64(h ^ 0x5151));
    bool hang = false, slow = false;
    int status = (mix64(h ^ 0x7777) & 1) ? 204 : 200;
    if (!opt.healthy_mix) {
        if (opt.by_receiver) {
            hang = r->cls == C_HANG;
            slow = r->cls == C_SLOW;
            if (r->cls == C_E500)
                status = 500;
            else if (r->cls == C_E429)
                status = 429;
        } else {
            hang = u_delay < 0.01;
            slow = !hang && u_delay < 0.06;
            if (u_status < 0.05)
                status = 500;
            else if (u_status < 0.06)
                status = 429;
        }
    }
    if (hang) {
        r->hangs++;
        c->state = S_HANGING; /* until the client gives up and closes */
        return true;
    }
    c->delay_ms = slow ? (uint32_t)opt.slow_ms : lognormal_ms(h);
    c->slow_answer = slow;
    c->healthy_answer = !slow && status < 300 && r->cls == C_HEALTHY;
    c->status = status;
    const char *reason = status == 204   ? "No Content"
                         : status == 200 ? "OK"
                         : status == 500 ? "Internal Server Error"
                                         : "Too Many Requests";
    const char *extra = status == 429 ? "Retry-After: 1\r\n" : "";
    const char *body = status == 204 ? "" : status == 200 ? "ok" : "error";
    char length[40] = ""; /* a 204 has no body and no Content-Length */
    if (status != 204)
        snprintf(length, sizeof length, "Content-Length: %zu\r\n", strlen(body));
    int n = snprintf(c->out, sizeof c->out,
                     "HTTP/1.1 %d %s\r\nServer: bench-receiver\r\n%s%s%s\r\n%s", status, reason,
                     extra, c->close_after ? "Connection: close\r\n" : "", length, body);
    c->out_len = (size_t)n;
    c->out_off = 0;
    c->due_ms = now_ms() + c->delay_ms;
    c->state = S_WAITING;
    heap_push(c);
    return true;
}

static void conn_respond(struct conn *c)
{
    c->state = S_WRITING;
    if (!conn_flush(c))
        return;
    if (c->out_off < c->out_len)
        return; /* the rest on EPOLLOUT */
    struct rcv *r = c->r;
    r->answered++;
    r->delay_ms_sum += c->delay_ms;
    switch (c->status) {
    case 200:
        r->s200++;
        break;
    case 204:
        r->s204++;
        break;
    case 500:
        r->s500++;
        break;
    case 429:
        r->s429++;
        break;
    default:
        r->other++;
        break;
    }
    if (c->slow_answer)
        r->slow++;
    if (c->healthy_answer)
        r->healthy++;
    if (c->close_after) {
        c->state = S_READING; /* answered: not counted as closed while pending */
        conn_close(c);
        return;
    }
    memmove(c->in, c->in + c->req_len, c->in_len - c->req_len);
    c->in_len -= c->req_len;
    c->req_len = 0;
    c->state = S_READING;
    set_events(c, false);
    conn_request(c); /* a request that came along already */
}

static bool conn_handshake(struct conn *c)
{
    int n = SSL_accept(c->ssl);
    if (n == 1) {
        c->r->handshakes++;
        if (SSL_session_reused(c->ssl))
            c->r->resumed++;
        c->state = S_READING;
        set_events(c, false);
        return true;
    }
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        set_events(c, e == SSL_ERROR_WANT_WRITE);
        return true;
    }
    ERR_clear_error();
    c->r->tls_failed++; /* refused, or the client closed during the handshake */
    conn_close(c);
    return false;
}

static void conn_event(struct conn *c, uint32_t events)
{
    if (c->state == S_HANDSHAKE) {
        if (!conn_handshake(c) || c->state == S_HANDSHAKE)
            return;
    }
    if (c->state == S_WRITING && (events & EPOLLOUT)) {
        conn_respond(c); /* the rest of the answer */
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLOUT)) {
        if (!conn_read(c))
            return;
        conn_request(c);
    }
}

static void accept_all(struct rcv *r)
{
    for (;;) {
        int fd = accept4(r->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
                return;
            if (errno == EINTR)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                fprintf(stderr, "production_receiver: accept: %s\n", strerror(errno));
                return;
            }
            die("accept4");
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = malloc(sizeof *c);
        if (!c)
            die("malloc");
        memset(c, 0, offsetof(struct conn, out));
        c->kind = K_CONN;
        c->fd = fd;
        c->r = r;
        c->heap_idx = -1;
        c->state = r->tls ? S_HANDSHAKE : S_READING;
        r->accepts++;
        r->conns_open++;
        conns_total_open++;
        if (r->tls) {
            c->ssl = SSL_new(ctx);
            if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
                fprintf(stderr, "production_receiver: SSL_new failed\n");
                exit(1);
            }
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl ADD");
    }
}

/* ---- set-up --------------------------------------------------------------------------------- */

static void usage(FILE *to)
{
    fprintf(to, "usage: production_receiver --cert PEM --key PEM --stats FILE [--receivers N] "
                "[--port P]\n"
                "           [--tls-every K] [--mix full|healthy] [--slow-by request|receiver] "
                "[--seed S]\n"
                "           [--median-ms MS] [--sigma S] [--slow-ms MS]\n"
                "       production_receiver --layout [same flags]\n");
}

static double num_arg(const char *flag, const char *v, double lo, double hi)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "production_receiver: %s: not a number in [%g, %g]: %s\n", flag, lo, hi, v);
        exit(2);
    }
    return d;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--layout") == 0) {
            opt.layout = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "production_receiver: %s: unknown, or needs a value\n", a);
            usage(stderr);
            exit(2);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--cert") == 0)
            opt.cert = v;
        else if (strcmp(a, "--key") == 0)
            opt.key = v;
        else if (strcmp(a, "--stats") == 0)
            opt.stats = v;
        else if (strcmp(a, "--receivers") == 0)
            opt.receivers = (int)num_arg(a, v, 1, MAX_RECEIVERS);
        else if (strcmp(a, "--port") == 0)
            opt.port = (int)num_arg(a, v, 1, 65535);
        else if (strcmp(a, "--tls-every") == 0)
            opt.tls_every = (int)num_arg(a, v, 0, MAX_RECEIVERS);
        else if (strcmp(a, "--seed") == 0)
            opt.seed = (int)num_arg(a, v, 0, 2147483647);
        else if (strcmp(a, "--median-ms") == 0)
            opt.median_ms = num_arg(a, v, 1, 999);
        else if (strcmp(a, "--sigma") == 0)
            opt.sigma = num_arg(a, v, 0, 5);
        else if (strcmp(a, "--slow-ms") == 0)
            opt.slow_ms = num_arg(a, v, 1, 600000);
        else if (strcmp(a, "--mix") == 0 && (strcmp(v, "full") == 0 || strcmp(v, "healthy") == 0))
            opt.healthy_mix = strcmp(v, "healthy") == 0;
        else if (strcmp(a, "--slow-by") == 0 &&
                 (strcmp(v, "request") == 0 || strcmp(v, "receiver") == 0))
            opt.by_receiver = strcmp(v, "receiver") == 0;
        else {
            fprintf(stderr, "production_receiver: %s: unknown flag or bad value '%s'\n", a, v);
            usage(stderr);
            exit(2);
        }
    }
    if (!opt.layout && (!opt.stats || (opt.tls_every > 0 && (!opt.cert || !opt.key)))) {
        fprintf(stderr, "production_receiver: --stats, --cert and --key are required\n");
        usage(stderr);
        exit(2);
    }
}

static int by_rank_hash(const void *a, const void *b)
{
    uint64_t x = mix64((uint64_t) * (const int *)a ^ ((uint64_t)(unsigned)opt.seed << 32));
    uint64_t y = mix64((uint64_t) * (const int *)b ^ ((uint64_t)(unsigned)opt.seed << 32));
    return x < y ? -1 : x > y;
}

/* Receivers' addresses, TLS and classes (exact counts in --slow-by receiver). */
static void layout(void)
{
    rcvs = calloc((size_t)opt.receivers, sizeof *rcvs);
    int *order = malloc((size_t)opt.receivers * sizeof *order);
    if (!rcvs || !order)
        die("calloc");
    for (int i = 0; i < opt.receivers; i++) {
        struct rcv *r = &rcvs[i];
        r->kind = K_LISTENER;
        r->idx = i;
        r->fd = -1;
        r->tls = opt.tls_every > 0 && i % opt.tls_every == opt.tls_every - 1;
        snprintf(r->addr, sizeof r->addr, "127.1.%d.%d", (i / 250) % 256, 1 + i % 250);
        order[i] = i;
    }
    if (opt.by_receiver) {
        qsort(order, (size_t)opt.receivers, sizeof *order, by_rank_hash);
        int n = opt.receivers;
        int cut_hang = (int)lround(n * 0.01), cut_slow = cut_hang + (int)lround(n * 0.05),
            cut_500 = cut_slow + (int)lround(n * 0.05), cut_429 = cut_500 + (int)lround(n * 0.01);
        for (int k = 0; k < n; k++)
            rcvs[order[k]].cls = k < cut_hang   ? C_HANG
                                 : k < cut_slow ? C_SLOW
                                 : k < cut_500  ? C_E500
                                 : k < cut_429  ? C_E429
                                                : C_HEALTHY;
    }
    free(order);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    layout();
    if (opt.layout) {
        for (int i = 0; i < opt.receivers; i++)
            printf("%d %s %d %d %s\n", i, rcvs[i].addr, opt.port, rcvs[i].tls ? 1 : 0,
                   opt.by_receiver ? cls_name[rcvs[i].cls] : "any");
        return 0;
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);

    if (opt.tls_every > 0) {
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            fprintf(stderr, "production_receiver: the certificate or key: ");
            ERR_print_errors_fp(stderr);
            return 1;
        }
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, 1u << 16);
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    for (int i = 0; i < opt.receivers; i++) {
        struct rcv *r = &rcvs[i];
        r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (r->fd < 0)
            die("socket");
        int one = 1;
        setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
        inet_pton(AF_INET, r->addr, &sa.sin_addr);
        if (bind(r->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            fprintf(stderr, "production_receiver: bind %s:%d: %s\n", r->addr, opt.port,
                    strerror(errno));
            return 1;
        }
        if (listen(r->fd, 4096) != 0)
            die("listen");
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, r->fd, &ev) != 0)
            die("epoll_ctl ADD listener");
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0)
        die("signalfd");
    static int sig_kind = K_SIGNAL;
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &sig_kind};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev) != 0)
        die("epoll_ctl ADD signalfd");

    printf("ready %d\n", opt.receivers);
    fflush(stdout);

    struct epoll_event evs[256];
    for (;;) {
        int timeout = -1;
        if (heap_len) {
            uint64_t now = now_ms();
            timeout = heap[0]->due_ms <= now ? 0 : (int)(heap[0]->due_ms - now);
        }
        int n = epoll_wait(ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            if (kind == K_LISTENER) {
                accept_all(evs[i].data.ptr);
            } else if (kind == K_CONN) {
                conn_event(evs[i].data.ptr, evs[i].events);
            } else {
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                    write_stats();
                    if (si.ssi_signo != SIGUSR1)
                        return 0;
                }
            }
        }
        uint64_t now = now_ms();
        while (heap_len && heap[0]->due_ms <= now) {
            struct conn *c = heap[0];
            heap_remove(c);
            conn_respond(c);
        }
    }
}
