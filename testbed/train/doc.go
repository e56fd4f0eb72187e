// Package train trains the testbed VLM: a LLaVA-OneVision-layout model
// (SigLIP-style tower, two-layer GELU projector, image_newline, Qwen2-style
// decoder) on fresh samples of the synthetic world (package world), with
// AdamW, resumable checkpoints and a held-out evaluation.
//
// # Model
//
// DefaultSizes: 128x128 tiles in 16x16 patches (64 vision tokens per tile),
// tower width 192, 4 layers, 3 heads, MLP 768; projector 192 -> 256 -> 256;
// decoder width 256, 4 layers, 4 query heads and 2 key/value heads of 64,
// SwiGLU 768, RoPE theta 1e6, tied embeddings; a byte-level BPE of 2048
// tokens trained (hf/tokenizer.Train) on world.Corpus with the specials
// <|endoftext|>, <|im_start|>, <|im_end|>, <image>, <video>. The decoder's
// input widths (256 and 768) are multiples of 128, so group-128
// quantization applies to every decoder linear. The processor is
// LLaVA-OneVision's anyres one with the single pinpoint 128x128: an image is
// the base tile plus one grid tile, 64 + 8·(8+1) = 136 image tokens, exactly
// as transformers' LlavaOnevisionProcessor and pack_image_features count
// them.
//
// # Data and seeds
//
// Step s (1-based) draws Batch samples with world.TrainingSample, sample i
// from the PCG stream (mix64(seed ^ "training"), mix64(s<<24 | i)): a
// resumed run sees exactly the samples an uninterrupted one would. The
// benchmark files of package world use the domain BenchDomain, the held-out
// set HeldOutSeed with its own domain and the tokenizer corpus another, so
// no training sample ever comes from a benchmark item's stream, whatever the
// seeds. A sample is rendered, with probability FullConversationShare
// (0.25), as the whole conversation through the chat template (the form of
// calibration data and of the evaluator's answer-token loss), otherwise as
// the generation prompt followed by the answer tokens and <|im_end|> (the
// form of multiple-choice scoring and generation). Conversations of several
// question turns (Config.QATurns) are rendered through the template too,
// or, with Config.PromptTurns (the default for new runs), turn by turn in
// the generation-prompt form, so that every answer follows the tokens
// evaluation puts before it; the two forms of a one-question sample are
// then the same. The loss is the mean next-token cross-entropy
// over the answer tokens (answer and end of turn); with
// Config.TextPromptLoss the text phase also labels every prompt token
// (language-model pretraining).
//
// These training aids make the image and the multiple-choice format
// learnable by a model trained from scratch (without them a first model
// learned neither: it described every image alike and answered every
// multiple-choice question at chance); none of them changes the model or
// its inference:
//
//   - The auxiliary image-attribute objective (aux.go, Config.AuxWeight):
//     a linear read-out of every projector output row, RMS-normalized,
//     classifies the colour, shape, size, grid row and column of the object
//     under that patch and the sign characters in it. It keeps the image
//     content a large part of the rows the decoder reads (without it they
//     drift to a large image-independent vector). The head is training-only.
//   - The curriculum (Config.CurriculumSteps): the scenes' maximum object
//     count ramps from 1 to the world's over the first steps.
//   - The letter drill (world.LookupQuestion, world.Config.LookupShare):
//     "Which option is red?" with four options — the binding of an answer to
//     its option letter, apart from any knowledge.
//   - A text phase (Config.TextSteps, TextBatch, TextLookupShare, TextLR):
//     first steps of drills only, in larger batches, with a learning-rate
//     cycle of their own; mimetic query/key initialisation (mimetic.go).
//   - Supervised attention (guide.go): the last block's head 0 is taught to
//     look, from the row that predicts the letter, at the correct option's
//     line (Config.GuideWeight), and the second-to-last block's head 0 to
//     look, from the answer rows, at the image tokens of the objects or
//     sign the question is about (world.Question.Focus,
//     Config.ImageGuideWeight). Content-addressed lookups like these sit on
//     a long, seed-dependent plateau for this architecture at this data
//     scale; with the guide the drill went from chance to 95% in 400 steps
//     with an earlier tokenizer and setup (today it forms by chance, the
//     README's problem 11).
//   - The referent guide (Config.ReferentGuideWeight): heads 0 and 2 of the
//     third-to-last block are taught to look, from the answer rows, at the
//     words the question names its objects by (colours, shapes, sizes, and
//     the row reference for one head, the column reference for the other),
//     so the image guide's query knows what to look for. With
//     Config.TextReferentGuide both heads are also taught, on questions
//     without an image, to look at the question's subject words
//     (world.Question.Subject: the country, the creature, the operands, the
//     word a letter drill seeks).
//   - The grounding guide (Config.GroundingGuideWeight): the image guide's
//     head is also taught, at the row of every colour, shape or size word
//     of an image question, to look at the objects that have that
//     attribute, so the word-to-patch match forms where the query is the
//     word itself; from the answer rows alone it never formed.
//   - The option-letter guide (Config.LetterGuideWeight): head 1 of the
//     first block looks, from every token of an option, at its letter.
//   - The digit guide (Config.DigitGuideWeight, digitguide.go): heads 0, 2
//     and 3 of the first block look, from each row predicting a digit of
//     an open arithmetic answer, at the operands' digits of that place and
//     of the place below; without it two-digit sums stayed unlearned.
//   - The vision warm-up (Config.TextVisionBatch, vision.go) and the
//     balanced auxiliary objective (Config.AuxBalance): during the text
//     phase the vision tower, projector and auxiliary head learn the
//     auxiliary objective alone on fresh scenes, with each attribute
//     group's object or glyph patches weighted as much as the background.
//     Without them the sign's characters stayed unreadable (at chance on
//     the projector rows after 3700 steps) and object shapes were read
//     from 66% of object patches. The head's word classes read out
//     through the decoder's token embeddings (Config.AuxAligned), so an
//     image row showing a red star lies near E[" red"] and E[" star"] and
//     the question's words can find it; a free residual per class
//     (Config.AuxResidual) lets the two character slots differ.
//   - Conversations of several questions (Config.QATurns): an image
//     question is followed by more about the same image, a language
//     question by more language questions, each turn guided on its own and
//     the sample's answer loss weighted by its number of turns, so the
//     image rows are paid once for several answers.
//
// # Optimisation
//
// AdamW (β 0.9/0.95, eps 1e-8, weight decay 0.1 on weight matrices, not on
// norms, biases, embeddings or image_newline), linear warmup then cosine
// decay to MinLRFrac of the peak, global gradient-norm clipping. The batch
// is split over Workers goroutines, each with a model replica sharing the
// weights and owning its gradient buffers; the gradients are combined
// so that the result is the batch mean (of the samples' means, or of the
// tokens with TokenMean).
// On the 2-core development machine two workers were about 1.6x faster
// than one sequence at a time with multi-threaded GEMMs.
//
// # Output directory
//
//	OUT/checkpoint/  latest state: the HF model (float32), trainer_state.json
//	                 (step, configuration, loss and held-out history),
//	                 optimizer.safetensors (exp_avg.<name>, exp_avg_sq.<name>)
//	OUT/best/        the HF model of the lowest held-out NLL, with its trainer_state.json
//
// Each is written into a temporary directory and renamed into place, so a
// crash or Ctrl-C never leaves a half-written checkpoint. Resuming continues
// bit for bit (same weights as an uninterrupted run).
//
// # Held-out evaluation
//
// HeldOut questions per category (world.Categories), drawn from
// HeldOutSeed and scored by package eval with in-memory images: per
// category the mean answer-token NLL, and the accuracy: multiple choice by
// option-letter log-likelihood after the prompt, open-ended teacher-forced
// (every answer token the argmax: greedy decoding gives the reference
// exactly); captions have NLL only.
//
// # The committed model
//
// Reproduced by (the OpenBLAS build; the pure-Go build differs only by
// GEMM rounding):
//
//	go build -tags openblas -o mbq ./cmd/mbq
//	OPENBLAS_NUM_THREADS=1 ./mbq testbed train --out OUT --steps 3000 --batch 16 --seed 1 \
//	    --workers 2 --eval-every 100 --checkpoint-every 100 \
//	    --aux-weight 0 --curriculum 0 --lookup-share 0
//
// (the flags of the last line restore the trainer's defaults of the time).
package train
