// Package model defines what mbq needs from a vision-language model and a
// registry of the architectures that provide it, keyed by the Hugging Face
// architecture class name of config.json ("architectures"[0]).
//
// An architecture lives in its own package under model/ and registers
// itself in init():
//
//	func init() { model.Register(config.ArchLlavaOnevision, load) }
//
// so a command that imports the package (for its side effect) can open any
// supported checkpoint with Load(dir). An architecture without a registered
// model is an error listing Supported().
//
// # Inputs and modalities
//
// A conversation (Sample: chat messages with image parts, and the decoded
// images) is turned by VLM.Prepare into an Input: token ids rendered with
// the checkpoint's chat template, each image placeholder expanded into the
// image's feature rows, the preprocessed image tiles, and for every position
// its Modality:
//
//	Vision  a row whose embedding is replaced by an image feature
//	        (image_newline rows included)
//	Answer  the content tokens of an assistant turn and the end-of-turn
//	        token after it (the tokens the loss is computed on)
//	Prompt  everything else (chat markup, system and user text)
//
// Labels are HF-style (aligned with the ids): the id at Answer positions,
// IgnoreIndex elsewhere; the loss shifts them (position t predicts t+1).
//
// # Passes
//
//	Forward      logits for every position of every sample, with its modality
//	LossAndGrad  mean next-token cross-entropy over the batch's answer tokens;
//	             gradients into every parameter whose Grad is allocated
//	             (nn.AllocGrads(m.Params())), and per block and sample the
//	             gradient at each linear's output through hooks (MBQ's
//	             sensitivities use o_proj and down_proj)
//	DecoderInputs/RunBlock  the calibration loop: the hidden states entering
//	             the first decoder block, and one block run on given rows
//	Generate     greedy or sampled decoding with a KV cache
package model
