/* One way to show dates, power and energy on every page (window.CsmsFormat).
 *
 * dateTime(value): a date (ISO text, epoch ms or Date) on one line in the reader's time
 *   zone, "2026-12-03 14:05:09 CET"; "" for none. Every <time datetime data-local> the
 *   server rendered in UTC (the Time UI module) is rewritten this way when the page loads.
 * timeOfDay(value): the same date's "14:05:09" alone (chart axes).
 * kw(watts): power in kW with 1 decimal; kwh(wh): energy in kWh with 2 decimals; both ""
 *   for unknown (the same rounding as handlers/base.py kw and kwh).
 */
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function zoneName(date) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(date);
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === "timeZoneName") { return parts[i].value; }
      }
    } catch (err) {
      /* an old browser: the offset below */
    }
    var offset = -date.getTimezoneOffset();
    var sign = offset < 0 ? "-" : "+";
    offset = Math.abs(offset);
    return "UTC" + sign + pad(Math.floor(offset / 60)) + ":" + pad(offset % 60);
  }

  function dateTime(value) {
    if (value === null || value === undefined || value === "") { return ""; }
    var date = value instanceof Date ? value : new Date(typeof value === "number" ? value : Date.parse(value));
    if (!isFinite(date.getTime())) { return ""; }
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) + " " +
      zoneName(date);
  }

  function timeOfDay(value) {
    var date = value instanceof Date ? value : new Date(value);
    if (!isFinite(date.getTime())) { return ""; }
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  function fixed(value, scale, places) {
    if (value === null || value === undefined || !isFinite(Number(value))) { return ""; }
    return (Number(value) / scale).toFixed(places);
  }

  function kw(watts) { return fixed(watts, 1000, 1); }
  function kwh(wh) { return fixed(wh, 1000, 2); }

  function localize(root) {
    (root || document).querySelectorAll("time[datetime][data-local]").forEach(function (el) {
      var text = dateTime(el.getAttribute("datetime"));
      if (text) {
        el.textContent = text;
        el.title = el.getAttribute("datetime");
      }
    });
  }

  window.CsmsFormat = { dateTime: dateTime, timeOfDay: timeOfDay, kw: kw, kwh: kwh, localize: localize };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localize(); });
  } else {
    localize();
  }
})();
