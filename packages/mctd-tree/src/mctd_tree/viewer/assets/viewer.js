// mctd tree viewer: a collapsible, searchable outline of a search tree, rendered lazily
// (only the rows in the viewport are in the DOM, so 10^4-10^5 nodes stay responsive).
(function () {
  "use strict";
  var t0 = performance.now();
  var D = JSON.parse(document.getElementById("tree-data").textContent);
  var N = D.parent.length, ROW = 22, PAD = 15, HEAD = 22;
  var $ = function (id) { return document.getElementById(id); };
  var view = $("view"), spacer = $("spacer");
  var kids = new Array(N), i;
  for (i = 0; i < N; i++) kids[i] = [];
  for (i = 1; i < N; i++) if (D.parent[i] >= 0) kids[D.parent[i]].push(i);
  var open = new Uint8Array(N), onPath = new Uint8Array(N), isMatch = new Uint8Array(N);
  D.answer.forEach(function (n) { onPath[n] = 1; });
  var lower = null, matches = [], matchPos = -1, selected = -1, rows = [], pending = false;
  var maxVisits = Math.max(1, D.visits[0] || 0);

  function esc(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function shown(s) {  // whitespace made visible: a token that is only spaces still shows
    var t = esc(s).replace(/\n/g, "\u21b5").replace(/\t/g, "\u21e5");
    return s.trim() ? t : t.replace(/ /g, "\u2423");
  }
  function fmt(x) {
    if (x === null || x === undefined) return "";
    var a = Math.abs(x);
    return (a >= 1e5 || (a > 0 && a < 1e-3)) ? x.toExponential(2) : String(+x.toPrecision(4));
  }

  function flatten() {
    rows = [];
    var stack = [0];
    while (stack.length) {
      var n = stack.pop(), k = kids[n];
      rows.push(n);
      if (open[n]) for (var j = k.length - 1; j >= 0; j--) stack.push(k[j]);
    }
    spacer.style.height = rows.length * ROW + "px";
    $("visible-count").textContent = rows.length;
    render();
  }

  function rowHtml(n, idx) {
    var cls = "row" + (onPath[n] ? " answer" : "") + (isMatch[n] ? " match" : "") +
      (n === selected ? " sel" : "") + (D.materialized[n] ? "" : " slot");
    var k = kids[n].length, tog = k ? (open[n] ? "\u25be" : "\u25b8") : "\u00b7";
    var v = D.visits[n] || 0, w = Math.round(60 * Math.min(1, v / maxVisits));
    return '<div class="' + cls + '" data-id="' + n + '" data-parent="' + D.parent[n] +
      '" style="top:' + idx * ROW + 'px"><span class="name" style="padding-left:' +
      D.depth[n] * 14 + 'px"><span class="tog' + (k ? "" : " leaf") + '" data-id="' + n +
      '">' + tog + '</span><span class="lab">' + shown(D.label[n]) + "</span></span>" +
      '<span class="num">' + fmt(D.visits[n]) + '<span class="vbar" style="width:' + w +
      'px"></span></span><span class="num">' + fmt(D.value[n]) + '</span><span class="num">' +
      (n ? fmt(D.prior[n]) : "") + '</span><span class="num">' + (D.mult[n] || "") +
      '</span><span class="num' + (D.terminal[n] ? " term" : "") + '">' + fmt(D.reward[n]) +
      "</span></div>";
  }

  function render() {
    pending = false;
    var top = Math.max(0, view.scrollTop - HEAD);
    var first = Math.max(0, Math.floor(top / ROW) - PAD);
    var last = Math.min(rows.length, Math.ceil((top + view.clientHeight) / ROW) + PAD);
    var html = [];
    for (var j = first; j < last; j++) html.push(rowHtml(rows[j], j));
    spacer.innerHTML = html.join("");
  }

  function pathTo(n) {
    var p = [];
    while (n >= 0) { p.push(n); n = D.parent[n]; }
    return p.reverse();
  }
  function reveal(n) { var p = pathTo(n); for (var j = 0; j < p.length - 1; j++) open[p[j]] = 1; }
  function scrollToNode(n) {
    var idx = rows.indexOf(n);
    if (idx >= 0) view.scrollTop = Math.max(0, idx * ROW - view.clientHeight / 3);
    render();
  }

  function select(n) {
    selected = n;
    var p = pathTo(n), text = p.slice(1).map(function (m) { return D.label[m]; }).join(D.path_sep);
    var stat = [["id", n], ["depth", D.depth[n]], ["children", kids[n].length],
      ["visits", fmt(D.visits[n])], [D.value_name, fmt(D.value[n])], ["prior", fmt(D.prior[n])],
      ["multiplicity", D.mult[n]], ["reward", fmt(D.reward[n])],
      ["terminal", D.terminal[n] ? "yes" : "no"], ["materialised", D.materialized[n] ? "yes" : "no (slot)"],
      ["on answer path", onPath[n] ? "yes" : "no"]];
    $("detail-body").innerHTML = "<table>" + stat.map(function (r) {
      return "<tr><td>" + r[0] + "</td><td>" + esc(String(r[1])) + "</td></tr>";
    }).join("") + "</table><h2>edge labels from the root</h2><pre>" + esc(text) +
      "</pre><h2>path</h2><pre>" + p.join(" \u2192 ") + "</pre>";
    render();
  }

  function search(q) {
    q = q.trim().toLowerCase();
    isMatch.fill(0);
    matches = [];
    matchPos = -1;
    if (q) {
      var m = /^#(\d+)$/.exec(q);
      if (m) {
        if (+m[1] < N) matches = [+m[1]];
      } else {
        if (!lower) lower = D.label.map(function (s) { return s.toLowerCase(); });
        for (var j = 0; j < N; j++) if (lower[j].indexOf(q) >= 0) matches.push(j);
      }
      matches.forEach(function (n) { isMatch[n] = 1; reveal(n); });
    }
    $("match-count").textContent = matches.length;
    flatten();
    if (matches.length) next();
  }
  function next() {
    if (!matches.length) return;
    matchPos = (matchPos + 1) % matches.length;
    var n = matches[matchPos];
    reveal(n);
    flatten();
    select(n);
    scrollToNode(n);
  }

  spacer.addEventListener("click", function (e) {
    var t = e.target;
    if (t.classList.contains("tog") && !t.classList.contains("leaf")) {
      var n = +t.dataset.id;
      open[n] = open[n] ? 0 : 1;
      flatten();
      return;
    }
    var row = t.closest(".row");
    if (row) select(+row.dataset.id);
  });
  view.addEventListener("scroll", function () {
    if (!pending) { pending = true; requestAnimationFrame(render); }
  });
  var timer = null;
  $("search").addEventListener("input", function (e) {
    clearTimeout(timer);
    timer = setTimeout(function () { search(e.target.value); }, 150);
  });
  $("search").addEventListener("keydown", function (e) {
    if (e.key === "Enter") { clearTimeout(timer); if (matchPos < 0) search(e.target.value); else next(); }
  });
  $("next").addEventListener("click", next);
  $("expand-all").addEventListener("click", function () { open.fill(1); flatten(); });
  $("collapse-all").addEventListener("click", function () { open.fill(0); open[0] = 1; flatten(); });
  $("answer-btn").addEventListener("click", function () {
    if (!D.answer.length) return;
    var n = D.answer[D.answer.length - 1];
    reveal(n); flatten(); select(n); scrollToNode(n);
  });
  window.addEventListener("resize", render);

  var nMat = 0;
  for (i = 0; i < N; i++) nMat += D.materialized[i];
  $("node-count").textContent = N;
  $("value-name").textContent = D.value_name;
  $("value-name").title = D.value_name;
  $("materialized-count").textContent = nMat;
  var meta = Object.keys(D.meta).map(function (k) { return [k, D.meta[k]]; });
  $("meta").innerHTML = meta.map(function (kv) {
    return "<span><b>" + esc(String(kv[0])) + "</b>: " + esc(String(kv[1])) + "</span>";
  }).join("");
  open[0] = 1;
  if (D.answer.length) reveal(D.answer[D.answer.length - 1]);
  flatten();
  $("render-ms").textContent = Math.round(performance.now() - t0);
  document.body.dataset.ready = "1";
})();
