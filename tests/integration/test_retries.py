"""Retry tiers against the real broker and Redis, with the delays shortened to 1s,2s,4s: the
attempts, the gaps between them, the dead-letter topic when they run out, Retry-After."""
import json
import subprocess
import time

from conftest import HOOKCTL, delivery_id, read_topic

DELAYS = {"HOOKD_RETRY_DELAYS": "1s,2s,4s", "HOOKD_LOG_LEVEL": "info"}


def attempts_of(receiver, path):
    got = receiver.matching(path)
    return [(r["time"], int(r["headers"]["x-webhook-attempt"]), r["headers"]["x-webhook-id"])
            for r in got]


def test_fails_twice_then_succeeds_in_three_attempts_on_time(env, receiver, worker_factory,
                                                              stack):
    flow = f"r3-{env.tag}"
    receiver.script["/twice"] = [500, 503]
    task_id = env.create_task({"flowId": flow, "url": receiver.url("/twice"), "body": "$jobId",
                               "secret": "retry-secret-0001"})
    worker_factory(env.topic, env.group, env.prefix, DELAYS)
    job = f"r3-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    got = receiver.wait_for("/twice", 3, timeout=30)
    time.sleep(2.5)  # a fourth attempt would come within the next tier's delay
    seen = attempts_of(receiver, "/twice")
    assert [a for _, a, _ in seen] == [1, 2, 3], seen
    assert {i for _, _, i in seen} == {delivery_id(job, task_id)}, "one X-Webhook-Id throughout"
    gaps = [seen[1][0] - seen[0][0], seen[2][0] - seen[1][0]]
    print(f"gaps between attempts: {gaps[0]:.2f} s (tier 1s), {gaps[1]:.2f} s (tier 2s)")
    assert 1.0 <= gaps[0] <= 2.0, gaps
    assert 2.0 <= gaps[1] <= 3.0, gaps
    # each attempt is signed afresh: the timestamps differ
    stamps = [r["headers"]["x-webhook-signature"].split(",")[0] for r in got]
    assert len(set(stamps)) == 3, stamps
    history = env.hookctl("deliveries", "--job", job, "--json")
    assert history.returncode == 0, history.stderr
    attempts = sorted(json.loads(history.stdout), key=lambda a: a["attempt"])
    assert [(a["attempt"], a["status"], a["statusCode"]) for a in attempts] == \
        [(1, "failed", 500), (2, "failed", 503), (3, "delivered", 204)]


def test_max_attempts_then_the_dlq_and_retry_off_is_one_attempt(env, receiver, worker_factory,
                                                                 stack):
    flow = f"rmax-{env.tag}"
    receiver.status["/always"] = 500
    receiver.status["/once"] = 500
    three = env.create_task({"flowId": flow, "url": receiver.url("/always"), "body": "x",
                             "retry": {"enabled": True, "maxAttempts": 3}})
    one = env.create_task({"flowId": flow, "url": receiver.url("/once"), "body": "x",
                           "retry": {"enabled": False}})
    worker_factory(env.topic, env.group, env.prefix, DELAYS)
    job = f"rmax-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, 2, timeout=30)
    by_task = {d["webhookId"]: d for d in dead}
    assert set(by_task) == {three, one}, dead
    assert by_task[three]["reason"] == "attempts exhausted"
    assert by_task[three]["attempts"] == 3
    assert [o["attempt"] for o in by_task[three]["outcomes"]] == [1, 2, 3]
    assert all(o["statusCode"] == 500 for o in by_task[three]["outcomes"])
    assert by_task[one]["reason"] == "retry disabled" and by_task[one]["attempts"] == 1
    time.sleep(2)
    assert len(receiver.matching("/always")) == 3
    assert len(receiver.matching("/once")) == 1


def test_retry_after_pushes_the_next_attempt_later(env, receiver, worker_factory, stack):
    flow = f"rra-{env.tag}"
    receiver.script["/busy"] = [503]
    receiver.reply_headers["/busy"] = {"Retry-After": "3"}
    env.create_task({"flowId": flow, "url": receiver.url("/busy"), "body": "x"})
    worker_factory(env.topic, env.group, env.prefix, DELAYS)
    job = f"rra-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    receiver.wait_for("/busy", 2, timeout=20)
    seen = attempts_of(receiver, "/busy")
    assert [a for _, a, _ in seen] == [1, 2], seen
    gap = seen[1][0] - seen[0][0]
    print(f"Retry-After: 3 on a 1 s tier: the second attempt came {gap:.2f} s later")
    assert 3.0 <= gap <= 4.0, gap


def test_410_gone_disables_the_task_and_makes_no_further_attempt(env, receiver, worker_factory,
                                                                 stack):
    flow = f"r410-{env.tag}"
    receiver.status["/gone"] = 410
    gone = env.create_task({"flowId": flow, "url": receiver.url("/gone"), "body": "$jobId"})
    other = env.create_task({"flowId": flow, "url": receiver.url("/fine"), "body": "$jobId"})
    worker = worker_factory(env.topic, env.group, env.prefix, DELAYS)
    job = f"r410-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, 1, timeout=20)
    assert len(dead) == 1 and dead[0]["webhookId"] == gone, dead
    assert "410" in dead[0]["reason"] and dead[0]["attempts"] == 1, dead[0]
    assert [o["statusCode"] for o in dead[0]["outcomes"]] == [410]
    # The task is disabled in Redis, with the reason and the time.
    deadline = time.time() + 10
    while True:
        task = json.loads(env.hookctl("webhooks", "get", gone, "--json").stdout)
        if not task["enabled"] or time.time() > deadline:
            break
        time.sleep(0.2)
    assert task["enabled"] is False, task
    assert "410" in task["disabledReason"], task
    assert task["disabledAt"].startswith(time.strftime("%Y-%m-%d", time.gmtime())), task
    worker.wait_for_log('"event":"task.disabled"', 10)
    # No retry of the first event, and a later event goes to the other task only.
    later = f"r410b-{env.tag}"
    time.sleep(1.5)  # the cache sees the change within 500 ms
    env.publish({"eventId": later, "jobId": later, "jobStatus": "Complete", "flowId": flow})
    receiver.wait_for("/fine", 2, timeout=20)
    time.sleep(3)  # past the 1 s and 2 s tiers
    assert len(receiver.matching("/gone")) == 1, receiver.matching("/gone")
    assert len(receiver.matching("/fine")) == 2
    assert other != gone


def test_replay_puts_dead_letters_back_with_their_attempts_reset(env, receiver, worker_factory,
                                                                  stack):
    flow = f"rrp-{env.tag}"
    receiver.status["/down"] = 500
    receiver.status["/other"] = 500
    down = env.create_task({"flowId": flow, "url": receiver.url("/down"), "body": "$jobId",
                            "retry": {"enabled": True, "maxAttempts": 2}})
    other = env.create_task({"flowId": flow, "url": receiver.url("/other"), "body": "$jobId",
                             "retry": {"enabled": False}})
    worker_factory(env.topic, env.group, env.prefix, DELAYS)
    job = f"rrp-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, 2, timeout=30)
    assert {d["webhookId"] for d in dead} == {down, other}, dead
    assert all(d["group"] == env.group for d in dead)

    def ctl(*args):
        # the worker's group and tiers: replay takes this deployment's dead letters only
        e = env.cli_env()
        e.update({"HOOKD_KAFKA_GROUP_ID": env.group, **DELAYS})
        return subprocess.run([HOOKCTL, *args], env=e, capture_output=True, text=True,
                              timeout=120)

    listed = ctl("dlq", "list", "--webhook", down, "--since", "10m", "--json")
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    assert [(r["webhookId"], r["attempts"], r["reason"]) for r in records] == \
        [(down, 2, "attempts exhausted")]
    table = ctl("dlq", "list", "--webhook", down, "--since", "10m").stdout.splitlines()
    assert table[0].split()[:4] == ["DEAD", "AT", "KIND", "WEBHOOK"], table
    assert len(table) == 3 and down in table[1] and "attempts exhausted" in table[1], table
    assert table[2] == f"1 dead letter of group {env.group} (--json for the events and every attempt)"
    # A --since after the deaths selects nothing; another group's replay takes nothing of ours.
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    none = ctl("dlq", "replay", "--webhook", down, "--since", future, "--json")
    assert none.returncode == 0 and json.loads(none.stdout)["replayed"] == 0, none.stdout

    receiver.status["/down"] = 204  # the receiver is fixed
    out = ctl("dlq", "replay", "--webhook", down, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["replayed"] == 1 and result["topic"] == "hookd.retry.1s", result
    got = receiver.wait_for("/down", 3, timeout=20)
    assert len(got) == 3, got
    replayed = got[2]
    assert replayed["headers"]["x-webhook-attempt"] == "1", "attempts reset"
    assert replayed["headers"]["x-webhook-id"] == delivery_id(job, down), "same X-Webhook-Id"
    time.sleep(2)
    assert len(receiver.matching("/other")) == 1, "only the selected task's dead letters"
    assert len(receiver.matching("/down")) == 3


def test_replay_dry_run_until_and_limit(env, receiver, worker_factory, stack):
    """dlq replay --dry-run prints what it would replay and publishes nothing; --until bounds the
    dead letters by time (RFC 3339 or epoch ms); --limit N replays the first N only."""
    flow = f"rdl-{env.tag}"
    paths = [f"/dl{i}" for i in range(3)]
    tasks = []
    for path in paths:
        receiver.status[path] = 500
        tasks.append(env.create_task({"flowId": flow, "url": receiver.url(path),
                                      "retry": {"enabled": False}}))
    worker_factory(env.topic, env.group, env.prefix, DELAYS)
    before_ms = int(time.time() * 1000) - 1000
    job = f"rdl-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, 3, timeout=30)
    assert {d["webhookId"] for d in dead} == set(tasks)

    def ctl(*args):
        e = env.cli_env()
        e.update({"HOOKD_KAFKA_GROUP_ID": env.group, **DELAYS})
        return subprocess.run([HOOKCTL, "dlq", *args], env=e, capture_output=True, text=True,
                              timeout=120)

    for path in paths:  # fixed: anything replayed now is delivered
        receiver.status[path] = 204
    dry = ctl("replay", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    preview = json.loads(dry.stdout)
    assert preview["dryRun"] is True and preview["replayed"] == 3 and not preview["limited"]
    assert sorted(d["deliveryId"] for d in preview["deliveries"]) == \
        sorted(delivery_id(job, t) for t in tasks)
    text = ctl("replay", "--dry-run").stdout
    assert "dry run: would replay 3 deliveries to hookd.retry.1s" in text, text
    assert "nothing was published" in text and delivery_id(job, tasks[0]) in text
    limited = json.loads(ctl("replay", "--dry-run", "--limit", "2", "--json").stdout)
    assert limited["replayed"] == 2 and limited["limited"] is True
    assert len(limited["deliveries"]) == 2
    # --until: before the deaths takes none (epoch ms), a time after them takes all (RFC 3339)
    assert json.loads(ctl("replay", "--dry-run", "--until", str(before_ms),
                          "--json").stdout)["replayed"] == 0
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    assert json.loads(ctl("replay", "--dry-run", "--until", later, "--json").stdout)["replayed"] \
        == 3
    listed = json.loads(ctl("list", "--until", str(before_ms), "--json").stdout)
    assert listed == []
    time.sleep(3)
    assert all(len(receiver.matching(p)) == 1 for p in paths), "a dry run publishes nothing"

    # --limit 2 for real: two deliveries sent again, the third not
    out = ctl("replay", "--limit", "2", "--until", later)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("replayed 2 deliveries to hookd.retry.1s") and \
        "(stopped at --limit 2)" in out.stdout, out.stdout
    deadline = time.time() + 20
    while sum(len(receiver.matching(p)) for p in paths) < 5 and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(3)
    assert sorted(len(receiver.matching(p)) for p in paths) == [1, 2, 2]

    for args, flag in ((("replay", "--until", "yesterday"), "--until"),
                       (("replay", "--limit", "0"), "--limit"),
                       (("list", "--limit", "2"), "--limit"),
                       (("list", "--dry-run"), "--dry-run"),
                       (("replay", "--since", "1h", "--until", "2h"), "--until")):
        bad = ctl(*args)
        assert bad.returncode == 2 and bad.stderr.startswith(f"hookctl: {flag}: "), bad.stderr
        assert len(bad.stderr.splitlines()) == 1


def test_an_invalid_override_goes_straight_to_the_dlq(env, receiver, worker_factory, stack):
    # A blocked address is covered in test_failures.py. Tasks are validated when written, so
    # the invalid input that reaches a worker is an event whose override would make a task's
    # request invalid: refused whole, naming the field, dead-lettered at once, never retried.
    flow = f"rinv-{env.tag}"
    task_id = env.create_task({"flowId": flow, "url": receiver.url("/inv"), "body": "x"})
    worker_factory(env.topic, env.group, env.prefix, DELAYS)
    job = f"rinv-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow,
                 "webhookOverrides": [{"webhookId": task_id, "url": "ftp://files.example/x"}]})
    dead = read_topic(stack, "hookd.dlq",
                      lambda r: r.get("kind") == "poison" and job in r.get("payload", ""), 1,
                      timeout=20)
    assert len(dead) == 1, dead
    assert "webhookOverrides[0].url" in dead[0]["reason"], dead[0]["reason"]
    assert dead[0]["topic"] == env.topic
    time.sleep(2.5)  # past the 1 s and 2 s tiers: no retry either
    assert receiver.matching("/inv") == []


def test_a_4xx_answer_is_dead_at_once_but_429_is_retried(env, receiver, worker_factory, stack):
    """The 4xx rule (decisions: "a 4xx answer is final"): a 404 is dead-lettered after its one
    attempt as a permanent failure (the task stays enabled: only 410 disables it); 408, 425 and
    429 say "later" and are retried like a 5xx."""
    flow = f"r4xx-{env.tag}"
    receiver.status["/missing"] = 404
    receiver.script["/slow-down"] = [429]
    missing = env.create_task({"flowId": flow, "url": receiver.url("/missing"), "body": "x"})
    env.create_task({"flowId": flow, "url": receiver.url("/slow-down"), "body": "x"})
    worker = worker_factory(env.topic, env.group, env.prefix, DELAYS)
    job = f"r4xx-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    [dead] = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == job, 1, timeout=20)
    assert dead["webhookId"] == missing, dead
    assert dead["reason"] == "permanent failure" and dead["attempts"] == 1, dead
    assert dead["error"] == "HTTP 404", dead
    assert [o["statusCode"] for o in dead["outcomes"]] == [404]
    receiver.wait_for("/slow-down", 2, timeout=20)  # the 429, then its retry answered 204
    time.sleep(3)  # past the 1 s and 2 s tiers: no second attempt of the 404
    assert len(receiver.matching("/missing")) == 1, receiver.matching("/missing")
    assert [int(r["headers"]["x-webhook-attempt"]) for r in receiver.matching("/slow-down")] \
        == [1, 2]
    assert worker.metric('hookd_dlq_records_total{reason="permanent_failure"}') == 1
    task = json.loads(env.hookctl("webhooks", "get", missing, "--json").stdout)
    assert task["enabled"] is True, task
