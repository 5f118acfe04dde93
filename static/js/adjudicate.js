// Adjudication: 1-9 takes that reviewer's answer (submits its form), ] skips to the next.
(() => {
  "use strict";
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
    if (/^[1-9]$/.test(e.key)) {
      const btn = document.querySelector(`button[data-key="${e.key}"]`);
      if (btn) { e.preventDefault(); btn.closest("form").requestSubmit(); }
    } else if (e.key === "]") {
      const skip = document.getElementById("skip-dispute");
      if (skip) { e.preventDefault(); location.href = skip.href; }
    }
  });
  document.body.dataset.adjudicateReady = "1";
})();
