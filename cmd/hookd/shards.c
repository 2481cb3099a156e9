/*
 * shards.c — hookd's wiring: what the shards share (the retry policy, the allowed networks, the
 * task cache, the history writer, the HTTP listeners), one event loop per shard with its
 * pipeline (hk_pipeline.h) on its own thread, the signals, the commands between shards, and the
 * teardown in its order. The delivery pipeline itself is pipeline/'s.
 */
#include "shards.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

enum { CMD_NONE, CMD_DRAIN, CMD_FINISH, CMD_ABORT };

/* ---------------------------------------------------------------------------- commands --- */

/* Hands a shard a command; it acts on it on its own thread, at its loop's next turn. A stronger
 * command replaces a weaker one not yet seen (abort > finish > drain). */
static void send_command(shard *s, int cmd)
{
    int cur = atomic_load(&s->command);
    while (cur < cmd && !atomic_compare_exchange_weak(&s->command, &cur, cmd))
        ;
    uint64_t one = 1;
    ssize_t n = write(s->wake_fd, &one, sizeof one); /* cannot fail short of 2^64 - 1 wakes */
    (void)n;
}

static void send_all(group *g, int cmd)
{
    for (int i = 0; i < g->n; i++)
        if (g->shards[i].wake_fd >= 0)
            send_command(&g->shards[i], cmd);
}

/* A fatal error in one shard: every shard stops where it is, storing nothing more; whatever is
 * unfinished is redelivered to the partitions' next owner. */
static void abort_all(void *arg)
{
    group *g = arg;
    atomic_store(&g->exit_status, 1);
    send_all(g, CMD_ABORT);
}

/* ------------------------------------------------------------- operational events --- */

/* An operational event on its way from the history writer's thread to shard 0's producer. */
struct notice {
    char *key;
    char *json;
    struct notice *next;
};

/* The history writer disabled a task (its swap changed it: this worker alone tells): the
 * task.disabled event goes to shard 0's loop, which publishes it on <prefix>events. */
static void notice_cb(const hk_store_disabled *d, void *arg)
{
    group *g = arg;
    struct notice *n = hk_xcalloc(1, sizeof *n);
    n->key = hk_strdup(d->webhook_id);
    n->json = hk_event_task_disabled_json(g->shared.group_id, d->webhook_id, d->flow_id,
                                          d->space_id, d->name, d->reason, d->disabled_at);
    pthread_mutex_lock(&g->notices_lock);
    *g->notices_tail = n;
    g->notices_tail = &n->next;
    pthread_mutex_unlock(&g->notices_lock);
    uint64_t one = 1;
    ssize_t w = write(g->shards[0].wake_fd, &one, sizeof one);
    (void)w;
}

static struct notice *take_notices(group *g)
{
    pthread_mutex_lock(&g->notices_lock);
    struct notice *n = g->notices;
    g->notices = NULL;
    g->notices_tail = &g->notices;
    pthread_mutex_unlock(&g->notices_lock);
    return n;
}

/* On shard 0's loop: publish, or (teardown, loop gone) drop with a word. */
static void publish_notices(group *g, hk_pipeline *p)
{
    for (struct notice *n = take_notices(g), *next; n; n = next) {
        next = n->next;
        if (p)
            hk_pipeline_publish_event(p, n->key, n->json);
        else
            HK_WARN("operational.lost", "task.disabled for webhook %s not published: stopping",
                    n->key);
        free(n->key);
        free(n->json);
        free(n);
    }
}

static void on_wake(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    shard *s = arg;
    uint64_t count;
    ssize_t n = read(fd, &count, sizeof count);
    (void)n;
    if (s->index == 0)
        publish_notices(s->g, s->pipeline);
    switch (atomic_exchange(&s->command, CMD_NONE)) {
    case CMD_DRAIN:
        hk_pipeline_drain(s->pipeline);
        break;
    case CMD_FINISH:
        hk_pipeline_finish(s->pipeline);
        break;
    case CMD_ABORT:
        hk_loop_stop(s->loop);
        break;
    default:
        break;
    }
}

static void on_signal(hk_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    group *g = arg;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (g->signalled) {
            HK_WARN("shutdown", "second signal: stopping now");
            send_all(g, CMD_FINISH);
            return;
        }
        g->signalled = true;
        atomic_store(&g->stopping, true);
        g->stop_by = hk_now_ms() + (uint64_t)g->cfg->shutdown_grace_ms;
        HK_INFO("shutdown", "signal %u: finishing the events in progress on %d loop%s",
                si.ssi_signo, g->n, g->n == 1 ? "" : "s");
        send_all(g, CMD_DRAIN);
    }
}

/* ------------------------------------------------------------------------------- run --- */

static void *shard_main(void *arg)
{
    shard *s = arg;
    hk_loop_run(s->loop);
    return NULL;
}

/* Builds shard i: its loop, its wake-up eventfd, its beat and its pipeline. Returns HK_OK,
 * HK_EINVAL (a setting was refused) or HK_ERR. */
static int shard_create(group *g, int i, hk_error *err)
{
    shard *s = &g->shards[i];
    s->g = g;
    s->index = i;
    atomic_init(&s->command, CMD_NONE);
    if (!(s->loop = hk_loop_create()))
        return hk_error_set(err, HK_ERR, NULL, "cannot create event loop %d", i);
    s->beat_timer = hk_timer_create(s->loop, hk_probe_on_beat, s);
    atomic_store(&s->beat_ms, hk_now_ms());
    hk_timer_start(s->beat_timer, 0);
    if ((s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return hk_error_set(err, HK_ERR, NULL, "eventfd: %s", strerror(errno));
    hk_loop_io(s->loop, s->wake_fd, HK_IO_READ, on_wake, s);
    return hk_pipeline_create(s->loop, &g->shared, i, g->n, &s->pipeline, err);
}

/* hk_shards_run's steps, in its order. Each that can fail returns 0, or the exit status (2 for a
 * bad setting, 1 otherwise) with err set; hk_shards_run then tears down what was made. */

/* The retry policy, the allowed networks (with a warning when they open everything) and the
 * tiers' metric labels, before /metrics can be scraped. */
static int run_policy(group *g, hk_error *err)
{
    const hk_config *cfg = g->cfg;
    if (hk_retry_policy_init(&g->policy, cfg->retry_delays, cfg->retry_max_attempts,
                             "HOOKD_RETRY_DELAYS", err) != HK_OK ||
        hk_cidr_list_parse(cfg->allow_networks, &g->allow, err) != HK_OK ||
        hk_delivery_check_proxy(cfg->http_proxy, err) != HK_OK)
        return 2; /* bad configuration, before anything connects */
    bool all4 = hk_cidr_list_covers_all(g->allow, AF_INET),
         all6 = hk_cidr_list_covers_all(g->allow, AF_INET6);
    if (all4 || all6)
        HK_WARN("config.allow_networks",
                "HOOKD_ALLOW_NETWORKS covers every %s address: the private-address guard is off, "
                "and webhooks can reach loopback, private and cloud-metadata addresses",
                all4 && all6 ? "IPv4 and IPv6"
                : all4       ? "IPv4"
                             : "IPv6");
    const char *tier_names[HK_RETRY_MAX_TIERS];
    for (size_t t = 0; t < g->policy.tiers; t++)
        tier_names[t] = g->policy.names[t];
    hk_pipeline_metrics_set_tiers(tier_names, g->policy.tiers);
    return 0;
}

/* The admin API (when a token is set), the HTTP listener, the admin API's own listener
 * (HOOKD_API_LISTEN: then HOOKD_LISTEN serves no /v1) and the probe listener. */
static int run_listen(group *g, hk_error *err)
{
    const hk_config *cfg = g->cfg;
    int rc;
    if (cfg->api_token && *cfg->api_token && (rc = hk_api_create(cfg, &g->api, err)) != HK_OK)
        return rc == HK_EINVAL ? 2 : 1;
    bool api_apart = cfg->api_listen && *cfg->api_listen;
    if (api_apart && !g->api) {
        hk_error_set(err, HK_EINVAL, "HOOKD_API_LISTEN",
                     "is set, but the admin API is off (HOOKD_API_TOKEN is not set)");
        return 2;
    }
    g->probes = (hk_http_probes){.alive = hk_probe_alive, .ready = hk_probe_ready, .arg = g};
    if ((rc = hk_http_start(cfg->listen, &g->probes, api_apart ? NULL : g->api, api_apart, &g->http,
                            err)) != HK_OK ||
        (api_apart &&
         (rc = hk_http_start_api(cfg->api_listen, g->api, &g->api_http, err)) != HK_OK) ||
        (cfg->probe_listen && *cfg->probe_listen &&
         (rc = hk_http_start_probes(cfg->probe_listen, &g->probes, &g->probe_http, err)) != HK_OK))
        return rc == HK_EINVAL ? 2 : 1;
    return 0;
}

/* The task cache, the history writer, what the pipelines share, and the shards. */
static int run_shards(group *g, const hk_store_config *scfg, hk_error *err)
{
    const hk_config *cfg = g->cfg;
    int rc;
    if ((rc = hk_store_cache_create(scfg, 500, 30000, &g->cache, err)) != HK_OK ||
        (rc = hk_store_history_create(scfg, 100000, &g->history, err)) != HK_OK)
        return rc == HK_EINVAL ? 2 : 1; /* a bad HOOKD_REDIS_URL is bad input */
    /* A delivered attempt reaches Redis within 1.5 intervals (pipeline/health.c): a mark is
     * judged old only past the rule and two intervals, so no delivery is overtaken. */
    hk_store_history_set_health(g->history, cfg->disable_after_ms,
                                2 * hk_pipeline_health_interval(cfg->disable_after_ms), notice_cb,
                                g);
    g->shared = (hk_pipeline_shared){
        .cfg = cfg,
        .policy = &g->policy,
        .allow = g->allow,
        .cache = g->cache,
        .history = g->history,
        .group_id = hk_config_kafka(cfg, "group.id"), /* always set: the config defaults it */
        .on_fatal = abort_all,
        .fatal_arg = g,
    };
    hk_pipeline_shared_topics(&g->shared, cfg->topic_prefix);
    g->n = cfg->threads < cfg->max_inflight ? cfg->threads : cfg->max_inflight;
    if (g->n < 1)
        g->n = 1;
    g->shards = hk_xcalloc((size_t)g->n, sizeof *g->shards);
    for (int i = 0; i < g->n; i++)
        g->shards[i].wake_fd = -1;
    for (int i = 0; i < g->n; i++) {
        if ((rc = shard_create(g, i, err)) != HK_OK)
            return rc == HK_EINVAL ? 2 : 1;
    }
    return 0;
}

static void run_announce(group *g)
{
    const hk_config *cfg = g->cfg;
    hk_store_snapshot *snap = hk_store_cache_acquire(g->cache);
    HK_INFO("start", "hookd %s consuming %s as group %s on %d loop%s; %zu webhook tasks loaded",
            HK_VERSION, cfg->topics[0], hk_config_kafka(cfg, "group.id"), g->n,
            g->n == 1 ? "" : "s", hk_store_snapshot_size(snap));
    hk_store_snapshot_release(snap);
    HK_INFO("http", "health, readiness and metrics%s on %s (port %u)",
            g->api && !g->api_http ? ", and the admin API under /v1," : "", cfg->listen,
            (unsigned)hk_http_port(g->http));
    if (g->api_http)
        HK_INFO("http.api", "the admin API under /v1 on %s (port %u) alone (HOOKD_API_LISTEN)",
                cfg->api_listen, (unsigned)hk_http_port(g->api_http));
    if (g->probe_http)
        HK_INFO("http.probes", "health and readiness on %s (port %u)", cfg->probe_listen,
                (unsigned)hk_http_port(g->probe_http));
    else
        HK_INFO("http.probes", "no probe listener (HOOKD_PROBE_LISTEN is empty)");
}

/* Shard 0's loop on this thread, the others on their own; returns when all have stopped. */
static void run_loops(group *g)
{
    int rc;
    for (int i = 1; i < g->n; i++) {
        shard *s = &g->shards[i];
        if ((rc = pthread_create(&s->thread, NULL, shard_main, s)) != 0) {
            HK_ERROR("start", "cannot start loop %d: %s", i, strerror(rc));
            abort_all(g);
            break;
        }
        s->thread_started = true;
    }
    hk_loop_run(g->shards[0].loop);
    for (int i = 1; i < g->n; i++)
        if (g->shards[i].thread_started)
            pthread_join(g->shards[i].thread, NULL);
}

/* Everything run made, whatever step it reached. Order matters: every shard's consumers commit
 * on close before any pipeline goes; the producers then flush outcome records. */
static void run_teardown(group *g)
{
    hk_http_stop(g->probe_http);
    hk_http_stop(g->api_http);
    hk_http_stop(g->http);
    hk_api_destroy(g->api);
    for (int i = 0; g->shards && i < g->n; i++)
        hk_pipeline_close_consumers(g->shards[i].pipeline);
    for (int i = 0; g->shards && i < g->n; i++) {
        /* Outcome records still queued get what is left of the grace period (everything the
         * offsets depend on was acknowledged before the loops stopped). */
        uint64_t now = hk_now_ms();
        int flush_ms = !g->stop_by ? 5000 : g->stop_by > now + 100 ? (int)(g->stop_by - now) : 100;
        hk_pipeline_destroy(g->shards[i].pipeline, flush_ms);
    }
    hk_store_history_destroy(g->history);
    publish_notices(g, NULL);
    hk_store_cache_destroy(g->cache);
    if (g->sigfd >= 0)
        close(g->sigfd);
    for (int i = 0; g->shards && i < g->n; i++) {
        shard *s = &g->shards[i];
        hk_timer_destroy(s->beat_timer);
        if (s->wake_fd >= 0)
            close(s->wake_fd);
        hk_loop_destroy(s->loop);
    }
    free(g->shards);
    hk_cidr_list_destroy(g->allow);
}

int hk_shards_run(const hk_config *cfg, hk_error *err)
{
    group g = {.cfg = cfg, .sigfd = -1, .notices_lock = PTHREAD_MUTEX_INITIALIZER};
    g.notices_tail = &g.notices;
    int status;
    atomic_init(&g.exit_status, 0);
    atomic_init(&g.started, false);
    atomic_init(&g.stopping, false);
    hk_store_config scfg = hk_store_config_of(cfg);
    if ((status = run_policy(&g, err)) != 0)
        goto done;
    /* Before any thread starts (ours, libmicrohttpd's, librdkafka's), so that every thread
     * inherits the mask and the signals reach only the signalfd. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((status = run_listen(&g, err)) != 0 || (status = run_shards(&g, &scfg, err)) != 0)
        goto done;
    g.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    hk_loop_io(g.shards[0].loop, g.sigfd, HK_IO_READ, on_signal, &g);

    run_announce(&g);
    atomic_store(&g.started, true);
    run_loops(&g);
    status = atomic_load(&g.exit_status);
done:
    run_teardown(&g);
    return status;
}
