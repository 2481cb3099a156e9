/* The pipeline's decisions without a broker: an event is matched against a flow's tasks, each
 * match becomes a request, and each made-up result of that request becomes the facts
 * (hk_pipeline_facts) that the one decision (hk_retry_decide) turns into a verdict. The
 * Kafka and Redis sides are the integration suites'. */
#include <criterion/criterion.h>
#include <string.h>

#include "hk_pipeline.h"

static hk_task *task(const char *json)
{
    hk_task *t = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_task_parse(json, strlen(json), true, &t, &err), HK_OK, "%s", err.msg);
    return t;
}

static hk_event *event(const char *json)
{
    hk_event *ev = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_event_parse(json, strlen(json), "fallback", &ev, &err), HK_OK, "%s", err.msg);
    return ev;
}

static hk_retry_policy policy(void)
{
    hk_retry_policy p;
    hk_error err = {0};
    cr_assert_eq(hk_retry_policy_init(&p, "5s,5m,30m", 4, "HOOKD_RETRY_DELAYS", &err), HK_OK);
    return p;
}

static int build(const hk_task *t, const hk_event *ev, hk_error *err)
{
    hk_request_params params = {.task = t,
                                .event = ev,
                                .delivery_id = "msg_test",
                                .attempt = 1,
                                .now_ms = 1764460800000ULL,
                                .default_timeout_ms = 10000,
                                .max_body_bytes = 1 << 20};
    hk_request *req = NULL;
    int rc = hk_request_build(&params, &req, err);
    hk_request_destroy(req);
    return rc;
}

/* Matching: the flow's tasks whose trigger and state take the event. */
Test(pipeline, an_event_matches_the_tasks_its_trigger_takes)
{
    hk_task *on_success = task("{\"flowId\":\"7\",\"url\":\"https://a.example/h\","
                               "\"trigger\":{\"event\":\"success\"}}");
    hk_task *on_failure = task("{\"flowId\":\"7\",\"url\":\"https://b.example/h\","
                               "\"trigger\":{\"event\":\"failure\"}}");
    hk_task *disabled = task("{\"flowId\":\"7\",\"url\":\"https://c.example/h\",\"enabled\":false}");
    hk_event *ok = event("{\"eventId\":\"e1\",\"jobId\":\"1\",\"jobStatus\":\"Complete\","
                         "\"flowId\":\"7\"}");
    hk_event *failed = event("{\"eventId\":\"e2\",\"jobId\":\"2\",\"jobStatus\":\"Failed\","
                             "\"flowId\":\"7\"}");
    cr_assert(hk_task_matches(on_success, ok));
    cr_assert_not(hk_task_matches(on_failure, ok));
    cr_assert_not(hk_task_matches(disabled, ok));
    cr_assert_not(hk_task_matches(on_success, failed));
    cr_assert(hk_task_matches(on_failure, failed));
    hk_error err = {0};
    cr_assert_eq(build(on_success, ok, &err), HK_OK, "%s", err.msg);
    hk_event_destroy(ok);
    hk_event_destroy(failed);
    hk_task_destroy(on_success);
    hk_task_destroy(on_failure);
    hk_task_destroy(disabled);
}

/* A request that cannot be built (an override leaving the task's origin) is dead-lettered at
 * once as an invalid request, never retried. */
Test(pipeline, a_bad_override_is_an_invalid_request_dead_at_once)
{
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://a.example/h\"}");
    char json[512];
    snprintf(json, sizeof json,
             "{\"eventId\":\"e1\",\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\","
             "\"webhookOverrides\":[{\"webhookId\":\"%s\",\"url\":\"https://elsewhere.example/\"}]}",
             t->id);
    hk_event *ev = event(json);
    hk_error err = {0};
    cr_assert_neq(build(t, ev, &err), HK_OK, "a cross-origin override is refused");
    hk_retry_policy pol = policy();
    hk_delivery_result res = {.status = HK_DELIVERY_ERROR};
    hk_retry_facts f = hk_pipeline_facts(&res, t, 1, 0, false, true, 0);
    f.failure = HK_FAILURE_INVALID_REQUEST; /* as the pipeline sets it when the build fails */
    hk_retry_verdict v = hk_retry_decide(&pol, &f);
    cr_assert_eq(v.kind, HK_RETRY_DEAD);
    cr_assert_eq(v.reason, HK_REASON_INVALID_REQUEST);
    hk_event_destroy(ev);
    hk_task_destroy(t);
}

/* The engine's results, through the facts, to the verdict the pipeline acts on. */
Test(pipeline, results_become_the_verdicts_acted_on)
{
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://a.example/h\","
                      "\"retry\":{\"enabled\":true,\"maxAttempts\":3}}");
    hk_task *once = task("{\"flowId\":\"7\",\"url\":\"https://a.example/h\","
                         "\"retry\":{\"enabled\":false}}");
    hk_retry_policy pol = policy();
    struct {
        const char *name;
        const hk_task *task;
        hk_delivery_result res;
        int attempt, deferrals;
        bool handing_off, owns;
        hk_retry_verdict_kind kind;
        hk_retry_reason reason;
        bool same_attempt, disable;
        size_t tier;
    } rows[] = {
        {"200", t, {.status = HK_DELIVERY_OK, .http_status = 200}, 1, 0, false, true,
         HK_RETRY_DONE, HK_REASON_DELIVERED, false, false, 0},
        {"503 on attempt 1", t,
         {.status = HK_DELIVERY_RETRY, .failure = HK_FAIL_HTTP, .http_status = 503}, 1, 0, false,
         true, HK_RETRY_AGAIN, HK_REASON_RETRYING, false, false, 0},
        {"timeout on attempt 2", t, {.status = HK_DELIVERY_RETRY, .failure = HK_FAIL_TIMEOUT}, 2,
         0, false, true, HK_RETRY_AGAIN, HK_REASON_RETRYING, false, false, 1},
        {"network error on the last attempt", t,
         {.status = HK_DELIVERY_RETRY, .failure = HK_FAIL_NETWORK}, 3, 0, false, true,
         HK_RETRY_DEAD, HK_REASON_EXHAUSTED, false, false, 0},
        {"503 with retry off", once,
         {.status = HK_DELIVERY_RETRY, .failure = HK_FAIL_HTTP, .http_status = 503}, 1, 0, false,
         true, HK_RETRY_DEAD, HK_REASON_RETRY_DISABLED, false, false, 0},
        {"410", t, {.status = HK_DELIVERY_ERROR, .failure = HK_FAIL_HTTP, .http_status = 410}, 1,
         0, false, true, HK_RETRY_DEAD, HK_REASON_GONE, false, true, 0},
        {"404", t, {.status = HK_DELIVERY_ERROR, .failure = HK_FAIL_HTTP, .http_status = 404}, 1,
         0, false, true, HK_RETRY_DEAD, HK_REASON_PERMANENT, false, false, 0},
        {"blocked by the guard", t, {.status = HK_DELIVERY_ERROR, .failure = HK_FAIL_BLOCKED}, 1,
         0, false, true, HK_RETRY_DEAD, HK_REASON_PERMANENT, false, false, 0},
        {"deferred behind a slow host", t, {.status = HK_DELIVERY_DEFERRED}, 2, 1, false, true,
         HK_RETRY_AGAIN, HK_REASON_DEFERRED, true, false, 0},
        {"cancelled while handing off", t, {.status = HK_DELIVERY_CANCELLED}, 2, 0, true, true,
         HK_RETRY_AGAIN, HK_REASON_HANDED_OFF, true, false, 0},
        {"cancelled: the partition moved", t, {.status = HK_DELIVERY_CANCELLED}, 1, 0, false,
         false, HK_RETRY_DROP, HK_REASON_CANCELLED, false, false, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        hk_retry_facts f = hk_pipeline_facts(&rows[i].res, rows[i].task, rows[i].attempt,
                                             rows[i].deferrals, rows[i].handing_off, rows[i].owns,
                                             0);
        hk_retry_verdict v = hk_retry_decide(&pol, &f);
        cr_assert_eq(v.kind, rows[i].kind, "%s: kind %d", rows[i].name, v.kind);
        cr_assert_eq(v.reason, rows[i].reason, "%s: reason %s", rows[i].name,
                     hk_retry_reason_text(v.reason));
        cr_assert_eq(v.disable_task, rows[i].disable, "%s", rows[i].name);
        if (v.kind == HK_RETRY_AGAIN) {
            cr_assert_eq(v.same_attempt, rows[i].same_attempt, "%s", rows[i].name);
            if (!v.same_attempt)
                cr_assert_eq(v.tier, rows[i].tier, "%s: tier %zu", rows[i].name, v.tier);
        }
    }
    hk_task_destroy(t);
    hk_task_destroy(once);
}

/* Every failure kind of the engine reaches the decision as its own kind (a missed row in the
 * table would read as HK_FAILURE_NONE: a failure taken for a success). */
Test(pipeline, every_engine_failure_kind_has_its_fact)
{
    hk_task *t = task("{\"flowId\":\"7\",\"url\":\"https://a.example/h\"}");
    const struct {
        hk_failure_kind kind;
        hk_retry_failure fact;
    } map[] = {{HK_FAIL_NONE, HK_FAILURE_NONE},       {HK_FAIL_HTTP, HK_FAILURE_HTTP},
               {HK_FAIL_TIMEOUT, HK_FAILURE_TIMEOUT}, {HK_FAIL_NETWORK, HK_FAILURE_NETWORK},
               {HK_FAIL_BLOCKED, HK_FAILURE_BLOCKED}, {HK_FAIL_INVALID, HK_FAILURE_UNSENDABLE}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        hk_delivery_result res = {.status = HK_DELIVERY_ERROR, .failure = map[i].kind};
        hk_retry_facts f = hk_pipeline_facts(&res, t, 1, 0, false, true, 0);
        cr_assert_eq(f.failure, map[i].fact, "kind %d", map[i].kind);
        cr_assert_eq(f.transport, HK_TRANSPORT_ERROR);
        cr_assert_eq(f.max_attempts, t->max_attempts);
        cr_assert_eq(f.retry_enabled, t->retry_enabled);
    }
    hk_task_destroy(t);
}

/* ------------------------------------------------------------------- rateLimit leases --- */

Test(pipeline, a_rate_is_an_interval_never_faster_and_a_lease_a_tenth_of_a_second)
{
    cr_assert_eq(hk_rate_interval_us(1), 1000000u);
    cr_assert_eq(hk_rate_interval_us(20), 50000u);
    cr_assert_eq(hk_rate_interval_us(3), 333334u, "rounded up: never faster than 3/s");
    cr_assert_eq(hk_rate_interval_us(100000), 10u);
    cr_assert_eq(hk_rate_lease_want(20, 1), 1u, "no more than waits");
    cr_assert_eq(hk_rate_lease_want(20, 0), 1u);
    cr_assert_eq(hk_rate_lease_want(20, 500), 2u, "a tenth of a second's worth");
    cr_assert_eq(hk_rate_lease_want(5, 500), 1u, "at least one");
    cr_assert_eq(hk_rate_lease_want(100000, 1000000), 10000u);
}

Test(pipeline, a_lease_hands_out_its_slots_one_interval_apart)
{
    hk_rate_lease l = {0};
    cr_assert_not(hk_rate_lease_take(&l, 5), "empty");
    cr_assert_eq(hk_rate_lease_due_in_us(&l, 5), UINT64_MAX);
    uint64_t now = 1000000;
    hk_rate_lease_grant(&l, now, 20000, 3, 50000); /* due at +20 ms, +70 ms, +120 ms */
    cr_assert_eq(hk_rate_lease_due_in_us(&l, now), 20000u);
    cr_assert_not(hk_rate_lease_take(&l, now + 19999), "not yet");
    cr_assert(hk_rate_lease_take(&l, now + 20000));
    cr_assert_not(hk_rate_lease_take(&l, now + 20000), "the next is an interval later");
    cr_assert_eq(hk_rate_lease_due_in_us(&l, now + 20000), 50000u);
    /* A late timer takes every slot already due, and no more. */
    cr_assert(hk_rate_lease_take(&l, now + 130000));
    cr_assert(hk_rate_lease_take(&l, now + 130000));
    cr_assert_not(hk_rate_lease_take(&l, now + 130000), "three slots, no fourth");
    cr_assert_eq(l.left, 0u);
    /* Over any span, the slots taken are at most span / interval + 1. */
    hk_rate_lease_grant(&l, 0, 0, 1000, 50000);
    size_t taken = 0;
    for (uint64_t t = 0; t <= 1000000; t += 1000)
        taken += hk_rate_lease_take(&l, t);
    cr_assert_eq(taken, 21u, "1 s at 20/s: 21 slots in the closed second");
}

Test(pipeline, slots_left_unused_past_a_second_are_dropped)
{
    hk_rate_lease l = {0};
    hk_rate_lease_grant(&l, 0, 0, 2, 50000);
    cr_assert(hk_rate_lease_take(&l, 0));
    cr_assert_not(hk_rate_lease_take(&l, 50000 + HK_RATE_STALE_US + 1), "stale: no burst");
    cr_assert_eq(l.left, 0u);
    cr_assert_eq(hk_rate_lease_due_in_us(&l, 0), UINT64_MAX);
    hk_rate_lease_grant(&l, 0, 0, 2, 50000);
    cr_assert(hk_rate_lease_take(&l, 0));
    cr_assert(hk_rate_lease_take(&l, 50000 + HK_RATE_STALE_US), "late, within the second");
}

/* ------------------------------------------------ the sustained-failure rule (health.c) --- */

/* A shard tells the history writer of a task only on a change (the first result, delivered
 * after failing, failing after delivered) or at most once per interval in the same state: a
 * healthy task's deliveries cost nothing per delivery; a delivery not yet told when the task
 * starts failing makes the failure a reset. */
Test(health, told_on_a_change_or_once_per_interval)
{
    hk_task_health h = {0};
    const uint64_t I = 1000;
    cr_assert_eq(hk_pipeline_health_step(&h, true, 0, I), HK_HEALTH_DELIVERED, "first seen");
    for (uint64_t t = 1; t < 1000; t += 100)
        cr_assert_eq(hk_pipeline_health_step(&h, true, t, I), HK_HEALTH_NONE, "healthy: quiet");
    cr_assert_eq(hk_pipeline_health_step(&h, true, 1000, I), HK_HEALTH_DELIVERED, "per interval");
    cr_assert_eq(hk_pipeline_health_step(&h, true, 1200, I), HK_HEALTH_NONE);
    /* that delivery at 1200 was not told: the failure resets the mark first */
    cr_assert_eq(hk_pipeline_health_step(&h, false, 1300, I), HK_HEALTH_FAILED_RESET);
    cr_assert_eq(hk_pipeline_health_step(&h, false, 1400, I), HK_HEALTH_NONE);
    cr_assert_eq(hk_pipeline_health_step(&h, false, 2299, I), HK_HEALTH_NONE);
    cr_assert_eq(hk_pipeline_health_step(&h, false, 2300, I), HK_HEALTH_FAILED, "checked again");
    cr_assert_eq(hk_pipeline_health_step(&h, true, 2400, I), HK_HEALTH_DELIVERED, "a change");
    cr_assert_eq(hk_pipeline_health_step(&h, false, 2500, I), HK_HEALTH_FAILED,
                 "all told: no reset");
    hk_task_health first = {0};
    cr_assert_eq(hk_pipeline_health_step(&first, false, 5, I), HK_HEALTH_FAILED, "first seen");
    /* the interval: a quarter of the rule, from 50 ms to 60 s */
    cr_assert_eq(hk_pipeline_health_interval(2000), 500);
    cr_assert_eq(hk_pipeline_health_interval(100), 50);
    cr_assert_eq(hk_pipeline_health_interval(5ull * 86400000), 60000);
}
