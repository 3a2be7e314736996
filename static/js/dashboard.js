/* The live dashboard: applies server-sent events from /ocpp/live/events to the
 * charger cards in place (no reload, no polling) and charts active sessions.
 *
 * DOM hooks: article[data-charger] > .conn, .heartbeat, .model, .offline-since .since,
 * ul.connectors > li[data-connector][data-status] > .status, .last-status, .error-code,
 * .session[data-transaction] > .energy, .power, .chart[data-chart]. Ids are compared as
 * strings, never put in selectors, and all text goes in through textContent.
 *
 * The page shows one page of chargers (a filter and a page number), what needs attention
 * first; the stream sends only that page's events (and a new charger's registration,
 * announced, not added) and the overview counts ([data-count]) at most once a second.
 * An offline charger keeps its connectors' last statuses, shown as stale ("Offline",
 * "last reported: Charging"), and its sessions say since when it is offline instead of
 * showing a frozen power figure.
 */
(function () {
  "use strict";

  var root = document.getElementById("chargers");
  if (!root) {
    return;
  }
  var template = document.getElementById("charger-template");
  var emptyNote = document.getElementById("no-chargers");
  var liveState = document.getElementById("live-state");
  var MAX_POINTS = 300;
  var STREAM = root.getAttribute("data-events") || "/ocpp/live/events";
  var newChargers = document.getElementById("new-chargers");
  var registered = 0;

  /* charger id -> {connector number -> session} */
  var sessions = new Map();

  function landingPath(id) { return "/ocpp/c/" + encodeURIComponent(id) + "/"; }
  function logPath(id) { return "/ocpp/log/" + encodeURIComponent(id) + "/"; }

  function time(value) {
    if (value === null || value === undefined) { return NaN; }
    return typeof value === "number" ? value : Date.parse(value);
  }

  function points(series) {
    return (series || []).map(function (p) { return [time(p[0]), p[1]]; });
  }

  var format = window.CsmsFormat;

  function formatTime(value) {
    var ms = time(value);
    if (!isFinite(ms)) { return "never"; }
    return format ? format.dateTime(ms) : new Date(ms).toISOString();
  }

  /* The overview counts (the "overview" event, sent at most once a second). */
  function applyOverview(event) {
    document.querySelectorAll("[data-count]").forEach(function (el) {
      var key = el.getAttribute("data-count");
      if (!(key in event)) { return; }
      var value = event[key];
      if (key === "power_w") { value = format ? format.kw(value) : value; }
      if (key === "energy_today_wh") { value = format ? format.kwh(value) : value; }
      el.textContent = String(value);
    });
  }

  function kwText(w) { return format ? format.kw(w) : (w / 1000).toFixed(1); }
  function kwhText(wh) { return format ? format.kwh(wh) : (wh / 1000).toFixed(2); }

  function byAttr(parent, attr, value) {
    var nodes = parent.querySelectorAll("[" + attr + "]");
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].getAttribute(attr) === String(value)) { return nodes[i]; }
    }
    return null;
  }

  function findCard(id) { return byAttr(root, "data-charger", id); }

  function ensureCard(id, name) {
    var card = findCard(id);
    if (card) { return card; }
    card = template.content.firstElementChild.cloneNode(true);
    card.setAttribute("data-charger", id);
    card.querySelectorAll(".landing-link").forEach(function (a) { a.href = landingPath(id); });
    card.querySelector(".log-link").href = logPath(id);
    card.querySelector(".charger-name a").textContent = name || id;
    card.querySelector(".charger-id").textContent = id;
    var cards = root.querySelectorAll("[data-charger]");
    var before = null;
    for (var i = 0; i < cards.length; i++) {
      if (cards[i].getAttribute("data-charger") > id) { before = cards[i]; break; }
    }
    root.insertBefore(card, before);
    if (emptyNote) { emptyNote.hidden = true; }
    return card;
  }

  function isOffline(card) { return card.classList.contains("is-offline"); }

  function showStatus(card, item) {
    var status = item.getAttribute("data-status") || "Unknown";
    var stale = isOffline(card);
    var badge = item.querySelector(".status");
    badge.textContent = stale ? "Offline" : status;
    badge.className = "status status-" + (stale ? "Offline" : status);
    var last = item.querySelector(".last-status");
    last.textContent = "last reported: " + status;
    last.hidden = !stale;
    item.classList.toggle("is-stale", stale);
  }

  function setConnected(card, connected, since) {
    var badge = card.querySelector(".conn");
    badge.textContent = connected ? "connected" : "offline";
    badge.className = "conn " + (connected ? "online" : "offline");
    card.classList.toggle("is-offline", !connected);
    var line = card.querySelector(".offline-since");
    line.hidden = connected;
    if (!connected) {
      var when = since === undefined || since === null ? "never seen" : formatTime(since);
      line.querySelector(".since").textContent = when;
    }
    card.querySelectorAll("[data-connector]").forEach(function (item) { showStatus(card, item); });
    var id = card.getAttribute("data-charger");
    var known = sessionsOf(id);
    Object.keys(known).forEach(function (connector) { drawSession(card, known[connector]); });
  }

  function ensureConnector(card, number) {
    var list = card.querySelector(".connectors");
    var item = byAttr(list, "data-connector", number);
    if (item) { return item; }
    item = document.createElement("li");
    item.className = "connector";
    item.setAttribute("data-connector", String(number));
    var label = document.createElement("span");
    label.className = "connector-label";
    label.textContent = number === 0 ? "Charger" : "Connector " + number;
    var status = document.createElement("span");
    status.className = "status";
    status.textContent = "Unknown";
    var last = document.createElement("span");
    last.className = "last-status muted";
    last.hidden = true;
    var error = document.createElement("span");
    error.className = "error-code";
    item.appendChild(label);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(status);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(last);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(error);
    var before = null;
    var items = list.querySelectorAll("[data-connector]");
    for (var i = 0; i < items.length; i++) {
      if (Number(items[i].getAttribute("data-connector")) > number) { before = items[i]; break; }
    }
    list.insertBefore(item, before);
    return item;
  }

  function setStatus(card, number, status, errorCode) {
    var item = ensureConnector(card, number);
    item.setAttribute("data-status", status);
    showStatus(card, item);
    item.querySelector(".error-code").textContent =
      errorCode && errorCode !== "NoError" ? errorCode : "";
  }

  function sessionsOf(id) {
    if (!sessions.has(id)) { sessions.set(id, {}); }
    return sessions.get(id);
  }

  function drawSession(card, session) {
    var item = ensureConnector(card, session.connector);
    var box = item.querySelector(".session");
    if (!box || box.getAttribute("data-transaction") !== String(session.transaction)) {
      if (box) { box.remove(); }
      box = document.createElement("div");
      box.className = "session";
      box.setAttribute("data-transaction", String(session.transaction));
      var line = document.createElement("p");
      line.className = "session-line";
      line.appendChild(document.createTextNode("Session #" + session.transaction + " · "));
      var energy = document.createElement("span");
      energy.className = "energy";
      line.appendChild(energy);
      line.appendChild(document.createTextNode(" · "));
      var cost = document.createElement("span");
      cost.className = "cost";
      line.appendChild(cost);
      var power = document.createElement("span");
      power.className = "power";
      line.appendChild(power);
      box.appendChild(line);
      ["power", "energy"].forEach(function (kind) {
        var chart = document.createElement("div");
        chart.className = "chart";
        chart.setAttribute("data-chart", kind);
        box.appendChild(chart);
      });
      item.appendChild(box);
    }
    var lastEnergy = session.energy.length ? session.energy[session.energy.length - 1][1] : null;
    var lastPower = session.power.length ? session.power[session.power.length - 1][1] : null;
    box.querySelector(".energy").textContent =
      (lastEnergy === null ? "0.00" : kwhText(lastEnergy)) + " kWh" +
      (session.meterStart === null ? " (meter)" : "");
    /* The running cost as of the last snapshot (the server prices; meter events do not). */
    var costLine = box.querySelector(".cost");
    if (costLine) {
      costLine.textContent = session.cost ? session.cost + " so far · " : "";
      costLine.hidden = !session.cost;
    }
    box.querySelector(".power").textContent = isOffline(card)
      ? "charger offline since " + card.querySelector(".offline-since .since").textContent
      : (lastPower === null ? "–" : kwText(lastPower)) + " kW";
    if (window.CsmsCharts) {
      window.CsmsCharts.line(byAttr(box, "data-chart", "power"), session.power,
        { label: "Power", unit: "kW", scale: 0.001, decimals: 1, className: "power" });
      window.CsmsCharts.line(byAttr(box, "data-chart", "energy"), session.energy,
        { label: "Energy", unit: "kWh", scale: 0.001, decimals: 2, className: "energy" });
    }
  }

  function dropSession(card, connector) {
    var item = card && byAttr(card.querySelector(".connectors"), "data-connector", connector);
    var box = item && item.querySelector(".session");
    if (box) { box.remove(); }
  }

  function startSession(id, data) {
    var session = {
      transaction: data.transaction,
      connector: data.connector,
      meterStart: data.meter_start === undefined ? null : data.meter_start,
      cost: data.cost || "",
      power: points(data.power),
      energy: points(data.energy)
    };
    sessionsOf(id)[data.connector] = session;
    var card = findCard(id);
    if (card) { drawSession(card, session); }
  }

  function push(series, value) {
    series.push([Date.now(), value]);
    if (series.length > MAX_POINTS) { series.splice(0, series.length - MAX_POINTS); }
  }

  function onMeter(id, event) {
    var session = sessionsOf(id)[event.connector];
    if (!session || (event.transaction !== null && event.transaction !== session.transaction)) {
      return;
    }
    if (event.power_w !== null && event.power_w !== undefined) { push(session.power, event.power_w); }
    if (event.energy_wh !== null && event.energy_wh !== undefined) {
      push(session.energy, event.energy_wh - (session.meterStart || 0));
    }
    var card = findCard(id);
    if (card) { drawSession(card, session); }
  }

  function applyCharger(view) {
    var card = ensureCard(view.id, view.name);
    card.querySelector(".charger-name a").textContent = view.name || view.id;
    card.classList.toggle("is-offline", !view.connected);
    card.querySelector(".heartbeat").textContent = formatTime(view.last_heartbeat);
    card.querySelector(".model").textContent =
      [view.vendor, view.model].filter(function (v) { return v; }).join(" ");
    (view.connectors || []).forEach(function (c) {
      setStatus(card, c.id, c.status, c.error_code);
    });
    var current = {};
    (view.sessions || []).forEach(function (s) { current[s.connector] = true; });
    var known = sessionsOf(view.id);
    Object.keys(known).forEach(function (connector) {
      if (!current[connector]) {
        delete known[connector];
        dropSession(card, Number(connector));
      }
    });
    card.querySelectorAll(".session").forEach(function (box) {
      var connector = box.parentNode.getAttribute("data-connector");
      if (!current[connector]) { box.remove(); }
    });
    (view.sessions || []).forEach(function (s) { startSession(view.id, s); });
    setConnected(card, view.connected, view.offline_since);
  }

  function applySnapshot(chargers) {
    var seen = {};
    chargers.forEach(function (view) {
      seen[view.id] = true;
      applyCharger(view);
    });
    root.querySelectorAll("[data-charger]").forEach(function (card) {
      var id = card.getAttribute("data-charger");
      if (!seen[id]) {
        card.remove();
        sessions.delete(id);
      }
    });
    if (emptyNote) { emptyNote.hidden = chargers.length > 0; }
  }

  function announce(event) {
    if (event.type !== "connected" || !event.created || !newChargers) { return; }
    registered += 1;
    newChargers.textContent = registered + (registered === 1 ? " new charger" : " new chargers") +
      " registered since this page was loaded; reload to see where they belong.";
    newChargers.hidden = false;
  }

  function apply(event) {
    var id = event.charger;
    if (event.type === "snapshot") {
      applySnapshot(event.chargers || []);
      return;
    }
    if (event.type === "overview") {
      applyOverview(event);
      return;
    }
    var card = findCard(id);
    if (!card) {  /* not on this page */
      announce(event);
      return;
    }
    switch (event.type) {
      case "connected":
        setConnected(card, true);
        break;
      case "disconnected":
        setConnected(card, false, event.ts);
        break;
      case "boot":
        card.querySelector(".model").textContent =
          [event.vendor, event.model].filter(function (v) { return v; }).join(" ");
        break;
      case "status":
        setStatus(card, event.connector, event.status, event.error_code);
        break;
      case "transaction_started":
        startSession(id, event);
        break;
      case "transaction_stopped":
        delete sessionsOf(id)[event.connector];
        dropSession(card, event.connector);
        break;
      case "meter":
        onMeter(id, event);
        break;
      default:
        break;
    }
  }

  function setLive(state, text) {
    if (!liveState) { return; }
    liveState.setAttribute("data-live", state);
    liveState.textContent = text;
  }

  function connect() {
    if (!window.EventSource) {
      setLive("unsupported", "Live updates are not supported by this browser.");
      return;
    }
    var source = new EventSource(STREAM);
    source.onopen = function () { setLive("open", "Live updates: on"); };
    source.onmessage = function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      apply(event);
    };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        setLive("closed", "Live updates stopped; reload the page (log in again?).");
      } else {
        setLive("reconnecting", "Live updates: reconnecting…");
      }
    };
  }

  try {
    var initial = JSON.parse(root.getAttribute("data-state") || "{}");
    (initial.chargers || []).forEach(function (view) {
      (view.sessions || []).forEach(function (s) { startSession(view.id, s); });
    });
  } catch (err) {
    /* the live snapshot will fill the page */
  }
  connect();
})();
