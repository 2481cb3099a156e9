"""Size and capacity limits of what the worker produces to Kafka: an event whose retry record
could not fit under the producer's message.max.bytes, and a producer queue that fills up.
Neither may stop the worker or stall its partition (issue 12, section 1)."""
import json
import os
import time

from conftest import read_topic, wait_lag_zero


def sized_event(job, flow, status, size):
    """A valid job event of exactly `size` bytes, padded in an extra field."""
    event = {"jobId": job, "jobStatus": status, "flowId": flow, "pad": ""}
    base = len(json.dumps(event, separators=(",", ":")).encode())
    event["pad"] = "x" * (size - base)
    raw = json.dumps(event, separators=(",", ":")).encode()
    assert len(raw) == size
    return raw


def two_tasks(env, receiver, flow):
    """A task for failed jobs whose receiver always answers 500 (retry on), and one for
    completed jobs that succeeds."""
    receiver.status["/fail"] = 500
    env.create_task({"flowId": flow, "url": receiver.url("/fail"), "body": "$jobId",
                     "trigger": {"event": "failure", "objects": "any"},
                     "retry": {"enabled": True, "maxAttempts": 3}})
    env.create_task({"flowId": flow, "url": receiver.url("/ok"), "body": "$jobId",
                     "trigger": {"event": "success", "objects": "any"}})


def test_an_event_too_big_to_retry_is_dead_lettered_and_the_partition_moves(
        env, receiver, worker_factory, stack):
    """~999,600 bytes: under the 1 MiB event limit, but its retry record would pass the
    producer's message.max.bytes (1,000,000). The old worker delivered it, failed to queue the
    retry record, and exited 1 without committing: a crash loop on the partition."""
    flow = f"lim-{env.tag}"
    two_tasks(env, receiver, flow)
    worker = worker_factory(env.topic, env.group, env.prefix)
    big_job, small_job = f"big-{env.tag}", f"small-{env.tag}"
    env.publish(sized_event(big_job, flow, "Failed", 999_600), key=b"same")
    env.publish({"jobId": small_job, "jobStatus": "Complete", "flowId": flow}, key=b"same")
    got = receiver.wait_for("/ok", 1, timeout=30)
    assert [r["body"] for r in got] == [small_job.encode()], "the event after the big one"
    time.sleep(1)
    assert worker.proc.poll() is None, "the worker keeps running"
    dead = read_topic(stack, "hookd.dlq",
                      lambda r: r.get("group") == env.group and "too large" in r.get("reason", ""),
                      1)
    assert len(dead) == 1, "the big event is dead-lettered"
    reason = dead[0]["reason"]
    assert "999600 bytes" in reason, reason
    assert "message.max.bytes 1000000" in reason, reason
    assert dead[0]["kind"] == "poison" and dead[0]["topic"] == env.topic
    assert dead[0]["payloadBytes"] == 999_600 and dead[0]["payloadTruncated"] is True
    assert wait_lag_zero(stack, env) == 0, "the committed offset moved past the big event"
    assert worker.proc.poll() is None, "the worker keeps running"
    assert worker.metric('hookd_dlq_records_total{reason="too_large"}') == 1
    assert receiver.matching("/fail") == [], "refused before any attempt"


def test_the_limit_follows_the_producers_message_max_bytes(env, receiver, worker_factory, stack):
    """With HOOKD_KAFKA_MESSAGE_MAX_BYTES=300000 an event of 299,800 bytes is refused the same
    way, and one of 200,000 bytes that fails once is retried through its tier and delivered."""
    flow = f"lim3-{env.tag}"
    receiver.script["/flaky"] = [500]
    env.create_task({"flowId": flow, "url": receiver.url("/flaky"), "body": "$jobId",
                     "retry": {"enabled": True, "maxAttempts": 3}})
    worker = worker_factory(env.topic, env.group, env.prefix,
                            {"HOOKD_KAFKA_MESSAGE_MAX_BYTES": "300000",
                             "HOOKD_RETRY_DELAYS": "1s"})
    big_job, mid_job = f"big-{env.tag}", f"mid-{env.tag}"
    env.publish(sized_event(big_job, flow, "Complete", 299_800), key=b"same")
    env.publish(sized_event(mid_job, flow, "Complete", 200_000), key=b"same")
    got = receiver.wait_for("/flaky", 2, timeout=30)
    assert [r["body"] for r in got] == [mid_job.encode()] * 2, \
        f"the 200,000-byte event failed once, then was retried (worker exit {worker.proc.poll()})"
    assert [r["status"] for r in got] == [500, 204]
    assert got[1]["headers"]["x-webhook-attempt"] == "2"
    dead = read_topic(stack, "hookd.dlq",
                      lambda r: r.get("group") == env.group and "too large" in r.get("reason", ""),
                      1)
    assert len(dead) == 1
    assert "299800 bytes" in dead[0]["reason"], dead[0]["reason"]
    assert "message.max.bytes 300000" in dead[0]["reason"], dead[0]["reason"]
    assert wait_lag_zero(stack, env) == 0
    assert worker.proc.poll() is None


def test_a_full_producer_queue_is_back_pressure_not_an_exit(env, receiver, worker_factory, stack):
    """A producer queue of 2 messages (queue.buffering.max.messages): dead letters and outcome
    records find it full again and again. Dead letters wait and go out in the end; outcome
    records stay best-effort, each one lost counted; the worker never exits."""
    flow = f"qfull-{env.tag}"
    receiver.status["/fail"] = 500
    fail_id = env.create_task({"flowId": flow, "url": receiver.url("/fail"), "body": "$jobId",
                               "retry": {"enabled": False}})
    env.create_task({"flowId": flow, "url": receiver.url("/ok"), "body": "$jobId"})
    worker = worker_factory(env.topic, env.group, env.prefix,
                            {"HOOKD_KAFKA_QUEUE_BUFFERING_MAX_MESSAGES": "2"})
    n = 60
    jobs = [f"q{i}-{env.tag}" for i in range(n)]
    env.publish_many([{"jobId": j, "jobStatus": "Complete", "flowId": flow} for j in jobs],
                     spread=True)
    ok = receiver.wait_for("/ok", n, timeout=60)
    assert sorted(r["body"].decode() for r in ok) == sorted(jobs)
    dead = read_topic(stack, "hookd.dlq",
                      lambda r: r.get("group") == env.group and r.get("webhookId") == fail_id,
                      n, timeout=60)
    assert sorted(d["jobId"] for d in dead) == sorted(jobs), "every failure dead-lettered"
    assert all(d["reason"] == "retry disabled" for d in dead)
    assert wait_lag_zero(stack, env, timeout=40) == 0
    assert worker.proc.poll() is None, "the worker keeps running"
    published = worker.metric("hookd_outcomes_published_total")
    lost = worker.metric('hookd_dlq_publish_errors_total{kind="outcome"}')
    print(f"{2 * n} outcomes: {published:.0f} published, {lost:.0f} lost to a full queue")
    assert published + lost == 2 * n, "every outcome record is accounted for"
    assert worker.stop() == 0


def test_a_retry_record_the_broker_refuses_dead_letters_its_delivery(
        env, receiver, worker_factory, stack):
    """The broker's limit may be below the producer's: a tier topic whose max.message.bytes is
    50,000 refuses (in the delivery report, MESSAGE_TOO_LARGE) the retry record of a
    100,000-byte event that fits message.max.bytes. Sending the same bytes again can never
    pass: the old worker did, for ever, and the partition stalled. Now the delivery is
    dead-lettered with the reason and the partition moves."""
    from confluent_kafka.admin import NewTopic
    delay = f"{1000 + int(env.tag[:4], 16) % 1000}ms"  # a tier topic of this test's own
    tier = f"hookd.retry.{delay}"
    futures = stack["admin"].create_topics(
        [NewTopic(tier, 1, 1, config={"max.message.bytes": "50000"})])
    for f in futures.values():
        f.result(15)
    flow = f"brk-{env.tag}"
    two_tasks(env, receiver, flow)
    worker = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_RETRY_DELAYS": delay})
    big_job, small_job = f"big-{env.tag}", f"small-{env.tag}"
    # random hex: lz4 cannot shrink it under the broker's limit
    event = {"jobId": big_job, "jobStatus": "Failed", "flowId": flow,
             "pad": os.urandom(50_000).hex()}
    env.publish(json.dumps(event).encode(), key=b"same")
    env.publish({"jobId": small_job, "jobStatus": "Complete", "flowId": flow}, key=b"same")
    assert receiver.wait_for("/ok", 1, timeout=30), "the event after the big one"
    assert len(receiver.wait_for("/fail", 1)) == 1, "the big one had its first attempt"
    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == big_job, 1)
    assert len(dead) == 1, "the delivery is dead-lettered"
    reason = dead[0]["reason"]
    assert dead[0]["kind"] == "delivery"
    assert reason.startswith(f"record too large: {tier} refused a retry record of"), reason
    assert [o["statusCode"] for o in dead[0]["outcomes"]] == [500]
    assert wait_lag_zero(stack, env) == 0
    assert worker.proc.poll() is None
    assert worker.metric('hookd_dlq_records_total{reason="too_large"}') == 1
    assert worker.metric('hookd_dlq_publish_errors_total{kind="retry"}') == 1
    assert worker.metric('hookd_dlq_publish_errors_total{kind="dead_letter"}') == 0
    assert len(receiver.matching("/fail")) == 1, "no retry was ever queued"
