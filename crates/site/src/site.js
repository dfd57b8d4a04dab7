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

// Passkeys: register (security settings) and log in (login page) with the browser's WebAuthn.
// The server sends webauthn-rs JSON (base64url byte strings); this turns it into what
// navigator.credentials wants and the answer back into JSON. Messages come from the page.
(function () {
  function b64uToBytes(s) {
    var pad = s.length % 4 === 0 ? "" : "====".slice(s.length % 4);
    var bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + pad);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function bytesToB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withIds(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: b64uToBytes(c.id) }); });
  }
  function post(form, url, fields) {
    var body = new URLSearchParams(fields);
    body.set("csrf", form.querySelector("input[name=csrf]").value);
    return fetch(url, { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" }, body: body })
      .then(function (r) { return r.json(); })
      .then(function (j) { if (j.error) throw { message: j.message, code: j.error }; return j; });
  }
  function wire(form, run) {
    var status = form.querySelector(".passkey-status");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!window.PublicKeyCredential || !navigator.credentials) {
        status.textContent = form.getAttribute("data-msg-unsupported");
        return;
      }
      status.textContent = "";
      form.setAttribute("aria-busy", "true");
      run(form)
        .then(function (done) { window.location.assign(done.next); })
        .catch(function (err) {
          form.removeAttribute("aria-busy");
          status.setAttribute("data-error", (err && err.code) || (err && err.name) || "error");
          status.textContent = err && err.code ? err.message : form.getAttribute("data-msg-cancelled");
        });
    });
  }
  var reg = document.querySelector("form[data-passkey-register]");
  if (reg) wire(reg, function (form) {
    return post(form, "/settings/passkeys/register/start", {}).then(function (start) {
      var o = start.options.publicKey;
      var publicKey = Object.assign({}, o, {
        challenge: b64uToBytes(o.challenge),
        user: Object.assign({}, o.user, { id: b64uToBytes(o.user.id) }),
        excludeCredentials: withIds(o.excludeCredentials)
      });
      return navigator.credentials.create({ publicKey: publicKey }).then(function (cred) {
        var answer = {
          id: cred.id, rawId: bytesToB64u(cred.rawId), type: cred.type,
          response: {
            attestationObject: bytesToB64u(cred.response.attestationObject),
            clientDataJSON: bytesToB64u(cred.response.clientDataJSON),
            transports: cred.response.getTransports ? cred.response.getTransports() : []
          },
          extensions: cred.getClientExtensionResults()
        };
        return post(form, "/settings/passkeys/register/finish", {
          ceremony: start.ceremony, name: form.querySelector("input[name=name]").value, credential: JSON.stringify(answer)
        });
      });
    });
  });
  // Login, and a withdrawal's confirmation: the same assertion, at the form's own URLs.
  var assert = document.querySelector("form[data-passkey-login], form[data-passkey-withdraw]");
  if (assert) wire(assert, function (form) {
    return post(form, form.getAttribute("data-start-url"), {}).then(function (start) {
      var o = start.options.publicKey;
      var publicKey = Object.assign({}, o, { challenge: b64uToBytes(o.challenge), allowCredentials: withIds(o.allowCredentials) });
      return navigator.credentials.get({ publicKey: publicKey }).then(function (cred) {
        var r = cred.response;
        var answer = {
          id: cred.id, rawId: bytesToB64u(cred.rawId), type: cred.type,
          response: {
            authenticatorData: bytesToB64u(r.authenticatorData),
            clientDataJSON: bytesToB64u(r.clientDataJSON),
            signature: bytesToB64u(r.signature),
            userHandle: r.userHandle ? bytesToB64u(r.userHandle) : null
          },
          extensions: cred.getClientExtensionResults()
        };
        return post(form, form.getAttribute("data-finish-url"), { ceremony: start.ceremony, credential: JSON.stringify(answer) });
      });
    });
  });
})();

// Same-device approval: hand this page's challenge and number to the Inkan app on this
// computer (it answers only pages from the origin it is enrolled at). The page's own wait
// (above) notices the approval; nothing here decides anything.
(function () {
  var form = document.querySelector("form[data-loopback]");
  if (!form) return;
  var status = form.querySelector(".loopback-status");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = JSON.stringify({ challenge_id: form.getAttribute("data-challenge"), number: form.getAttribute("data-number-value") });
    fetch(form.getAttribute("data-loopback"), { method: "POST", headers: { "Content-Type": "application/json" }, body: body })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) {
        status.setAttribute("data-state", res.ok ? res.body.state : res.body.error);
        status.textContent = form.getAttribute(res.ok ? "data-msg-sent" : "data-msg-refused");
      })
      .catch(function () {
        status.setAttribute("data-state", "unreachable");
        status.textContent = form.getAttribute("data-msg-unreachable");
      });
  });
})();
