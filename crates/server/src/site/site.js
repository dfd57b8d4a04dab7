// Waiting pages: ask the status URL (a long poll) until it says the wait is over, then reload
// so the server renders what happened. Nothing here decides anything.
"use strict";
(function () {
  var el = document.querySelector("[data-wait-url]");
  if (!el) return;
  var url = el.getAttribute("data-wait-url");
  var delay = 500;
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (s) {
        delay = 500;
        if (s.settled) { window.location.reload(); } else { poll(); }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 8000);
        window.setTimeout(poll, delay);
      });
  }
  poll();
})();
