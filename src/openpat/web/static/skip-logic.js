// Skip logic on the rating page: an item whose gate item is not answered at its level is
// hidden, unless it holds an answer; then it stays in view, marked, so that the rater
// clears it or corrects the gate (the server refuses the contradiction; it never drops it).
(function () {
  "use strict";
  var blocks = Array.prototype.slice.call(document.querySelectorAll("[data-gate]"));
  function update() {
    blocks.forEach(function (block) {
      var gate = document.getElementById(block.dataset.gate);
      var own = block.querySelector("select, input");
      var value = gate ? parseFloat(gate.value) : NaN;
      var asked = !isNaN(value) && value >= parseFloat(block.dataset.atLeast);
      var answered = own && own.value !== "";
      block.hidden = !asked && !answered;
      block.classList.toggle("not-asked", !asked && answered);
    });
  }
  document.addEventListener("change", update);
  update();
})();
