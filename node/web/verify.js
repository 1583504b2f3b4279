// Verification in the browser, by SPEC §1–§4.1 and nothing the node says:
// JCS, the signed message and Ed25519 with verify_strict's acceptance
// rules, leaf hashes, RFC 9162 inclusion and consistency proofs, C2SP
// signed notes, checkpoints, cosignatures and tlog-policy quorums.
// Pure functions: no DOM, no network.
//
// Hashing and Ed25519 come from @noble/hashes and @noble/ed25519 (vendored,
// audited), not WebCrypto: WebCrypto is missing on a plain-HTTP origin (not
// a secure context), and its Ed25519 accepts what verify_strict refuses
// (small-order keys), so auditors in the browser and the node could differ.

import { Point, etc } from "./vendor/noble-ed25519/index.js";
import { sha256, sha512 } from "./vendor/noble-hashes/sha2.js";

const utf8 = new TextEncoder();
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

export const hex = {
  encode: (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""),
  decode(s) {
    if (typeof s !== "string" || s.length % 2 || /[^0-9a-f]/.test(s)) throw new Error("not lowercase hex");
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
    return out;
  },
};

export function b64decode(s) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4) throw new Error("not base64");
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

const concat = (...parts) => etc.concatBytes(...parts.map((p) => (typeof p === "string" ? utf8.encode(p) : p)));
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const le = (bytes) => bytes.reduceRight((n, b) => (n << 8n) | BigInt(b), 0n);

/** RFC 8785 JCS of a value whose numbers are integers (SPEC §1). A BigInt
 * (a sum past 2^53-1, as money.js reads one) is written as its digits. */
export function jcs(v) {
  if (typeof v === "bigint") return v.toString();
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(jcs).join(",") + "]";
  return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + jcs(v[k])).join(",") + "}";
}

/** Ed25519 as ed25519-dalek's verify_strict (SPEC §2): canonical encodings,
 * S < L, neither the key nor R of small order, the cofactorless equation. */
export function verifyStrict(sig, msg, pub) {
  if (sig.length !== 64 || pub.length !== 32) return false;
  let A, R;
  try {
    A = Point.fromBytes(pub, false);
    R = Point.fromBytes(sig.subarray(0, 32), false);
  } catch {
    return false;
  }
  if (A.isSmallOrder() || R.isSmallOrder()) return false;
  const s = le(sig.subarray(32));
  if (s >= L) return false;
  const k = etc.mod(le(sha512(concat(sig.subarray(0, 32), pub, msg))), L);
  return Point.BASE.multiply(s, false).equals(R.add(A.multiply(k, false)));
}

/** The bytes an issuing key signs (SPEC §2). */
export const signedMessage = (statement) => utf8.encode("aidledger/entry/v1\n" + jcs(statement));

/** Whether the entry's signature verifies under its statement's key. */
export function entrySignatureOk(entry) {
  try {
    return verifyStrict(hex.decode(entry.signature), signedMessage(entry.statement), hex.decode(entry.statement.key));
  } catch {
    return false;
  }
}

export const leafHash = (leafBytes) => sha256(concat(Uint8Array.of(0), leafBytes));
const node = (l, r) => sha256(concat(Uint8Array.of(1), l, r));
const odd = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

/** RFC 9162 §2.1.3.2: is `leaf` at `index` in the tree of `size` with `root`? */
export function inclusionOk(index, size, leaf, path, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = node(p, r);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      r = node(r, p);
    }
    fn = half(fn); sn = half(sn);
  }
  return sn === 0 && equal(r, root);
}

/** RFC 9162 §2.1.4.2: does the tree (second, secondRoot) extend (first, firstRoot)? */
export function consistencyOk(first, second, path, firstRoot, secondRoot) {
  if (first > second) return false;
  if (first === second) return path.length === 0 && equal(firstRoot, secondRoot);
  if (first === 0) return path.length === 0;
  if (path.length === 0) return false;
  const p = isPow2(first) ? [firstRoot, ...path] : path;
  let fn = first - 1, sn = second - 1;
  while (odd(fn)) { fn = half(fn); sn = half(sn); }
  let fr = p[0], sr = p[0];
  for (const c of p.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = node(c, fr); sr = node(c, sr);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
    } else {
      sr = node(sr, c);
    }
    fn = half(fn); sn = half(sn);
  }
  return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
}

function isPow2(n) {
  while (n > 1) { if (odd(n)) return false; n = half(n); }
  return n === 1;
}

/** A C2SP vkey: `name+hex8 key id+base64(type || key)`. */
export function parseVkey(vkey) {
  // The base64 key may hold "+" too: split at the first two only.
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey);
  if (!m) throw new Error("a vkey is name+keyid+key");
  const [, name, id, b64] = m;
  const raw = b64decode(b64);
  if (raw.length !== 33) throw new Error("the vkey's key is not a type byte and 32 bytes");
  const v = { name, type: raw[0], key: raw.subarray(1), id: keyId(name, raw[0], raw.subarray(1)) };
  if (hex.encode(v.id) !== id) throw new Error("the vkey's key id does not match its key");
  return v;
}

/** `SHA-256(name || 0x0A || type || key)[0..4]` (SPEC §4). */
export const keyId = (name, type, key) => sha256(concat(name, "\n", Uint8Array.of(type), key)).subarray(0, 4);

/** SHA-256 of a vkey string, grouped for reading aloud: the fingerprint the
 * page shows next to a key, to compare with one published elsewhere. */
export const fingerprint = (vkey) => hex.encode(sha256(utf8.encode(vkey))).match(/.{4}/g).slice(0, 8).join(" ");

/** A signed note: its text body and its signature lines. */
export function parseNote(text) {
  const cut = text.lastIndexOf("\n\n");
  if (cut < 0 || !text.endsWith("\n")) throw new Error("not a signed note");
  const body = text.slice(0, cut + 1);
  const sigs = text.slice(cut + 2, -1).split("\n").map((line) => {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new Error("a malformed signature line");
    return { name: m[1], bytes: b64decode(m[2]) };
  });
  return { body, sigs };
}

/** A checkpoint's origin, size and root (SPEC §4), from its note body. */
export function parseCheckpoint(text) {
  const note = parseNote(text);
  const lines = note.body.split("\n");
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error("not a checkpoint");
  const root = b64decode(lines[2]);
  if (root.length !== 32) throw new Error("the checkpoint's root is not 32 bytes");
  return { ...note, text, origin: lines[0], size: Number(lines[1]), root };
}

/** Whether the log key `vkey` signed the checkpoint. */
export function checkpointSignedBy(cp, vkey) {
  if (cp.origin !== vkey.name) return false;
  return cp.sigs.some(
    (s) => s.name === vkey.name && s.bytes.length === 68 && equal(s.bytes.subarray(0, 4), vkey.id) &&
      verifyStrict(s.bytes.subarray(4), utf8.encode(cp.body), vkey.key),
  );
}

/** The witnesses of `policy` whose cosignature on `cp` verifies, with the
 * time each signed (C2SP tlog-cosignature v1, key type 0x04). */
export function cosigners(cp, policy) {
  const out = [];
  for (const w of policy.witnesses) {
    const sig = cp.sigs.find((s) => s.name === w.vkey.name && s.bytes.length === 76 && equal(s.bytes.subarray(0, 4), w.vkey.id));
    if (!sig) continue;
    const time = Number(new DataView(sig.bytes.buffer, sig.bytes.byteOffset + 4, 8).getBigUint64(0));
    const msg = utf8.encode(`cosignature/v1\ntime ${time}\n` + cp.body);
    if (verifyStrict(sig.bytes.subarray(12), msg, w.vkey.key)) out.push({ name: w.name, time });
  }
  return out;
}

/** A C2SP tlog-policy file: logs, witnesses, groups, quorum. */
export function parsePolicy(text) {
  const logs = [], witnesses = [], groups = [];
  let quorum;
  const lookup = (name) => witnesses.find((w) => w.name === name) || groups.find((g) => g.name === name);
  text.split("\n").forEach((raw, i) => {
    const words = raw.split(/[ \t]+/).filter(Boolean);
    const fail = (why) => { throw new Error(`policy line ${i + 1}: ${why}`); };
    if (!words.length || words[0].startsWith("#")) return;
    const [word, ...args] = words;
    if (word === "log" && args.length >= 1 && args.length <= 2) logs.push(parseVkey(args[0]));
    else if (word === "witness" && args.length >= 2 && args.length <= 3) {
      if (args[0] === "none" || lookup(args[0])) fail(`${args[0]} is already defined`);
      const vkey = parseVkey(args[1]);
      if (vkey.type !== 4) fail("a witness key has type 0x04");
      witnesses.push({ name: args[0], vkey, vkeyText: args[1], url: args[2] });
    } else if (word === "group" && args.length >= 3) {
      const [name, threshold, ...names] = args;
      if (name === "none" || lookup(name)) fail(`${name} is already defined`);
      const members = names.map((m) => lookup(m) || fail(`${m} is not defined on an earlier line`));
      const k = threshold === "all" ? members.length : threshold === "any" ? 1 : Number(threshold);
      if (!Number.isInteger(k) || k < 1 || k > members.length) fail(`threshold ${threshold}`);
      groups.push({ name, threshold: k, members });
    } else if (word === "quorum" && args.length === 1 && quorum === undefined) {
      quorum = args[0] === "none" ? null : lookup(args[0]) || fail(`${args[0]} is not defined`);
    } else fail(`cannot read a ${word} line here`);
  });
  if (quorum === undefined) throw new Error("the policy has no quorum line");
  return { logs, witnesses, groups, quorum };
}

/** Whether the witnesses named in `signed` meet the policy's quorum. */
export function quorumMet(policy, signed) {
  const names = new Set(signed.map((s) => s.name));
  const met = (m) => (m.members ? m.members.filter(met).length >= m.threshold : names.has(m.name));
  return policy.quorum === null || met(policy.quorum);
}

/** Checks a checkpoint against the trust anchor: the log's signature, and
 * with a policy the quorum. Returns the parsed checkpoint and its cosigners,
 * or throws naming what failed. */
export function trustedCheckpoint(text, anchor) {
  const cp = parseCheckpoint(text);
  if (!checkpointSignedBy(cp, anchor.vkey)) throw new Error("checkpoint");
  const signed = anchor.policy ? cosigners(cp, anchor.policy) : [];
  if (anchor.policy && !quorumMet(anchor.policy, signed)) throw new Error("witnesses");
  return { cp, signed };
}

// ---- audited figures (SPEC §4.3) ------------------------------------------

/** The auditors the operator lists: `name vkey` lines, Ed25519 (0x01) keys
 * whose name is the line's. */
export function parseAuditors(text) {
  const out = [];
  text.split("\n").forEach((raw, i) => {
    const words = raw.trim().split(/\s+/).filter(Boolean);
    if (!words.length || words[0].startsWith("#")) return;
    const fail = (why) => { throw new Error(`auditors line ${i + 1}: ${why}`); };
    if (words.length !== 2) fail("want name vkey");
    const vkey = parseVkey(words[1]);
    if (vkey.type !== 1 || vkey.name !== words[0]) fail("not an Ed25519 key of that name");
    out.push({ name: words[0], vkey });
  });
  return out;
}

/** `SHA-256(JCS(stats))`, hex. */
export const statsHash = (stats) => hex.encode(sha256(utf8.encode(jcs(stats))));

/** An auditor's note: who of `auditors` signed it (each listed signature
 * line must verify, one at least) and its five lines. Throws otherwise. */
export function statsNote(text, auditors) {
  const note = parseNote(text);
  const signers = [];
  for (const s of note.sigs) {
    const a = auditors.find((x) => x.name === s.name && s.bytes.length === 68 && equal(s.bytes.subarray(0, 4), x.vkey.id));
    if (!a) continue;
    if (!verifyStrict(s.bytes.subarray(4), utf8.encode(note.body), a.vkey.key)) throw new Error(`signature of ${a.name}`);
    signers.push(a.name);
  }
  if (!signers.length) throw new Error("no listed auditor signed it");
  const lines = note.body.split("\n");
  if (lines.length !== 6 || lines[0] !== "aidledger/stats/v1" || !/^[1-9][0-9]*$/.test(lines[2])) throw new Error("not an audited-statistics note");
  const root = b64decode(lines[3]), hash = b64decode(lines[4]);
  if (root.length !== 32 || hash.length !== 32) throw new Error("a hash is not 32 bytes");
  return { signers, origin: lines[1], size: Number(lines[2]), root, hash: hex.encode(hash) };
}

/**
 * Checks `GET /v1/stats/audited`'s answer against the trusted checkpoint
 * `cp`: each note's signatures, its origin and size, its root (the same as
 * `cp`'s at that size, or proved a prefix of it by `path`, the consistency
 * proof from N to cp.size) and its hash against the figures. Returns the
 * auditors who signed these figures and those who signed other figures
 * for the same entries; throws naming what failed (then nothing is
 * shown as audited).
 */
export function checkAudited(answer, auditors, cp, path) {
  const size = answer.size;
  if (!Number.isSafeInteger(size) || size < 1) throw new Error("size");
  if (size > cp.size) throw new Error("newer than the trusted checkpoint");
  const hash = statsHash(answer.stats);
  const agree = [], disagree = [];
  for (const text of answer.notes) {
    const n = statsNote(text, auditors);
    if (n.origin !== cp.origin || n.size !== size) throw new Error("a note is for another ledger or size");
    const rooted = size === cp.size
      ? equal(n.root, cp.root)
      : consistencyOk(size, cp.size, path, n.root, cp.root);
    if (!rooted) throw new Error("a note's root is not the trusted checkpoint's history");
    (n.hash === hash ? agree : disagree).push(...n.signers);
  }
  if (!agree.length) throw new Error("no note signs these figures");
  return { size, hash, agree, disagree };
}

// ---- receipts as C2SP tlog-proof files (SPEC §4.2) ------------------------

/** A tlog-proof's parts: the leaf's `logged_at` and `prev` (its extra
 * line, canonical JSON), the index, the inclusion path and the checkpoint. */
export function parseTlogProof(text) {
  const cut = text.indexOf("\n\n");
  if (cut < 0) throw new Error("no blank line before the checkpoint");
  const lines = text.slice(0, cut).split("\n");
  if (lines[0] !== "c2sp.org/tlog-proof@v1") throw new Error("not a c2sp.org/tlog-proof@v1 file");
  const extraLine = /^extra ([A-Za-z0-9+/=]+)$/.exec(lines[1] || "");
  if (!extraLine) throw new Error("no extra line (logged_at and prev)");
  const extraText = new TextDecoder().decode(b64decode(extraLine[1]));
  const extra = JSON.parse(extraText);
  if (jcs(extra) !== extraText || Object.keys(extra).join() !== "logged_at,prev") throw new Error("extra is not the canonical JSON of logged_at and prev");
  const index = /^index (0|[1-9][0-9]*)$/.exec(lines[2] || "");
  if (!index || !Number.isSafeInteger(Number(index[1]))) throw new Error("no index line");
  const path = lines.slice(3).map((l) => {
    const h = b64decode(l);
    if (h.length !== 32) throw new Error("a proof line is not 32 bytes");
    return h;
  });
  return { extra, index: Number(index[1]), path, checkpoint: text.slice(cut + 2) };
}

/** The signed entry in what a user has: the entry as submitted, its leaf,
 * or the node's answer for it. */
export function entryOf(value) {
  const e = value?.leaf?.entry ?? value?.entry ?? value;
  if (typeof e?.signature !== "string" || typeof e?.statement !== "object") throw new Error("not a signed entry");
  return { signature: e.signature, statement: e.statement };
}

/**
 * Verifies a tlog-proof for `entry` against the trust anchor, offline:
 * the entry's signature, the leaf rebuilt from it and the proof, the
 * checkpoint's signature, the leaf's inclusion at the index, and with a
 * policy the witnesses' quorum. Each step true, false or "skipped"; a
 * step after a failed one is false.
 */
export function verifyTlogProof(text, entry, anchor) {
  const steps = { format: false, signature: false, leaf: false, checkpoint: false, inclusion: false, witnesses: false };
  let proof, cp;
  try {
    proof = parseTlogProof(text);
    cp = parseCheckpoint(proof.checkpoint);
    steps.format = true;
  } catch {
    return { steps };
  }
  steps.signature = entrySignatureOk(entry);
  const leaf = { entry, logged_at: proof.extra.logged_at, prev: proof.extra.prev, seq: proof.index };
  const hash = leafHash(utf8.encode(jcs(leaf)));
  steps.leaf = steps.signature && /^[0-9a-f]{64}$/.test(proof.extra.prev);
  steps.checkpoint = checkpointSignedBy(cp, anchor.vkey);
  steps.inclusion = steps.leaf && steps.checkpoint && inclusionOk(proof.index, cp.size, hash, proof.path, cp.root);
  steps.witnesses = anchor.policy ? steps.checkpoint && quorumMet(anchor.policy, cosigners(cp, anchor.policy)) : "skipped";
  return { steps, seq: proof.index, size: cp.size };
}
