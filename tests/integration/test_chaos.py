"""Chaos: a receiver failing 30% of requests at random, and the worker SIGKILLed three times and
restarted while events, retries and dead letters are in flight. At the end every (event, task)
pair has been answered 2xx or sits in the dead-letter topic with its attempts: none is lost."""
import time

from conftest import delivery_id, read_topic

EVENTS = 5000
TASKS = 2
SETTINGS = {"HOOKD_RETRY_DELAYS": "1s,2s", "HOOKD_LOG_LEVEL": "info"}


def test_kill_three_times_under_random_failures_loses_nothing(env, receiver, worker_factory,
                                                              stack):
    flow = f"chaos-{env.tag}"
    receiver.fail_rate["/chaos"] = 0.3
    tasks = [env.create_task({"flowId": flow, "url": receiver.url(f"/chaos/{k}"),
                              "body": "$jobId", "retry": {"enabled": True, "maxAttempts": 3}})
             for k in range(TASKS)]
    events = [f"{flow}-{i}" for i in range(EVENTS)]
    expected = {delivery_id(e, t) for e in events for t in tasks}

    def delivered():
        with receiver.lock:
            return [r["headers"]["x-webhook-id"] for r in receiver.requests
                    if r["path"].startswith("/chaos") and r["status"] < 300]

    def answered():
        with receiver.lock:
            return sum(1 for r in receiver.requests if r["path"].startswith("/chaos"))

    worker = worker_factory(env.topic, env.group, env.prefix, SETTINGS)
    start = time.time()
    env.publish_many([{"eventId": e, "jobId": e, "jobStatus": "Complete", "flowId": flow}
                      for e in events], spread=True)
    # Each worker is killed once it has made real progress (1,500 requests answered since it
    # started), so every kill lands mid-stream, with deliveries, retries and dead letters in
    # flight and offsets not yet committed.
    kills = []
    for _ in range(3):
        base = answered()
        deadline = time.time() + 90
        while answered() < base + 1500 and time.time() < deadline:
            time.sleep(0.02)
        assert answered() >= base + 1500, "the worker made no progress"
        worker.proc.kill()
        worker.proc.wait(10)
        kills.append((answered(), len(set(delivered()) & expected)))
        worker = worker_factory(env.topic, env.group, env.prefix, SETTINGS)
    print("at each SIGKILL (requests answered, pairs delivered):", kills)
    assert kills[-1][1] < len(expected), "the last kill came before the end of the run"

    # Wait until every pair is accounted for: answered 2xx, or dead-lettered.
    dead = {}
    deadline = time.time() + 240
    while True:
        ok = set(delivered())
        missing = expected - ok - set(dead)
        if not missing or time.time() > deadline:
            break
        for d in read_topic(stack, "hookd.dlq",
                            lambda r: r.get("flowId") == flow and r["deliveryId"] in missing,
                            len(missing), timeout=5):
            dead[d["deliveryId"]] = d
    answers = delivered()
    duplicates = len(answers) - len(set(answers))
    print(f"{len(expected)} pairs: {len(set(answers) & expected)} answered 2xx, "
          f"{len(set(dead) - set(answers))} only in the DLQ, {len(missing)} missing; "
          f"{duplicates} duplicate 2xx deliveries ({100 * duplicates / len(expected):.1f}%), "
          f"{time.time() - start:.0f} s in all")
    assert not missing, f"{len(missing)} pairs lost, e.g. {sorted(missing)[:3]}"
    for d in dead.values():
        assert d["reason"] == "attempts exhausted" and d["attempts"] == 3, d
        assert [o["attempt"] for o in d["outcomes"]] == [1, 2, 3], d
