"""bench/production.py — the Kafka, sampling and reporting half of bench/production (run by it,
with the venv's python). Not a test. Topic creation and the wait for hookd's group are
bench/throughput.py's (`topics`, `ready`).

  tasks    LAYOUT FLOW-PREFIX FLOWS SECRET OUTDIR   one import file per flow (OUTDIR/flow-<k>.json,
                                                    an array of tasks): receiver i on flow i % FLOWS
  publish  BOOTSTRAP TOPIC FLOW-PREFIX FLOWS N PREFIX
                                                    N events, event i on flow i % FLOWS, keyed by
                                                    its job id; prints: seconds-taken
  window   URL SECS INTERVAL STATS TOPIC OUT NAME=PID...
                                                    one measurement window: a snapshot at its start
                                                    and end (hookd's /metrics at URL, the receiver's
                                                    counts, asked for with SIGUSR1 to the pid named
                                                    receiver and read from STATS, CPU ticks and
                                                    memory of every NAME=PID) and hookd's in-flight,
                                                    queued and TOPIC's lag every INTERVAL s; writes
                                                    OUT (raw)
  report   OUT-JSON PARAMS-JSON FULL-RAW HEALTHY-RAW
                                                    the figures of both windows: a table on stdout,
                                                    the JSON summary in OUT-JSON
"""
import json
import os
import re
import signal
import sys
import time
import urllib.request

from confluent_kafka import Producer

from throughput import produce_waiting  # bench/, beside this script

HZ = os.sysconf("SC_CLK_TCK")


# --- tasks and events ------------------------------------------------------------------------

def cmd_tasks(layout, flow_prefix, flows, secret, outdir):
    flows = int(flows)
    per_flow = [[] for _ in range(flows)]
    with open(layout) as f:
        for line in f:
            i, addr, port, tls, cls = line.split()
            i = int(i)
            scheme = "https" if tls == "1" else "http"
            per_flow[i % flows].append({
                "flowId": f"{flow_prefix}{i % flows}",
                "name": f"receiver {i} ({cls})",
                "url": f"{scheme}://{addr}:{port}/hook/{i}",
                "method": "POST",
                "headers": {"Content-Type": "application/json"},
                "body": '{"text":"Job $jobId has completed. Status: $jobStatus.",'
                        '"flow":"$flowId","attempt":"$attempt"}',
                "trigger": {"event": "success", "objects": "any"},
                "secret": secret,
                "signature": "timestamped",
                "validateSsl": True,
            })
    for k, tasks in enumerate(per_flow):
        with open(os.path.join(outdir, f"flow-{k}.json"), "w") as f:
            json.dump(tasks, f)
    print(max(len(t) for t in per_flow))


def cmd_publish(bootstrap, topic, flow_prefix, flows, n, prefix):
    flows, n = int(flows), int(n)
    failures = []

    def cb(err, _msg):
        if err is not None:
            failures.append(err)

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                  "queue.buffering.max.messages": 2000000,
                  "queue.buffering.max.kbytes": 1048576})
    p.list_topics(topic, timeout=10)
    start = time.time()
    for i in range(n):
        job = f"{prefix}-{i}"
        v = json.dumps({"eventId": job, "jobId": job, "jobStatus": "Complete",
                        "flowId": f"{flow_prefix}{i % flows}"}).encode()
        produce_waiting(p, topic, job.encode(), v, cb)
        if i % 2000 == 0:
            p.poll(0)
    left = p.flush(120)
    if left or failures:
        sys.exit(f"publish: {left} events unsent, {len(failures)} failed: {failures[:3]}")
    print(f"{time.time() - start:.3f}")


# --- one window ------------------------------------------------------------------------------

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = LINE.match(line)
        if m:
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return out


def proc(pid):
    """CPU seconds (user + system, all threads) and memory of a process; None once gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / HZ
        mem = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    mem[line.split(":")[0]] = int(line.split()[1])
        return {"cpu_s": cpu, "hwm_kib": mem.get("VmHWM"), "rss_kib": mem.get("VmRSS")}
    except (OSError, ValueError, IndexError):
        return None


def receiver_snapshot(pid, path):
    old = -1
    try:
        with open(path) as f:
            old = json.load(f)["seq"]
    except (OSError, ValueError, KeyError):
        pass
    os.kill(pid, signal.SIGUSR1)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with open(path) as f:
                d = json.load(f)
            if d["seq"] != old:
                return d
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    sys.exit(f"window: the receiver wrote no new {path} in 10 s")


def snapshot(url, stats, pids):
    t = time.time()
    s = {"time": t, "procs": {n: proc(p) for n, p in pids.items()},
         "metrics": scrape(url)}
    s["receiver"] = receiver_snapshot(pids["receiver"], stats)
    return s


def gauges(m, topic):
    lag = [v for k, v in m.items()
           if k.startswith("hookd_kafka_consumer_lag{") and f'topic="{topic}"' in k]
    return (m.get("hookd_requests_in_flight", 0.0), m.get("hookd_requests_queued", 0.0),
            sum(lag) if lag else None)


def cmd_window(url, secs, interval, stats, topic, out, *name_pids):
    secs, interval = float(secs), float(interval)
    pids = {}
    for np in name_pids:
        n, _, p = np.partition("=")
        if p:
            pids[n] = int(p)
    start = snapshot(url, stats, pids)
    samples = []
    t_end = start["time"] + secs
    while True:
        now = time.time()
        if now >= t_end:
            break
        time.sleep(min(interval, t_end - now))
        try:
            m = scrape(url)
        except OSError:
            continue
        samples.append((time.time(),) + gauges(m, topic))
    end = snapshot(url, stats, pids)
    with open(out, "w") as f:
        json.dump({"start": start, "end": end, "samples": samples, "topic": topic}, f)


# --- the report ------------------------------------------------------------------------------

RX_KEYS = ("requests", "first", "retries", "accepts", "handshakes", "resumed", "s200", "s204",
           "s500", "s429", "other", "hangs", "hang_closed", "pending_closed", "slow", "healthy",
           "answered", "delay_ms_sum", "bad", "tls_failed")


def rx_sum(snap, pred=lambda r: True):
    tot = dict.fromkeys(RX_KEYS, 0)
    for r in snap["receivers"]:
        if pred(r):
            for k in RX_KEYS:
                tot[k] += r[k]
    return tot


def rx_delta(raw, pred=lambda r: True):
    a, b = rx_sum(raw["start"]["receiver"], pred), rx_sum(raw["end"]["receiver"], pred)
    return {k: b[k] - a[k] for k in RX_KEYS}


def mdelta(raw, prefix):
    """Deltas of every series whose name{labels} starts with prefix."""
    a, b = raw["start"]["metrics"], raw["end"]["metrics"]
    return {k: b[k] - a.get(k, 0.0) for k in b if k.startswith(prefix)}


def label(series, name):
    m = re.search(name + r'="([^"]*)"', series)
    return m.group(1) if m else ""


def r1(x, nd=1):
    return None if x is None else round(x, nd)


def div(a, b, nd=1):
    return None if a is None or not b else round(a / b, nd)


def phase_figures(raw, max_inflight):
    secs = raw["end"]["time"] - raw["start"]["time"]
    per_s = lambda n: n / secs if secs > 0 else 0.0  # noqa: E731

    attempts = mdelta(raw, "hookd_delivery_attempts_total{")
    by_outcome = {}
    for k, v in attempts.items():
        o = label(k, "outcome")
        cls = label(k, "status_class")
        key = o if o in ("succeeded", "timeout", "network_error", "blocked", "invalid") \
            else f"{o}_{cls}"
        by_outcome[key] = by_outcome.get(key, 0) + v
    n_attempts = sum(by_outcome.values())
    finals = {label(k, "outcome"): v for k, v in mdelta(raw, "hookd_deliveries_total{").items()}
    deferred = {label(k, "reason"): v
                for k, v in mdelta(raw, "hookd_deliveries_deferred_total{").items()}
    retries_pub = sum(mdelta(raw, "hookd_retries_published_total").values())
    retries_con = sum(mdelta(raw, "hookd_retries_consumed_total").values())
    hsum = sum(mdelta(raw, "hookd_delivery_attempt_duration_seconds_sum").values())
    hcnt = sum(mdelta(raw, "hookd_delivery_attempt_duration_seconds_count").values())
    mean_latency = hsum / hcnt if hcnt else None

    samples = raw["samples"]
    inflight = sorted(s[1] for s in samples)
    queued = [s[2] for s in samples]
    lags = [s[3] for s in samples if s[3] is not None]
    mean_inflight = sum(inflight) / len(inflight) if inflight else None
    p50_inflight = inflight[len(inflight) // 2] if inflight else None

    procs = {}
    for name in raw["end"]["procs"]:
        a, b = raw["start"]["procs"].get(name), raw["end"]["procs"].get(name)
        if a and b:
            procs[name] = {"cpu_pct": 100 * (b["cpu_s"] - a["cpu_s"]) / secs,
                           "cpu_s": b["cpu_s"] - a["cpu_s"],
                           "hwm_mib": (b["hwm_kib"] or 0) / 1024,
                           "rss_mib": (b["rss_kib"] or 0) / 1024}
    hookd_cpu = procs.get("hookd", {}).get("cpu_s")
    rx_cpu = procs.get("receiver", {}).get("cpu_s")

    rx = rx_delta(raw)
    rx_tls = rx_delta(raw, lambda r: r["tls"] == 1)
    rx_plain = rx_delta(raw, lambda r: r["tls"] == 0)
    rx_healthy_class = rx_delta(raw, lambda r: r["class"] == "healthy")
    n_healthy_rcv = sum(1 for r in raw["end"]["receiver"]["receivers"] if r["class"] == "healthy")
    answered_2xx = rx["s200"] + rx["s204"]

    measured = per_s(n_attempts)
    little = mean_inflight / mean_latency if mean_latency and mean_inflight is not None else None
    limit = max_inflight / mean_latency if mean_latency else None
    f = {
        "window_s": r1(secs, 2),
        "attempts": int(n_attempts),
        "attempts_per_s": r1(measured),
        "attempts_per_s_by_outcome": {k: r1(per_s(v)) for k, v in sorted(by_outcome.items())},
        "delivered_per_s": r1(per_s(finals.get("delivered", 0))),
        "dead_lettered_per_s": r1(per_s(finals.get("dead_lettered", 0))),
        "deferred_per_s": {k: r1(per_s(v)) for k, v in sorted(deferred.items())},
        "retries_published_per_s": r1(per_s(retries_pub)),
        "retries_consumed_per_s": r1(per_s(retries_con)),
        "receiver_requests_per_s": r1(per_s(rx["requests"])),
        "receiver_first_attempts_per_s": r1(per_s(rx["first"])),
        "receiver_retries_per_s": r1(per_s(rx["retries"])),
        "receiver_answers_per_s": {"2xx": r1(per_s(answered_2xx)), "500": r1(per_s(rx["s500"])),
                                   "429": r1(per_s(rx["s429"])),
                                   "hang_started": r1(per_s(rx["hangs"])),
                                   "hang_given_up": r1(per_s(rx["hang_closed"]))},
        "receiver_slow_answers_per_s": r1(per_s(rx["slow"])),
        "healthy_answers_per_s": r1(per_s(rx["healthy"])),
        "healthy_class_receivers": n_healthy_rcv,
        "healthy_class_2xx_per_s":
            r1(per_s(rx_healthy_class["s200"] + rx_healthy_class["s204"])),
        "mean_answer_delay_ms": div(rx["delay_ms_sum"], rx["answered"]),
        "hookd_cpu_pct": r1(procs.get("hookd", {}).get("cpu_pct")),
        "hookd_cpu_us_per_attempt": div(hookd_cpu and hookd_cpu * 1e6, n_attempts),
        "hookd_peak_rss_mib": r1(procs.get("hookd", {}).get("hwm_mib")),
        "hookd_rss_end_mib": r1(procs.get("hookd", {}).get("rss_mib")),
        "receiver_cpu_pct": r1(procs.get("receiver", {}).get("cpu_pct")),
        "receiver_cpu_us_per_request": div(rx_cpu and rx_cpu * 1e6, rx["requests"]),
        "receiver_peak_rss_mib": r1(procs.get("receiver", {}).get("hwm_mib")),
        "kafka_cpu_pct": r1(procs.get("kafka", {}).get("cpu_pct")),
        "redis_cpu_pct": r1(procs.get("redis", {}).get("cpu_pct")),
        "connections_opened_per_s": r1(per_s(rx["accepts"])),
        "connections_opened_per_s_plain": r1(per_s(rx_plain["accepts"])),
        "connections_opened_per_s_tls": r1(per_s(rx_tls["accepts"])),
        "tls_handshakes_per_s": r1(per_s(rx_tls["handshakes"])),
        "tls_handshakes_resumed_per_s": r1(per_s(rx_tls["resumed"])),
        "requests_per_connection": div(rx["requests"], rx["accepts"]),
        "requests_per_connection_plain": div(rx_plain["requests"], rx_plain["accepts"]),
        "requests_per_connection_tls": div(rx_tls["requests"], rx_tls["accepts"]),
        "connections_open_end": raw["end"]["receiver"]["conns_open"],
        "inflight_mean": r1(mean_inflight),
        "inflight_p50": r1(p50_inflight),
        "inflight_min": r1(inflight[0]) if inflight else None,
        "inflight_max": r1(inflight[-1]) if inflight else None,
        "inflight_mean_of_max": div(mean_inflight, max_inflight, 3),
        "queued_mean": r1(sum(queued) / len(queued)) if queued else None,
        "samples": len(samples),
        "mean_attempt_latency_ms": r1(mean_latency * 1000) if mean_latency else None,
        "littles_law_rate_per_s": r1(little),
        "measured_over_littles_law": div(measured, little, 3),
        "rate_at_max_inflight_per_s": r1(limit),
        "measured_over_max_inflight_rate": div(measured, limit, 3),
        "main_topic_lag_min": min(lags) if lags else None,
        "backlog_ran_dry": (min(lags) == 0) if lags else None,
        "receiver_bad_requests": rx["bad"],
        "tls_handshakes_failed_per_s": r1(per_s(rx_tls["tls_failed"])),
    }
    return f


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 or v == 0 else f"{v:.3g}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def cmd_report(out, params_json, full_raw, healthy_raw):
    with open(params_json) as f:
        params = json.load(f)
    mi = int(params["hookd_max_inflight"])
    phases = {}
    for name, path in (("full", full_raw), ("healthy", healthy_raw)):
        with open(path) as f:
            phases[name] = phase_figures(json.load(f), mi)
    a, b = phases["full"], phases["healthy"]
    ratio = lambda x, y: round(x / y, 3) if x is not None and y else None  # noqa: E731
    cmp = {
        "healthy_answers_per_s_full": a["healthy_answers_per_s"],
        "healthy_answers_per_s_healthy_run": b["healthy_answers_per_s"],
        "healthy_answers_ratio": ratio(a["healthy_answers_per_s"], b["healthy_answers_per_s"]),
        "healthy_class_2xx_per_s_full": a["healthy_class_2xx_per_s"],
        "healthy_class_2xx_per_s_healthy_run": b["healthy_class_2xx_per_s"],
        "healthy_class_2xx_ratio": ratio(a["healthy_class_2xx_per_s"],
                                         b["healthy_class_2xx_per_s"]),
        "attempts_ratio": ratio(a["attempts_per_s"], b["attempts_per_s"]),
    }
    notes = []
    for name, p in phases.items():
        if p["backlog_ran_dry"]:
            notes.append(f"{name}: the input topic's backlog ran dry during the window "
                         "(lag 0 seen): hookd was not kept busy the whole time")
        if p["receiver_bad_requests"]:
            notes.append(f"{name}: the receiver dropped {p['receiver_bad_requests']} connections "
                         "whose request it could not read (malformed or too large)")
        bad = {k: v for k, v in p["attempts_per_s_by_outcome"].items()
               if k in ("network_error", "blocked", "invalid") and v}
        if bad:
            notes.append(f"{name}: attempts failing with no answer from the receiver: {bad}/s")
    result = dict(params)
    result.update({"phases": phases, "comparison": cmp, "notes": notes})
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    rows = [
        ("window (s)", "window_s"),
        ("attempts/s (deliveries sent)", "attempts_per_s"),
        ("  by outcome", None),
    ]
    outcomes = sorted(set(a["attempts_per_s_by_outcome"]) | set(b["attempts_per_s_by_outcome"]))
    rows += [(f"    {o}", ("attempts_per_s_by_outcome", o)) for o in outcomes
             if a["attempts_per_s_by_outcome"].get(o) or b["attempts_per_s_by_outcome"].get(o)]
    rows += [
        ("  first attempts/s (receiver)", "receiver_first_attempts_per_s"),
        ("  retries/s (receiver)", "receiver_retries_per_s"),
        ("deliveries ended: 2xx/s", "delivered_per_s"),
        ("deliveries ended: dead-lettered/s", "dead_lettered_per_s"),
        ("retry records published/s", "retries_published_per_s"),
        ("retry records consumed/s", "retries_consumed_per_s"),
        ("deferred (slow host)/s", ("deferred_per_s", "slow_host")),
        ("receiver answers 2xx/s", ("receiver_answers_per_s", "2xx")),
        ("receiver answers 500/s", ("receiver_answers_per_s", "500")),
        ("receiver answers 429/s", ("receiver_answers_per_s", "429")),
        ("receiver answers after 1 s/s", "receiver_slow_answers_per_s"),
        ("receiver hangs started/s", ("receiver_answers_per_s", "hang_started")),
        ("healthy answers/s", "healthy_answers_per_s"),
        ("healthy-class receivers' 2xx/s", "healthy_class_2xx_per_s"),
        ("mean attempt latency (ms, hookd)", "mean_attempt_latency_ms"),
        ("mean answer delay (ms, receiver)", "mean_answer_delay_ms"),
        (f"in flight: mean (of {mi})", "inflight_mean"),
        ("in flight: p50 / min / max", ("inflight", "p50/min/max")),
        ("in flight: mean / HOOKD_MAX_INFLIGHT", "inflight_mean_of_max"),
        ("queued in hookd: mean", "queued_mean"),
        ("Little's law: in flight / latency", "littles_law_rate_per_s"),
        ("  measured / Little's law", "measured_over_littles_law"),
        (f"rate at {mi} in flight, this latency", "rate_at_max_inflight_per_s"),
        ("  measured / that rate", "measured_over_max_inflight_rate"),
        ("connections opened/s", "connections_opened_per_s"),
        ("  plain / TLS", ("conns", "plain/tls")),
        ("TLS handshakes/s (resumed)", ("tls", "hs")),
        ("TLS handshakes failed or cut/s", "tls_handshakes_failed_per_s"),
        ("requests per connection", "requests_per_connection"),
        ("  plain / TLS", ("rpc", "plain/tls")),
        ("connections open at the end", "connections_open_end"),
        ("hookd CPU (% of a core)", "hookd_cpu_pct"),
        ("hookd CPU us per attempt", "hookd_cpu_us_per_attempt"),
        ("hookd peak RSS (MiB)", "hookd_peak_rss_mib"),
        ("receiver CPU % (us per request)", ("rxcpu", "")),
        ("kafka / redis CPU %", ("kr", "")),
        ("input topic lag: min in window", "main_topic_lag_min"),
    ]

    def cell(p, key):
        if key is None:
            return ""
        if isinstance(key, tuple):
            k0, k1 = key
            pairs = {"inflight": ("inflight_p50", "inflight_min", "inflight_max"),
                     "conns": ("connections_opened_per_s_plain", "connections_opened_per_s_tls"),
                     "rpc": ("requests_per_connection_plain", "requests_per_connection_tls"),
                     "kr": ("kafka_cpu_pct", "redis_cpu_pct")}
            if k0 in pairs:
                return " / ".join(fmt(p[k]) for k in pairs[k0])
            if k0 == "tls":
                return (f"{fmt(p['tls_handshakes_per_s'])} "
                        f"({fmt(p['tls_handshakes_resumed_per_s'])})")
            if k0 == "rxcpu":
                return f"{fmt(p['receiver_cpu_pct'])} ({fmt(p['receiver_cpu_us_per_request'])})"
            return fmt(p[k0].get(k1, 0.0))
        return fmt(p[key])

    print()
    print(f"== result: {params['command']}  (commit {params['commit']}, {params['cores']} cores)")
    print(f"  {params['receivers']} receivers ({params['tls_receivers']} TLS, validateSsl on), "
          f"{params['flows']} flows x {params['tasks_per_flow']} tasks, slow by "
          f"{params['slow_by']}; hookd: HOOKD_THREADS={params['hookd_threads']}, "
          f"HOOKD_MAX_INFLIGHT={mi}, "
          f"HOOKD_MAX_INFLIGHT_PER_HOST={params['hookd_max_inflight_per_host']}, "
          f"HOOKD_HTTP_TIMEOUT_MS={params['hookd_http_timeout_ms']}, "
          f"HOOKD_RETRY_DELAYS={params['hookd_retry_delays']}")
    w = max(len(r[0]) for r in rows) + 2
    print(f"  curl's connection cache (CURLMOPT_MAXCONNECTS) per shard: "
          f"{4 * (mi // int(params['hookd_threads']))} connections (4 x its share of "
          f"HOOKD_MAX_INFLIGHT, in use or idle), for {params['receivers']} "
          f"destinations each shard sends to")
    print(f"  {'':{w}}{'full mix':>26}{'without the slow':>26}")
    for title, key in rows:
        print(f"  {title:{w}}{cell(a, key):>26}{cell(b, key):>26}")
    print(f"  healthy answers/s, full mix / without the slow ones: "
          f"{fmt(cmp['healthy_answers_ratio'])} "
          f"({fmt(a['healthy_answers_per_s'])} / {fmt(b['healthy_answers_per_s'])})")
    if params["slow_by"] == "receiver":
        print(f"  healthy-class receivers ({a['healthy_class_receivers']}) 2xx/s, full / without: "
              f"{fmt(cmp['healthy_class_2xx_ratio'])}")
    for n in notes:
        print(f"  NOTE {n}")
    print(f"  written to {out}")


if __name__ == "__main__":
    cmds = {"tasks": cmd_tasks, "publish": cmd_publish, "window": cmd_window,
            "report": cmd_report}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
