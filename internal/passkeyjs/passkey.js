// Passkeys in the browser, for the reference shop's pages and atoguard
// proxy's: registration on a security page, the answer on a step-up page.
// A static file, since the pages' CSP allows no inline script. The page
// says where to post with data attributes, and every post carries the
// hidden inputs of the button's form (its CSRF or page token):
//   #passkey-register  data-begin, data-finish, data-done: the creation
//                      options, the attestation, the page to open after;
//                      #passkey-name names the passkey
//   #passkey-login     data-options: the request options; its form
//                      (#passkey-form) gets the assertion in its input
//                      "assertion" and is submitted
//   #passkey-error     shows what went wrong
"use strict";
(function () {
  function hidden(form, skip) {
    var fields = {};
    if (!form) return fields;
    form.querySelectorAll('input[type="hidden"]').forEach(function (el) {
      if (el.name !== skip) fields[el.name] = el.value;
    });
    return fields;
  }

  function post(url, fields) {
    return fetch(url, { method: "POST", body: new URLSearchParams(fields), credentials: "same-origin", headers: { Accept: "application/json" } })
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
      var token = hidden(reg.form);
      var name = document.getElementById("passkey-name");
      post(reg.dataset.begin, Object.assign({ name: name ? name.value : "" }, token))
        .then(function (opts) {
          return navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(opts.publicKey) });
        })
        .then(function (cred) {
          return post(reg.dataset.finish, Object.assign({ attestation: JSON.stringify(cred.toJSON()) }, token));
        })
        .then(function () { window.location.assign(reg.dataset.done); })
        .catch(function (err) { reg.disabled = false; showError(err); });
    });
  }

  var login = document.getElementById("passkey-login");
  if (login) {
    login.addEventListener("click", function () {
      if (!supported()) { showError(new Error("this browser has no passkey support")); return; }
      login.disabled = true;
      var form = login.form;
      post(login.dataset.options, hidden(form, "assertion"))
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
