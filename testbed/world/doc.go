// Package world is the synthetic vision-language world of the testbed: the
// scenes, captions and questions a small VLM is trained on and evaluated
// with, and the files (calibration pairs, benchmark) written from them.
//
// Everything is deterministic: scenes, captions and questions are drawn from
// a *rand.Rand the caller passes (math/rand/v2 PCG with explicit seeds), and
// nothing depends on map iteration order or scheduling.
//
// # Scenes
//
// An image (default 128x128, Config.Size) is a background colour (one of
// four mid-tones) with +-6 per-pixel noise and a 4x4 grid of cells
// (Config.Grid). A scene holds 1 to 6 objects (weighted towards 3 to 5), one
// per cell, so they never overlap. Each object has
//
//   - a shape: circle, square, triangle, star, cross, diamond, heart, hexagon;
//   - a colour: red, orange, yellow, green, cyan, blue, purple, pink, black, white;
//   - a size: small (diameter 0.54 of a cell) or large (0.88);
//   - a cell, named "<ordinal> row, <ordinal> column" counted from the top
//     left ("second row, third column").
//
// No two objects of a scene share both colour and shape, so "the red star"
// always names one object. In about 40% of scenes a sign spans two
// horizontally adjacent cells: a white board with 1 to 4 capital letters
// (without I and O) or digits in an embedded 5x7 bitmap font, magnified
// 2x or 3x at the default size. Objects are anti-aliased with 4x4
// supersampling.
//
// Relations between two objects use eight directions, exact on the grid:
// "above" and "below" mean the same column, "to the left of" and "to the
// right of" the same row, and otherwise "above and to the left of" and so
// on.
//
// # Captions
//
// Scene.Caption writes a templated description: the object count, every
// object as "<article> <size> <colour> <shape>" with its position, one or
// two relations, sometimes a shared colour, and the sign's text in quotes.
// Sentence templates, the opening, object order (reading order, shuffled,
// large first) and pairing vary. Scene.Attributes lists, for recall
// scoring, each object's "<size> <colour> <shape>", its position name and
// the sign's text; every caption contains every attribute verbatim.
//
// # Questions
//
// Seven categories, as in the benchmark's "category" field:
//
//	perception  colour, shape or size of a referenced object, existence   (MC; size and existence open)
//	counting    how many <shape>/<colour>/<size> objects, per row/column  (MC)
//	spatial     where is X, X relative to Y, which object is <dir> Y,
//	            what is in a cell, which row holds the sign              (MC)
//	text        what the sign says, its first/last character, its length (open)
//	reasoning   more X than Y, most common, digit sum, sign number + k,
//	            not <colour>, removing a shape, is X <dir> Y, mixing the
//	            colours of two objects, counts of two shapes             (MC; yes/no open)
//	language    no image: a fixed table of facts (32 invented countries
//	            with capitals, 32 invented creatures with colour, habitat
//	            and food, colour mixing, opposites, shape sides) and
//	            two-digit arithmetic                                     (MC or open)
//	caption     "Describe the image." and variants, scored by attribute recall
//
// The fact table is drawn once from a fixed seed (FactTable), so training
// and every benchmark share it. Multiple-choice questions have four distinct
// options with the answer at a uniformly random letter A-D; distractors are
// taken from the scene first (its other colours, shapes, cells, objects) so
// they are plausible. Question.Prompt formats a question as lmms-eval does:
//
//	<question>
//	A. <option>
//	B. <option>
//	C. <option>
//	D. <option>
//	Answer with the option's letter from the given choices directly.
//
// and open-ended questions end with "Answer the question using a single word
// or phrase."; Question.UserText puts "<image>\n" first when there is an
// image; Question.Target is the expected answer (letter, short answer or
// caption). Normalize is the normalisation for open-ended exact match.
//
// TrainingSample draws training examples in memory: about 30% captions
// (Config.CaptionShare), 15% language questions (Config.LanguageShare), the
// rest an image question of a uniformly chosen category, as ShareGPT4V
// turns with the rendered image. Corpus and Vocabulary give text of the
// world for training a tokenizer.
//
// # Files
//
// WriteDataset (and WriteDatasetOptions) writes, from a seed:
//
//	DIR/img/000000.png ...  one PNG per calibration pair and per image question
//	                        (calibration first, then the benchmark; no sharing)
//	DIR/calib.json          a JSON list in the ShareGPT4V layout:
//	    [{"id": "calib-000000", "image": "img/000000.png",
//	      "conversations": [{"from": "human", "value": "<image>\nDescribe the image."},
//	                        {"from": "gpt", "value": "<caption>"}]}, ...]
//	DIR/bench.jsonl         one question per line:
//	    {"id": "bench-000000", "category": "counting", "image": "img/000130.png",
//	     "question": "How many triangles are there?",
//	     "options": ["1", "2", "3", "4"], "answer": "B"}
//
// "image" is null for language questions; "options" is absent for open-ended
// questions, whose "answer" is the short answer; caption questions carry the
// reference caption as "answer" and an "attributes" list. The benchmark
// holds n/7 questions per category (the remainder to the first categories),
// in a seeded random order. Item i of each file has its own random stream
// derived from the seed, so images are rendered in parallel and the same
// seed gives byte-identical files. The dataset is built in a temporary
// directory beside DIR and renamed into place; a non-empty DIR is refused
// unless forced, and even then only if it holds nothing but a previous
// dataset.
package world
