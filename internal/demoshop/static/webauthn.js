// Passkeys for the atoguard reference shop: registration on /security and
// the passkey step-up on /stepup. A static file (the pages' CSP allows
// scripts from the shop only, never inline). Every request is a
// same-origin form post carrying the page's CSRF token; the shop passes
// the ceremony's JSON to and from the guard.
"use strict";
(function () {
  function csrf() {
    var el = document.querySelector('input[name="csrf_token"]');
    return el ? el.value : "";
  }

  function post(url, fields) {
    var body = new URLSearchParams(fields);
    body.set("csrf_token", csrf());
    return fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" } })
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
      post("/security/passkey/begin", { name: name ? name.value : "" })
        .then(function (opts) {
          return navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(opts.publicKey) });
        })
        .then(function (cred) {
          return post("/security/passkey/finish", { attestation: JSON.stringify(cred.toJSON()) });
        })
        .then(function () { window.location.assign("/security?done=passkey"); })
        .catch(function (err) { reg.disabled = false; showError(err); });
    });
  }

  var login = document.getElementById("passkey-login");
  if (login) {
    login.addEventListener("click", function () {
      if (!supported()) { showError(new Error("this browser has no passkey support")); return; }
      login.disabled = true;
      var form = document.getElementById("passkey-form");
      var order = form.querySelector('input[name="order_id"]');
      post("/stepup/webauthn/options", order ? { order_id: order.value } : {})
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
