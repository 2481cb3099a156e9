/*
 * facts.c — the engine's result of an attempt, translated into the facts the retry decision
 * reads (hk_retry_facts). Pure: tables from the delivery module's enums to the retry module's,
 * which know nothing of each other.
 */
#include "hk_pipeline.h"

hk_retry_facts hk_pipeline_facts(const hk_delivery_result *res, const hk_task *task, int number,
                                 int deferrals, bool handing_off, bool owns, uint64_t now_ms)
{
    static const hk_retry_transport transport[] = {
        [HK_DELIVERY_OK] = HK_TRANSPORT_OK,
        [HK_DELIVERY_RETRY] = HK_TRANSPORT_RETRY,
        [HK_DELIVERY_ERROR] = HK_TRANSPORT_ERROR,
        [HK_DELIVERY_CANCELLED] = HK_TRANSPORT_CANCELLED,
        [HK_DELIVERY_DEFERRED] = HK_TRANSPORT_DEFERRED,
    };
    static const hk_retry_failure failure[] = {
        [HK_FAIL_NONE] = HK_FAILURE_NONE,       [HK_FAIL_HTTP] = HK_FAILURE_HTTP,
        [HK_FAIL_TIMEOUT] = HK_FAILURE_TIMEOUT, [HK_FAIL_NETWORK] = HK_FAILURE_NETWORK,
        [HK_FAIL_BLOCKED] = HK_FAILURE_BLOCKED, [HK_FAIL_INVALID] = HK_FAILURE_UNSENDABLE,
    };
    return (hk_retry_facts){
        .transport = transport[res->status],
        .failure = failure[res->failure],
        .http_status = res->http_status,
        .retry_after = res->retry_after,
        .attempt = number,
        .retry_enabled = task->retry_enabled,
        .max_attempts = task->max_attempts,
        .deferrals = deferrals,
        .handing_off = handing_off,
        .owns_partition = owns,
        .now_ms = now_ms,
    };
}
