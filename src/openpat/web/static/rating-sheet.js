// Interview scoring sheet: propose each item's severity from its frequency and intensity.
// The rule (lower-unless-intensity-two-above, VA CAPS-5 training): the same level gives that
// severity; otherwise the lower one, except that an intensity two or more levels above the
// frequency gives the frequency plus one; a level of 0 gives 0. The server applies the same
// rule when the severity is left empty, and the rater can change the proposal.
(function () {
  "use strict";
  var form = document.querySelector("form[data-sheet-rule]");
  if (!form || form.dataset.sheetRule !== "lower-unless-intensity-two-above") return;
  function propose(f, i) {
    if (f === 0 || i === 0) return 0;
    return i >= f + 2 ? f + 1 : Math.min(f, i);
  }
  form.querySelectorAll("fieldset.sheet-item").forEach(function (box) {
    var freq = box.querySelector("[data-part=frequency]");
    var inten = box.querySelector("[data-part=intensity]");
    var severity = box.querySelector("[data-part=severity]");
    function update() {
      if (freq.value === "" || inten.value === "") return;
      severity.value = String(propose(Number(freq.value), Number(inten.value)));
    }
    freq.addEventListener("change", update);
    inten.addEventListener("change", update);
  });
})();
