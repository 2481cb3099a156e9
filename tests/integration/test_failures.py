"""What goes wrong is recorded and dead-lettered, never lost and never blocking: poison events,
receivers that fail or hang, addresses the SSRF guard refuses, and a change to a task in
Redis taking effect within 2 seconds."""
import base64
import json
import time

from conftest import read_topic


def test_poison_events_go_to_the_dlq_and_good_events_around_them_are_delivered(
        env, receiver, worker_factory, stack):
    flow = f"poison-{env.tag}"
    env.create_task({"flowId": flow, "url": receiver.url("/good"), "body": "$jobId"})
    worker = worker_factory(env.topic, env.group, env.prefix)
    # One partition for all, so the good events sit on either side of the poison.
    env.publish({"jobId": "good-1", "jobStatus": "Complete", "flowId": flow}, key=b"k")
    env.publish(b"not json", key=b"k")
    env.publish(b"\xff\xfe binary \x00 garbage", key=b"k")
    env.publish(json.dumps({"jobStatus": "Complete", "flowId": flow}).encode(), key=b"k")
    env.publish(b'{"jobId":"big","jobStatus":"Complete","flowId":"x","pad":"'
                + b"x" * (1024 * 1024) + b'"}', key=b"k")
    env.publish({"jobId": "good-2", "jobStatus": "Complete", "flowId": flow}, key=b"k")
    got = receiver.wait_for("/good", 2)
    assert sorted(r["body"] for r in got) == [b"good-1", b"good-2"]
    dead = read_topic(stack, "hookd.dlq",
                      lambda r: r.get("kind") == "poison" and r.get("topic") == env.topic, 4)
    reasons = sorted(r["reason"] for r in dead)
    assert len(dead) == 4, reasons
    assert any("not valid JSON" in r for r in reasons), reasons
    assert any(r.startswith("jobId: required") for r in reasons), reasons
    assert any("1 MiB" in r for r in reasons), reasons
    for r in dead:
        assert isinstance(r["partition"], int) and isinstance(r["offset"], int)
    binary = next(r for r in dead if r.get("payloadBase64"))
    assert base64.b64decode(binary["payloadBase64"]) == b"\xff\xfe binary \x00 garbage"
    assert next(r for r in dead if r.get("payload") == "not json")
    big = next(r for r in dead if "1 MiB" in r["reason"])
    assert big["payloadTruncated"] is True and big["payloadBytes"] > 1024 * 1024
    assert worker.proc.poll() is None, "the worker survived"


def test_500_is_recorded_failed_and_dead_lettered(env, receiver, worker_factory, stack):
    """With retry off, a 500 is one attempt, then the dead-letter topic."""
    flow = f"f500-{env.tag}"
    receiver.status["/fail"] = 500
    task_id = env.create_task({"flowId": flow, "url": receiver.url("/fail"), "body": "x",
                               "retry": {"enabled": False}})
    ok_id = env.create_task({"flowId": flow, "url": receiver.url("/fine"), "body": "x"})
    worker_factory(env.topic, env.group, env.prefix)
    job = f"job500-{env.tag}"
    env.publish({"jobId": job, "jobStatus": "Complete", "flowId": flow})
    assert len(receiver.wait_for("/fail", 1)) == 1
    outcomes = read_topic(stack, "hookd.deliveries", lambda r: r.get("jobId") == job, 2)
    by_task = {o["webhookId"]: o for o in outcomes}
    assert by_task[task_id]["status"] == "failed"
    assert by_task[task_id]["statusCode"] == 500
    assert by_task[task_id]["error"] == "HTTP 500"
    assert by_task[task_id]["attempt"] == 1
    assert by_task[ok_id]["status"] == "delivered" and by_task[ok_id]["statusCode"] == 204
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, 1)
    assert len(dead) == 1
    assert dead[0]["kind"] == "delivery" and dead[0]["webhookId"] == task_id
    assert dead[0]["reason"] == "retry disabled" and dead[0]["attempts"] == 1
    assert dead[0]["error"] == "HTTP 500"
    assert dead[0]["event"]["jobId"] == job
    assert [o["statusCode"] for o in dead[0]["outcomes"]] == [500]
    assert "secret" not in json.dumps(dead[0]).lower()
    history = env.hookctl("deliveries", "--job", job, "--json")
    assert history.returncode == 0, history.stderr
    attempts = json.loads(history.stdout)
    assert sorted(a["status"] for a in attempts) == ["delivered", "failed"]
    table = env.hookctl("deliveries", "--job", job).stdout.splitlines()
    assert table[0].split() == ["AT", "DELIVERY", "WEBHOOK", "ATTEMPT", "RESULT", "STATUS",
                                "LATENCY", "ERROR"]
    assert sorted(line.split()[4] for line in table[1:]) == ["delivered", "failed"], table


def test_a_hanging_receiver_times_out_as_a_failure(env, receiver, worker_factory, stack):
    flow = f"hang-{env.tag}"
    receiver.delay["/hang"] = 3
    task_id = env.create_task({"flowId": flow, "url": receiver.url("/hang"), "body": "x",
                               "timeoutMs": 1000, "retry": {"enabled": False}})
    worker_factory(env.topic, env.group, env.prefix)
    job = f"jobhang-{env.tag}"
    start = time.time()
    env.publish({"jobId": job, "jobStatus": "Complete", "flowId": flow})
    outcomes = read_topic(stack, "hookd.deliveries", lambda r: r.get("jobId") == job, 1)
    assert len(outcomes) == 1
    o = outcomes[0]
    assert o["webhookId"] == task_id and o["status"] == "failed"
    assert o["statusCode"] is None
    assert "timed out" in o["error"].lower() or "timeout" in o["error"].lower(), o["error"]
    assert 900 <= o["latencyMs"] < 2500
    assert time.time() - start < 15
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, 1)
    assert len(dead) == 1


def test_ssrf_guard_blocks_loopback_when_not_allowed(env, receiver, worker_factory, stack):
    flow = f"ssrf-{env.tag}"
    env.create_task({"flowId": flow, "url": receiver.url("/ip"), "body": "x"})
    env.create_task({"flowId": flow, "url": f"http://localhost:{receiver.port}/name",
                     "body": "x"})
    worker_factory(env.topic, env.group, env.prefix, {"HOOKD_ALLOW_NETWORKS": ""})
    job = f"jobssrf-{env.tag}"
    env.publish({"jobId": job, "jobStatus": "Complete", "flowId": flow})
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, 2)
    assert len(dead) == 2
    for d in dead:
        assert d["reason"] == "permanent failure"
        assert "blocked address" in d["error"] and "(loopback)" in d["error"], d["error"]
    assert any("127.0.0.1 (loopback)" in d["error"] for d in dead)
    assert receiver.matching("/") == [], "nothing reached the receiver"


def test_a_task_change_takes_effect_within_2_seconds(env, receiver, worker_factory):
    flow = f"change-{env.tag}"
    old_id = env.create_task({"flowId": flow, "url": receiver.url("/old"), "body": "$jobId"})
    worker_factory(env.topic, env.group, env.prefix)
    env.publish({"jobId": "before", "jobStatus": "Complete", "flowId": flow})
    assert receiver.wait_for("/old", 1)
    env.delete_task(old_id)
    env.create_task({"flowId": flow, "url": receiver.url("/new"), "body": "$jobId"})
    changed = time.time()
    n = 0
    while time.time() - changed < 2.0:
        env.publish({"jobId": f"during-{n}", "jobStatus": "Complete", "flowId": flow})
        n += 1
        time.sleep(0.2)
    env.publish({"jobId": "after", "jobStatus": "Complete", "flowId": flow})
    new = receiver.wait_for("/new", 1)
    deadline = time.time() + 10
    while time.time() < deadline and not any(r["body"] == b"after" for r in receiver.matching("/new")):
        time.sleep(0.1)
    new = receiver.matching("/new")
    old = receiver.matching("/old")
    assert any(r["body"] == b"after" for r in new), "published 2 s after the change"
    first_new = min(r["time"] for r in new)
    assert first_new - changed <= 2.0, f"took {first_new - changed:.2f} s"
    assert not any(r["body"] == b"after" for r in old)
    late_old = [r for r in old if r["time"] > changed + 2.0]
    assert late_old == [], "the deleted task still received after 2 s"
