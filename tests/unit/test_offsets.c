/* The offset tracker: the offset to commit never passes a message with unfinished work. */
#include <criterion/criterion.h>

#include "hk_consumer.h"

Test(offsets, nothing_finished_nothing_to_commit)
{
    hk_offset_tracker *t = hk_offset_tracker_create();
    hk_offset_tracker_add(t, 10, 1);
    hk_offset_tracker_add(t, 11, 1);
    cr_assert_eq(hk_offset_tracker_commit_point(t), -1);
    cr_assert_eq(hk_offset_tracker_unfinished(t), 2);
    hk_offset_tracker_destroy(t);
}

Test(offsets, out_of_order_completion_stops_at_lowest_unfinished)
{
    hk_offset_tracker *t = hk_offset_tracker_create();
    for (int64_t o = 100; o < 105; o++)
        hk_offset_tracker_add(t, o, 1);
    cr_assert(hk_offset_tracker_release(t, 103));
    cr_assert(hk_offset_tracker_release(t, 101));
    cr_assert_eq(hk_offset_tracker_commit_point(t), -1, "100 is unfinished");
    cr_assert(hk_offset_tracker_release(t, 100));
    cr_assert_eq(hk_offset_tracker_commit_point(t), 102, "100 and 101 done, 102 not");
    cr_assert_eq(hk_offset_tracker_commit_point(t), -1, "no movement reported twice");
    cr_assert(hk_offset_tracker_release(t, 102));
    cr_assert_eq(hk_offset_tracker_commit_point(t), 104);
    cr_assert(hk_offset_tracker_release(t, 104));
    cr_assert_eq(hk_offset_tracker_commit_point(t), 105);
    cr_assert_eq(hk_offset_tracker_unfinished(t), 0);
    hk_offset_tracker_destroy(t);
}

Test(offsets, fan_out_needs_every_unit)
{
    hk_offset_tracker *t = hk_offset_tracker_create();
    hk_offset_tracker_add(t, 7, 1);
    hk_offset_tracker_hold(t, 7, 49); /* 50 deliveries */
    for (int i = 0; i < 49; i++)
        cr_assert(hk_offset_tracker_release(t, 7));
    cr_assert_eq(hk_offset_tracker_commit_point(t), -1);
    cr_assert(hk_offset_tracker_release(t, 7));
    cr_assert_eq(hk_offset_tracker_commit_point(t), 8);
    cr_assert_not(hk_offset_tracker_release(t, 7), "already popped");
    hk_offset_tracker_destroy(t);
}

Test(offsets, gaps_in_offsets_and_zero_work)
{
    hk_offset_tracker *t = hk_offset_tracker_create();
    hk_offset_tracker_add(t, 5, 1);
    hk_offset_tracker_add(t, 9, 1); /* compacted or transactional gap */
    cr_assert_not(hk_offset_tracker_release(t, 6), "unknown offset");
    cr_assert(hk_offset_tracker_release(t, 9));
    cr_assert_eq(hk_offset_tracker_commit_point(t), -1);
    cr_assert(hk_offset_tracker_release(t, 5));
    cr_assert_eq(hk_offset_tracker_commit_point(t), 10);
    hk_offset_tracker_destroy(t);
}

Test(offsets, ring_grows_past_initial_capacity)
{
    hk_offset_tracker *t = hk_offset_tracker_create();
    for (int64_t o = 0; o < 5000; o++)
        hk_offset_tracker_add(t, o, 1);
    /* finish everything but offset 2500, in reverse */
    for (int64_t o = 4999; o >= 0; o--)
        if (o != 2500)
            cr_assert(hk_offset_tracker_release(t, o));
    cr_assert_eq(hk_offset_tracker_commit_point(t), 2500);
    cr_assert_eq(hk_offset_tracker_unfinished(t), 1);
    for (int64_t o = 5000; o < 5600; o++) /* wraps around the ring */
        hk_offset_tracker_add(t, o, 1);
    cr_assert(hk_offset_tracker_release(t, 2500));
    cr_assert_eq(hk_offset_tracker_commit_point(t), 5000);
    hk_offset_tracker_destroy(t);
}

Test(offsets, a_partition_assigned_again_reports_its_point_again_and_resumes_after_the_last)
{
    hk_offset_tracker *t = hk_offset_tracker_create();
    cr_assert_eq(hk_offset_tracker_next(t), -1, "nothing consumed: resume at the committed");
    for (int64_t o = 40; o < 45; o++)
        hk_offset_tracker_add(t, o, 1);
    cr_assert_eq(hk_offset_tracker_next(t), 45);
    cr_assert(hk_offset_tracker_release(t, 40));
    cr_assert_eq(hk_offset_tracker_commit_point(t), 41);
    cr_assert_eq(hk_offset_tracker_commit_point(t), -1);
    hk_offset_tracker_report_again(t);
    cr_assert_eq(hk_offset_tracker_commit_point(t), 41, "stored again after a new assignment");
    cr_assert_eq(hk_offset_tracker_commit_point(t), -1);
    for (int64_t o = 44; o >= 41; o--)
        cr_assert(hk_offset_tracker_release(t, o));
    cr_assert_eq(hk_offset_tracker_commit_point(t), 45);
    cr_assert_eq(hk_offset_tracker_next(t), 45, "popping does not change where to resume");
    hk_offset_tracker_destroy(t);
}

/* consumer's families, the whole scrape of a program that links only consumer (and core): every
 * member at 0 from the start, one HELP and TYPE per family, families by name. The text is what
 * core/metrics.c rendered before each module declared its own families (issue 13): a change
 * here is a change operators see. */
Test(consumer_metrics, every_family_renders_at_zero_from_the_start_as_before)
{
    /* The block comes with the object file that defines it, which the linker takes from the
     * static library only for a program that uses a handle: this suite's other tests use the
     * offset tracker alone, so take one here (hookd takes them all through consumer.c). */
    cr_assert_eq(hk_counter_get(&hk_consumer_metrics.rebalances), 0);
    static const char want[] =
        "# HELP hookd_events_consumed_total Messages taken from Kafka: job events and due "
        "retry records.\n"
        "# TYPE hookd_events_consumed_total counter\n"
        "hookd_events_consumed_total 0\n"
        "# HELP hookd_kafka_consumer_lag Messages of an assigned partition not yet finished "
        "(its end minus the offset stored as done), from librdkafka statistics every "
        "statistics.interval.ms. A tier's lag includes records not yet due.\n"
        "# TYPE hookd_kafka_consumer_lag gauge\n"
        "# HELP hookd_offsets_stored_total Times a partition's offset moved forward.\n"
        "# TYPE hookd_offsets_stored_total counter\n"
        "hookd_offsets_stored_total 0\n"
        "# HELP hookd_rebalances_total Consumer group rebalances.\n"
        "# TYPE hookd_rebalances_total counter\n"
        "hookd_rebalances_total 0\n"
        "# HELP hookd_tier_holds_total Times a retry tier's partition was paused because its "
        "next record was not yet due (it resumes on a timer at the due time).\n"
        "# TYPE hookd_tier_holds_total counter\n"
        "hookd_tier_holds_total 0\n";
    hk_buf b = {0};
    hk_metrics_render(&b);
    cr_assert_str_eq(b.data, want);
    hk_buf_free(&b);
}
