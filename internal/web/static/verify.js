// Checks, in the patient's own browser, that each access listed on the
// page is in the hospital's transparency log: the checkpoint's Ed25519
// signature (WebCrypto), the leaf's commitment to the event, and the
// RFC 6962 inclusion proof (SHA-256, WebCrypto). Nothing here trusts the
// server's word: a bundle that fails any check is shown as not verified.
// The format is docs/ledger.md, "Proof bundles". No build step.
"use strict";
(() => {
  const enc = new TextEncoder();

  function b64(s) {
    if (typeof s !== "string") throw new Error("a base64 field is missing");
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  async function sha256(...parts) {
    let n = 0;
    for (const p of parts) n += p.length;
    const buf = new Uint8Array(n);
    let o = 0;
    for (const p of parts) { buf.set(p, o); o += p.length; }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }

  const hex = (a) => Array.from(a, (x) => x.toString(16).padStart(2, "0")).join("");

  // A signed-note verifier key: name+hash+base64(0x01 || Ed25519 key).
  async function parseKey(vkey) {
    // The name and the hash contain no "+"; the base64 key may.
    const v = vkey.trim();
    const i = v.indexOf("+");
    const j = i < 0 ? -1 : v.indexOf("+", i + 1);
    if (i <= 0 || j < 0) throw new Error("the log's key is malformed");
    const name = v.slice(0, i), hash = v.slice(i + 1, j), data = v.slice(j + 1);
    if (!/^[0-9a-f]{8}$/.test(hash)) throw new Error("the log's key is malformed");
    const raw = b64(data);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("the log's key is not an Ed25519 note key");
    const h = (await sha256(enc.encode(name + "\n"), raw)).slice(0, 4);
    if (hex(h) !== hash) throw new Error("the log's key hash does not match the key");
    const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name, hash: h, key };
  }

  // The checkpoint must carry a valid signature by the log's key; other
  // signatures (witness cosignatures) are allowed and not checked here.
  async function verifyCheckpoint(text, k) {
    const cut = text.indexOf("\n\n");
    if (cut < 0) throw new Error("the checkpoint has no signature");
    const body = text.slice(0, cut + 1);
    let signed = false;
    for (const line of text.slice(cut + 2).split("\n")) {
      if (line === "") continue;
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) throw new Error("a signature line of the checkpoint is malformed");
      if (m[1] !== k.name) continue;
      const sig = b64(m[2]);
      if (sig.length !== 68 || !equal(sig.slice(0, 4), k.hash)) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, k.key, sig.slice(4), enc.encode(body))) signed = true;
    }
    if (!signed) throw new Error("the checkpoint is not signed by the log's key");
    const lines = body.split("\n");
    if (lines.length < 4 || !/^[1-9][0-9]*$|^0$/.test(lines[1])) throw new Error("the checkpoint is malformed");
    const root = b64(lines[2]);
    if (root.length !== 32) throw new Error("the checkpoint's root is malformed");
    return { origin: lines[0], size: BigInt(lines[1]), root };
  }

  // Microseconds since the epoch of a canonical time "YYYY-MM-DDThh:mm:ss[.ffffff]Z".
  function micros(t) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$/.exec(t);
    if (!m) throw new Error("the event's time is malformed");
    const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    return BigInt(ms) * 1000n + BigInt((m[7] || "").padEnd(6, "0"));
  }

  // The leaf commits to the event: SHA-256(salt || event) is its last 32
  // bytes, and its clear fields (time, patient and actor pseudonyms,
  // action) are the event's.
  async function verifyLeaf(b, ev) {
    const leaf = b64(b.leaf);
    if (leaf.length < 109 || leaf[0] !== 1) throw new Error("the leaf is not a version 1 leaf");
    const n = leaf[76];
    if (leaf.length !== 109 + n) throw new Error("the leaf's length is wrong");
    const commitment = await sha256(b64(b.salt), enc.encode(b.event));
    if (!equal(leaf.slice(77 + n), commitment)) throw new Error("the leaf does not commit to this event");
    const hasPatient = (leaf[1] & 1) === 1;
    if (hasPatient !== ("patient" in ev)) throw new Error("the leaf and the event disagree on the patient");
    if (hasPatient && !equal(leaf.slice(10, 42), b64(b.patientPseudonym))) throw new Error("the leaf names another patient pseudonym");
    if (!equal(leaf.slice(42, 74), b64(b.actorPseudonym))) throw new Error("the leaf names another actor pseudonym");
    const dv = new DataView(leaf.buffer, leaf.byteOffset);
    if (dv.getBigInt64(2) !== micros(ev.time)) throw new Error("the leaf's time is not the event's");
    if (String.fromCharCode(leaf[74]) !== ev.action) throw new Error("the leaf's action is not the event's");
    return leaf;
  }

  // RFC 9162 section 2.1.3.2: verifying an inclusion proof.
  async function verifyInclusion(leaf, index, size, proof, root) {
    if (index >= size) throw new Error("the leaf is outside the tree");
    let fn = index, sn = size - 1n;
    let r = await sha256(new Uint8Array([0]), leaf);
    for (const p64 of proof) {
      const p = b64(p64);
      if (p.length !== 32) throw new Error("a proof hash is malformed");
      if (sn === 0n) throw new Error("the inclusion proof is too long");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(new Uint8Array([1]), p, r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
        }
      } else {
        r = await sha256(new Uint8Array([1]), r, p);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n || !equal(r, root)) throw new Error("the inclusion proof does not lead to the checkpoint's root");
  }

  // verifyBundle resolves with what the bundle proves or rejects with the
  // check that failed.
  async function verifyBundle(b, vkey) {
    if (!b || b.format !== "trustward-proof-bundle/v1") throw new Error("this is not a version 1 proof bundle");
    const k = await parseKey(vkey);
    const cp = await verifyCheckpoint(b.checkpoint, k);
    if (cp.origin !== k.name || cp.origin !== b.origin) throw new Error("the checkpoint is of another log");
    if (BigInt(b.treeSize) !== cp.size) throw new Error("the proof is for another tree size");
    const ev = JSON.parse(b.event);
    const leaf = await verifyLeaf(b, ev);
    await verifyInclusion(leaf, BigInt(b.leafIndex), cp.size, b.inclusionProof || [], cp.root);
    return { event: ev.id, index: BigInt(b.leafIndex), size: cp.size, origin: cp.origin };
  }

  window.trustwardVerify = { verifyBundle };

  async function run() {
    const cells = Array.from(document.querySelectorAll("[data-proof]")).slice(0, 200);
    if (cells.length === 0) return;
    let vkey;
    try {
      const res = await fetch("/log/key", { credentials: "same-origin" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      vkey = await res.text();
    } catch (e) {
      for (const c of cells) show(c, "error", "Cannot check: the log's key is unavailable");
      return;
    }
    for (const c of cells) {
      const id = c.getAttribute("data-proof");
      try {
        const res = await fetch("/portal/accesses/" + encodeURIComponent(id) + "/proof", { credentials: "same-origin" });
        if (res.status === 503) { show(c, "pending", "Not in the log yet; reload in a moment"); continue; }
        if (!res.ok) throw new Error("the proof could not be fetched (HTTP " + res.status + ")");
        const v = await verifyBundle(await res.json(), vkey);
        if (v.event !== id) throw new Error("the proof is for another access");
        show(c, "ok", "Verified in your browser", "Entry " + v.index + " of " + v.size + " in the log " + v.origin);
      } catch (e) {
        show(c, "bad", "Not verified: " + e.message);
      }
    }
  }

  function show(cell, state, text, detail) {
    const s = cell.querySelector(".proof-status");
    s.textContent = text;
    s.className = "proof-status " + state;
    if (detail) s.title = detail;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
