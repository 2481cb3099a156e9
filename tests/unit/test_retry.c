/* The retry policy: tiers parsed from HOOKD_RETRY_DELAYS and the single outcome decision. */
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
    const char *bad[] = {"", "5x", "0s", "s", "5s,,", "-5s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hk_error err = {0};
        int rc = hk_retry_policy_init(&p, bad[i], 8, "HOOKD_RETRY_DELAYS", &err);
        if (strcmp(bad[i], "5s,,") == 0) {
            cr_assert_eq(rc, HK_OK, "empty entries are skipped");
            continue;
        }
        cr_assert_eq(rc, HK_EINVAL, "%s", bad[i]);
        cr_assert_str_eq(err.field, "HOOKD_RETRY_DELAYS");
    }
}

Test(retry, decisions)
{
    hk_retry_policy p;
    hk_retry_policy_init(&p, "5s,5m", 3, "x", NULL);
    hk_task t = task_with(true, 0);
    cr_assert_eq(hk_retry_decide(&p, &t, 1, true, false).kind, HK_RETRY_DONE);
    hk_retry_verdict v = hk_retry_decide(&p, &t, 1, false, false);
    cr_assert_eq(v.kind, HK_RETRY_AGAIN);
    cr_assert_eq(v.tier, 0);
    cr_assert_eq(v.delay_ms, 5000);
    v = hk_retry_decide(&p, &t, 2, false, false);
    cr_assert_eq(v.tier, 1);
    cr_assert_eq(hk_retry_decide(&p, &t, 3, false, false).kind, HK_RETRY_DEAD, "default 3");
    cr_assert_eq(hk_retry_decide(&p, &t, 1, false, true).kind, HK_RETRY_DEAD, "permanent");

    hk_task off = task_with(false, 50);
    cr_assert_eq(hk_retry_max_attempts(&p, &off), 1);
    cr_assert_eq(hk_retry_decide(&p, &off, 1, false, false).kind, HK_RETRY_DEAD);

    hk_task many = task_with(true, 10);
    v = hk_retry_decide(&p, &many, 7, false, false);
    cr_assert_eq(v.kind, HK_RETRY_AGAIN);
    cr_assert_eq(v.tier, 1, "past the last tier stays on the last");
}
