/*
 * resolve.c — a small pool of resolver threads for the engine's proxy mode (see resolve.h).
 * The state the threads share outlives the resolver until the last thread lets go of it, so
 * destroy never waits for a name server: a thread stuck in getaddrinfo finds the stop flag
 * when it returns, frees its job and exits.
 */
#include "resolve.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct hk_resolve_job {
    char *host, *port;
    hk_resolve_cb cb;
    void *arg;
    int rc;
    struct addrinfo *res;
    bool cancelled; /* loop thread only */
    hk_resolve_job *next;
};

typedef struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    hk_resolve_job *todo_head, *todo_tail; /* not started */
    hk_resolve_job *done_head, *done_tail; /* resolved, for the loop */
    int efd;
    int refs; /* the resolver's, and each thread's */
    bool stop;
} shared;

struct hk_resolver {
    hk_loop *loop;
    shared *s;
};

static void job_free(hk_resolve_job *job)
{
    if (job->res)
        freeaddrinfo(job->res);
    free(job->host);
    free(job->port);
    free(job);
}

static void free_list(hk_resolve_job *job)
{
    while (job) {
        hk_resolve_job *next = job->next;
        job_free(job);
        job = next;
    }
}

/* Drops one reference; the last one frees everything. Called with s->mu held; unlocks it. */
static void shared_release(shared *s)
{
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last)
        return;
    free_list(s->todo_head);
    free_list(s->done_head);
    close(s->efd);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void *resolver_main(void *arg)
{
    shared *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && !s->todo_head)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->stop)
            break;
        hk_resolve_job *job = s->todo_head;
        s->todo_head = job->next;
        if (!s->todo_head)
            s->todo_tail = NULL;
        job->next = NULL;
        pthread_mutex_unlock(&s->mu);
        struct addrinfo hints = {
            .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
        job->rc = getaddrinfo(job->host, job->port, &hints, &job->res);
        pthread_mutex_lock(&s->mu);
        if (s->stop) {
            job_free(job);
            break;
        }
        if (s->done_tail)
            s->done_tail->next = job;
        else
            s->done_head = job;
        s->done_tail = job;
        uint64_t one = 1;
        ssize_t n = write(s->efd, &one, sizeof one);
        (void)n; /* a full counter still wakes the loop */
    }
    shared_release(s);
    return NULL;
}

static void on_done(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    hk_resolver *r = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0) {
        /* EAGAIN: nothing new; the list below is still looked at */
    }
    pthread_mutex_lock(&r->s->mu);
    hk_resolve_job *job = r->s->done_head;
    r->s->done_head = r->s->done_tail = NULL;
    pthread_mutex_unlock(&r->s->mu);
    while (job) {
        hk_resolve_job *next = job->next;
        if (!job->cancelled)
            job->cb(job->rc, job->rc == 0 ? job->res : NULL, job->arg);
        job_free(job);
        job = next;
    }
}

int hk_resolver__create(hk_loop *loop, int threads, hk_resolver **out, hk_error *err)
{
    shared *s = hk_xcalloc(1, sizeof *s);
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0) {
        free(s);
        return hk_error_set(err, HK_ERR, NULL, "cannot create the resolver's eventfd");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->refs = 1;
    hk_resolver *r = hk_xcalloc(1, sizeof *r);
    r->loop = loop;
    r->s = s;
    if (hk_loop_io(loop, s->efd, HK_IO_READ, on_done, r) != HK_OK)
        goto error;
    for (int i = 0; i < threads; i++) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&s->mu);
        s->refs++;
        pthread_mutex_unlock(&s->mu);
        int rc = pthread_create(&th, &attr, resolver_main, s);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            pthread_mutex_lock(&s->mu);
            s->refs--;
            pthread_mutex_unlock(&s->mu);
            goto error;
        }
    }
    *out = r;
    return HK_OK;
error:
    hk_resolver__destroy(r);
    return hk_error_set(err, HK_ERR, NULL, "cannot start the resolver threads");
}

void hk_resolver__destroy(hk_resolver *r)
{
    if (!r)
        return;
    shared *s = r->s;
    hk_loop_io(r->loop, s->efd, 0, NULL, NULL);
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    free_list(s->todo_head);
    free_list(s->done_head);
    s->todo_head = s->todo_tail = s->done_head = s->done_tail = NULL;
    pthread_cond_broadcast(&s->cv);
    shared_release(s);
    free(r);
}

hk_resolve_job *hk_resolver__lookup(hk_resolver *r, const char *host, const char *port,
                                    hk_resolve_cb cb, void *arg)
{
    hk_resolve_job *job = hk_xcalloc(1, sizeof *job);
    job->host = hk_strdup(host);
    job->port = hk_strdup(port);
    job->cb = cb;
    job->arg = arg;
    shared *s = r->s;
    pthread_mutex_lock(&s->mu);
    if (s->todo_tail)
        s->todo_tail->next = job;
    else
        s->todo_head = job;
    s->todo_tail = job;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return job;
}

void hk_resolver__cancel(hk_resolver *r, hk_resolve_job *job)
{
    shared *s = r->s;
    pthread_mutex_lock(&s->mu);
    hk_resolve_job *prev = NULL;
    for (hk_resolve_job *j = s->todo_head; j; prev = j, j = j->next) {
        if (j != job)
            continue;
        if (prev)
            prev->next = j->next;
        else
            s->todo_head = j->next;
        if (s->todo_tail == j)
            s->todo_tail = prev;
        pthread_mutex_unlock(&s->mu);
        job_free(job);
        return;
    }
    job->cancelled = true; /* running, or done and not yet seen by the loop: freed there */
    pthread_mutex_unlock(&s->mu);
}
