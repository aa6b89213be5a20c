// The xlt playground: plain JavaScript over the native API (GET /languages, /models, /memories; POST /translate).
"use strict";

const DEBOUNCE_MS = 500;
const $ = (id) => document.getElementById(id);
const el = {
  form: $("form"), text: $("text"), source: $("source"), target: $("target"), model: $("model"),
  swap: $("swap"), translate: $("translate"), output: $("output"), copy: $("copy"), error: $("error"),
  detected: $("detected"), zeroShot: $("zero-shot"), offTarget: $("off-target"), modelUsed: $("model-used"), latency: $("latency"),
  examples: $("examples"), examplesNote: $("examples-note"), memory: $("memory"), format: $("format"),
  apiKey: $("api-key"),
  file: $("file"), overwrite: $("overwrite"), fuzzy: $("fuzzy"), translateFile: $("translate-file"),
  fileStatus: $("file-status"), download: $("download"),
};

let models = [];          // [{model, languages, directions, few_shot}]
let timer = null;         // the pending debounced translation
let inFlight = null;      // AbortController of the running request
let lastOutput = "";
let detectedSource = "";  // the language the last auto translation was detected in

const names = (() => {
  try {
    const display = new Intl.DisplayNames(["en"], { type: "language" });
    return (code) => display.of(code) || code;
  } catch (_) {
    return (code) => code;
  }
})();

function headers(json) {
  const h = { Accept: "application/json" };
  if (json) h["Content-Type"] = "application/json";
  const key = el.apiKey.value.trim();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function getJson(path) {
  const response = await fetch(path, { headers: headers(false) });
  if (!response.ok) throw await httpError(response);
  return response.json();
}

// A readable sentence for every way a request can fail.
async function httpError(response) {
  let code = "", message = "";
  try {
    const body = await response.json();
    code = body?.error?.code || "";
    message = body?.error?.message || "";
  } catch (_) { /* not JSON: keep the status text */ }
  const retry = response.headers.get("Retry-After");
  const wait = retry ? ` Try again in ${retry} s.` : " Try again in a moment.";
  let text;
  switch (response.status) {
    case 429: text = `The server is busy (${code || "too many requests"}).${wait}`; break;
    case 413: text = `The text is too long for this server: ${message || "request too large"}.`; break;
    case 503: text = `The server is not ready yet.${wait}`; break;
    case 401: case 403: text = `Not allowed: ${message || "an API key is needed"} (set one under options).`; break;
    case 504: text = "The translation took too long. Try a shorter text."; break;
    default: text = message ? `${message} (${code || response.status})` : `Request failed (HTTP ${response.status}).`;
  }
  const err = new Error(text);
  err.status = response.status;
  return err;
}

function currentModel() {
  return models.find((m) => m.model === el.model.value) || models[0];
}

function option(value, label) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  return o;
}

function fillLanguages() {
  const model = currentModel();
  if (!model) return;
  const keepSource = el.source.value, keepTarget = el.target.value;
  el.source.replaceChildren(option("auto", "Auto-detect"),
    ...model.languages.map((l) => option(l, names(l))));
  el.source.value = model.languages.includes(keepSource) ? keepSource : "auto";
  fillTargets(keepTarget);
  const fewShot = Boolean(model.few_shot);
  el.examples.disabled = !fewShot;
  el.examplesNote.textContent = fewShot ? "" : `Model ${model.model} was not trained with examples.`;
}

function fillTargets(keep) {
  const model = currentModel();
  const source = el.source.value;
  const zero = new Map(model.directions.filter((d) => d.source === source).map((d) => [d.target, d.zero_shot]));
  el.target.replaceChildren(...model.languages.filter((l) => l !== source).map((l) => {
    const mark = zero.get(l) ? " (zero-shot)" : "";
    return option(l, names(l) + mark);
  }));
  const fallback = model.languages.find((l) => l !== source && l !== "en") || el.target.options[0]?.value;
  el.target.value = model.languages.includes(keep) && keep !== source ? keep : fallback;
}

function parseExamples() {
  const pairs = [];
  const lines = el.examples.disabled ? [] : el.examples.value.split("\n");
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const cut = line.includes("=>") ? line.split("=>") : line.split("\t");
    if (cut.length !== 2 || !cut[0].trim() || !cut[1].trim()) {
      throw new Error(`Example line ${i + 1} needs the form "source => target".`);
    }
    pairs.push({ source: cut[0].trim(), target: cut[1].trim() });
  });
  return pairs;
}

function showError(message) {
  el.error.textContent = message;
  el.error.hidden = !message;
}

function setBusy(busy) {
  el.output.setAttribute("aria-busy", String(busy));
  el.output.classList.toggle("loading", busy);
  el.translate.textContent = busy ? "Translating…" : "Translate";
}

function show(translation, ms) {
  lastOutput = translation.text;
  detectedSource = translation.source;
  el.output.textContent = translation.text;
  el.copy.disabled = !translation.text;
  el.detected.hidden = el.source.value !== "auto";
  el.detected.textContent = `Detected: ${names(translation.source)}`;
  el.zeroShot.hidden = !translation.zero_shot;
  el.offTarget.hidden = translation.off_target !== true;
  el.modelUsed.hidden = false;
  el.modelUsed.textContent = `Model: ${translation.model}${translation.via ? ` via ${names(translation.via)}` : ""}`;
  el.latency.hidden = false;
  el.latency.textContent = `${Math.round(ms)} ms`;
}

function clearOutput() {
  lastOutput = "";
  detectedSource = "";
  el.output.textContent = "";
  el.copy.disabled = true;
  for (const e of [el.detected, el.zeroShot, el.offTarget, el.modelUsed, el.latency]) e.hidden = true;
}

async function translate() {
  clearTimeout(timer);
  const text = el.text.value;
  if (inFlight) inFlight.abort();
  if (!text.trim()) {
    clearOutput();
    showError("");
    return;
  }
  let body;
  try {
    body = { text, source: el.source.value, target: el.target.value, format: el.format.value };
    if (el.model.value) body.model = el.model.value;
    const examples = parseExamples();
    if (examples.length) body.examples = examples;
    if (el.memory.value) body.memory = el.memory.value;
  } catch (err) {
    showError(err.message);
    return;
  }
  const controller = new AbortController();
  inFlight = controller;
  setBusy(true);
  const started = performance.now();
  try {
    const response = await fetch("/translate", {
      method: "POST", headers: headers(true), body: JSON.stringify(body), signal: controller.signal,
    });
    if (!response.ok) throw await httpError(response);
    const result = await response.json();
    show(result.translations[0], performance.now() - started);
    showError("");
  } catch (err) {
    if (err.name === "AbortError") return;  // a newer request replaced this one
    showError(err.status ? err.message : `Cannot reach the server (${err.message}).`);
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      setBusy(false);
    }
  }
}

function translateSoon() {
  clearTimeout(timer);
  timer = setTimeout(translate, DEBOUNCE_MS);
}

async function copyOutput() {
  try {
    await navigator.clipboard.writeText(lastOutput);
  } catch (_) {  // no clipboard API (plain http, old browser): select the text instead
    const range = document.createRange();
    range.selectNodeContents(el.output);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
  }
  el.copy.textContent = "Copied";
  setTimeout(() => { el.copy.textContent = "Copy"; }, 1500);
}

function swap() {
  const source = el.source.value === "auto" ? detectedSource : el.source.value;
  const target = el.target.value;
  if (!source || source === "auto") return;  // nothing detected yet: nothing to swap to
  el.source.value = target;
  fillTargets(source);
  if (lastOutput) el.text.value = lastOutput;
  translate();
}

async function load() {
  try {
    const [langs, info] = await Promise.all([getJson("/languages"), getJson("/models")]);
    const fewShot = new Map(info.models.map((m) => [m.name, m.few_shot]));
    models = langs.models.map((m) => ({ ...m, few_shot: fewShot.get(m.model) }));
    el.model.replaceChildren(...models.map((m) => option(m.model, m.model)));
    if (info.default) el.model.value = info.default;
    el.model.disabled = models.length < 2;
    if (!models.length) showError("The server has no model loaded.");
    fillLanguages();
    document.body.dataset.ready = "true";
  } catch (err) {
    showError(err.status ? err.message : `Cannot reach the server (${err.message}).`);
  }
  try {
    const list = await getJson("/memories");
    el.memory.append(...list.memories.map((m) => option(m.id, m.name)));
  } catch (_) { /* memories unavailable or not allowed: translate without */ }
}

// The file tab: POST /translate/file (multipart) and a download link to the translated file.
function downloadName(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const utf8 = /filename\*=UTF-8''([^;]+)/.exec(header);
  if (utf8) return decodeURIComponent(utf8[1]);
  const plain = /filename="([^"]+)"/.exec(header);
  return plain ? plain[1] : fallback;
}

async function translateFile() {
  const file = el.file.files[0];
  if (!file) { el.fileStatus.textContent = "Choose a file first."; return; }
  const form = new FormData();
  form.append("file", file);
  form.append("source", el.source.value);
  form.append("target", el.target.value);
  if (el.model.value) form.append("model", el.model.value);
  if (el.memory.value) form.append("memory", el.memory.value);
  form.append("options", JSON.stringify({ overwrite: el.overwrite.checked, mark_fuzzy: el.fuzzy.checked }));
  el.error.hidden = true;
  el.download.hidden = true;
  el.translateFile.disabled = true;
  el.fileStatus.textContent = `Translating ${file.name}…`;
  const started = performance.now();
  try {
    const response = await fetch("/translate/file", { method: "POST", headers: headers(false), body: form });
    if (!response.ok) throw await httpError(response);
    const name = downloadName(response, file.name);
    if (el.download.href) URL.revokeObjectURL(el.download.href);
    el.download.href = URL.createObjectURL(await response.blob());
    el.download.download = name;
    el.download.textContent = `Download ${name}`;
    el.download.hidden = false;
    el.fileStatus.textContent = `Done in ${Math.round(performance.now() - started)} ms.`;
  } catch (err) {
    el.fileStatus.textContent = "";
    showError(err.status ? err.message : `Cannot reach the server (${err.message}).`);
  } finally {
    el.translateFile.disabled = false;
  }
}

el.translateFile.addEventListener("click", translateFile);
el.form.addEventListener("submit", (event) => { event.preventDefault(); translate(); });
el.text.addEventListener("input", translateSoon);
el.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    translate();
  }
});
el.model.addEventListener("change", () => { fillLanguages(); translateSoon(); });
el.source.addEventListener("change", () => { fillTargets(el.target.value); translateSoon(); });
for (const input of [el.target, el.memory, el.format]) input.addEventListener("change", translateSoon);
el.examples.addEventListener("input", translateSoon);
el.copy.addEventListener("click", copyOutput);
el.swap.addEventListener("click", swap);
load();
