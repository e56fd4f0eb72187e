// Package tokenizer reads, runs and writes Hugging Face tokenizer.json files
// of the byte-level BPE kind that Qwen2, Qwen2.5, Qwen3 and LLaVA-OneVision's
// Qwen2 language model use, with Hugging Face's results: golden encodings
// made by the tokenizers library itself are checked in testdata/.
//
// # Pipeline
//
// Encode(text) runs, as Hugging Face's encode(text, add_special_tokens=False):
//
//  1. Added tokens with normalized=false are found in the raw text and cut
//     out (they become their ids directly and are never split).
//  2. Each remaining piece is normalized (NFC for Qwen), and added tokens with
//     normalized=true are found in it (their own content normalized too).
//  3. Each remaining piece is pre-tokenized into words (split rules below),
//     each word is mapped byte by byte through the byte-to-unicode table, and
//     BPE turns the word into ids (cached per word).
//  4. With EncodeOptions.AddSpecialTokens, a TemplateProcessing
//     post-processor's special tokens are put around the ids (Qwen has none).
//
// Decode(ids, skipSpecial) maps ids to tokens (unknown ids and, with
// skipSpecial, special tokens are dropped), turns each token back into bytes
// through the inverse byte table (a token containing a rune outside the table,
// such as an added "猫咪", contributes its UTF-8 bytes unchanged), and
// converts the bytes to a string the way Rust's from_utf8_lossy does.
//
// # Added tokens
//
// Matching is leftmost-longest and non-overlapping over all added tokens
// (special first, then the others, as Hugging Face builds its Aho-Corasick
// automaton). For each match, in order: single_word drops it unless the runes
// just before and after it are not word runes (\w: letters, marks, Nd, Pc,
// Join_Control) — the search does not retry inside a dropped match; lstrip
// extends it left over whitespace not taken by the previous match; rstrip
// extends it right over whitespace. As in Hugging Face, the ids written in
// the file are not trusted: a token whose content is already in the vocab
// takes that id, any other takes the next id above the model vocab, in file
// order (for well-formed files this gives the same ids).
//
// # Byte-to-unicode map
//
// BPE works on strings of printable runes, one per byte (GPT-2's
// bytes_to_unicode): the 188 bytes '!'..'~' (0x21-0x7E), '¡'..'¬'
// (0xA1-0xAC) and '®'..'ÿ' (0xAE-0xFF) stand for themselves; the other 68
// (0x00-0x20, 0x7F-0xA0, 0xAD) become U+0100 + k for the k-th of them in byte
// order. So a space (0x20, the 33rd) is 'Ġ' U+0120 and a newline (0x0A) is
// 'Ċ' U+010A; "你" (E4 BD A0) is "ä½ł".
//
// # Pre-tokenizer split rules
//
// Qwen2's Split regex (behavior Isolated) is
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// Go's regexp has no lookahead, so it is matched by hand (matchQwen2). At
// each position the first alternative that matches wins (Oniguruma's
// backtracking order), and the next match starts where it ended:
//
//  1. an apostrophe and s, t, re, ve, m, ll or d in any case ('ſ' folds to s);
//  2. a run of letters, optionally preceded by one rune that is not CR, LF, a
//     letter or a number (" world", "\tfoo", "(ab", "'x");
//  3. one number rune — digits are never grouped ("123" is 1, 2, 3);
//  4. a run of runes that are neither whitespace, letters nor numbers,
//     optionally after one ASCII space, swallowing any CR/LF that follow
//     ("!!\n\n", " ?!");
//  5. a whitespace run containing CR or LF, cut just after its last CR/LF
//     ("   \n\n" out of "   \n\n  b");
//  6. a whitespace run that reaches the end of the text, or else the run less
//     its last rune when it has at least two (so that last space can start
//     the next word: "a  b" is "a", " ", " b");
//  7. a single whitespace rune.
//
// The plain ByteLevel pre-tokenizer with use_regex (GPT-2) uses
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (matchGPT2): contractions in lower case only; then letter, number or other
// runs each optionally after one space; then rules 6 and 7 above. Its
// add_prefix_space puts a space before every piece that does not start with
// one. Classes are Unicode: \p{L} = category L, \p{N} = category N, \s = the
// White_Space property (unicode.IsSpace), as Oniguruma has them. Other regexes
// are refused with an error naming the field.
//
// # Merge algorithm
//
// A word starts as one symbol per rune (its vocab id; runes not in the vocab
// are dropped, as Hugging Face does without unk_token). Symbols form a doubly
// linked list; every adjacent pair that has a merge rule is pushed on a min-heap
// keyed by (rank, position). Pop the best entry; skip it if its left symbol
// was merged away, has no right neighbour any more, or the pair there now
// yields a different token (a stale entry); otherwise merge the two symbols
// into the rule's token and push the new pairs it forms with its neighbours.
// This is Hugging Face's Word::merge_all: O(n log n) per word, and equal to
// "repeatedly merge the lowest-ranked adjacent pair, leftmost first". With
// ignore_merges, a word found whole in the vocab is one token. Results are
// cached per word.
//
// Supported components: normalizer null, NFC, NFD, NFKC, NFKD and Sequence of
// them; pre_tokenizer Split (the two regexes above, or a String pattern;
// behavior Isolated), ByteLevel, Sequence; model BPE (merges as "a b" strings
// or [a, b] pairs; byte_fallback false; dropout null or 0); decoder ByteLevel
// or null; post_processor ByteLevel, TemplateProcessing (single sequence) or a
// Sequence of them. Anything else is an error naming the field.
package tokenizer
