// The page of `bracket serve`: sends the input to POST /api/query as you type (debounced),
// renders the answer, its derivation and its check with KaTeX, and keeps the input in the
// URL so that a link gives the same answer back. No framework: a few DOM calls suffice.
"use strict";

const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 300;
let examples = [];
let sequence = 0;
let timer = null;
let tabs = { unicode: "", ascii: "", latex: "", bracket: "", python: "" };
let currentTab = "unicode";

function tex(target, source) {
  if (window.katex) {
    katex.render(source, target, { displayMode: true, throwOnError: false, strict: "ignore" });
  } else {
    target.textContent = source;
  }
}

async function post(query) {
  const started = performance.now();
  let response;
  // A busy server answers 503 with Retry-After: wait and ask again, a few times.
  for (let attempt = 0; ; attempt++) {
    response = await fetch("/api/query", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(query),
    });
    if (response.status !== 503 || attempt >= 8) break;
    const wait = Math.min(Number(response.headers.get("Retry-After") || "1"), 2) * 1000;
    await new Promise((resolve) => setTimeout(resolve, wait / 4));
  }
  let body;
  try {
    body = await response.json();
  } catch (e) {
    body = { error: { code: "E-http", message: `HTTP ${response.status}` } };
  }
  body.roundTripMs = performance.now() - started;
  return body;
}

function wrtList() {
  return $("wrt").value.split(",").map((w) => w.trim()).filter((w) => w.length > 0);
}

function setState(state, text) {
  document.body.dataset.state = state;
  $("status").textContent = text;
}

function showError(error, input) {
  $("error").hidden = false;
  $("error-message").textContent = `${error.code || "error"}: ${error.message || ""}`;
  let caret = "";
  if (error.line && error.column) {
    const line = input.split("\n")[error.line - 1] || "";
    caret = `${error.line} │ ${line}\n${" ".repeat(String(error.line).length)} │ ${" ".repeat(error.column - 1)}^`;
  }
  $("error-caret").textContent = caret;
  $("error-hint").textContent = error.hint ? `hint: ${error.hint}` : "";
}

function clearError() {
  $("error").hidden = true;
}

// The labelled rows of an answer: [{label (TeX), unicodeLabel, part}].
function rows(answer, command) {
  if (answer.equations) {
    const loss = answer.loss || "J";
    return answer.equations.map((e) => ({ label: `\\nabla_{${e.target}}${loss}`, text: `∇_{${e.target}}${loss}`, part: e }));
  }
  if (answer.tangents) {
    return answer.tangents.map((t) => ({
      label: t.target.replace(/∇/g, "\\nabla ").replace(/_\{?([A-Za-z0-9]+)\}?/g, "_{$1}"),
      text: t.target,
      part: t,
    }));
  }
  if (answer.derivatives) {
    return answer.derivatives.map((d) => {
      const text = d.label || `∇_${d.wrt}`;
      const label = text.replace("∇²", "\\nabla^2").replace(/∇/g, "\\nabla").replace(/_([A-Za-z0-9]+)/g, "_{$1}");
      return { label, text, part: d };
    });
  }
  if (answer.result) {
    return [{ label: `\\nabla_{${answer.wrt}}`, text: `∇_${answer.wrt}`, part: answer.result }];
  }
  return [{ label: command === "simplify" ? "" : command, text: "", part: answer }];
}

function showAnswer(answer, command) {
  const list = rows(answer, command);
  const single = list.length === 1 && command === "simplify";
  const body = list.map((r) => (single ? r.part.latex : `${r.label} &= ${r.part.latex}`)).join(" \\\\ ");
  tex($("answer"), single ? body : `\\begin{aligned}${body}\\end{aligned}`);
  const joined = (field) =>
    list.map((r) => (list.length === 1 ? r.part[field] : `${r.text} = ${r.part[field]}`)).join("\n");
  $("answer").dataset.unicode = joined("unicode");
  tabs.unicode = joined("unicode");
  tabs.ascii = joined("ascii");
  tabs.latex = joined("latex");
  tabs.bracket = joined("bracket");
  const conditions = [...new Set(list.flatMap((r) => r.part.conditions || []))];
  $("conditions").textContent = conditions.length ? `where ${conditions.join("; ")}` : "";
  const checks = list.map((r) => r.part.check).filter((c) => c);
  if (answer.check) checks.push(answer.check); // a program's tangent pass: one check
  const check = $("check");
  if (checks.length) {
    const bad = checks.find((c) => c.verdict !== "verified");
    const worst = Math.max(...checks.map((c) => c.relative_error || 0));
    check.className = bad ? "failed" : "verified";
    check.textContent = bad
      ? `check: ${bad.verdict}${bad.reason ? ` (${bad.reason})` : ""}`
      : `check: verified against finite differences (relative error ${worst.toExponential(1)})`;
  } else {
    check.className = "";
    check.textContent = "";
  }
  showTab(currentTab);
}

function showDerivation(answer) {
  const list = $("derivation");
  list.textContent = "";
  const parts = answer && answer.derivations ? answer.derivations : answer && answer.steps ? [answer] : [];
  for (const part of parts) {
    if (parts.length > 1) {
      const h = document.createElement("h3");
      tex(h, `\\nabla_{${part.wrt}}`);
      list.appendChild(h);
    }
    for (const step of part.steps) {
      const li = document.createElement("li");
      const math = document.createElement("div");
      tex(math, step.latex);
      const why = document.createElement("span");
      why.className = "why";
      why.textContent = step.why;
      li.appendChild(math);
      li.appendChild(why);
      list.appendChild(li);
    }
  }
}

function showTab(name) {
  currentTab = name;
  for (const b of document.querySelectorAll(".tabs button")) {
    b.setAttribute("aria-selected", String(b.dataset.tab === name));
  }
  $("tab-text").textContent = tabs[name] || "";
}

function saveToUrl(command, wrt, input) {
  const params = new URLSearchParams({ c: command, w: wrt, e: input });
  if (command === "hvp") params.set("d", $("dir").value);
  history.replaceState(null, "", `#${params.toString()}`);
}

async function run() {
  const seq = ++sequence;
  const input = $("input").value;
  const command = $("command").value;
  const wrt = wrtList();
  saveToUrl(command, $("wrt").value, input);
  if (!input.trim()) {
    setState("idle", "ready");
    return;
  }
  setState("busy", "working…");
  const derivable = (command === "grad" && wrt.length <= 1) || command === "derive";
  document.body.classList.toggle("hvp", command === "hvp");
  const main =
    command === "derive"
      ? { command: "derive", expr: input, wrt }
      : { command, expr: input, wrt, check: command !== "simplify" };
  if (command === "hvp") main.dir = $("dir").value.trim();
  const requests = [post(main)];
  requests.push(derivable && command !== "derive" ? post({ command: "derive", expr: input, wrt }) : null);
  const codeable = command === "grad" || command === "jacobian";
  requests.push(codeable ? post({ command: "codegen", expr: input, wrt }) : null);
  const [answer, derivation, code] = await Promise.all(requests);
  if (seq !== sequence) return; // a newer input is on its way
  if (answer.error) {
    showError(answer.error, input);
    setState("error", answer.error.code || "error");
    return;
  }
  clearError();
  // A program's derivations: the answer is each one's result.
  const results = (parts) => ({ derivatives: parts.map((d) => ({ ...d.result, wrt: d.wrt, label: `∇_${d.wrt}` })) });
  showAnswer(command === "derive" && answer.derivations ? results(answer.derivations) : answer, command);
  showDerivation(command === "derive" ? answer : derivation && !derivation.error ? derivation : null);
  tabs.python = code && code.source ? code.source : "";
  showTab(currentTab);
  const ms = (answer.elapsed_us || 0) / 1000;
  $("time").textContent = `answered in ${ms.toFixed(1)} ms (round trip ${answer.roundTripMs.toFixed(0)} ms)`;
  setState("done", "answered");
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(run, DEBOUNCE_MS);
}

function load(example) {
  $("input").value = example.input;
  $("command").value = example.command;
  $("wrt").value = (example.wrt || []).join(", ");
  $("dir").value = example.dir || "";
  run();
}

async function start() {
  for (const b of document.querySelectorAll(".tabs button")) {
    b.addEventListener("click", () => showTab(b.dataset.tab));
  }
  $("copy").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(tabs[currentTab]));
  $("share").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(location.href));
  $("input").addEventListener("input", schedule);
  $("wrt").addEventListener("input", schedule);
  $("dir").addEventListener("input", schedule);
  $("command").addEventListener("change", run);
  $("examples").addEventListener("change", () => {
    const e = examples.find((x) => x.name === $("examples").value);
    if (e) load(e);
  });
  try {
    examples = await (await fetch("/api/examples")).json();
  } catch (e) {
    examples = [];
  }
  const groups = {};
  for (const e of examples) {
    const section = e.name.split("/")[0];
    if (!groups[section]) {
      groups[section] = document.createElement("optgroup");
      groups[section].label = section;
      $("examples").appendChild(groups[section]);
    }
    const option = document.createElement("option");
    option.value = e.name;
    option.textContent = `${e.name.split("/")[1]}: ${e.title}`.slice(0, 90);
    groups[section].appendChild(option);
  }
  if (!fromUrl()) {
    $("input").value = "x^T A x";
    $("wrt").value = "x";
  }
  // A link opened on this page (only its # changes) loads its input too.
  window.addEventListener("hashchange", () => {
    if (fromUrl()) run();
  });
  run();
}

// The input a shared URL holds, if it holds one and it differs from the page's.
function fromUrl() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has("e")) return false;
  const same =
    $("input").value === params.get("e") &&
    $("command").value === (params.get("c") || "grad") &&
    $("wrt").value === (params.get("w") || "");
  $("input").value = params.get("e");
  $("command").value = params.get("c") || "grad";
  $("wrt").value = params.get("w") || "";
  $("dir").value = params.get("d") || "";
  return !same;
}

start();
