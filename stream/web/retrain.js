// StrideGuard retraining page: a cadence metronome and impact sonification with the Web Audio API.
//
// Timing: clicks are scheduled on the AudioContext's clock (sample-accurate), a few hundred ms ahead,
// by a look-ahead scheduler that a 25-ms timer wakes ("a tale of two clocks"). Beat n is at
// anchor + n * period, computed from the beat number and not by adding periods, so there is no drift
// over an hour; a new target re-anchors at the next unscheduled beat. A hidden page (screen locked)
// gets timers only about once a second, so the look-ahead grows to 1.5 s there.
//
// The server decides everything else (target, band, impact level, feedback on or off, pauses) on data
// time; the page only plays it. The mode never starts by itself: only the Start tap sends "start".
"use strict";
(function () {
  const AHEAD_VISIBLE_S = 0.3;
  const AHEAD_HIDDEN_S = 1.5;
  const TICK_MS = 25;
  const MAX_RECORD = 100000;  // beats and level changes kept for tests and the latency benchmark
  const NOISE_MAX = 0.35;     // noise gain at impact level 1
  const TONE_GAIN = 0.10;
  const state = {
    connects: 0, snapshot: null, progress: null, armed: false, beats: [], levels: [], spoken: [],
    taps: [], errors: [], lastPauseSpoken: 0, audio: null, scheduler: null,
  };

  function record(list, item) { if (list.length < MAX_RECORD) list.push(item); }
  function nowMs() { return performance.timeOrigin + performance.now(); }

  // -- the look-ahead scheduler (clock: anything with `currentTime` in s, e.g. an AudioContext) ----------
  function createScheduler(clock, onBeat) {
    const s = { periodS: null, anchorS: null, n: 0, aheadS: AHEAD_VISIBLE_S };
    s.nextTime = function () { return s.anchorS + s.n * s.periodS; };
    s.setPeriod = function (periodS) {
      if (!(periodS > 0) || !isFinite(periodS)) { s.periodS = null; s.anchorS = null; return; }
      if (s.periodS === periodS) return;
      if (s.anchorS !== null && s.periodS !== null) { s.anchorS = s.nextTime(); s.n = 0; }
      s.periodS = periodS;
    };
    s.tick = function () {
      if (s.periodS === null) return 0;
      const now = clock.currentTime;
      if (s.anchorS === null || s.nextTime() < now) { s.anchorS = now + 0.05; s.n = 0; }  // start, or woke too late
      let count = 0;
      while (s.nextTime() < now + s.aheadS) {
        onBeat(s.nextTime());
        s.n += 1;
        count += 1;
      }
      return count;
    };
    return s;
  }

  // -- the sound: clicks, a soft tone, and noise whose level follows the landing -----------------------
  function createSound(ctx) {
    const master = ctx.createGain();
    master.gain.value = 0.9;
    master.connect(ctx.destination);
    const tone = ctx.createGain();
    tone.gain.value = 0;
    tone.connect(master);
    for (const f of [220, 330]) {
      const o = ctx.createOscillator();
      o.type = "triangle";
      o.frequency.value = f;
      o.connect(tone);
      o.start();
    }
    const buffer = ctx.createBuffer(1, Math.round(ctx.sampleRate * 2), ctx.sampleRate);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
    const noise = ctx.createBufferSource();
    noise.buffer = buffer;
    noise.loop = true;
    const noiseGain = ctx.createGain();
    noiseGain.gain.value = 0;
    noise.connect(noiseGain);
    noiseGain.connect(master);
    noise.start();
    return {
      click: function (t) {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = 1000;
        g.gain.setValueAtTime(0, t);
        g.gain.linearRampToValueAtTime(0.8, t + 0.002);
        g.gain.exponentialRampToValueAtTime(0.001, t + 0.04);
        o.connect(g);
        g.connect(master);
        o.start(t);
        o.stop(t + 0.05);
      },
      setTone: function (on) { tone.gain.setTargetAtTime(on ? TONE_GAIN : 0, ctx.currentTime, 0.05); },
      setNoise: function (level) {
        const t = ctx.currentTime;
        noiseGain.gain.setTargetAtTime(level * NOISE_MAX, t, 0.03);
        return t;
      },
      noiseLevel: function () { return noiseGain.gain.value / NOISE_MAX; },  // what the graph plays now
    };
  }

  function speak(text) {
    state.spoken.push(text);
    try {
      if (!("speechSynthesis" in window)) return;
      window.speechSynthesis.cancel();
      window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
    } catch (e) { /* no voice here */ }
  }

  function fmt(v, digits) { return (v === null || v === undefined) ? "–" : Number(v).toFixed(digits); }
  function mmss(s) {
    if (s === null || s === undefined) return "–";
    const t = Math.round(s);
    return Math.floor(t / 60) + ":" + String(t % 60).padStart(2, "0");
  }
  const BAND_WORDS = { in: "IN BAND", below: "BELOW", above: "ABOVE" };
  const BAND_CUES = { in: "hold this rhythm", below: "quicker, shorter steps", above: "a touch slower" };
  const PHASES = { continuous: "cue on all the time", fading: "cue fading", maintenance: "maintenance" };

  function page(name) {
    const $ = function (id) { return document.getElementById(id); };
    $("runner-name").textContent = name;
    $("back").href = "/runner/" + encodeURIComponent(name);
    document.title = "StrideGuard — " + name + " — retraining";
    const want = { metronome: true, sonify: true };
    $("want-metronome").addEventListener("change", function (e) { want.metronome = e.target.checked; apply(state.snapshot, null); });
    $("want-sonify").addEventListener("change", function (e) { want.sonify = e.target.checked; apply(state.snapshot, null); });
    $("pct").addEventListener("input", function (e) { $("pct-out").textContent = e.target.value; });

    function ensureAudio() {
      if (state.audio) { state.audio.ctx.resume(); return; }
      const Ctx = window.AudioContext || window.webkitAudioContext;
      const ctx = new Ctx({ latencyHint: "interactive" });
      const sound = createSound(ctx);
      state.audio = { ctx: ctx, sound: sound, metronomeOn: false, level: null };
      state.scheduler = createScheduler(ctx, function (t) {
        const audible = state.audio.metronomeOn;
        record(state.beats, { t: t, audible: audible });
        if (audible) sound.click(t);
      });
      const tick = function () {
        state.scheduler.aheadS = document.hidden ? AHEAD_HIDDEN_S : AHEAD_VISIBLE_S;
        state.scheduler.tick();
      };
      setInterval(tick, TICK_MS);
      document.addEventListener("visibilitychange", tick);
      ctx.resume();
    }

    function tap(action) {
      const body = { action: action };
      if (action === "start") {
        if (document.querySelector('input[name="target-kind"]:checked').value === "fixed") {
          body.fixed_target_spm = Number($("fixed").value);
        } else {
          body.cadence_increase_pct = Number($("pct").value);
          body.fixed_target_spm = null;
        }
      }
      $("error").textContent = "";
      return fetch("/api/runner/" + encodeURIComponent(name) + "/retrain", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      }).then(function (r) {
        return r.json().then(function (reply) {
          state.taps.push({ status: r.status, body: reply });
          if (!r.ok) { $("error").textContent = reply.error; return; }
          state.armed = reply.armed;
          if (reply.state) apply(reply.state, null); else render();
        });
      }).catch(function () { $("error").textContent = "No connection to the server"; });
    }

    $("start").addEventListener("click", function () {
      ensureAudio();  // inside the tap: browsers allow sound only after a user gesture
      tap("start");
    });
    $("stop").addEventListener("click", function () { tap("stop"); });

    // Play what the server says: the metronome at the target while feedback is on, noise at the level.
    function apply(snap, step) {
      state.snapshot = snap;
      render();
      const a = state.audio;
      if (!a || !snap) return;
      const playing = snap.mode === "active" && snap.feedback_on && !snap.pause.paused;
      a.metronomeOn = playing && want.metronome && snap.target_spm !== null;
      state.scheduler.setPeriod(a.metronomeOn ? 60 / snap.target_spm : null);
      if (a.metronomeOn && state.scheduler.anchorS === null) state.scheduler.tick();
      const sonify = playing && want.sonify && snap.impact_level !== null;
      a.sound.setTone(sonify);
      const level = sonify ? snap.impact_level : 0;
      if (level !== a.level || step) {
        const ctxT = a.sound.setNoise(level);
        a.level = level;
        record(state.levels, { level: level, ctxT: ctxT, wallMs: nowMs(), stepTNs: step ? step.t_ns : null });
      }
    }

    function render() {
      const snap = state.snapshot;
      const mode = snap ? snap.mode : "off";
      const card = $("band-card");
      const band = snap && mode === "active" ? snap.band : null;
      card.dataset.band = band || "none";
      $("band").textContent = band ? BAND_WORDS[band] : mode === "calibrating" ? "MEASURING" : "–";
      $("band-cue").textContent = band ? BAND_CUES[band] : "\u00a0";
      $("cadence").textContent = fmt(snap && snap.cadence_spm, 0);
      $("target").textContent = fmt(snap && snap.target_spm, 0);
      $("tib").textContent = snap ? mmss(snap.time_in_band_s) : "–";
      $("tib-share").textContent = snap && snap.time_in_band_share !== null
        ? Math.round(100 * snap.time_in_band_share) + " % of " + mmss(snap.active_s) : "\u00a0";
      const level = snap && snap.impact_level !== null ? snap.impact_level : null;
      $("meter-fill").style.width = level === null ? "0" : Math.round(100 * level) + "%";
      $("impact-word").textContent = level === null ? "–" : level < 0.2 ? "soft, clean" : level < 0.6 ? "usual" : "hard, noisy";
      if (snap) {
        const p = snap.programme;
        $("programme").textContent = "Session " + p.session_number + " · " + (PHASES[p.phase] || p.phase) +
          (p.on_share < 1 ? ": on " + Math.round(100 * p.on_share) + " % of each " + Math.round(p.cycle_s / 60) + "-min cycle" : "") +
          (mode === "active" ? (snap.feedback_on ? " · cue on now" : " · cue off now: hold the rhythm") : "");
      }
      const line = $("mode");
      line.dataset.mode = mode;
      line.textContent = mode === "active" ? "Retraining on." :
        mode === "calibrating" ? "Run at your usual pace: measuring your cadence (" + Math.ceil(snap.calibration_left_s) + " s)." :
        mode === "paused" ? "Paused." :
        state.armed ? "Armed: starts with your next session." : "Off. The mode starts only when you tap Start.";
      const paused = snap && snap.pause.paused && mode === "paused";
      $("pause").hidden = !paused;
      if (paused) {
        $("pause-text").textContent = snap.pause.spoken;
        $("pause-hint").textContent = snap.pause.holds ? "" : "Tap Start to resume.";
        if (snap.pause_count > state.lastPauseSpoken) {
          state.lastPauseSpoken = snap.pause_count;
          speak(snap.pause.spoken);
        }
      }
      const running = mode === "active" || mode === "calibrating";
      $("start").hidden = running || (mode === "paused" && snap.pause.holds);  // no resume while the reason stands
      $("start").textContent = mode === "paused" ? "Tap to resume" : "Tap to start retraining";
      $("stop").hidden = !(running || mode === "paused" || state.armed);
      if (state.progress) {
        const g = state.progress;
        $("progress").textContent = "Last session: cadence " + fmt(g.cadence_spm, 0) + " spm (target " + fmt(g.target_spm, 0) +
          "), in band " + mmss(g.time_in_band_s) + (g.impact_change_pct !== null ? ", impact " + fmt(g.impact_change_pct, 0) + " % vs session 1" : "") +
          (g.stored === false ? " — not stored" : "");
      }
    }

    function setConn(s) {
      const el = $("conn");
      el.dataset.state = s;
      el.textContent = s === "live" ? "live" : s === "reconnecting" ? "reconnecting…" : "connecting…";
    }

    let delayMs = 500;
    function open() {
      const source = new EventSource("/runner/" + encodeURIComponent(name) + "/retrain/events");
      source.onopen = function () { delayMs = 500; state.connects += 1; setConn("live"); };
      source.onerror = function () {
        setConn("reconnecting");
        if (source.readyState === EventSource.CLOSED) {
          source.close();
          setTimeout(open, delayMs * (0.5 + Math.random()));
          delayMs = Math.min(delayMs * 2, 10000);
        }
      };
      function on(kind, fn) {
        source.addEventListener(kind, function (ev) {
          let data;
          try { data = JSON.parse(ev.data); } catch (e) { return; }
          fn(data);
        });
      }
      on("hello", function (d) {
        state.armed = d.armed;
        state.errors = d.errors || [];
        if (d.progress) state.progress = d.progress;
        if (state.errors.length) $("error").textContent = state.errors[state.errors.length - 1];
        if (d.state) apply(d.state, null); else render();
      });
      on("state", function (d) { apply(d.state, d.step); });
      on("progress", function (d) { state.progress = d.progress; render(); });
    }
    open();
    render();
  }

  window.Retrain = { state: state, page: page, createScheduler: createScheduler, createSound: createSound };
})();
