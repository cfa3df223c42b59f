// The lineage explorer. Every string from the store is data: it reaches the page only through
// textContent and setAttribute, never as markup.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var D = JSON.parse(document.getElementById("lineage-data").textContent);
  var N = D.nodes;
  var BIG = N.length > 300; // past this, labels hide when zoomed out
  var canvas = document.getElementById("canvas");
  var viewport = document.getElementById("viewport");
  var search = document.getElementById("search");
  var suggestions = document.getElementById("suggestions");
  var details = document.getElementById("details");
  var focusBox = document.getElementById("focus-mode");
  var depthBox = document.getElementById("depth");
  var statusLine = document.getElementById("status");
  var neighbourhood = document.getElementById("neighbourhood");
  var index = new Map();
  N.forEach(function (n, i) { if (!index.has(n.id)) index.set(n.id, i); });
  var nodeEls = [];
  var edgeEls = [];
  var selected = null;
  var view = { x: 0, y: 0, k: 1 };

  function svg(tag, attrs, parent) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (parent) parent.appendChild(e);
    return e;
  }
  // Bidirectional overrides, embeddings, isolates and marks would reorder what is shown
  // ("T\u202egnp.exe" reading as "Texe.png"): they are displayed as visible escapes instead.
  var BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  function shown(text) {
    return String(text).replace(BIDI, function (c) {
      return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
    });
  }
  function html(tag, text, parent, cls) {
    var e = document.createElement(tag);
    if (text !== null && text !== undefined) e.textContent = shown(text);
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }

  // --- walks: the same rules as LineageGraph.upstream / downstream --------------------------
  function walk(start, depth, forward) {
    var step = forward ? D.succ : D.pred;
    var touching = forward ? D.reads : D.writes;
    var ends = forward ? D.tout : D.tin;
    var isT = N[start].kind === "Transformation";
    var result = new Set();
    var seen, stack, queue, head, n, d, list, i;
    if (depth === null) {
      stack = isT ? ends[start].slice() : [start];
      seen = new Set(stack);
      while (stack.length) {
        n = stack.pop();
        touching[n].forEach(function (t) { result.add(t); });
        list = step[n];
        for (i = 0; i < list.length; i++) {
          if (!seen.has(list[i])) { seen.add(list[i]); stack.push(list[i]); }
        }
      }
      seen.forEach(function (v) { result.add(v); });
      result.delete(start);
      return result;
    }
    seen = new Set();
    queue = [];
    if (isT) {
      ends[start].forEach(function (v) { seen.add(v); queue.push([v, 1]); });
    } else {
      seen.add(start);
      queue.push([start, 0]);
    }
    for (head = 0; head < queue.length; head++) {
      n = queue[head][0];
      d = queue[head][1];
      if (d + 1 > depth) continue;
      touching[n].forEach(function (t) { result.add(t); });
      if (d + 2 > depth) continue;
      list = step[n];
      for (i = 0; i < list.length; i++) {
        if (!seen.has(list[i])) { seen.add(list[i]); queue.push([list[i], d + 2]); }
      }
    }
    seen.forEach(function (v) { result.add(v); });
    result.delete(start);
    return result;
  }
  function idsOf(set) {
    return Array.from(set, function (i) { return N[i].id; }).sort();
  }

  // --- drawing -------------------------------------------------------------------------------
  function shape(n, g) {
    var x = n.xywh[0] - n.xywh[2] / 2, y = n.xywh[1] - n.xywh[3] / 2, w = n.xywh[2], h = n.xywh[3];
    if (n.kind === "Feature") {
      return svg("ellipse", { "class": "shape", cx: n.xywh[0], cy: n.xywh[1], rx: w / 2, ry: h / 2 }, g);
    }
    if (n.kind === "DataSource") { // a folder: a tab on the top right, as Graphviz draws it
      var t = Math.min(30, w / 3);
      return svg("path", { "class": "shape", d: "M" + x + "," + (y + h) + "V" + (y + 4) + "H" +
        (x + w - t) + "L" + (x + w - t + 3) + "," + y + "H" + (x + w - 3) + "L" + (x + w) + "," +
        (y + 4) + "V" + (y + h) + "Z" }, g);
    }
    if (n.kind === "Transformation") {
      return svg("rect", { "class": "shape", x: x, y: y, width: w, height: h }, g);
    }
    return svg("path", { "class": "shape", d: "M" + x + "," + y + "H" + (x + w - 8) + "L" + (x + w) +
      "," + (y + 8) + "V" + (y + h) + "H" + x + "Z" }, g);
  }
  // The marks of `lineage graph`: a diff's (added, removed, changed), else staleness. Only
  // these fixed words become classes, never a store value.
  function marksOf(n) {
    var out = "";
    if (n.mark === "added" || n.mark === "removed" || n.mark === "changed") out += " " + n.mark;
    if (n.stale && n.stale.length) out += " stale";
    return out;
  }
  function draw() {
    var edgeLayer = document.getElementById("edges");
    var nodeLayer = document.getElementById("nodes");
    D.edges.forEach(function (e, j) {
      var p = e[2], d = "M" + p[0] + "," + p[1], i;
      for (i = 2; i + 5 < p.length; i += 6) {
        d += "C" + p[i] + "," + p[i + 1] + " " + p[i + 2] + "," + p[i + 3] + " " + p[i + 4] + "," + p[i + 5];
      }
      d += "L" + e[3][0] + "," + e[3][1];
      var attrs = { d: d, "marker-end": "url(#arrow)" };
      var mark = D.edge_marks ? D.edge_marks[j] : null;
      if (mark === "added" || mark === "removed") attrs["class"] = mark;
      edgeEls.push(svg("path", attrs, edgeLayer));
    });
    N.forEach(function (n, i) {
      var g = svg("g", { "class": "node " + n.kind + (n.failed ? " failed" : "") + marksOf(n),
        "data-node-id": n.id, "data-kind": n.kind, tabindex: 0 }, nodeLayer);
      var title = document.createElementNS(SVG, "title");
      title.textContent = shown(n.id) + (n.failed ? " (last run failed)" : "") +
        (n.mark ? " (" + n.mark + ")" : "") + (n.stale && n.stale.length ? " (stale)" : "");
      g.appendChild(title);
      shape(n, g);
      var cy = n.xywh[1];
      svg("text", { "class": "title", x: n.xywh[0], y: n.sub ? cy - 2 : cy + 4 }, g).textContent = shown(n.label);
      if (n.sub) svg("text", { "class": "sub", x: n.xywh[0], y: cy + 11 }, g).textContent = shown(n.sub);
      nodeEls.push(g);
      g.addEventListener("keydown", function (ev) { if (ev.key === "Enter") select(i, true); });
    });
  }

  // --- pan and zoom --------------------------------------------------------------------------
  function apply() {
    viewport.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.k + ")");
    canvas.classList.toggle("nolabels", BIG && view.k < 0.45);
  }
  function size() {
    var r = canvas.getBoundingClientRect();
    return { w: Math.max(r.width, 50), h: Math.max(r.height, 50) };
  }
  function fit() {
    var s = size(), lw = D.layout.width + 40, lh = D.layout.height + 40;
    view.k = Math.min(s.w / lw, s.h / lh, 1.5);
    view.x = (s.w - D.layout.width * view.k) / 2;
    view.y = (s.h - D.layout.height * view.k) / 2;
    apply();
  }
  function zoomAt(mx, my, factor) {
    var k = Math.min(Math.max(view.k * factor, 0.02), 8);
    view.x = mx - (mx - view.x) * (k / view.k);
    view.y = my - (my - view.y) * (k / view.k);
    view.k = k;
    apply();
  }
  function centreOn(i) {
    var s = size(), n = N[i];
    if (view.k < 1) view.k = 1;
    view.x = s.w / 2 - n.xywh[0] * view.k;
    view.y = s.h / 2 - n.xywh[1] * view.k;
    apply();
  }
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = canvas.getBoundingClientRect();
    zoomAt(ev.clientX - r.left, ev.clientY - r.top, Math.exp(-ev.deltaY * 0.0015));
  }, { passive: false });
  var drag = null;
  canvas.addEventListener("pointerdown", function (ev) {
    drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, moved: false };
  });
  canvas.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    if (ev.buttons === 0) { drag = null; return; } // released outside the canvas
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 4) {
      drag.moved = true;
      canvas.classList.add("dragging");
      canvas.setPointerCapture(ev.pointerId);
    }
    if (drag.moved) { view.x = drag.vx + dx; view.y = drag.vy + dy; apply(); }
  });
  function endDrag() { canvas.classList.remove("dragging"); setTimeout(function () { drag = null; }, 0); }
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);
  canvas.addEventListener("click", function (ev) {
    if (drag && drag.moved) return;
    var g = ev.target.closest ? ev.target.closest("[data-node-id]") : null;
    if (g) select(nodeEls.indexOf(g), false);
  });
  document.getElementById("zoom-in").addEventListener("click", function () { var s = size(); zoomAt(s.w / 2, s.h / 2, 1.25); });
  document.getElementById("zoom-out").addEventListener("click", function () { var s = size(); zoomAt(s.w / 2, s.h / 2, 0.8); });
  document.getElementById("zoom-fit").addEventListener("click", fit);

  // --- focus ---------------------------------------------------------------------------------
  function depthValue() { return depthBox.value ? parseInt(depthBox.value, 10) : null; }
  function applyFocus() {
    var on = focusBox.checked && selected !== null;
    var lit = null;
    if (on) {
      var d = depthValue();
      lit = walk(selected, d, false);
      walk(selected, d, true).forEach(function (v) { lit.add(v); });
      lit.add(selected);
    }
    nodeEls.forEach(function (g, i) { g.classList.toggle("faded", on && !lit.has(i)); });
    edgeEls.forEach(function (p, j) {
      var e = D.edges[j];
      p.classList.toggle("faded", on && !(lit.has(e[0]) && lit.has(e[1])));
    });
  }
  focusBox.addEventListener("change", applyFocus);
  depthBox.addEventListener("change", function () { applyFocus(); updateNeighbourhood(); });
  function updateNeighbourhood() {
    // A big served graph is laid out by layers; the server lays a neighbourhood out with dot.
    if (!D.live || D.layout.engine === "dot" || selected === null) { neighbourhood.hidden = true; return; }
    var href = "?focus=" + encodeURIComponent(N[selected].id);
    if (depthValue() !== null) href += "&depth=" + depthValue();
    neighbourhood.setAttribute("href", href + "#node=" + encodeURIComponent(N[selected].id));
    neighbourhood.hidden = false;
  }

  // --- details -------------------------------------------------------------------------------
  function fmtTime(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+/, "") : "-"; }
  function fmtDuration(s) {
    if (s < 1) return (s * 1000).toFixed(1) + " ms";
    if (s < 120) return s.toFixed(2) + " s";
    return (s / 60).toFixed(1) + " min";
  }
  function row(dl, name, value) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return;
    html("dt", name, dl);
    html("dd", Array.isArray(value) ? value.join(", ") : value, dl);
  }
  function links(parent, title, list) {
    if (!list.length) return;
    html("h3", title, parent);
    var box = html("div", null, parent, "links");
    list.forEach(function (i) {
      var b = html("button", N[i].id, box);
      b.type = "button";
      b.setAttribute("title", N[i].kind + ": " + shown(N[i].id));
      b.addEventListener("click", function () { select(i, true); });
    });
  }
  function timeline(parent, runs) {
    var w = 340, h = 48, chrono = runs.slice().reverse();
    var max = Math.max.apply(null, chrono.map(function (r) { return r.duration_s; }).concat([1e-9]));
    var bar = Math.min(w / Math.max(chrono.length, 1), 18);
    var s = svg("svg", { "class": "timeline", viewBox: "0 0 " + w + " " + h, preserveAspectRatio: "none",
      role: "img", "aria-label": "run durations, oldest to newest" }, parent);
    chrono.forEach(function (r, j) {
      var bh = Math.max(2, (h - 4) * r.duration_s / max);
      var rect = svg("rect", { "class": r.status, x: j * bar + 1, y: h - bh, width: Math.max(bar - 2, 1), height: bh }, s);
      var t = document.createElementNS(SVG, "title");
      t.textContent = r.status + " · " + fmtTime(r.started_at) + " · " + fmtDuration(r.duration_s);
      rect.appendChild(t);
    });
  }
  function runsTable(parent, runs) {
    var table = html("table", null, parent, "runs");
    var head = html("tr", null, html("thead", null, table));
    ["status", "started (UTC)", "duration", "commit", "tag", "dirty", "host"].forEach(function (c) { html("th", c, head); });
    var body = html("tbody", null, table);
    runs.forEach(function (r) {
      var tr = html("tr", null, body);
      html("td", r.status, tr, "st-" + r.status);
      html("td", fmtTime(r.started_at), tr);
      html("td", fmtDuration(r.duration_s), tr);
      var c = html("td", r.commit ? r.commit.slice(0, 10) : "-", tr, "commit");
      if (r.commit) c.setAttribute("title", r.commit);
      html("td", r.tag || "-", tr);
      html("td", r.dirty === null ? "-" : (r.dirty ? "yes" : "no"), tr);
      html("td", r.host || "-", tr, "host");
      if (r.error) {
        var er = html("tr", null, body);
        var td = html("td", r.error, er, "error");
        td.colSpan = 7;
      }
    });
  }
  function staleReasons(n) {
    if (!n.stale || !n.stale.length) return;
    html("h3", "stale", details, "stale-head");
    var ul = html("ul", null, details, "stale-reasons");
    n.stale.forEach(function (r) {
      var li = html("li", null, ul);
      html("span", r.kind, li, "reason-kind");
      html("span", r.detail, li, "reason-detail");
    });
  }
  function changedFields(n) {
    if (!n.changed) return;
    html("h3", "changed: " + n.changed.fields.join(", "), details, "changed-head");
    var table = html("table", null, details, "changed-table");
    var head = html("tr", null, table);
    ["", D.diff ? D.diff.from.when : "from", D.diff ? D.diff.to.when : "to"].forEach(function (c) { html("th", c, head); });
    ["version", "source_sha256", "commit", "tag"].forEach(function (k) {
      var tr = html("tr", null, table);
      html("th", k === "source_sha256" ? "source" : k, tr);
      [n.changed.from[k], n.changed.to[k]].forEach(function (v) {
        html("td", v === null || v === undefined ? "-" : (k === "source_sha256" || k === "commit" ? String(v).slice(0, 12) : v), tr);
      });
    });
  }
  function showDetails(i) {
    var n = N[i];
    details.replaceChildren();
    html("h2", n.id, details, "node-id");
    html("span", n.kind, details, "kind " + n.kind);
    if (n.mark) html("span", n.mark, details, "mark" + marksOf({ mark: n.mark }));
    var dl = html("dl", null, details);
    row(dl, "description", n.description);
    row(dl, "owner", n.owner);
    row(dl, "type", n.type);
    row(dl, "schema", n.schema);
    row(dl, "location", n.location);
    row(dl, "value type", n.value_type);
    row(dl, "entity", n.entity);
    row(dl, "tags", n.tags);
    row(dl, "source columns", n.source_columns);
    staleReasons(n);
    changedFields(n);
    if (n.kind === "Transformation") {
      row(dl, "version", n.version);
      row(dl, "framework", n.compute_framework);
      var ref = n.code_reference || (n.runs.length ? n.runs[0].code_reference : null);
      row(dl, "code reference", ref);
      if (n.runs.length) {
        row(dl, "latest run", n.runs[0].status + " · " + fmtTime(n.runs[0].started_at));
        row(dl, "latest commit", n.runs[0].commit);
      }
      if (n.code_url && /^https:\/\//.test(n.code_url)) {
        var a = html("a", "view the code at the recorded commit", html("p", null, details), "code-link");
        a.setAttribute("href", n.code_url);
        a.setAttribute("target", "_blank");
        a.setAttribute("rel", "noopener noreferrer");
      }
      links(details, "reads", D.tin[i]);
      links(details, "writes", D.tout[i]);
      html("h3", "recent runs (" + n.runs.length + ")", details);
      if (n.runs.length) { timeline(details, n.runs); runsTable(details, n.runs); }
      else html("p", "no run recorded", details, "hint");
    } else {
      links(details, "written by", D.writes[i]);
      links(details, "read by", D.reads[i]);
    }
  }

  // --- selection and the URL -----------------------------------------------------------------
  function select(i, centre) {
    if (i === null || i < 0 || i >= N.length) return;
    if (selected !== null) nodeEls[selected].classList.remove("selected");
    selected = i;
    nodeEls[i].classList.add("selected");
    showDetails(i);
    applyFocus();
    updateNeighbourhood();
    if (centre) centreOn(i);
    var hash = "#node=" + encodeURIComponent(N[i].id);
    if (location.hash !== hash) {
      try { history.replaceState(null, "", hash); } catch (e) { /* a sandboxed frame keeps no URL */ }
    }
  }
  function fromHash() {
    var m = /^#node=(.*)$/.exec(location.hash);
    if (!m) return false;
    var id;
    try { id = decodeURIComponent(m[1]); } catch (e) { return false; }
    if (!index.has(id)) { statusLine.textContent = "no node with the id in the link"; return false; }
    if (index.get(id) !== selected) select(index.get(id), true);
    return true;
  }
  window.addEventListener("hashchange", fromHash);

  // --- search --------------------------------------------------------------------------------
  var matches = [];
  var active = 0;
  function findMatches(q) {
    var scored = [];
    q = q.toLowerCase();
    N.forEach(function (n, i) {
      var id = n.id.toLowerCase(), score = -1;
      if (id === q) score = 0;
      else if (id.indexOf(q) === 0) score = 1;
      else if (id.indexOf(q) > 0) score = 2;
      else if (n.description && n.description.toLowerCase().indexOf(q) >= 0) score = 3;
      if (score >= 0) scored.push([score, n.id, i]);
    });
    scored.sort(function (a, b) { return a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0); });
    return scored.slice(0, 12).map(function (s) { return s[2]; });
  }
  function showSuggestions() {
    suggestions.replaceChildren();
    matches.forEach(function (i, j) {
      var li = html("li", null, suggestions, j === active ? "active" : "");
      li.setAttribute("role", "option");
      html("span", N[i].id, li, "sid");
      html("span", N[i].kind, li, "skind");
      if (N[i].description) html("span", N[i].description, li, "sdesc");
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(j); });
    });
    suggestions.hidden = matches.length === 0;
  }
  function choose(j) {
    if (!matches.length) return;
    select(matches[j], true);
    suggestions.hidden = true;
  }
  search.addEventListener("input", function () {
    var q = search.value.trim();
    matches = q ? findMatches(q) : [];
    active = 0;
    showSuggestions();
  });
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") { ev.preventDefault(); choose(active); }
    else if (ev.key === "ArrowDown" && matches.length) { ev.preventDefault(); active = (active + 1) % matches.length; showSuggestions(); }
    else if (ev.key === "ArrowUp" && matches.length) { ev.preventDefault(); active = (active + matches.length - 1) % matches.length; showSuggestions(); }
    else if (ev.key === "Escape") { suggestions.hidden = true; }
  });
  search.addEventListener("blur", function () { suggestions.hidden = true; });

  // --- start ---------------------------------------------------------------------------------
  draw();
  fit();
  window.addEventListener("resize", fit);
  var transforms = N.filter(function (n) { return n.kind === "Transformation"; }).length;
  statusLine.textContent = (N.length - transforms) + " nodes · " + transforms + " transformations · " +
    (D.layout.engine === "dot" ? "dot layout" : "layered overview" +
      (D.live ? "" : " (lineage ui --focus ID lays a neighbourhood out with dot)"));
  if (D.diff) {
    statusLine.textContent = "changes from " + shown(D.diff.from.when) + " to " + shown(D.diff.to.when) +
      " · " + statusLine.textContent;
  }
  if (D.depth !== null) {
    if (!Array.prototype.some.call(depthBox.options, function (o) { return o.value === String(D.depth); })) {
      html("option", D.depth, depthBox);
    }
    depthBox.value = String(D.depth);
  }
  if (D.focus !== null) focusBox.checked = true; // a page built around one id opens focused
  if (!fromHash() && D.focus !== null && index.has(D.focus)) select(index.get(D.focus), false);
  // For automation and tests: the same walks the page uses to fade nodes.
  window.lineageExplorer = Object.freeze({
    upstream: function (id, depth) { return idsOf(walk(index.get(id), depth === undefined ? null : depth, false)); },
    downstream: function (id, depth) { return idsOf(walk(index.get(id), depth === undefined ? null : depth, true)); },
    select: function (id) { select(index.get(id), true); }
  });
})();
