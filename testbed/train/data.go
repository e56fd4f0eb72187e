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
	if withAnswer {
		return conversationTurns([]world.Question{q}, img)
	}
	user, imgs := userTurn(q, img)
	return model.Sample{Messages: []chat.Message{user}, Images: imgs}
}

// conversationTurns is a conversation of one question-and-answer turn per
// question, all about one image (shown in the first user turn).
func conversationTurns(qs []world.Question, img *image.RGB) model.Sample {
	var msgs []chat.Message
	var imgs []*image.RGB
	for i, q := range qs {
		var user chat.Message
		if i == 0 {
			user, imgs = userTurn(q, img)
		} else {
			user = chat.Parts("user", chat.TextPart(q.Prompt()))
		}
		msgs = append(msgs, user, chat.Parts("assistant", chat.TextPart(q.Target())))
	}
	return model.Sample{Messages: msgs, Images: imgs}
}

// userTurn is the user message of q: the image first, if any, then the
// prompt.
func userTurn(q world.Question, img *image.RGB) (chat.Message, []*image.RGB) {
	if img == nil {
		return chat.Parts("user", chat.TextPart(q.Prompt())), nil
	}
	return chat.Parts("user", chat.ImagePart(), chat.TextPart(q.Prompt())), []*image.RGB{img}
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
	in.Text += answer + "<|im_end|>"
	start := len(in.IDs)
	for _, id := range ids {
		in.IDs = append(in.IDs, id)
		in.Modality = append(in.Modality, model.Answer)
		in.Labels = append(in.Labels, id)
	}
	return in, start, nil
}

// example is a training sample as drawn: its scene (for the auxiliary
// labels; nil for language questions) and the questions of its assistant
// turns, in order (their focus for the image guide, their options for the
// letter guide).
type example struct {
	Scene     *world.Scene
	Questions []world.Question
}

// trainingInput draws sample i of step and prepares it: with probability
// FullConversationShare the whole conversation, else the generation prompt
// followed by the answer. With QATurns > 1, a question about an image is
// followed by up to QATurns-1 more about the same image
// (world.Scene.FollowUps), and a language question by as many more
// language questions, one conversation rendered whole; captions and letter
// drills stay single. Each multiple-choice question is then asked
// open-ended with probability OpenShare (world.Question.AsOpen). A whole
// conversation is rendered turn by turn in the generation-prompt form with
// PromptTurns (promptTurns), else as the chat template renders it. c is
// the configuration in effect at step (Config.at). With
// TextPromptLoss, text-phase samples other than letter drills label their
// prompt tokens too (labelPrompt).
func trainingInput(m *llavaonevision.Model, c *Config, step, i int) (*model.Input, example, error) {
	in, ex, err := trainingSample(m, c, step, i)
	if err == nil && c.TextPromptLoss && step <= c.TextSteps && ex.Questions[0].Kind != world.LookupKind {
		labelPrompt(in)
	}
	return in, ex, err
}

// labelPrompt makes every prompt token of in a label as well (its own id:
// labels are not shifted), leaving image rows unlabelled.
func labelPrompt(in *model.Input) {
	for t, md := range in.Modality {
		if md == model.Prompt {
			in.Labels[t] = in.IDs[t]
		}
	}
}

// trainingSample is trainingInput before TextPromptLoss.
func trainingSample(m *llavaonevision.Model, c *Config, step, i int) (*model.Input, example, error) {
	rng := sampleRNG(c.Seed, step, i)
	s := world.TrainingSample(rng, c.worldAt(step))
	ex := example{Scene: s.Scene, Questions: []world.Question{s.Question}}
	var img *image.RGB
	if s.Image != nil {
		img = image.ToRGB(s.Image)
	}
	full := rng.Float64() < c.FullConversationShare
	if c.QATurns > 1 {
		switch {
		case s.Scene != nil && s.Question.Category != world.CaptionCat:
			ex.Questions = append(ex.Questions, s.Scene.FollowUps(rng, c.QATurns-1, s.Question)...)
			full = true
		case s.Question.Category == world.Language && s.Question.Kind != world.LookupKind:
			ex.Questions = append(ex.Questions, world.LanguageFollowUps(rng, c.World.Facts(), c.QATurns-1, s.Question)...)
			full = true
		}
	}
	if c.OpenShare > 0 {
		for k, q := range ex.Questions {
			if rng.Float64() < c.OpenShare {
				if o, ok := q.AsOpen(); ok {
					ex.Questions[k] = o
				}
			}
		}
	}
	if full && !c.PromptTurns {
		in, err := m.Prepare(conversationTurns(ex.Questions, img), false)
		return in, ex, err
	}
	in, err := promptTurns(m, ex.Questions, img) // one question unless full
	return in, ex, err
}

// promptTurns renders a conversation of one question-and-answer turn per
// question about img (shown in the first user turn) turn by turn: each
// user turn as the chat template renders it alone with the generation
// prompt, then its answer and the end-of-turn token as Answer positions —
// the tokens of promptInput followed by appendAnswer, once per turn.
func promptTurns(m *llavaonevision.Model, qs []world.Question, img *image.RGB) (*model.Input, error) {
	var in *model.Input
	for i, q := range qs {
		turn, err := promptInput(m, q, img)
		img = nil // shown in the first user turn only
		if err != nil {
			return nil, fmt.Errorf("turn %d: %w", i+1, err)
		}
		if turn, _, err = appendAnswer(m, turn, q.Target()); err != nil {
			return nil, fmt.Errorf("turn %d: %w", i+1, err)
		}
		if in == nil {
			in = turn
			continue
		}
		in.IDs = append(in.IDs, turn.IDs...)
		in.Modality = append(in.Modality, turn.Modality...)
		in.Labels = append(in.Labels, turn.Labels...)
		in.Images = append(in.Images, turn.Images...)
		in.Text += turn.Text
	}
	return in, nil
}

// corpus is the tokenizer's training text, deterministic from the seed.
func corpus(c *Config) []string {
	return world.Corpus(streamRNG(c.Seed, corpusDomain, 0), c.World, c.CorpusSize)
}
