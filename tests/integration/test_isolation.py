"""Slow-endpoint isolation and paused tiers, measured as ratios of two runs side by side on one
worker (the machine is noisy; a bare time would mean nothing)."""
import time

from conftest import Receiver

# Small caps, so that without the per-host queue bound one slow host would fill the worker's
# whole budget (4 x HOOKD_MAX_INFLIGHT pending) and pause the partitions for everyone.
CAPS = {"HOOKD_MAX_INFLIGHT": "256", "HOOKD_MAX_INFLIGHT_PER_HOST": "16",
        "HOOKD_MAX_QUEUE_PER_HOST": "64", "HOOKD_RETRY_DELAYS": "5s,10s",
        "HOOKD_LOG_LEVEL": "info"}


def deliver_all(env, receivers, flow, path, n):
    """Publishes n events of the flow and returns the seconds until every receiver has n."""
    start = time.time()
    env.publish_many([{"eventId": f"{flow}-{i}", "jobId": f"{flow}-{i}", "jobStatus": "Complete",
                       "flowId": flow} for i in range(n)], spread=True)
    for r in receivers:
        got = r.wait_for(path, n, timeout=120)
        assert len(got) >= n, f"{r.url(path)} got {len(got)} of {n}"
    return time.time() - start


def test_one_slow_receiver_does_not_hold_back_the_other_nine(env, worker_factory, stack):
    # Ten tasks per flow, each on a receiver (a host) of its own: the flows "fast<i>" go to
    # nine healthy receivers and a healthy tenth, the flows "slow<i>" to the same nine and one
    # that hangs past the tasks' 2 s timeout. Two rounds, alternating.
    nine = [Receiver() for _ in range(9)]
    tenth, slow = Receiver(), Receiver()
    slow.delay["/"] = 2.5
    receivers = nine + [tenth, slow]
    try:
        names = ["warm", "fast1", "slow1", "fast2", "slow2"]
        for name in names:
            for r in nine + [slow if name.startswith("slow") else tenth]:
                env.create_task({"flowId": f"{name}-{env.tag}", "url": r.url(f"/{name}"),
                                 "body": "$jobId", "timeoutMs": 2000})
        worker = worker_factory(env.topic, env.group, env.prefix, CAPS)
        deliver_all(env, nine + [tenth], f"warm-{env.tag}", "/warm", 50)
        n = 3000
        took = {}
        for name in names[1:]:
            took[name] = deliver_all(env, nine, f"{name}-{env.tag}", f"/{name}", n)
        t_fast, t_slow = took["fast1"] + took["fast2"], took["slow1"] + took["slow2"]
        ratio = t_fast / t_slow
        print("healthy nine, %d deliveries each per run: %s; ratio %.2f (sum of the runs with "
              "ten healthy receivers / sum with one hanging)"
              % (n, ", ".join(f"{k} {v:.2f} s" for k, v in took.items()), ratio))
        deferred = worker.metric("hookd_deliveries_deferred_total")
        print(f"deliveries deferred to the tiers meanwhile (hookd_deliveries_deferred_total): {deferred}")
        assert deferred > 0, "the slow host's overflow was deferred"
        assert ratio >= 0.8, ratio
    finally:
        for r in receivers:
            r.close()
