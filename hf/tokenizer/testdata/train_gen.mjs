// train_gen.mjs writes the training corpus and the golden BPE training results
// that mbq/hf/tokenizer's Train is checked against (train_test.go). The
// reference is Hugging Face's own BpeTrainer (npm "tokenizers", the Rust
// library compiled to a native Node addon).
//
//   cd hf/tokenizer/testdata && npm ci && node train_gen.mjs && rm -rf node_modules
//
// Outputs (committed; the Go tests need no npm):
//   train_corpus.txt   ~120 KB of generated English prose, code, numbers and
//                      some non-ASCII text (deterministic PRNG, no third-party
//                      text)
//   train_golden.json  for each pipeline: the learned merges and vocab
//
// The Node binding's Tokenizer.train(files) always uses the model's default
// trainer, BpeTrainer::default(): vocab_size 30000, min_frequency 0, no
// special tokens, no initial alphabet. That is enough for an exact
// comparison:
//   - Training stops only by a check before each merge (vocab size, min
//     frequency), so a run with a smaller VocabSize / larger MinFrequency
//     learns a prefix of the same merges; the corpus is small enough that
//     the default run merges until no pair is left.
//   - Without initial_alphabet the alphabet is the characters seen, sorted by
//     code point; Go's is all 256 byte-level characters sorted the same way.
//     Ties between pairs are broken by token ids, whose relative order is
//     the same in both (seen characters keep their order, merged tokens come
//     after every character, in creation order), so the merges agree.
// train_from_files feeds the file line by line, keeping each "\n" (and any
// "\r" before it); the Go test splits the corpus the same way.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import tk from "tokenizers";

const here = new URL(".", import.meta.url).pathname;
const pkgVersion = JSON.parse(
  fs.readFileSync(path.join(here, "node_modules/tokenizers/package.json"), "utf8"),
).version;

// ------------------------------------------------------------------ corpus

// mulberry32: a small deterministic PRNG.
let seed = 0x6d627121;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const cap = (s) => s[0].toUpperCase() + s.slice(1);

const nouns = (
  "model image token layer weight vision language camera river mountain city garden " +
  "window kitchen teacher student library program computer network matrix vector tensor " +
  "quantizer gradient sample batch kernel window signal picture question answer report " +
  "engine bridge market forest ocean island village pattern number letter sentence story " +
  "engineer scientist painter farmer doctor child friend morning evening winter summer " +
  "memory channel pixel patch encoder decoder projector dataset benchmark result error"
).split(" ");
const verbs = (
  "reads writes builds trains measures compares predicts describes carries follows " +
  "quantizes rounds scales shifts loads saves sorts merges splits counts finds opens " +
  "closes watches paints teaches learns explains checks tests runs moves holds keeps"
).split(" ");
const adjs = (
  "small large quiet bright dark careful quick slow simple complex early late warm cold " +
  "green blue red yellow sparse dense noisy clean mixed balanced sensitive robust " +
  "efficient accurate ancient modern strange familiar"
).split(" ");
const advs = "quickly slowly carefully rarely often always never gently loudly quietly".split(" ");
const preps = "in on under over near behind beside through across with without".split(" ");
const dets = "the a this that every each some one another the".split(" ");
const conj = "and but so because while although when before after since".split(" ");
const names = "Alice Bob Carol Dmitri Emma Farid Grace Hiro Ines Jonas Kofi Lena Mateo Noor".split(" ");
const contractions = "don't it's I'm we'll they've she'd can't won't you're That's IT'S WE'LL".split(" ");

function nounPhrase() {
  let s = pick(dets) + " ";
  if (rand() < 0.5) s += pick(adjs) + " ";
  s += pick(nouns);
  if (rand() < 0.2) s += "s";
  return s;
}
function clause() {
  const subj = rand() < 0.3 ? pick(names) : nounPhrase();
  let s = subj + " " + pick(verbs) + " " + nounPhrase();
  if (rand() < 0.4) s += " " + pick(preps) + " " + nounPhrase();
  if (rand() < 0.2) s += " " + pick(advs);
  return s;
}
function sentence() {
  let s = clause();
  if (rand() < 0.35) s += ", " + pick(conj) + " " + clause();
  if (rand() < 0.1) s = pick(contractions) + " " + s;
  const end = pick([".", ".", ".", "!", "?", "...", ";"]);
  return cap(s) + end;
}
function paragraph() {
  const n = 2 + int(5);
  const out = [];
  for (let i = 0; i < n; i++) out.push(sentence());
  return out.join(rand() < 0.1 ? "  " : " ");
}

const idents = "count total index value buffer result scale offset weight tokens config path err ctx row col".split(" ");
function ident() {
  const a = pick(idents);
  switch (int(4)) {
    case 0:
      return a;
    case 1:
      return a + cap(pick(idents));
    case 2:
      return a + "_" + pick(idents);
    default:
      return a + int(10);
  }
}
function goFunc() {
  const name = cap(ident().replace(/_/g, ""));
  const lines = [`func ${name}(${ident()} []float32, n int) (int, error) {`];
  const n = 2 + int(5);
  for (let i = 0; i < n; i++) {
    switch (int(5)) {
      case 0:
        lines.push(`\tfor i := 0; i < n; i++ {`, `\t\t${ident()} += ${ident()}[i] * ${int(1000) / 10}`, `\t}`);
        break;
      case 1:
        lines.push(`\tif err != nil {`, `\t\treturn 0, fmt.Errorf("${pick(verbs)} ${pick(nouns)}: %w", err)`, `\t}`);
        break;
      case 2:
        lines.push(`\t${ident()} := make([]int32, ${int(4096)})`);
        break;
      case 3:
        lines.push(`\t// ${cap(clause())}.`);
        break;
      default:
        lines.push(`\t${ident()} = (${ident()} << ${int(8)}) | 0x${int(65536).toString(16)}`);
    }
  }
  lines.push(`\treturn ${int(100)}, nil`, `}`);
  return lines.join("\n");
}
function pyFunc() {
  const lines = [`def ${ident()}(${ident()}, ${ident()}=None):`, `    """${cap(clause())}."""`];
  const n = 2 + int(4);
  for (let i = 0; i < n; i++) {
    switch (int(4)) {
      case 0:
        lines.push(`    for ${ident()} in range(${int(512)}):`, `        ${ident()}.append(${ident()} * ${(rand() * 10).toFixed(3)})`);
        break;
      case 1:
        lines.push(`    if ${ident()} is None:`, `        raise ValueError("${pick(adjs)} ${pick(nouns)}")`);
        break;
      case 2:
        lines.push(`    ${ident()} = {"${pick(nouns)}": ${int(100)}, '${pick(nouns)}': [${int(9)}, ${int(9)}, ${int(9)}]}`);
        break;
      default:
        lines.push(`    # ${clause()}`);
    }
  }
  lines.push(`    return ${ident()}`);
  return lines.join("\n");
}
function numbers() {
  const rows = [];
  const n = 3 + int(6);
  for (let i = 0; i < n; i++) {
    switch (int(6)) {
      case 0:
        rows.push(`${2000 + int(30)}-${String(1 + int(12)).padStart(2, "0")}-${String(1 + int(28)).padStart(2, "0")} ${String(int(24)).padStart(2, "0")}:${String(int(60)).padStart(2, "0")}`);
        break;
      case 1:
        rows.push(`$${int(100000) / 100} (${(rand() * 100).toFixed(1)}%)`);
        break;
      case 2:
        rows.push(`${pick(nouns)},${int(1e6)},${(rand() * 2 - 1).toExponential(3)},${int(2) ? "true" : "false"}`);
        break;
      case 3:
        rows.push(`| ${pick(nouns).padEnd(10)} | ${String(int(99999)).padStart(6)} | ${(rand()).toFixed(4)} |`);
        break;
      case 4:
        rows.push(`${int(1e9)} ${int(1e4)} ${int(100)} 3.14159 2.71828 1e-5 0xFF`);
        break;
      default:
        rows.push(`The ${pick(nouns)} took ${int(500)} ms over ${int(64)} steps, ${int(10)}.${int(10)}x faster.`);
    }
  }
  return rows.join("\n");
}
const intl = [
  "caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade", // NFC
  "cafe\u0301 nai\u0308ve re\u0301sume\u0301", // NFD: the NFC normalizer composes these
  "Stra\u00dfe \u00fcber M\u00fcnchen \u00e0 bient\u00f4t",
  "\u4f60\u597d\uff0c\u4e16\u754c\u3002\u6a21\u578b\u91cf\u5316\u3002",
  "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
  "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0394\u03b5\u03bb\u03c4\u03b1 \u03b1\u03b2\u03b3",
  "emoji \ud83d\ude00 \ud83d\udc4d\ud83c\udffd \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67 \ud83c\uddeb\ud83c\uddf7",
  "\u00bd \u00b2 \u2155 \u0663\u0664 \u2160\u2161 \u2014 \u201cquoted\u201d \u2018single\u2019",
  "tab\tseparated\tvalues\u00a0nbsp\u3000ideographic space",
];
function intlLine() {
  return pick(intl) + (rand() < 0.5 ? " " + sentence() : "");
}

// Runs of one character or a short pattern: BPE builds the same string in
// several ways there ("aa"+"aa" and "aaa"+"a"), which exercises merges that
// produce a token already in the vocab.
const runChars = ["=", "-", "0", "a", "*", "#", ".", "ab", "xyz", "ha", " ", "\t", "1"];
function runs() {
  const out = [];
  const n = 2 + int(6);
  for (let i = 0; i < n; i++) {
    const c = pick(runChars);
    const k = 1 + int(24);
    out.push(pick(["", "x", " ", "# ", "\t"]) + c.repeat(k) + pick(["", "y", " end", ";"]));
  }
  return out.join("\n");
}
// Made-up words from syllables, for a long tail of rare pairs.
const syl = "ka lo mi nu ze ra ti po be du fa sho qui vex gle tra ond ish ump".split(" ");
function madeUp() {
  const out = [];
  const n = 5 + int(15);
  for (let i = 0; i < n; i++) {
    let w = "";
    const k = 1 + int(4);
    for (let j = 0; j < k; j++) w += pick(syl);
    out.push(rand() < 0.2 ? cap(w) : w);
  }
  return out.join(" ") + ".";
}

function corpus() {
  const parts = [];
  let size = 0;
  while (size < 120_000) {
    let p;
    const r = rand();
    if (r < 0.4) p = paragraph();
    else if (r < 0.5) p = goFunc();
    else if (r < 0.6) p = pyFunc();
    else if (r < 0.72) p = numbers();
    else if (r < 0.82) p = intlLine();
    else if (r < 0.91) p = runs();
    else p = madeUp();
    // Some lines end in CRLF, some in trailing spaces.
    if (rand() < 0.03) p = p.replace(/\n/g, "\r\n");
    if (rand() < 0.05) p += "   ";
    parts.push(p);
    size += Buffer.byteLength(p) + 2;
  }
  return parts.join("\n\n") + "\n";
}

// --------------------------------------------------------------- training

const qwen2Regex =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const byteLevel = (useRegex) => ({
  type: "ByteLevel",
  add_prefix_space: false,
  trim_offsets: useRegex,
  use_regex: useRegex,
});
const pipelines = [
  {
    name: "qwen2",
    description: "NFC normalizer, Qwen2 Split regex (Isolated) + ByteLevel(use_regex false): Go's Qwen2Config",
    normalizer: { type: "NFC" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: qwen2Regex }, behavior: "Isolated", invert: false },
        byteLevel(false),
      ],
    },
  },
  {
    name: "gpt2",
    description: "no normalizer, ByteLevel(use_regex true): Go's Config{PreTokenizer: PreTokenizerGPT2}",
    normalizer: null,
    pre_tokenizer: byteLevel(true),
  },
];

function train(p, corpusPath) {
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: p.normalizer,
    pre_tokenizer: p.pre_tokenizer,
    post_processor: byteLevel(false),
    decoder: byteLevel(false),
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: {},
      merges: [],
    },
  };
  const t = tk.Tokenizer.fromString(JSON.stringify(json));
  t.train([corpusPath]);
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "train_gen-")), "tokenizer.json");
  t.save(out);
  const saved = JSON.parse(fs.readFileSync(out, "utf8"));
  fs.rmSync(path.dirname(out), { recursive: true });
  const vocab = Object.entries(saved.model.vocab).sort((a, b) => a[1] - b[1]);
  vocab.forEach(([, id], i) => {
    if (id !== i) throw new Error(`vocab ids not dense at ${i}`);
  });
  const merges = saved.model.merges.map((m) => (Array.isArray(m) ? m : m.split(" ")));
  // The alphabet is every single character token; learned tokens follow.
  let nAlpha = 0;
  while (nAlpha < vocab.length && [...vocab[nAlpha][0]].length === 1) nAlpha++;
  return {
    alphabet: vocab.slice(0, nAlpha).map(([tok]) => tok),
    learned: vocab.slice(nAlpha).map(([tok]) => tok),
    merges,
  };
}

const sha = (s) => crypto.createHash("sha256").update(s).digest("hex");

const text = corpus();
const corpusPath = path.join(here, "train_corpus.txt");
fs.writeFileSync(corpusPath, text);

const golden = {
  generator: "hf/tokenizer/testdata/train_gen.mjs",
  reference: `npm tokenizers@${pkgVersion} (Hugging Face tokenizers, BpeTrainer::default(): vocab_size 30000, min_frequency 0, no initial alphabet, no special tokens)`,
  corpus: "train_corpus.txt",
  corpus_sha256: sha(fs.readFileSync(corpusPath)),
  feed: "file lines, each with its \\n (and \\r) kept (train_from_files)",
  vocab_size: 30000,
  pipelines: [],
};
for (const p of pipelines) {
  const r = train(p, corpusPath);
  // The reference must itself be deterministic for the golden to mean much.
  const again = train(p, corpusPath);
  if (JSON.stringify(again) !== JSON.stringify(r)) throw new Error(`${p.name}: two runs differ`);
  golden.pipelines.push({
    name: p.name,
    description: p.description,
    normalizer: p.normalizer,
    pre_tokenizer: p.pre_tokenizer,
    alphabet: r.alphabet,
    n_learned: r.learned.length,
    n_merges: r.merges.length,
    // Tokens never contain "\n" or " " in byte-level form.
    merges_sha256: sha(r.merges.map((m) => m[0] + " " + m[1]).join("\n")),
    learned_sha256: sha(r.learned.join("\n")),
    merges: r.merges.map((m) => m[0] + " " + m[1]),
    learned: r.learned,
  });
  console.log(`${p.name}: ${r.alphabet.length} characters, ${r.learned.length} learned tokens, ${r.merges.length} merges`);
}
fs.writeFileSync(path.join(here, "train_golden.json"), JSON.stringify(golden, null, 1) + "\n");
console.log(`corpus ${Buffer.byteLength(text)} bytes, sha256 ${golden.corpus_sha256}`);
