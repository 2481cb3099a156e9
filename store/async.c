/*
 * async.c — one Redis connection driven by an hk_loop (hiredis's async API, with the loop as
 * its event library): a command is written when the socket is writable and its reply handed to
 * a callback on the loop's thread, so the loop never waits for Redis, and commands issued in one
 * turn leave in one write (pipelined). It connects on first use, AUTHs and SELECTs by queueing
 * those commands first, and connects again after a failure, at most once a second.
 *
 * hiredis 0.14 has no timeouts of its own: a command in flight longer than the config's
 * timeout_ms fails the connection (every command in flight fails with it, each callback runs
 * once with no reply) and the next command connects again. Redis answers in order, so the
 * oldest command in flight is the one to watch.
 */
#include "conn.h"

#include <hiredis/async.h>
#include <stdarg.h>
#include <stdlib.h>

#define RECONNECT_MS 1000u
#define CHECK_MS 100u

typedef struct op {
    struct op *prev, *next;
    uint64_t deadline_ms;
    hk_store__async_cb cb; /* NULL for the connection's own AUTH and SELECT */
    void *arg;
    hk_store_async *a;
} op;

struct hk_store_async {
    hk_store__cfg cfg;
    hk_loop *loop;
    redisAsyncContext *ac; /* NULL while not connected */
    int fd;
    unsigned watching; /* HK_IO_READ|HK_IO_WRITE asked of the loop for fd */
    bool connected;    /* the connect completed: writes go out from flush_timer */
    bool want_write;   /* hiredis has output to write */
    hk_timer *flush_timer;
    hk_timer *timer; /* timeouts of the commands in flight */
    uint64_t retry_at_ms;
    op *head, *tail; /* in flight, oldest first */
    bool logged_down;
};

/* ---------------------------------------------------------------- the loop as hiredis's --- */

static void on_io(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    hk_store_async *a = arg;
    if (a->ac && (events & (HK_IO_READ | HK_IO_ERROR)))
        redisAsyncHandleRead(a->ac); /* may free the context: ev_cleanup clears a->ac */
    if (a->ac && (events & HK_IO_WRITE))
        redisAsyncHandleWrite(a->ac);
}

static void watch(hk_store_async *a, unsigned want)
{
    if (want == a->watching || a->fd < 0)
        return;
    a->watching = want;
    hk_loop_io(a->loop, a->fd, want, on_io, a);
}

static void ev_add_read(void *p)
{
    watch(p, ((hk_store_async *)p)->watching | HK_IO_READ);
}
static void ev_del_read(void *p)
{
    watch(p, ((hk_store_async *)p)->watching & ~HK_IO_READ);
}
/* Output to write. Once connected, it goes out at the end of this loop turn (a timer of 0 ms),
 * every command of the turn in one write, with no change to the fd's watch: the socket is
 * nearly always writable. Only a write that could not finish watches for writability. Before
 * the connect completes, writability is what says it did. */
static void ev_add_write(void *p)
{
    hk_store_async *a = p;
    a->want_write = true;
    if (!a->connected)
        watch(a, a->watching | HK_IO_WRITE);
    else if (!(a->watching & HK_IO_WRITE) && !hk_timer_active(a->flush_timer))
        hk_timer_start(a->flush_timer, 0);
}

static void ev_del_write(void *p)
{
    hk_store_async *a = p;
    a->want_write = false;
    watch(a, a->watching & ~HK_IO_WRITE);
}

static void on_flush(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_store_async *a = arg;
    if (a->ac && a->want_write)
        redisAsyncHandleWrite(a->ac); /* calls ev_del_write when all is out */
    if (a->ac && a->want_write)
        watch(a, a->watching | HK_IO_WRITE);
}

/* hiredis frees the context (after running every pending callback with no reply). */
static void ev_cleanup(void *p)
{
    hk_store_async *a = p;
    if (a->fd >= 0 && a->watching)
        hk_loop_io(a->loop, a->fd, 0, NULL, NULL);
    a->fd = -1;
    a->watching = 0;
    a->connected = false;
    a->want_write = false;
    hk_timer_stop(a->flush_timer);
    a->ac = NULL;
    a->retry_at_ms = hk_now_ms() + RECONNECT_MS;
}

/* ------------------------------------------------------------------------- commands --- */

static void unlink_op(op *o)
{
    hk_store_async *a = o->a;
    if (o->prev)
        o->prev->next = o->next;
    else
        a->head = o->next;
    if (o->next)
        o->next->prev = o->prev;
    else
        a->tail = o->prev;
}

static void down(hk_store_async *a, const char *why)
{
    if (!a->logged_down)
        HK_WARN("redis", "redis %s:%d: %s", a->cfg.host, a->cfg.port, why);
    a->logged_down = true;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    op *o = privdata;
    redisReply *r = reply;
    unlink_op(o);
    if (!o->cb) { /* AUTH or SELECT: Redis's words name neither the password nor the key */
        if (!r || r->type == REDIS_REPLY_ERROR) {
            down(o->a, r ? r->str : "the connection failed while authenticating");
            if (r)
                redisAsyncDisconnect(ac); /* every command after it fails too */
        }
    } else {
        if (!r)
            down(o->a, ac->errstr[0] ? ac->errstr : "the connection failed");
        else
            o->a->logged_down = false;
        o->cb(r, o->arg);
    }
    free(o);
}

static op *new_op(hk_store_async *a, hk_store__async_cb cb, void *arg)
{
    op *o = hk_xcalloc(1, sizeof *o);
    *o = (op){.prev = a->tail, .cb = cb, .arg = arg, .a = a};
    o->deadline_ms = hk_now_ms() + (uint64_t)a->cfg.timeout_ms;
    if (a->tail)
        a->tail->next = o;
    else
        a->head = o;
    a->tail = o;
    if (!hk_timer_active(a->timer))
        hk_timer_start(a->timer, CHECK_MS);
    return o;
}

/* The oldest command is overdue: the connection is dropped, failing every command in flight. */
static void on_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_store_async *a = arg;
    if (a->head && a->ac && hk_now_ms() >= a->head->deadline_ms) {
        down(a, "no answer in time; connecting again");
        redisAsyncFree(a->ac);
    }
    if (a->head)
        hk_timer_start(a->timer, CHECK_MS);
}

static void on_connected(const redisAsyncContext *ac, int status)
{
    hk_store_async *a = ac->data;
    if (status != REDIS_OK)
        down(a, ac->errstr);
    else
        a->connected = true;
}

static bool connect_now(hk_store_async *a)
{
    if (hk_now_ms() < a->retry_at_ms)
        return false;
    redisAsyncContext *ac = redisAsyncConnect(a->cfg.host, a->cfg.port);
    if (!ac || ac->err) {
        down(a, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        a->retry_at_ms = hk_now_ms() + RECONNECT_MS;
        return false;
    }
    a->ac = ac;
    a->fd = ac->c.fd;
    ac->data = a;
    ac->ev.data = a;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connected);
    /* Queued first: sent as soon as the socket connects, before any command of ours. */
    if (a->cfg.password && a->cfg.user)
        redisAsyncCommand(ac, on_reply, new_op(a, NULL, NULL), "AUTH %s %s", a->cfg.user,
                          a->cfg.password);
    else if (a->cfg.password)
        redisAsyncCommand(ac, on_reply, new_op(a, NULL, NULL), "AUTH %s", a->cfg.password);
    if (a->cfg.db)
        redisAsyncCommand(ac, on_reply, new_op(a, NULL, NULL), "SELECT %d", a->cfg.db);
    return true;
}

int hk_store__async_argv(hk_store_async *a, hk_store__async_cb cb, void *arg, int argc,
                         const char **argv, const size_t *argvlen)
{
    if (!a->ac && !connect_now(a))
        return HK_ERR;
    op *o = new_op(a, cb, arg);
    if (redisAsyncCommandArgv(a->ac, on_reply, o, argc, argv, argvlen) != REDIS_OK) {
        unlink_op(o);
        free(o);
        return HK_ERR;
    }
    return HK_OK;
}

int hk_store__async_command(hk_store_async *a, hk_store__async_cb cb, void *arg, const char *fmt,
                            ...)
{
    if (!a->ac && !connect_now(a))
        return HK_ERR;
    op *o = new_op(a, cb, arg);
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(a->ac, on_reply, o, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) { /* the context is being freed or disconnected */
        unlink_op(o);
        free(o);
        return HK_ERR;
    }
    return HK_OK;
}

/* ----------------------------------------------------------------------- life cycle --- */

int hk_store_async_open(const hk_store_config *cfg, hk_loop *loop, hk_store_async **out,
                        hk_error *err)
{
    hk_store_async *a = hk_xcalloc(1, sizeof *a);
    int rc = hk_store__cfg_init(&a->cfg, cfg, err);
    if (rc != HK_OK) {
        free(a);
        return rc;
    }
    a->loop = loop;
    a->fd = -1;
    a->timer = hk_timer_create(loop, on_timer, a);
    a->flush_timer = hk_timer_create(loop, on_flush, a);
    *out = a;
    return HK_OK;
}

void hk_store_async_close(hk_store_async *a)
{
    if (!a)
        return;
    if (a->ac)
        redisAsyncFree(a->ac); /* every command in flight fails, its callback run */
    hk_timer_destroy(a->timer);
    hk_timer_destroy(a->flush_timer);
    hk_store__cfg_free(&a->cfg);
    free(a);
}

const char *hk_store__async_prefix(const hk_store_async *a)
{
    return a->cfg.prefix;
}
