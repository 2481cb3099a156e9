/*
 * shards.h — hookd's wiring: the process (group) and its shards, each an event loop on its own
 * thread running one delivery pipeline (hk_pipeline.h). Private to cmd/hookd/.
 *
 *   shards.c  building the shards and what they share, running the loops, signals, the
 *             commands one shard's thread sends another (drain, finish, abort), teardown
 *   probes.c  /healthz and /readyz, and the beat that proves each loop turns
 */
#ifndef HK_SHARDS_H
#define HK_SHARDS_H

#include <pthread.h>
#include <stdatomic.h>

#include "api.h"
#include "http.h"

#include "hk_core.h"
#include "hk_pipeline.h"

typedef struct group group;

/* One shard: an event loop with its pipeline (its own consumers, producer and engine). Shards
 * share the task cache, the history writer, the retry policy and the allow list, all safe to
 * use from any thread; nothing else crosses between them but commands (wake_fd). */
typedef struct shard {
    group *g;
    int index;
    hk_loop *loop;
    hk_pipeline *pipeline;
    hk_timer *beat_timer;
    _Atomic uint64_t beat_ms; /* the loop's last turn of beat_timer, for /healthz */
    int wake_fd;              /* eventfd: another thread has a command for this shard */
    atomic_int command;       /* CMD_*, the strongest one sent since the last wake */
    pthread_t thread;
    bool thread_started;
} shard;

/* The process: what the shards share, and the shards. */
struct group {
    const hk_config *cfg;
    hk_retry_policy policy;
    hk_cidr_list *allow;
    hk_store_cache *cache;
    hk_store_history *history;
    hk_pipeline_shared shared; /* points at the above */
    hk_http *http;
    hk_http *probe_http; /* NULL when HOOKD_PROBE_LISTEN is empty */
    hk_http *api_http;   /* NULL unless HOOKD_API_LISTEN: the admin API on its own listener */
    hk_http_probes probes;
    atomic_bool started;  /* every shard built: the probes may look at them */
    atomic_bool stopping; /* a signal came: not ready any more */
    uint64_t stop_by;     /* the signal's time + the grace period: when the process is gone */
    hk_api *api;          /* NULL unless HOOKD_API_TOKEN is set */
    int sigfd;            /* served by shard 0's loop */
    bool signalled;       /* touched only on shard 0's thread */
    shard *shards;
    int n;
    atomic_int exit_status;
    /* Operational events the history writer's thread hands shard 0 to publish (notice_cb) */
    pthread_mutex_t notices_lock;
    struct notice *notices, **notices_tail;
};

/* Runs the worker until SIGTERM/SIGINT and a graceful drain. Returns the process exit status:
 * 0 after a clean stop, 1 on a runtime failure, 2 on bad configuration (err is filled). */
int hk_shards_run(const hk_config *cfg, hk_error *err);

/* probes.c: the probes (any thread, atomics only) and each loop's beat timer. */
int hk_probe_alive(void *arg, hk_buf *body);
int hk_probe_ready(void *arg, hk_buf *body);
void hk_probe_on_beat(hk_loop *loop, void *arg);

#endif
