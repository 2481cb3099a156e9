/*
 * loops.c — hookd-ingress's threads: HOOKD_THREADS loops (server.c), each on a thread of its
 * own with its own listener on the same port (SO_REUSEPORT), producer and Redis connection; the
 * main thread waits for the signals and hands them on. The first SIGTERM/SIGINT makes every
 * loop stop taking requests and answer those waiting (within HOOKD_SHUTDOWN_GRACE_MS); a second
 * one, or a loop that fails, stops them all at once.
 */
#include "ingress.h"

#include "hk_cmd.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

typedef struct runner {
    ing_loop *loop;
    pthread_t thread;
    bool started;
    int status;
    int ended_fd; /* the main thread's: written when this loop has ended */
} runner;

static void *run_loop(void *arg)
{
    runner *r = arg;
    r->status = ing_loop_run(r->loop);
    uint64_t one = 1;
    ssize_t n = write(r->ended_fd, &one, sizeof one);
    (void)n;
    return NULL;
}

/* Until every loop has ended: the first signal stops them gracefully, a second one (or a loop
 * that ended on its own, a failure) at once. */
static void wait_for_loops(runner *rs, int n, int sigfd, int ended_fd)
{
    bool graceful = false, now = false;
    int ended = 0;
    while (ended < n) {
        struct pollfd pf[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = ended_fd, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0)
            continue;
        struct signalfd_siginfo si;
        while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (!graceful) {
                graceful = true;
                ing_set_ready(false);
                HK_INFO("shutdown", "signal %u: answering the requests waiting for Kafka",
                        si.ssi_signo);
            } else if (!now) {
                now = true;
                HK_WARN("shutdown", "second signal: stopping now");
            }
        }
        uint64_t v;
        if (read(ended_fd, &v, sizeof v) == (ssize_t)sizeof v) {
            ended += (int)v;
            if (!graceful && !now) {
                now = true;
                HK_ERROR("shutdown", "a loop stopped on a failure: stopping every loop");
            }
        }
        for (int i = 0; i < n; i++)
            if (graceful || now)
                ing_loop_stop(rs[i].loop, now);
    }
}

int ing_run(const hk_config *cfg, hk_error *err)
{
    int n = cfg->threads > 0 ? cfg->threads : 1, status = 1, rc, sigfd = -1, ended_fd = -1;
    hk_store_config scfg = hk_store_config_of(cfg); /* the refresher borrows it to the end */
    ing_endpoints *endpoints = NULL;
    runner *rs = hk_xcalloc((size_t)n, sizeof *rs);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before any thread starts: they inherit it */
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in sa; /* a bad setting is refused before anything connects */
    if (hk_cmd_listen_addr("HOOKD_INGRESS_LISTEN", cfg->ingress_listen, &sa, err) != HK_OK) {
        status = 2;
        goto done;
    }
    sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    ended_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sigfd < 0 || ended_fd < 0) {
        hk_error_set(err, HK_ERR, NULL, "cannot create the signal and wake descriptors");
        goto done;
    }
    if ((rc = ing_endpoints_start(&scfg, 500, &endpoints, err)) != HK_OK) {
        status = rc == HK_EINVAL ? 2 : 1; /* a bad HOOKD_REDIS_URL is bad input */
        goto done;
    }
    /* The first loop binds (port 0: any), creates the topic; the others share its port. */
    for (int i = 0; i < n; i++) {
        rc = ing_loop_open(cfg, endpoints, i ? ing_loop_port(rs[0].loop) : 0, n > 1, i == 0,
                           &rs[i].loop, err);
        if (rc != HK_OK) {
            status = rc == HK_EINVAL ? 2 : 1;
            goto done;
        }
        rs[i].ended_fd = ended_fd;
    }
    ing_snapshot *snap = ing_endpoints_acquire(endpoints);
    HK_INFO("start",
            "hookd-ingress %s on %s (port %u), %d loop%s: %zu inbound endpoints; records to %s",
            HK_VERSION, cfg->ingress_listen, (unsigned)ing_loop_port(rs[0].loop), n,
            n == 1 ? "" : "s", ing_snapshot_size(snap), cfg->ingress_topic);
    ing_snapshot_release(snap);
    ing_set_ready(true);
    int started = 0;
    for (int i = 0; i < n; i++)
        if (pthread_create(&rs[i].thread, NULL, run_loop, &rs[i]) == 0) {
            rs[i].started = true;
            started++;
        }
    if (started < n) { /* the ones running stop at once; those not started count as ended */
        uint64_t missing = (uint64_t)(n - started);
        ssize_t w = write(ended_fd, &missing, sizeof missing);
        (void)w;
    }
    wait_for_loops(rs, n, sigfd, ended_fd);
    status = started < n ? 1 : 0;
    for (int i = 0; i < n; i++) {
        if (rs[i].started)
            pthread_join(rs[i].thread, NULL);
        if (rs[i].status)
            status = rs[i].status;
    }
done:
    for (int i = 0; i < n; i++)
        ing_loop_close(rs[i].loop);
    ing_endpoints_stop(endpoints);
    if (sigfd >= 0)
        close(sigfd);
    if (ended_fd >= 0)
        close(ended_fd);
    free(rs);
    return status;
}
