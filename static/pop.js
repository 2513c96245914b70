// The browser pop: every signed-in callpop page follows the rep's pop
// stream and shows each ringing call in the page, and as a web
// notification once the rep allowed them. Caller text is only ever set as
// text (textContent), never as markup.
(function () {
  "use strict";
  var box = document.getElementById("pops");
  if (!box || !window.EventSource) return;

  // Call id -> { card, extensions (Set), notification }.
  var calls = new Map();

  // Controls become spaces; bidirectional overrides and isolates and
  // zero-width characters go: a caller's name must not reorder or hide what
  // the rep reads.
  var CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
  var INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
  var MAX_CHARS = 64;

  // Caller or CRM text as it may be shown: cleaned, spaces collapsed, capped.
  function clean(text) {
    var chars = Array.from(String(text || "").replace(CONTROLS, " ").replace(INVISIBLE, "").replace(/\s+/g, " ").trim());
    return chars.length > MAX_CHARS ? chars.slice(0, MAX_CHARS - 1).join("") + "…" : chars.join("");
  }

  function who(pop) {
    if (pop.withheld) return "Withheld caller";
    var m = pop.matches[0];
    if (m) return m.contact ? clean(m.contact) + " · " + clean(m.customer) : clean(m.customer);
    return clean(pop.name) || clean(pop.caller) || "Unknown caller";
  }

  // The notification's title: callpop's words and CRM data, never the
  // name the caller sent.
  function summary(pop) {
    if (pop.withheld) return "Withheld caller";
    var m = pop.matches[0];
    if (m) return "Call from " + clean(m.customer);
    return pop.caller ? "Call from " + clean(pop.caller) : "Incoming call";
  }

  function detail(pop) {
    var lines = [];
    if (!pop.withheld && pop.caller) lines.push(clean(pop.caller));
    if (pop.matches.length > 1) lines.push(pop.matches.length + " customers have this number");
    var m = pop.matches[0];
    if (m && m.open_topics > 0) {
      var topics = m.open_topics + (m.open_topics === 1 ? " open topic" : " open topics");
      if (m.latest_topic) topics += " · latest: " + clean(m.latest_topic);
      lines.push(topics);
    }
    return lines;
  }

  function show(pop) {
    var entry = calls.get(pop.call_id);
    if (!entry) {
      var card = document.createElement("a");
      card.className = "pop";
      card.href = "/calls/" + encodeURIComponent(pop.call_id);
      box.prepend(card);
      entry = { card: card, extensions: new Set(), notification: null };
      calls.set(pop.call_id, entry);
    }
    entry.extensions.add(pop.extension);
    var card = entry.card;
    card.classList.toggle("answered", !!pop.answered);
    card.replaceChildren();
    var title = document.createElement("strong");
    title.textContent = (pop.answered ? "Answered · " : "Ringing · ") + who(pop);
    card.append(title);
    detail(pop).forEach(function (text) {
      var line = document.createElement("span");
      line.textContent = text;
      card.append(line);
    });
    var action = document.createElement("span");
    action.className = "action";
    action.textContent = "Log call →";
    card.append(action);
    return entry;
  }

  function notify(entry, pop) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    // One tag per call: other tabs and a ring at a second extension
    // replace the notification instead of stacking it.
    var n = new Notification(summary(pop), {
      body: [who(pop)].concat(detail(pop)).join("\n"),
      tag: "callpop-call-" + pop.call_id,
    });
    n.onclick = function () {
      window.focus();
      location.href = "/calls/" + encodeURIComponent(pop.call_id);
      n.close();
    };
    entry.notification = n;
  }

  function withdraw(callId, extension) {
    var entry = calls.get(callId);
    if (!entry) return;
    if (extension !== undefined) entry.extensions.delete(extension);
    if (extension !== undefined && entry.extensions.size > 0) return;
    entry.card.remove();
    if (entry.notification) entry.notification.close();
    calls.delete(callId);
  }

  function read(e) {
    try { return JSON.parse(e.data); } catch (err) { return null; }
  }

  var source = new EventSource("/api/v1/pops");
  source.onopen = function () { box.dataset.stream = "open"; };
  source.onerror = function () { box.dataset.stream = "closed"; };
  source.addEventListener("snapshot", function (e) {
    var snap = read(e);
    if (!snap) return;
    var showing = new Set(snap.calls.map(function (c) { return c.call_id; }));
    Array.from(calls.keys()).forEach(function (id) {
      if (!showing.has(id)) withdraw(id);
    });
  });
  source.addEventListener("pop", function (e) {
    var ev = read(e);
    if (ev && ev.pop) notify(show(ev.pop), ev.pop);
  });
  source.addEventListener("answered", function (e) {
    var ev = read(e);
    if (ev && ev.pop) show(ev.pop);
  });
  source.addEventListener("withdraw", function (e) {
    var ev = read(e);
    if (ev) withdraw(ev.call_id, ev.extension);
  });

  var ask = document.getElementById("notify-ask");
  if (ask && "Notification" in window && Notification.permission === "default") {
    ask.hidden = false;
    ask.addEventListener("click", function () {
      Notification.requestPermission().then(function () { ask.hidden = true; });
    });
  }
})();
