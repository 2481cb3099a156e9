"""hookctl and hookd as a user meets them: --help, --version, exit codes, one-line errors that
name the field, signatures checked the way a receiver would, secrets never printed."""
import base64
import hashlib
import hmac
import json
import re
import subprocess
import time

from conftest import HOOKCTL, HOOKD

SEED_SIG = "t=1568818215724,sha256=ae9c9f18381e423059604b64469099165a343deef595013525703e50e84d19f9"


def run(*args, env=None, stdin=None):
    return subprocess.run(list(args), capture_output=True, text=True, env=env, input=stdin,
                          timeout=60)


def test_help_and_version():
    for binary in (HOOKD, HOOKCTL):
        out = run(binary, "--help")
        assert out.returncode == 0 and "HOOKD_MAX_INFLIGHT" in out.stdout
        out = run(binary, "--version")
        assert out.returncode == 0 and out.stdout.split()[1].count(".") == 2
    assert "hookctl webhooks create" in run(HOOKCTL, "webhooks", "--help").stdout


def test_bad_usage_exits_2_with_one_line_naming_the_flag():
    cases = [
        ([HOOKD, "--max-inflight", "many"], "--max-inflight"),
        ([HOOKD, "--frobnicate"], "--frobnicate"),
        ([HOOKCTL, "nope"], "nope"),
        ([HOOKCTL, "webhooks", "list"], "--flow"),
        ([HOOKCTL, "verify", "--header", "X-Webhook-Signature: sha256=00"], "--secret"),
        ([HOOKCTL, "listen"], "--port"),
        ([HOOKCTL, "listen", "--port", "0", "--status", "99"], "--status"),
        ([HOOKCTL, "webhooks", "get", "not-an-id"], "<id>"),
        ([HOOKCTL, "webhooks", "list", "--flow", "a b"], "--flow"),
        ([HOOKCTL, "webhooks", "list", "--flow", "7", "--frob"], "--frob"),
        ([HOOKCTL, "webhooks", "test"], "<id>"),
        ([HOOKCTL, "webhooks", "export"], "--flow"),
        ([HOOKCTL, "webhooks", "import", "--flow", "7"], "--file"),
        ([HOOKCTL, "deliveries"], "--job"),
        ([HOOKCTL, "dlq", "list", "--since", "yesterday"], "--since"),
        ([HOOKCTL, "publish"], "--file"),
    ]
    for args, field in cases:
        out = run(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert field in out.stderr, (field, out.stderr)


def test_every_verb_has_help_with_an_example():
    verbs = [["webhooks", v] for v in ("create", "list", "get", "update", "delete", "test",
                                       "export", "import")]
    verbs += [["deliveries"], ["dlq", "list"], ["dlq", "replay"], ["publish"], ["verify"],
              ["listen"]]
    for verb in verbs:
        out = run(HOOKCTL, *verb, "--help")
        assert out.returncode == 0, (verb, out.stderr)
        examples = [line for line in out.stdout.splitlines()
                    if line.split("Example:")[-1].strip().startswith(f"hookctl {verb[0]}")
                    and "Usage" not in line]
        assert "Example" in out.stdout and examples, (verb, out.stdout)
        if verb[0] == "webhooks":
            assert any(f"webhooks {verb[1]}" in line for line in examples), (verb, examples)


def test_listen_prints_each_request_verifies_it_and_answers_with_status(tmp_path):
    import socket
    import urllib.error
    import urllib.request
    secret, body = "listen-secret", b'{"jobId":"1"}'
    for mode, status in (("text", 503), ("json", 202)):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        extra = ["--json"] if mode == "json" else []
        proc = subprocess.Popen([HOOKCTL, "listen", "--port", str(port), "--secret", secret,
                                 "--status", str(status), "--count", "1", *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().startswith(f"listening on http://127.0.0.1:{port}/")
        t = str(int(__import__("time").time() * 1000))
        sig = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/hook?x=1", data=body, headers={
            "X-Webhook-Signature": f"t={t},sha256={sig}", "Authorization": "Bearer tok-abcd",
            "Content-Type": "application/json"})
        try:
            code = urllib.request.urlopen(req, timeout=10).status
        except urllib.error.HTTPError as e:
            code = e.code
        assert code == status
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "tok-abcd" not in out and "Bearer" not in out, "credentials are masked"
        if mode == "text":
            lines = out.splitlines()
            assert lines[0] == "POST /hook?x=1", lines
            assert "  Authorization: ****abcd" in lines
            assert "  Content-Type: application/json" in lines
            assert any(line.startswith("  signature: valid timestamped") for line in lines)
            assert '  body: {"jobId":"1"}' in lines
        else:
            rec = json.loads(out.strip())
            assert rec["method"] == "POST" and rec["path"] == "/hook?x=1"
            assert rec["headers"]["Authorization"] == "****abcd"
            assert rec["signature"]["valid"] is True and rec["body"] == body.decode()


def test_hookd_rejects_bad_allow_networks(stack):
    env = {"PATH": "/usr/bin:/bin", "HOOKD_ALLOW_NETWORKS": "10.0.0.0/99",
           "HOOKD_LISTEN": "127.0.0.1:0", "HOOKD_PROBE_LISTEN": "127.0.0.1:0",
           "HOOKD_KAFKA_BOOTSTRAP_SERVERS": stack["HOOKD_KAFKA_BOOTSTRAP_SERVERS"],
           "HOOKD_REDIS_URL": stack["HOOKD_REDIS_URL"]}
    out = run(HOOKD, env=env)
    assert out.returncode == 2
    assert out.stderr.startswith("hookd: HOOKD_ALLOW_NETWORKS:"), out.stderr


def test_verify_the_seed_example(tmp_path):
    body = tmp_path / "body"
    body.write_text("test")
    ok = run(HOOKCTL, "verify", "--secret", "mySecret", "--header",
             f"X-Webhook-Signature: {SEED_SIG}", "--body-file", str(body), "--tolerance", "0")
    assert ok.returncode == 0, ok.stderr
    assert "valid timestamped signature" in ok.stdout
    bad = run(HOOKCTL, "verify", "--secret", "notMySecret", "--header",
              f"X-Webhook-Signature: {SEED_SIG}", "--body-file", str(body), "--tolerance", "0")
    assert bad.returncode == 1 and "does not match" in bad.stderr
    stale = run(HOOKCTL, "verify", "--secret", "mySecret", "--header",
                f"X-Webhook-Signature: {SEED_SIG}", "--body-file", str(body))
    assert stale.returncode == 1 and "old" in stale.stderr, "2019 is past the 300 s tolerance"
    body.write_text("tesT")
    tampered = run(HOOKCTL, "verify", "--secret", "mySecret", "--header",
                   f"X-Webhook-Signature: {SEED_SIG}", "--body-file", str(body), "--tolerance",
                   "0", "--json")
    assert tampered.returncode == 1
    assert json.loads(tampered.stdout) == {"valid": False,
                                           "detail": "timestamped signature does not match"}


def _hmac_hex(secret, message):
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_verify_never_downgrades_a_timestamped_signature(tmp_path):
    """A captured (stale) timestamped signature of "<t>.<body>" is also, byte for byte, a body
    signature of the body "<t>.<body>". With its t= removed, or made -1 or abc, it must not pass
    as one: the scheme is the caller's (timestamped by default), and a t= must be digits."""
    t = "1568818215724"
    sig = _hmac_hex("mySecret", f"{t}.test")
    forged = tmp_path / "forged"
    forged.write_text(f"{t}.test")

    def verify(header, *extra):
        return run(HOOKCTL, "verify", "--secret", "mySecret", "--header",
                   f"X-Webhook-Signature: {header}", "--body-file", str(forged), *extra)

    no_t = verify(f"sha256={sig}")
    assert no_t.returncode == 1, no_t.stdout + no_t.stderr
    assert "has no t=" in no_t.stderr and "not a timestamped signature" in no_t.stderr
    explicit = verify(f"sha256={sig}", "--scheme", "timestamped")
    assert explicit.returncode == 1 and "has no t=" in explicit.stderr
    for bad in ("-1", "abc", "", "+1568818215724", "1568818215724abc"):
        out = verify(f"t={bad},sha256={sig}")
        assert out.returncode == 2, (bad, out.stdout + out.stderr)
        assert out.stderr.startswith("hookctl: X-Webhook-Signature: t: "), (bad, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1
        out = verify(f"t={bad},sha256={sig}", "--scheme", "body")
        assert out.returncode == 2 and "X-Webhook-Signature: t: " in out.stderr, (bad, out.stderr)
    # The header as captured, against its own body: refused as stale, with or without --scheme.
    body = tmp_path / "body"
    body.write_text("test")
    for extra in ((), ("--scheme", "timestamped")):
        stale = run(HOOKCTL, "verify", "--secret", "mySecret", "--header",
                    f"X-Webhook-Signature: t={t},sha256={sig}", "--body-file", str(body), *extra)
        assert stale.returncode == 1 and "old" in stale.stderr, stale.stderr
    # Asked for the body scheme, a header that carries t= is not a body signature.
    tbody = verify(f"t={t},sha256={sig}", "--scheme", "body")
    assert tbody.returncode == 1 and "carries t=" in tbody.stderr, tbody.stderr


def test_verify_checks_the_scheme_the_caller_names(tmp_path):
    body = tmp_path / "body"
    body.write_text('{"jobId":"1"}')
    sig = _hmac_hex("s3cret", body.read_text())

    def verify(header, *extra):
        return run(HOOKCTL, "verify", "--secret", "s3cret", "--header", header,
                   "--body-file", str(body), *extra)

    ok = verify(f"x-y42-signature: sha256={sig}", "--scheme", "body")
    assert ok.returncode == 0 and ok.stdout.strip() == "valid body signature", ok.stderr
    rotated = verify(f"x-y42-signature: sha256={'0' * 64}, sha256={sig.upper()}", "--scheme", "body")
    assert rotated.returncode == 0, rotated.stderr
    default = verify(f"x-y42-signature: sha256={sig}")
    assert default.returncode == 1 and "x-y42-signature has no t=" in default.stderr
    now = str(int(time.time() * 1000))
    fresh = verify(f"X-Webhook-Signature: t={now},sha256={_hmac_hex('s3cret', now + '.' + body.read_text())}")
    assert fresh.returncode == 0 and "valid timestamped signature" in fresh.stdout, fresh.stderr
    for header, field in ((f"x-y42-signature: sha256={sig[:-1]}", "x-y42-signature: sha256: "),
                          (f"x-y42-signature: v1={sig}", "x-y42-signature: unknown field"),
                          (f"x-y42-signature: t=1,t=2,sha256={sig}", "x-y42-signature: t: ")):
        out = verify(header, "--scheme", "body")
        assert out.returncode == 2 and out.stderr.startswith("hookctl: " + field), out.stderr
    bad = verify(f"x-y42-signature: sha256={sig}", "--scheme", "v2")
    assert bad.returncode == 2 and bad.stderr.startswith("hookctl: --scheme: ")
    # Standard Webhooks: a webhook-timestamp that is not digits is malformed, not "0".
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    ts = str(int(time.time()))
    good = base64.b64encode(hmac.new(b"k" * 32, f"msg_1.{ts}.{body.read_text()}".encode(),
                                     hashlib.sha256).digest()).decode()
    for stamp, code in ((ts, 0), ("-1", 2), ("abc", 2)):
        out = run(HOOKCTL, "verify", "--secret", secret, "--header", "webhook-id: msg_1",
                  "--header", f"webhook-timestamp: {stamp}", "--header",
                  f"webhook-signature: v1,{good}", "--body-file", str(body))
        assert out.returncode == code, (stamp, out.stdout + out.stderr)
        if code == 2:
            assert out.stderr.startswith("hookctl: webhook-timestamp: "), out.stderr


def test_publish_puts_the_event_on_the_topic(env, stack):
    from conftest import read_topic
    event = {"eventId": f"pub-{env.tag}", "jobId": f"pub-{env.tag}", "jobStatus": "Complete",
             "flowId": "7"}
    out = env.hookctl("publish", "--file", "-", "--topic", env.topic, "--json",
                      stdin=json.dumps(event))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"topic": env.topic, "jobId": event["jobId"], "flowId": "7",
                                      "eventId": event["eventId"]}
    got = read_topic(stack, env.topic, lambda r: r.get("eventId") == event["eventId"], 1)
    assert got == [event]
    text = env.hookctl("publish", "--file", "-", "--topic", env.topic, stdin=json.dumps(event))
    assert text.stdout.strip() == f"published job {event['jobId']} (flow 7) to {env.topic}"


def test_publish_refuses_a_bad_event_naming_the_field(env):
    out = env.hookctl("publish", "--file", "-", "--topic", env.topic,
                      stdin='{"jobStatus":"Complete","flowId":"7"}')
    assert out.returncode == 2
    assert out.stderr.strip() == "hookctl: jobId: required"


def test_secrets_are_masked_everywhere(env, receiver):
    secret = "a-very-secret-value-1234"
    task_id = env.create_task({"flowId": f"m-{env.tag}", "url": receiver.url("/m"),
                               "secret": secret})
    for args in (("webhooks", "get", task_id), ("webhooks", "get", task_id, "--json"),
                 ("webhooks", "list", "--flow", f"m-{env.tag}", "--json")):
        out = env.hookctl(*args)
        assert out.returncode == 0
        assert secret not in out.stdout and "****1234" in out.stdout
    table = env.hookctl("webhooks", "list", "--flow", f"m-{env.tag}")
    assert table.returncode == 0 and secret not in table.stdout
    bad = env.hookctl("webhooks", "create", "--file", "-",
                      stdin=json.dumps({"flowId": "x", "url": "ftp://h", "secret": secret}))
    assert bad.returncode == 2 and secret not in bad.stderr
    assert bad.stderr.strip() == "hookctl: url: scheme must be http or https"


def test_webhooks_test_sends_one_signed_delivery_and_exits_by_its_outcome(env, receiver):
    secret = "test-button-secret-9876"
    ok_id = env.create_task({"flowId": f"t-{env.tag}", "url": receiver.url("/tb/ok"),
                             "body": '{"job":"$jobId","status":"$jobStatus"}', "secret": secret})
    bad_id = env.create_task({"flowId": f"t-{env.tag}", "url": receiver.url("/tb/bad"),
                              "body": "$jobId"})
    receiver.status["/tb/bad"] = 500
    e = env.cli_env()
    e["HOOKD_ALLOW_NETWORKS"] = "127.0.0.0/8"

    def ctl(*args):
        return subprocess.run([HOOKCTL, "webhooks", "test", *args], env=e, capture_output=True,
                              text=True, timeout=60)

    ok = ctl(ok_id)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("delivered: HTTP 204 in "), ok.stdout
    [req] = receiver.matching("/tb/ok")
    assert json.loads(req["body"]) == {"job": "test", "status": "Complete"}, "the sample event"
    # signed like the worker signs: t=<ms>,sha256=HMAC(secret, "<t>.<body>")
    sig = req["headers"]["x-webhook-signature"]
    t = sig.split(",")[0][2:]
    want = hmac.new(secret.encode(), f"{t}.".encode() + req["body"], hashlib.sha256).hexdigest()
    assert sig == f"t={t},sha256={want}", sig
    assert req["headers"]["x-webhook-attempt"] == "1"
    assert secret not in ok.stdout + ok.stderr

    given = ctl(ok_id, "--job-id", "12345", "--job-status", "Failed", "--json")
    assert given.returncode == 0, given.stderr
    result = json.loads(given.stdout)
    assert result["status"] == "delivered" and result["statusCode"] == 204, result
    assert json.loads(receiver.matching("/tb/ok")[1]["body"]) == \
        {"job": "12345", "status": "Failed"}

    bad = ctl(bad_id)
    assert bad.returncode == 1, "a failed test delivery exits non-zero"
    assert bad.stdout.startswith("failed: HTTP 500 in "), bad.stdout
    assert ctl("wh_doesnotexist").returncode == 1
    usage = ctl()
    assert usage.returncode == 2
    assert usage.stderr.strip() == "hookctl: <id>: required (or --file with a draft task)"
    # a draft, tested before it is created: checked as create checks it, nothing stored
    draft = {"flowId": f"t-{env.tag}", "url": receiver.url("/tb/draft"), "secret": secret,
             "body": '{"draft":"$jobId"}'}
    drafted = subprocess.run([HOOKCTL, "webhooks", "test", "--file", "-", "--json"], env=e,
                             input=json.dumps(draft), capture_output=True, text=True, timeout=60)
    assert drafted.returncode == 0, drafted.stderr
    assert json.loads(drafted.stdout)["status"] == "delivered"
    [req] = receiver.matching("/tb/draft")
    assert json.loads(req["body"]) == {"draft": "test"}
    listed = subprocess.run([HOOKCTL, "webhooks", "list", "--flow", f"t-{env.tag}", "--json"],
                            env=e, capture_output=True, text=True, timeout=60)
    assert len(json.loads(listed.stdout)) == 2, "the draft was not stored"
    masked = dict(draft, secret="****9876")
    refused = subprocess.run([HOOKCTL, "webhooks", "test", "--file", "-"], env=e,
                             input=json.dumps(masked), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and refused.stderr.startswith("hookctl: secret: masked"), \
        refused.stderr
    both = ctl(ok_id, "--file", "-")
    assert both.returncode == 2 and "not both" in both.stderr
    blocked = subprocess.run([HOOKCTL, "webhooks", "test", ok_id], env=env.cli_env(),
                             capture_output=True, text=True, timeout=60)
    assert blocked.returncode == 1 and "blocked address" in blocked.stdout, \
        "the private-address guard applies to tests too"


def test_export_and_import_round_trip_all_or_nothing(env, receiver, tmp_path):
    src, dst = f"ex-{env.tag}", f"im-{env.tag}"
    a = env.create_task({"flowId": src, "name": "billing", "url": receiver.url("/a"),
                         "secret": "export-secret-aaaa1111"})
    env.create_task({"flowId": src, "name": "audit", "url": receiver.url("/b"),
                     "method": "PUT", "body": "$jobId"})

    def export(flow, *extra):
        out = env.hookctl("webhooks", "export", "--flow", flow, *extra)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    masked = export(src)
    assert masked["secretsIncluded"] is False and len(masked["webhooks"]) == 2
    assert "export-secret-aaaa1111" not in json.dumps(masked)
    full = export(src, "--with-secrets")
    assert any(w.get("secret") == "export-secret-aaaa1111" for w in full["webhooks"])

    path = tmp_path / "flow.json"
    path.write_text(json.dumps(full))
    first = env.hookctl("webhooks", "import", "--flow", dst, "--file", str(path))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"imported into flow {dst}: 2 created, 0 updated"
    again = env.hookctl("webhooks", "import", "--flow", dst, "--file", str(path))
    assert again.stdout.strip() == f"imported into flow {dst}: 0 created, 2 updated", \
        "the same file twice updates (matched by name here: the ids were flow src's)"
    copied = export(dst, "--with-secrets")
    assert sorted(w["name"] for w in copied["webhooks"]) == ["audit", "billing"]
    assert {w["id"] for w in copied["webhooks"]}.isdisjoint({w["id"] for w in full["webhooks"]})
    assert export(src)["webhooks"] == masked["webhooks"], "the source flow is untouched"

    # A plain (masked) export imported back into its own flow keeps the secrets.
    path.write_text(json.dumps(masked))
    same = env.hookctl("webhooks", "import", "--flow", src, "--file", str(path))
    assert same.returncode == 0 and "0 created, 2 updated" in same.stdout, same
    kept = [w for w in export(src, "--with-secrets")["webhooks"] if w["id"] == a][0]
    assert kept["secret"] == "export-secret-aaaa1111"
    # ... but cannot create a task from a masked secret.
    path.write_text(json.dumps(masked))
    new_flow = env.hookctl("webhooks", "import", "--flow", f"nf-{env.tag}", "--file", str(path))
    assert new_flow.returncode == 2 and "].secret: masked (****)" in new_flow.stderr

    # Every bad entry is named; nothing is written.
    bad = [{"name": "ok", "url": receiver.url("/ok")},
           {"name": "bad-url", "url": "ftp://x"},
           {"name": "bad-trigger", "url": receiver.url("/t"), "trigger": {"event": "sometimes"}}]
    path.write_text(json.dumps(bad))
    refused = env.hookctl("webhooks", "import", "--flow", f"bad-{env.tag}", "--file", str(path))
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert lines[0] == "hookctl: webhooks[1].url: scheme must be http or https", lines
    assert lines[1].startswith("hookctl: webhooks[2].trigger.event: "), lines
    assert lines[2] == "hookctl: webhooks: 2 bad entries, nothing imported", lines
    assert export(f"bad-{env.tag}")["webhooks"] == [], "all or nothing"


def test_import_respects_the_flow_limit(env, receiver, tmp_path):
    flow = f"lim-{env.tag}"
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"name": f"t{i}", "url": receiver.url(f"/{i}")}
                                for i in range(49)]))
    out = env.hookctl("webhooks", "import", "--flow", flow, "--file", str(path))
    assert out.returncode == 0 and "49 created" in out.stdout, out.stderr
    path.write_text(json.dumps([{"name": "t0", "url": receiver.url("/0b")},
                                {"name": "new1", "url": receiver.url("/n1")},
                                {"name": "new2", "url": receiver.url("/n2")}]))
    over = env.hookctl("webhooks", "import", "--flow", flow, "--file", str(path))
    assert over.returncode == 2, over
    assert over.stderr.startswith("hookctl: flowId: flow "), over.stderr
    assert "HOOKD_MAX_WEBHOOKS_PER_FLOW" in over.stderr
    listed = json.loads(env.hookctl("webhooks", "list", "--flow", flow, "--json").stdout)
    assert len(listed) == 49
    assert [t["url"] for t in listed if t["name"] == "t0"] == [receiver.url("/0")], \
        "the update in the refused import was not written either"


def test_tables_by_default_json_with_a_flag_and_update_keeps_a_masked_secret(env, receiver,
                                                                             tmp_path):
    flow = f"tbl-{env.tag}"
    a = env.create_task({"flowId": flow, "name": "billing", "url": receiver.url("/a"),
                         "secret": "table-secret-5678",
                         "trigger": {"event": "failure", "objects": ["o1", "o2"]}})
    b = env.create_task({"flowId": flow, "url": receiver.url("/b"), "method": "PUT",
                         "rateLimit": 20})
    out = env.hookctl("webhooks", "list", "--flow", flow)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "TRIGGER", "ENABLED", "METHOD", "RATE",
                                 "URL"]
    rows = {line.split()[0]: line for line in lines[1:3]}
    assert set(rows) == {a, b}
    assert "billing" in rows[a] and "failure, outputs o1,o2" in rows[a]
    assert rows[b].split()[1:3] == ["-", "success,"] and "PUT" in rows[b]
    assert rows[b].split()[-2:] == ["20/s", receiver.url("/b")]  # rateLimit
    assert rows[a].split()[-2] == "-"  # no rateLimit
    # the columns line up: every row's URL starts where the header's URL does
    col = lines[0].index("URL")
    assert all(line[col:].startswith("http://127.0.0.1") for line in lines[1:3]), lines
    assert lines[3] == f"2 of 50 webhook tasks in flow {flow}"

    got = env.hookctl("webhooks", "get", a)
    fields = {k: v.strip() for k, _, v in (line.partition(" ") for line in got.stdout.splitlines())}
    assert fields["id"] == a and fields["secret"] == "****5678"
    assert fields["trigger"] == '{"event":"failure","objects":["o1","o2"]}'

    # get --json, edit, update: the masked secret keeps the real one
    task = json.loads(env.hookctl("webhooks", "get", a, "--json").stdout)
    task["name"] = "billing-v2"
    path = tmp_path / "edit.json"
    path.write_text(json.dumps(task))
    upd = env.hookctl("webhooks", "update", a, "--file", str(path))
    assert upd.returncode == 0, upd.stderr
    assert upd.stdout.splitlines()[0] == f"updated {a} in flow {flow}"
    full = json.loads(env.hookctl("webhooks", "export", "--flow", flow, "--with-secrets").stdout)
    kept = [w for w in full["webhooks"] if w["id"] == a][0]
    assert kept["name"] == "billing-v2" and kept["secret"] == "table-secret-5678"
    # ... and a new task cannot be made from a masked secret
    path.write_text(json.dumps({"flowId": flow, "url": receiver.url("/c"), "secret": "****5678"}))
    refused = env.hookctl("webhooks", "create", "--file", str(path))
    assert refused.returncode == 2
    assert refused.stderr.startswith("hookctl: secret: masked (****)"), refused.stderr

    path.write_text(json.dumps([{"name": "billing-v2", "url": receiver.url("/a2")}]))
    imported = env.hookctl("webhooks", "import", "--flow", flow, "--file", str(path), "--json")
    assert json.loads(imported.stdout) == {"flowId": flow, "created": 0, "updated": 1}
    deleted = env.hookctl("webhooks", "delete", b, "--json")
    assert json.loads(deleted.stdout) == {"deleted": b}
    none = env.hookctl("deliveries", "--job", f"none-{env.tag}")
    assert none.stdout.startswith(f"no deliveries recorded for job none-{env.tag}")
    assert json.loads(env.hookctl("deliveries", "--job", "x", "--json").stdout) == []


def test_deliveries_lists_a_jobs_history_as_a_table(env):
    """`hookctl deliveries --job` reads the job's history (the outcome records hookd pushes to
    Redis) back through the outcome record's reader: one row per attempt; a missing response
    and a missing error each show as '-'."""
    job = f"hist-{env.tag}"
    failed = {"deliveryId": "msg_a", "webhookId": "wh_tbl", "flowId": "7", "jobId": job,
              "eventId": "e", "attempt": 1, "status": "failed", "statusCode": None,
              "error": "connection refused", "latencyMs": 12, "at": "2026-11-30T10:00:00.000Z"}
    ok = dict(failed, attempt=2, status="delivered", statusCode=204, latencyMs=7,
              at="2026-11-30T10:00:05.000Z")
    del ok["error"]
    key = f"{env.prefix}job:{job}:deliveries"
    push = subprocess.run(["redis-cli", "-u", env.stack["HOOKD_REDIS_URL"], "LPUSH", key,
                           json.dumps(failed), json.dumps(ok)], capture_output=True, text=True)
    assert push.returncode == 0, push.stderr
    out = env.hookctl("deliveries", "--job", job)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    assert rows[0] == ["AT", "DELIVERY", "WEBHOOK", "ATTEMPT", "RESULT", "STATUS", "LATENCY",
                       "ERROR"]
    body = sorted(rows[1:])
    assert body == [["2026-11-30T10:00:00.000Z", "msg_a", "wh_tbl", "1", "failed", "-", "12", "ms",
                     "connection", "refused"],
                    ["2026-11-30T10:00:05.000Z", "msg_a", "wh_tbl", "2", "delivered", "204", "7",
                     "ms", "-"]]


def test_a_file_with_text_after_its_json_is_refused(env, tmp_path):
    """cJSON alone reads `{...} junk` as the object and drops the rest; a task file must be one
    JSON value and nothing else, so a half-pasted second task is never taken silently."""
    path = tmp_path / "two.json"
    path.write_text('{"flowId": "7", "url": "https://x.example/h"}\n{"flowId": "8"}\n')
    out = env.hookctl("webhooks", "create", "--file", str(path))
    assert out.returncode == 2, out.stdout
    assert out.stderr.strip() == "hookctl: --file: not valid JSON", out.stderr
    path.write_text('{"flowId": "7", "url": "https://x.example/h"}  \n')
    ok = env.hookctl("webhooks", "create", "--file", str(path))
    assert ok.returncode == 0, ok.stderr


# ----------------------------------------------------------------- hookctl inbound (helper G) --

INBOUND_SECRET = "inbound-secret-" + "9f3k" + "wxyz"  # shown only as ****wxyz


def inbound_file(tmp_path, doc, name="endpoint.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def redis_cli(env, *args):
    out = subprocess.run(["redis-cli", "-u", env.stack["HOOKD_REDIS_URL"], *args],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_inbound_crud_round_trip_keeps_the_masked_secret(env, tmp_path):
    name = f"gh-{env.tag}"
    doc = {"name": name, "flowId": "7", "source": "github", "secret": INBOUND_SECRET}
    out = env.hookctl("inbound", "create", "--file", inbound_file(tmp_path, doc), "--json")
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    eid = created["id"]
    assert eid.startswith("in_") and len(eid) == 27
    assert created["secret"] == "****wxyz" and created["verified"] is False
    assert created["stateChangedAt"] and created["stateChangedAt"].endswith("Z")

    table = env.hookctl("inbound", "list")
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0] == ["ID", "NAME", "SOURCE", "FLOW", "ENABLED", "VERIFIED"]
    assert rows[1] == [eid, name, "github", "7", "yes", "no"]
    assert rows[2:] == [["1", "inbound", "endpoint"]]
    assert [e["id"] for e in json.loads(env.hookctl("inbound", "list", "--json").stdout)] == [eid]

    got = json.loads(env.hookctl("inbound", "get", eid, "--json").stdout)
    assert got == created
    # the state is hookd-ingress's, from the store's state hash: get shows what it wrote there
    redis_cli(env, "HSET", f"{env.prefix}inbound:state", eid, "1:1764547200000")
    got = json.loads(env.hookctl("inbound", "get", eid, "--json").stdout)
    assert got["verified"] is True and got["stateChangedAt"] == "2025-12-01T00:00:00.000Z"
    fields = env.hookctl("inbound", "get", eid).stdout
    assert "verified        true" in fields and "****wxyz" in fields

    # get, edit, update: the masked secret keeps the stored one, the state stays
    got["name"] = name + "-renamed"
    got["publicUrl"] = "https://hooks.example.com/in/" + eid
    out = env.hookctl("inbound", "update", eid, "--file", inbound_file(tmp_path, got, "e2.json"),
                      "--json")
    assert out.returncode == 0, out.stderr
    updated = json.loads(out.stdout)
    assert updated["name"] == name + "-renamed" and updated["secret"] == "****wxyz"
    assert updated["verified"] is True
    stored = json.loads(redis_cli(env, "GET", f"{env.prefix}inbound:{eid}"))
    assert stored["secret"] == INBOUND_SECRET and stored["publicUrl"].endswith(eid)
    # replace semantics: what the file leaves out takes its default
    bare = {"name": name, "source": "github", "secret": "****wxyz"}
    out = env.hookctl("inbound", "update", eid, "--file", inbound_file(tmp_path, bare, "e3.json"),
                      "--json")
    assert out.returncode == 0, out.stderr
    replaced = json.loads(out.stdout)
    assert "publicUrl" not in replaced and replaced["flowId"] == "7"

    everything = "".join(env.hookctl(*a).stdout for a in (
        ("inbound", "list"), ("inbound", "list", "--json"), ("inbound", "get", eid),
        ("inbound", "get", eid, "--json")))
    assert INBOUND_SECRET not in everything

    out = env.hookctl("inbound", "delete", eid)
    assert out.returncode == 0 and out.stdout.strip() == f"deleted {eid}", out.stderr
    gone = env.hookctl("inbound", "get", eid)
    assert gone.returncode == 1 and "not found" in gone.stderr
    assert env.hookctl("inbound", "delete", eid).returncode == 1
    assert env.hookctl("inbound", "update", eid, "--file",
                       inbound_file(tmp_path, bare, "e4.json")).returncode == 1


def test_inbound_bad_input_exits_2_naming_the_field(env, tmp_path):
    good = {"name": f"dup-{env.tag}", "flowId": "7", "source": "github", "secret": INBOUND_SECRET}
    assert env.hookctl("inbound", "create", "--file", inbound_file(tmp_path, good)).returncode == 0
    cases = [
        (dict(good, name="a", source="gitlab"), "source"),
        (dict(good, name="b", colour="red"), "colour"),
        (dict(good, name="c", verified=True), "verified"),
        (dict(good, name="d", secret="****wxyz"), "secret"),
        (dict(good, name="e", verifyToken="tok"), "verifyToken"),
        (good, "name"),  # the same name again: refused, nothing written
    ]
    for i, (doc, field) in enumerate(cases):
        out = env.hookctl("inbound", "create", "--file", inbound_file(tmp_path, doc, f"b{i}.json"))
        assert out.returncode == 2, (doc, out.stdout)
        lines = out.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"hookctl: {field}: "), (field, lines)
        assert INBOUND_SECRET not in out.stderr
    listed = json.loads(env.hookctl("inbound", "list", "--json").stdout)
    assert [e["name"] for e in listed] == [good["name"]]
    body = inbound_file(tmp_path, {"a": 1}, "body.json")
    usage = [
        (("inbound", "get", "wh_notinbound"), "<id>"),
        (("inbound", "get"), "<id>"),
        (("inbound", "create"), "--file"),
        (("inbound", "list", "--to", "http://x"), "--to"),
        (("inbound", "create", "--file", str(tmp_path / "missing.json")), "--file"),
        (("inbound", "sign", "--secret", "k", "--file", body), "--source"),
        (("inbound", "sign", "--source", "gitlab", "--secret", "k", "--file", body), "--source"),
        (("inbound", "sign", "--source", "sendgrid", "--secret", "k", "--file", body), "--source"),
        (("inbound", "sign", "--source", "custom", "--secret", "k", "--file", body), "--source"),
        (("inbound", "sign", "--source", "github", "--file", body), "--secret"),
        (("inbound", "sign", "--source", "twilio", "--secret", "k", "--file", body), "--url"),
        (("inbound", "send", "in_x", "--file", body, "--to", "ftp://x"), "--to"),
        (("inbound", "frob"), "inbound frob"),
    ]
    for args, flag in usage:
        out = env.hookctl(*args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        lines = out.stderr.splitlines()
        assert len(lines) == 1 and flag in lines[0], (args, lines)
    assert "hookctl inbound send" in env.hookctl("inbound", "--help").stdout


def test_inbound_sign_prints_what_the_provider_sends(env, tmp_path):
    body = b'{"ref":"refs/heads/main","commits":[{"id":"\xc3\xa9"}]}\n'
    path = tmp_path / "push.json"
    path.write_bytes(body)
    key = "It's a Secret to Everybody"
    out = env.hookctl("inbound", "sign", "--source", "github", "--secret", key, "--file",
                      str(path))
    assert out.returncode == 0, out.stderr
    want = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    lines = out.stdout.splitlines()
    assert lines[0] == f"X-Hub-Signature-256: {want}"
    assert re.fullmatch(r"X-GitHub-Delivery: [0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", lines[1]), lines
    as_json = json.loads(env.hookctl("inbound", "sign", "--source", "github", "--secret", key,
                                     "--file", str(path), "--json").stdout)
    assert as_json["X-Hub-Signature-256"] == want and set(as_json) == {
        "X-Hub-Signature-256", "X-GitHub-Delivery"}
    # slack signs v0:<timestamp>:<body> with the timestamp it sends
    slack = json.loads(env.hookctl("inbound", "sign", "--source", "slack", "--secret", key,
                                   "--file", str(path), "--json").stdout)
    ts = slack["X-Slack-Request-Timestamp"]
    assert abs(int(ts) - time.time()) < 60
    assert slack["X-Slack-Signature"] == "v0=" + hmac.new(
        key.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()


def send_to_receiver(env, tmp_path, receiver, doc, body):
    """Creates the endpoint, sends body as its provider to the receiver: (id, file, output,
    the requests that arrived)."""
    out = env.hookctl("inbound", "create", "--file", inbound_file(tmp_path, doc), "--json")
    assert out.returncode == 0, out.stderr
    eid = json.loads(out.stdout)["id"]
    path = tmp_path / "body.bin"
    path.write_bytes(body)
    out = env.hookctl("inbound", "send", eid, "--file", str(path), "--to",
                      receiver.url(f"/in/{eid}"))
    assert out.returncode == 0, out.stderr
    return eid, path, out, receiver.wait_for(f"/in/{eid}", 1)


def test_inbound_send_posts_signed_as_the_provider(env, tmp_path, receiver):
    doc = {"name": f"send-{env.tag}", "flowId": "7", "source": "github",
           "secrets": [INBOUND_SECRET, "older-secret-0000"]}
    body = b'{"zen":"Keep it logically awesome.","hook_id":1}'
    eid, path, out, got = send_to_receiver(env, tmp_path, receiver, doc, body)
    assert out.stdout.startswith("HTTP 204 from "), out.stdout
    assert len(got) == 1 and got[0]["method"] == "POST" and got[0]["body"] == body
    want = "sha256=" + hmac.new(INBOUND_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got[0]["headers"]["x-hub-signature-256"], want)
    assert got[0]["headers"]["content-type"] == "application/json"
    assert INBOUND_SECRET not in out.stdout + out.stderr

    receiver.status["/in/refused"] = 404
    out = env.hookctl("inbound", "send", eid, "--file", str(path), "--to",
                      receiver.url("/in/refused"), "--json")
    assert out.returncode == 1, out.stdout
    assert json.loads(out.stdout)["statusCode"] == 404
    missing = env.hookctl("inbound", "send", f"in_missing{env.tag}", "--file", str(path), "--to",
                          receiver.url("/in/x"))
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert len(receiver.matching("/in/x")) == 0


def test_inbound_send_as_twilio_adds_the_body_hash_it_signs(env, tmp_path, receiver):
    """Twilio posts a JSON body to the URL with bodySHA256=<its SHA-256> added, and signs that
    URL: send does the same, and twilio's own RequestValidator accepts what arrives."""
    from twilio.request_validator import RequestValidator
    token = "twilio-auth-token-" + env.tag
    doc = {"name": f"tw-{env.tag}", "flowId": "7", "source": "twilio", "secret": token}
    body = b'{"CallSid":"CA123","CallStatus":"completed"}'
    eid, _, _, arrived = send_to_receiver(env, tmp_path, receiver, doc, body)
    got = arrived[0]
    assert got["path"] == f"/in/{eid}?bodySHA256=" + hashlib.sha256(body).hexdigest()
    url = receiver.url(got["path"])
    assert RequestValidator(token).validate(url, body.decode(),
                                            got["headers"]["x-twilio-signature"])
    assert not RequestValidator("another-token").validate(url, body.decode(),
                                                          got["headers"]["x-twilio-signature"])


def test_rotate_secret_keeps_the_old_one_signing_and_never_prints_a_secret(env, receiver, tmp_path):
    old = "cli-rotate-old-secret-3333"
    tid = env.create_task({"flowId": f"rot-{env.tag}", "url": receiver.url("/rc"), "secret": old})
    new_file = tmp_path / "new.txt"
    new_file.write_text("cli-rotate-new-secret-4444\n")
    out = env.hookctl("webhooks", "rotate-secret", tid, "--keep", "2h", "--secret-file",
                      str(new_file))
    assert out.returncode == 0, out.stderr
    assert "rotated the secret of" in out.stdout
    assert old not in out.stdout + out.stderr and "4444\n" not in out.stderr
    shown = json.loads(env.hookctl("webhooks", "get", tid, "--json").stdout)
    assert shown["secrets"] == ["****4444", "****3333"] and shown["previousSecretsUntil"]
    drawn = env.hookctl("webhooks", "rotate-secret", tid, "--keep", "0")
    assert drawn.returncode == 0, drawn.stderr
    assert "read it with hookctl webhooks export" in drawn.stdout
    secrets = json.loads(env.hookctl("webhooks", "export", "--flow", f"rot-{env.tag}",
                                     "--with-secrets").stdout)["webhooks"][0]
    assert len(secrets["secret"]) == 48 and secrets["secret"] not in drawn.stdout, \
        "drawn: 24 random bytes as hex, never printed"
    for args, field in (([tid, "--keep", "soon"], "--keep"), ([tid, "--keep", "31d"], "--keep"),
                        ([], None)):
        bad = env.hookctl("webhooks", "rotate-secret", *args)
        assert bad.returncode == 2, bad.stderr
        assert (field or "<id>") in bad.stderr
    assert env.hookctl("webhooks", "rotate-secret", f"wh_none{env.tag}").returncode == 1
