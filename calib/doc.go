// Package calib loads calibration data for MBQ: image–caption
// conversations in the ShareGPT4V layout, and plain text cut into token
// blocks for the language-only (AWQ-style) baseline. Both give
// model.Sample values that the model's own chat template renders
// (VLM.Prepare), so the answer tokens carry the loss and the image
// placeholders become the model's image tokens.
//
// # ShareGPT4V layout (LoadShareGPT)
//
// A JSON list of records, or JSON lines (one record per line, blank lines
// skipped); the first non-blank byte decides ('[' is a list):
//
//	{"id": "...", "image": "relative/path.jpg",
//	 "conversations": [{"from": "human", "value": "<image>\nDescribe the image."},
//	                   {"from": "gpt",   "value": "A caption ..."}]}
//
// The fields:
//
//   - id: a string or a number, optional (used in error messages).
//   - image: a path, a list of paths, or absent/null for a text-only
//     record. Relative paths are resolved against Options.ImagesDir when
//     set, else the directory of the calibration file; absolute paths are
//     used as they are. Any format image.DecodeFile reads (PNG, JPEG, GIF).
//   - conversations: turns whose "from" is "human" (role user), "gpt"
//     (assistant) or "system"; "user" and "assistant" are accepted as
//     aliases. At least one gpt turn is required: its text is the answer
//     the loss is computed on.
//   - Each "<image>" in a human turn becomes an image part at that
//     position; the text before and after it is kept as text parts, with
//     one newline right after (or right before) the placeholder dropped,
//     since the chat template writes its own separator ("<image>\nDescribe"
//     becomes [image, "Describe"]). The images are taken in placeholder
//     order. A record with images and no placeholder gets them at the start
//     of its first human turn (as LLaVA's data loader does); any other
//     mismatch between placeholders and images is an error, as is a
//     placeholder in a gpt or system turn.
//
// Every record is validated; errors name the file, the record (index from
// 0, line for JSON lines, id) and the field, and wrap ErrFormat; a missing
// or undecodable image names its path.
//
// # Sampling
//
// The records (or text blocks) are shuffled with Shuffle(n, Options.Seed)
// — a Fisher–Yates shuffle driven by SplitMix64, spelled out in its
// documentation so that a seed selects the same samples on every Go
// release — and the first Options.N are kept, in the shuffled order
// (default DefaultSamples = 128; negative: all). Only the kept records'
// images are read.
//
// # Plain text (LoadText)
//
// The file is tokenized with the model's tokenizer, added tokens are
// removed, and the ids are cut into consecutive blocks of blockLen tokens
// (default 512; the tail shorter than a block is dropped), as AWQ does
// with the pile. The blocks are shuffled and taken as above. Each block is
// one conversation
//
//	user:      TextPrompt ("Continue the text.")
//	assistant: the block's text
//
// so that every block token is an Answer token: it carries the
// answer-token loss, and its rows are the ones the modality-balanced
// reconstruction loss counts (prompt rows are ignored there). With no
// vision rows, the sensitivities' g_v is 0 and the balance reduces to plain
// channel-wise equalization on text (AWQ/SmoothQuant).
package calib
