// seqlab playground: plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function showError(id, message) {
  const box = $(id);
  box.textContent = message || "";
  box.hidden = !message;
}

// JSON API call; a non-2xx answer throws an Error carrying the server's sentence.
async function api(path, options = {}) {
  const init = { ...options, headers: { "Content-Type": "application/json", ...(options.headers || {}) } };
  const response = await fetch(path, init);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}

// ---------------------------------------------------------------- tabs

const tabs = Array.from(document.querySelectorAll('[role="tab"]'));

function selectTab(tab, focus = true) {
  for (const t of tabs) {
    const selected = t === tab;
    t.setAttribute("aria-selected", String(selected));
    t.tabIndex = selected ? 0 : -1;
    document.getElementById(t.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
  history.replaceState(null, "", "#" + tab.id.replace("tab-", ""));
}

tabs.forEach((tab, i) => {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (event) => {
    const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      selectTab(tabs[(moves[event.key] + tabs.length) % tabs.length]);
    }
  });
});

// Enter submits a form from its textarea; Shift+Enter keeps the new line.
for (const area of document.querySelectorAll("form textarea")) {
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      area.form.requestSubmit();
    }
  });
}

// ---------------------------------------------------------------- models

const state = { models: [], limits: {} };

function fillSelect(select, models, formId, kindName) {
  select.replaceChildren();
  for (const m of models) select.append(el("option", { value: m.name }, m.name));
  const form = document.getElementById(formId);
  const controls = form ? form.querySelectorAll("button, textarea, input, select") : [select];
  if (!models.length) {
    select.append(el("option", { value: "" }, `no ${kindName} loaded`));
    controls.forEach((c) => (c.disabled = true));
  }
}

async function loadModels() {
  try {
    const data = await api("/v1/models");
    state.models = data.models;
    state.limits = data.limits;
    const of = (kind) => data.models.filter((m) => m.kind === kind);
    fillSelect($("#classify-model"), of("classifier"), "classify-form", "classifier");
    fillSelect($("#generate-model"), of("lm"), "generate-form", "language model");
    fillSelect($("#explore-model"), of("embeddings"), null, "word vectors");
    if (!of("embeddings").length) {
      for (const id of ["neighbors-form", "project-form"]) {
        document.getElementById(id).querySelectorAll("button, textarea, input").forEach((c) => (c.disabled = true));
      }
    }
    const nouns = {
      classifier: ["classifier", "classifiers"],
      lm: ["language model", "language models"],
      embeddings: ["set of word vectors", "sets of word vectors"],
    };
    const counts = Object.entries(nouns).map(([k, [one, many]]) => {
      const n = of(k).length;
      return `${n} ${n === 1 ? one : many}`;
    });
    $("#loaded").textContent = `Loaded: ${counts.join(", ")}.`;
    $("#generate-length").max = data.limits.max_length;
    $("#neighbors-topn").max = data.limits.max_topn;
    suggestWords();
    // Start on the first tab that has something to show, or the one named in the address.
    const wanted = document.getElementById("tab-" + location.hash.slice(1));
    const firstUseful = [["classifier", 0], ["lm", 1], ["embeddings", 2]].find(([k]) => of(k).length);
    if (wanted) selectTab(wanted, false);
    else if (firstUseful) selectTab(tabs[firstUseful[1]], false);
  } catch (error) {
    $("#loaded").textContent = `Could not list the models: ${error.message}`;
  }
}

function currentVectors() {
  return state.models.find((m) => m.name === $("#explore-model").value);
}

function suggestWords() {
  const vectors = currentVectors();
  if (!vectors) return;
  const examples = vectors.examples || [];
  const word = $("#neighbors-word");
  word.placeholder = examples.length ? `e.g. ${examples.slice(0, 3).join(", ")}` : "";
  const words = $("#project-words");
  if (!words.value) words.value = examples.slice(0, 10).join(" ");
}
$("#explore-model").addEventListener("change", suggestWords);

// ---------------------------------------------------------------- classify

function tokenSpans(tokens) {
  const peak = Math.max(1e-12, ...tokens.map((t) => Math.abs(t.score)));
  const frag = document.createDocumentFragment();
  tokens.forEach((t, i) => {
    const strength = Math.abs(t.score) / peak;
    const span = el("span", {
      class: "tok " + (t.score > 0 ? "pos" : t.score < 0 ? "neg" : "zero"),
      tabindex: "0",
      title: `${t.token}: ${t.score >= 0 ? "+" : ""}${t.score.toFixed(4)}`,
      "aria-label": `${t.token} ${t.score >= 0 ? "plus" : "minus"} ${Math.abs(t.score).toFixed(3)}`,
    }, t.token);
    if (strength >= 0.05) {
      const rgb = t.score > 0 ? "22, 140, 70" : "205, 40, 40";
      span.style.backgroundColor = `rgba(${rgb}, ${(0.12 + 0.55 * strength).toFixed(3)})`;
    }
    frag.append(span);
    if (i < tokens.length - 1) frag.append(" ");
  });
  return frag;
}

// Transformer runs: the attention matrix of the last layer (mean of the heads) as a table,
// one row per word (the query), one column per word it attends to, darker = more weight.
const ATTENTION_TOKENS = 40;

function attentionTable(data) {
  const table = el("table", { id: "attention-table", class: "heat" });
  const peak = Math.max(1e-12, ...data.matrix.flat());
  const head = el("tr");
  head.append(el("th", { scope: "col" }, ""));
  for (const t of data.tokens) head.append(el("th", { scope: "col", class: "key" }, t));
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  data.matrix.forEach((row, i) => {
    const tr = el("tr");
    tr.append(el("th", { scope: "row" }, data.tokens[i]));
    row.forEach((w, j) => {
      const label = `${data.tokens[i]} → ${data.tokens[j]}: ${w.toFixed(3)}`;
      const cell = el("td", { title: label, "aria-label": label });
      cell.style.backgroundColor = `rgba(36, 86, 201, ${(0.04 + 0.96 * (w / peak)).toFixed(3)})`;
      tr.append(cell);
    });
    table.tBodies[0].append(tr);
  });
  return table;
}

async function showAttention(model, text) {
  const box = $("#classify-attention");
  const info = state.models.find((m) => m.name === model);
  box.hidden = !(info && info.attention);
  if (box.hidden) return;
  $("#attention-table").replaceChildren();
  try {
    const data = await api("/v1/attention", {
      method: "POST",
      body: JSON.stringify({ model, text, max_shown: ATTENTION_TOKENS }),
    });
    $("#attention-table").replaceWith(attentionTable(data));
    const cut = data.total_tokens > data.tokens.length ? ` First ${data.tokens.length} of ${data.total_tokens} words shown.` : "";
    $("#attention-note").textContent = `Layer ${data.layer} (the last), mean of ${data.heads} heads: each row is a word, each column a word it attends to (darker: more).${cut}`;
  } catch (error) {
    $("#attention-note").textContent = `No attention map: ${error.message}`;
  }
}

$("#classify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("#classify-text").value;
  showError("#classify-error", "");
  if (!text.trim()) {
    showError("#classify-error", "Type a review first.");
    $("#classify-text").focus();
    return;
  }
  const button = $("#classify-submit");
  button.disabled = true;
  button.textContent = "Classifying…";
  try {
    const data = await api("/v1/classify", {
      method: "POST",
      body: JSON.stringify({ model: $("#classify-model").value, texts: [text], explain: $("#classify-explain").checked }),
    });
    const result = data.results[0];
    $("#classify-label").textContent = result.label;
    $("#classify-prob").textContent = `probability ${(100 * result.probability).toFixed(1)}%`;
    const bars = $("#classify-bars");
    bars.replaceChildren();
    for (const [label, p] of Object.entries(result.probabilities).sort((a, b) => b[1] - a[1])) {
      const row = el("div", { class: "bar" });
      const track = el("div", { class: "track", role: "img", "aria-label": `${label} ${(100 * p).toFixed(1)} percent` });
      const fill = el("div", { class: "fill" });
      fill.style.width = `${(100 * p).toFixed(1)}%`;
      track.append(fill);
      row.append(el("span", {}, label), track, el("span", { class: "num" }, `${(100 * p).toFixed(1)}%`));
      bars.append(row);
    }
    const tokens = $("#classify-tokens");
    tokens.replaceChildren();
    if (result.tokens && result.tokens.length) tokens.append(tokenSpans(result.tokens));
    else tokens.textContent = result.tokens ? "(no words the model knows)" : "(colouring switched off)";
    $("#classify-result").hidden = false;
    await showAttention(data.model, text);
  } catch (error) {
    showError("#classify-error", error.message);
  } finally {
    button.disabled = false;
    button.textContent = "Classify";
  }
});

// ---------------------------------------------------------------- generate

const temperature = $("#generate-temperature");
temperature.addEventListener("input", () => {
  $("#generate-temperature-value").textContent = Number(temperature.value).toFixed(2);
});

let controller = null;

function parseEvent(raw) {
  let event = "message";
  const data = [];
  for (const line of raw.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return { event, data: data.length ? JSON.parse(data.join("\n")) : null };
}

$("#generate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (controller) return; // one stream at a time
  showError("#generate-error", "");
  const prompt = $("#generate-prompt").value;
  if (!prompt) {
    showError("#generate-error", "Write a prompt first.");
    $("#generate-prompt").focus();
    return;
  }
  const seedText = $("#generate-seed").value.trim();
  const body = {
    model: $("#generate-model").value,
    prompt,
    length: Number($("#generate-length").value) || 300,
    temperature: Number(temperature.value),
  };
  if (seedText !== "") body.seed = Number(seedText);

  const out = $("#generate-text");
  const status = $("#generate-status");
  out.textContent = "";
  $("#generate-prompt-echo").textContent = prompt;
  controller = new AbortController();
  $("#generate-submit").disabled = true;
  $("#generate-stop").disabled = false;
  status.textContent = "Generating…";
  let tokens = 0;
  let seed = null;
  try {
    const response = await fetch("/v1/generate", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!response.ok) {
      const err = await response.json().catch(() => null);
      throw new Error(err && err.error ? err.error : `HTTP ${response.status}`);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const message = parseEvent(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (message.event === "start") {
          seed = message.data.seed;
        } else if (message.event === "token") {
          out.append(message.data.text);
          tokens += 1;
        } else if (message.event === "done") {
          status.textContent = `Done: ${message.data.tokens} tokens in ${message.data.seconds} s (seed ${seed}, temperature ${body.temperature}).`;
        } else if (message.event === "error") {
          throw new Error(message.data.error);
        }
      }
    }
  } catch (error) {
    if (error.name === "AbortError") {
      status.textContent = `Stopped after ${tokens} tokens (seed ${seed}).`;
    } else {
      status.textContent = `Stopped after ${tokens} tokens.`;
      showError("#generate-error", error.message);
    }
  } finally {
    controller = null;
    $("#generate-submit").disabled = false;
    $("#generate-stop").disabled = true;
  }
});

$("#generate-stop").addEventListener("click", () => {
  if (controller) controller.abort();
  $("#generate-submit").focus();
});

// ---------------------------------------------------------------- explore

const SVG = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawMap(points, query) {
  // Drawn at the width it is shown at, so that labels keep their size on a phone.
  const width = Math.max(280, Math.round($("#project-plot").clientWidth || 600));
  const height = Math.round(Math.min(420, width * 0.72)), pad = 28;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (width - 2 * pad - 70);
  const sy = (y) => height - pad - ((y - y0) / (y1 - y0 || 1)) * (height - 2 * pad);
  const svg = svgEl("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `Map of ${points.length} words: ${points.map((p) => p.word).join(", ")}`,
  });
  svg.append(svgEl("title", {}, "Words placed by the first two principal components of their vectors"));
  svg.append(svgEl("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad }));
  svg.append(svgEl("line", { x1: pad, y1: pad, x2: pad, y2: height - pad }));
  for (const p of points) {
    const g = svgEl("g", { class: "point" });
    g.append(svgEl("circle", { cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 5, class: p.word === query ? "query" : "" }));
    g.append(svgEl("text", { x: (sx(p.x) + 8).toFixed(1), y: (sy(p.y) + 4).toFixed(1) }, p.word));
    svg.append(g);
  }
  $("#project-plot").replaceChildren(svg);
}

async function project(words, query) {
  showError("#project-error", "");
  try {
    const data = await api("/v1/project", {
      method: "POST",
      body: JSON.stringify({ model: $("#explore-model").value, words }),
    });
    drawMap(data.points, query);
    $("#project-missing").textContent = data.missing.length ? `Not in the vocabulary: ${data.missing.join(", ")}` : "";
  } catch (error) {
    showError("#project-error", error.message);
  }
}

$("#neighbors-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("#neighbors-error", "");
  const word = $("#neighbors-word").value.trim();
  const list = $("#neighbors-list");
  if (!word) {
    showError("#neighbors-error", "Type a word first.");
    $("#neighbors-word").focus();
    return;
  }
  const params = new URLSearchParams({ word, topn: $("#neighbors-topn").value || "10", model: $("#explore-model").value });
  try {
    const data = await api(`/v1/neighbors?${params}`, { method: "GET" });
    list.replaceChildren();
    for (const n of data.neighbors) {
      const item = el("li");
      const button = el("button", { type: "button", class: "word", title: `neighbours of ${n.word}` }, n.word);
      button.addEventListener("click", () => {
        $("#neighbors-word").value = n.word;
        $("#neighbors-form").requestSubmit();
      });
      item.append(button, el("span", { class: "sim" }, n.similarity.toFixed(3)));
      list.append(item);
    }
    const words = [word, ...data.neighbors.map((n) => n.word)];
    $("#project-words").value = words.join(" ");
    project(words, word);
  } catch (error) {
    list.replaceChildren();
    showError("#neighbors-error", error.message);
  }
});

$("#project-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const words = $("#project-words").value.split(/[\s,]+/).filter(Boolean);
  if (words.length < 2) {
    showError("#project-error", "Give at least two words.");
    return;
  }
  project(words, null);
});

loadModels();
