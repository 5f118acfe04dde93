// The review page's face view (F): the face box, the two eye points, the method and the
// confidence drawn over the large frame, and the aligned crop beside it. Nothing is fetched
// until the view is switched on (locating faces costs the server work); then the current
// frame's /frames/{id}/face.json comes first and its neighbours' follow, so scrubbing finds
// them ready. A frame without a face says so ("no face found by ..."): there is never a
// made-up box or a centre crop.
(() => {
  "use strict";
  const review = window.OnsetReview;
  const $ = (id) => document.getElementById(id);
  if (!review || !$("face-side")) return;
  const frames = review.frames;
  const img = $("frame-main"), layer = $("face-layer"), svg = $("face-svg"), label = $("face-label");
  const badge = $("face-badge"), side = $("face-side"), toggleBtn = $("face-toggle");
  const cropImg = $("face-crop"), cropEmpty = $("face-crop-empty"), facts = $("face-facts");
  const thumbs = Array.from(document.querySelectorAll("#filmstrip .fs-frame"));
  const radios = Array.from(side.querySelectorAll("input[name=face-source]"));
  const STORE = "onset.faceView";
  const AHEAD = 3; // neighbours prefetched on each side of the current frame
  const SOURCE_NAMES = { landmarks: "landmarks", mtcnn: "MTCNN" };
  const METHOD_NOTES = {
    landmarks: "from CK+’s 68 landmark points",
    detected: "MTCNN ran on this frame",
    interpolated: "between MTCNN key frames (fast path)",
  };

  const stored = (() => { try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (_) { return {}; } })();
  // A list filtered on "no face found by X" opens its sequences with X's face view on.
  const queueSource = side.dataset.queueSource || null;
  let on = Boolean(stored.on || queueSource);
  let chosen = queueSource || stored.source || null; // null: each frame's default source
  let ticket = 0;
  const answers = new Map(); // "frame id|source" -> Promise of the face.json answer

  const keyOf = (frame) => `${frame.id}|${chosen || ""}`;

  function fetchFace(frame) {
    const key = keyOf(frame);
    if (!answers.has(key)) {
      const url = `/frames/${frame.id}/face.json` + (chosen ? `?source=${chosen}` : "");
      const answer = fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(async (response) => {
          const body = await response.json().catch(() => ({}));
          if (!response.ok) {
            const detail = typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`;
            throw new Error(detail);
          }
          return body;
        });
      answer.catch(() => answers.delete(key)); // a failure is asked again next time
      answers.set(key, answer);
    }
    return answers.get(key);
  }

  function save() {
    try { localStorage.setItem(STORE, JSON.stringify({ on, source: queueSource ? stored.source : chosen })); } catch (_) { /* private mode */ }
  }

  // The layer covers exactly the image as displayed (object-fit keeps the frame's aspect, so
  // the element box is the picture); the SVG's viewBox is the frame in original pixels.
  function place() {
    layer.style.left = `${img.offsetLeft}px`;
    layer.style.top = `${img.offsetTop}px`;
    layer.style.width = `${img.offsetWidth}px`;
    layer.style.height = `${img.offsetHeight}px`;
  }

  const num = (v) => Number(v).toFixed(1);

  function draw(face) {
    const frame = frames[review.current()];
    $("face-frame").textContent = `frame ${frame.number}`;
    radios.forEach((r) => { r.checked = r.value === face.source; });
    markThumb(face);
    layer.classList.remove("stale");
    const sourceName = SOURCE_NAMES[face.source] || face.source;
    if (!face.found) {
      layer.hidden = true;
      badge.hidden = false;
      badge.className = "face-badge face-badge-none";
      badge.textContent = `no face found by ${face.source}`;
      badge.title = face.reason || "";
      cropImg.hidden = true;
      cropImg.removeAttribute("src");
      cropEmpty.hidden = false;
      cropEmpty.className = "face-crop-empty none";
      cropEmpty.textContent = `No face found by ${sourceName} in this frame, so there is no crop.`;
      facts.innerHTML = "";
      addFact("Why", face.reason || "no face found");
      return;
    }
    const [x, y, w, h] = face.box;
    const r = Math.max(2.5, Math.min(w, h) * 0.022);
    svg.setAttribute("viewBox", `0 0 ${face.width} ${face.height}`);
    svg.innerHTML =
      `<rect class="face-box m-${face.method}" x="${num(x)}" y="${num(y)}" width="${num(w)}" height="${num(h)}" rx="2"/>` +
      [face.left_eye, face.right_eye].filter(Boolean).map((p) =>
        `<circle class="face-eye" cx="${num(p[0])}" cy="${num(p[1])}" r="${num(r)}"/>`).join("");
    label.className = `face-label m-${face.method}`;
    // "landmarks · landmarks" says nothing twice; MTCNN's method (detected/interpolated) matters.
    const how = face.method === face.source ? sourceName : `${sourceName} · ${face.method}`;
    label.textContent = `${how} · ${Number(face.confidence).toFixed(2)}`;
    label.style.left = `${(100 * x) / face.width}%`;
    label.style.top = `${(100 * y) / face.height}%`;
    label.classList.toggle("below", y < face.height * 0.08); // no room above the box
    place();
    layer.hidden = false;
    badge.hidden = true;
    cropEmpty.hidden = true;
    cropImg.src = face.crop_url;
    cropImg.hidden = false;
    facts.innerHTML = "";
    addFact("Method", face.method, METHOD_NOTES[face.method] || "");
    addFact("Confidence", Number(face.confidence).toFixed(3));
    addFact("Box", `${Math.round(w)} × ${Math.round(h)} px at ${Math.round(x)}, ${Math.round(y)}`);
    if (face.left_eye && face.right_eye) {
      const tilt = (Math.atan2(face.right_eye[1] - face.left_eye[1], face.right_eye[0] - face.left_eye[0]) * 180) / Math.PI;
      addFact("Eye tilt", `${tilt.toFixed(1)}°`, "the crop is rotated to level the eyes");
    }
  }

  function addFact(name, value, note) {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = value;
    if (note) dd.title = note;
    facts.append(dt, dd);
  }

  function showBusy(slow) {
    layer.classList.add("stale");
    if (cropImg.hidden) cropEmpty.textContent = "Locating…";
    badge.hidden = false;
    badge.className = "face-badge face-badge-busy";
    badge.title = "";
    badge.textContent = slow
      ? "Locating faces in this sequence (MTCNN runs once per sequence, then it is cached)…"
      : "Locating the face…";
  }

  function showError(message) {
    layer.hidden = true;
    badge.hidden = false;
    badge.className = "face-badge face-badge-error";
    badge.textContent = `Face view: ${message}`;
    cropImg.hidden = true;
    cropEmpty.hidden = false;
    cropEmpty.className = "face-crop-empty";
    cropEmpty.textContent = "No crop (see the message over the frame).";
  }

  function markThumb(face) {
    const index = frames.findIndex((f) => f.id === face.frame_id);
    if (index >= 0) thumbs[index].classList.toggle("noface", !face.found);
  }

  function update() {
    if (!on) return;
    const index = review.current();
    const mine = ++ticket;
    const quick = setTimeout(() => { if (mine === ticket) showBusy(false); }, 200);
    const slow = setTimeout(() => { if (mine === ticket) showBusy(true); }, 1500);
    fetchFace(frames[index]).then((face) => {
      if (mine !== ticket || !on) return;
      draw(face);
      prefetch(index);
    }, (error) => {
      if (mine === ticket && on) showError(error.message);
    }).finally(() => { clearTimeout(quick); clearTimeout(slow); });
  }

  // Neighbours nearest first, two at a time, so a scrub never queues a burst of requests
  // ahead of the frame on screen; the next and previous crops are warmed in the browser too.
  function prefetch(index) {
    const order = [];
    for (let d = 1; d <= AHEAD; d++) order.push(index + d, index - d);
    const todo = order.filter((i) => i >= 0 && i < frames.length && !answers.has(keyOf(frames[i])));
    const lane = () => {
      if (!on || !todo.length) return;
      const i = todo.shift();
      fetchFace(frames[i]).then((face) => {
        markThumb(face);
        if (face.crop_url && Math.abs(i - index) === 1) new Image().src = face.crop_url;
      }, () => {}).finally(lane);
    };
    lane();
    lane();
  }

  function setOn(value) {
    on = value;
    toggleBtn.setAttribute("aria-pressed", String(on));
    toggleBtn.classList.toggle("on", on);
    side.hidden = !on;
    document.querySelector(".viewer").classList.toggle("face-on", on);
    if (on) {
      layer.classList.add("stale");
      update();
    } else {
      ticket++;
      layer.hidden = true;
      badge.hidden = true;
      thumbs.forEach((t) => t.classList.remove("noface"));
    }
    save();
  }

  document.addEventListener("review:face-toggle", () => setOn(!on));
  document.addEventListener("review:frame", update);
  radios.forEach((radio) => radio.addEventListener("change", () => {
    chosen = radio.value;
    thumbs.forEach((t) => t.classList.remove("noface"));
    save();
    update();
    radio.blur(); // arrow keys scrub again instead of switching the source
  }));
  img.addEventListener("load", () => { if (on) place(); });
  new ResizeObserver(() => { if (on) place(); }).observe($("stage"));
  if (on) setOn(true);
  document.body.dataset.faceReady = "1";
})();
