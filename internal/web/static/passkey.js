// Passkeys: adds a passkey (#passkey-add), signs in with one
// (#passkey-signin) and confirms who you are with one (#passkey-confirm,
// /reauth) through navigator.credentials, posting JSON to /passkey/*. No
// inline script, no build step (strict CSP).
(function () {
  'use strict';

  function toB64u(buf) {
    var bytes = new Uint8Array(buf), s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function fromB64u(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function say(msg, bad) {
    var el = document.getElementById('passkey-status');
    if (!el) return;
    el.textContent = msg;
    el.className = bad ? 'err' : 'muted';
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (j) {
        // A change that needs a fresh sign-in: confirm first, then come back.
        if (res.status === 401 && j.reauth) { window.location.assign(j.reauth); return new Promise(function () {}); }
        if (!res.ok) throw new Error(j.detail || 'The server did not accept this (' + res.status + ').');
        return j;
      });
    });
  }

  // A refusal by the browser or the person becomes a sentence, not a stack.
  function explain(err) {
    if (err && err.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out. Try again when you are ready.';
    if (err && err.name === 'InvalidStateError') return 'This device already holds a passkey for your account.';
    return (err && err.message) || 'Something went wrong.';
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type, id: fromB64u(c.id) };
      if (c.transports) d.transports = c.transports;
      return d;
    });
  }

  // A button's data-begin and data-finish name other endpoints of the
  // same ceremony (account recovery, /recover/passkey/*).
  function register(btn) {
    var nameEl = document.getElementById('passkey-name');
    var name = nameEl ? nameEl.value.trim() : '';
    if (!name) { say('Please give the passkey a name first, such as "my phone".', true); if (nameEl) nameEl.focus(); return; }
    say('Follow what your browser asks…');
    post(btn.getAttribute('data-begin') || '/passkey/register/begin').then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = fromB64u(pk.challenge);
      pk.user.id = fromB64u(pk.user.id);
      pk.excludeCredentials = descriptors(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk });
    }).then(function (cred) {
      var r = cred.response;
      return post(btn.getAttribute('data-finish') || '/passkey/register/finish', {
        name: name,
        credential: {
          id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
          authenticatorAttachment: cred.authenticatorAttachment || undefined,
          response: {
            clientDataJSON: toB64u(r.clientDataJSON),
            attestationObject: toB64u(r.attestationObject),
            transports: r.getTransports ? r.getTransports() : []
          },
          clientExtensionResults: cred.getClientExtensionResults()
        }
      });
    }).then(function (j) {
      window.location.assign(j.redirect || window.location.pathname);
    }).catch(function (err) { say(explain(err), true); });
  }

  // assertion is the JSON form of a navigator.credentials.get answer.
  function assertion(cred) {
    var r = cred.response;
    return {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      response: {
        clientDataJSON: toB64u(r.clientDataJSON),
        authenticatorData: toB64u(r.authenticatorData),
        signature: toB64u(r.signature),
        userHandle: r.userHandle ? toB64u(r.userHandle) : null
      },
      clientExtensionResults: cred.getClientExtensionResults()
    };
  }

  // Re-authentication: the answer goes into the form named by data-form
  // (with the action it interrupted), which is then sent.
  function confirmIdentity(btn) {
    say('Follow what your browser asks…');
    post(btn.getAttribute('data-begin')).then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = fromB64u(pk.challenge);
      pk.allowCredentials = descriptors(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (cred) {
      var form = document.getElementById(btn.getAttribute('data-form'));
      form.elements['reauth.passkey'].value = JSON.stringify(assertion(cred));
      form.submit();
    }).catch(function (err) { say(explain(err), true); });
  }

  function signIn(btn) {
    say('Follow what your browser asks…');
    post(btn.getAttribute('data-begin') || '/passkey/signin/begin').then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = fromB64u(pk.challenge);
      pk.allowCredentials = descriptors(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (cred) {
      return post(btn.getAttribute('data-finish') || '/passkey/signin/finish', {
        next: btn.getAttribute('data-next') || '/',
        credential: assertion(cred)
      });
    }).then(function (j) {
      window.location.assign(j.redirect || '/');
    }).catch(function (err) { say(explain(err), true); });
  }

  var supported = !!(window.PublicKeyCredential && navigator.credentials);
  var add = document.getElementById('passkey-add');
  var signin = document.getElementById('passkey-signin');
  var confirmBtn = document.getElementById('passkey-confirm');
  if (!supported) {
    if (add) add.disabled = true;
    if (signin) signin.disabled = true;
    if (confirmBtn) confirmBtn.disabled = true;
    say('This browser cannot use passkeys. Use your password and an authenticator app instead.');
    return;
  }
  if (add) add.addEventListener('click', function () { register(add); });
  if (signin) signin.addEventListener('click', function () { signIn(signin); });
  if (confirmBtn) confirmBtn.addEventListener('click', function () { confirmIdentity(confirmBtn); });
}());
