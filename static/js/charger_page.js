/* The charger page, live: connector states and the power of open sessions from the event
   stream (subscribed with ?charger=<id>, and filtered here too). The page works without it. */
(function () {
  "use strict";

  var section = document.getElementById("open-sessions");
  if (!section || !window.EventSource) { return; }
  var charger = section.dataset.charger;

  function kw(watts) {
    return (watts / 1000).toFixed(1) + " kW";
  }

  function setPower(transaction, watts) {
    var row = section.querySelector('[data-session="' + transaction + '"] .power');
    if (row && watts !== null && watts !== undefined) {
      row.textContent = kw(watts);
      row.dataset.w = String(watts);
    }
  }

  // The session's energy (Wh) as "1.234 kWh".
  function setEnergy(transaction, sessionWh) {
    var row = section.querySelector('[data-session="' + transaction + '"]');
    if (row && sessionWh !== null && sessionWh !== undefined) {
      row.querySelector(".energy").textContent = (sessionWh / 1000).toFixed(3) + " kWh";
    }
  }

  // A meter event carries the energy register (Wh): the session used what it grew by.
  function setRegister(transaction, registerWh) {
    var row = section.querySelector('[data-session="' + transaction + '"]');
    if (row && registerWh !== null && registerWh !== undefined) {
      setEnergy(transaction, registerWh - (Number(row.dataset.meterStart) || 0));
    }
  }

  function setStatus(connector, status, errorCode) {
    var row = document.querySelector('#connectors [data-connector="' + connector + '"]');
    if (!row) { return; }
    var cell = row.children[1];
    cell.textContent = "";
    var badge = document.createElement("span");
    badge.className = "status status-" + status;
    badge.textContent = status;
    cell.appendChild(badge);
    var error = row.querySelector(".error-code");
    if (error) { error.textContent = errorCode && errorCode !== "NoError" ? errorCode : ""; }
  }

  function changed() {
    document.getElementById("sessions-changed").hidden = false;
  }

  function handle(event) {
    if (event.type === "snapshot") {
      (event.chargers || []).forEach(function (card) {
        if (card.id !== charger) { return; }
        (card.sessions || []).forEach(function (s) {
          setPower(s.transaction, s.power_w);
          setEnergy(s.transaction, s.energy_wh);
        });
      });
      return;
    }
    if (event.charger !== charger) { return; }
    if (event.type === "meter" && event.transaction !== null) {
      setPower(event.transaction, event.power_w);
      setRegister(event.transaction, event.energy_wh);
    } else if (event.type === "status") {
      setStatus(event.connector, event.status, event.error_code);
    } else if (event.type === "transaction_started" || event.type === "transaction_stopped") {
      changed();
    } else if (event.type === "connected" || event.type === "disconnected") {
      var badge = document.getElementById("connection");
      if (badge) {
        badge.textContent = event.type === "connected" ? "connected" : "offline";
        badge.className = event.type === "connected" ? "online" : "offline";
      }
    }
  }

  var source = new EventSource(section.dataset.stream);
  source.onmessage = function (message) {
    try { handle(JSON.parse(message.data)); } catch (error) { /* a bad event is skipped */ }
  };
  window.addEventListener("pagehide", function () { source.close(); });
})();
