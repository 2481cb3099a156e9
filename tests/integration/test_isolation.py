"""Slow-endpoint isolation and paused tiers, measured as ratios of two runs side by side on one
worker (the machine is noisy; a bare time would mean nothing)."""
import json
import time

from conftest import Env, Receiver

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


TASKS = 5
ROUNDS = 7  # the median of seven: one noisy run of ~0.8 s on a busy 2-core machine moved five's to 0.84


def test_a_tier_full_of_records_not_yet_due_does_not_slow_the_main_topic(env, receiver,
                                                                          worker_factory, stack,
                                                                          tmp_path):
    """Two workers side by side, each with a first tier of its own (its name is its delay, due
    in an hour): one with the tier empty, one with 1,000 records on it not yet due. They take
    turns delivering 1,000 fresh events, so the machine's drift falls on both alike."""
    base = 3600 + int(env.tag[:4], 16) % 1000
    sides = {"empty": (env, f"{base}s"), "held": (Env(stack, tmp_path), f"{base + 1}s")}
    flows = {}
    workers = {}
    for side, (e, delay) in sides.items():
        for name in ["warm"] + [f"run{i}" for i in range(ROUNDS)]:
            flow = f"{side}-{name}-{e.tag}"
            flows[(side, name)] = flow
            for k in range(TASKS):
                e.create_task({"flowId": flow, "url": receiver.url(f"/{side}/{name}/{k}"),
                               "body": "$jobId"})
        workers[side] = worker_factory(e.topic, e.group, e.prefix,
                                       {"HOOKD_RETRY_DELAYS": f"{delay},2h",
                                        "HOOKD_LOG_LEVEL": "info"})

    def run(side, name, n):
        e = sides[side][0]
        flow = flows[(side, name)]
        start = time.time()
        e.publish_many([{"eventId": f"{flow}-{i}", "jobId": f"{name}-{i}",
                         "jobStatus": "Complete", "flowId": flow} for i in range(n)], spread=True)
        got = receiver.wait_for(f"/{side}/{name}/", TASKS * n, timeout=60)
        took = time.time() - start
        assert len(got) == TASKS * n, f"{side} {name}: {len(got)} of {TASKS * n}"
        assert not receiver.matching("/tier/"), "a record was delivered before its due time"
        with receiver.lock:  # every run starts with the receiver as it was for the first
            receiver.requests.clear()
        return took

    # 1,000 retry records of the held side's group, due in an hour, on its first tier.
    held_env, held_delay = sides["held"]
    tier_task = held_env.create_task({"flowId": f"tier-{held_env.tag}",
                                      "url": receiver.url("/tier/"), "body": "$jobId"})
    due = int((time.time() + 3600) * 1000)
    n = 1000
    for i in range(n):
        event = {"eventId": f"t-{held_env.tag}-{i}", "jobId": f"t-{i}", "jobStatus": "Complete",
                 "flowId": f"tier-{held_env.tag}"}
        record = {"dueAt": due, "group": held_env.group, "kind": "retry",
                  "deliveryId": f"msg_t{i}", "webhookId": tier_task, "flowId": event["flowId"],
                  "jobId": event["jobId"], "eventId": event["eventId"], "attempt": 2,
                  "firstSeenAt": due - 3600000, "deferred": False, "event": event,
                  "outcomes": []}
        held_env.producer.produce(f"hookd.retry.{held_delay}", key=f"msg_t{i}".encode(),
                                  value=json.dumps(record).encode())
    held_env.producer.flush(30)
    for side in sides:
        run(side, "warm", 200)
    time.sleep(1)  # the held side's tier consumer has fetched the records and paused

    took = {"empty": [], "held": []}
    for i in range(ROUNDS):
        for side in (("empty", "held") if i % 2 == 0 else ("held", "empty")):
            took[side].append(run(side, f"run{i}", n))
    empty, held = sorted(took["empty"])[ROUNDS // 2], sorted(took["held"])[ROUNDS // 2]
    ratio = empty / held
    print(f"1,000 events x {TASKS} tasks per run, two workers taking turns: tier empty "
          f"{' '.join(f'{t:.2f}' for t in took['empty'])} s, tier holding 1,000 records not yet "
          f"due {' '.join(f'{t:.2f}' for t in took['held'])} s; ratio of the medians {ratio:.2f}")
    assert workers["held"].metric("hookd_retries_consumed_total") == 0, "none taken before due"
    assert workers["held"].metric("hookd_tier_holds_total") >= 1, "the tier was read and held"
    # Alone on a quiet machine the ratio is 0.96 to 1.11 (three runs, 2026-12-02); inside the
    # whole suite on this 2-core machine it has twice come out at 0.84 with the held side's runs
    # as steady as the empty side's: the machine, not the tier. The bound is below that noise.
    # A held partition that blocked its loop until the records are due fails wait_for above
    # (an hour away), and a slowdown of a quarter or more fails here.
    assert ratio >= 0.75, ratio
