/* The retry policy: tiers parsed from HOOKD_RETRY_DELAYS and the single outcome decision.
 * Over 700 lines on purpose: it pins every row of the decision table and of the reason table,
 * one line each, so that a change of policy is a one-line diff here (decision 46). */
#include <criterion/criterion.h>
#include <string.h>

#include "hk_retry.h"

static hk_task task_with(bool retry, int max)
{
    hk_task t;
    memset(&t, 0, sizeof t);
    t.retry_enabled = retry;
    t.max_attempts = max;
    return t;
}

Test(retry, default_tiers_parse)
{
    hk_retry_policy p;
    hk_error err = {0};
    cr_assert_eq(hk_retry_policy_init(&p, "5s,5m,30m,2h,5h,10h", 8, "HOOKD_RETRY_DELAYS", &err),
                 HK_OK);
    cr_assert_eq(p.tiers, 6);
    cr_assert_eq(p.delays_ms[0], 5000);
    cr_assert_eq(p.delays_ms[1], 300000);
    cr_assert_eq(p.delays_ms[5], 36000000);
    cr_assert_str_eq(p.names[2], "30m");
}

Test(retry, bad_delays_name_the_field)
{
    hk_retry_policy p;
    const char *bad[] = {"", " ", "5x", "0s", "s", "5s,,", "5s,,5m", ",5s", "5s, ,5m", "-5s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_error err = {0};
        int rc = hk_retry_policy_init(&p, bad[i], 8, "HOOKD_RETRY_DELAYS", &err);
        cr_assert_eq(rc, HK_EINVAL, "%s", bad[i]);
        cr_assert_str_eq(err.field, "HOOKD_RETRY_DELAYS");
        cr_assert_null(strchr(err.msg, '\n'));
        if (strchr(bad[i], ','))
            cr_assert(strstr(err.msg, "empty delay"), "'%s' -> %s", bad[i], err.msg);
    }
    /* Spaces around a delay are forgiven. */
    hk_error err = {0};
    cr_assert_eq(hk_retry_policy_init(&p, " 5s , 5m ", 8, "HOOKD_RETRY_DELAYS", &err), HK_OK, "%s",
                 err.msg);
    cr_assert_eq(p.tiers, 2);
    cr_assert_str_eq(p.names[1], "5m");
}

Test(retry, signs_and_repeated_delays_are_refused_naming_the_value)
{
    /* "+5s" would name the topic hookd.retry.+5s, which Kafka refuses; a repeated delay is
     * two tiers of one delay. Each refusal is one line that quotes the value. */
    struct {
        const char *csv, *quoted;
    } bad[] = {{"+5s", "'+5s'"},          {"5s,+5m", "'+5m'"},
               {"5s,5s", "'5s' repeats"}, {"5s,5m,5000ms", "'5000ms' repeats the delay of '5s'"},
               {"5m,1h,60m", "'60m'"},    {"0x5s", "'0x5s'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_retry_policy p;
        hk_error err = {0};
        cr_assert_eq(hk_retry_policy_init(&p, bad[i].csv, 8, "HOOKD_RETRY_DELAYS", &err), HK_EINVAL,
                     "%s", bad[i].csv);
        cr_assert_str_eq(err.field, "HOOKD_RETRY_DELAYS");
        cr_assert(strstr(err.msg, bad[i].quoted), "%s -> %s", bad[i].csv, err.msg);
        cr_assert_null(strchr(err.msg, '\n'));
    }
    hk_retry_policy p;
    cr_assert_eq(hk_retry_policy_init(&p, "5s,10s,5m", 8, "HOOKD_RETRY_DELAYS", NULL), HK_OK);
}

/* The whole outcome decision, one row per case: the facts of an attempt's end and the verdict
 * the policy gives. A change to the policy is a change to a row here. Policy: tiers 5s,5m;
 * HOOKD_RETRY_MAX_ATTEMPTS 3. */
/* clang-format off */
#define T(x) HK_TRANSPORT_##x
#define F(x) HK_FAILURE_##x
#define K(x) HK_RETRY_##x
#define R(x) HK_REASON_##x
#define M(x) (&hk_retry_metrics.x)
#define NONE_COUNTED NULL
enum { OFF = 0, ON = 1 };

static const struct row {
    const char *name;
    /* facts */
    hk_retry_transport transport;
    hk_retry_failure failure;
    long status;
    const char *retry_after;
    int attempt, retry, max, deferrals;
    bool handing_off, owns;
    /* verdict */
    hk_retry_verdict_kind kind;
    hk_retry_reason reason;
    size_t tier;
    uint64_t delay_ms;
    bool same_attempt;
    int v_deferrals;
    bool disable;
    hk_counter *counted;
} rows[] = {
    /* name                          transport    failure      status RA    att ret max def hand own   kind      reason              tier delay   same def dis counted */
    {"delivered",                    T(OK),       F(NONE),     200, NULL,   1, ON,  0, 0, 0, 0,  K(DONE),  R(DELIVERED),       0, 0,      0, 0, 0, M(attempts_succeeded)},
    {"500, first attempt",           T(RETRY),    F(HTTP),     500, NULL,   1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 5000,   0, 0, 0, M(attempts_http_error_5xx)},
    {"500, second attempt",          T(RETRY),    F(HTTP),     500, NULL,   2, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        1, 300000, 0, 0, 0, M(attempts_http_error_5xx)},
    {"500, default 3 used up",       T(RETRY),    F(HTTP),     500, NULL,   3, ON,  0, 0, 0, 0,  K(DEAD),  R(EXHAUSTED),       0, 0,      0, 0, 0, M(attempts_http_error_5xx)},
    {"500, past the last tier",      T(RETRY),    F(HTTP),     500, NULL,   7, ON, 10, 0, 0, 0,  K(AGAIN), R(RETRYING),        1, 300000, 0, 0, 0, M(attempts_http_error_5xx)},
    {"500, maxAttempts used up",     T(RETRY),    F(HTTP),     500, NULL,  10, ON, 10, 0, 0, 0,  K(DEAD),  R(EXHAUSTED),       0, 0,      0, 0, 0, M(attempts_http_error_5xx)},
    {"500, retry off",               T(RETRY),    F(HTTP),     500, NULL,   1, OFF, 50, 0, 0, 0, K(DEAD),  R(RETRY_DISABLED),  0, 0,      0, 0, 0, M(attempts_http_error_5xx)},
    {"503",                          T(RETRY),    F(HTTP),     503, NULL,   1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 5000,   0, 0, 0, M(attempts_http_error_5xx)},
    {"302 (never followed)",         T(RETRY),    F(HTTP),     302, NULL,   1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 5000,   0, 0, 0, M(attempts_http_error_3xx)},
    {"302, retry off",               T(RETRY),    F(HTTP),     302, NULL,   1, OFF, 0, 0, 0, 0,  K(DEAD),  R(RETRY_DISABLED),  0, 0,      0, 0, 0, M(attempts_http_error_3xx)},
    {"timeout",                      T(RETRY),    F(TIMEOUT),  0,   NULL,   1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 5000,   0, 0, 0, M(attempts_timeout)},
    {"timeout, attempts used up",    T(RETRY),    F(TIMEOUT),  0,   NULL,   3, ON,  0, 0, 0, 0,  K(DEAD),  R(EXHAUSTED),       0, 0,      0, 0, 0, M(attempts_timeout)},
    {"network error",                T(RETRY),    F(NETWORK),  0,   NULL,   1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 5000,   0, 0, 0, M(attempts_network_error)},
    /* 410 Gone: dead at once, retry or not, and the task is disabled */
    {"410",                          T(RETRY),    F(HTTP),     410, NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(GONE),            0, 0,      0, 0, 1, M(attempts_http_error_410)},
    {"410, retry off",               T(RETRY),    F(HTTP),     410, NULL,   1, OFF, 0, 0, 0, 0,  K(DEAD),  R(GONE),            0, 0,      0, 0, 1, M(attempts_http_error_410)},
    /* the 4xx rule (decisions: "a 4xx answer is final"): final but for 408, 425 and 429 */
    {"400",                          T(RETRY),    F(HTTP),     400, NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_http_error_4xx)},
    {"401",                          T(RETRY),    F(HTTP),     401, NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_http_error_4xx)},
    {"403",                          T(RETRY),    F(HTTP),     403, NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_http_error_4xx)},
    {"404",                          T(RETRY),    F(HTTP),     404, NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_http_error_4xx)},
    {"404, retry off",               T(RETRY),    F(HTTP),     404, NULL,   1, OFF, 0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_http_error_4xx)},
    {"413",                          T(RETRY),    F(HTTP),     413, NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_http_error_4xx)},
    {"422",                          T(RETRY),    F(HTTP),     422, NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_http_error_4xx)},
    {"499",                          T(RETRY),    F(HTTP),     499, NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_http_error_4xx)},
    {"408",                          T(RETRY),    F(HTTP),     408, NULL,   1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 5000,   0, 0, 0, M(attempts_http_error_4xx)},
    {"425",                          T(RETRY),    F(HTTP),     425, NULL,   1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 5000,   0, 0, 0, M(attempts_http_error_4xx)},
    {"429",                          T(RETRY),    F(HTTP),     429, NULL,   1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 5000,   0, 0, 0, M(attempts_http_error_429)},
    {"429, attempts used up",        T(RETRY),    F(HTTP),     429, NULL,   3, ON,  0, 0, 0, 0,  K(DEAD),  R(EXHAUSTED),       0, 0,      0, 0, 0, M(attempts_http_error_429)},
    /* Retry-After: later on a 429 or 503, never earlier, capped at the last tier */
    {"429, Retry-After 60",          T(RETRY),    F(HTTP),     429, "60",   1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 60000,  0, 0, 0, M(attempts_http_error_429)},
    {"503, Retry-After 1",           T(RETRY),    F(HTTP),     503, "1",    1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 5000,   0, 0, 0, M(attempts_http_error_5xx)},
    {"503, Retry-After 3600",        T(RETRY),    F(HTTP),     503, "3600", 1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 300000, 0, 0, 0, M(attempts_http_error_5xx)},
    {"500, Retry-After 60",          T(RETRY),    F(HTTP),     500, "60",   1, ON,  0, 0, 0, 0,  K(AGAIN), R(RETRYING),        0, 5000,   0, 0, 0, M(attempts_http_error_5xx)},
    /* retrying cannot fix these */
    {"blocked address",              T(ERROR),    F(BLOCKED),  0,   NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_blocked)},
    {"blocked address, retry off",   T(ERROR),    F(BLOCKED),  0,   NULL,   1, OFF, 0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_blocked)},
    {"unusable URL",                 T(ERROR),    F(UNSENDABLE), 0, NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_invalid)},
    {"engine error, whatever kind",  T(ERROR),    F(HTTP),     500, NULL,   1, ON,  0, 0, 0, 0,  K(DEAD),  R(PERMANENT),       0, 0,      0, 0, 0, M(attempts_http_error_5xx)},
    {"invalid request (override)",   T(ERROR),    F(INVALID_REQUEST), 0, NULL, 1, ON, 0, 0, 0, 0, K(DEAD), R(INVALID_REQUEST), 0, 0,      0, 0, 0, M(attempts_invalid)},
    /* the worker's own: no attempt ended, nothing counted in hookd_delivery_attempts_total */
    {"task deleted since",           T(ERROR),    F(TASK_GONE), 0,  NULL,   2, OFF, 0, 0, 0, 0,  K(DEAD),  R(TASK_DELETED),    0, 0,      0, 0, 0, NONE_COUNTED},
    {"task disabled since",          T(ERROR),    F(TASK_DISABLED), 0, NULL, 2, OFF, 0, 0, 0, 0, K(DEAD),  R(TASK_DISABLED),   0, 0,      0, 0, 0, NONE_COUNTED},
    {"tier record too large",        T(ERROR),    F(RECORD_TOO_LARGE), 0, NULL, 1, ON, 0, 0, 0, 0, K(DEAD), R(TOO_LARGE),      0, 0,      0, 0, 0, NONE_COUNTED},
    /* never sent: deferred behind a slow host, the same attempt on the tiers in turn */
    {"deferred, first time",         T(DEFERRED), F(NONE),     0,   NULL,   1, ON,  0, 0, 0, 0,  K(AGAIN), R(DEFERRED),        0, 5000,   1, 1, 0, M(deliveries_deferred_slow_host)},
    {"deferred, second time",        T(DEFERRED), F(NONE),     0,   NULL,   1, ON,  0, 1, 0, 0,  K(AGAIN), R(DEFERRED),        1, 300000, 1, 2, 0, M(deliveries_deferred_slow_host)},
    {"deferred, past the last tier", T(DEFERRED), F(NONE),     0,   NULL,   3, OFF, 0, 5, 0, 0,  K(AGAIN), R(DEFERRED),        1, 300000, 1, 6, 0, M(deliveries_deferred_slow_host)},
    /* cancelled: handed to its tier while the worker stops and still owns it, else dropped */
    {"cancelled, partition moved",   T(CANCELLED), F(NONE),    0,   NULL,   1, ON,  0, 0, 0, 0,  K(DROP),  R(CANCELLED),       0, 0,      0, 0, 0, M(deliveries_cancelled)},
    {"cancelled, handing off, moved",T(CANCELLED), F(NONE),    0,   NULL,   1, ON,  0, 0, 1, 0,  K(DROP),  R(CANCELLED),       0, 0,      0, 0, 0, M(deliveries_cancelled)},
    {"handed off, attempt 1",        T(CANCELLED), F(NONE),    0,   NULL,   1, ON,  0, 0, 1, 1,  K(AGAIN), R(HANDED_OFF),      0, 0,      1, 1, 0, M(deliveries_deferred_shutdown)},
    {"handed off, attempt 2",        T(CANCELLED), F(NONE),    0,   NULL,   2, ON,  0, 0, 1, 1,  K(AGAIN), R(HANDED_OFF),      1, 0,      1, 1, 0, M(deliveries_deferred_shutdown)},
    {"handed off after 3 deferrals", T(CANCELLED), F(NONE),    0,   NULL,   1, ON,  0, 3, 1, 1,  K(AGAIN), R(HANDED_OFF),      0, 0,      1, 3, 0, M(deliveries_deferred_shutdown)},
    {"delivered while handing off",  T(OK),       F(NONE),     204, NULL,   1, ON,  0, 0, 1, 1,  K(DONE),  R(DELIVERED),       0, 0,      0, 0, 0, M(attempts_succeeded)},
};
/* clang-format on */

Test(retry, decision_table)
{
    hk_retry_policy p;
    cr_assert_eq(hk_retry_policy_init(&p, "5s,5m", 3, "x", NULL), HK_OK);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        hk_retry_facts f = {
            .transport = r->transport,
            .failure = r->failure,
            .http_status = r->status,
            .retry_after = r->retry_after,
            .attempt = r->attempt,
            .retry_enabled = r->retry,
            .max_attempts = r->max,
            .deferrals = r->deferrals,
            .handing_off = r->handing_off,
            .owns_partition = r->owns,
            .now_ms = 1700000000000ULL,
        };
        hk_retry_verdict v = hk_retry_decide(&p, &f);
        cr_expect_eq(v.kind, r->kind, "%s: kind %d", r->name, v.kind);
        cr_expect_eq(v.reason, r->reason, "%s: reason %s", r->name, hk_retry_reason_text(v.reason));
        cr_expect_eq(v.disable_task, r->disable, "%s: disable_task", r->name);
        cr_expect_eq(v.counted, r->counted, "%s: counted %s{%s}", r->name,
                     v.counted ? v.counted->head.name : "nothing",
                     v.counted && v.counted->head.label ? v.counted->head.label : "");
        if (v.kind == HK_RETRY_AGAIN) {
            cr_expect_eq(v.tier, r->tier, "%s: tier %zu", r->name, v.tier);
            cr_expect_eq(v.delay_ms, r->delay_ms, "%s: delay %llu", r->name,
                         (unsigned long long)v.delay_ms);
            cr_expect_eq(v.same_attempt, r->same_attempt, "%s: same attempt", r->name);
            if (v.same_attempt)
                cr_expect_eq(v.deferrals, r->v_deferrals, "%s: deferrals %d", r->name, v.deferrals);
        }
    }
    /* the status class of an HTTP error: bounded, 410 and 429 apart, odd statuses to the
     * nearest class */
    static const struct {
        long status;
        hk_counter *want;
    } classes[] = {{101, M(attempts_http_error_1xx)}, {0, M(attempts_http_error_1xx)},
                   {304, M(attempts_http_error_3xx)}, {404, M(attempts_http_error_4xx)},
                   {410, M(attempts_http_error_410)}, {429, M(attempts_http_error_429)},
                   {503, M(attempts_http_error_5xx)}, {799, M(attempts_http_error_5xx)}};
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        cr_expect_eq(hk_retry_http_error_metric(classes[i].status), classes[i].want, "%ld",
                     classes[i].status);
    hk_task off = task_with(false, 50);
    cr_assert_eq(hk_retry_max_attempts(&p, &off), 1);
    hk_task many = task_with(true, 10);
    cr_assert_eq(hk_retry_max_attempts(&p, &many), 10);
}

/* The reason table: each dead letter's text (operators grep it; docs/operations.md lists it)
 * and its hookd_dlq_records_total member. */
Test(retry, reason_table)
{
    static const struct {
        hk_retry_reason reason;
        const char *text;
        hk_counter *dlq;
    } want[] = {
        {R(EXHAUSTED), "attempts exhausted", M(dlq_records_attempts_exhausted)},
        {R(RETRY_DISABLED), "retry disabled", M(dlq_records_retry_disabled)},
        {R(GONE), "endpoint gone (HTTP 410); task disabled", M(dlq_records_endpoint_gone)},
        {R(PERMANENT), "permanent failure", M(dlq_records_permanent_failure)},
        {R(INVALID_REQUEST), "invalid request", M(dlq_records_invalid_request)},
        {R(TASK_DELETED), "task deleted", M(dlq_records_task_deleted)},
        {R(TASK_DISABLED), "task disabled", M(dlq_records_task_disabled)},
        {R(TOO_LARGE), "record too large", M(dlq_records_too_large)},
        {R(DELIVERED), "delivered", NONE_COUNTED},
        {R(RETRYING), "retrying", NONE_COUNTED},
        {R(DEFERRED), "deferred: its host is slow", NONE_COUNTED},
        {R(HANDED_OFF), "handed off: the worker is stopping", NONE_COUNTED},
        {R(CANCELLED), "cancelled: the partition moved", NONE_COUNTED},
    };
    cr_assert_eq(sizeof want / sizeof want[0], HK_REASON_COUNT, "every reason has a row");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cr_expect_str_eq(hk_retry_reason_text(want[i].reason), want[i].text);
        cr_expect_eq(hk_retry_reason_dlq_metric(want[i].reason), want[i].dlq, "%s", want[i].text);
    }
}

Test(retry_record, round_trip_with_due_time_first)
{
    const char event[] = "{\"jobId\":\"j\\\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}";
    hk_retry_record r = {
        .delivery_id = "msg_1",
        .webhook_id = "wh_1",
        .flow_id = "7",
        .job_id = "j\"1",
        .event_id = "e1",
        .attempt = 3,
        .due_ms = 1795341600123ULL,
        .first_seen_ms = 1795341500000ULL,
        .event_json = (char *)event,
        .event_len = sizeof event - 1,
        .outcomes_json = "[{\"attempt\":1},{\"attempt\":2}]",
    };
    hk_buf b = {0};
    hk_retry_record_write(&b, &r);
    cr_assert_eq(hk_retry_record_due(b.data, b.len), 1795341600123ULL);
    hk_retry_record back;
    hk_error err = {0};
    cr_assert_eq(hk_retry_record_parse(b.data, b.len, &back, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(back.job_id, "j\"1");
    cr_assert_str_eq(back.webhook_id, "wh_1");
    cr_assert_eq(back.attempt, 3);
    cr_assert_eq(back.due_ms, 1795341600123ULL);
    cr_assert_eq(back.first_seen_ms, 1795341500000ULL);
    cr_assert_not(back.deferred);
    cr_assert_eq(back.deferrals, 0);
    cr_assert_str_eq(back.outcomes_json, "[{\"attempt\":1},{\"attempt\":2}]");
    cJSON *ev = cJSON_Parse(back.event_json);
    cr_assert_str_eq(cJSON_GetObjectItem(ev, "jobId")->valuestring, "j\"1");
    cJSON_Delete(ev);
    hk_retry_record_free(&back);

    /* A deferral keeps its count. */
    r.deferred = true;
    r.deferrals = 4;
    b.len = 0;
    hk_retry_record_write(&b, &r);
    cr_assert_eq(hk_retry_record_parse(b.data, b.len, &back, &err), HK_OK, "%s", err.msg);
    cr_assert(back.deferred);
    cr_assert_eq(back.deferrals, 4);
    cr_assert_eq(back.attempt, 3);
    hk_retry_record_free(&back);
    hk_buf_free(&b);
}

Test(retry_record, each_group_takes_only_its_own)
{
    const char event[] = "{\"jobId\":\"j\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"}";
    hk_retry_record r = {.group = "hookd-prod",
                         .delivery_id = "d",
                         .webhook_id = "w",
                         .flow_id = "7",
                         .job_id = "j",
                         .event_id = "e",
                         .attempt = 2,
                         .due_ms = 5,
                         .first_seen_ms = 1,
                         .event_json = (char *)event,
                         .event_len = sizeof event - 1};
    hk_buf b = {0};
    hk_retry_record_write(&b, &r);
    cr_assert(hk_retry_record_for_group(b.data, b.len, "hookd-prod"));
    cr_assert_not(hk_retry_record_for_group(b.data, b.len, "hookd"), "a prefix is not a match");
    cr_assert_not(hk_retry_record_for_group(b.data, b.len, "hookd-prod-2"));
    cr_assert_not(hk_retry_record_for_group(b.data, b.len, "hookd-staging"));
    hk_retry_record back;
    cr_assert_eq(hk_retry_record_parse(b.data, b.len, &back, NULL), HK_OK);
    cr_assert_str_eq(back.group, "hookd-prod");
    hk_retry_record_free(&back);
    /* escaped characters are compared as text, not as bytes */
    r.group = "a\"b";
    b.len = 0;
    hk_retry_record_write(&b, &r);
    cr_assert(hk_retry_record_for_group(b.data, b.len, "a\"b"));
    cr_assert_not(hk_retry_record_for_group(b.data, b.len, "a"));
    /* spaced JSON, as another tool may write it: parsed, not scanned */
    const char *spaced = "{\"dueAt\": 1795341600123, \"group\": \"hookd-prod\"}";
    cr_assert_eq(hk_retry_record_due(spaced, strlen(spaced)), 1795341600123ULL);
    cr_assert(hk_retry_record_for_group(spaced, strlen(spaced), "hookd-prod"));
    cr_assert_not(hk_retry_record_for_group(spaced, strlen(spaced), "hookd"));
    const char *later = "{\"kind\":\"retry\",\"group\":\"g\",\"dueAt\":7}";
    cr_assert_eq(hk_retry_record_due(later, strlen(later)), 7);
    cr_assert_not(hk_retry_record_for_group(later, strlen(later), "h"));
    /* no group (or not a record): ours, for the parser to judge */
    const char *old = "{\"dueAt\":5,\"kind\":\"retry\"}";
    cr_assert(hk_retry_record_for_group(old, strlen(old), "hookd"));
    cr_assert(hk_retry_record_for_group("nope", 4, "hookd"));
    hk_buf_free(&b);
}

Test(retry_record, bad_records_name_the_field)
{
    hk_retry_record r;
    hk_error err = {0};
    const char *missing = "{\"dueAt\":1,\"deliveryId\":\"d\",\"webhookId\":\"w\",\"flowId\":\"f\","
                          "\"jobId\":\"j\",\"eventId\":\"e\",\"firstSeenAt\":1,\"event\":{}}";
    cr_assert_eq(hk_retry_record_parse(missing, strlen(missing), &r, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "attempt");
    cr_assert_eq(hk_retry_record_parse("nope", 4, &r, &err), HK_EINVAL);
    cr_assert_eq(hk_retry_record_due("nope", 4), 0);
    cr_assert_eq(hk_retry_record_due("{\"kind\":1}", 10), 0);
}

Test(retry_after, seconds_or_http_date_later_never_earlier_capped)
{
    uint64_t ms = 0, now = 784111777000ULL; /* Sun, 06 Nov 1994 08:49:37 GMT */
    cr_assert(hk_retry_after_ms("120", now, &ms));
    cr_assert_eq(ms, 120000);
    cr_assert(hk_retry_after_ms("Sun, 06 Nov 1994 08:49:47 GMT", now, &ms));
    cr_assert_eq(ms, 10000);
    cr_assert(hk_retry_after_ms("Sun, 06 Nov 1994 08:49:00 GMT", now, &ms));
    cr_assert_eq(ms, 0, "a past date means now");
    cr_assert_not(hk_retry_after_ms("soon", now, &ms));
    cr_assert_not(hk_retry_after_ms("12abc", now, &ms));
    cr_assert_not(hk_retry_after_ms(NULL, now, &ms));

    hk_retry_policy p;
    cr_assert_eq(hk_retry_policy_init(&p, "1s,2s,4s", 8, "HOOKD_RETRY_DELAYS", NULL), HK_OK);
    cr_assert_eq(hk_retry_delay_ms(&p, 0, 503, "3", now), 3000, "later");
    cr_assert_eq(hk_retry_delay_ms(&p, 1, 429, "1", now), 2000, "never earlier");
    cr_assert_eq(hk_retry_delay_ms(&p, 0, 503, "3600", now), 4000, "capped at the last tier");
    cr_assert_eq(hk_retry_delay_ms(&p, 0, 500, "3", now), 1000, "only on 429 and 503");
    char topic[HK_TOPIC_NAME_MAX + 1];
    hk_retry_tier_topic(&p, "hookd.", 1, topic);
    cr_assert_str_eq(topic, "hookd.retry.2s");
    hk_retry_tier_topic(&p, "staging_eu-1.", 2, topic);
    cr_assert_str_eq(topic, "staging_eu-1.retry.4s");
}

Test(replay, select_by_group_task_and_time_then_reset_the_attempts)
{
    const char *dl =
        "{\"kind\":\"delivery\",\"reason\":\"attempts exhausted\",\"deliveryId\":\"msg_1\","
        "\"webhookId\":\"wh_a\",\"flowId\":\"7\",\"jobId\":\"j1\",\"eventId\":\"e1\","
        "\"attempts\":3,\"event\":{\"jobId\":\"j1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"},"
        "\"outcomes\":[{\"attempt\":1},{\"attempt\":2},{\"attempt\":3}],"
        "\"deadAt\":\"2026-11-23T12:00:00.500Z\",\"group\":\"hookd\"}";
    size_t len = strlen(dl);
    cJSON *rec = NULL;
    hk_error err = {0};
    hk_dead_letter_filter all = {.group = "hookd"};
    cr_assert_eq(hk_dead_letter_select(dl, len, &all, &rec, &err), HK_OK);
    cJSON_Delete(rec);
    hk_dead_letter_filter other_group = {.group = "staging"};
    cr_assert_eq(hk_dead_letter_select(dl, len, &other_group, &rec, &err), HK_ENOTFOUND);
    hk_dead_letter_filter other_task = {.group = "hookd", .webhook_id = "wh_b"};
    cr_assert_eq(hk_dead_letter_select(dl, len, &other_task, &rec, &err), HK_ENOTFOUND);
    uint64_t at;
    cr_assert(hk_parse_time("2026-11-23T12:00:00.500Z", &at));
    hk_dead_letter_filter since = {.group = "hookd", .webhook_id = "wh_a", .since_ms = at};
    cr_assert_eq(hk_dead_letter_select(dl, len, &since, &rec, &err), HK_OK, "at is since");
    cJSON_Delete(rec);
    since.since_ms = at + 1;
    cr_assert_eq(hk_dead_letter_select(dl, len, &since, &rec, &err), HK_ENOTFOUND);
    hk_dead_letter_filter until = {.group = "hookd", .since_ms = at, .until_ms = at};
    cr_assert_eq(hk_dead_letter_select(dl, len, &until, &rec, &err), HK_OK, "at is until");
    cJSON_Delete(rec);
    until.until_ms = at - 1;
    cr_assert_eq(hk_dead_letter_select(dl, len, &until, &rec, &err), HK_ENOTFOUND);
    cr_assert_eq(hk_dead_letter_select("nope", 4, &all, &rec, &err), HK_EINVAL);
    /* a selection of deliveries (the console's and POST /v1/dlq/replay's deliveryIds) */
    const char *chosen[] = {"msg_0", "msg_1"}, *others[] = {"msg_2"};
    hk_dead_letter_filter picked = {
        .group = "hookd", .delivery_ids = chosen, .delivery_ids_len = 2};
    cr_assert_eq(hk_dead_letter_select(dl, len, &picked, &rec, &err), HK_OK, "msg_1 is chosen");
    cJSON_Delete(rec);
    picked.delivery_ids = others;
    picked.delivery_ids_len = 1;
    cr_assert_eq(hk_dead_letter_select(dl, len, &picked, &rec, &err), HK_ENOTFOUND);
    picked.delivery_ids_len = 0; /* an empty selection selects nothing */
    cr_assert_eq(hk_dead_letter_select(dl, len, &picked, &rec, &err), HK_ENOTFOUND);

    cr_assert_eq(hk_dead_letter_select(dl, len, &all, &rec, &err), HK_OK);
    hk_buf b = {0};
    cr_assert_eq(hk_retry_record_replay(rec, "hookd", 1795435200000ULL, &b, &err), HK_OK);
    cJSON_Delete(rec);
    cr_assert_eq(hk_retry_record_due(b.data, b.len), 1795435200000ULL, "due at once");
    cr_assert(hk_retry_record_for_group(b.data, b.len, "hookd"));
    hk_retry_record r;
    cr_assert_eq(hk_retry_record_parse(b.data, b.len, &r, &err), HK_OK, "%s", err.msg);
    cr_assert_str_eq(r.delivery_id, "msg_1", "the same X-Webhook-Id");
    cr_assert_str_eq(r.webhook_id, "wh_a");
    cr_assert_eq(r.attempt, 1, "attempts reset");
    cr_assert_str_eq(r.outcomes_json, "[]");
    cr_assert_not(r.deferred);
    cJSON *ev = cJSON_Parse(r.event_json);
    cr_assert_str_eq(cJSON_GetObjectItem(ev, "jobStatus")->valuestring, "Complete");
    cJSON_Delete(ev);
    hk_retry_record_free(&r);
    hk_buf_free(&b);

    /* poison, and an event kept only as a payload, cannot be replayed */
    const char *poison = "{\"kind\":\"poison\",\"reason\":\"x\",\"payload\":\"{\"}";
    cr_assert_eq(hk_dead_letter_select(poison, strlen(poison), &all, &rec, &err), HK_OK);
    cr_assert_eq(hk_retry_record_replay(rec, "hookd", 1, &b, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "kind");
    cJSON_Delete(rec);
    const char *payload = "{\"kind\":\"delivery\",\"deliveryId\":\"d\",\"webhookId\":\"w\","
                          "\"flowId\":\"f\",\"jobId\":\"j\",\"eventId\":\"e\",\"payload\":\"x\"}";
    cr_assert_eq(hk_dead_letter_select(payload, strlen(payload), &all, &rec, &err), HK_OK);
    cr_assert_eq(hk_retry_record_replay(rec, "hookd", 1, &b, &err), HK_EINVAL);
    cr_assert_str_eq(err.field, "event");
    cJSON_Delete(rec);
    cr_assert_eq(b.len, 0, "nothing written for a refusal");
}

Test(replay, times_parse_with_fractions_and_offsets)
{
    uint64_t ms;
    cr_assert(hk_parse_time("2026-11-23T12:00:00Z", &ms));
    cr_assert_eq(ms, 1795435200000ULL);
    cr_assert(hk_parse_time("2026-11-23T12:00:00.1Z", &ms));
    cr_assert_eq(ms, 1795435200100ULL);
    cr_assert(hk_parse_time("2026-11-23T13:30:00+01:30", &ms));
    cr_assert_eq(ms, 1795435200000ULL);
    cr_assert_not(hk_parse_time("2026-11-23T12:00:00", &ms), "a zone is required");
    cr_assert_not(hk_parse_time("yesterday", &ms));
    cr_assert_not(hk_parse_time("2026-11-23T12:00:00Zjunk", &ms));
}

/* ------------------------------------------------------- record sizes (issue 12, §1) --- */

static hk_retry_record sized_record(const char *event, const char *outcomes)
{
    hk_retry_record r = {
        .group = "hookd",
        .delivery_id = "msg_0123456789abcdefghijklmnop",
        .webhook_id = "wh_0123456789abcdef01234567",
        .flow_id = "7",
        .job_id = "job \"quoted\" \x01 é",
        .event_id = "job-events/0/42",
        .attempt = 3,
        .due_ms = 1795341600123ULL,
        .first_seen_ms = 1795341500000ULL,
        .event_json = (char *)event,
        .event_len = strlen(event),
        .outcomes_json = (char *)outcomes,
    };
    return r;
}

/* Five outcomes of about 100 bytes, oldest first, attempt numbers 1..5. */
static char *five_outcomes(void)
{
    hk_buf b = {0};
    hk_buf_puts(&b, "[");
    for (int i = 1; i <= 5; i++)
        hk_buf_printf(&b,
                      "%s{\"attempt\":%d,\"status\":\"failed\",\"statusCode\":500,"
                      "\"error\":\"HTTP 500\",\"latencyMs\":12,\"pad\":\"%060d\"}",
                      i > 1 ? "," : "", i, 0);
    hk_buf_puts(&b, "]");
    return b.data;
}

Test(record_size, is_exactly_what_is_written)
{
    char *outcomes = five_outcomes();
    const char *variants[] = {NULL, "", "[]", outcomes};
    for (size_t v = 0; v < 4; v++)
        for (int deferred = 0; deferred <= 1; deferred++)
            for (int omitted = 0; omitted <= 12; omitted += 12) {
                hk_retry_record r = sized_record("{\"jobId\":\"x\"}", variants[v]);
                r.deferred = deferred;
                r.deferrals = 4;
                r.outcomes_omitted = omitted;
                hk_buf b = {0};
                hk_retry_record_write(&b, &r);
                cr_assert_eq(hk_retry_record_size(&r), b.len, "variant %zu", v);
                hk_buf_free(&b);
            }
    free(outcomes);
}

Test(record_size, a_record_that_fits_is_written_whole)
{
    char *outcomes = five_outcomes();
    hk_retry_record r = sized_record("{\"jobId\":\"x\"}", outcomes);
    hk_buf whole = {0}, within = {0};
    hk_retry_record_write(&whole, &r);
    cr_assert_eq(hk_retry_record_write_within(&within, &r, whole.len, NULL), HK_OK);
    cr_assert_eq(within.len, whole.len);
    cr_assert_eq(memcmp(within.data, whole.data, whole.len), 0);
    hk_buf_free(&whole);
    hk_buf_free(&within);
    free(outcomes);
}

Test(record_size, the_oldest_outcomes_are_left_out_to_fit)
{
    char *outcomes = five_outcomes();
    hk_retry_record r = sized_record("{\"jobId\":\"x\"}", outcomes);
    r.outcomes_omitted = 2; /* left out by an earlier record already */
    size_t whole = hk_retry_record_size(&r);
    for (size_t limit = whole - 1; limit > whole - 700; limit -= 7) {
        hk_buf b = {0};
        hk_error err = {0};
        cr_assert_eq(hk_retry_record_write_within(&b, &r, limit, &err), HK_OK, "%s", err.msg);
        cr_assert_leq(b.len, limit);
        hk_retry_record back;
        cr_assert_eq(hk_retry_record_parse(b.data, b.len, &back, &err), HK_OK, "%s", err.msg);
        cJSON *kept = cJSON_Parse(back.outcomes_json);
        int n = cJSON_GetArraySize(kept);
        cr_assert_lt(n, 5);
        cr_assert_eq(back.outcomes_omitted, 2 + (5 - n), "every outcome left out is counted");
        /* the newest ones are kept, in order */
        int expect = 5 - n + 1;
        const cJSON *o;
        cJSON_ArrayForEach(o, kept)
        {
            cr_assert_eq(cJSON_GetObjectItem(o, "attempt")->valueint, expect);
            expect++;
        }
        /* and as many as fit: one more would not have */
        if (n < 5) {
            hk_retry_record more = r;
            cJSON *arr = cJSON_Parse(outcomes);
            for (int i = 0; i < 5 - (n + 1); i++)
                cJSON_DeleteItemFromArray(arr, 0);
            char *text = cJSON_PrintUnformatted(arr);
            more.outcomes_json = text;
            more.outcomes_omitted = 2 + (5 - (n + 1));
            cr_assert_gt(hk_retry_record_size(&more), limit, "limit %zu kept %d", limit, n);
            free(text);
            cJSON_Delete(arr);
        }
        cJSON_Delete(kept);
        hk_retry_record_free(&back);
        hk_buf_free(&b);
    }
    free(outcomes);
}

Test(record_size, a_record_too_large_without_outcomes_is_refused)
{
    char *outcomes = five_outcomes();
    hk_retry_record r = sized_record("{\"jobId\":\"x\"}", outcomes);
    hk_retry_record none = r;
    none.outcomes_json = "[]";
    none.outcomes_omitted = 5;
    size_t smallest = hk_retry_record_size(&none);
    hk_buf b = {0};
    hk_error err = {0};
    cr_assert_eq(hk_retry_record_write_within(&b, &r, smallest, &err), HK_OK);
    cr_assert_eq(b.len, smallest);
    b.len = 0;
    cr_assert_eq(hk_retry_record_write_within(&b, &r, smallest - 1, &err), HK_ELIMIT);
    cr_assert_eq(b.len, 0, "nothing appended");
    char want[64];
    snprintf(want, sizeof want, "(%zu without any outcome)", smallest);
    cr_assert(strstr(err.msg, want), "%s", err.msg);
    hk_buf_free(&b);
    free(outcomes);
}

Test(record_size, min_size_bounds_every_record_of_the_event)
{
    const char *event = "{\"jobId\":\"j\",\"flowId\":\"7\",\"jobStatus\":\"Failed\"}";
    size_t min = hk_retry_record_min_size("hookd", "7", "job \"quoted\" \x01 é", "job-events/0/42",
                                          strlen(event));
    char long_id[68];
    memset(long_id, 'w', 67);
    long_id[67] = '\0';
    memcpy(long_id, "wh_", 3);
    const char *ids[] = {"wh_1", long_id};
    for (size_t i = 0; i < 2; i++)
        for (int deferred = 0; deferred <= 1; deferred++) {
            hk_retry_record r = sized_record(event, "[]");
            r.webhook_id = (char *)ids[i];
            r.deferred = deferred;
            r.deferrals = 999999;
            r.attempt = 1000000;
            r.due_ms = UINT64_MAX;
            r.first_seen_ms = UINT64_MAX;
            r.outcomes_omitted = 999999;
            cr_assert_leq(hk_retry_record_size(&r), min);
        }
    /* the envelope is small: the event's bytes are nearly all of it */
    cr_assert_lt(min - strlen(event), 600, "envelope %zu", min - strlen(event));
}

Test(record_size, outcomes_omitted_survives_a_round_trip)
{
    hk_retry_record r = sized_record("{\"jobId\":\"x\"}", "[]");
    r.outcomes_omitted = 7;
    hk_buf b = {0};
    hk_retry_record_write(&b, &r);
    hk_retry_record back;
    cr_assert_eq(hk_retry_record_parse(b.data, b.len, &back, NULL), HK_OK);
    cr_assert_eq(back.outcomes_omitted, 7);
    hk_retry_record_free(&back);
    hk_buf_free(&b);
}

/* ----------------------------------------------------------- dead letters cut to fit --- */

static cJSON *big_dead_letter(size_t event_pad, size_t outcomes)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "kind", "delivery");
    cJSON_AddStringToObject(rec, "reason", "attempts exhausted");
    cJSON_AddStringToObject(rec, "deliveryId", "msg_0123456789abcdefghijklmnop");
    cJSON_AddStringToObject(rec, "jobId", "12345");
    cJSON *event = cJSON_AddObjectToObject(rec, "event");
    cJSON_AddStringToObject(event, "jobId", "12345");
    char *pad = malloc(event_pad + 1);
    for (size_t i = 0; i + 1 < event_pad; i += 2)
        memcpy(pad + i, "\xc3\xa9", 2); /* é: a cut must not split it */
    pad[event_pad - event_pad % 2] = '\0';
    cJSON_AddStringToObject(event, "pad", pad);
    free(pad);
    cJSON *arr = cJSON_AddArrayToObject(rec, "outcomes");
    for (size_t i = 1; i <= outcomes; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "attempt", (double)i);
        cJSON_AddStringToObject(o, "error",
                                "HTTP 500 .............................................");
        cJSON_AddItemToArray(arr, o);
    }
    return rec;
}

static bool utf8_whole(const char *s)
{
    size_t n = strlen(s);
    return n == 0 || ((unsigned char)s[n - 1] & 0xC0) != 0xC0; /* does not end mid-character */
}

Test(dead_letter_fit, a_record_that_fits_is_printed_as_is)
{
    cJSON *rec = big_dead_letter(1000, 3);
    char *want = cJSON_PrintUnformatted(rec), *got = NULL;
    size_t len = 0;
    cr_assert_eq(hk_dead_letter_print_within(rec, strlen(want), &got, &len), HK_OK);
    cr_assert_str_eq(got, want);
    cr_assert_eq(len, strlen(want));
    free(want);
    free(got);
    cJSON_Delete(rec);
}

Test(dead_letter_fit, outcomes_go_first_oldest_first)
{
    cJSON *rec = big_dead_letter(1000, 20);
    char *whole = cJSON_PrintUnformatted(rec), *got = NULL;
    size_t len = 0, limit = strlen(whole) - 300;
    cr_assert_eq(hk_dead_letter_print_within(rec, limit, &got, &len), HK_OK);
    cr_assert_leq(len, limit);
    cJSON *back = cJSON_Parse(got);
    cr_assert(cJSON_IsObject(cJSON_GetObjectItem(back, "event")), "the event is still whole");
    cJSON *outcomes = cJSON_GetObjectItem(back, "outcomes");
    int n = cJSON_GetArraySize(outcomes);
    cr_assert(n > 0 && n < 20);
    cr_assert_eq(cJSON_GetObjectItem(back, "outcomesOmitted")->valueint, 20 - n);
    cr_assert_eq(cJSON_GetArrayItem(outcomes, n - 1)->child->valueint, 20, "the newest kept");
    cJSON_Delete(back);
    free(whole);
    free(got);
    cJSON_Delete(rec);
}

Test(dead_letter_fit, then_the_event_becomes_a_cut_payload)
{
    size_t limits[] = {50000, 20000, 5000, 1000};
    for (size_t i = 0; i < 4; i++) {
        cJSON *rec = big_dead_letter(200000, 50);
        char *got = NULL;
        size_t len = 0;
        cr_assert_eq(hk_dead_letter_print_within(rec, limits[i], &got, &len), HK_OK);
        cr_assert_leq(len, limits[i]);
        cr_assert_eq(strlen(got), len);
        cJSON *back = cJSON_Parse(got);
        cr_assert_not_null(back, "still JSON");
        cr_assert_null(cJSON_GetObjectItem(back, "event"));
        const cJSON *payload = cJSON_GetObjectItem(back, "payload");
        cr_assert(cJSON_IsString(payload));
        cr_assert(utf8_whole(payload->valuestring), "no character split");
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(back, "payloadTruncated")));
        cr_assert_gt(cJSON_GetObjectItem(back, "payloadBytes")->valuedouble, 200000);
        cr_assert_eq(cJSON_GetObjectItem(back, "outcomesOmitted")->valueint, 50);
        cr_assert_str_eq(cJSON_GetObjectItem(back, "jobId")->valuestring, "12345");
        cJSON_Delete(back);
        free(got);
        cJSON_Delete(rec);
    }
}

Test(dead_letter_fit, base64_payloads_are_cut_on_a_quantum)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "kind", "poison");
    char *b64 = malloc(40001);
    memset(b64, 'A', 40000);
    b64[40000] = '\0';
    cJSON_AddStringToObject(rec, "payloadBase64", b64);
    free(b64);
    char *got = NULL;
    size_t len = 0;
    cr_assert_eq(hk_dead_letter_print_within(rec, 10001, &got, &len), HK_OK);
    cr_assert_leq(len, 10001);
    cJSON *back = cJSON_Parse(got);
    cr_assert_eq(strlen(cJSON_GetObjectItem(back, "payloadBase64")->valuestring) % 4, 0);
    cJSON_Delete(back);
    free(got);
    cJSON_Delete(rec);
}

Test(dead_letter_fit, long_ids_are_cut_last_and_a_tiny_limit_is_refused)
{
    cJSON *rec = big_dead_letter(100, 2);
    char *job = malloc(300001);
    memset(job, 'j', 300000);
    job[300000] = '\0';
    cJSON_ReplaceItemInObject(rec, "jobId", cJSON_CreateString(job));
    free(job);
    char *got = NULL;
    size_t len = 0;
    cr_assert_eq(hk_dead_letter_print_within(rec, 2000, &got, &len), HK_OK);
    cr_assert_leq(len, 2000);
    cJSON *back = cJSON_Parse(got);
    cr_assert_eq(strlen(cJSON_GetObjectItem(back, "jobId")->valuestring), 256);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(back, "truncated")));
    cJSON_Delete(back);
    free(got);
    got = NULL;
    cr_assert_eq(hk_dead_letter_print_within(rec, 100, &got, &len), HK_ELIMIT);
    cr_assert_null(got);
    cJSON_Delete(rec);
}

/* Found by fuzz_retry_record (tests/fuzz/crashes/retry_record-*): a time past a double's whole
 * numbers was cast to uint64_t unchecked, undefined behaviour that UBSan aborts on. Such a record
 * is refused, naming the field, and its head scan reads it as due now. */
Test(record, times_past_two_to_the_53_are_refused_not_cast)
{
    static const char *const records[] = {
        "{\"dueAt\":1e20,\"group\":\"hookd\",\"kind\":\"retry\",\"deliveryId\":\"msg_1\","
        "\"webhookId\":\"wh_1\",\"flowId\":\"7\",\"jobId\":\"1\",\"eventId\":\"ev-1\","
        "\"attempt\":2,\"firstSeenAt\":1795341590000,\"deferred\":false,"
        "\"event\":{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"},\"outcomes\":[]}",
        "{\"dueAt\":1795341590000,\"group\":\"hookd\",\"kind\":\"retry\",\"deliveryId\":\"msg_1\","
        "\"webhookId\":\"wh_1\",\"flowId\":\"7\",\"jobId\":\"1\",\"eventId\":\"ev-1\","
        "\"attempt\":2,\"firstSeenAt\":1e300,\"deferred\":false,"
        "\"event\":{\"jobId\":\"1\",\"jobStatus\":\"Complete\",\"flowId\":\"7\"},\"outcomes\":[]}",
    };
    static const char *const fields[] = {"dueAt", "firstSeenAt"};
    for (size_t i = 0; i < 2; i++) {
        hk_retry_record r;
        hk_error err = {0};
        cr_assert_eq(hk_retry_record_parse(records[i], strlen(records[i]), &r, &err), HK_EINVAL,
                     "record %zu", i);
        cr_assert_str_eq(err.field, fields[i], "%s", err.msg);
    }
    cr_assert_eq(hk_retry_record_due("{ \"dueAt\": 1e20 }", 17), 0);
    cr_assert_eq(hk_retry_record_due("{\"dueAt\":123456789012345678901}", 31), 0,
                 "digits past 2^53 are not wrapped");
    cr_assert_eq(hk_retry_record_due("{\"dueAt\":1795341590000,", 23), 1795341590000ull);
}

/* retry's families, the whole scrape of a program that links only retry (and model, core):
 * every member at 0 from the start, one HELP and TYPE per family, families by name. The text is
 * what core/metrics.c rendered before each module declared its own families (issue 13): a
 * change here is a change operators see. */
Test(retry_metrics, every_family_renders_at_zero_from_the_start_as_before)
/* (issue 17 split hookd_deliveries_total: attempts by outcome and status class in
 * hookd_delivery_attempts_total, and a delivery's end in hookd_deliveries_total; decision 71) */
{
    static const char want[] =
        "# HELP hookd_deliveries_cancelled_total Deliveries given up before they started "
        "because their partition moved to another worker, which redelivers them.\n"
        "# TYPE hookd_deliveries_cancelled_total counter\n"
        "hookd_deliveries_cancelled_total 0\n"
        "# HELP hookd_deliveries_deferred_total Deliveries parked on a retry tier without a "
        "failed attempt: slow_host (its host was slow and its queue full) or shutdown "
        "(unfinished when the worker stopped).\n"
        "# TYPE hookd_deliveries_deferred_total counter\n"
        "hookd_deliveries_deferred_total{reason=\"slow_host\"} 0\n"
        "hookd_deliveries_deferred_total{reason=\"shutdown\"} 0\n"
        "# HELP hookd_deliveries_total Deliveries (one task's request for one event, however "
        "many attempts) at their end: delivered (a 2xx), dead_lettered (acknowledged on the "
        "dead-letter topic) or skipped (an event's webhookOverrides said skip).\n"
        "# TYPE hookd_deliveries_total counter\n"
        "hookd_deliveries_total{outcome=\"delivered\"} 0\n"
        "hookd_deliveries_total{outcome=\"dead_lettered\"} 0\n"
        "hookd_deliveries_total{outcome=\"skipped\"} 0\n"
        "# HELP hookd_delivery_attempts_total Delivery attempts finished, by outcome: succeeded "
        "(2xx), http_error (another status), timeout, network_error (DNS, connect, TLS, reset), "
        "blocked (private address refused) or invalid (the request could not be built); and "
        "status_class: 1xx, 2xx, 3xx, 4xx, 5xx, with 410 and 429 apart, none when no status "
        "came back.\n"
        "# TYPE hookd_delivery_attempts_total counter\n"
        "hookd_delivery_attempts_total{outcome=\"succeeded\",status_class=\"2xx\"} 0\n"
        "hookd_delivery_attempts_total{outcome=\"http_error\",status_class=\"1xx\"} 0\n"
        "hookd_delivery_attempts_total{outcome=\"http_error\",status_class=\"3xx\"} 0\n"
        "hookd_delivery_attempts_total{outcome=\"http_error\",status_class=\"4xx\"} 0\n"
        "hookd_delivery_attempts_total{outcome=\"http_error\",status_class=\"410\"} 0\n"
        "hookd_delivery_attempts_total{outcome=\"http_error\",status_class=\"429\"} 0\n"
        "hookd_delivery_attempts_total{outcome=\"http_error\",status_class=\"5xx\"} 0\n"
        "hookd_delivery_attempts_total{outcome=\"timeout\",status_class=\"none\"} 0\n"
        "hookd_delivery_attempts_total{outcome=\"network_error\",status_class=\"none\"} 0\n"
        "hookd_delivery_attempts_total{outcome=\"blocked\",status_class=\"none\"} 0\n"
        "hookd_delivery_attempts_total{outcome=\"invalid\",status_class=\"none\"} 0\n"
        "# HELP hookd_dlq_records_total Records acknowledged by Kafka on the dead-letter "
        "topic, by reason.\n"
        "# TYPE hookd_dlq_records_total counter\n"
        "hookd_dlq_records_total{reason=\"poison\"} 0\n"
        "hookd_dlq_records_total{reason=\"attempts_exhausted\"} 0\n"
        "hookd_dlq_records_total{reason=\"retry_disabled\"} 0\n"
        "hookd_dlq_records_total{reason=\"endpoint_gone\"} 0\n"
        "hookd_dlq_records_total{reason=\"permanent_failure\"} 0\n"
        "hookd_dlq_records_total{reason=\"invalid_request\"} 0\n"
        "hookd_dlq_records_total{reason=\"task_deleted\"} 0\n"
        "hookd_dlq_records_total{reason=\"task_disabled\"} 0\n"
        "hookd_dlq_records_total{reason=\"too_large\"} 0\n";
    hk_buf b = {0};
    hk_metrics_render(&b);
    cr_assert_str_eq(b.data, want);
    hk_buf_free(&b);
}

/* ------------------------------------------------------------- outcome and dead letters --- */

/* The outcome record as written is valid JSON, escaped, and its reader gets every field back;
 * a record without a response reads as no status. */
Test(outcome, written_then_read_back)
{
    hk_outcome o = {.ids = {.delivery_id = "msg_1",
                            .webhook_id = "wh_\"q\"",
                            .flow_id = "7",
                            .job_id = "42",
                            .event_id = "ev"},
                    .attempt = 3,
                    .delivered = false,
                    .http_status = 503,
                    .error = "HTTP 503\nretry",
                    .latency_ms = 1234,
                    .at_ms = 1764460800123ULL};
    hk_buf b = {0};
    hk_outcome_write(&b, &o);
    cJSON *rec = cJSON_ParseWithLength(b.data, b.len);
    cr_assert(rec, "%.*s", (int)b.len, b.data);
    hk_outcome_view v;
    hk_outcome_read(rec, &v);
    cr_assert_str_eq(v.webhook_id, "wh_\"q\"");
    cr_assert_str_eq(v.delivery_id, "msg_1");
    cr_assert_str_eq(v.status, "failed");
    cr_assert_str_eq(v.error, "HTTP 503\nretry");
    cr_assert_str_eq(v.at, "2025-11-30T00:00:00.123Z");
    cr_assert_eq(v.attempt, 3);
    cr_assert_eq(v.http_status, 503);
    cr_assert_float_eq(v.latency_ms, 1234.0, 0.5);
    cJSON_Delete(rec);
    b.len = 0;
    o.http_status = 0;
    o.error = NULL;
    o.delivered = true;
    hk_outcome_write(&b, &o);
    rec = cJSON_ParseWithLength(b.data, b.len);
    hk_outcome_read(rec, &v);
    cr_assert_eq(v.http_status, -1, "statusCode null reads as no response");
    cr_assert_null(v.error);
    cr_assert_str_eq(v.status, "delivered");
    cr_assert_null(cJSON_GetObjectItem(rec, "warning"), "no warning: no member");
    cJSON_Delete(rec);
    /* a warning (the event's overrides naming no task) is one escaped member */
    b.len = 0;
    o.warning = "webhookOverrides[1]: no webhook task wh_\"x\" in flow 7";
    hk_outcome_write(&b, &o);
    rec = cJSON_ParseWithLength(b.data, b.len);
    cr_assert(rec, "%.*s", (int)b.len, b.data);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "warning")->valuestring, o.warning);
    cJSON_Delete(rec);
    hk_buf_free(&b);
}

/* Parses "{" + the detail's members + "}" (the detail is appended inside an outcome). */
static cJSON *detail_json(const hk_outcome_detail *d)
{
    hk_buf b = {0};
    hk_buf_puts(&b, "{\"x\":1");
    hk_outcome_write_detail(&b, d);
    hk_buf_puts(&b, "}");
    cJSON *rec = cJSON_ParseWithLength(b.data, b.len);
    cr_assert(rec, "%.*s", (int)b.len, b.data);
    hk_buf_free(&b);
    return rec;
}

/* What was sent and what came back: bodies cut to 4 KiB and 1 KiB on a character boundary,
 * binary as base64, header names lower-cased, repeated ones joined, no response member without
 * an answer, and a request body not kept (HOOKD_HISTORY_BODIES=off) leaving only its size. */
Test(outcome, detail_keeps_bounded_bodies_and_headers)
{
    char big[6000];
    memset(big, 'a', sizeof big);
    memcpy(big + 4095, "\xc3\xa9", 2); /* a 2-byte character across the 4 KiB mark */
    static const char headers[] = "Content-Type: text/plain\nVary: a\nX-Weird: caf\xe9\n"
                                  "vary: b\n";
    char resp[1500];
    memset(resp, 'r', sizeof resp);
    hk_outcome_detail d = {.request_body = big,
                           .request_body_len = sizeof big,
                           .answered = true,
                           .response_headers = headers,
                           .response_headers_len = sizeof headers - 1,
                           .response_body = resp,
                           .response_body_len = sizeof resp};
    cJSON *rec = detail_json(&d);
    const cJSON *req = cJSON_GetObjectItem(rec, "request");
    cr_assert_eq(cJSON_GetObjectItem(req, "bodyBytes")->valueint, 6000);
    cr_assert_eq(strlen(cJSON_GetObjectItem(req, "body")->valuestring), 4095,
                 "the character that would be cut is left out whole");
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(req, "bodyTruncated")));
    const cJSON *res = cJSON_GetObjectItem(rec, "response");
    cr_assert_eq(strlen(cJSON_GetObjectItem(res, "body")->valuestring), 1024);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(res, "bodyTruncated")));
    const cJSON *h = cJSON_GetObjectItem(res, "headers");
    cr_assert_str_eq(cJSON_GetObjectItem(h, "content-type")->valuestring, "text/plain");
    cr_assert_str_eq(cJSON_GetObjectItem(h, "vary")->valuestring, "a, b");
    cr_assert_str_eq(cJSON_GetObjectItem(h, "x-weird")->valuestring, "caf?");
    cr_assert_eq(cJSON_GetArraySize(h), 3);
    cJSON_Delete(rec);

    /* a short body is whole; a binary one is base64; no answer: no response member */
    d.request_body = "\x01\xff\x00";
    d.request_body_len = 3;
    d.answered = false;
    rec = detail_json(&d);
    req = cJSON_GetObjectItem(rec, "request");
    cr_assert_str_eq(cJSON_GetObjectItem(req, "bodyBase64")->valuestring, "Af8A");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(req, "bodyTruncated")));
    cr_assert_null(cJSON_GetObjectItem(rec, "response"));
    cJSON_Delete(rec);

    /* not kept: only its size */
    d.request_body = NULL;
    d.request_body_len = 17;
    rec = detail_json(&d);
    req = cJSON_GetObjectItem(rec, "request");
    cr_assert_eq(cJSON_GetObjectItem(req, "bodyBytes")->valueint, 17);
    cr_assert_null(cJSON_GetObjectItem(req, "body"));
    cr_assert_null(cJSON_GetObjectItem(req, "bodyBase64"));
    cJSON_Delete(rec);
}

/* A delivery's dead letter keeps a JSON event parsed and anything else as a payload: text when
 * it is UTF-8, base64 when it is not; a poison one says where it was consumed. */
Test(dead_letter, builders_keep_the_event_as_json_text_or_base64)
{
    hk_delivery_ids ids = {"msg_1", "wh_1", "7", "42", "ev"};
    const char *event = "{\"jobId\":\"42\"}";
    cJSON *rec = hk_dead_letter_delivery(&ids, 2, "attempts exhausted", "HTTP 500", event,
                                         strlen(event), "[{\"attempt\":1}]", 1);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "kind")->valuestring, "delivery");
    cr_assert(cJSON_IsObject(cJSON_GetObjectItem(rec, "event")));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(rec, "outcomes")), 1);
    cr_assert_eq(cJSON_GetObjectItem(rec, "outcomesOmitted")->valueint, 1);
    hk_dead_letter_stamp(rec, "g1", 0);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "group")->valuestring, "g1");
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "deadAt")->valuestring, "1970-01-01T00:00:00.000Z");
    cJSON_Delete(rec);

    const char bin[] = {'\xff', '\x00', 'a'};
    rec = hk_dead_letter_poison("bad JSON", "events", 3, 17, bin, sizeof bin);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "kind")->valuestring, "poison");
    cr_assert_eq(cJSON_GetObjectItem(rec, "offset")->valueint, 17);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "payloadBase64")->valuestring, "/wBh");
    cr_assert_null(cJSON_GetObjectItem(rec, "payload"));
    cJSON_Delete(rec);

    rec = hk_dead_letter_poison("bad JSON", "events", 0, 1, "not json", 8);
    cr_assert_str_eq(cJSON_GetObjectItem(rec, "payload")->valuestring, "not json");
    cr_assert_eq(cJSON_GetObjectItem(rec, "payloadBytes")->valueint, 8);
    cJSON_Delete(rec);
}
