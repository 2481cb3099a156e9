"""Running it in production, against the real broker and Redis: /metrics (checked by promtool,
and every outcome counted where it belongs), /healthz and /readyz (Redis going away and coming
back, a stopping worker), JSON logs with the delivery's ids and no secret, and SIGTERM/SIGINT
handing unfinished deliveries to a tier and committing within the grace period."""
import json
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import Receiver, committed_lag, delivery_id, read_topic

PROMTOOL = shutil.which("promtool")


def get(worker, path):
    """(status, body) of GET path on the worker's HTTP port."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port()}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')


def samples(text):
    """{(name, frozenset of label pairs): value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(s, name, **labels):
    return s.get((name, frozenset(labels.items())))


def wait_metrics(worker, ok, timeout=20):
    """Scrapes until ok(samples) holds; returns the last text and samples."""
    deadline = time.time() + timeout
    while True:
        status, text = get(worker, "/metrics")
        assert status == 200
        s = samples(text)
        if ok(s) or time.time() >= deadline:
            return text, s
        time.sleep(0.3)


def test_metrics_pass_promtool_and_count_every_outcome(env, receiver, worker_factory, stack):
    """One event fanned out to a task per outcome, a poison event and an event of a flow without
    tasks: each lands in its own series, the dead letters by reason, the retry in its tier, the
    latency histogram holds every attempt sent, and promtool finds nothing to lint."""
    assert PROMTOOL, "promtool is missing (Debian package prometheus, installed by set-up)"
    flow = f"m-{env.tag}"
    receiver.status["/m/fail"] = 500
    receiver.status["/m/gone"] = 410
    receiver.delay["/m/slow"] = 1.5
    tasks = {
        "ok": env.create_task({"flowId": flow, "url": receiver.url("/m/ok"), "body": "x"}),
        "fail": env.create_task({"flowId": flow, "url": receiver.url("/m/fail"), "body": "x",
                                 "retry": {"enabled": True, "maxAttempts": 2}}),
        "gone": env.create_task({"flowId": flow, "url": receiver.url("/m/gone"), "body": "x"}),
        "slow": env.create_task({"flowId": flow, "url": receiver.url("/m/slow"), "body": "x",
                                 "timeoutMs": 300, "retry": {"enabled": False}}),
        "blocked": env.create_task({"flowId": flow, "url": "http://10.255.255.1:9/x",
                                    "body": "x"}),
    }
    worker = worker_factory(env.topic, env.group, env.prefix, {
        "HOOKD_RETRY_DELAYS": "1s,2s", "HOOKD_LOG_LEVEL": "info",
        "HOOKD_KAFKA_STATISTICS_INTERVAL_MS": "1000"})
    job = f"m-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    env.publish(b"{not json")
    env.publish({"eventId": f"none-{env.tag}", "jobId": "n1", "jobStatus": "Complete",
                 "flowId": f"no-such-flow-{env.tag}"})
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, 4, timeout=30)
    assert {d["webhookId"]: d["reason"] for d in dead} == {
        tasks["fail"]: "attempts exhausted", tasks["gone"]: "endpoint gone (HTTP 410); task disabled",
        tasks["slow"]: "retry disabled", tasks["blocked"]: "permanent failure"}, dead

    def settled(s):
        return (value(s, "hookd_dlq_records_total", reason="attempts_exhausted") == 1
                and value(s, "hookd_dlq_records_total", reason="poison") == 1
                and value(s, "hookd_tasks_disabled_total", reason="gone") == 1
                and value(s, "hookd_task_cache_lookups_total", result="hit") == 3
                and value(s, "hookd_deliveries_total", outcome="dead_lettered") == 4
                and all(value(s, "hookd_kafka_consumer_lag", topic=env.topic,
                              partition=str(p)) == 0 for p in range(4)))
    text, s = wait_metrics(worker, settled)
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), \
        check.stdout + check.stderr

    # attempts by outcome and status class: 500 twice, 410 once, each in its own series
    attempts = {(o, c): value(s, "hookd_delivery_attempts_total", outcome=o, status_class=c)
                for o, c in [("succeeded", "2xx"), ("http_error", "5xx"), ("http_error", "410"),
                             ("http_error", "4xx"), ("http_error", "429"), ("timeout", "none"),
                             ("blocked", "none"), ("network_error", "none"),
                             ("invalid", "none")]}
    assert attempts == {("succeeded", "2xx"): 1, ("http_error", "5xx"): 2,
                        ("http_error", "410"): 1, ("http_error", "4xx"): 0,
                        ("http_error", "429"): 0, ("timeout", "none"): 1, ("blocked", "none"): 1,
                        ("network_error", "none"): 0, ("invalid", "none"): 0}, attempts
    # deliveries by their end: the ok one delivered, four dead-lettered (not the poison event)
    assert value(s, "hookd_deliveries_total", outcome="delivered") == 1
    assert value(s, "hookd_deliveries_total", outcome="dead_lettered") == 4
    assert value(s, "hookd_deliveries_total", outcome="skipped") == 0
    assert value(s, "hookd_delivery_end_to_end_seconds_count") == 1
    for kind in ("dead_letter", "retry", "outcome", "event"):
        assert value(s, "hookd_dlq_publish_errors_total", kind=kind) == 0, kind
    for reason, n in {"attempts_exhausted": 1, "endpoint_gone": 1, "retry_disabled": 1,
                      "permanent_failure": 1, "poison": 1, "invalid_request": 0,
                      "task_deleted": 0, "task_disabled": 0}.items():
        assert value(s, "hookd_dlq_records_total", reason=reason) == n, reason
    assert value(s, "hookd_retries_published_total", tier="1s") == 1
    assert value(s, "hookd_retries_consumed_total", tier="1s") == 1
    assert value(s, "hookd_retries_published_total", tier="2s") == 0
    assert value(s, "hookd_events_poison_total") == 1
    assert value(s, "hookd_tasks_disabled_total", reason="gone") == 1
    assert value(s, "hookd_deliveries_deferred_total", reason="slow_host") == 0
    assert value(s, "hookd_deliveries_deferred_total", reason="shutdown") == 0
    # the event's flow, the retry's task and the 410's task.disabled (read back from
    # hookd.events) were found; the unknown flow was not
    assert value(s, "hookd_operational_events_total") == 1
    assert value(s, "hookd_task_cache_lookups_total", result="hit") == 3
    assert value(s, "hookd_task_cache_lookups_total", result="miss") == 1
    # every attempt that reached the HTTP engine: 6, of which the timeout took >= 0.3 s
    hist = "hookd_delivery_attempt_duration_seconds"
    assert value(s, hist + "_count") == 6
    assert value(s, hist + "_bucket", le="+Inf") == 6
    assert value(s, hist + "_bucket", le="0.25") <= 5
    assert value(s, hist + "_sum") >= 0.3
    assert value(s, "hookd_requests_in_flight") == 0
    assert value(s, "hookd_requests_queued") == 0
    assert value(s, "hookd_redis_up") == 1
    assert value(s, "hookd_ready") == 1
    # lag per partition of the main topic and of each tier, all caught up
    for p in range(4):
        assert value(s, "hookd_kafka_consumer_lag", topic=env.topic, partition=str(p)) == 0
    assert any(n == "hookd_kafka_consumer_lag" and ("topic", "hookd.retry.1s") in labels
               for n, labels in s), "the tier's partitions have a lag series"
    assert worker.stop() == 0


def test_end_to_end_latency_cache_size_process_and_api_metrics(env, receiver, worker_factory):
    """The end-to-end histogram counts from the event's finishedAt (else from its first
    consumption); the task cache's size and last reload; process_*; the admin API by code with
    its duration histogram."""
    flow = f"e2e-{env.tag}"
    env.create_task({"flowId": flow, "url": receiver.url("/e2e"), "body": "$jobId"})
    env.create_task({"spaceId": f"sp-{env.tag}", "url": receiver.url("/e2e-space"),
                     "body": "$jobId"})
    worker = worker_factory(env.topic, env.group, env.prefix, {
        "HOOKD_LOG_LEVEL": "info", "HOOKD_API_TOKEN": "e2e-token-0123456789"})
    two_minutes_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))
    env.publish({"eventId": f"old-{env.tag}", "jobId": "old", "jobStatus": "Complete",
                 "flowId": flow, "finishedAt": two_minutes_ago})
    env.publish({"eventId": f"new-{env.tag}", "jobId": "new", "jobStatus": "Complete",
                 "flowId": flow})
    receiver.wait_for("/e2e", 2, timeout=20)
    hist = "hookd_delivery_end_to_end_seconds"
    _, s = wait_metrics(worker, lambda s: value(s, hist + "_count") == 2)
    assert value(s, hist + "_count") == 2
    assert value(s, hist + "_bucket", le="60") == 1, "the one without finishedAt, at once"
    assert value(s, hist + "_bucket", le="300") == 2, "the other two minutes late"
    assert value(s, hist + "_sum") >= 120
    # the cache: two tasks, one flow and one space, loaded in the last minute
    assert value(s, "hookd_task_cache_tasks") == 2
    assert value(s, "hookd_task_cache_flows") == 2
    assert abs(value(s, "hookd_task_cache_last_reload_timestamp_seconds") - time.time()) < 60
    # process_* from /proc: this process started in the last minutes, holds sockets
    assert abs(value(s, "process_start_time_seconds") - time.time()) < 600
    assert value(s, "process_open_fds") > 5
    assert value(s, "process_max_fds") >= value(s, "process_open_fds")
    assert value(s, "process_resident_memory_bytes") > 1 << 20
    assert value(s, "process_virtual_memory_bytes") > value(s, "process_resident_memory_bytes")
    assert value(s, "process_cpu_seconds_total") >= 0  # present; CPU used may round to 0
    # the admin API: one 401 (no token), one 404 (no such route), each counted by its code
    base = f"http://127.0.0.1:{worker.port()}"
    for headers in ({}, {"Authorization": "Bearer e2e-token-0123456789"}):
        try:
            urllib.request.urlopen(urllib.request.Request(f"{base}/v1/no-such-route",
                                                          headers=headers), timeout=5)
        except urllib.error.HTTPError:
            pass
    _, s = wait_metrics(worker, lambda s: value(s, "hookd_api_request_duration_seconds_count"))
    assert value(s, "hookd_api_requests_total", code="401") == 1
    assert value(s, "hookd_api_requests_total", code="404") == 1
    assert sum(v for (n, _), v in s.items() if n == "hookd_api_requests_total") == 2
    assert value(s, "hookd_api_request_duration_seconds_count") == 2
    assert worker.stop() == 0


def test_lag_in_flight_and_host_queue_show_a_backlog(env, receiver, worker_factory):
    """One slow receiver and one request at a time: the in-flight gauge is 1, the host's queue
    depth and the partition's lag show the backlog, and both go back to 0 once it is done."""
    flow = f"bl-{env.tag}"
    receiver.delay["/bl"] = 0.1
    env.create_task({"flowId": flow, "url": receiver.url("/bl"), "body": "$jobId"})
    worker = worker_factory(env.topic, env.group, env.prefix, {
        "HOOKD_MAX_INFLIGHT": "1", "HOOKD_LOG_LEVEL": "info",
        "HOOKD_KAFKA_STATISTICS_INTERVAL_MS": "500"})
    n = 60
    for i in range(n):  # one partition, so the lag sits on one series
        env.producer.produce(env.topic, value=json.dumps(
            {"eventId": f"bl-{env.tag}-{i}", "jobId": str(i), "jobStatus": "Complete",
             "flowId": flow}).encode(), partition=1)
    env.producer.flush(15)
    host = receiver.url("/").rsplit("/", 1)[0]  # http://127.0.0.1:<port>
    seen = {"inflight": 0, "queue": 0, "lag": 0}
    deadline = time.time() + 30
    while time.time() < deadline and len(receiver.matching("/bl")) < n:
        s = samples(get(worker, "/metrics")[1])
        seen["inflight"] = max(seen["inflight"], value(s, "hookd_requests_in_flight") or 0)
        seen["queue"] = max(seen["queue"], value(s, "hookd_host_queue_depth", host=host) or 0)
        seen["lag"] = max(seen["lag"], value(s, "hookd_kafka_consumer_lag", topic=env.topic,
                                             partition="1") or 0)
        time.sleep(0.2)
    print(f"while the backlog drained: {seen}")
    assert len(receiver.matching("/bl")) == n
    assert seen["inflight"] == 1
    assert seen["queue"] >= 1, "the host's waiting requests were shown"
    assert seen["lag"] >= 10, "the partition's lag showed the backlog"
    _, s = wait_metrics(worker, lambda s: value(s, "hookd_kafka_consumer_lag", topic=env.topic,
                                                partition="1") == 0
                        and value(s, "hookd_host_queue_depth", host=host) is None)
    assert value(s, "hookd_kafka_consumer_lag", topic=env.topic, partition="1") == 0
    assert value(s, "hookd_host_queue_depth", host=host) is None, "an idle host is not listed"
    assert value(s, "hookd_requests_in_flight") == 0
    assert worker.stop() == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port, tmp_path):
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("redis-server did not start")


def wait_probe(worker, path, status, timeout=15):
    deadline = time.time() + timeout
    while True:
        got = get(worker, path)
        if got[0] == status or time.time() >= deadline:
            return got
        time.sleep(0.1)


def test_readyz_follows_redis_and_healthz_the_loop(env, worker_factory, tmp_path):
    """Ready once Kafka and Redis answer and the group assigned the partitions; not ready while
    Redis is away (the cache keeps its tasks), ready again when it is back."""
    port = free_port()
    redis = start_redis(port, tmp_path)
    try:
        worker = worker_factory(env.topic, env.group, env.prefix, {
            "HOOKD_REDIS_URL": f"redis://127.0.0.1:{port}/0", "HOOKD_LOG_LEVEL": "info"})
        status, body = wait_probe(worker, "/readyz", 200)
        assert status == 200, body
        assert "kafka: ok" in body and "redis: ok" in body, body
        assert f"partitions: ok (4 of {env.topic}" in body, body
        assert get(worker, "/healthz") == (200, "ok: 1 loop turning\n")

        redis.kill()
        redis.wait(5)
        status, body = wait_probe(worker, "/readyz", 503)
        assert status == 503 and "redis: unreachable" in body, body
        assert "kafka: ok" in body, "only the failing check fails"
        assert samples(get(worker, "/metrics")[1])[("hookd_redis_up", frozenset())] == 0
        assert get(worker, "/healthz")[0] == 200, "alive all the same"

        redis = start_redis(port, tmp_path)
        status, body = wait_probe(worker, "/readyz", 200)
        assert status == 200, body
        _, s = wait_metrics(worker, lambda s: value(s, "hookd_ready") == 1)
        assert value(s, "hookd_redis_up") == 1 and value(s, "hookd_ready") == 1
        assert worker.stop() == 0
    finally:
        redis.kill()
        redis.wait(5)


def test_logs_are_json_lines_with_the_delivery_ids_and_never_a_secret(env, receiver,
                                                                      worker_factory):
    secret = "log-secret-value-0123456789"
    token = "Bearer private-token-0123456789"
    receiver.status["/lg"] = 500
    flow = f"lg-{env.tag}"
    task_id = env.create_task({"flowId": flow, "url": receiver.url("/lg"), "body": "$jobId",
                               "secret": secret, "headers": {"Authorization": token},
                               "retry": {"enabled": False}})
    worker = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_LOG_LEVEL": "debug"})
    job = f"lg-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    worker.wait_for_log('"event":"delivery.dead_lettered"', 20)
    assert worker.stop() == 0
    lines = worker.lines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for r in records:
        assert {"ts", "level", "event", "msg"} <= set(r), r
        assert r["level"] in {"debug", "info", "warn", "error"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]), r["ts"]
    for event in ("delivery.failed", "delivery.dead_lettered"):
        r = next(r for r in records if r["event"] == event)
        assert r["jobId"] == job and r["flowId"] == flow and r["webhookId"] == task_id, r
        assert r["deliveryId"] == delivery_id(job, task_id) and r["attempt"] == 1, r
    whole = "\n".join(lines)
    assert secret not in whole and "private-token-0123456789" not in whole


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_hands_unfinished_deliveries_to_a_tier_and_commits_within_the_grace(
        env, receiver, worker_factory, stack, sig):
    """Ten events, each for a fast and a hanging receiver (two of whose requests run at a time,
    the rest wait). The signal: not ready at once; the fast deliveries are done; near the end of
    the 3 s grace the hanging ones (2 in flight, 8 waiting) go to the first tier as deferred,
    due at once; every offset is committed and the worker exits 0 within the grace. The next
    worker delivers them as the same attempt with the same X-Webhook-Id: nothing lost."""
    flow = f"stop-{env.tag}"
    receiver.delay["/stop/hang"] = 30
    hang = env.create_task({"flowId": flow, "url": receiver.url("/stop/hang"), "body": "$jobId",
                            "timeoutMs": 60000})
    fast = Receiver()  # another host, so its requests never wait behind the hanging ones
    env.create_task({"flowId": flow, "url": fast.url("/stop/fast"), "body": "$jobId"})
    opts = {"HOOKD_SHUTDOWN_GRACE_MS": "3000", "HOOKD_LOG_LEVEL": "info",
            "HOOKD_RETRY_DELAYS": "1s,2s", "HOOKD_MAX_INFLIGHT_PER_HOST": "2"}
    first = worker_factory(env.topic, env.group, env.prefix, opts)
    events = [f"stop-{env.tag}-{i}" for i in range(10)]
    env.publish_many({"eventId": e, "jobId": e, "jobStatus": "Complete", "flowId": flow}
                     for e in events)
    assert len(fast.wait_for("/stop/fast", 10, timeout=20)) == 10
    fast.close()
    _, s = wait_metrics(first, lambda s: value(s, "hookd_requests_in_flight") == 2)
    assert value(s, "hookd_requests_in_flight") == 2, "two hanging requests in flight"

    t0 = time.time()
    first.proc.send_signal(sig)
    status, body = wait_probe(first, "/readyz", 503, timeout=2)
    assert status == 503 and "stopping" in body, body
    assert first.proc.wait(10) == 0
    took = time.time() - t0
    first.log.close()
    print(f"exited {took:.2f} s after the signal (grace 3 s)")
    assert took < 3.3, f"the worker took {took:.2f} s with a 3 s grace period"
    assert any('"event":"shutdown.handoff"' in line and "8 waiting and 2 in-flight" in line
               for line in first.lines()), "\n".join(first.lines()[-20:])
    assert committed_lag(stack, env.topic, env.group) == 0, "every event committed"

    expected = {delivery_id(e, hang) for e in events}
    parked = read_topic(stack, "hookd.retry.1s",
                        lambda r: r.get("deliveryId") in expected, 10, timeout=15)
    assert {r["deliveryId"] for r in parked} == expected
    assert all(r["deferred"] and r["attempt"] == 1 for r in parked), parked

    receiver.delay.pop("/stop/hang")
    second = worker_factory(env.topic, env.group, env.prefix, opts)
    deadline = time.time() + 30
    while time.time() < deadline:
        got = {r["headers"]["x-webhook-id"]: r for r in receiver.matching("/stop/hang")
               if r["time"] > t0}
        if expected <= set(got):
            break
        time.sleep(0.2)
    assert expected <= set(got), f"{len(expected - set(got))} hanging deliveries never came"
    assert {got[i]["headers"]["x-webhook-attempt"] for i in expected} == {"1"}
    assert second.stop() == 0
    assert committed_lag(stack, env.topic, env.group) == 0
    assert committed_lag(stack, "hookd.retry.1s", f"{env.group}.retry.1s") == 0


def test_static_membership_makes_a_restart_cheap(env, worker_factory):
    """With group.instance.id (the chart sets it from the pod name), a worker that stops and
    comes back within session.timeout.ms takes its partitions back without a rebalance: the
    other member, static too, sees no revoke and no assignment."""
    def opts(member):
        return {"HOOKD_LOG_LEVEL": "info", "HOOKD_RETRY_DELAYS": "1s",
                "HOOKD_KAFKA_GROUP_INSTANCE_ID": f"{member}-{env.tag}",
                "HOOKD_KAFKA_SESSION_TIMEOUT_MS": "30000"}

    a = worker_factory(env.topic, env.group, env.prefix, opts("pod-a"))
    b = worker_factory(env.topic, env.group, env.prefix, opts("pod-b"))

    def partitions(w):
        status, body = get(w, "/readyz")
        m = re.search(r"partitions: ok \((\d+) of", body)
        return int(m.group(1)) if status == 200 and m else None

    deadline = time.time() + 60
    while time.time() < deadline and (partitions(a), partitions(b)) != (2, 2):
        time.sleep(0.3)
    assert (partitions(a), partitions(b)) == (2, 2), "the group split the 4 partitions"
    time.sleep(1)
    b_before = len(b.lines())

    assert a.stop() == 0
    a2 = worker_factory(env.topic, env.group, env.prefix, opts("pod-a"))
    status, body = wait_probe(a2, "/readyz", 200, timeout=20)
    assert status == 200 and "partitions: ok (2 of" in body, body
    time.sleep(2)
    rebalance = [line for line in b.lines()[b_before:]
                 if '"event":"kafka.revoke"' in line or '"event":"kafka.assign"' in line]
    assert not rebalance, f"the other member rebalanced: {rebalance}"
    assert partitions(b) == 2
    assert b.stop() == 0 and a2.stop() == 0
