// Package eval scores a vision-language model on a benchmark file: accuracy
// per category, the answer-token loss, and the failure types of generated
// answers. `mbq eval` prints its table; `mbq table` and the testbed trainer
// call Evaluate directly.
//
// # Benchmark file
//
// JSON lines, one question per line (blank lines ignored), as the testbed
// world writes them (testbed/world, bench.jsonl):
//
//	{"id": "q1", "category": "counting", "image": "img/000123.png",
//	 "question": "How many triangles are there?",
//	 "options": ["1", "2", "3", "4"], "answer": "B"}
//
// The fields:
//
//   - id: non-empty, unique in the file.
//   - category: any non-empty name; the seven testbed categories
//     (world.Categories) are listed first in reports, others follow in
//     order of appearance.
//   - image: a path relative to the benchmark file's directory (or
//     absolute) of an existing PNG, JPEG or GIF file; null or absent for a
//     text-only question.
//   - question: non-empty.
//   - options: absent for an open-ended question; otherwise 2 to 4
//     non-empty one-line choices, labelled A, B, C, D (world.Letters).
//   - answer: for multiple choice, the letter of the correct option; for
//     an open-ended question, the short answer; for a caption, the
//     reference caption (optional: without it the item adds nothing to
//     the NLL).
//   - attributes: present (non-empty, each with a letter or digit) exactly
//     for caption items; required when the category is "caption"; not
//     allowed with options.
//
// Unknown fields, wrong types, missing or empty required fields, an answer
// letter outside the options, a missing image file and duplicate ids are
// errors naming the file, the line and the field.
//
// # Prompts
//
// The user turn is the image (a chat image part, when the item has one)
// followed by world.Question.Prompt: the question; for multiple choice the
// lines "A. x" ... and world.MCSuffix; for open-ended questions
// world.OpenSuffix; for captions the bare request. These are exactly the
// prompts the testbed model is trained on. The model's chat template and
// Prepare render and tokenize the conversation.
//
// # Scoring
//
// Multiple choice (lmms-eval's loglikelihood practice): the context is
// the user turn prepared with the generation prompt; the score of option
// i is the log-probability of its letter's answer tokens as the
// continuation of the context, log p(x_1 | ctx) + log p(x_2 | ctx, x_1) +
// ... (teacher forcing; the letter's tokens are the answer tokens of a
// probe conversation answered with the letter, end-of-turn token
// excluded: usually one token). The highest score wins, ties to the first
// option. Accuracy is the share of items whose letter equals the answer.
//
// Open-ended: greedy generation (Options.MaxNewTokens, default 32, the
// checkpoint's stop tokens); correct when world.Normalize(generated) ==
// world.Normalize(answer) (lower case, outer space and final punctuation
// removed, inner space collapsed, a leading article dropped).
//
// Caption: greedy generation (Options.MaxCaptionTokens, default 256);
// the score is the attribute recall, the fraction of attributes
// mentioned: an attribute is mentioned when its words (lower-cased maximal
// runs of letters and digits) occur consecutively among the words of the
// generation, so "large red star" matches "a large red star." but not "a
// large red starfish". The category's accuracy is the mean recall in
// percent.
//
// A generation that emits the image placeholder token ends there (it
// cannot be fed back without an image), like a stop token.
//
// # Failure types
//
// Every generated answer (open-ended and caption) gets at most one failure
// type, the first that applies (the paper's case-study types, section 8.2,
// that can be detected mechanically):
//
//   - no_output: the text holds no letter or digit.
//   - random_symbols: more than 30% of its non-space characters are
//     symbols, i.e. not letters, digits or basic punctuation
//     (. , ; : ! ? ' " ( ) - / % + & en/em dash, right quote); invalid
//     UTF-8 and control characters count as symbols.
//   - repetition: its words hold a unit of p >= 1 words repeated back to
//     back at least 3 times over at least 9 words; or the token limit cut
//     the generation while its last tokens were a unit of at most 32
//     tokens repeated back to back at least 3 times over at least 12
//     tokens (loops without spaces).
//
// Reference answers of the testbed never trip these (tested).
//
// # Answer-token loss
//
// For every item with a reference answer, the context (the user turn
// prepared with the generation prompt) is followed by the reference's
// answer tokens and the end-of-turn token, and run forward once (no
// gradients). The answer tokens are those Prepare labels in a probe
// conversation answered with the reference; they match the tokenizer's
// encoding of the answer plus <|im_end|>. This is lmms-eval's
// loglikelihood layout and the one the testbed trainer (testbed/train)
// trains on. (It differs from Prepare of the whole conversation for
// LLaVA-OneVision: its template renders a past assistant turn as
// "<|im_start|>assistant \n..." with a space the generation prompt
// "<|im_start|>assistant\n" lacks.) The loss of answer token t is the
// cross-entropy -log softmax(logits[t-1])[id_t], as LossAndGrad computes
// it on the same input. An item's NLL is the mean over its answer tokens;
// the report's NLL, overall and per category, is the token-weighted mean
// (sum over all answer tokens / their count), the value LossAndGrad would
// give on the whole benchmark at once. Items whose logits hold NaN or
// infinities are counted in NonFinite and left out.
//
// # Report
//
// Categories maps each category to its accuracy in percent (caption: mean
// recall); Average is their unweighted mean. The JSON form starts
// {"categories": {...}, "average": x, "nll": y, "failures": {...}} and
// adds the category order, per-category NLL and failures, counts and the
// per-item results (id, prediction, correct, score, nll, option
// log-probabilities, failure) for comparing models item by item.
//
// # Speed and determinism
//
// Multiple-choice items are run Options.BatchSize (default 8) per Forward
// call, one sequence each (context + reference letter + end of turn: the
// last context position scores every option's first token, the rest give
// the NLL), plus one extension per other option whose letter is several
// tokens. Generation uses the model's Generate, which
// reuses the prompt's KV cache. Jobs (a batch, or one generated item) run
// on Options.Workers goroutines, so the model must allow concurrent
// Prepare, Forward and Generate calls when Workers > 1 (LLaVA-OneVision
// does: its forward passes keep no state in the model). Every job's
// inputs are fixed before it runs and results are stored by item index,
// so reports are identical whatever the number of workers.
package eval
