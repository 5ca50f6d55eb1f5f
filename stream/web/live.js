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
    // after the run the server goes away: the page says the run is over, not that it is reconnecting
    const over = s !== "live" && view !== null && view.finished();
    el.dataset.state = over ? "finished" : s;
    el.textContent = over ? "run over" : s === "live" ? "live" : s === "reconnecting" ? "reconnecting…" : "connecting…";
  }

  function fmt(v, digits) { return (v === null || v === undefined) ? "–" : Number(v).toFixed(digits); }
  function level(score) { return score === null || score === undefined ? "" : score >= 50 ? "alert" : score >= 25 ? "warning" : "ok"; }

  let view = null;  // the runner page's StrideGuardRun.RunnerView (below): state, alerts, speech

  function speak(text) { if (view) view.speech.say(text, 0); }

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

  // -- speed from the phone -------------------------------------------------------------------------
  // After the runner taps "share speed" (and the browser's permission prompt), the phone's GPS speed goes
  // to the server about once a second: the fix's own speed when the phone reports one, else the distance
  // along the last fixes over their time. Accuracy-aware: a fix rougher than MAX_ACCURACY_M is not used,
  // and a derived speed whose path is shorter than the fixes' own uncertainty is not sent (a runner
  // standing still with a wandering fix is not running). Geolocation needs a secure page: https, or this
  // computer's own address; on a plain http:// network address the browser refuses it, and the page
  // says so instead of asking.
  const SPEED_EVERY_MS = 1000;  // at most one speed a second (the server allows one per 0.5 s)
  const MAX_ACCURACY_M = 50;    // m: the server refuses rougher fixes too
  const DERIVE_SPAN_MS = 3000;  // derive a speed over at least this much of the latest fixes
  const KEEP_FIXES_MS = 10000;
  const REFUSAL_SHOWN_MS = 5000;  // the session's refusal of a speed stays shown this long over "sharing"
  const GPS_QUIET_MS = 5000;    // an error within this long of a good fix is not called a lost signal

  function metresBetween(a, b) {  // haversine, on a sphere of the Earth's mean radius
    const R = 6371008.8, rad = Math.PI / 180;
    const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
    return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function phoneSpeed(name) {
    const btn = document.getElementById("share-speed"), status = document.getElementById("speed-status");
    const sp = state.speed = { sharing: "off", sent: 0, refused: [], lastSentMs: 0, fixes: [], watch: null, lastFixMs: 0, errors: 0, refusedAtMs: 0 };
    function say(text, kind) { status.textContent = text; status.dataset.kind = kind || ""; }
    if (!window.isSecureContext) {
      sp.sharing = "insecure";
      btn.disabled = true;
      say("Speed from this phone is not available: browsers share location only with secure pages " +
          "(https, or the computer's own address), and this page is http://" + location.host + ".", "problem");
      return;
    }
    if (!navigator.geolocation) {
      sp.sharing = "unsupported";
      btn.disabled = true;
      say("This browser has no location service: speed is not shared.", "problem");
      return;
    }
    function send(speedMps, accuracyM) {
      const now = Date.now();
      if (now - sp.lastSentMs < SPEED_EVERY_MS) return;
      sp.lastSentMs = now;
      fetch("/api/runner/" + encodeURIComponent(name) + "/speed", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ speed_mps: speedMps, accuracy_m: accuracyM }),
      }).then(function (r) {
        return r.json().then(function (body) {
          if (r.ok) {
            sp.sent += 1;
            // the session refused the last speeds (a replay): the server taking this one changes nothing
            if (Date.now() - sp.refusedAtMs > REFUSAL_SHOWN_MS) say("Sharing speed: " + (speedMps * 3.6).toFixed(1) + " km/h", "on");
          }
          else { sp.refused.push(body.error); say("Speed not shared: " + body.error, "problem"); }
        });
      }).catch(function () { say("Speed not shared: no connection to the server", "problem"); });
    }
    function onFix(pos) {
      const c = pos.coords, t = pos.timestamp || Date.now();
      if (!(c.accuracy <= MAX_ACCURACY_M)) { say("GPS too rough (\u00b1" + Math.round(c.accuracy) + " m): speed not shared", "problem"); return; }
      sp.lastFixMs = Date.now();
      const fix = { lat: c.latitude, lon: c.longitude, acc: c.accuracy, t: t };
      sp.fixes.push(fix);
      while (sp.fixes.length && t - sp.fixes[0].t > KEEP_FIXES_MS) sp.fixes.shift();
      if (c.speed !== null && c.speed !== undefined && isFinite(c.speed)) { send(Math.max(0, c.speed), c.accuracy); return; }
      let first = sp.fixes.length - 1;  // the latest fixes spanning at least DERIVE_SPAN_MS
      while (first > 0 && t - sp.fixes[first].t < DERIVE_SPAN_MS) first -= 1;
      const span = (t - sp.fixes[first].t) / 1000;
      if (span * 1000 < DERIVE_SPAN_MS) { say("Sharing speed: waiting for GPS fixes\u2026", "on"); return; }
      let path = 0;
      for (let i = first + 1; i < sp.fixes.length; i++) path += metresBetween(sp.fixes[i - 1], sp.fixes[i]);
      const uncertain = (sp.fixes[first].acc + c.accuracy) / 2;
      if (path < uncertain) { say("Sharing speed: not moving (GPS \u00b1" + Math.round(c.accuracy) + " m)", "on"); return; }
      send(path / span, c.accuracy);
    }
    function onError(err) {
      if (err.code === 1) {  // PERMISSION_DENIED
        sp.sharing = "denied";
        say("Location permission refused: speed is not shared (allow it in the browser's site settings).", "problem");
        if (sp.watch !== null) navigator.geolocation.clearWatch(sp.watch);
        sp.watch = null;
        btn.textContent = "Share speed from this phone (GPS)";
      } else {  // a lost signal or a timeout: the watch goes on and the next fix resumes sharing
        sp.errors += 1;
        if (Date.now() - sp.lastFixMs < GPS_QUIET_MS) return;  // one missed update between good fixes: no news
        say((sp.fixes.length ? "GPS signal lost" : "No GPS fix yet") + ": speed not shared until a fix comes", "problem");
      }
    }
    btn.addEventListener("click", function () {
      if (sp.watch !== null) {  // a second tap stops sharing
        navigator.geolocation.clearWatch(sp.watch);
        sp.watch = null;
        sp.sharing = "off";
        btn.textContent = "Share speed from this phone (GPS)";
        say("Speed not shared.", "");
        return;
      }
      sp.sharing = "on";
      sp.fixes = [];
      btn.textContent = "Stop sharing speed";
      say("Sharing speed: asking for the phone's location\u2026", "on");
      sp.watch = navigator.geolocation.watchPosition(onFix, onError, { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 });
    });
  }

  // pace and distance from the windows' speed (a footpod or the phone): the distance adds each window's
  // speed over the data time since the previous window (at most 30 s, so a dropout adds nothing made up)
  function paceText(speedMps) {
    if (!(speedMps > 0.3)) return "–";  // slower than about 55 min/km: standing, not a pace
    const sPerKm = Math.round(1000 / speedMps);
    return Math.floor(sPerKm / 60) + ":" + String(sPerKm % 60).padStart(2, "0");
  }
  function showSpeed(m) {
    const d = state.distance || (state.distance = { m: 0, lastTNs: null });
    if (m.speed_mps !== null && m.speed_mps !== undefined && m.t_end_ns) {
      if (d.lastTNs !== null && m.t_end_ns > d.lastTNs) d.m += m.speed_mps * Math.min(30, (m.t_end_ns - d.lastTNs) / 1e9);
      for (const el of document.querySelectorAll(".metric.speedy")) el.hidden = false;
      document.getElementById("pace").textContent = paceText(m.speed_mps);
      document.getElementById("distance").textContent = (d.m / 1000).toFixed(2);
    } else if (state.speedShown) {
      document.getElementById("pace").textContent = "–";
    }
    if (m.t_end_ns) d.lastTNs = m.t_end_ns;
    state.speedShown = state.speedShown || (m.speed_mps !== null && m.speed_mps !== undefined);
  }

  function runnerPage(name) {
    document.getElementById("runner-name").textContent = name;
    document.title = "StrideGuard — " + name;
    document.getElementById("retrain-link").href = "/runner/" + encodeURIComponent(name) + "/retrain";
    const seen = new Set();
    view = new StrideGuardRun.RunnerView(state, { showPinned: showBanner, showCleared: showBanner });
    let lastUpdate = null;
    let clearTimer = null;
    const enable = document.getElementById("enable");
    enable.addEventListener("click", function () {
      try { if (navigator.vibrate) navigator.vibrate(50); } catch (e) { /* ignore */ }
      speak("Voice cues on");
      enable.hidden = true;
    });
    phoneSpeed(name);
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
        if (state.sensor !== "ok") return;  // a window from before the dropout: nothing shown while it lasts
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
        showSpeed(m);
        view.metrics(m);
      },
      control: function (c, envelope) {
        // the pipeline's answers to a snooze (from this page or another one of the same runner)
        if (c.action === "snoozed") {
          state.snoozes[c.metric === null ? "*" : c.metric] = c.until_t_ns;
          state.dataTNs = Math.max(state.dataTNs || 0, c.from_t_ns);
          renderSnoozes();
        } else if (c.action === "refused" && !envelope.replay) {
          setSnoozeStatus("Snooze refused: " + c.reason);
        } else if (c.action === "speed_refused" && !envelope.replay && state.speed) {
          state.speed.refused.push(c.reason);
          state.speed.refusedAtMs = Date.now();
          const el = document.getElementById("speed-status");
          el.textContent = "Speed not used: " + c.reason;
          el.dataset.kind = "problem";
        }
      },
      alerts: function (ev, envelope) {
        // Only what the alert dispatcher delivered to this page (after de-duplication and rate limiting)
        // is shown and felt; the raw risk events on the same topic are for dashboards and logs.
        // (raw ones only tell the page what the rate limit held back: StrideGuardRun counts them)
        const key = [ev.session_id, ev.metric, ev.onset_t_ns, ev.kind, ev.severity, !!ev.delivered].join("|");
        if (seen.has(key)) return;
        seen.add(key);
        if (view.alert(ev, envelope)) state.alerts.push(ev);  // pinned or listed; felt once, never on a replay
      },
      status: function (s, envelope) {
        document.getElementById("unknown").hidden = true;
        view.status(s, envelope);
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
      view.render();
      if (lastUpdate === null || view.finished()) return;
      const s = Math.round((Date.now() - lastUpdate) / 1000);
      document.getElementById("updated").textContent = "updated " + s + " s ago";
    }, 1000);
  }

  function teamPage() {
    const rows = state.runners, T = StrideGuardRun.team;
    function render() {
      const names = T.rank(rows);
      const body = document.querySelector("#runners tbody");
      body.replaceChildren();
      for (const n of names) {
        const r = rows[n], m = r.metrics || {};
        const tr = document.createElement("tr");
        tr.dataset.runner = n;
        tr.dataset.level = level(r.risk);
        tr.dataset.state = T.group(r) === 0 ? "live" : T.group(r) === 1 ? "stale" : "finished";
        tr.dataset.severity = ["", "info", "warning", "alert"][T.severityOf(r)];
        const cells = [null, T.stateLabel(r), fmt(r.risk, 0), fmt(m.cadence_spm, 0), fmt(m.heart_rate_bpm, 0),
                       fmt(m.impact_g, 1), fmt(m.sway_ml_ratio, 2), fmt(m.lean_deg, 0), r.alert ? r.alert : ""];
        const classes = ["name", "state", "risk", "", "", "wide", "wide", "wide", "alert"];
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
          if (classes[i]) td.className = classes[i];
          tr.appendChild(td);
        });
        body.appendChild(tr);
      }
    }
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
        const r = T.row(rows, m.runner);
        r.metrics = m;
        if (m.risk_score !== null && m.risk_score !== undefined) r.risk = m.risk_score;
        render();
      },
      alerts: function (ev) { T.alert(T.row(rows, ev.runner), ev); render(); },
      status: function (s) { T.status(T.row(rows, s.runner), s); render(); },
    }, setConn);
  }

  window.StrideGuard = { state: state, runnerPage: runnerPage, teamPage: teamPage };
})();

// The live run: what a runner and a coach can trust on the pages (StrideGuardRun, used by the pages above).
//  - Speech: one queue ordered by priority, the next utterance only when the last one ended (never
//    speechSynthesis.cancel()), so no cue is cut mid-sentence. The words come from the server (the
//    alert's `spoken` field, stream/alerts/spoken.py); the page adds only the fixed sensor phrases.
//  - Alerts: every active episode is kept; the most severe is pinned, the others listed beneath; info
//    notes are shown, never buzzed or spoken; an onset the rate limit held back is counted and shown.
//  - Sensor and session state from the runner's status topic: lost / silent / back / finished, with a
//    distinct vibration for a lost sensor and the numbers blanked while it is away.
//  - Team ranking: active alert severity, then risk, then name; stale and finished runners sunk.
(function () {
  const SEVERITY_RANK = { alert: 3, warning: 2, info: 1 };
  const PRIORITY = { sensor: 4, alert: 3, warning: 2, back: 1 };
  const VIBRATE = { alert: [400, 150, 400, 150, 400], warning: [300, 120, 300], lost: [90, 90, 90, 90, 90, 90, 700] };
  const HELD_BACK_AFTER_MS = 2000;  // a raw onset with no delivered twin by then was held back by the rate limit
  const BACK_SHOWN_MS = 10000;  // "sensor back" stays this long
  const SETTLE_MS = 150;  // an idle voice waits this long for company before speaking (then by priority)
  const SAY = { lost: "Sensor lost.", silent: "No data from the sensor.", back: "Sensor back." };

  function $(id) { return document.getElementById(id); }
  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const mm = String(Math.floor(s / 60) % 60).padStart(2, "0"), ss = String(s % 60).padStart(2, "0");
    return s >= 3600 ? Math.floor(s / 3600) + ":" + mm + ":" + ss : mm + ":" + ss;
  }
  function fmt(v, digits) { return (v === null || v === undefined) ? "–" : Number(v).toFixed(digits); }
  function howLong(seconds) {  // "25 s", "1 min 5 s": read at a glance, not as a clock
    const s = Math.max(0, Math.round(seconds));
    return s < 60 ? s + " s" : Math.floor(s / 60) + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
  }
  function episodeKey(ev) { return [ev.session_id, ev.metric, ev.onset_t_ns].join("|"); }

  // -- speech ------------------------------------------------------------------------------------------
  function Speech(log) {
    this.queue = [];  // {text, priority, n}
    this.speaking = null;
    this.settling = null;
    this.n = 0;
    this.log = log;  // what was asked, in order (StrideGuard.state.spoken)
  }
  Speech.prototype.say = function (text, priority) {
    if (!text) return;
    this.log.push(text);
    this.queue.push({ text: text, priority: priority, n: this.n++ });
    this.queue.sort(function (a, b) { return b.priority - a.priority || a.n - b.n; });
    // idle: wait a moment, so alerts that arrive together are spoken most important first
    if (!this.speaking && !this.settling) {
      const self = this;
      this.settling = setTimeout(function () { self.settling = null; self.next(); }, SETTLE_MS);
    }
  };
  Speech.prototype.next = function () {
    if (this.speaking || this.settling || !this.queue.length) return;
    const item = this.queue.shift();
    const self = this;
    let done = false;
    function finished() {
      if (done) return;
      done = true;
      clearTimeout(guard);
      self.speaking = null;
      self.next();
    }
    // a voice that never reports its end must not stall the queue: move on (without cutting it) after
    // about as long as the sentence takes
    const guard = setTimeout(finished, 3000 + 90 * item.text.length);
    this.speaking = item;
    try {
      if (!("speechSynthesis" in window) || typeof SpeechSynthesisUtterance === "undefined") { finished(); return; }
      const u = new SpeechSynthesisUtterance(item.text);
      u.onend = finished;
      u.onerror = finished;
      window.speechSynthesis.speak(u);
    } catch (e) { finished(); }
  };

  function vibrate(state, pattern) {
    state.vibrations += 1;
    try { if (navigator.vibrate) navigator.vibrate(pattern); } catch (e) { /* not supported */ }
  }

  // -- the runner page ---------------------------------------------------------------------------------
  function RunnerView(state, hooks) {
    this.state = state;
    this.hooks = hooks;  // {showPinned(ev or null), showCleared(ev)} from live.js (banner, snooze button)
    state.active = {};  // episode -> latest delivered event
    state.pendingRaw = {};  // key -> {ev, at}: raw onsets waiting for their delivered twin
    state.heldBack = [];
    state.afterRun = [];
    state.dropouts = 0;
    state.sensor = "ok";
    state.status = null;
    this.speech = new Speech(state.spoken);
    this.sensorSinceMs = null;
    this.backUntilMs = 0;
    this.lastGapS = null;
  }

  RunnerView.prototype.metrics = function (m) {
    if (this.state.sensor !== "ok" || this.finished()) return;  // nothing is shown for a sensor that is away
    $("heart-rate").textContent = fmt(m.heart_rate_bpm, 0);
    this.render();
  };

  RunnerView.prototype.finished = function () { return !!(this.state.status && this.state.status.state === "finished"); };

  RunnerView.prototype.alert = function (ev, envelope) {
    const st = this.state;
    if (!ev.delivered) {  // a raw risk event: watch whether the dispatcher delivers it
      if (ev.kind === "onset" && !envelope.replay && ev.severity !== "info") {
        st.pendingRaw[episodeKey(ev) + "|" + ev.severity] = { ev: ev, at: Date.now() };
      }
      return false;
    }
    delete st.pendingRaw[episodeKey(ev) + "|" + ev.severity];
    const key = episodeKey(ev);
    if (ev.kind === "cleared") {
      delete st.active[key];
      if (!Object.keys(st.active).length) this.hooks.showCleared(ev);
    } else {
      st.active[key] = ev;
      for (const advice of ev.after_run || []) if (st.afterRun.indexOf(advice) < 0) st.afterRun.push(advice);
    }
    this.renderAlerts();
    if (ev.kind === "onset" && !envelope.replay && ev.severity !== "info") {  // info notes are shown, not felt
      vibrate(st, VIBRATE[ev.severity] || VIBRATE.warning);
      this.speech.say(ev.spoken || (ev.message + ". " + ev.cue), PRIORITY[ev.severity] || PRIORITY.warning);
    }
    return true;
  };

  RunnerView.prototype.pinned = function () {
    const all = Object.values(this.state.active);
    all.sort(function (a, b) { return (SEVERITY_RANK[b.severity] || 0) - (SEVERITY_RANK[a.severity] || 0) || b.t_ns - a.t_ns; });
    return all;
  };

  RunnerView.prototype.renderAlerts = function () {
    if (this.finished()) return;  // the run is over: an old alert replayed to a late page is not pinned
    const all = this.pinned();
    if (all.length) this.hooks.showPinned(all[0]);
    const list = $("alerts-more");
    list.replaceChildren();
    for (const ev of all.slice(1)) {
      const li = document.createElement("li");
      li.dataset.severity = ev.severity;
      li.dataset.metric = ev.metric;
      const tag = document.createElement("strong");
      tag.textContent = ev.severity === "info" ? "note" : ev.severity;
      li.append(tag, " " + ev.message);
      list.appendChild(li);
    }
    list.hidden = all.length < 2;
  };

  RunnerView.prototype.status = function (s, envelope) {
    const st = this.state, was = st.sensor;
    st.status = s;
    if (s.started_t_ns !== undefined) st.startedTNs = s.started_t_ns;
    if (s.state === "finished") {
      this.showSummary(s);
      this.render();
      return;
    }
    const sensor = s.sensor || "ok";
    if (sensor !== was) {
      st.sensor = sensor;
      if (sensor === "ok") {
        this.lastGapS = s.gap_s;
        this.backUntilMs = Date.now() + BACK_SHOWN_MS;
        if (!envelope.replay) this.speech.say(SAY.back, PRIORITY.back);
      } else {
        this.sensorSinceMs = Date.now() - (s.sensor_t_ns ? Math.max(0, Date.now() - s.sensor_t_ns / 1e6) : 0);
        if (was === "ok") st.dropouts += 1;
        for (const id of ["cadence", "impact", "sway", "lean", "risk", "heart-rate", "pace"]) $(id).textContent = "–";
        if (!envelope.replay) {
          vibrate(st, VIBRATE.lost);
          this.speech.say(sensor === "lost" ? SAY.lost : SAY.silent, PRIORITY.sensor);
        }
      }
    }
    this.render();
  };

  // once a second and on every message: sensor bar, held-back alerts, baseline, elapsed time
  RunnerView.prototype.render = function () {
    const st = this.state, now = Date.now();
    const bar = $("sensor");
    let text = "", kind = "";
    if (this.finished()) { text = "Run finished"; kind = "finished"; }
    else if (st.sensor === "lost") { text = "Sensor lost · no data for " + howLong((now - this.sensorSinceMs) / 1000); kind = "lost"; }
    else if (st.sensor === "silent") { text = "No data from the sensor for " + howLong((now - this.sensorSinceMs) / 1000); kind = "silent"; }
    else if (now < this.backUntilMs) {
      text = "Sensor back" + (this.lastGapS !== null && this.lastGapS !== undefined ? " after " + Math.round(this.lastGapS) + " s" : "");
      kind = "back";
    }
    bar.textContent = text;
    bar.dataset.kind = kind;
    bar.hidden = !text;
    document.body.dataset.sensor = this.finished() ? "finished" : st.sensor;

    for (const key of Object.keys(st.pendingRaw)) {
      if (now - st.pendingRaw[key].at >= HELD_BACK_AFTER_MS) {
        st.heldBack.push(st.pendingRaw[key].ev);
        delete st.pendingRaw[key];
      }
    }
    const held = $("held-back");
    held.hidden = !st.heldBack.length || this.finished();
    if (st.heldBack.length) {
      const last = st.heldBack[st.heldBack.length - 1];
      held.textContent = st.heldBack.length + (st.heldBack.length === 1 ? " alert" : " alerts") +
        " held back (too many at once); latest: " + last.message;
    }

    const m = st.metrics, status = st.status;
    const ready = status ? status.baseline_ready_t_ns : undefined;
    const base = $("baseline");
    let learning = "";
    if (!this.finished() && st.sensor === "ok" && status && !(m && m.risk_score !== null && m.risk_score !== undefined)) {
      if (ready === undefined || ready === null || st.dataTNs === null) learning = "Learning your baseline once you are running";
      else if (st.dataTNs < ready) learning = "Learning your baseline, " + Math.max(1, Math.ceil((ready - st.dataTNs) / 60e9)) + " min left";
    }
    base.textContent = learning;
    base.hidden = !learning;

    if (st.startedTNs !== undefined && st.dataTNs !== null) $("elapsed").textContent = clock((st.dataTNs - st.startedTNs) / 1e9);
  };

  RunnerView.prototype.showSummary = function (s) {
    const sum = s.summary || {}, risk = sum.risk || {}, st = this.state;
    const events = risk.events || {};
    let onsets = 0;
    for (const k of Object.keys(events)) if (k.endsWith(":onset")) onsets += events[k];
    const rows = [
      ["Time", clock(sum.duration_s || 0)],
      ["Steps", fmt(sum.n_steps, 0)],
      ["Average cadence", fmt(sum.cadence_spm, 0) + " steps/min"],
      ["Average heart rate", fmt(sum.mean_heart_rate_bpm, 0) + " bpm"],
      ["Risk, mean / highest", fmt(risk.score_mean, 0) + " / " + fmt(risk.score_max, 0) + " of 100"],
      ["Alerts", String(onsets) + (st.heldBack.length ? " (" + st.heldBack.length + " held back)" : "")],
      ["Sensor dropouts", String(st.dropouts)],
    ];
    const warmup = risk.warmup || {};  // the warm-up check (docs/risk.md): said only when it was judged
    if (warmup.judged) rows.push(["Start", warmup.hard_start ? "hard: at working pace from the first minutes" : "easy"]);
    const dl = $("summary-list");
    dl.replaceChildren();
    for (const [k, v] of rows) {
      if (v.indexOf("–") === 0) continue;  // nothing known (e.g. no heart-rate strap)
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = v;
      dl.append(dt, dd);
    }
    const advice = $("summary-advice");
    advice.replaceChildren();
    for (const a of st.afterRun) {
      const li = document.createElement("li");
      li.textContent = a;
      advice.appendChild(li);
    }
    $("summary-advice-head").hidden = !st.afterRun.length;
    $("summary").hidden = false;
    for (const id of ["held-back", "baseline", "snooze-metric"]) $(id).hidden = true;  // the last alerts stay, below
    document.querySelector(".snooze-bar").hidden = true;
  };

  // -- the team page -----------------------------------------------------------------------------------
  function teamRow(rows, name) {
    return rows[name] || (rows[name] = { risk: null, metrics: null, alert: "", active: {}, state: "running", sensor: "ok" });
  }
  function teamAlert(row, ev) {
    const key = episodeKey(ev);
    if (ev.kind === "cleared") delete row.active[key];
    else if (row.state !== "finished") row.active[key] = ev.severity;  // an old onset replayed after the end
    row.alert = ev.kind === "cleared" ? "ok: " + ev.message : ev.message;
  }
  function teamStatus(row, s) {
    row.state = s.state === "finished" ? "finished" : "running";
    row.sensor = s.sensor || "ok";
    if (row.state === "finished") row.active = {};
  }
  function severityOf(row) {
    let best = 0;
    for (const k of Object.keys(row.active)) best = Math.max(best, SEVERITY_RANK[row.active[k]] || 0);
    return best;
  }
  function group(row) { return row.state === "finished" ? 2 : row.sensor !== "ok" ? 1 : 0; }
  function stateLabel(row) { return row.state === "finished" ? "finished" : row.sensor === "ok" ? "live" : row.sensor === "lost" ? "sensor lost" : "no data"; }
  // active alert severity first, then risk, then name; stale (sensor lost, silent) and finished sink
  function rank(rows) {
    return Object.keys(rows).sort(function (a, b) {
      const ra = rows[a], rb = rows[b];
      return group(ra) - group(rb) || severityOf(rb) - severityOf(ra) ||
        (rb.risk === null ? -1 : rb.risk) - (ra.risk === null ? -1 : ra.risk) || a.localeCompare(b);
    });
  }

  window.StrideGuardRun = {
    RunnerView: RunnerView, Speech: Speech, clock: clock,
    team: { row: teamRow, alert: teamAlert, status: teamStatus, rank: rank, severityOf: severityOf,
            group: group, stateLabel: stateLabel },
  };
})();
