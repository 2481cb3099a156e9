/*
 * metrics.c — the families store counts in (struct hk_store_metrics in hk_store.h): the
 * history writer's, the task cache's (its size and last reload) and Redis's state as the cache
 * last saw it.
 */
#include "hk_store.h"

#define LOOKUPS "hookd_task_cache_lookups_total"
#define LOOKUPS_HELP                                                                               \
    "Lookups of an event's flow in the in-memory task cache (a copy of every task, refreshed "     \
    "from Redis): hit, the flow has tasks; miss, it has none. Never a Redis round trip."

#define DISABLED "hookd_tasks_disabled_total"
#define DISABLED_HELP                                                                              \
    "Webhook tasks disabled by the worker: gone, the receiver answered 410 Gone; failing, every "  \
    "delivery failed finally for longer than HOOKD_DISABLE_AFTER."

struct hk_store_metrics hk_store_metrics = {
    .history_written = HK_COUNTER("hookd_history_written_total", NULL,
                                  "Attempt records written to the job history in Redis."),
    .history_dropped = HK_COUNTER("hookd_history_dropped_total", NULL,
                                  "Attempt records dropped because the history queue was full."),
    .tasks_disabled_gone = HK_COUNTER(DISABLED, "reason=\"gone\"", DISABLED_HELP),
    .tasks_disabled_failing = HK_COUNTER(DISABLED, "reason=\"failing\"", DISABLED_HELP),
    .task_disable_errors = HK_COUNTER("hookd_task_disable_errors_total", NULL,
                                      "Tasks a 410 Gone or HOOKD_DISABLE_AFTER should have "
                                      "disabled, left enabled because Redis refused or failed "
                                      "(or the failing mark could not be read or written); the "
                                      "next one tries again."),
    .task_reloads = HK_COUNTER("hookd_task_reloads_total", NULL, "Task cache reloads from Redis."),
    .task_reload_errors = HK_COUNTER("hookd_task_reload_errors_total", NULL,
                                     "Task cache reload failures and unreadable tasks skipped."),
    .task_cache_lookups_hit = HK_COUNTER(LOOKUPS, "result=\"hit\"", LOOKUPS_HELP),
    .task_cache_lookups_miss = HK_COUNTER(LOOKUPS, "result=\"miss\"", LOOKUPS_HELP),
    .redis_up = HK_GAUGE("hookd_redis_up", NULL,
                         "1 when the task cache's last poll of Redis succeeded, else 0."),
    .task_cache_tasks = HK_GAUGE("hookd_task_cache_tasks", NULL,
                                 "Webhook tasks in the task cache's snapshot in use."),
    .task_cache_flows = HK_GAUGE("hookd_task_cache_flows", NULL,
                                 "Flows and spaces with at least one task in the task cache's "
                                 "snapshot in use."),
    .task_cache_last_reload = HK_GAUGE("hookd_task_cache_last_reload_timestamp_seconds", NULL,
                                       "When the task cache last loaded every task from Redis "
                                       "(unix seconds): on a change, and at least every 30 s "
                                       "while Redis answers; 0 before the first."),
    .waits_registered = HK_COUNTER("hookd_inbound_waits_registered_total", NULL,
                                   "Waits registered (or replaced) on inbound endpoints through "
                                   "this process (the admin API); hookd-ingress claims them."),
};
HK_METRICS_REGISTER("store", hk_store_metrics)
