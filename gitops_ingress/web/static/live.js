// Live updates: on any control-plane event, re-fetch this page and swap in its live region.
// Only the server renders HTML (escaped there); nothing is built from event data here.
(function () {
  "use strict";
  var region = document.querySelector("[data-live]");
  var status = document.getElementById("live-status");
  if (!region || !window.EventSource || !window.fetch) { return; }
  var busy = false, again = false;

  function say(text) { if (status) { status.textContent = text; } }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (answer) { return answer.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live]");
        if (fresh) {
          region.replaceWith(fresh);
          region = fresh;
          say("on, updated " + new Date().toLocaleTimeString());
        }
      })
      .catch(function () { say("update failed; reload to refresh"); })
      .finally(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource("/api/v1/events");
  source.onopen = function () { say("on"); };
  source.onerror = function () { say("reconnecting…"); };
  ["branch", "sync", "deleted", "routes", "remote"].forEach(function (type) { source.addEventListener(type, refresh); });
})();
