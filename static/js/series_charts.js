/* Line charts of meter values with one line per phase, as inline SVG (no dependencies).
 *
 * A page holds the charts as JSON in <script type="application/json" id="chart-data">
 * (built by csms/session_charts.py: [{key, label, unit, decimals, points, series:
 * [{name, points: [[ms, value], ...]}]}]) and a container #session-charts. Each chart
 * becomes a <figure data-chart="key" data-points="n"> and each series a <polyline>
 * (or a <circle> for a single point) with data-series="name" data-points="n".
 * Text goes in through textContent only.
 */
(function () {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var WIDTH = 420;
  var HEIGHT = 200;
  var PAD = { left: 48, right: 10, top: 12, bottom: 24 };

  function svgEl(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function htmlEl(name, className, text) {
    var node = document.createElement(name);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function timeText(ms) {
    var d = new Date(ms);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function bounds(chart) {
    var t0 = Infinity, t1 = -Infinity, v0 = Infinity, v1 = -Infinity;
    chart.series.forEach(function (s) {
      s.points.forEach(function (p) {
        t0 = Math.min(t0, p[0]); t1 = Math.max(t1, p[0]);
        v0 = Math.min(v0, p[1]); v1 = Math.max(v1, p[1]);
      });
    });
    if (t0 === t1) { t0 -= 1000; t1 += 1000; }
    if (v0 === v1) { var pad = Math.abs(v0) * 0.1 || 1; v0 -= pad; v1 += pad; }
    else { var margin = (v1 - v0) * 0.08; v0 -= margin; v1 += margin; }
    return { t0: t0, t1: t1, v0: v0, v1: v1 };
  }

  function draw(chart) {
    var figure = htmlEl("figure", "series-chart");
    figure.dataset.chart = chart.key;
    figure.dataset.points = String(chart.points);
    var b = bounds(chart);
    var x0 = PAD.left, x1 = WIDTH - PAD.right, y0 = HEIGHT - PAD.bottom, y1 = PAD.top;
    function px(t) { return x0 + (t - b.t0) / (b.t1 - b.t0) * (x1 - x0); }
    function py(v) { return y0 - (v - b.v0) / (b.v1 - b.v0) * (y0 - y1); }
    var svg = svgEl("svg", { viewBox: "0 0 " + WIDTH + " " + HEIGHT, "class": "series-chart-svg",
                             role: "img", "aria-label": chart.label + " (" + chart.unit + ")" });
    [0, 0.5, 1].forEach(function (f) {
      var v = b.v0 + (b.v1 - b.v0) * f;
      svg.appendChild(svgEl("line", { x1: x0, x2: x1, y1: py(v), y2: py(v), "class": "grid" }));
      svg.appendChild(svgEl("text", { x: x0 - 6, y: py(v) + 4, "text-anchor": "end" },
                            v.toFixed(chart.decimals)));
    });
    svg.appendChild(svgEl("text", { x: x0, y: HEIGHT - 6 }, timeText(b.t0)));
    svg.appendChild(svgEl("text", { x: x1, y: HEIGHT - 6, "text-anchor": "end" }, timeText(b.t1)));
    var legend = htmlEl("figcaption", "series-legend");
    legend.appendChild(htmlEl("strong", "", chart.label + " (" + chart.unit + ")"));
    chart.series.forEach(function (s, index) {
      var cls = "series series-" + index;
      var attrs = { "class": cls, "data-series": s.name, "data-points": s.points.length };
      var last = s.points[s.points.length - 1];
      if (s.points.length === 1) {
        attrs.cx = px(last[0]); attrs.cy = py(last[1]); attrs.r = 3;
        svg.appendChild(svgEl("circle", attrs));
      } else {
        attrs.points = s.points.map(function (p) {
          return px(p[0]).toFixed(1) + "," + py(p[1]).toFixed(1);
        }).join(" ");
        attrs.fill = "none";
        svg.appendChild(svgEl("polyline", attrs));
      }
      var key = htmlEl("span", "legend-key legend-" + index,
                       (s.name === "total" ? "" : s.name + ": ") + last[1].toFixed(chart.decimals) +
                       " " + chart.unit);
      legend.appendChild(key);
    });
    figure.appendChild(svg);
    figure.appendChild(legend);
    return figure;
  }

  var data = document.getElementById("chart-data");
  var container = document.getElementById("session-charts");
  if (data && container) {
    var charts = JSON.parse(data.textContent || "[]");
    container.replaceChildren.apply(container, charts.map(draw));
    container.dataset.charts = String(charts.length);
  }
})();
