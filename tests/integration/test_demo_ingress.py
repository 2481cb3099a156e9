"""deploy/local/demo-ingress end to end, as a reader of the README runs it: on ports of its own
(never the suite's stack), it exits 0 having shown a signed GitHub push accepted, Slack's
challenge answered and its event accepted, a forgery refused with 404 and counted, and exactly
two records on the topic; then nothing of it is left listening. And when it cannot work (its
port taken) it says so in one line, exits 1 and still stops the stack it started.

It starts its own Kafka broker and redis-server (about 10 s in all on a warm machine). It builds
./build, so it runs only when the suite tests that build.
"""
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import BUILD, ROOT

DEMO = os.path.join(ROOT, "deploy", "local", "demo-ingress")

pytestmark = pytest.mark.skipif(
    os.path.realpath(BUILD) != os.path.realpath(os.path.join(ROOT, "build")),
    reason="deploy/local/demo-ingress builds ./build; HOOKD_BUILD_DIR is another build")


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports():
    """Kafka (and the next port, its controller's), Redis, hookd-ingress: all free now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            kafka = s.getsockname()[1]
        if kafka < 65000 and port_free(kafka + 1):
            break
    else:
        pytest.fail("no two free ports in a row for the demo's broker")
    others = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            others.append(s.getsockname()[1])
    return kafka, others[0], others[1]


def answers(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def run_demo(tmp_path, ports):
    kafka, redis, ingress = ports
    # Nothing of the suite's own stack (HOOKD_LOCAL_*, HOOKD_KAFKA_*, HOOKD_REDIS_*) reaches the
    # demo: only the ports below, and the cache of deploy/local/setup.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_") or k == "HOOKD_CACHE"}
    env.update({"HOOKD_LOCAL_KAFKA_PORT": str(kafka), "HOOKD_LOCAL_REDIS_PORT": str(redis),
                "HOOKD_DEMO_INGRESS_PORT": str(ingress), "TMPDIR": str(tmp_path)})
    started = time.monotonic()
    out = subprocess.run([DEMO], env=env, capture_output=True, text=True, timeout=180)
    took = time.monotonic() - started
    print(out.stdout[-6000:], out.stderr[-2000:],
          f"\n[demo-ingress: exit {out.returncode} in {took:.1f} s]")
    return out, took


def test_the_ingress_demo_shows_each_case_and_exits_0(tmp_path):
    ports = free_ports()
    out, took = run_demo(tmp_path, ports)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    text = out.stdout
    base = f"http://127.0.0.1:{ports[2]}/in/in_"
    # 1. the signed push, 2. the challenge and the event: three 200s
    assert text.count(f"HTTP 200 from {base}") == 3, text
    assert re.search(r"^3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P-[0-9a-f]{8}$", text, re.M)
    assert re.search(r"^verified +true$", text, re.M), text
    # 3. the forgery: 404 without detail, counted once
    assert "HTTP 404, reply of 0 bytes (no detail)" in text
    assert 'hookd_ingress_rejected_total{reason="bad_signature"} 1' in text
    assert 'hookd_ingress_requests_total{outcome="accepted"} 2' in text
    # 4. the records: the push alone after step 1, then both
    assert re.search(r"^1 record\(s\) on demo-inbound-[0-9a-f]{8} from in_", text, re.M), text
    assert re.search(r"^2 record\(s\) on demo-inbound-[0-9a-f]{8}$", text, re.M), text
    assert re.search(r"key flow-github: endpointId=in_[0-9a-f]{24} source=github ", text)
    assert re.search(r'key flow-slack: endpointId=in_[0-9a-f]{24} source=slack '
                     r'providerEventId="Ev0PV52K21"', text)
    assert 'pusher.name="octocat"' in text and 'event.text="Hello from Slack"' in text
    # the seed's wait ($['event']['type'] = message) woken by the Slack message, the other not
    assert re.search(r'source=slack .*matchedWaits=\["run-42/wait-1"\]$', text, re.M), text
    assert re.search(r"^run-43/wait-1 .*\n1 live wait on in_", text, re.M), text
    assert "FAILED" not in text
    assert text.rstrip().endswith("the forged push refused with 404 and counted as bad_signature")
    # everything stopped: no broker, Redis or hookd-ingress left on its ports
    assert not any(answers(p) for p in ports), ports
    assert took < 60, f"the demo took {took:.0f} s"


def test_the_ingress_demo_fails_in_one_line_and_still_stops_its_stack(tmp_path):
    kafka, redis, ingress = free_ports()
    with socket.socket() as taken:  # something else holds hookd-ingress's port
        taken.bind(("127.0.0.1", ingress))
        taken.listen()
        out, _ = run_demo(tmp_path, (kafka, redis, ingress))
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-2000:]
    failed = [line for line in out.stdout.splitlines() if line.startswith("demo-ingress FAILED")]
    assert failed == [f"demo-ingress FAILED: hookd-ingress exited: hookd-ingress: "
                      f"HOOKD_INGRESS_LISTEN: cannot listen on 127.0.0.1:{ingress}"], out.stdout
    assert not answers(kafka) and not answers(redis)
