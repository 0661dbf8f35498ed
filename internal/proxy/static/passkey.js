// Passkeys on atoguard proxy's own pages: registration on the security
// page, the passkey answer on the step-up page. A static file, since the
// pages' CSP allows scripts from the proxy only, never inline. Every
// request is a same-origin form post carrying the page's token; the proxy
// passes the ceremony's JSON to and from the guard.
"use strict";
(function () {
  var root = document.documentElement.getAttribute("data-prefix") || "/.atoguard/";

  function token() {
    var el = document.querySelector('input[name="t"]');
    return el ? el.value : "";
  }

  function post(path, fields) {
    var body = new URLSearchParams(fields);
    body.set("t", token());
    return fetch(root + path, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
          return j;
        });
      });
  }

  function showError(err) {
    var el = document.getElementById("passkey-error");
    if (!el) return;
    el.hidden = false;
    el.textContent = "パスキーを使えませんでした / The passkey did not work: " + (err && err.message ? err.message : err);
  }

  function supported() {
    return window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON &&
      PublicKeyCredential.parseRequestOptionsFromJSON;
  }

  var reg = document.getElementById("passkey-register");
  if (reg) {
    reg.addEventListener("click", function () {
      if (!supported()) { showError(new Error("this browser has no passkey support")); return; }
      reg.disabled = true;
      var name = document.getElementById("passkey-name");
      post("security/passkey/begin", { name: name ? name.value : "" })
        .then(function (opts) {
          return navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(opts.publicKey) });
        })
        .then(function (cred) {
          return post("security/passkey/finish", { attestation: JSON.stringify(cred.toJSON()) });
        })
        .then(function () { window.location.assign(root + "security?done=passkey"); })
        .catch(function (err) { reg.disabled = false; showError(err); });
    });
  }

  var login = document.getElementById("passkey-login");
  if (login) {
    login.addEventListener("click", function () {
      if (!supported()) { showError(new Error("this browser has no passkey support")); return; }
      login.disabled = true;
      var form = document.getElementById("passkey-form");
      post("stepup/webauthn", {})
        .then(function (opts) {
          return navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(opts.publicKey) });
        })
        .then(function (cred) {
          form.querySelector('input[name="assertion"]').value = JSON.stringify(cred.toJSON());
          form.submit();
        })
        .catch(function (err) { login.disabled = false; showError(err); });
    });
  }
})();
