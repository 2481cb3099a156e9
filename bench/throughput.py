"""bench/throughput.py — the Kafka and log-reading half of bench/throughput (run by it, with the
venv's python). Not a test. Every subcommand prints one line of plain values for the shell.

  topics   BOOTSTRAP PARTITIONS TOPIC...        create the topics that do not exist yet
  ready    BOOTSTRAP GROUP TOPIC PARTITIONS SECS wait until GROUP is stable and holds every
                                                partition of TOPIC (exit 1 on timeout)
  burst    BOOTSTRAP TOPIC FLOW N [PREFIX]      publish N events as fast as the producer goes
                                                (event ids PREFIX-<i>, PREFIX "burst");
                                                prints: first-publish-epoch-s flushed-epoch-s
  paced    BOOTSTRAP TOPIC FLOW RATE WARMUP SECS URL=ID...
                                                publish RATE events/s for WARMUP then SECS
                                                seconds; each event overrides every task's url
                                                with URL?t=<epoch ms> (URL?warmup=<ms> during
                                                the warm-up); prints: events measured-events
  count    LOG PREFIX                           lines whose uri starts with PREFIX; prints:
                                                count last-msec
  latency  LOG                                  receipt ($msec) minus ?t= of every line; prints:
                                                p50-ms p99-ms max-ms samples
  stages   BEFORE AFTER                         two scrapes of hookd's /metrics; per stage
                                                (pickup, queue, request) what was observed
                                                between them; prints per stage:
                                                name count p50-ms p99-ms (bucket bounds)
  report   JSON-OUT KEY=VALUE...                write the result as JSON (numbers where they
                                                parse as numbers)
"""
import concurrent.futures
import json
import math
import sys
import time

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def cmd_topics(bootstrap, partitions, *names):
    a = admin(bootstrap)
    existing = set(a.list_topics(timeout=15).topics)
    new = [NewTopic(n, int(partitions), 1) for n in names if n not in existing]
    if new:
        for name, fut in a.create_topics(new, operation_timeout=15).items():
            try:
                fut.result(20)
            except KafkaException as e:  # created meanwhile by auto-creation: fine
                if "TOPIC_ALREADY_EXISTS" not in str(e):
                    raise
    # wait until every partition has a leader, so the first produce does not wait for metadata
    deadline = time.time() + 20
    while time.time() < deadline:
        md = a.list_topics(timeout=5).topics
        if all(n in md and md[n].error is None and len(md[n].partitions) >= int(partitions)
               and all(p.leader >= 0 for p in md[n].partitions.values()) for n in names):
            return
        time.sleep(0.1)
    sys.exit("topics: not all partitions have a leader after 20 s")


def cmd_ready(bootstrap, group, topic, partitions, secs):
    a = admin(bootstrap)
    deadline = time.time() + float(secs)
    while time.time() < deadline:
        try:
            desc = a.describe_consumer_groups([group])[group].result(5)
            held = sum(1 for m in desc.members
                       for tp in (m.assignment.topic_partitions if m.assignment else [])
                       if tp.topic == topic)
            if desc.state.name == "STABLE" and held >= int(partitions):
                print(desc.state.name, held)
                return
        except (KafkaException, concurrent.futures.TimeoutError):
            pass  # the group does not exist yet, or the coordinator is still loading (fresh broker)
        time.sleep(0.2)
    sys.exit(f"ready: group {group} does not hold the {partitions} partitions of {topic} "
             f"after {secs} s")


def producer(bootstrap, linger_ms):
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": linger_ms,
                     "queue.buffering.max.messages": 2000000,
                     "queue.buffering.max.kbytes": 1048576})


def produce_waiting(p, topic, key, value, cb, wait=0.01):
    """Produces one record, polling (wait s) while librdkafka's queue is full."""
    while True:
        try:
            p.produce(topic, key=key, value=value, on_delivery=cb)
            return
        except BufferError:
            p.poll(wait)


def delivery_check(failures):
    def cb(err, _msg):
        if err is not None:
            failures.append(err)
    return cb


def cmd_burst(bootstrap, topic, flow, n, prefix="burst"):
    n = int(n)
    failures = []
    p = producer(bootstrap, 5)
    p.list_topics(topic, timeout=10)  # metadata first: the clock starts at the first produce
    # Rendered before the clock starts: only the publishing is measured.
    # Keyed by job id, as a job platform keeps one job's events in order: the keys spread the
    # events over the partitions evenly (null keys would go in sticky runs to one partition).
    values = [(f"{prefix}-{i}".encode(),
               json.dumps({"eventId": f"{prefix}-{i}", "jobId": f"{prefix}-{i}",
                           "jobStatus": "Complete", "flowId": flow}).encode()) for i in range(n)]
    cb = delivery_check(failures)
    first = time.time()
    for i, (k, v) in enumerate(values):
        produce_waiting(p, topic, k, v, cb)
        if i % 2000 == 0:
            p.poll(0)
    left = p.flush(120)
    flushed = time.time()
    if left or failures:
        sys.exit(f"burst: {left} events unsent, {len(failures)} failed: {failures[:3]}")
    print(f"{first:.6f} {flushed:.6f}")


def cmd_paced(bootstrap, topic, flow, rate, warmup, secs, *url_ids):
    rate, warmup, secs = float(rate), float(warmup), float(secs)
    tasks = [u.rsplit("=", 1) for u in url_ids]
    failures = []
    cb = delivery_check(failures)
    # librdkafka's default linger (5 ms), as a job platform's producer would run; with linger 0
    # every event is a produce request of its own, and on 2 cores the broker then takes more
    # than a core and starves hookd.
    p = producer(bootstrap, 5)
    p.list_topics(topic, timeout=10)
    n_warm = int(rate * warmup)
    total = n_warm + int(rate * secs)
    start = time.time()
    sent = 0
    while sent < total:
        due = min(total, int((time.time() - start) * rate) + 1)
        while sent < due:
            t_ms = int(time.time() * 1000)
            # warm-up events say ?warmup= so that `latency` leaves them out
            q = "warmup" if sent < n_warm else "t"
            overrides = [{"webhookId": tid, "url": f"{url}?{q}={t_ms}"} for url, tid in tasks]
            v = json.dumps({"eventId": f"paced-{sent}", "jobId": f"p{sent}",
                            "jobStatus": "Complete", "flowId": flow,
                            "webhookOverrides": overrides}).encode()
            produce_waiting(p, topic, f"p{sent}".encode(), v, cb, 0.001)
            sent += 1
        p.poll(0)
        pause = start + sent / rate - time.time()
        if pause > 0:
            time.sleep(min(pause, 0.005))
    left = p.flush(60)
    if left or failures:
        sys.exit(f"paced: {left} events unsent, {len(failures)} failed: {failures[:3]}")
    print(total, total - n_warm)


def cmd_count(path, prefix):
    n, last = 0, 0.0
    try:
        with open(path) as f:
            for line in f:
                msec, _, uri = line.rstrip("\n").partition(" ")
                if uri.startswith(prefix):
                    n += 1
                    last = max(last, float(msec))
    except FileNotFoundError:
        pass
    print(n, f"{last:.3f}")


def percentile(sorted_values, q):
    # nearest rank: the smallest value with at least q of the samples at or below it
    k = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[k - 1]


def cmd_latency(path):
    lat = []
    with open(path) as f:
        for line in f:
            msec, _, uri = line.rstrip("\n").partition(" ")
            _, sep, t = uri.partition("?t=")
            if sep:
                lat.append(float(msec) * 1000 - int(t.split("&")[0]))
    if not lat:
        print("null null null 0")
        return
    lat.sort()
    print(f"{percentile(lat, 0.50):.0f} {percentile(lat, 0.99):.0f} {lat[-1]:.0f} {len(lat)}")


def cmd_report(out, *pairs):
    res = {}
    for pair in pairs:
        k, _, v = pair.partition("=")
        if v in ("", "null", "nan"):
            res[k] = None
            continue
        try:
            res[k] = int(v)
        except ValueError:
            try:
                res[k] = float(v)
            except ValueError:
                res[k] = v
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")

STAGES = [("pickup", "hookd_event_pickup_seconds"),
          ("queue", "hookd_delivery_queue_seconds"),
          ("request", "hookd_delivery_attempt_duration_seconds")]


def buckets(path, family):
    """A histogram's cumulative buckets {le: count} from a /metrics scrape, summed over series."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if not line.startswith(family + "_bucket{"):
                    continue
                labels, _, value = line.rpartition(" ")
                le = labels.split('le="', 1)[1].split('"', 1)[0]
                key = math.inf if le == "+Inf" else float(le)
                out[key] = out.get(key, 0) + float(value)
    except FileNotFoundError:
        pass
    return out


def bucket_quantile(cum, q):
    """The upper bound of the bucket holding quantile q, in ms ('>X' past the last bound)."""
    total = cum.get(math.inf, 0)
    if total <= 0:
        return None
    bounds = sorted(cum)
    for i, le in enumerate(bounds):
        if cum[le] >= q * total:
            if le == math.inf:
                return f">{bounds[i - 1] * 1000:g}" if i else "inf"
            return f"{le * 1000:g}"
    return None


def cmd_stages(before, after):
    """Per stage, from two scrapes of hookd's /metrics: count, p50 and p99 (bucket bounds, ms)
    of what was observed between them. Prints `name count p50 p99` per stage."""
    for name, family in STAGES:
        b, a = buckets(before, family), buckets(after, family)
        delta = {le: a[le] - b.get(le, 0) for le in a}
        n = delta.get(math.inf, 0)
        print(name, f"{n:.0f}", bucket_quantile(delta, 0.50) or "null",
              bucket_quantile(delta, 0.99) or "null")


if __name__ == "__main__":
    cmds = {"topics": cmd_topics, "ready": cmd_ready, "burst": cmd_burst, "paced": cmd_paced,
            "count": cmd_count, "latency": cmd_latency, "report": cmd_report,
            "stages": cmd_stages}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
