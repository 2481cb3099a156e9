"""bench helper: publishes job events for bench/throughput and reads nginx's access log.

  publish.py burst  BOOTSTRAP TOPIC FLOW N              -> prints the first publish time (s)
  publish.py paced  BOOTSTRAP TOPIC FLOW RATE SECONDS TASK_ID... (each event overrides every
                    task's URL with ?t=<publish ms>, so nginx's log gives the latency)
  publish.py latency ACCESS_LOG                          -> prints p50 and p99 in ms
  publish.py topic  BOOTSTRAP TOPIC PARTITIONS
"""
import json
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def producer(bootstrap):
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                     "queue.buffering.max.messages": 1000000})


def produce(p, topic, value):
    while True:
        try:
            p.produce(topic, value=value)
            return
        except BufferError:
            p.poll(0.05)


def burst(bootstrap, topic, flow, n):
    p = producer(bootstrap)
    first = time.time()
    for i in range(n):
        produce(p, topic, json.dumps({"eventId": f"b{i}", "jobId": str(i),
                                      "jobStatus": "Complete", "flowId": flow}).encode())
        if i % 1000 == 0:
            p.poll(0)
    p.flush(120)
    print(f"{first:.6f}")


def paced(bootstrap, topic, flow, rate, seconds, task_ids, url):
    p = producer(bootstrap)
    total = int(rate * seconds)
    start = time.time()
    for i in range(total):
        due = start + i / rate
        now = time.time()
        if due > now:
            time.sleep(due - now)
        t_ms = int(time.time() * 1000)
        overrides = [{"webhookId": t, "url": f"{url}?t={t_ms}"} for t in task_ids]
        produce(p, topic, json.dumps({"eventId": f"p{i}", "jobId": str(i),
                                      "jobStatus": "Complete", "flowId": flow,
                                      "webhookOverrides": overrides}).encode())
        p.poll(0)
    p.flush(60)
    print(total)


def latency(path):
    lat = []
    with open(path) as f:
        for line in f:
            msec, _, uri = line.strip().partition(" ")
            if "?t=" in uri:
                lat.append(float(msec) * 1000 - int(uri.split("?t=")[1]))
    lat.sort()
    if not lat:
        print("nan nan 0")
        return
    print(f"{lat[len(lat) // 2]:.1f} {lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.1f} {len(lat)}")


def topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(name, int(partitions), 1)]).values():
        f.result(15)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "burst":
        burst(args[0], args[1], args[2], int(args[3]))
    elif cmd == "paced":
        paced(args[0], args[1], args[2], float(args[3]), float(args[4]), args[6:], args[5])
    elif cmd == "latency":
        latency(args[0])
    elif cmd == "topic":
        topic(*args)
