/* The producer's send contract (hk_producer.h): what each refusal means, without a broker. */
#include <criterion/criterion.h>
#include <string.h>

#include "hk_producer.h"

/* A producer pointed at a port nothing listens on: messages queue and never leave. */
static hk_producer *offline(hk_loop *loop, const char *max_messages, const char *max_bytes)
{
    hk_kv kafka[] = {
        {"bootstrap.servers", "127.0.0.1:1"},
        {"queue.buffering.max.messages", (char *)max_messages},
        {"message.max.bytes", (char *)max_bytes},
        {"log_level", "0"},
    };
    hk_producer *p = NULL;
    hk_error err = {0};
    cr_assert_eq(hk_producer_create(loop, kafka, 4, &p, &err), HK_OK, "%s", err.msg);
    return p;
}

static void never(int err, const char *errstr, void *arg)
{
    (void)err;
    (void)errstr;
    (void)arg;
}

Test(producer, a_full_queue_is_again_not_an_error)
{
    hk_loop *loop = hk_loop_create();
    hk_producer *p = offline(loop, "2", "1000000");
    cr_assert_eq(hk_producer_send(p, "t", "k", 1, "v", 1, never, NULL), HK_PRODUCE_QUEUED);
    cr_assert_eq(hk_producer_send(p, "t", "k", 1, "v", 1, never, NULL), HK_PRODUCE_QUEUED);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(hk_producer_send(p, "t", "k", 1, "v", 1, never, NULL), HK_PRODUCE_AGAIN);
    hk_producer_destroy(p, 0);
    hk_loop_destroy(loop);
}

Test(producer, the_value_limit_follows_message_max_bytes)
{
    hk_loop *loop = hk_loop_create();
    hk_producer *p = offline(loop, "100", "300000");
    cr_assert_eq(hk_producer_max_message_bytes(p), 300000);
    size_t limit = hk_producer_value_limit(p, 30);
    cr_assert_eq(limit, 300000 - HK_PRODUCER_RECORD_OVERHEAD - 30);
    char *value = calloc(1, limit + 1);
    char key[31];
    memset(key, 'k', 30);
    /* the limit is exact: one byte more is refused, and never queued */
    cr_assert_eq(hk_producer_send(p, "t", key, 30, value, limit, never, NULL), HK_PRODUCE_QUEUED);
    cr_assert_eq(hk_producer_send(p, "t", key, 30, value, limit + 1, never, NULL),
                 HK_PRODUCE_TOO_LARGE);
    cr_assert_eq(hk_producer_value_limit(p, 400000), 0);
    free(value);
    hk_producer_destroy(p, 0);
    hk_loop_destroy(loop);
}

Test(producer, too_large_acknowledgements_are_told_apart)
{
    cr_assert(hk_producer_err_too_large(10)); /* MSG_SIZE_TOO_LARGE (the broker's too) */
    cr_assert(hk_producer_err_too_large(18)); /* RECORD_LIST_TOO_LARGE */
    cr_assert_not(hk_producer_err_too_large(0));
    cr_assert_not(hk_producer_err_too_large(-192)); /* _MSG_TIMED_OUT: worth sending again */
}
