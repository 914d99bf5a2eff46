// Closed Set app: the little JavaScript the pages use. Every page works without it.
"use strict";

(function () {
  // A page shown again from the back-forward cache is fetched afresh (it may show plaintext
  // from before a lock); the server also sends Cache-Control: no-store.
  window.addEventListener("pageshow", function (e) { if (e.persisted) { window.location.reload(); } });

  // An error summary takes the focus, so a screen reader reads it first.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // Live updates: the app relays the relay's push stream; the history is fetched again.
  var history = document.querySelector("[data-live]");
  var banner = document.getElementById("relay-banner");
  var bar = document.querySelector("[data-scene]");
  if (history && bar && window.EventSource) {
    var source = new EventSource("/scene/" + bar.getAttribute("data-scene") + "/events");
    source.addEventListener("ready", function () { if (banner && !banner.dataset.server) { banner.hidden = true; } });
    source.addEventListener("update", function () {
      fetch(history.getAttribute("data-live"), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.body;
          history.replaceChildren.apply(history, Array.prototype.slice.call(fresh.childNodes));
          history.dataset.updated = String(Date.now());
          var note = document.getElementById("live-note");
          if (note) { note.textContent = "Something new arrived in this scene."; }
        })
        .catch(function () { if (banner) { banner.hidden = false; } });
    });
    source.addEventListener("unreachable", function () { if (banner) { banner.hidden = false; } });
    source.onerror = function () { if (banner) { banner.hidden = false; } };
    if (banner && !banner.hidden) { banner.dataset.server = "1"; }
  }

  // The body map: a drawing whose zones set the same radio buttons as the list beside it.
  var map = document.getElementById("bodymap");
  if (!map) { return; }
  map.hidden = false;
  var panel = document.getElementById("zonepanel");
  var title = document.getElementById("zonepanel-title");
  var note = document.getElementById("zonepanel-note");
  var current = null;
  var lastZone = null;
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && lastZone) { e.preventDefault(); lastZone.focus(); }
  });
  var names = {};
  var labels = {};
  Array.prototype.forEach.call(panel.querySelectorAll(".zone-set"), function (b) {
    labels[b.getAttribute("data-answer")] = b.textContent;
  });

  function answerOf(zone) {
    var checked = document.querySelector('input[name="zones.' + zone + '"]:checked');
    return checked ? checked.value : "";
  }
  function paint(zone) {
    var answer = answerOf(zone);
    Array.prototype.forEach.call(map.querySelectorAll('.zone[data-zone="' + zone + '"]'), function (g) {
      g.classList.remove("a-ok", "a-ask-first", "a-never");
      if (answer) { g.classList.add("a-" + answer); }
      g.setAttribute("aria-label", names[zone] + ": " + (answer ? labels[answer] : "not answered"));
      g.classList.toggle("current", zone === current);
    });
    if (zone === current) {
      title.textContent = names[zone] + ": " + (answer ? labels[answer] : "not answered");
      Array.prototype.forEach.call(panel.querySelectorAll(".zone-set"), function (b) {
        b.setAttribute("aria-pressed", String(b.getAttribute("data-answer") === answer));
      });
    }
  }
  function select(zone) {
    var previous = current;
    current = zone;
    if (previous) { paint(previous); document.getElementById("row-" + previous).classList.remove("current"); }
    document.getElementById("row-" + zone).classList.add("current");
    panel.hidden = false;
    var listNote = document.querySelector('[data-note="' + zone + '"]');
    note.value = listNote ? listNote.value : "";
    paint(zone);
  }

  Array.prototype.forEach.call(map.querySelectorAll(".zone"), function (g) {
    var zone = g.getAttribute("data-zone");
    names[zone] = g.querySelector("title").textContent;
    g.addEventListener("click", function () { select(zone); });
    g.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        select(zone);
        lastZone = g;
        // From the keyboard, go straight to the choices; Escape comes back to the zone.
        var pressed = panel.querySelector('.zone-set[aria-pressed="true"]') || panel.querySelector(".zone-set");
        pressed.focus();
      }
    });
    paint(zone);
  });
  Array.prototype.forEach.call(panel.querySelectorAll(".zone-set"), function (b) {
    b.addEventListener("click", function () {
      if (!current) { return; }
      var radio = document.querySelector('input[name="zones.' + current + '"][value="' + b.getAttribute("data-answer") + '"]');
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      paint(current);
    });
  });
  note.addEventListener("input", function () {
    if (!current) { return; }
    var listNote = document.querySelector('[data-note="' + current + '"]');
    if (listNote) { listNote.value = note.value; }
  });
  document.getElementById("zonelist").addEventListener("change", function (e) {
    var name = e.target.name || "";
    if (name.indexOf("zones.") === 0) { paint(name.slice(6)); }
  });
  document.getElementById("zonelist").addEventListener("input", function (e) {
    var zone = e.target.getAttribute("data-note");
    if (zone && zone === current) { note.value = e.target.value; }
  });
})();
