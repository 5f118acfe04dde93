// The review page: frame viewer, filmstrip, keyboard shortcuts. The form controls are the
// single source of truth (label radios, onset/apex inputs, exclude checkbox), so the page
// also works with the mouse alone and the server re-renders the same form after a save.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("review-data").textContent);
  const frames = data.frames;
  if (!frames.length) return;
  const $ = (id) => document.getElementById(id);
  const mainImg = $("frame-main");
  const strip = $("filmstrip");
  const thumbs = Array.from(strip.querySelectorAll(".fs-frame"));
  const scrubber = $("scrubber");
  const playBtn = $("play-btn");
  const FPS = 12;
  let current = frames.length - 1;
  let timer = null;
  // For review_face.js, which follows the current frame through "review:frame" events.
  window.OnsetReview = { frames, current: () => current };

  const form = () => $("review-form");
  const field = (name) => form().elements[name];
  const intOrNull = (value) => { const n = parseInt(value, 10); return Number.isFinite(n) ? n : null; };
  const onset = () => intOrNull(field("onset_frame").value);
  const apex = () => intOrNull(field("apex_frame").value);

  // Preload every viewer-sized frame, nearest to the current one first, a few at a time,
  // so scrubbing swaps between images the browser has already decoded.
  const preloaded = [];
  function preload(start) {
    const order = frames.map((_, i) => i).sort((a, b) => Math.abs(a - start) - Math.abs(b - start));
    let next = 0;
    const worker = () => {
      if (next >= order.length) return;
      const i = order[next++];
      const img = new Image();
      img.decoding = "async";
      img.onload = img.onerror = worker;
      img.src = frames[i].view;
      preloaded[i] = img;
    };
    for (let k = 0; k < 6; k++) worker();
  }

  function show(index, { scroll = true } = {}) {
    current = Math.max(0, Math.min(frames.length - 1, index));
    const f = frames[current];
    mainImg.src = f.view;
    $("frame-no").textContent = f.number;
    $("original-link").href = f.original;
    scrubber.value = current + 1;
    thumbs.forEach((t, i) => t.classList.toggle("current", i === current));
    if (scroll) thumbs[current].scrollIntoView({ block: "nearest", inline: "nearest" });
    updateTags();
    document.dispatchEvent(new CustomEvent("review:frame", { detail: { index: current } }));
  }

  function updateTags() {
    const n = frames[current].number, o = onset(), a = apex();
    $("tag-neutral").hidden = !(o !== null && n < o);
    $("tag-onset").hidden = n !== o;
    $("tag-apex").hidden = !(a !== null ? n === a : (o !== null && current === frames.length - 1));
  }

  function refreshMarks() {
    const o = onset(), a = apex();
    const checked = form().querySelector("input[name=label]:checked");
    const label = checked ? checked.closest(".label-btn").dataset.name : null;
    strip.style.setProperty("--label-color", label ? `var(--${label})` : "var(--muted)");
    thumbs.forEach((t) => {
      const n = Number(t.dataset.number);
      t.classList.toggle("emotion", o !== null && n >= o && (a === null || n <= a));
      t.classList.toggle("neutral", o !== null && n < o);
      t.classList.toggle("onset", n === o);
      t.classList.toggle("apex", a !== null ? n === a : (o !== null && n === frames[frames.length - 1].number));
      t.classList.toggle("apex-default", a === null);
    });
    const ex = field("exclude");
    ex.closest(".exclude-toggle").classList.toggle("on", ex.checked);
    form().classList.toggle("is-excluded", ex.checked);
    updateTags();
  }

  function play() {
    if (timer) { stop(); return; }
    if (current >= frames.length - 1) show(0);
    playBtn.textContent = "❚❚ Pause";
    playBtn.classList.add("on");
    timer = setInterval(() => {
      if (current >= frames.length - 1) { stop(); return; }
      show(current + 1);
    }, 1000 / FPS);
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    playBtn.textContent = "▶ Play";
    playBtn.classList.remove("on");
  }

  function setLabel(code) {
    const radio = form().querySelector(`input[name="label"][value="${code}"]`);
    if (radio) { radio.checked = true; flash(radio.closest(".label-btn")); refreshMarks(); }
  }

  function setMark(name, value) {
    field(name).value = value === null ? "" : value;
    refreshMarks();
    flash(field(name).closest(".mark"));
  }

  function flash(el) {
    if (!el) return;
    el.classList.remove("flashed");
    void el.offsetWidth; // restart the animation
    el.classList.add("flashed");
  }

  function save(next) {
    $("intent").value = next ? "next" : "stay";
    form().requestSubmit();
  }

  // The suggested onset (the ghost marker): one key takes it, then the frame is shown.
  function acceptSuggestion() {
    const btn = $("accept-onset");
    if (!btn) return false;
    const n = Number(btn.dataset.onset);
    setMark("onset_frame", n);
    const i = frames.findIndex((f) => f.number === n);
    if (i >= 0) show(i);
    return true;
  }

  const toggleFace = () => document.dispatchEvent(new CustomEvent("review:face-toggle"));

  function toggleHelp(open) {
    const help = $("help");
    help.hidden = open === undefined ? !help.hidden : !open;
  }

  const isTyping = (el) => el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable ||
    (el.tagName === "INPUT" && !["radio", "checkbox", "button", "submit", "range"].includes(el.type)));

  document.addEventListener("keydown", (e) => {
    if (isTyping(e.target)) {
      if (e.key === "Escape") { e.target.blur(); e.preventDefault(); }
      else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(true); }
      else if (e.key === "Enter" && e.target.tagName === "INPUT") { e.preventDefault(); refreshMarks(); save(true); }
      return;
    }
    if (!$("help").hidden) {
      if (e.key === "Escape" || e.key === "?") { toggleHelp(false); e.preventDefault(); }
      return;
    }
    if (e.ctrlKey || e.metaKey) {
      if (e.key === "s" || e.key === "S") { e.preventDefault(); save(false); }
      else if (e.key === "Enter") { e.preventDefault(); save(true); }
      return;
    }
    if (e.altKey) return;
    const step = e.shiftKey ? 5 : 1;
    let handled = true;
    switch (e.key) {
      case "ArrowLeft": stop(); show(current - step); break;
      case "ArrowRight": stop(); show(current + step); break;
      case "Home": stop(); show(0); break;
      case "End": stop(); show(frames.length - 1); break;
      case " ": play(); break;
      case "Enter": stop(); save(true); break;
      case "?": toggleHelp(true); break;
      case "]": location.href = $("skip-link").href; break;
      default:
        if (/^[0-7]$/.test(e.key)) { setLabel(e.key); break; }
        switch (e.code) {
          case "KeyO": setMark("onset_frame", e.shiftKey ? null : frames[current].number); break;
          case "KeyA": setMark("apex_frame", e.shiftKey ? null : frames[current].number); break;
          case "KeyG": if (!acceptSuggestion()) handled = false; break;
          case "KeyX": { const ex = field("exclude"); ex.checked = !ex.checked; refreshMarks(); flash(ex.closest(".exclude-toggle")); break; }
          case "KeyN": field("note").focus(); break;
          case "KeyF": toggleFace(); break;
          case "KeyD": { const t = document.querySelector("[data-toggle-url]"); if (t) location.href = t.dataset.toggleUrl; else handled = false; break; }
          default: handled = false;
        }
    }
    if (handled) e.preventDefault();
  });

  // Mouse: buttons with data-action, click or drag across the filmstrip, wheel on the stage.
  document.addEventListener("click", (e) => {
    const saveBtn = e.target.closest("#save-next, #save-stay");
    if (saveBtn) $("intent").value = saveBtn.value;
    const btn = e.target.closest("[data-action]");
    if (!btn) return;
    const actions = {
      first: () => show(0), last: () => show(frames.length - 1),
      prev: () => show(current - 1), next: () => show(current + 1), play,
      help: () => toggleHelp(), face: toggleFace,
      "set-onset": () => setMark("onset_frame", frames[current].number),
      "set-apex": () => setMark("apex_frame", frames[current].number),
      "clear-onset": () => setMark("onset_frame", null),
      "clear-apex": () => setMark("apex_frame", null),
      "accept-onset": acceptSuggestion,
    };
    if (actions[btn.dataset.action]) {
      if (!["play", "face"].includes(btn.dataset.action)) stop();
      actions[btn.dataset.action]();
    }
  });
  // Clicking a control must not keep focus on it, or Space/Enter would press it again.
  document.addEventListener("mousedown", (e) => {
    if (e.target.closest(".fs-frame, .transport button, .label-btn, [data-action]")) e.preventDefault();
  });
  let dragging = false;
  strip.addEventListener("mousedown", (e) => {
    const t = e.target.closest(".fs-frame");
    if (!t) return;
    dragging = true; stop(); show(Number(t.dataset.index), { scroll: false });
  });
  strip.addEventListener("mouseover", (e) => {
    const t = e.target.closest(".fs-frame");
    if (dragging && t) show(Number(t.dataset.index), { scroll: false });
  });
  window.addEventListener("mouseup", () => { dragging = false; });
  $("stage").addEventListener("wheel", (e) => { e.preventDefault(); stop(); show(current + (e.deltaY > 0 ? 1 : -1)); }, { passive: false });
  scrubber.addEventListener("input", () => { stop(); show(Number(scrubber.value) - 1); });
  $("help").addEventListener("click", (e) => { if (e.target.id === "help") toggleHelp(false); });
  document.addEventListener("input", (e) => { if (e.target.closest("#review-form")) refreshMarks(); });
  document.addEventListener("change", (e) => { if (e.target.closest("#review-form")) refreshMarks(); });
  // After a save the server re-renders the panel: read the marks again from the new form.
  document.body.addEventListener("htmx:afterSwap", refreshMarks);
  document.body.addEventListener("htmx:responseError", (e) => {
    const panel = form();
    let box = $("save-error");
    if (!box) { box = document.createElement("div"); box.id = "save-error"; box.className = "flash flash-error"; panel.prepend(box); }
    const status = e.detail.xhr.status;
    let text = e.detail.xhr.responseText || "";
    try { text = JSON.parse(text).detail || text; } catch (_) { text = text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim(); }
    box.textContent = `Not saved (HTTP ${status}): ${text.slice(0, 300)}`;
  });

  const start = onset() !== null ? frames.findIndex((f) => f.number === onset()) : frames.length - 1;
  refreshMarks();
  show(start >= 0 ? start : frames.length - 1);
  preload(current);
  document.body.dataset.reviewReady = "1"; // shortcuts are live (tests wait for this)
})();
