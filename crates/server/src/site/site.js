// Waiting pages: ask the status URL (a long poll) until it says the wait is over, then reload
// (or go to the same-site page it names) so the server renders what happened. Nothing here decides anything.
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
        if (s.settled && typeof s.next === "string" && s.next.charAt(0) === "/" && s.next.charAt(1) !== "/") {
          window.location.assign(s.next);
        } else if (s.settled) {
          window.location.reload();
        } else {
          poll();
        }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 8000);
        window.setTimeout(poll, delay);
      });
  }
  poll();
})();
