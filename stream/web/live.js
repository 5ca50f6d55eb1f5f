// StrideGuard live pages: an EventSource feed from the server's bus, reconnecting by itself.
"use strict";
(function () {
  const state = { connects: 0, metrics: null, alerts: [], vibrations: 0, spoken: [], runners: {},
                  snoozes: {}, snoozeRequests: [], dataTNs: null };
  const SNOOZE_MIN = 10;  // minutes of run (data) time per tap
  const METRIC_LABELS = { cadence: "cadence", impact: "impact", sway_ml: "side-to-side sway",
                          sway_ap: "front-to-back sway", lean: "lean", step_asymmetry: "step asymmetry",
                          impact_asymmetry: "impact asymmetry", fatigue: "fatigue" };

  function feed(url, handlers, onState) {
    let source = null;
    let delayMs = 500;
    function open() {
      source = new EventSource(url);
      source.onopen = function () { delayMs = 500; state.connects += 1; onState("live"); };
      source.onerror = function () {
        onState("reconnecting");
        if (source.readyState === EventSource.CLOSED) {  // the browser gave up: retry with backoff
          source.close();
          const wait = delayMs * (0.5 + Math.random());
          delayMs = Math.min(delayMs * 2, 10000);
          setTimeout(open, wait);
        }
      };
      for (const kind of Object.keys(handlers)) {
        source.addEventListener(kind, function (ev) {
          let data;
          try { data = JSON.parse(ev.data); } catch (e) { return; }
          handlers[kind](data.message, data);
        });
      }
    }
    open();
  }

  function setConn(s) {
    const el = document.getElementById("conn");
    el.dataset.state = s;
    el.textContent = s === "live" ? "live" : s === "reconnecting" ? "reconnecting…" : "connecting…";
  }

  function fmt(v, digits) { return (v === null || v === undefined) ? "–" : Number(v).toFixed(digits); }
  function level(score) { return score === null || score === undefined ? "" : score >= 50 ? "alert" : score >= 25 ? "warning" : "ok"; }

  function vibrate(severity) {
    const pattern = severity === "alert" ? [400, 150, 400, 150, 400] : [300, 120, 300];
    state.vibrations += 1;
    try { if (navigator.vibrate) navigator.vibrate(pattern); } catch (e) { /* not supported */ }
  }

  function speak(text) {
    state.spoken.push(text);
    try {
      if (!("speechSynthesis" in window)) return;
      window.speechSynthesis.cancel();
      window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
    } catch (e) { /* no voice here */ }
  }

  function snoozeLabel(metric) { return metric === null ? "all alerts" : (METRIC_LABELS[metric] || metric); }

  function setSnoozeStatus(text) { document.getElementById("snooze-status").textContent = text; }

  // Snoozes run on data time: what is left is until_t_ns minus the latest window's end, so a replay at
  // 60x counts down 60x faster, exactly as the risk engine sees it.
  function renderSnoozes() {
    const parts = [];
    for (const key of Object.keys(state.snoozes)) {
      const leftS = (state.snoozes[key] - state.dataTNs) / 1e9;
      if (!(leftS > 0)) { delete state.snoozes[key]; continue; }
      parts.push("Snoozed " + snoozeLabel(key === "*" ? null : key) + ": " + Math.ceil(leftS / 60) + " min left");
    }
    const bar = document.querySelector(".snooze-bar");
    const wasActive = bar.dataset.active === "yes";
    bar.dataset.active = parts.length ? "yes" : "no";
    if (parts.length || wasActive) setSnoozeStatus(parts.join(" · "));  // keep a "failed" line otherwise
  }

  function requestSnooze(name, metric) {
    setSnoozeStatus("Snoozing " + snoozeLabel(metric) + "…");
    fetch("/api/runner/" + encodeURIComponent(name) + "/snooze", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ metric: metric, minutes: SNOOZE_MIN }),
    }).then(function (r) {
      return r.json().then(function (body) {
        state.snoozeRequests.push({ status: r.status, body: body });
        if (!r.ok) setSnoozeStatus("Snooze failed: " + body.error);
      });
    }).catch(function () { setSnoozeStatus("Snooze failed: no connection to the server"); });
  }

  function runnerPage(name) {
    document.getElementById("runner-name").textContent = name;
    document.title = "StrideGuard — " + name;
    const seen = new Set();
    let lastUpdate = null;
    let clearTimer = null;
    const enable = document.getElementById("enable");
    enable.addEventListener("click", function () {
      try { if (navigator.vibrate) navigator.vibrate(50); } catch (e) { /* ignore */ }
      speak("Voice cues on");
      enable.hidden = true;
    });
    document.getElementById("snooze-all").addEventListener("click", function () { requestSnooze(name, null); });
    const snoozeMetric = document.getElementById("snooze-metric");
    snoozeMetric.addEventListener("click", function () { requestSnooze(name, snoozeMetric.dataset.metric); });

    function showBanner(ev) {
      const banner = document.getElementById("banner");
      banner.hidden = false;
      banner.dataset.kind = ev.kind;
      banner.dataset.severity = ev.severity;
      banner.dataset.metric = ev.metric;
      document.getElementById("banner-message").textContent = ev.kind === "cleared" ? "OK again: " + ev.message : ev.message;
      document.getElementById("banner-cue").textContent = ev.kind === "cleared" ? "" : ev.cue;
      snoozeMetric.hidden = ev.kind === "cleared" || !ev.metric;
      snoozeMetric.dataset.metric = ev.metric;
      snoozeMetric.textContent = "Snooze " + snoozeLabel(ev.metric) + " " + SNOOZE_MIN + " min";
      if (clearTimer) clearTimeout(clearTimer);
      if (ev.kind === "cleared") clearTimer = setTimeout(function () { banner.hidden = true; }, 15000);
    }

    feed("/events?runner=" + encodeURIComponent(name), {
      metrics: function (m) {
        state.metrics = m;
        lastUpdate = Date.now();
        document.getElementById("unknown").hidden = true;
        document.getElementById("cadence").textContent = fmt(m.cadence_spm, 0);
        document.getElementById("impact").textContent = fmt(m.impact_g, 1);
        document.getElementById("sway").textContent = fmt(m.sway_ml_ratio, 2);
        document.getElementById("lean").textContent = fmt(m.lean_deg, 0);
        document.getElementById("risk").textContent = fmt(m.risk_score, 0);
        document.querySelector(".metric.risk").dataset.level = level(m.risk_score);
        if (m.t_end_ns !== undefined && m.t_end_ns !== null) state.dataTNs = Math.max(state.dataTNs || 0, m.t_end_ns);
        renderSnoozes();
      },
      control: function (c, envelope) {
        // the pipeline's answers to a snooze (from this page or another one of the same runner)
        if (c.action === "snoozed") {
          state.snoozes[c.metric === null ? "*" : c.metric] = c.until_t_ns;
          state.dataTNs = Math.max(state.dataTNs || 0, c.from_t_ns);
          renderSnoozes();
        } else if (c.action === "refused" && !envelope.replay) {
          setSnoozeStatus("Snooze refused: " + c.reason);
        }
      },
      alerts: function (ev, envelope) {
        // Only what the alert dispatcher delivered to this page (after de-duplication and rate limiting)
        // is shown and felt; the raw risk events on the same topic are for dashboards and logs.
        if (!ev.delivered) return;
        const key = [ev.session_id, ev.metric, ev.onset_t_ns, ev.kind, ev.severity].join("|");
        if (seen.has(key)) return;
        seen.add(key);
        state.alerts.push(ev);
        showBanner(ev);
        if (ev.kind === "onset" && !envelope.replay) {  // a replayed old alert is shown, not felt
          vibrate(ev.severity);
          speak(ev.message + ". " + ev.cue);
        }
      },
      status: function (s) {
        document.getElementById("unknown").hidden = true;
        if (s.state === "finished") document.getElementById("updated").textContent = "session finished";
      },
      unknown: function (u) {
        // the server has never seen this name: say so at once, with the runners who are here
        const el = document.getElementById("unknown");
        state.unknown = u;
        el.replaceChildren("No runner called \u201c" + u.runner + "\u201d is running here. ",
                           u.running.length ? "Running now: " : "Nobody is running here yet.");
        u.running.forEach(function (n, i) {
          const a = document.createElement("a");
          a.href = "/runner/" + encodeURIComponent(n);
          a.textContent = n;
          el.append(i ? ", " : "", a);
        });
        el.hidden = false;
      },
    }, setConn);

    setInterval(function () {
      if (lastUpdate === null) return;
      const s = Math.round((Date.now() - lastUpdate) / 1000);
      document.getElementById("updated").textContent = "updated " + s + " s ago";
    }, 1000);
  }

  function teamPage() {
    const rows = state.runners;
    function render() {
      const names = Object.keys(rows).sort(function (a, b) {
        const ra = rows[a].risk, rb = rows[b].risk;
        return (rb === null ? -1 : rb) - (ra === null ? -1 : ra) || a.localeCompare(b);
      });
      const body = document.querySelector("#runners tbody");
      body.replaceChildren();
      for (const n of names) {
        const r = rows[n], m = r.metrics || {};
        const tr = document.createElement("tr");
        tr.dataset.runner = n;
        tr.dataset.level = level(r.risk);
        const cells = [null, fmt(r.risk, 0), fmt(m.cadence_spm, 0), fmt(m.impact_g, 1), fmt(m.sway_ml_ratio, 2),
                       fmt(m.lean_deg, 0), r.alert ? r.alert : ""];
        cells.forEach(function (text, i) {
          const td = document.createElement("td");
          if (i === 0) {
            const a = document.createElement("a");
            a.href = "/runner/" + encodeURIComponent(n);
            a.textContent = n;
            const b = document.createElement("button");
            b.type = "button";
            b.className = "qr-button";
            b.textContent = "QR";
            b.addEventListener("click", function () { showQr(n); });
            td.append(a, " ", b);
          } else { td.textContent = text; }
          if (i === 1) td.className = "risk";
          tr.appendChild(td);
        });
        body.appendChild(tr);
      }
    }
    function row(name) { return rows[name] || (rows[name] = { risk: null, metrics: null, alert: "" }); }
    // a QR code of a page's address (with its key) for a phone; none when the server serves this computer only
    const qr = document.getElementById("qr");
    qr.addEventListener("load", function () { document.getElementById("phone").hidden = false; });
    qr.addEventListener("error", function () { document.getElementById("phone").hidden = true; });
    function showQr(name) {
      qr.src = "/qr.svg" + (name ? "?runner=" + encodeURIComponent(name) : "");
      document.getElementById("qr-caption").textContent =
        "Scan to open " + (name ? name + "\u2019s page" : "the team page") + " on a phone";
    }
    showQr(null);
    feed("/events", {
      metrics: function (m) {
        const r = row(m.runner);
        r.metrics = m;
        if (m.risk_score !== null && m.risk_score !== undefined) r.risk = m.risk_score;
        render();
      },
      alerts: function (ev) {
        row(ev.runner).alert = ev.kind === "cleared" ? "ok: " + ev.message : ev.message;
        render();
      },
      status: function (s) { row(s.runner); render(); },
    }, setConn);
  }

  window.StrideGuard = { state: state, runnerPage: runnerPage, teamPage: teamPage };
})();
