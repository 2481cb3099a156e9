// hookd console: the admin API (/v1, docs/api.md) in a page. Plain JavaScript, no build step and
// no dependency. Every action is one documented API call that hookctl also makes. Untrusted text
// (task names, receiver responses, bodies, header values) only ever becomes a text node: no
// markup is ever parsed from a string. The token lives in this tab's sessionStorage and leaves only as a
// bearer header, never in a URL or a cookie.

const TOKEN_KEY = "hookd.console.token";
const API = new URL("../v1/", document.baseURI); // the API beside /console/, behind any prefix
const METRICS = new URL("../metrics", document.baseURI);
const REFERENCES = ["$jobId", "$jobStatus", "$flowId", "$flowName", "$jobType", "$eventType",
  "$outputIds", "$finishedAt", "$webhookName", "$attempt"];
const EVENT_TYPES = ["job.completed", "orchestration.completed", "task.disabled"];
const SOURCES = ["github", "slack", "stripe", "twilio", "pagerduty", "zendesk", "twitter",
  "facebook", "sendgrid", "standard", "hookd", "custom"];

// ---- small DOM helpers: elements from tags, attributes and children (strings become text) ----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

// An element's children replaced, leaving out the absent ones (null, undefined, false), which
// replaceChildren() would print as text.
function put(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}
const view = () => $("#view");

function when(iso) { // times in the viewer's zone
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

function table(id, head, rows) {
  return h("div", { class: "table-wrap" },
    h("table", { id },
      h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows)));
}

// ---- the API ----

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.field = e.field || null;
    this.details = e.details || [];
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}` };
  const init = { method, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(new URL(path, API), init);
  const text = await r.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: { message: text.slice(0, 200) } }; }
  }
  if (r.status === 401 && path !== "inbound?limit=1") {
    signOut("The token was refused (401 Unauthorized): sign in again.");
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// A path segment: percent-encoded, dots too, so that an id of ".." cannot climb out of its
// place when the URL is resolved (the API then refuses it by its own rules).
const enc = (segment) => encodeURIComponent(segment).replace(/\./g, "%2E");

// ---- signing in and out ----

function signedIn() { return !!sessionStorage.getItem(TOKEN_KEY); }

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("#nav").hidden = true;
  view().hidden = true;
  view().replaceChildren();
  $("#signin").hidden = false;
  $("#signin-error").textContent = message || "";
  $("#token").value = "";
  $("#token").focus();
}

async function signIn(ev) {
  ev.preventDefault();
  const token = $("#token").value.trim();
  $("#signin-error").textContent = "";
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    await api("GET", "inbound?limit=1");
  } catch (e) {
    if (e.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      $("#signin-error").textContent = "token: refused by hookd (401 Unauthorized)";
      $("#token").select();
      return;
    }
    // another error (Redis down: 503) still proves the token: go on, the views say what fails
  }
  $("#token").value = "";
  $("#signin").hidden = true;
  $("#nav").hidden = false;
  view().hidden = false;
  if (!location.hash || location.hash === "#") location.hash = "#/tasks";
  else route();
}

// ---- routing: #/tasks?flow=7, #/deliveries?job=j1, #/dlq?webhook=wh_1, #/inbound, #/glance ----

function parseHash() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  return { name: (path || "/tasks").replace(/^\//, "") || "tasks", params: new URLSearchParams(query || "") };
}

function setHash(name, params) {
  const q = new URLSearchParams(params).toString();
  const next = `#/${name}${q ? "?" + q : ""}`;
  if (location.hash !== next) history.replaceState(null, "", next);
}

let glanceTimer = null;

function route() {
  if (!signedIn()) return;
  clearInterval(glanceTimer);
  const { name, params } = parseHash();
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const views = { tasks: tasksView, deliveries: deliveriesView, dlq: dlqView, inbound: inboundView, glance: glanceView };
  (views[name] || tasksView)(params);
}

// ---- a status line per view ----

function status(el, text, cls) {
  el.textContent = text || "";
  el.className = `form-error ${cls || ""}`;
}

// ---- tasks of a flow or a space ----

function scopePath(scope) { return `${scope.kind === "space" ? "spaces" : "flows"}/${enc(scope.id)}/webhooks`; }

function tasksView(params) {
  const scope = { kind: params.get("space") ? "space" : "flow", id: params.get("space") || params.get("flow") || "" };
  const kind = h("select", { id: "scope-kind", "aria-label": "Flow or space" },
    h("option", { value: "flow" }, "Flow"), h("option", { value: "space" }, "Space"));
  kind.value = scope.kind;
  const id = h("input", { id: "scope-id", type: "text", value: scope.id, placeholder: "flow id", "aria-label": "Flow or space id", required: true });
  const msg = h("p", { id: "tasks-status", class: "form-error", role: "status" });
  const list = h("div", { id: "tasks-list" });
  const editor = h("div", { id: "task-editor" });
  // not hidden: a file input the Import button opens (kept out of sight and out of the tab order)
  const importInput = h("input", { id: "task-import-file", type: "file", accept: "application/json,.json", class: "visually-hidden", tabindex: "-1", "aria-hidden": "true" });
  const form = h("form", { id: "scope-form", class: "row", onsubmit: (e) => { e.preventDefault(); load(); } },
    h("div", {}, h("label", { for: "scope-kind" }, "Scope"), kind),
    h("div", {}, h("label", { for: "scope-id" }, "Id"), id),
    h("button", { type: "submit", id: "scope-load", class: "primary" }, "Load"));
  const tools = h("div", { class: "row" },
    h("button", { type: "button", id: "task-new", onclick: () => current() && openEditor(current(), null) }, "New task"),
    h("button", { type: "button", id: "task-export", onclick: exportTasks }, "Export"),
    h("button", { type: "button", id: "task-import", onclick: () => current() && importInput.click() }, "Import"),
    importInput);
  importInput.addEventListener("change", importTasks);
  view().replaceChildren(h("h2", {}, "Webhook tasks"), form, tools, msg, list, editor);

  function current() {
    const s = { kind: kind.value, id: id.value.trim() };
    if (!s.id) { status(msg, `${s.kind}Id: enter a ${s.kind} id`); id.focus(); return null; }
    return s;
  }

  async function load() {
    const s = current();
    if (!s) return;
    setHash("tasks", { [s.kind]: s.id });
    status(msg, "Loading…", "note");
    try {
      const tasks = [];
      let iterator = null;
      do {
        const page = await api("GET", `${scopePath(s)}?limit=250${iterator ? "&iterator=" + enc(iterator) : ""}`);
        tasks.push(...page.data);
        iterator = page.done ? null : page.iterator;
      } while (iterator);
      status(msg, `${tasks.length} task${tasks.length === 1 ? "" : "s"} in ${s.kind} ${s.id}`, "note");
      list.replaceChildren(table("tasks-table",
        ["Name", "Id", "Method", "URL", "Trigger", "State", ""],
        tasks.map((t) => h("tr", { dataset: { id: t.id } },
          h("td", {}, t.name),
          h("td", { class: "mono" }, t.id),
          h("td", {}, t.method),
          h("td", { class: "mono" }, t.url),
          h("td", {}, `${t.trigger.event}${t.trigger.types ? " · " + t.trigger.types.join(", ") : ""}`),
          h("td", { class: t.enabled ? "ok" : "bad", title: t.disabledReason || "" },
            t.enabled ? "enabled" : `disabled${t.disabledReason ? ": " + t.disabledReason : ""}`),
          h("td", { class: "actions" },
            h("button", { type: "button", class: "edit", onclick: () => openEditor(s, t) }, "Edit"), " ",
            h("button", { type: "button", class: "test", onclick: (e) => testSaved(t, e.target) }, "Test"), " ",
            h("button", { type: "button", class: "delete danger", onclick: () => removeTask(s, t) }, "Delete"))))));
    } catch (e) {
      list.replaceChildren();
      status(msg, `${e.field ? e.field + ": " : ""}${e.message}`);
    }
  }

  async function testSaved(t, button) {
    const out = h("div", { class: "panel test-result", "aria-live": "polite" }, "Sending one real delivery…");
    button.closest("tr").after(h("tr", {}, h("td", { colspan: 7 }, out)));
    button.disabled = true;
    try { showTestResult(out, await api("POST", `webhooks/${enc(t.id)}/test`)); }
    catch (e) { out.replaceChildren(h("p", { class: "bad" }, `${e.field ? e.field + ": " : ""}${e.message}`)); }
    finally { button.disabled = false; }
  }

  async function removeTask(s, t) {
    if (!confirm(`Delete the task "${t.name}" (${t.id})?`)) return;
    try { await api("DELETE", `webhooks/${enc(t.id)}`); await load(); status(msg, `Deleted ${t.id}. ${msg.textContent}`, "note"); }
    catch (e) { status(msg, e.message); }
  }

  async function exportTasks() {
    const s = current();
    if (!s) return;
    try {
      const data = await api("GET", `${scopePath(s)}/export`);
      const blob = new Blob([JSON.stringify(data, null, 2) + "\n"], { type: "application/json" });
      const a = h("a", { href: URL.createObjectURL(blob), download: `hookd-${s.kind}-${s.id}-webhooks.json` });
      document.body.append(a);
      a.click();
      a.remove();
      status(msg, `Exported ${data.webhooks.length} task(s), secrets masked`, "note");
    } catch (e) { status(msg, e.message); }
  }

  async function importTasks() {
    const s = current();
    const file = importInput.files[0];
    importInput.value = "";
    if (!s || !file) return;
    let doc;
    try { doc = JSON.parse(await file.text()); }
    catch { status(msg, `${file.name}: not JSON`); return; }
    try {
      const r = await api("POST", `${scopePath(s)}/import`, doc);
      await load();
      status(msg, `Imported: ${r.created} created, ${r.updated} updated. ${msg.textContent}`, "note");
    } catch (e) { status(msg, `${e.field ? e.field + ": " : ""}${e.message}`); }
  }

  function openEditor(s, task) {
    editor.replaceChildren(taskForm(s, task, () => { editor.replaceChildren(); load(); }, () => editor.replaceChildren()));
    const first = $("#task-form input[name=name]");
    if (first) first.focus();
  }

  if (scope.id) load();
  else id.focus();
}

function showTestResult(out, r) {
  put(out,
    h("p", {},
      h("strong", { class: `test-status ${r.status}` }, r.status), " · HTTP ",
      h("span", { class: "test-code" }, r.statusCode === null ? "none" : String(r.statusCode)),
      ` · ${r.latencyMs} ms · delivery `, h("span", { class: "mono" }, r.deliveryId)),
    r.error ? h("p", { class: "bad test-error" }, r.error) : null,
    h("p", { class: "note" }, `Response body (first 1 KiB${r.responseTruncated ? ", truncated" : ""}):`),
    h("pre", { class: "test-response" }, r.response || ""));
}

// The task form: the task JSON as fields. Each field has its error slot (#error-<field>); an API
// error names its field (docs/api.md), so it is shown beside that field.
function taskForm(scope, task, saved, cancel) {
  const t = task || { method: "POST", headers: {}, body: "", trigger: { event: "success", objects: "any" },
    signature: "timestamped", validateSsl: true, retry: { enabled: true }, enabled: true };
  const field = (name, label, input, hint) => h("div", { class: "field", dataset: { field: name } },
    h("label", { for: `f-${name}` }, label), input,
    hint ? h("p", { class: "note" }, hint) : null,
    h("p", { class: "field-error", id: `error-${name}`, role: "alert" }));
  const text = (name, value, attrs) => h("input", { id: `f-${name}`, name, type: "text", value: value ?? "", ...attrs });
  const select = (name, options, value) => {
    const s = h("select", { id: `f-${name}`, name }, options.map((o) => h("option", { value: o }, o)));
    s.value = value;
    return s;
  };
  const check = (name, label, value) => h("label", { class: "inline" },
    h("input", { type: "checkbox", id: `f-${name}`, name, checked: value }), label);

  const headerRows = h("div", { id: "f-headers" });
  const addHeader = (k = "", v = "") => {
    const row = h("div", { class: "headers-row" },
      h("input", { type: "text", class: "header-name", value: k, placeholder: "Name", "aria-label": "Header name" }),
      h("input", { type: "text", class: "header-value", value: v, placeholder: "Value", "aria-label": "Header value" }),
      h("button", { type: "button", "aria-label": "Remove this header", onclick: () => row.remove() }, "×"));
    headerRows.append(row);
  };
  for (const [k, v] of Object.entries(t.headers || {})) addHeader(k, v);

  const objects = Array.isArray(t.trigger.objects) ? t.trigger.objects.join(", ") : "any";
  const types = t.trigger.types || [];
  const result = h("div", { id: "test-result", class: "test-result", "aria-live": "polite" });
  const formError = h("p", { id: "task-form-error", class: "form-error", role: "alert" });
  const form = h("form", { id: "task-form", class: "panel", novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
    h("h3", {}, task ? `Edit ${task.id}` : `New task in ${scope.kind} ${scope.id}`),
    field("name", "Name", text("name", t.name)),
    field("url", "URL", text("url", t.url, { inputmode: "url", autocomplete: "off" }), "http or https; no user-info, no #fragment"),
    field("method", "Method", select("method", ["POST", "PUT", "PATCH", "GET", "DELETE"], t.method)),
    h("div", { class: "field", dataset: { field: "headers" } },
      h("label", { for: "f-headers-add" }, "Headers"), headerRows,
      h("button", { type: "button", id: "f-headers-add", onclick: () => addHeader() }, "Add a header"),
      h("p", { class: "field-error", id: "error-headers", role: "alert" })),
    field("body", "Body", h("textarea", { id: "f-body", name: "body", value: t.body ?? "" }),
      `References: ${REFERENCES.join(" ")}. Empty: the default JSON payload (docs/api.md).`),
    h("fieldset", {}, h("legend", {}, "Trigger"),
      field("trigger.event", "Job status", select("trigger.event", ["success", "failure", "any"], t.trigger.event)),
      field("trigger.objects", "Outputs", text("trigger.objects", objects), "any, or output ids separated by commas"),
      h("div", { class: "field", dataset: { field: "trigger.types" } },
        h("p", {}, h("strong", {}, "Event types "), h("span", { class: "note" }, "(none checked: every type)")),
        EVENT_TYPES.map((ty) => h("label", { class: "inline" },
          h("input", { type: "checkbox", name: "trigger.types", value: ty, checked: types.includes(ty) }), ty)),
        h("p", { class: "field-error", id: "error-trigger.types", role: "alert" }))),
    h("fieldset", {}, h("legend", {}, "Signature"),
      field("secret", "Secret", h("input", { id: "f-secret", name: "secret", type: "password", value: t.secret ?? "", autocomplete: "new-password" }),
        task ? "Shown masked; leave it as it is to keep the task's secret(s)." : "Leave empty for an unsigned task (signature none)."),
      field("signature", "Scheme", select("signature", ["timestamped", "body", "standard", "none"], t.signature)),
      field("signatureHeader", "Signature header", text("signatureHeader", t.signatureHeader), "optional; default X-Webhook-Signature")),
    h("fieldset", {}, h("legend", {}, "Delivery"),
      check("validateSsl", "Validate TLS certificates", t.validateSsl !== false),
      h("p", { class: "field-error", id: "error-validateSsl", role: "alert" }),
      check("retry.enabled", "Retry failed deliveries", t.retry?.enabled !== false),
      h("p", { class: "field-error", id: "error-retry.enabled", role: "alert" }),
      field("retry.maxAttempts", "Max attempts", h("input", { id: "f-retry.maxAttempts", name: "retry.maxAttempts", type: "number", min: 1, max: 100, value: t.retry?.maxAttempts ?? "" }), "1 to 100; empty: the worker's default"),
      field("timeoutMs", "Timeout (ms)", h("input", { id: "f-timeoutMs", name: "timeoutMs", type: "number", min: 1, max: 300000, value: t.timeoutMs ?? "" })),
      field("rateLimit", "Rate limit (deliveries/s)", h("input", { id: "f-rateLimit", name: "rateLimit", type: "number", min: 1, max: 100000, value: t.rateLimit ?? "" }), "empty: no limit"),
      check("enabled", "Enabled", t.enabled !== false),
      h("p", { class: "field-error", id: "error-enabled", role: "alert" })),
    formError,
    h("div", { class: "row" },
      h("button", { type: "submit", id: "task-save", class: "primary" }, task ? "Save" : "Create"),
      h("button", { type: "button", id: "task-test", onclick: () => test() }, "Test"),
      h("button", { type: "button", id: "task-cancel", onclick: cancel }, "Cancel")),
    result);
  const initial = JSON.stringify(read());

  function value(name) { return form.elements.namedItem(name); }
  function num(name) { const v = value(name).value.trim(); return v === "" ? undefined : Number(v); }

  // The form as the task JSON. Fields the form does not show (secrets, previousSecretsUntil,
  // allowCrossOriginOverrides) are kept from the loaded task, so a PUT changes only what was edited.
  function read() {
    const out = task ? structuredClone(task) : {};
    delete out.disabledReason;
    delete out.disabledAt;
    out.name = value("name").value;
    out.url = value("url").value.trim();
    out.method = value("method").value;
    out.headers = {};
    for (const row of headerRows.querySelectorAll(".headers-row")) {
      const k = $(".header-name", row).value.trim();
      if (k) out.headers[k] = $(".header-value", row).value;
    }
    out.body = value("body").value;
    const objs = value("trigger.objects").value.trim();
    out.trigger = { event: value("trigger.event").value,
      objects: objs === "" || objs === "any" ? "any" : objs.split(",").map((x) => x.trim()).filter(Boolean) };
    const tys = [...form.querySelectorAll("input[name='trigger.types']:checked")].map((c) => c.value);
    if (tys.length) out.trigger.types = tys;
    const secret = value("secret").value;
    if (secret) out.secret = secret; else delete out.secret;
    if (!task || secret !== task.secret) { delete out.secrets; delete out.previousSecretsUntil; }
    else delete out.secrets; // masked: the API keeps the task's secrets (docs/api.md, PUT)
    out.signature = value("signature").value;
    const sh = value("signatureHeader").value.trim();
    if (sh) out.signatureHeader = sh; else delete out.signatureHeader;
    out.validateSsl = value("validateSsl").checked;
    out.retry = { enabled: value("retry.enabled").checked };
    const ma = num("retry.maxAttempts");
    if (ma !== undefined) out.retry.maxAttempts = ma;
    for (const k of ["timeoutMs", "rateLimit"]) {
      const v = num(k);
      if (v !== undefined) out[k] = v; else delete out[k];
    }
    out.enabled = value("enabled").checked;
    return out;
  }

  function clearErrors() {
    formError.textContent = "";
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  // An API error beside the field it names: "retry.maxAttempts", "headers.X-Foo" (the headers
  // block), "trigger.objects[2]" (trigger.objects). A field the form has no slot for goes above
  // the buttons, named.
  function showError(e) {
    clearErrors();
    let name = e.field || "";
    let slot = null;
    while (name && !(slot = document.getElementById(`error-${name}`))) {
      name = name.replace(/(\[[^\]]*\]|\.[^.[]*)$/, "");
    }
    const line = e.field && !e.message.startsWith(e.field) ? `${e.field}: ${e.message}` : e.message;
    if (!slot) { formError.textContent = line; return; }
    slot.textContent = line;
    const input = document.getElementById(`f-${name}`) || form.querySelector(`[name='${name}']`);
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
  }

  async function save() {
    clearErrors();
    const body = read();
    try {
      if (task) await api("PUT", `webhooks/${enc(task.id)}`, body);
      else await api("POST", scopePath(scope), body);
      saved();
    } catch (e) { showError(e); }
  }

  // Test: a saved task that is unchanged is tested as stored; anything else is sent as a draft
  // (nothing stored), which needs its secret in full.
  async function test() {
    clearErrors();
    const body = read();
    const unchanged = task && JSON.stringify(body) === initial;
    if (!unchanged && task && body.secret && body.secret === task.secret) {
      showError({ field: "secret", message: "secret: masked; enter it to test unsaved changes, or save first and test the task" });
      return;
    }
    result.replaceChildren(h("p", { class: "note" }, "Sending one real delivery…"));
    try {
      const r = unchanged ? await api("POST", `webhooks/${enc(task.id)}/test`)
        : await api("POST", `${scopePath(scope)}/test`, body);
      showTestResult(result, r);
    } catch (e) { result.replaceChildren(); showError(e); }
  }

  return form;
}

// ---- a job's deliveries ----

function deliveriesView(params) {
  const job = h("input", { id: "job-id", type: "text", value: params.get("job") || "", "aria-label": "Job id", placeholder: "job id" });
  const msg = h("p", { id: "deliveries-status", class: "form-error", role: "status" });
  const list = h("div", { id: "deliveries-list" });
  view().replaceChildren(h("h2", {}, "A job's deliveries"),
    h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); load(); } },
      h("div", {}, h("label", { for: "job-id" }, "Job id"), job),
      h("button", { type: "submit", id: "job-search", class: "primary" }, "Search")),
    msg, list);

  async function load() {
    const id = job.value.trim();
    if (!id) { status(msg, "jobId: enter a job id"); job.focus(); return; }
    setHash("deliveries", { job: id });
    status(msg, "Loading…", "note");
    try {
      const all = [];
      let iterator = null;
      do {
        const page = await api("GET", `jobs/${enc(id)}/deliveries?limit=250${iterator ? "&iterator=" + enc(iterator) : ""}`);
        all.push(...page.data);
        iterator = page.done ? null : page.iterator;
      } while (iterator);
      status(msg, all.length ? `${all.length} attempt(s), newest first` : `No recorded delivery for job ${id} (kept 7 days)`, "note");
      list.replaceChildren(table("deliveries-table",
        ["Time", "Task", "Attempt", "Status", "HTTP", "Latency", "Delivery", ""],
        all.map((a) => attemptRows(a, id)).flat()));
    } catch (e) { list.replaceChildren(); status(msg, `${e.field ? e.field + ": " : ""}${e.message}`); }
  }

  function attemptRows(a, jobId) {
    const detail = h("tr", { class: "attempt-detail", hidden: true }, h("td", { colspan: 8 }, attemptDetail(a)));
    const toggle = h("button", { type: "button", class: "details", "aria-expanded": "false",
      onclick: () => { detail.hidden = !detail.hidden; toggle.setAttribute("aria-expanded", String(!detail.hidden)); } }, "Details");
    const resend = h("button", { type: "button", class: "resend", onclick: async () => {
      resend.disabled = true;
      const out = h("div", { class: "panel test-result" }, "Resending…");
      detail.hidden = false;
      detail.firstChild.prepend(out);
      try { showTestResult(out, await api("POST", `deliveries/${enc(a.deliveryId)}/resend`, { jobId })); }
      catch (e) { out.replaceChildren(h("p", { class: "bad" }, `${e.field ? e.field + ": " : ""}${e.message}`)); }
      finally { resend.disabled = false; }
    } }, "Resend");
    return [h("tr", { dataset: { delivery: a.deliveryId, attempt: a.attempt } },
      h("td", {}, when(a.at)),
      h("td", { class: "mono" }, a.webhookId),
      h("td", {}, String(a.attempt), a.resent ? " (resent)" : ""),
      h("td", { class: a.status }, a.status),
      h("td", {}, a.statusCode === null ? "–" : String(a.statusCode)),
      h("td", {}, `${a.latencyMs} ms`),
      h("td", { class: "mono hide-narrow" }, a.deliveryId),
      h("td", { class: "actions" }, toggle, " ", resend)), detail];
  }

  if (params.get("job")) load();
  else job.focus();
}

function body(b) { // a kept body: text, or base64 when it was not UTF-8
  if (!b) return "";
  return b.body !== undefined ? b.body : b.bodyBase64 !== undefined ? `(base64) ${b.bodyBase64}` : "";
}

function attemptDetail(a) {
  const parts = [];
  if (a.error) parts.push(h("p", { class: "bad" }, `Error: ${a.error}`));
  if (a.warning) parts.push(h("p", { class: "warn" }, `Warning: ${a.warning}`));
  if (a.request) {
    parts.push(h("h3", {}, `Request body (${a.request.bodyBytes} bytes${a.request.bodyTruncated ? ", first 4 KiB" : ""})`),
      a.request.body === undefined && a.request.bodyBase64 === undefined
        ? h("p", { class: "note" }, "Not kept (HOOKD_HISTORY_BODIES=off).") : h("pre", { class: "request-body" }, body(a.request)));
  }
  if (a.response) {
    parts.push(h("h3", {}, "Response headers"),
      h("pre", { class: "response-headers" }, Object.entries(a.response.headers).map(([k, v]) => `${k}: ${v}`).join("\n")),
      h("h3", {}, `Response body${a.response.bodyTruncated ? " (first 1 KiB)" : ""}`),
      h("pre", { class: "response-body" }, body(a.response)));
  } else parts.push(h("p", { class: "note" }, "No response came back."));
  return h("div", {}, parts);
}

// ---- dead letters: this group's, filtered, a selection replayed after a dry run ----

function isoFromLocal(value) { // a datetime-local input (the viewer's zone) as RFC 3339
  if (!value) return null;
  const d = new Date(value);
  return isNaN(d) ? null : d.toISOString();
}

function dlqView(params) {
  const webhook = h("input", { id: "dlq-webhook", type: "text", value: params.get("webhook") || "", placeholder: "wh_… (optional)" });
  const since = h("input", { id: "dlq-since", type: "datetime-local", step: 1 });
  const until = h("input", { id: "dlq-until", type: "datetime-local", step: 1 });
  const msg = h("p", { id: "dlq-status", class: "form-error", role: "status" });
  const list = h("div", { id: "dlq-list" });
  const more = h("button", { type: "button", id: "dlq-more", hidden: true, onclick: () => load(true) }, "Older dead letters");
  const preview = h("button", { type: "button", id: "dlq-preview", onclick: () => replay(true) }, "Preview replay");
  const confirmBtn = h("button", { type: "button", id: "dlq-replay", class: "primary", disabled: true, onclick: () => replay(false) }, "Replay");
  const out = h("div", { id: "dlq-result", "aria-live": "polite" });
  view().replaceChildren(h("h2", {}, "Dead letters"),
    h("p", { class: "note" }, "This worker's consumer group's dead letters on the dead-letter topic, newest first. A replay puts each selected delivery back on the first retry tier, as attempt 1 with the same X-Webhook-Id."),
    h("form", { class: "row", id: "dlq-form", onsubmit: (e) => { e.preventDefault(); load(false); } },
      h("div", {}, h("label", { for: "dlq-webhook" }, "Task id"), webhook),
      h("div", {}, h("label", { for: "dlq-since" }, "Dead since"), since),
      h("div", {}, h("label", { for: "dlq-until" }, "Dead until"), until),
      h("button", { type: "submit", id: "dlq-search", class: "primary" }, "Search")),
    msg, list, more,
    h("div", { class: "row" }, preview, confirmBtn,
      h("span", { class: "note" }, "The selection (or, with none checked, everything the filter takes) is previewed first; nothing is sent until Replay.")),
    out);
  let rows = [];
  let iterator = null;
  let previewed = null; // the body the last dry run took: Replay sends exactly that

  function filter() {
    const f = {};
    if (webhook.value.trim()) f.webhookId = webhook.value.trim();
    const s = isoFromLocal(since.value), u = isoFromLocal(until.value);
    if (s) f.since = s;
    if (u) f.until = u;
    return f;
  }

  function selection() {
    const body = filter();
    const ids = [...list.querySelectorAll("input.dlq-pick:checked")].map((c) => c.value);
    if (ids.length) body.deliveryIds = [...new Set(ids)];
    return body;
  }

  function invalidate() { previewed = null; confirmBtn.disabled = true; confirmBtn.textContent = "Replay"; }

  async function load(older) {
    invalidate();
    out.replaceChildren();
    const f = filter();
    const q = new URLSearchParams({ ...f, limit: "50" });
    if (older && iterator) q.set("iterator", iterator);
    else rows = [];
    setHash("dlq", f.webhookId ? { webhook: f.webhookId } : {});
    status(msg, "Reading the dead-letter topic…", "note");
    try {
      const page = await api("GET", `dlq?${q}`);
      rows.push(...page.data);
      iterator = page.done ? null : page.iterator;
      more.hidden = page.done;
      status(msg, `${rows.length} dead letter(s) of group ${page.group} on ${page.topic}${page.done ? "" : " (more below)"}`, "note");
      list.replaceChildren(table("dlq-table", ["", "Dead at", "Kind", "Task", "Job", "Attempts", "Reason", "Error", ""],
        rows.map((d) => {
          const detail = h("tr", { class: "dlq-detail", hidden: true }, h("td", { colspan: 9 }, h("pre", {}, JSON.stringify(d, null, 2))));
          const toggle = h("button", { type: "button", class: "details", "aria-expanded": "false",
            onclick: () => { detail.hidden = !detail.hidden; toggle.setAttribute("aria-expanded", String(!detail.hidden)); } }, "Details");
          const replayable = d.kind === "delivery" && d.deliveryId;
          return [h("tr", { dataset: { delivery: d.deliveryId || "", place: `${d.dlqPartition}:${d.dlqOffset}` } },
            h("td", {}, h("input", { type: "checkbox", class: "dlq-pick", value: d.deliveryId || "", disabled: !replayable,
              "aria-label": replayable ? `Select ${d.deliveryId}` : "A poison event cannot be replayed", onchange: invalidate })),
            h("td", {}, when(d.deadAt)), h("td", {}, d.kind), h("td", { class: "mono" }, d.webhookId || "–"),
            h("td", { class: "mono" }, d.jobId || "–"), h("td", {}, d.attempts === undefined ? "–" : String(d.attempts)),
            h("td", {}, d.reason), h("td", { class: "bad" }, d.error || ""), h("td", { class: "actions" }, toggle)), detail];
        }).flat()));
    } catch (e) { list.replaceChildren(); more.hidden = true; status(msg, `${e.field ? e.field + ": " : ""}${e.message}`); }
  }

  async function replay(dryRun) {
    const body = dryRun ? selection() : previewed;
    if (!body) return;
    out.replaceChildren(h("p", { class: "note" }, dryRun ? "Previewing…" : "Replaying…"));
    try {
      const r = await api("POST", "dlq/replay", { ...body, dryRun });
      const named = r.deliveries.map((d) => h("tr", {}, h("td", { class: "mono" }, d.deliveryId), h("td", { class: "mono" }, d.webhookId), h("td", { class: "mono" }, d.jobId), h("td", {}, d.reason)));
      put(out,
        h("p", { class: dryRun ? "note dlq-summary" : "ok dlq-summary" },
          dryRun ? `Dry run: would replay ${r.replayed} deliver${r.replayed === 1 ? "y" : "ies"} to ${r.topic}; ${r.skipped} not replayable; nothing was sent.`
            : `Replayed ${r.replayed} deliver${r.replayed === 1 ? "y" : "ies"} to ${r.topic}, due now; ${r.skipped} not replayable.`),
        r.deliveries.length ? table("dlq-replayed", ["Delivery", "Task", "Job", "Reason"], named) : null,
        r.deliveriesOmitted ? h("p", { class: "note" }, `and ${r.deliveriesOmitted} more`) : null);
      if (dryRun && r.replayed > 0) {
        previewed = body;
        confirmBtn.disabled = false;
        confirmBtn.textContent = `Replay ${r.replayed}`;
        confirmBtn.focus();
      } else invalidate();
    } catch (e) { out.replaceChildren(h("p", { class: "bad" }, `${e.field ? e.field + ": " : ""}${e.message}`)); invalidate(); }
  }

  for (const el of [webhook, since, until]) el.addEventListener("input", invalidate);
  load(false);
}

// ---- inbound endpoints (hookd-ingress) ----

function inboundView() {
  const msg = h("p", { id: "inbound-status", class: "form-error", role: "status" });
  const list = h("div", { id: "inbound-list" });
  const err = h("p", { id: "inbound-form-error", class: "form-error", role: "alert" });
  const src = h("select", { id: "in-source", name: "source" }, SOURCES.map((s) => h("option", { value: s }, s)));
  const form = h("form", { id: "inbound-form", class: "panel", onsubmit: create },
    h("h3", {}, "New inbound endpoint"),
    h("label", { for: "in-name" }, "Name"), h("input", { id: "in-name", type: "text", required: true }),
    h("label", { for: "in-flow" }, "Flow id"), h("input", { id: "in-flow", type: "text", required: true }),
    h("label", { for: "in-source" }, "Source"), src,
    h("label", { for: "in-secret" }, "Secret"), h("input", { id: "in-secret", type: "password", autocomplete: "new-password" }),
    h("p", { class: "note" }, "Sources other than custom and sendgrid verify with a secret; custom and facebook need more: use hookctl inbound create --file."),
    err, h("div", { class: "row" }, h("button", { type: "submit", class: "primary", id: "in-create" }, "Create")));
  view().replaceChildren(h("h2", {}, "Inbound endpoints"), msg, list, form);

  async function create(e) {
    e.preventDefault();
    err.textContent = "";
    const doc = { name: $("#in-name").value, flowId: $("#in-flow").value.trim(), source: src.value };
    const secret = $("#in-secret").value;
    if (secret) doc.secret = secret;
    try { await api("POST", "inbound", doc); form.reset(); load(); }
    catch (x) { err.textContent = x.field && !x.message.startsWith(x.field) ? `${x.field}: ${x.message}` : x.message; }
  }

  // An endpoint's details: what hookd-ingress answered its last requests, and the live waits.
  async function details(ep, out) {
    put(out, h("p", { class: "note" }, "Loading…"));
    const parts = [];
    try {
      const page = await api("GET", `inbound/${enc(ep.id)}/requests?limit=50`);
      parts.push(h("h3", {}, "Recent requests"),
        page.data.length ? table(`requests-${ep.id}`, ["Time", "Method", "Status", "Outcome", "Reason", "Detail", "Event"],
          page.data.map((q) => h("tr", { class: "inbound-request" },
            h("td", {}, when(q.at)), h("td", {}, q.method), h("td", {}, String(q.status)),
            h("td", { class: q.outcome === "accepted" || q.outcome === "duplicate" || q.outcome === "challenge" ? "ok" : "bad" }, q.outcome),
            h("td", {}, q.reason || ""), h("td", {}, q.detail || ""), h("td", { class: "mono" }, q.eventId || ""))))
          : h("p", { class: "note" }, "No request yet (hookd-ingress records each one it answers; busy endpoints are sampled)."));
    } catch (x) { parts.push(h("p", { class: "bad" }, x.message)); }
    try {
      const page = await api("GET", `inbound/${enc(ep.id)}/waits?limit=250`);
      parts.push(h("h3", {}, "Live waits"),
        page.data.length ? table(`waits-${ep.id}`, ["Ref", "Expires", "Matches"], page.data.map((w) =>
          h("tr", {}, h("td", { class: "mono" }, w.ref), h("td", {}, when(w.expiresAt)), h("td", { class: "mono" }, JSON.stringify(w.matches)))))
          : h("p", { class: "note" }, "No flow waits on this endpoint."));
    } catch (x) { parts.push(h("p", { class: "bad" }, x.message)); }
    put(out, parts);
  }

  function copyButton(text) {
    const b = h("button", { type: "button", class: "copy", "aria-label": `Copy ${text}`, onclick: async () => {
      try { await navigator.clipboard.writeText(text); b.textContent = "Copied"; }
      catch { b.textContent = "Select and copy"; }
    } }, "Copy");
    return b;
  }

  async function load() {
    try {
      const page = await api("GET", "inbound?limit=250");
      status(msg, `${page.data.length} endpoint(s)`, "note");
      list.replaceChildren(table("inbound-table", ["Name", "Id", "Source", "Flow", "State", "URL", ""],
        page.data.map((ep) => {
          const out = h("td", { colspan: 7 });
          const more = h("tr", { class: "inbound-detail", hidden: true }, out);
          const url = ep.publicUrl || `/in/${ep.id}`;
          const toggle = h("button", { type: "button", class: "details", "aria-expanded": "false", onclick: () => {
            more.hidden = !more.hidden;
            toggle.setAttribute("aria-expanded", String(!more.hidden));
            if (!more.hidden) details(ep, out);
          } }, "Requests and waits");
          return [h("tr", { dataset: { id: ep.id } },
            h("td", {}, ep.name), h("td", { class: "mono" }, ep.id), h("td", {}, ep.source),
            h("td", {}, String(ep.flowId)),
            h("td", { class: ep.enabled === false ? "bad" : ep.verified ? "ok" : "warn" },
              ep.enabled === false ? "disabled" : ep.verified ? "verified" : "unverified"),
            h("td", { class: "mono" }, url, ep.publicUrl ? "" : " on hookd-ingress", " ", copyButton(url)),
            h("td", { class: "actions" }, toggle)), more];
        }).flat()));
    } catch (x) { list.replaceChildren(); status(msg, x.message); }
  }
  load();
}

// ---- at a glance: hookd's own /metrics, sampled every 5 s ----

function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

function sum(samples, name, filter = () => true) {
  return samples.filter((s) => s.name === name && filter(s.labels)).reduce((a, s) => a + s.value, 0);
}

function glanceView() {
  const msg = h("p", { id: "glance-status", class: "note", role: "status" }, "Reading /metrics…");
  const cards = h("div", { class: "cards", id: "glance-cards" });
  const more = h("div", { id: "glance-tables" });
  view().replaceChildren(h("h2", {}, "At a glance"),
    h("p", { class: "note" }, "This worker's own counters, from its /metrics (each worker has its own; Prometheus and the Grafana dashboard add them up)."),
    msg, cards, more);
  let previous = null;
  async function sample() {
    let samples;
    try {
      const r = await fetch(METRICS, { cache: "no-store", credentials: "omit" });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      samples = parseMetrics(await r.text());
    } catch (e) {
      status(msg, `/metrics is not served beside the API here (${e.message}): with HOOKD_API_LISTEN, read it on HOOKD_LISTEN or in Prometheus.`, "bad");
      return;
    }
    const now = { t: Date.now(), samples };
    const rate = (name, f) => previous
      ? (sum(now.samples, name, f) - sum(previous.samples, name, f)) / ((now.t - previous.t) / 1000) : null;
    const outcome = (o) => (l) => l.outcome === o;
    cards.replaceChildren(
      ...["delivered", "dead_lettered", "skipped"].map((o) =>
        card(`Deliveries ${o.replace("_", " ")}`, sum(samples, "hookd_deliveries_total", outcome(o)), rate("hookd_deliveries_total", outcome(o)))),
      card("Failed attempts", sum(samples, "hookd_delivery_attempts_total", (l) => l.outcome !== "succeeded"),
        rate("hookd_delivery_attempts_total", (l) => l.outcome !== "succeeded")),
      card("Dead-letter records", sum(samples, "hookd_dlq_records_total"), rate("hookd_dlq_records_total")),
      card("Consumer lag (records)", sum(samples, "hookd_kafka_consumer_lag"), null),
      card("Poison events", sum(samples, "hookd_events_poison_total"), rate("hookd_events_poison_total")));
    const byOutcome = {};
    for (const s of samples.filter((x) => x.name === "hookd_delivery_attempts_total" && x.labels.outcome !== "succeeded")) {
      const k = `${s.labels.outcome} ${s.labels.status_class || ""}`.trim();
      byOutcome[k] = (byOutcome[k] || 0) + s.value;
    }
    const top = (name) => samples.filter((x) => x.name === name && x.value > 0)
      .sort((a, b) => b.value - a.value).slice(0, 10);
    const hosts = top("hookd_host_queue_depth"), failing = top("hookd_host_failed_attempts");
    more.replaceChildren(
      h("h3", {}, "Failed attempts by outcome"),
      table("glance-failures", ["Outcome", "Attempts"], Object.entries(byOutcome).filter(([, v]) => v > 0)
        .map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, String(v))))),
      h("h3", {}, "Failures by host, last minute"),
      failing.length ? table("glance-failing", ["Host", "Failed attempts"], failing.map((x) => h("tr", {}, h("td", { class: "mono" }, x.labels.host), h("td", {}, String(x.value)))))
        : h("p", { class: "note" }, "No host failed in the last minute."),
      h("h3", {}, "Hosts with deliveries queued"),
      hosts.length ? table("glance-hosts", ["Host", "Queued"], hosts.map((x) => h("tr", {}, h("td", { class: "mono" }, x.labels.host), h("td", {}, String(x.value)))))
        : h("p", { class: "note" }, "None: no host is behind."));
    status(msg, `Updated ${new Date().toLocaleTimeString()}${previous ? "; rates over the last 5 s" : ""}.`, "note");
    previous = now;
  }
  function card(label, total, perSecond) {
    return h("div", { class: "card" }, h("div", { class: "note" }, label), h("div", { class: "value" }, String(Math.round(total))),
      perSecond === null ? null : h("div", { class: "note" }, `${perSecond.toFixed(1)}/s`));
  }
  sample();
  glanceTimer = setInterval(sample, 5000);
}

// ---- start ----

$("#signin-form").addEventListener("submit", signIn);
$("#signout").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", route);
if (signedIn()) {
  $("#signin").hidden = true;
  $("#nav").hidden = false;
  view().hidden = false;
  if (!location.hash) location.hash = "#/tasks";
  route();
} else {
  $("#token").focus();
}
