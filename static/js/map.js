/* Charger position picker on the admin edit page.
 *
 * Reads its settings from data- attributes of #map (no inline script): the
 * stored coordinates (data-lat/data-lng), the default centre (Monterrey) and
 * the tile layer. Dragging the marker or clicking the map fills the latitude
 * and longitude inputs; typing in them moves the marker. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  var latInput = document.querySelector('input[name="latitude"]');
  var lngInput = document.querySelector('input[name="longitude"]');
  if (!el || !latInput || !lngInput || !window.L) {
    return;
  }
  var data = el.dataset;

  function number(text, limit) {
    if (text === undefined || text === null || String(text).trim() === "") {
      return null;
    }
    var value = Number(text);
    return isFinite(value) && Math.abs(value) <= limit ? value : null;
  }

  function pair(lat, lng) {
    lat = number(lat, 90);
    lng = number(lng, 180);
    return lat === null || lng === null ? null : [lat, lng];
  }

  function round(value) {
    return Math.round(value * 1e6) / 1e6;
  }

  var known = pair(latInput.value, lngInput.value) || pair(data.lat, data.lng);
  var centre = known || pair(data.defaultLat, data.defaultLng) || [25.6866, -100.3161];
  var map = L.map(el).setView(centre, known ? 15 : 12);
  L.tileLayer(data.tileUrl, { attribution: data.attribution, maxZoom: 19 }).addTo(map);
  var marker = L.marker(centre, {
    draggable: true, autoPan: true, keyboard: true, title: "Charger position"
  }).addTo(map);
  el.dataset.ready = "1";

  function fill(latlng) {
    var wrapped = latlng.wrap();
    latInput.value = String(round(wrapped.lat));
    lngInput.value = String(round(wrapped.lng));
    el.dataset.picked = "1";
  }

  marker.on("dragend", function () {
    fill(marker.getLatLng());
  });
  map.on("click", function (event) {
    marker.setLatLng(event.latlng);
    fill(event.latlng);
  });

  function follow() {
    var typed = pair(latInput.value, lngInput.value);
    if (typed) {
      marker.setLatLng(typed);
      map.panTo(typed);
    }
  }
  latInput.addEventListener("change", follow);
  lngInput.addEventListener("change", follow);

  var clear = document.getElementById("clear-position");
  if (clear) {
    clear.addEventListener("click", function () {
      latInput.value = "";
      lngInput.value = "";
    });
  }
})();
