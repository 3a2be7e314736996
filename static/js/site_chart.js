/* The live chart of a site page: limit, allocated and measured load (amps per phase)
 * over time, as inline SVG; the load figures and the shares table follow too.
 * Polls the site's allocations (GET, the login cookie authenticates) every 3 s.
 * Text goes in through textContent only.
 */
(function () {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var WIDTH = 720;
  var HEIGHT = 240;
  var PAD = { left: 44, right: 12, top: 12, bottom: 24 };
  var SERIES = [
    { key: "capacity_a", className: "limit", step: true },
    { key: "allocated_a", className: "allocated", step: true },
    { key: "measured_a", className: "measured", step: false }
  ];

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, String(attrs[key]));
    });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }


  function draw(container, items) {
    var svg = el("svg", { viewBox: "0 0 " + WIDTH + " " + HEIGHT, "class": "site-chart-svg",
                          role: "img" });
    var points = items.map(function (item) { return Object.assign({ t: Date.parse(item.ts) }, item); });
    var now = Date.now();
    var t0 = points.length ? points[0].t : now - 60000;
    var t1 = Math.max(now, t0 + 1000);
    var top = 1;
    points.forEach(function (p) {
      SERIES.forEach(function (s) { if (p[s.key] != null) { top = Math.max(top, p[s.key]); } });
    });
    top = Math.ceil(top * 1.1);
    function x(t) { return PAD.left + (t - t0) / (t1 - t0) * (WIDTH - PAD.left - PAD.right); }
    function y(v) { return HEIGHT - PAD.bottom - v / top * (HEIGHT - PAD.top - PAD.bottom); }
    [0, 0.5, 1].forEach(function (f) {
      var v = Math.round(top * f);
      svg.appendChild(el("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v),
                                   "class": "grid" }));
      svg.appendChild(el("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" }, v + " A"));
    });
    svg.appendChild(el("text", { x: PAD.left, y: HEIGHT - 6 }, window.CsmsFormat.timeOfDay(t0)));
    svg.appendChild(el("text", { x: WIDTH - PAD.right, y: HEIGHT - 6, "text-anchor": "end" },
                       window.CsmsFormat.timeOfDay(t1)));
    SERIES.forEach(function (s) {
      var d = "";
      var last = null;
      points.forEach(function (p) {
        var v = p[s.key];
        if (v == null) { return; }
        if (last === null) { d += "M" + x(p.t) + "," + y(v); }
        else if (s.step) { d += " H" + x(p.t) + " V" + y(v); }
        else { d += " L" + x(p.t) + "," + y(v); }
        last = v;
      });
      if (last !== null && s.step) { d += " H" + x(t1); }
      if (d) { svg.appendChild(el("path", { d: d, "class": "series " + s.className })); }
    });
    container.replaceChildren(svg);
  }

  function cell(text, numeric) {
    var td = document.createElement("td");
    if (numeric) { td.className = "num"; }
    td.textContent = text;
    return td;
  }

  function fixed(v) { return v == null ? "" : Number(v).toFixed(1); }

  function update(items) {
    var latest = items.length ? items[items.length - 1] : null;
    if (!latest) { return; }
    document.getElementById("allocated").textContent = fixed(latest.allocated_a);
    document.getElementById("measured").textContent =
      latest.measured_a == null ? "–" : fixed(latest.measured_a);
    document.getElementById("limit").textContent = fixed(latest.capacity_a);
    document.getElementById("decided").textContent = new Date(latest.ts).toLocaleString();
    var body = document.getElementById("shares-body");
    var rows = latest.shares.map(function (share) {
      var tr = document.createElement("tr");
      var link = document.createElement("a");
      link.href = "/ocpp/admin/chargers/" + encodeURIComponent(share.charger) + "/";
      link.textContent = share.charger;
      var first = document.createElement("td");
      first.appendChild(link);
      tr.appendChild(first);
      tr.appendChild(cell(String(share.connector)));
      tr.appendChild(cell(share.transaction == null ? "" : String(share.transaction)));
      tr.appendChild(cell(fixed(share.limit_a), true));
      tr.appendChild(cell(fixed(share.measured_a), true));
      tr.appendChild(cell(share.state || ""));
      return tr;
    });
    body.replaceChildren.apply(body, rows);
  }

  function poll(container) {
    fetch(container.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data) {
          draw(container, data.items);
          update(data.items);
          container.dataset.points = String(data.items.length);
        }
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(function () { poll(container); }, 3000); });
  }

  var container = document.getElementById("site-chart");
  if (container) { poll(container); }
})();
