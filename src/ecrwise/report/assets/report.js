// ecrwise HTML report: sort and filter the findings table. No data lives here; it reads the DOM.
// The URL fragment keeps the view shareable: #q=TEXT&severity=LEVEL&family=NAME&sort=COLUMN&dir=asc|desc
(function () {
  "use strict";
  var RANK = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };
  var table = document.getElementById("findings");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var q = document.getElementById("q"), sev = document.getElementById("sev"), fam = document.getElementById("fam");
  var count = document.getElementById("count");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var state = { col: null, dir: "asc" };

  function value(row, col) {
    var cell = row.querySelector('[data-col="' + col + '"]');
    if (!cell) { return ""; }
    var v = cell.getAttribute("data-v");
    if (v === null) { return cell.textContent.trim().toLowerCase(); }
    var n = parseFloat(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }

  function sortBy(col, dir) {
    state.col = col; state.dir = dir;
    var sign = dir === "asc" ? 1 : -1;
    rows.sort(function (a, b) {
      var x = value(a, col), y = value(b, col);
      if (x < y) { return -sign; }
      if (x > y) { return sign; }
      return value(a, "rank") - value(b, "rank");
    });
    rows.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h) {
      if (h.getAttribute("data-col") === col) { h.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending"); }
      else { h.removeAttribute("aria-sort"); }
    });
  }

  function filter() {
    var text = (q.value || "").trim().toLowerCase();
    var floor = RANK[sev.value] || 0, family = fam.value, shown = 0;
    rows.forEach(function (r) {
      var ok = (!text || r.textContent.toLowerCase().indexOf(text) !== -1) &&
               (RANK[r.getAttribute("data-severity")] || 0) >= floor &&
               (!family || r.getAttribute("data-family") === family);
      r.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " findings";
  }

  function writeHash() {
    var parts = [];
    if (q.value) { parts.push("q=" + encodeURIComponent(q.value)); }
    if (sev.value) { parts.push("severity=" + encodeURIComponent(sev.value)); }
    if (fam.value) { parts.push("family=" + encodeURIComponent(fam.value)); }
    if (state.col) { parts.push("sort=" + encodeURIComponent(state.col) + "&dir=" + state.dir); }
    if (history.replaceState) { history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname); }
  }

  heads.forEach(function (h) {
    var b = h.querySelector("button");
    if (!b) { return; }
    b.addEventListener("click", function () {
      var col = h.getAttribute("data-col");
      var first = h.getAttribute("data-first") || "asc";
      var dir = state.col === col ? (state.dir === "asc" ? "desc" : "asc") : first;
      sortBy(col, dir); writeHash();
    });
  });
  [q, sev, fam].forEach(function (el) {
    el.addEventListener("input", function () { filter(); writeHash(); });
    el.addEventListener("change", function () { filter(); writeHash(); });
  });

  var params = {};
  (location.hash || "").replace(/^#/, "").split("&").forEach(function (kv) {
    var i = kv.indexOf("=");
    if (i > 0) { params[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1)); }
  });
  if (params.q) { q.value = params.q; }
  if (params.severity && RANK.hasOwnProperty(params.severity)) { sev.value = params.severity; }
  if (params.family) { fam.value = params.family; }
  if (params.sort && heads.some(function (h) { return h.getAttribute("data-col") === params.sort; })) {
    sortBy(params.sort, params.dir === "desc" ? "desc" : "asc");
  }
  filter();
  document.documentElement.setAttribute("data-ready", "1");
})();
