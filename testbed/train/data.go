package train

import (
	"fmt"
	"math/rand/v2"

	"mbq/hf/chat"
	"mbq/hf/image"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/testbed/world"
)

// Random streams. Every stream is a PCG seeded with (mix64(seed ^ domain),
// mix64(index)). The benchmark files of package world use the domain
// BenchDomain; training, the held-out set and the tokenizer corpus use
// their own domains, so for any pair of seeds no training or held-out
// sample is drawn from a benchmark item's stream. The held-out set is drawn
// from the reserved seed HeldOutSeed, whatever the training seed.
const (
	BenchDomain   uint64 = 0x6d627174_65737462 // world.itemRNG: "mbqtestb"
	trainDomain   uint64 = 0x74726169_6e696e67 // "training"
	heldOutDomain uint64 = 0x68656c64_2d6f7574 // "held-out"
	corpusDomain  uint64 = 0x636f7270_75732d2d // "corpus--"
	// HeldOutSeed is the reserved seed of the held-out evaluation set.
	HeldOutSeed uint64 = 0xE7A1
)

func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func streamRNG(seed, domain, index uint64) *rand.Rand {
	return rand.New(rand.NewPCG(mix64(seed^domain), mix64(index)))
}

// sampleRNG is the stream of sample i of step (1-based) of a run.
func sampleRNG(seed uint64, step, i int) *rand.Rand {
	return streamRNG(seed, trainDomain, uint64(step)<<24|uint64(i))
}

// conversation turns a world sample into the model's messages: the user
// turn (image first, then the prompt) and, with answer, the assistant's.
func conversation(q world.Question, img *image.RGB, withAnswer bool) model.Sample {
	var user chat.Message
	var imgs []*image.RGB
	if img != nil {
		user = chat.Parts("user", chat.ImagePart(), chat.TextPart(q.Prompt()))
		imgs = []*image.RGB{img}
	} else {
		user = chat.Parts("user", chat.TextPart(q.Prompt()))
	}
	msgs := []chat.Message{user}
	if withAnswer {
		msgs = append(msgs, chat.Parts("assistant", chat.TextPart(q.Target())))
	}
	return model.Sample{Messages: msgs, Images: imgs}
}

// promptInput prepares the question with the generation prompt (no answer).
func promptInput(m *llavaonevision.Model, q world.Question, img *image.RGB) (*model.Input, error) {
	return m.Prepare(conversation(q, img, false), true)
}

// appendAnswer appends the tokens of answer and the end-of-turn token as
// Answer positions.
func appendAnswer(m *llavaonevision.Model, in *model.Input, answer string) (*model.Input, int, error) {
	eos, ok := m.Tok.TokenToID("<|im_end|>")
	if !ok {
		return nil, 0, fmt.Errorf("tokenizer: no <|im_end|>")
	}
	ids := append(m.Tok.Encode(answer), eos)
	start := len(in.IDs)
	for _, id := range ids {
		in.IDs = append(in.IDs, id)
		in.Modality = append(in.Modality, model.Answer)
		in.Labels = append(in.Labels, id)
	}
	return in, start, nil
}

// trainingInput draws sample i of step and prepares it: with probability
// FullConversationShare the whole conversation as the chat template
// renders it, else the generation prompt followed by the answer. The world
// sample comes with it (its scene for the auxiliary labels, nil for
// language questions; its question's focus for the image guide).
func trainingInput(m *llavaonevision.Model, c *Config, step, i int) (*model.Input, world.Sample, error) {
	rng := sampleRNG(c.Seed, step, i)
	s := world.TrainingSample(rng, c.worldAt(step))
	var img *image.RGB
	if s.Image != nil {
		img = image.ToRGB(s.Image)
	}
	if rng.Float64() < c.FullConversationShare {
		in, err := m.Prepare(conversation(s.Question, img, true), false)
		return in, s, err
	}
	in, err := promptInput(m, s.Question, img)
	if err != nil {
		return nil, s, err
	}
	in, _, err = appendAnswer(m, in, s.Question.Target())
	return in, s, err
}

// corpus is the tokenizer's training text, deterministic from the seed.
func corpus(c *Config) []string {
	return world.Corpus(streamRNG(c.Seed, corpusDomain, 0), c.World, c.CorpusSize)
}
