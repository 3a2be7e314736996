/* A small SVG line chart for the dashboard (no dependencies).
 *
 *   CsmsCharts.line(container, points, {label: "Power", unit: "kW", scale: 0.001,
 *                                      decimals: 1, className: "power"});
 *
 * points: [[time in ms, value], ...] in any order; the chart replaces the
 * container's content. Text goes in through textContent only.
 */
(function (global) {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var WIDTH = 320;
  var HEIGHT = 120;
  var PAD = { left: 44, right: 8, top: 18, bottom: 18 };

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, String(attrs[key]));
    });
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }


  function niceRange(min, max) {
    if (min === max) {
      var pad = Math.abs(min) * 0.1 || 1;
      return [min - pad, max + pad];
    }
    var margin = (max - min) * 0.08;
    return [min - margin, max + margin];
  }

  function line(container, points, options) {
    var opts = options || {};
    var scale = opts.scale === undefined ? 1 : opts.scale;
    var decimals = opts.decimals === undefined ? 1 : opts.decimals;
    var unit = opts.unit || "";
    var data = (points || [])
      .filter(function (p) { return p && isFinite(p[0]) && isFinite(p[1]); })
      .map(function (p) { return [Number(p[0]), Number(p[1]) * scale]; })
      .sort(function (a, b) { return a[0] - b[0]; });

    var svg = el("svg", {
      "class": "line-chart " + (opts.className || ""),
      viewBox: "0 0 " + WIDTH + " " + HEIGHT,
      role: "img"
    });
    var last = data.length ? data[data.length - 1][1] : null;
    var title = (opts.label || "") + (last === null ? "" : ": " + last.toFixed(decimals) + " " + unit);
    svg.appendChild(el("title", {}, title));
    svg.appendChild(el("text", { x: PAD.left, y: 12, "class": "chart-label" }, title));

    var x0 = PAD.left;
    var x1 = WIDTH - PAD.right;
    var y0 = HEIGHT - PAD.bottom;
    var y1 = PAD.top;
    svg.appendChild(el("rect", {
      x: x0, y: y1, width: x1 - x0, height: y0 - y1, "class": "chart-frame", fill: "none"
    }));

    if (!data.length) {
      svg.appendChild(el("text", {
        x: (x0 + x1) / 2, y: (y0 + y1) / 2, "text-anchor": "middle", "class": "chart-empty"
      }, "no readings yet"));
      replace(container, svg);
      return svg;
    }

    var tMin = data[0][0];
    var tMax = data[data.length - 1][0];
    if (tMin === tMax) { tMin -= 1000; tMax += 1000; }
    var values = data.map(function (p) { return p[1]; });
    var range = niceRange(Math.min.apply(null, values), Math.max.apply(null, values));
    var vMin = range[0];
    var vMax = range[1];

    function px(t) { return x0 + (t - tMin) / (tMax - tMin) * (x1 - x0); }
    function py(v) { return y0 - (v - vMin) / (vMax - vMin) * (y0 - y1); }

    svg.appendChild(el("text", { x: x0 - 4, y: y1 + 8, "text-anchor": "end", "class": "chart-axis" },
      vMax.toFixed(decimals)));
    svg.appendChild(el("text", { x: x0 - 4, y: y0, "text-anchor": "end", "class": "chart-axis" },
      vMin.toFixed(decimals)));
    svg.appendChild(el("text", { x: x0, y: HEIGHT - 4, "class": "chart-axis" }, window.CsmsFormat.timeOfDay(data[0][0])));
    svg.appendChild(el("text", { x: x1, y: HEIGHT - 4, "text-anchor": "end", "class": "chart-axis" },
      window.CsmsFormat.timeOfDay(data[data.length - 1][0])));

    var coords = data.map(function (p) { return px(p[0]).toFixed(1) + "," + py(p[1]).toFixed(1); });
    if (data.length === 1) {
      var xy = coords[0].split(",");
      svg.appendChild(el("circle", { cx: xy[0], cy: xy[1], r: 3, "class": "chart-line" }));
    } else {
      svg.appendChild(el("polyline", {
        points: coords.join(" "), fill: "none", "class": "chart-line",
        "vector-effect": "non-scaling-stroke"
      }));
    }
    replace(container, svg);
    return svg;
  }

  function replace(container, node) {
    while (container.firstChild) {
      container.removeChild(container.firstChild);
    }
    container.appendChild(node);
  }

  global.CsmsCharts = { line: line };
})(window);
