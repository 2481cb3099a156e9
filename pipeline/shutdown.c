/*
 * shutdown.c — a shard's graceful stop: stop fetching, let the events in progress finish for
 * most of HOOKD_SHUTDOWN_GRACE_MS, then hand what is still unfinished to the retry tiers (the
 * verdict on a cancelled attempt while handing off) so that its source offset can be committed,
 * and commit before the loop stops. Whatever is unfinished after that is redelivered to the
 * partitions' next owner from the last commit.
 */
#include "internal.h"

static bool drained(hk_pipeline *p)
{
    for (size_t c = 0; c < p->n_consumers; c++)
        if (!hk_consumer_settled(p->consumers[c]))
            return false;
    return p->jobs_alive == 0 && hk_delivery_pending(p->engine) == 0 && p->rate_waiting == 0;
}

void hk_pipeline_finish(hk_pipeline *p)
{
    hk_error err = {0};
    for (size_t c = 0; c < p->n_consumers; c++)
        if (hk_consumer_commit(p->consumers[c], &err) != HK_OK) {
            if (c == 0)
                HK_WARN("shutdown.commit", "%s", err.msg);
            else
                HK_WARN("shutdown.commit", "%s: %s", p->sh->tier_topics[c - 1], err.msg);
        }
    HK_INFO("shutdown", "loop %d stopped: %zu events still unfinished will be redelivered",
            p->index, p->jobs_alive);
    hk_loop_stop(p->loop);
}

/* The grace period's last part, kept for handing unfinished deliveries to a tier and waiting
 * for Kafka to acknowledge them: a quarter of it, between 200 ms and 5 s. */
static uint64_t handoff_reserve_ms(int grace_ms)
{
    uint64_t r = (uint64_t)grace_ms / 4;
    return r < 200 ? 200 : r > 5000 ? 5000 : r;
}

/* Nearly out of grace: every delivery still waiting or in flight is given up here and
 * republished to its tier, due at once (the verdict on HK_DELIVERY_CANCELLED while handing
 * off), so that its source offset can be committed before the worker exits. */
static void hand_off(hk_pipeline *p)
{
    p->handing_off = true;
    size_t waiting = hk_delivery_cancel_waiting(p->engine, NULL, NULL);
    waiting += pl_rate_cancel(p, NULL, NULL); /* waiting for a slot of their rateLimit */
    size_t inflight = hk_delivery_abort_inflight(p->engine);
    if (waiting + inflight)
        HK_INFO("shutdown.handoff",
                "loop %d: grace nearly over; handing %zu waiting and %zu in-flight deliveries to "
                "the retry tiers",
                p->index, waiting, inflight);
}

void pl_on_drain_timer(hk_loop *loop, void *arg)
{
    (void)loop;
    hk_pipeline *p = arg;
    uint64_t now = hk_now_ms();
    if (drained(p) || now >= p->drain_deadline) {
        hk_pipeline_finish(p);
        return;
    }
    if (!p->handing_off && now >= p->handoff_at)
        hand_off(p);
    hk_timer_start(p->drain_timer, 50);
}

void hk_pipeline_drain(hk_pipeline *p)
{
    if (p->draining)
        return;
    p->draining = true;
    HK_INFO("shutdown", "loop %d: finishing %zu events in progress (up to %d ms)", p->index,
            p->jobs_alive, p->cfg->shutdown_grace_ms);
    for (size_t c = 0; c < p->n_consumers; c++)
        hk_consumer_stop_fetching(p->consumers[c]);
    uint64_t now = hk_now_ms(), grace = (uint64_t)p->cfg->shutdown_grace_ms;
    uint64_t reserve = handoff_reserve_ms(p->cfg->shutdown_grace_ms);
    p->handoff_at = now + (grace > reserve ? grace - reserve : 0);
    /* half the reserve for the hand-off's acknowledgements, half for commit and close */
    p->drain_deadline = now + (grace > reserve / 2 ? grace - reserve / 2 : 0);
    hk_timer_start(p->drain_timer, 0);
}
