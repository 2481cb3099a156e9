"""The web console (docs/console.md) in a real browser: Debian's chromium driven by selenium
through chromium-driver's chromedriver, against a real hookd, Kafka and Redis.

Screenshots of each page go to <build>/test-output/console/ (HOOKD_BUILD_DIR), next to the
other test output. The API calls the page made are read back from hookd's own log and each must
be an operation of docs/openapi.yaml answered with a status documented for it.
"""
import datetime
import json
import os
import re
import shutil
import time
import uuid

import pytest
import requests
import yaml

from conftest import BUILD, ROOT, read_topic

SPEC = yaml.safe_load(open(os.path.join(ROOT, "docs", "openapi.yaml")))
TOKEN = "console-token-" + uuid.uuid4().hex
SECRET = "console-secret-" + uuid.uuid4().hex[:12] + "wxyz"
SHOTS = os.path.join(BUILD, "test-output", "console")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
XSS = b'<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def api_calls(worker):
    """(method, path, status) of every /v1 request hookd logged."""
    calls = []
    for line in worker.lines():
        if '"event":"api"' not in line:
            continue
        rec = json.loads(line)
        if "method" in rec:  # the request's line (api.c also logs what a call did)
            calls.append((rec["method"], rec["path"], rec["status"]))
    return calls


def wait_cached(worker, n, timeout=15):
    """Until the worker's task cache holds n tasks (a new task is seen within 2 s; an event
    published before that matches none)."""
    deadline = time.time() + timeout
    while worker.metric("hookd_task_cache_tasks") < n:
        assert time.time() < deadline, f"the worker's cache never held {n} tasks"
        time.sleep(0.2)


def template_of(method, path):
    """The docs/openapi.yaml operation a request is, or None."""
    for template, item in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template
    return None


@pytest.fixture
def console(env, worker_factory):
    worker = worker_factory(env.topic, env.group, env.prefix,
                            {"HOOKD_API_TOKEN": TOKEN, "HOOKD_RETRY_DELAYS": "1s",
                             "HOOKD_LOG_LEVEL": "info"})
    yield worker
    log = "\n".join(worker.lines())
    assert TOKEN not in log and SECRET not in log


def test_the_console_is_served_with_a_strict_policy(console, env, worker_factory):
    base = f"http://127.0.0.1:{console.port()}"
    r = requests.get(base + "/console/", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = r.headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'",
                      "frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    # no inline script: every <script> has a src on the page's own origin, nothing from a CDN
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", r.text, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert "http://" not in r.text and "https://" not in r.text and "//" not in \
        "".join(re.findall(r'(?:src|href)="([^"]*)"', r.text))
    js = requests.get(base + "/console/console.js", timeout=5)
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    assert "innerHTML" not in js.text and "insertAdjacentHTML" not in js.text \
        and "eval(" not in js.text
    assert requests.get(base + "/console/console.css", timeout=5).headers["Content-Type"] \
        .startswith("text/css")
    r = requests.get(base + "/console", timeout=5, allow_redirects=False)
    assert r.status_code == 308 and r.headers["Location"] == "/console/"
    assert requests.get(base + "/console/../metrics", timeout=5).status_code in (200, 404)
    assert requests.get(base + "/console/nope.js", timeout=5).status_code == 404
    assert requests.post(base + "/console/", timeout=5).status_code == 405
    # without the admin API, no console
    plain = worker_factory(env.topic, env.group + "-plain", env.prefix)
    assert requests.get(f"http://127.0.0.1:{plain.port()}/console/", timeout=5).status_code == 404


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.makedirs(SHOTS, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_window_size(1280, 800)
    yield drv
    drv.quit()


class Page:
    def __init__(self, drv, base):
        from selenium.common.exceptions import (NoSuchElementException,
                                                StaleElementReferenceException)
        from selenium.webdriver.support.ui import WebDriverWait
        self.drv, self.base = drv, base
        # a view re-renders as its data comes: an element found a moment ago may be gone
        self.wait = WebDriverWait(drv, 30, ignored_exceptions=(
            NoSuchElementException, StaleElementReferenceException))

    def find(self, css):
        from selenium.webdriver.common.by import By
        return self.drv.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        from selenium.webdriver.common.by import By
        return self.drv.find_elements(By.CSS_SELECTOR, css)

    def until(self, fn, what):
        try:
            return self.wait.until(lambda d: fn())
        except Exception as e:
            self.shot("failed")
            raise AssertionError(f"waited for {what}: {e}") from e

    def text(self, css):
        els = self.all(css)
        return els[0].text if els else ""

    def type(self, css, value):
        el = self.find(css)
        el.clear()
        el.send_keys(value)

    def stray_text(self, css):
        """Bare text nodes directly in a panel built of elements (an absent part printed as
        "null" or "undefined")."""
        return self.drv.execute_script(
            "return [...document.querySelector(arguments[0]).childNodes]"
            ".filter(n => n.nodeType === 3 && n.textContent.trim()).map(n => n.textContent)", css)

    def shot(self, name):
        self.drv.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def test_a_flow_owner_works_through_the_console(console, env, receiver, browser, stack, tmp_path):
    from selenium.webdriver.common.keys import Keys

    flow = f"console-{env.tag}"
    base = f"http://127.0.0.1:{console.port()}"
    ok = receiver.url("/c/ok")
    receiver.status["/c/ok"] = 200
    receiver.reply_body["/c/ok"] = XSS
    receiver.status["/c/down"] = 500
    p = Page(browser, base)

    # sign in, by keyboard: a wrong token is refused, naming the token
    browser.get(base + "/console/")
    p.until(lambda: p.find("#token").is_displayed(), "the sign-in form")
    p.shot("01-sign-in")
    p.find("#token").send_keys("not-the-token-0123456789" + Keys.ENTER)
    p.until(lambda: "token: refused" in p.text("#signin-error"), "the refusal")
    assert not p.find("#nav").is_displayed()
    p.find("#token").send_keys(TOKEN + Keys.ENTER)  # the refused token is selected: replaced
    p.until(lambda: p.find("#nav").is_displayed(), "the console's sections")
    assert browser.execute_script("return sessionStorage.length") == 1
    assert TOKEN not in browser.current_url and not browser.get_cookies()

    # the tasks of a flow: a new task with a bad URL shows the error beside the URL field
    p.type("#scope-id", flow)
    p.find("#scope-load").click()
    p.until(lambda: "0 tasks" in p.text("#tasks-status"), "the empty flow")
    p.find("#task-new").click()
    p.until(lambda: p.all("#task-form"), "the task form")
    p.type("#f-name", "Console task")
    p.type("#f-url", "ftp://example.com/hook")
    p.type("#f-secret", SECRET)
    p.type("#f-body", '{"job":"$jobId","status":"$jobStatus"}')
    p.find("#task-save").click()
    p.until(lambda: p.text("#error-url").startswith("url:"), "the URL's error")
    assert p.find("#f-url").get_attribute("aria-invalid") == "true"
    assert p.text("#task-form-error") == ""
    p.shot("02-task-form-error")

    # fixed, and tested before it is saved: one real delivery, 200, the answer shown as text
    p.type("#f-url", ok)
    p.find("#task-test").click()
    p.until(lambda: p.text("#test-result .test-code") == "200", "the draft test's 200")
    assert p.text("#error-url") == ""
    assert p.find("#test-result .test-response").text == XSS.decode()
    assert not p.stray_text("#test-result")
    assert browser.execute_script("return window.__pwned === undefined")
    assert len(browser.find_elements("css selector", "#test-result img, #test-result script")) == 0
    p.shot("03-draft-test")
    drafts = receiver.wait_for("/c/ok", 1)
    assert drafts and drafts[0]["method"] == "POST"

    p.find("#task-save").click()
    p.until(lambda: "1 task in flow" in p.text("#tasks-status"), "the saved task listed")
    row = p.find("#tasks-table tbody tr")
    task_id = row.get_attribute("data-id")
    assert task_id.startswith("wh_") and "Console task" in row.text
    p.shot("04-tasks")

    # the saved task's Test button
    row.find_element("css selector", "button.test").click()
    p.until(lambda: p.text(".test-result .test-code") == "200", "the saved task's test")
    assert len(receiver.wait_for("/c/ok", 2)) == 2

    # a job's deliveries: publish an event, search the job, see the attempt and the answer
    job = f"job-{env.tag}"
    wait_cached(console, 1)
    env.publish({"eventId": job, "jobId": job, "jobStatus": "Complete", "flowId": flow})
    assert len(receiver.wait_for("/c/ok", 3)) == 3
    browser.get(base + f"/console/#/deliveries?job={job}")
    deadline = time.time() + 20
    while not p.all("#deliveries-table tbody tr[data-delivery]") and time.time() < deadline:
        time.sleep(0.5)
        p.find("#job-search").click()
    p.until(lambda: p.all("#deliveries-table tbody tr[data-delivery]"), "the job's attempt")
    first = p.find("#deliveries-table tbody tr[data-delivery]")
    assert task_id in first.text and "delivered" in first.text and "200" in first.text
    first.find_element("css selector", "button.details").click()
    p.until(lambda: p.find(".response-body").is_displayed(), "the attempt's details")
    assert p.find(".response-body").text == XSS.decode()
    assert job in p.find(".request-body").text
    assert browser.execute_script("return window.__pwned === undefined")
    p.shot("05-deliveries")

    # Resend: the same delivery again, recorded as its next attempt
    first.find_element("css selector", "button.resend").click()
    p.until(lambda: p.text(".attempt-detail .test-code") == "200", "the resend's answer")
    assert len(receiver.wait_for("/c/ok", 4)) == 4
    resent = receiver.matching("/c/ok")[-1]
    assert resent["headers"]["x-webhook-attempt"] == "2"

    # editing keeps the masked secret: the receiver still gets the same signature scheme
    browser.get(base + f"/console/#/tasks?flow={flow}")
    p.until(lambda: p.all("#tasks-table tbody tr button.edit"), "the task list")
    p.find("#tasks-table tbody tr button.edit").click()
    p.until(lambda: p.all("#task-form"), "the edit form")
    assert p.find("#f-secret").get_attribute("value").startswith("****")
    p.type("#f-retry\\.maxAttempts", "0")
    p.find("#task-save").click()
    p.until(lambda: p.text("#error-retry\\.maxAttempts").startswith("retry.maxAttempts"),
            "the attempts' error beside its field")
    p.type("#f-retry\\.maxAttempts", "2")
    p.find("#task-save").click()
    p.until(lambda: not p.all("#task-form"), "the saved edit")
    stored = json.loads(env.hookctl("webhooks", "export", "--flow", flow, "--with-secrets",
                                    "--json").stdout)["webhooks"][0]
    assert stored["retry"]["maxAttempts"] == 2 and stored["secret"] == SECRET

    # inbound endpoints: created from the page, listed unverified
    browser.get(base + "/console/#/inbound")
    p.until(lambda: "endpoint(s)" in p.text("#inbound-status"), "the endpoints")
    p.type("#in-name", f"GitHub {env.tag}")
    p.type("#in-flow", flow)
    p.find("#in-secret").send_keys(SECRET)
    p.find("#in-create").click()
    p.until(lambda: f"GitHub {env.tag}" in p.text("#inbound-table"), "the new endpoint")
    assert "unverified" in p.text("#inbound-table")
    # hookd-ingress answers a GitHub push and a forgery; the page shows both, newest first
    from test_ingress import Ingress, github_headers
    eid = p.find("#inbound-table tbody tr[data-id]").get_attribute("data-id")
    ing = Ingress(stack, tmp_path, f"it-inbound-{env.tag}", env.prefix)
    try:
        push = b'{"ref":"refs/heads/main"}'
        assert ing.post(f"/in/{eid}", push, github_headers(push, secret=SECRET))[0] == 200
        assert ing.post(f"/in/{eid}", push, github_headers(push, secret="forged"))[0] == 404
    finally:
        ing.stop()
    p.find("#inbound-table tbody tr[data-id] button.details").click()
    p.until(lambda: len(p.all(".inbound-detail tr.inbound-request")) == 2, "the recent requests")
    rows = [r.text for r in p.all(".inbound-detail tr.inbound-request")]
    assert "rejected" in rows[0] and "bad_signature" in rows[0] and "404" in rows[0], rows
    assert "accepted" in rows[1] and "200" in rows[1], rows
    assert "No flow waits" in p.text(".inbound-detail")
    p.shot("06-inbound")

    # dead letters: a task failing with retries off is dead-lettered; a dry run from the page
    # sends nothing, then Replay sends the selected delivery again with its id
    down_flow = f"console-down-{env.tag}"
    down = env.create_task({"flowId": down_flow, "name": "Down", "url": receiver.url("/c/down"),
                            "retry": {"enabled": False}})
    djob = f"down-{env.tag}"
    wait_cached(console, 2)
    env.publish({"eventId": djob, "jobId": djob, "jobStatus": "Complete", "flowId": down_flow})
    assert len(receiver.wait_for("/c/down", 1)) == 1
    assert read_topic(stack, "hookd.dlq", lambda r: r.get("jobId") == djob, 1)
    browser.get(base + f"/console/#/dlq?webhook={down}")
    p.until(lambda: p.all("#dlq-table tbody tr[data-delivery]"), "the dead letter")
    row = p.find("#dlq-table tbody tr[data-delivery]")
    assert djob in row.text and "retry disabled" in row.text and "HTTP 500" in row.text
    row.find_element("css selector", "input.dlq-pick").click()
    assert p.find("#dlq-replay").get_attribute("disabled") is not None  # not before a preview
    p.find("#dlq-preview").click()
    p.until(lambda: "would replay 1 delivery" in p.text(".dlq-summary"), "the dry run")
    time.sleep(1)
    assert len(receiver.matching("/c/down")) == 1, "a dry run sends nothing"
    assert not p.stray_text("#dlq-result")
    p.shot("08-dlq-preview")
    receiver.status["/c/down"] = 200
    p.find("#dlq-replay").click()
    p.until(lambda: p.text(".dlq-summary").startswith("Replayed 1 delivery"), "the replay")
    again = receiver.wait_for("/c/down", 2, timeout=30)
    assert len(again) == 2
    assert again[1]["headers"]["x-webhook-id"] == again[0]["headers"]["x-webhook-id"]
    assert again[1]["headers"]["x-webhook-attempt"] == "1"

    # at a glance: this worker's own counters
    browser.get(base + "/console/#/glance")
    p.until(lambda: p.all("#glance-cards .card"), "the counters")
    delivered = p.find("#glance-cards .card")
    assert "Deliveries delivered" in delivered.text
    assert int(delivered.find_element("css selector", ".value").text) >= 1
    # the receiver answered 500 to the dead-lettered delivery: its host is listed as failing
    p.until(lambda: f"127.0.0.1:{receiver.port}" in p.text("#glance-failing"), "the failing host")
    p.shot("07-glance")

    # export the flow's tasks to a file (secrets masked), and import a task from one
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(base + f"/console/#/tasks?flow={flow}")
    p.until(lambda: p.all("#tasks-table tbody tr"), "the task list")
    p.find("#task-export").click()
    p.until(lambda: [f for f in os.listdir(downloads) if f.endswith(".json")], "the export file")
    exported = json.loads((downloads / f"hookd-flow-{flow}-webhooks.json").read_text())
    assert [t["id"] for t in exported["webhooks"]] == [task_id]
    assert exported["webhooks"][0]["secret"].startswith("****") and SECRET not in json.dumps(exported)
    imported = tmp_path / "import.json"
    imported.write_text(json.dumps({"webhooks": [{"name": "Imported", "url": receiver.url("/c/imp"),
                                                  "secret": SECRET}]}))
    p.find("#task-import-file").send_keys(str(imported))
    p.until(lambda: "Imported: 1 created, 0 updated" in p.text("#tasks-status"), "the import")
    p.until(lambda: "2 tasks in flow" in p.text("#tasks-status"), "the imported task listed")
    assert "Imported" in p.text("#tasks-table")

    # times in the viewer's zone: the same attempt seen from Kolkata (UTC+5:30)
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
    browser.get(base + f"/console/#/deliveries?job={job}")
    p.until(lambda: p.all("#deliveries-table tbody tr[data-delivery]"), "the job's attempts")
    at = json.loads(env.hookctl("deliveries", "--job", job, "--json").stdout)[-1]["at"]
    local = datetime.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(
        datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
    shown = p.text("#deliveries-table")
    assert f"{local.hour % 12 or 12}:{local.minute:02d}:{local.second:02d}" in shown, (at, shown)
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})  # the host's again

    # a phone-sized window: nothing is wider than the screen but the tables' own scroll
    browser.set_window_size(390, 844)
    browser.get(base + f"/console/#/tasks?flow={flow}")
    p.until(lambda: p.all("#tasks-table tbody tr"), "the narrow task list")
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")
    p.shot("09-tasks-narrow")

    # no policy violation or script error in the browser's console
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and "favicon" not in e["message"] and "status of 4" not in e["message"]
              and "status of 5" not in e["message"]]
    assert not errors, errors

    # every API call the page made is a documented operation with a documented status
    calls = api_calls(console)
    assert len(calls) >= 10, calls
    for method, path, status in calls:
        template = template_of(method, path)
        assert template, f"the console called {method} {path}, which docs/openapi.yaml lacks"
        op = SPEC["paths"][template][method.lower()]
        assert str(status) in op["responses"], (method, path, status)
    used = {template_of(m, p) for m, p, _ in calls}
    for t in ("/v1/flows/{flowId}/webhooks", "/v1/flows/{flowId}/webhooks/test",
              "/v1/webhooks/{id}", "/v1/webhooks/{id}/test", "/v1/jobs/{jobId}/deliveries",
              "/v1/deliveries/{deliveryId}/resend", "/v1/inbound", "/v1/dlq", "/v1/dlq/replay",
              "/v1/inbound/{id}/requests", "/v1/inbound/{id}/waits"):
        assert t in used, (t, used)
