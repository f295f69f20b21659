// Knowledge pages: sortable tables and medication autocomplete. No dependencies.
(function () {
  "use strict";

  // Sortable tables: a heading button sorts by its column's data-sort values.
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("button.sort").forEach(function (button) {
      button.addEventListener("click", function () {
        var th = button.closest("th");
        var col = Number(button.dataset.col);
        var numeric = button.dataset.type === "num";
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (h) {
          if (h.hasAttribute("aria-sort")) h.setAttribute("aria-sort", "none");
        });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].dataset.sort || "";
          var y = b.cells[col].dataset.sort || "";
          if (numeric) {
            // rows without a figure always go last
            if (x === "" || y === "") return (x === "") - (y === "");
            return ascending ? Number(x) - Number(y) : Number(y) - Number(x);
          }
          return ascending ? x.localeCompare(y) : y.localeCompare(x);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });

  // Citation links: highlight the reference they jump to.
  document.querySelectorAll("a.cite").forEach(function (link) {
    link.addEventListener("click", function () {
      document.querySelectorAll(".refs li.target").forEach(function (li) { li.classList.remove("target"); });
      var target = document.getElementById("ref-" + link.dataset.ref);
      if (target) {
        var folded = target.closest("details");
        if (folded) folded.open = true;  // the list may be folded away
        target.classList.add("target");
      }
    });
  });

  // Medication autocomplete: suggestions from the JSON API as the user types.
  var input = document.querySelector("input[data-autocomplete]");
  if (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var last = "";
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (timer) clearTimeout(timer);
      if (q.length < 2 || q === last) return;
      timer = setTimeout(function () {
        last = q;
        fetch(input.dataset.autocomplete + "?limit=8&name=" + encodeURIComponent(q), {
          headers: { Accept: "application/json" }, credentials: "same-origin"
        }).then(function (r) { return r.ok ? r.json() : []; }).then(function (items) {
          while (list.firstChild) list.removeChild(list.firstChild);
          var seen = {};
          items.forEach(function (m) {
            [m.matched, m.generic].forEach(function (name) {
              if (seen[name]) return;
              seen[name] = true;
              var option = document.createElement("option");
              option.value = name;
              option.label = name === m.generic ? m.generic : name + " → " + m.generic;
              list.appendChild(option);
            });
          });
          list.dataset.count = String(items.length);
        }).catch(function () { /* suggestions are optional */ });
      }, 150);
    });
  }
})();
