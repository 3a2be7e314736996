/* The fleet map: every located charger as a canvas circle marker, coloured by state.
 *
 * Settings come from data- attributes of #fleet-map (no inline script). The markers are
 * fetched as compact arrays ([id, lat, lng, state, kW, name], see handlers/fleet_map.py)
 * and drawn on one canvas (preferCanvas), which keeps 10,000 of them responsive; a
 * popup is built only when a marker is clicked. They are fetched again every minute.
 * #fleet-map gets data-markers (how many are drawn) once they are on the map.
 */
(function () {
  "use strict";
  var el = document.getElementById("fleet-map");
  if (!el || !window.L) {
    return;
  }
  var data = el.dataset;
  var COLOURS = {
    faulted: "#c62828", offline: "#8a94a3", charging: "#0b6bcb",
    unavailable: "#b35900", available: "#1a7f37"
  };
  var REFRESH_MS = 60000;
  var centre = [Number(data.defaultLat) || 25.6866, Number(data.defaultLng) || -100.3161];
  var map = L.map(el, { preferCanvas: true }).setView(centre, 11);
  L.tileLayer(data.tileUrl, { attribution: data.attribution, maxZoom: 19 }).addTo(map);
  var layer = L.layerGroup().addTo(map);
  var fitted = false;

  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (className) { node.className = className; }
    return node;
  }

  function link(href, label) {
    var a = text("a", label);
    a.href = href;
    return a;
  }

  function popup(m) {
    var id = m[0];
    var box = document.createElement("div");
    box.className = "map-popup";
    box.setAttribute("data-charger", id);
    box.appendChild(text("strong", m[5] || id));
    box.appendChild(document.createElement("br"));
    box.appendChild(text("span", m[3], "map-state state-" + m[3]));
    var kw = window.CsmsFormat ? window.CsmsFormat.kw(m[4] * 1000) : String(m[4]);
    box.appendChild(text("span", " · " + kw + " kW", "map-power"));
    box.appendChild(document.createElement("br"));
    box.appendChild(link("/ocpp/admin/chargers/" + encodeURIComponent(id) + "/", "Charger page"));
    box.appendChild(document.createTextNode(" · "));
    box.appendChild(link("/ocpp/c/" + encodeURIComponent(id) + "/", "Landing page"));
    return box;
  }

  function draw(markers) {
    layer.clearLayers();
    var bounds = [];
    markers.forEach(function (m) {
      var marker = L.circleMarker([m[1], m[2]], {
        radius: 6, weight: 1, color: "#fff", fillOpacity: 0.9,
        fillColor: COLOURS[m[3]] || "#555"
      });
      marker.bindPopup(function () { return popup(m); });
      marker.addTo(layer);
      bounds.push([m[1], m[2]]);
    });
    if (!fitted && bounds.length) {
      map.fitBounds(bounds, { padding: [20, 20], maxZoom: 15 });
      fitted = true;
    }
    el.dataset.markers = String(markers.length);
  }

  function load() {
    fetch(data.markersUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("markers: HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) { draw(body.markers || []); })
      .catch(function () { el.dataset.error = "1"; });
  }

  load();
  window.setInterval(load, REFRESH_MS);
})();
