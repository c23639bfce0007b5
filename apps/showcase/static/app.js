// The index page's demos. Everything goes to this server; nothing is loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const now = () => performance.now();

// ---- 1. 100 concurrent sleeps ----------------------------------------------------------
// A browser opens at most 6 HTTP/1.1 connections per host, which would queue 100 requests
// into 17 rounds. On a loopback address the page spreads them over host names
// w0.localhost … w16.localhost (browsers resolve *.localhost to this machine), 6 each;
// /io/sleep allows any origin to read its answer, so each one is checked.
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;
const SPREAD_HOSTS = 17;

function sleepUrl(i) {
  const path = "/io/sleep?ms=1000";
  if (!LOOPBACK.test(location.hostname)) return path;
  const host = `w${i % SPREAD_HOSTS}.localhost:${location.port || 80}`;
  return `${location.protocol}//${host}${path}`;
}

async function sleepOnce(i) {
  const res = await fetch(sleepUrl(i), { cache: "no-store" });
  const body = await res.json();
  if (body.slept_ms !== 1000) throw new Error(`unexpected answer ${JSON.stringify(body)}`);
}

async function runSleeps() {
  const button = $("sleep-run");
  button.disabled = true;
  $("sleep-result").textContent = "running…";
  const started = now();
  const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => sleepOnce(i)));
  const total = (now() - started) / 1000;
  const ok = results.filter((r) => r.status === "fulfilled").length;
  const out = $("sleep-result");
  out.textContent = `${ok}/100 answered in ${total.toFixed(2)} s`;
  out.dataset.seconds = total.toFixed(3);
  out.dataset.answered = ok;
  $("sleep-note").textContent = LOOPBACK.test(location.hostname)
    ? "Spread over w0…w16.localhost to get past the browser's 6 connections per host."
    : "Not on loopback: the browser's 6 connections per host queue these requests (≈17 s).";
  button.disabled = false;
}

// ---- 2. fib while pinging --------------------------------------------------------------
const MODES = ["inline", "thread", "process", "queue"];
const COLORS = { inline: "#d6453d", thread: "#2f6fdf", process: "#2e9e5b", queue: "#8a4fc7" };
const PING_EVERY_MS = 20;
const FIBS_PER_MODE = 3;
const pings = { inline: [], thread: [], process: [], queue: [] };

/// Pings /healthz every PING_EVERY_MS until `done` is set; each latency is recorded and drawn.
async function pingLoop(mode, state) {
  const pids = new Set();
  const begin = now();
  while (!state.done) {
    const started = now();
    const res = await fetch("/healthz", { cache: "no-store" });
    await res.text();
    pids.add(res.headers.get("x-worker-pid"));
    pings[mode].push({ at: started - begin, ms: now() - started });
    drawPlot();
    const wait = PING_EVERY_MS - (now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return pids;
}

async function runMode(mode, n) {
  // Warm-up outside the measurement: the first process-mode call starts the worker's pool.
  // A server started without --broker answers mode=queue with 503 and says why.
  const warm = await fetch(`/cpu/fib/1?mode=${mode}`, { cache: "no-store" });
  const body = await warm.json();
  if (!warm.ok) return { mode, unavailable: `${warm.status} ${body.detail}` };
  pings[mode] = [];
  const state = { done: false };
  const pinging = pingLoop(mode, state);
  const fibPids = new Set();
  const started = now();
  for (let i = 0; i < FIBS_PER_MODE; i++) {
    const res = await fetch(`/cpu/fib/${n}?mode=${mode}`, { cache: "no-store" });
    await res.json();
    fibPids.add(res.headers.get("x-worker-pid"));
  }
  const took = now() - started;
  state.done = true;
  const pingPids = await pinging;
  const worst = Math.max(0, ...pings[mode].map((p) => p.ms));
  return { mode, took, worst, fibPids: [...fibPids], pingPids: [...pingPids] };
}

async function runFib() {
  const button = $("fib-run");
  button.disabled = true;
  const n = Math.min(35, Math.max(20, parseInt($("fib-n").value, 10) || 32));
  $("fib-n-label").textContent = n;
  const out = $("fib-result");
  out.textContent = "running…";
  const lines = [];
  for (const mode of MODES) {
    const r = await runMode(mode, n);
    if (r.unavailable) {
      out.dataset[mode] = "off";
      lines.push(`${mode}: not run (${r.unavailable})`);
      out.textContent = lines.join(" · ");
      continue;
    }
    out.dataset[mode] = r.worst.toFixed(1);
    // In queue mode fib runs in a tier worker process; the pid is the HTTP worker that answered.
    const fibWhere = mode === "queue" ? "fib on a tier worker, answered by" : "fib on";
    lines.push(`${mode}: worst ping ${r.worst.toFixed(0)} ms (${fibWhere} ${r.fibPids.join(",")}, pings on ${r.pingPids.join(",")})`);
    out.textContent = lines.join(" · ");
  }
  out.dataset.done = "1";
  button.disabled = false;
}

const SVG = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

/// One polyline per mode: x = when the ping was sent (ms since the mode started), y = its
/// latency (ms), both scaled to the largest seen.
function drawPlot() {
  const svg = $("fib-plot");
  const [W, H, L, B] = [600, 220, 40, 20];
  const all = MODES.flatMap((m) => pings[m]);
  const maxY = Math.max(10, ...all.map((p) => p.ms));
  const maxX = Math.max(100, ...all.map((p) => p.at + p.ms));
  svg.replaceChildren();
  svg.append(svgEl("line", { x1: L, y1: H - B, x2: W, y2: H - B, stroke: "#aab" }));
  svg.append(svgEl("line", { x1: L, y1: 0, x2: L, y2: H - B, stroke: "#aab" }));
  svg.append(svgEl("text", { x: 2, y: 12 }, `${maxY.toFixed(0)} ms`));
  svg.append(svgEl("text", { x: 2, y: H - B }, "0"));
  svg.append(svgEl("text", { x: W - 150, y: H - 4 }, `time sent (0–${maxX.toFixed(0)} ms)`));
  MODES.forEach((mode, k) => {
    svg.append(svgEl("text", { x: L + 10 + k * 80, y: 14, fill: COLORS[mode] }, mode));
    const points = pings[mode]
      .map((p) => `${L + (p.at / maxX) * (W - L)},${H - B - (p.ms / maxY) * (H - B - 20)}`)
      .join(" ");
    if (points) {
      svg.append(svgEl("polyline", {
        points, fill: "none", stroke: COLORS[mode], "stroke-width": 2, "data-mode": mode,
      }));
    }
  });
}

// ---- 3. chat -------------------------------------------------------------------------
function startChat() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/chat`);
  const state = $("chat-state");
  ws.onopen = () => { state.textContent = "connected"; state.dataset.open = "1"; };
  ws.onclose = () => { state.textContent = "disconnected (reload to reconnect)"; delete state.dataset.open; };
  ws.onmessage = (e) => {
    const li = document.createElement("li");
    li.textContent = e.data;
    $("chat-log").append(li);
    li.scrollIntoView({ block: "nearest" });
  };
  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("chat-input");
    if (input.value && ws.readyState === WebSocket.OPEN) ws.send(input.value);
    input.value = "";
  });
}

// ---- 4. events ticker ------------------------------------------------------------------
function runEvents() {
  const n = 20;
  const out = $("events-result");
  const button = $("events-run");
  button.disabled = true;
  const source = new EventSource(`/events?n=${n}&interval_ms=250`);
  source.onmessage = (e) => {
    const i = parseInt(e.data, 10);
    out.textContent = `event ${i + 1} / ${n}`;
    if (i === n - 1) out.dataset.done = "1";
  };
  // The server ends the stream after n events; EventSource reports that as an error and would
  // reconnect (and start again), so the page closes it here.
  source.onerror = () => { source.close(); button.disabled = false; };
}

document.addEventListener("DOMContentLoaded", () => {
  $("sleep-run").addEventListener("click", runSleeps);
  $("fib-run").addEventListener("click", runFib);
  $("events-run").addEventListener("click", runEvents);
  drawPlot();
  startChat();
});
