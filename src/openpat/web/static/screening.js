// Screening form: medication autocomplete from the knowledge API and extra medication rows.
(function () {
  "use strict";
  var list = document.getElementById("med-options");
  var body = document.getElementById("med-rows");
  var timer = null;

  function attach(input) {
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (timer) clearTimeout(timer);
      if (q.length < 2) return;
      timer = setTimeout(function () {
        fetch(input.dataset.autocomplete + "?limit=8&name=" + encodeURIComponent(q), {
          headers: { Accept: "application/json" }, credentials: "same-origin"
        }).then(function (r) { return r.ok ? r.json() : []; }).then(function (items) {
          while (list.firstChild) list.removeChild(list.firstChild);
          var seen = {};
          items.forEach(function (m) {
            [m.matched, m.generic].forEach(function (name) {
              if (!name || seen[name]) return;
              seen[name] = true;
              var option = document.createElement("option");
              option.value = name;
              option.label = name === m.generic ? m.classes.join(", ") : "brand of " + m.generic;
              list.appendChild(option);
            });
          });
        });
      }, 150);
    });
  }

  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  if (!list) return;
  document.querySelectorAll("input[data-autocomplete]").forEach(attach);
  var add = document.getElementById("add-med");
  if (add && body) {
    add.addEventListener("click", function () {
      var last = body.rows[body.rows.length - 1];
      var row = last.cloneNode(true);
      row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      row.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; });
      body.appendChild(row);
      attach(row.querySelector("input[data-autocomplete]"));
      row.querySelector("input").focus();
    });
  }
})();
