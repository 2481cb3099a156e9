/*
 * history.c — the delivery-history writer. The loop thread queues attempt records (bounded;
 * overflow is dropped and counted, because Kafka's hookd.deliveries holds the durable record);
 * a background thread pipelines one LPUSH + LTRIM + EXPIRE per job to Redis, and one HSET of
 * the batch's delivery-index entries (deliveries.c).
 *
 * The writer lingers LINGER_MS after the first record of a batch before it writes, as Kafka's
 * producer does: a fan-out's records then share one LPUSH, Redis sees a few large pipelines a
 * second instead of one small one per job, and the writer thread wakes (and preempts the loop
 * thread on a busy machine) at most 1000 / LINGER_MS times a second.
 */
#include "conn.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 2048
#define LINGER_MS 10

typedef struct record {
    char *key;  /* the job's history key; the task id for a disable */
    char *json; /* the attempt record; the reason for a disable */
    bool disable;
    hk_store_history_ref ref; /* an attempt's index entry: strings in the same allocation */
    char notice; /* a task-health notice for failing.c (NOTICE_*), key the task id; else 0 */
    struct record *next;
} record;

struct hk_store_history {
    hk_store__cfg cfg;
    size_t queue_max;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    record *head, *tail;
    size_t queued;
    redisContext *rc;
    bool outage_logged;
    hk_store *store;   /* the task connection (same cfg), opened on the first disable */
    hk_buf index_text; /* a batch's index entries (append_index), reused */
    hk_store__health health;
};

enum { NOTICE_FAILED = 1, NOTICE_FAILED_RESET, NOTICE_DELIVERED };

static void record_free(record *r)
{
    if (r->disable || r->notice) { /* their own strings; an attempt's share its allocation */
        free(r->key);
        free(r->json);
    }
    free(r);
}

/* Records of one job together, in arrival order within the job. */
typedef struct ordered {
    const record *r;
    size_t index;
} ordered;

static int by_key_then_arrival(const void *a, const void *b)
{
    const ordered *x = a, *y = b;
    int c = strcmp(x->r->key, y->r->key);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Appends one HSET of the batch's index entries to the current hour's hash, and its EXPIRE
 * (deliveries.c has the layout). Returns the commands appended. */
static size_t append_index(hk_store_history *h, const record *batch, size_t n)
{
    char *key = hk_store__index_key(&h->cfg, hk_wall_ms());
    hk_store__piece *pieces = hk_xmalloc(4 * n * sizeof *pieces);
    size_t np = 0;
    for (const record *r = batch; r; r = r->next)
        hk_store__index_entry(&r->ref, &h->index_text, pieces, &np);
    if (np == 0) { /* every attempt delivered, every event kept already: HSET needs a field */
        free(pieces);
        free(key);
        return 0;
    }
    const char **argv = hk_xmalloc((2 + np) * sizeof *argv);
    size_t *argvlen = hk_xmalloc((2 + np) * sizeof *argvlen);
    argv[0] = "HSET";
    argvlen[0] = 4;
    argv[1] = key;
    argvlen[1] = strlen(key);
    hk_store__index_argv(&h->index_text, pieces, np, argv + 2, argvlen + 2);
    redisAppendCommandArgv(h->rc, (int)(2 + np), argv, argvlen);
    redisAppendCommand(h->rc, "EXPIRE %s %d", key, HK_STORE_HISTORY_TTL_S);
    h->index_text.len = 0; /* hiredis copied the command */
    free(pieces);
    free(argv);
    free(argvlen);
    free(key);
    return 2;
}

/* Writes a batch; on failure the batch is dropped (counted) and the connection reset. A job's
 * records in one batch share one variadic LPUSH, one LTRIM and one EXPIRE, pushed in arrival
 * order so the newest ends up first. */
static void write_batch(hk_store_history *h, record *batch)
{
    size_t n = 0;
    hk_error err = {0};
    if (!h->rc && !(h->rc = hk_store__connect(&h->cfg, &err))) {
        if (!h->outage_logged)
            HK_WARN("history.unavailable", "dropping history records: %s", err.msg);
        h->outage_logged = true;
    }
    for (record *r = batch; r; r = r->next)
        n++;
    if (!h->rc) {
        hk_counter_add(&hk_store_metrics.history_dropped, n);
        return;
    }
    ordered *sorted = hk_xmalloc(n * sizeof *sorted);
    size_t i = 0;
    for (record *r = batch; r; r = r->next, i++)
        sorted[i] = (ordered){.r = r, .index = i};
    qsort(sorted, n, sizeof *sorted, by_key_then_arrival);
    const char **argv = hk_xmalloc((n + 2) * sizeof *argv);
    size_t *argvlen = hk_xmalloc((n + 2) * sizeof *argvlen);
    size_t commands = 0;
    for (i = 0; i < n;) {
        const char *key = sorted[i].r->key;
        int argc = 2;
        argv[0] = "LPUSH";
        argvlen[0] = 5;
        argv[1] = key;
        argvlen[1] = strlen(key);
        for (; i < n && strcmp(sorted[i].r->key, key) == 0; i++) {
            argv[argc] = sorted[i].r->json;
            argvlen[argc++] = strlen(sorted[i].r->json);
        }
        redisAppendCommandArgv(h->rc, argc, argv, argvlen);
        redisAppendCommand(h->rc, "LTRIM %s 0 %d", key, HK_STORE_HISTORY_CAP - 1);
        redisAppendCommand(h->rc, "EXPIRE %s %d", key, HK_STORE_HISTORY_TTL_S);
        commands += 3;
    }
    free(argv);
    free(argvlen);
    free(sorted);
    commands += append_index(h, batch, n);
    bool ok = true;
    for (size_t c = 0; c < commands; c++) {
        redisReply *reply = NULL;
        if (redisGetReply(h->rc, (void **)&reply) != REDIS_OK) {
            ok = false;
            break;
        }
        if (reply->type == REDIS_REPLY_ERROR)
            ok = false;
        freeReplyObject(reply);
    }
    if (!ok) {
        hk_counter_add(&hk_store_metrics.history_dropped, n);
        redisFree(h->rc);
        h->rc = NULL;
        return;
    }
    h->outage_logged = false;
    hk_counter_add(&hk_store_metrics.history_written, n);
}

/* Moves the disable requests out of a batch, in order. */
static record *take_disables(record **batch)
{
    record *head = NULL, **tail = &head;
    for (record **pp = batch; *pp;) {
        record *r = *pp;
        if (!r->disable && !r->notice) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        r->next = NULL;
        *tail = r;
        tail = &r->next;
    }
    return head;
}

static void disable_task(hk_store_history *h, const record *r)
{
    hk_error err = {0};
    bool changed = false;
    hk_task *t = NULL;
    int rc = HK_ERR;
    if (h->store || hk_store__open(&h->cfg, &h->store, &err) == HK_OK)
        rc = hk_store__task_disable(h->store, r->key, r->json, hk_wall_ms(), &changed, &t, &err);
    if (rc == HK_OK || rc == HK_ENOTFOUND) {
        if (changed)
            hk_store__disabled(&h->health, t, "gone");
        hk_task_destroy(t);
        return;
    }
    hk_counter_add(&hk_store_metrics.task_disable_errors, 1);
    HK_ERROR("task.disable.failed", "webhook task %s could not be disabled: %s", r->key, err.msg);
    if (rc != HK_EINVAL) { /* a connection problem: reconnect next time */
        hk_store_close(h->store);
        h->store = NULL;
    }
}

static void *writer(void *arg)
{
    hk_store_history *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!h->head && !h->stop)
            pthread_cond_wait(&h->wake, &h->lock);
        if (!h->head && h->stop)
            break;
        if (!h->stop && h->queued < BATCH) {
            /* Linger, so that this wake-up carries a batch (see the top of the file). */
            pthread_mutex_unlock(&h->lock);
            nanosleep(&(struct timespec){.tv_nsec = LINGER_MS * 1000000L}, NULL);
            pthread_mutex_lock(&h->lock);
        }
        record *batch = h->head, *last = h->head;
        size_t n = 1;
        while (last->next && n < BATCH) {
            last = last->next;
            n++;
        }
        h->head = last->next;
        if (!h->head)
            h->tail = NULL;
        last->next = NULL;
        h->queued -= n;
        pthread_mutex_unlock(&h->lock);
        record *disables = take_disables(&batch);
        if (batch)
            write_batch(h, batch);
        for (record *r = disables; r; r = r->next)
            if (r->notice == NOTICE_DELIVERED)
                hk_store__task_delivered(&h->store, &h->cfg, r->key);
            else if (r->notice)
                hk_store__task_failed(&h->store, &h->cfg, &h->health, r->key,
                                      r->notice == NOTICE_FAILED_RESET);
            else
                disable_task(h, r);
        while (disables) {
            record *next = disables->next;
            record_free(disables);
            disables = next;
        }
        while (batch) {
            record *next = batch->next;
            record_free(batch);
            batch = next;
        }
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int hk_store_history_create(const hk_store_config *cfg, size_t queue_max, hk_store_history **out,
                            hk_error *err)
{
    hk_store_history *h = hk_xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    h->queue_max = queue_max ? queue_max : 100000;
    int rc = hk_store__cfg_init(&h->cfg, cfg, err);
    if (rc != HK_OK)
        goto error;
    rc = HK_ERR;
    if (pthread_create(&h->thread, NULL, writer, h) != 0) {
        hk_error_set(err, HK_ERR, NULL, "cannot start the history writer thread");
        goto error;
    }
    h->thread_started = true;
    *out = h;
    return HK_OK;
error:
    hk_store_history_destroy(h);
    return rc;
}

void hk_store_history_destroy(hk_store_history *h)
{
    if (!h)
        return;
    if (h->thread_started) {
        /* The writer drains what is queued before it sees stop. */
        pthread_mutex_lock(&h->lock);
        h->stop = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
    }
    while (h->head) {
        record *next = h->head->next;
        record_free(h->head);
        h->head = next;
    }
    if (h->rc)
        redisFree(h->rc);
    hk_store_close(h->store);
    hk_store__cfg_free(&h->cfg);
    hk_buf_free(&h->index_text);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->wake);
    free(h);
}

/* Appends r and unlocks. */
static void enqueue(hk_store_history *h, record *r)
{
    if (h->tail)
        h->tail->next = r;
    else
        h->head = r;
    h->tail = r;
    /* The writer only sleeps on an empty queue: waking it once per batch, not per record,
     * saves a futex call and a context switch on every delivery. */
    if (h->queued++ == 0)
        pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
}

/* Copies s (len bytes) to *at and moves *at past its NUL. */
static const char *put(char **at, const char *s, size_t len)
{
    char *copy = *at;
    memcpy(copy, s, len);
    copy[len] = '\0';
    *at += len + 1;
    return copy;
}

void hk_store_history_add(hk_store_history *h, const hk_store_history_ref *ref,
                          const char *record_json)
{
    /* One allocation: the record, then its strings. */
    const char *prefix = h->cfg.prefix;
    size_t lp = strlen(prefix), lj = strlen(ref->job_id), lr = strlen(record_json);
    size_t ld = strlen(ref->delivery_id), le = strlen(ref->event_id);
    size_t lw = strlen(ref->webhook_id);
    size_t lev = ref->event && ref->event_len <= HK_STORE_EVENT_KEEP_MAX ? ref->event_len : 0;
    static const char job[] = "job:", deliveries[] = ":deliveries";
    size_t lk = lp + sizeof job - 1 + lj + sizeof deliveries - 1;
    record *r = hk_xmalloc(sizeof *r + lk + lr + lj + ld + le + lw + lev + 7);
    char *at = (char *)(r + 1);
    r->key = at;
    memcpy(at, prefix, lp);
    memcpy(at + lp, job, sizeof job - 1);
    memcpy(at + lp + sizeof job - 1, ref->job_id, lj);
    memcpy(at + lp + sizeof job - 1 + lj, deliveries, sizeof deliveries);
    at += lk + 1;
    r->json = (char *)put(&at, record_json, lr);
    r->disable = false;
    r->notice = 0;
    r->next = NULL;
    r->ref = (hk_store_history_ref){
        .job_id = put(&at, ref->job_id, lj),
        .delivery_id = put(&at, ref->delivery_id, ld),
        .event_id = put(&at, ref->event_id, le),
        .webhook_id = put(&at, ref->webhook_id, lw),
        .attempt = ref->attempt,
        .index = ref->index,
        .event = lev ? put(&at, ref->event, lev) : NULL,
        .event_len = lev,
    };
    pthread_mutex_lock(&h->lock);
    if (h->queued >= h->queue_max) {
        pthread_mutex_unlock(&h->lock);
        free(r);
        hk_counter_add(&hk_store_metrics.history_dropped, 1);
        return;
    }
    enqueue(h, r);
}

void hk_store_history_disable_task(hk_store_history *h, const char *id, const char *reason)
{
    record *r = hk_xcalloc(1, sizeof *r);
    r->key = hk_strdup(id);
    r->json = hk_strdup(reason);
    r->disable = true;
    pthread_mutex_lock(&h->lock);
    enqueue(h, r);
}

void hk_store_history_set_health(hk_store_history *h, uint64_t disable_after_ms, uint64_t slack_ms,
                                 hk_store_disabled_cb cb, void *arg)
{
    h->health = (hk_store__health){
        .after_ms = disable_after_ms, .slack_ms = slack_ms, .cb = cb, .arg = arg};
}

static void notice(hk_store_history *h, const char *id, char kind)
{
    record *r = hk_xcalloc(1, sizeof *r);
    r->key = hk_strdup(id);
    r->notice = kind;
    pthread_mutex_lock(&h->lock);
    enqueue(h, r);
}

void hk_store_history_task_failed(hk_store_history *h, const char *id, bool reset)
{
    notice(h, id, reset ? NOTICE_FAILED_RESET : NOTICE_FAILED);
}

void hk_store_history_task_delivered(hk_store_history *h, const char *id)
{
    notice(h, id, NOTICE_DELIVERED);
}
