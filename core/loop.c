/*
 * loop.c — the one event loop of a worker: epoll for file descriptors, a short list of one-shot
 * timers, and an eventfd so hk_loop_stop() can be called from a signal handler. A shard has about
 * 30 timers (three per consumer, main and six tiers by default; five in the delivery engine; the
 * producer's and the worker's), and a linear scan of 30 is cheaper than keeping a heap.
 */
#include "hk_core.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct io_watch {
    hk_io_cb cb;
    void *arg;
    unsigned events;
} io_watch;

struct hk_timer {
    hk_loop *loop;
    hk_timer_cb cb;
    void *arg;
    uint64_t due_ms;
    bool active;
    hk_timer *next; /* every timer of the loop, active or not */
};

struct hk_loop {
    int epfd;
    int wakefd;
    volatile sig_atomic_t stopping;
    io_watch *watches; /* indexed by fd */
    size_t watches_cap;
    hk_timer *timers;
};

hk_loop *hk_loop_create(void)
{
    hk_loop *loop = hk_xcalloc(1, sizeof *loop);
    loop->epfd = -1;
    loop->wakefd = -1;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto error;
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0)
        goto error;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = loop->wakefd};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0)
        goto error;
    return loop;
error:
    hk_loop_destroy(loop);
    return NULL;
}

void hk_loop_destroy(hk_loop *loop)
{
    if (!loop)
        return;
    hk_timer *t = loop->timers;
    while (t) {
        hk_timer *next = t->next;
        free(t);
        t = next;
    }
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    free(loop->watches);
    free(loop);
}

int hk_loop_io(hk_loop *loop, int fd, unsigned events, hk_io_cb cb, void *arg)
{
    if (fd < 0)
        return HK_ERR;
    if ((size_t)fd >= loop->watches_cap) {
        size_t cap = loop->watches_cap ? loop->watches_cap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        loop->watches = hk_xrealloc(loop->watches, cap * sizeof *loop->watches);
        memset(loop->watches + loop->watches_cap, 0,
               (cap - loop->watches_cap) * sizeof *loop->watches);
        loop->watches_cap = cap;
    }
    io_watch *w = &loop->watches[fd];
    unsigned had = w->events;
    if (events == 0) {
        if (had)
            epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
        memset(w, 0, sizeof *w);
        return HK_OK;
    }
    struct epoll_event ev = {.data.fd = fd};
    if (events & HK_IO_READ)
        ev.events |= EPOLLIN;
    if (events & HK_IO_WRITE)
        ev.events |= EPOLLOUT;
    int rc = epoll_ctl(loop->epfd, had ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (rc < 0 && errno == ENOENT)
        rc = epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev);
    else if (rc < 0 && errno == EEXIST)
        rc = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0)
        return HK_ERR;
    w->cb = cb;
    w->arg = arg;
    w->events = events;
    return HK_OK;
}

hk_timer *hk_timer_create(hk_loop *loop, hk_timer_cb cb, void *arg)
{
    hk_timer *t = hk_xcalloc(1, sizeof *t);
    t->loop = loop;
    t->cb = cb;
    t->arg = arg;
    t->next = loop->timers;
    loop->timers = t;
    return t;
}

void hk_timer_start(hk_timer *t, uint64_t delay_ms)
{
    t->due_ms = hk_now_ms() + delay_ms;
    t->active = true;
}

void hk_timer_stop(hk_timer *t)
{
    if (t)
        t->active = false;
}

bool hk_timer_active(const hk_timer *t)
{
    return t && t->active;
}

void hk_timer_destroy(hk_timer *t)
{
    if (!t)
        return;
    for (hk_timer **pp = &t->loop->timers; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    free(t);
}

/* Runs due timers. A callback may create, start, stop or destroy timers (even itself), so the
 * scan restarts after each callback rather than trusting a saved next pointer. */
static int run_timers(hk_loop *loop)
{
    int ran = 0;
    uint64_t now = hk_now_ms();
    bool again = true;
    while (again) {
        again = false;
        for (hk_timer *t = loop->timers; t; t = t->next) {
            if (t->active && t->due_ms <= now) {
                t->active = false;
                t->cb(loop, t->arg);
                ran++;
                again = true;
                break;
            }
        }
    }
    return ran;
}

static int next_timeout(hk_loop *loop, int max_wait_ms)
{
    uint64_t now = hk_now_ms();
    int64_t best = max_wait_ms;
    for (hk_timer *t = loop->timers; t; t = t->next) {
        if (!t->active)
            continue;
        int64_t in = t->due_ms > now ? (int64_t)(t->due_ms - now) : 0;
        if (best < 0 || in < best)
            best = in;
    }
    return best > 60000 ? 60000 : (int)best;
}

int hk_loop_run_once(hk_loop *loop, int max_wait_ms)
{
    struct epoll_event evs[64];
    int timeout = loop->stopping ? 0 : next_timeout(loop, max_wait_ms);
    int n = epoll_wait(loop->epfd, evs, 64, timeout);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        return HK_ERR;
    }
    int ran = 0;
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == loop->wakefd) {
            uint64_t v;
            while (read(loop->wakefd, &v, sizeof v) > 0) {
            }
            continue;
        }
        if ((size_t)fd >= loop->watches_cap || !loop->watches[fd].events)
            continue; /* removed by an earlier callback in this batch */
        io_watch w = loop->watches[fd];
        unsigned what = 0;
        if (evs[i].events & (EPOLLIN | EPOLLHUP))
            what |= HK_IO_READ;
        if (evs[i].events & EPOLLOUT)
            what |= HK_IO_WRITE;
        if (evs[i].events & EPOLLERR)
            what |= HK_IO_ERROR;
        w.cb(loop, fd, what, w.arg);
        ran++;
    }
    return ran + run_timers(loop);
}

void hk_loop_run(hk_loop *loop)
{
    while (!loop->stopping)
        hk_loop_run_once(loop, -1);
}

void hk_loop_stop(hk_loop *loop)
{
    loop->stopping = 1;
    uint64_t one = 1;
    ssize_t rc = write(loop->wakefd, &one, sizeof one);
    (void)rc;
}

bool hk_loop_stopping(const hk_loop *loop)
{
    return loop->stopping != 0;
}
