"""Junk records on the event topic, through a real worker against the real broker: every kind is
dead-lettered to hookd.dlq as poison with the reason naming the field, a normal event after
them on the same partition is delivered, the offset moves past them, and the worker lives on.
Issue 12 found two kinds delivered: a jobId holding a NUL (delivered cut short) and one holding
invalid UTF-8 (passed to the receiver as raw bytes)."""
import json
import time

from conftest import committed_lag, read_topic


def ev(**fields):
    base = {"jobId": "junk", "jobStatus": "Complete", "flowId": "junk-flow"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def text(s):
    return s.encode()


# (name, record value, what the reason starts with, what it holds further on)
JUNK = [
    ("not JSON", b"not json", "event: not valid JSON", ""),
    ("empty", b"", "event: not valid JSON", ""),
    ("tombstone", None, "event: not valid JSON", ""),
    ("binary", b"\xff\xfe binary \x00 garbage", "event: ", ""),
    ("JSON array", b'[{"jobId":"1","jobStatus":"Complete","flowId":"7"}]', "event:",
     "must be a JSON object"),
    ("JSON string", b'"jobId"', "event:", "must be a JSON object"),
    ("JSON null", b"null", "event:", "must be a JSON object"),
    ("JSON number", b"42", "event:", "must be a JSON object"),
    ("missing jobId", ev(jobId=None), "jobId: required", ""),
    ("missing jobStatus", ev(jobStatus=None), "jobStatus: required", ""),
    ("missing flowId", ev(flowId=None), "flowId: required", ""),
    ("object as jobId", ev(jobId={"id": 1}), "jobId:", "string or a number"),
    ("array as jobId", ev(jobId=["1"]), "jobId:", "string or a number"),
    ("bool as jobId", ev(jobId=True), "jobId:", "string or a number"),
    ("empty jobId", ev(jobId=""), "jobId:", "empty"),
    ("number as jobStatus", ev(jobStatus=3), "jobStatus:", "string"),
    ("string as outputIds", ev(outputIds="3"), "outputIds:", "array"),
    ("over 1 MiB", ev(pad="x" * (1024 * 1024)), "event:", "limit"),
    ("invalid UTF-8 in jobId",
     b'{"jobId":"a\xff\xfeb","jobStatus":"Complete","flowId":"junk-flow"}',
     "jobId: not valid UTF-8", ""),
    ("Latin-1 in flowName",
     b'{"jobId":"1","jobStatus":"Complete","flowId":"junk-flow","flowName":"caf\xe9"}',
     "flowName: not valid UTF-8", ""),
    ("UTF-8 surrogate in eventId",
     b'{"eventId":"\xed\xa0\x80","jobId":"1","jobStatus":"Complete","flowId":"junk-flow"}',
     "eventId: not valid UTF-8", ""),
    ("invalid UTF-8 where hookd does not read",
     b'{"jobId":"1","jobStatus":"Complete","flowId":"junk-flow","note":"\xc0\xaf"}',
     "event: not valid UTF-8", ""),
    ("NUL escape in jobId", text('{"jobId":"a\\u0000b","jobStatus":"Complete",'
                                 '"flowId":"junk-flow"}'), "jobId:", "NUL"),
    ("NUL escape at the end of jobStatus", text('{"jobId":"1","jobStatus":"Complete\\u0000",'
                                                '"flowId":"junk-flow"}'), "jobStatus:", "NUL"),
    ("NUL escape in an output id", text('{"jobId":"1","jobStatus":"Complete",'
                                        '"flowId":"junk-flow","outputIds":["3\\u0000"]}'),
     "outputIds[0]:", "NUL"),
    ("NUL escape in the name jobId", text('{"jobId\\u0000x":"1","jobStatus":"Complete",'
                                          '"flowId":"junk-flow"}'), "jobId\\u0000x:", "NUL"),
    ("raw NUL byte in jobId", b'{"jobId":"a\x00b","jobStatus":"Complete","flowId":"junk-flow"}',
     "jobId:", "NUL"),
    ("raw control character", b'{"jobId":"a\x07","jobStatus":"Complete","flowId":"junk-flow"}',
     "event: not valid JSON", "U+0007"),
    ("truncated JSON", b'{"jobId":"1","jobStatus":"Complete","flowId":"jun',
     "event: not valid JSON", ""),
    ("two objects", json.dumps(ev()).encode() + json.dumps(ev()).encode(),
     "event: not valid JSON", "after the value"),
    ("trailing garbage", json.dumps(ev()).encode() + b" garbage", "event: not valid JSON",
     "after the value"),
    ("deep nesting", b"[" * 10000, "event: not valid JSON", ""),
    ("deep nesting inside an event", json.dumps(ev()).encode()[:-1] + b',"x":'
     + b"[" * 10000 + b"]" * 10000 + b"}", "event: not valid JSON", ""),
    ("huge number as jobId", b'{"jobId":1e400,"jobStatus":"Complete","flowId":"junk-flow"}',
     "jobId:", "2^53"),
    ("number past 2^53 as jobId",
     b'{"jobId":18446744073709551617,"jobStatus":"Complete","flowId":"junk-flow"}',
     "jobId:", "2^53"),
    ("duplicate jobId", b'{"jobId":"1","jobId":"2","jobStatus":"Complete","flowId":"junk-flow"}',
     "jobId:", "more than once"),
    ("byte order mark", b"\xef\xbb\xbf" + json.dumps(ev()).encode(), "event: not valid JSON",
     "byte order mark"),
    ("single quotes", b"{'jobId':'1','jobStatus':'Complete','flowId':'junk-flow'}",
     "event: not valid JSON", ""),
]


def test_every_kind_of_junk_is_dead_lettered_and_the_partition_goes_on(env, receiver,
                                                                         worker_factory, stack):
    flow = f"junk-{env.tag}"
    env.create_task({"flowId": flow, "url": receiver.url("/junk"), "body": "$jobId"})
    worker = worker_factory(env.topic, env.group, env.prefix, {"HOOKD_LOG_LEVEL": "info"})
    offsets = {}

    def produce(value, name=None):
        if isinstance(value, dict):
            value = json.dumps(value).encode().replace(b'"junk-flow"', json.dumps(flow).encode())
        elif value is not None:
            value = value.replace(b'"junk-flow"', json.dumps(flow).encode())

        def acked(err, msg):
            assert err is None, err
            if name:
                offsets[msg.offset()] = name
        # One partition for all, so each junk record sits ahead of the good one after it.
        env.producer.produce(env.topic, value=value, partition=0, on_delivery=acked)
        env.producer.flush(15)

    produce({"jobId": "good-before", "jobStatus": "Complete", "flowId": flow})
    for name, value, _, _ in JUNK:
        produce(value, name)
    # Whitespace around the object is JSON, and not junk.
    produce(b" \r\n\t" + json.dumps({"jobId": "good-spaced", "jobStatus": "Complete",
                                        "flowId": flow}).encode() + b"\n")
    produce({"jobId": "good-after", "jobStatus": "Complete", "flowId": flow})
    assert len(offsets) == len(JUNK) >= 20

    got = receiver.wait_for("/junk", 3, timeout=60)
    time.sleep(1)  # anything a junk record let through would have arrived with them
    bodies = [r["body"] for r in receiver.matching("/junk")]
    assert sorted(bodies) == [b"good-after", b"good-before", b"good-spaced"], bodies
    assert len(got) == 3

    dead = read_topic(stack, "hookd.dlq", lambda r: r.get("kind") == "poison"
                      and r.get("topic") == env.topic, len(JUNK), timeout=60)
    by_offset = {d["offset"]: d for d in dead}
    problems = []
    for offset, name in sorted(offsets.items()):
        expected = next((start, more) for n, _, start, more in JUNK if n == name)
        d = by_offset.get(offset)
        if d is None:
            problems.append(f"{name}: not dead-lettered")
            continue
        reason = d["reason"]
        print(f"{name:40} {reason}")
        if d["partition"] != 0 or not reason.startswith(expected[0]) or expected[1] not in reason:
            problems.append(f"{name}: reason {reason!r}, wanted {expected[0]!r} ... "
                            f"{expected[1]!r}")
    assert not problems, "\n".join(problems)
    assert len(dead) == len(JUNK), "one dead letter each, no more"
    big = next(d for d in dead if offsets[d["offset"]] == "over 1 MiB")
    assert big["payloadTruncated"] is True
    nul = next(d for d in dead if offsets[d["offset"]] == "NUL escape in jobId")
    assert json.loads(nul["payload"])["jobId"] == "a\x00b", "the payload is kept as it came"

    assert worker.metric("hookd_events_poison_total") == len(JUNK)
    deadline = time.time() + 30
    while committed_lag(stack, env.topic, env.group) and time.time() < deadline:
        time.sleep(0.5)
    assert committed_lag(stack, env.topic, env.group) == 0, "the offset moved past the junk"
    assert worker.proc.poll() is None, "the worker lives on"
    assert worker.stop() == 0
