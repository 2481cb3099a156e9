"""HOOKD_TOPIC_PREFIX against the real broker: a worker with a prefix of its own delivers,
retries through <prefix>retry.<delay>, dead-letters to <prefix>dlq and records outcomes on
<prefix>deliveries, and nothing of it reaches the unprefixed hookd.* topics; hookctl follows the
prefix (dlq list); a bad prefix is one line naming the variable, exit 2."""
import json
import os
import subprocess
import uuid

from conftest import HOOKCTL, HOOKD, read_topic, wait_lag_zero
from test_observability import wait_probe

DELAYS = {"HOOKD_RETRY_DELAYS": "1s,2s", "HOOKD_LOG_LEVEL": "info"}


def test_a_prefixed_worker_uses_only_its_own_topics(env, receiver, worker_factory, stack):
    prefix = f"t{uuid.uuid4().hex[:8]}."
    flow = f"pfx-{env.tag}"
    receiver.status["/down"] = 500
    receiver.script["/once"] = [503]
    dead_task = env.create_task({"flowId": flow, "url": receiver.url("/down"), "body": "$jobId",
                                 "retry": {"enabled": True, "maxAttempts": 2}})
    retried_task = env.create_task({"flowId": flow, "url": receiver.url("/once"),
                                    "body": "$jobId"})
    worker = worker_factory(env.topic, env.group, env.prefix,
                            {**DELAYS, "HOOKD_TOPIC_PREFIX": prefix})
    job = f"pfx-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})

    ours = lambda r: r.get("jobId") == job  # noqa: E731
    dead = read_topic(stack, prefix + "dlq", ours, 1, timeout=30)
    assert len(dead) == 1 and dead[0]["webhookId"] == dead_task, dead
    assert dead[0]["attempts"] == 2, dead[0]
    receiver.wait_for("/once", 2, timeout=20)
    # attempt 1 of each failed: both went through the first tier, <prefix>retry.1s
    tier = read_topic(stack, prefix + "retry.1s", ours, 2, timeout=20)
    assert sorted(r["webhookId"] for r in tier) == sorted([dead_task, retried_task]), tier
    outcomes = read_topic(stack, prefix + "deliveries", ours, 4, timeout=20)
    assert sorted((o["webhookId"], o["attempt"], o["status"]) for o in outcomes) == sorted([
        (dead_task, 1, "failed"), (dead_task, 2, "failed"),
        (retried_task, 1, "failed"), (retried_task, 2, "delivered")]), outcomes

    # The topics hookd created are the prefixed ones, and none of this job is on hookd.*.
    topics = set(stack["admin"].list_topics(timeout=10).topics)
    for name in ("dlq", "deliveries", "events", "retry.1s", "retry.2s"):
        assert prefix + name in topics, (name, sorted(t for t in topics if t.startswith(prefix)))
    for name in ("hookd.dlq", "hookd.deliveries", "hookd.retry.1s", "hookd.retry.2s"):
        if name in topics:
            assert read_topic(stack, name, ours, 1, timeout=3) == [], name

    # hookctl reads the prefixed dead-letter topic with the same setting (variable or flag).
    cli = env.cli_env() | {"HOOKD_KAFKA_GROUP_ID": env.group}
    listed = subprocess.run([HOOKCTL, "dlq", "list", "--json", "--topic-prefix", prefix], env=cli,
                            capture_output=True, text=True, timeout=180)
    assert listed.returncode == 0, listed.stderr
    letters = json.loads(listed.stdout)
    assert [d["webhookId"] for d in letters if d.get("jobId") == job] == [dead_task], letters
    unprefixed = subprocess.run([HOOKCTL, "dlq", "list", "--json"], env=cli,
                                capture_output=True, text=True, timeout=180)
    assert unprefixed.returncode == 0, unprefixed.stderr
    assert not [d for d in json.loads(unprefixed.stdout) if d.get("jobId") == job]
    assert worker.proc.poll() is None


def test_a_prefixed_workers_task_disabled_goes_to_its_own_events_topic(env, receiver,
                                                                       worker_factory, stack):
    """A 410 disables the task; its task.disabled is a record on <prefix>events (none on
    hookd.events), and the worker reads it back from there: the flow's task that takes
    task.disabled is told."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    flow = f"pfxe-{env.tag}"
    receiver.status["/pgone"] = 410
    gone = env.create_task({"flowId": flow, "url": receiver.url("/pgone"), "body": "$jobId"})
    env.create_task({"flowId": flow, "url": receiver.url("/pops"), "method": "POST",
                     "trigger": {"types": ["task.disabled"]}})
    worker = worker_factory(env.topic, env.group, env.prefix,
                            {**DELAYS, "HOOKD_TOPIC_PREFIX": prefix})
    status, body = wait_probe(worker, "/readyz", 200, timeout=40)  # <group>.events joined
    assert status == 200, body
    job = f"pfxe-{env.tag}"
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    about = lambda r: r.get("webhookId") == gone  # noqa: E731
    events = read_topic(stack, prefix + "events", about, 1, timeout=30)
    assert len(events) == 1 and events[0]["type"] == "task.disabled", events
    assert "410" in events[0]["reason"] and events[0]["flowId"] == flow, events
    told = receiver.wait_for("/pops", 1, timeout=20)
    assert len(told) == 1 and json.loads(told[0]["body"])["jobId"] == gone, told
    if "hookd.events" in stack["admin"].list_topics(timeout=10).topics:
        assert read_topic(stack, "hookd.events", about, 1, timeout=3) == []
    assert worker.proc.poll() is None


def test_a_dead_letter_the_broker_refuses_is_counted_cut_and_sent_again(env, worker_factory,
                                                                        stack):
    """<prefix>dlq's max.message.bytes (4,000) is below the producer's limit: the broker
    refuses the dead letter of a 20,000-byte poison event. That is counted as
    hookd_dlq_publish_errors_total{kind="dead_letter"}; the dead letter is cut and sent again
    until it fits, and the partition moves on."""
    from confluent_kafka.admin import NewTopic
    prefix = f"t{uuid.uuid4().hex[:8]}."
    futures = stack["admin"].create_topics(
        [NewTopic(prefix + "dlq", 1, 1, config={"max.message.bytes": "4000"})])
    for f in futures.values():
        f.result(15)
    worker = worker_factory(env.topic, env.group, env.prefix,
                            {**DELAYS, "HOOKD_TOPIC_PREFIX": prefix})
    # not JSON (poison), and random hex, which lz4 cannot shrink under the topic's limit
    env.publish(b'{"jobId": "' + os.urandom(10_000).hex().encode(), key=b"big")
    dead = read_topic(stack, prefix + "dlq", lambda r: r.get("topic") == env.topic, 1,
                      timeout=30)
    assert len(dead) == 1 and dead[0]["kind"] == "poison", dead
    assert dead[0]["payloadBytes"] == 20_011 and dead[0]["payloadTruncated"] is True, dead
    assert len(json.dumps(dead[0])) < 4000
    assert wait_lag_zero(stack, env) == 0, "the committed offset moved past the poison event"
    assert worker.metric('hookd_dlq_publish_errors_total{kind="dead_letter"}') >= 1
    assert worker.metric('hookd_dlq_publish_errors_total{kind="retry"}') == 0
    assert worker.proc.poll() is None


def test_a_bad_prefix_is_one_line_naming_it_and_exit_2(stack):
    for bad in ("a/b.", "x y", "", "p" * 229):
        for program in (HOOKD, HOOKCTL):
            args = [program] + (["dlq", "list"] if program == HOOKCTL else [])
            env = {"PATH": "/usr/bin:/bin", "HOOKD_TOPIC_PREFIX": bad,
                   "HOOKD_KAFKA_BOOTSTRAP_SERVERS": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
                   "HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"]}
            out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)
            assert out.returncode == 2, (program, bad, out.stderr)
            lines = out.stderr.strip().splitlines()
            assert len(lines) == 1 and "HOOKD_TOPIC_PREFIX" in lines[0], (program, bad, lines)
