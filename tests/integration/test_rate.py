"""A task's rateLimit holds across every worker of the group (issue 16, item 8): two hookd
processes in one group, a real broker and Redis, a local receiver; deliveries over the limit
wait (never fail, never count as attempts), and a task without a limit beside it is not held
back and leaves nothing in Redis."""
import subprocess
import time

from conftest import committed_lag, delivery_id

RATE = 20
N = 240  # 12 s at 20/s


def group_members(stack, group):
    desc = stack["admin"].describe_consumer_groups([group])[group].result(10)
    if desc.state.name != "STABLE":
        return None
    return sorted(len(m.assignment.topic_partitions) if m.assignment else 0
                  for m in desc.members)


def redis_cli(stack, *args):
    return subprocess.run(["redis-cli", "-u", stack["HOOKD_REDIS_URL"], *args], check=True,
                          capture_output=True, text=True).stdout.strip()


def most_in_window(times, seconds):
    """The most requests any window of `seconds` holds (starting at a request)."""
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - seconds:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_rate_limit_holds_across_two_workers(env, receiver, worker_factory, stack):
    flow = f"rate-{env.tag}"
    limited = env.create_task({"flowId": flow, "url": receiver.url("/limited"),
                               "rateLimit": RATE})
    free = env.create_task({"flowId": flow, "url": receiver.url("/free")})
    opts = {"HOOKD_LOG_LEVEL": "info"}
    workers = [worker_factory(env.topic, env.group, env.prefix, opts) for _ in range(2)]
    deadline = time.time() + 30
    while (members := group_members(stack, env.group)) != [2, 2] and time.time() < deadline:
        time.sleep(0.2)
    assert members == [2, 2], f"partitions per member: {members}"

    event_ids = [f"rate-{env.tag}-{i}" for i in range(N)]
    start = time.time()
    env.publish_many(({"eventId": e, "jobId": str(i), "jobStatus": "Complete", "flowId": flow}
                      for i, e in enumerate(event_ids)), spread=True)

    # The task without a limit is not held back by the one with it.
    free_got = receiver.wait_for("/free", N, timeout=30)
    assert len(free_got) >= N
    free_took = max(r["time"] for r in free_got) - start
    assert free_took < 0.5 * N / RATE, f"the unlimited task took {free_took:.1f} s"

    got = receiver.wait_for("/limited", N, timeout=2 * N / RATE + 30)
    expected = {delivery_id(e, limited) for e in event_ids}
    seen = {r["headers"]["x-webhook-id"] for r in got}
    assert not expected - seen, f"{len(expected - seen)} deliveries missing"
    assert len(got) == N, f"{len(got) - N} duplicates"
    # Waiting is not an attempt: every delivery went out once, as attempt 1, and succeeded.
    assert {r["headers"]["x-webhook-attempt"] for r in got} == {"1"}

    times = sorted(r["time"] for r in got)
    rate = (len(times) - 1) / (times[-1] - times[0])
    per_second = most_in_window(times, 1.0)
    per_two = most_in_window(times, 2.0)
    print(f"{N} deliveries at {rate:.2f}/s (limit {RATE}/s); at most {per_second} in a second, "
          f"{per_two} in two")
    assert abs(rate - RATE) <= 0.1 * RATE, f"measured {rate:.2f}/s against {RATE}/s"
    assert per_two <= 2 * RATE * 1.1, f"{per_two} deliveries in two seconds"

    # Both workers delivered, both waited, none is waiting now, nothing failed.
    for w in workers:
        assert w.metric('hookd_delivery_attempts_total{outcome="succeeded",status_class="2xx"}') > N / 4
        assert w.metric("hookd_rate_limited_total") > 0
        assert w.metric("hookd_rate_waiting") == 0
        assert w.metric("hookd_rate_lease_errors_total") == 0
        assert w.metric("hookd_delivery_attempts_total") == w.metric(
            'hookd_delivery_attempts_total{outcome="succeeded",status_class="2xx"}')
        assert any('"event":"delivery.rate_limited"' in line for line in w.lines())
    for w in workers:
        assert w.stop() == 0
    assert committed_lag(stack, env.topic, env.group) == 0

    # The limiter is one key per limited task, in Redis's clock; the free task has none.
    assert redis_cli(stack, "EXISTS", f"{env.prefix}rate:{limited}") == "1"
    assert redis_cli(stack, "EXISTS", f"{env.prefix}rate:{free}") == "0"
    assert 0 < int(redis_cli(stack, "PTTL", f"{env.prefix}rate:{limited}")) <= 61000


def test_a_task_without_a_limit_never_touches_the_limiter(env, receiver, worker_factory):
    flow = f"norate-{env.tag}"
    task = env.create_task({"flowId": flow, "url": receiver.url("/norate")})
    worker = worker_factory(env.topic, env.group, env.prefix)
    env.publish_many({"eventId": f"n-{env.tag}-{i}", "jobId": str(i), "jobStatus": "Complete",
                      "flowId": flow} for i in range(50))
    assert len(receiver.wait_for("/norate", 50)) == 50
    assert worker.metric("hookd_rate_limited_total") == 0
    assert worker.metric("hookd_rate_lease_errors_total") == 0
    shown = env.hookctl("webhooks", "get", task, "--json")
    assert "rateLimit" not in shown.stdout  # printed only when set
    assert worker.stop() == 0


def test_waiting_deliveries_are_handed_off_at_shutdown_and_lose_nothing(env, receiver,
                                                                        worker_factory, stack):
    """SIGTERM while deliveries wait for their slot: the worker exits 0 within its grace,
    handing them to a retry tier as the same attempt; the next worker sends each once, still
    within the rate."""
    flow = f"rateoff-{env.tag}"
    task = env.create_task({"flowId": flow, "url": receiver.url("/rateoff"), "rateLimit": 5})
    opts = {"HOOKD_LOG_LEVEL": "info", "HOOKD_SHUTDOWN_GRACE_MS": "3000"}
    first = worker_factory(env.topic, env.group, env.prefix, opts)
    event_ids = [f"rateoff-{env.tag}-{i}" for i in range(40)]
    env.publish_many({"eventId": e, "jobId": str(i), "jobStatus": "Complete", "flowId": flow}
                     for i, e in enumerate(event_ids))
    assert len(receiver.wait_for("/rateoff", 5, timeout=30)) >= 5
    assert first.metric("hookd_rate_waiting") > 10
    began = time.time()
    assert first.stop() == 0
    assert time.time() - began < 5
    handed = [line for line in first.lines() if '"event":"shutdown.handoff"' in line]
    assert handed, "nothing was handed off"
    at_stop = len(receiver.matching("/rateoff"))
    assert at_stop < len(event_ids)

    second = worker_factory(env.topic, env.group, env.prefix, opts)
    expected = {delivery_id(e, task) for e in event_ids}
    got = receiver.wait_for("/rateoff", len(event_ids), timeout=60)
    seen = {r["headers"]["x-webhook-id"] for r in got}
    assert not expected - seen, f"{len(expected - seen)} deliveries lost"
    assert {r["headers"]["x-webhook-attempt"] for r in got} == {"1"}, "waiting is no attempt"
    later = sorted(r["time"] for r in got[at_stop:])
    if len(later) > 10:
        rate = (len(later) - 1) / (later[-1] - later[0])
        assert rate <= 5 * 1.1, f"after the restart: {rate:.2f}/s"
    assert second.stop() == 0
    assert committed_lag(stack, env.topic, env.group) == 0
