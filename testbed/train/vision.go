package train

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"mbq/hf/image"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/tensor"
	"mbq/testbed/world"
)

// The vision warm-up (Config.TextVisionBatch). In the text phase the vision
// tower and the projector get no gradient from the text samples, so each
// text step also trains them, with the auxiliary head, on the auxiliary
// objective alone over TextVisionBatch fresh scenes of the full world (one
// tile each: the base tile, identical to the grid tile of a one-tile
// image), through the vision tower and projector only:
//
//	L_vision = (1/B_v) Σ_scenes L_aux(scene)   (balanced as Config.AuxBalance says)
//
// Its gradient lives on parameters the text samples do not touch and is
// clipped to ClipNorm on its own, so it does not change the text phase's
// steps on the decoder.

// visionDomain is the random stream of the warm-up's scenes.
const visionDomain uint64 = 0x76697369_6f6e2d2d // "vision--"

// visionScene is scene i of the warm-up at step.
func visionScene(c *Config, step, i int) *world.Scene {
	return world.NewScene(streamRNG(c.Seed, visionDomain, uint64(step)<<24|uint64(i)), c.World)
}

// isVisionParam reports whether a parameter (model or auxiliary head) is
// trained by the vision warm-up.
func isVisionParam(name string) bool {
	return strings.HasPrefix(name, "vision_tower.") || strings.HasPrefix(name, "multi_modal_projector.") ||
		strings.HasPrefix(name, auxPrefix)
}

// visionLossAndGrad accumulates into m's and aux's gradients the warm-up
// gradient of scenes lo..hi-1 of step, each weighted 1/batch, and returns
// the sum of their weighted losses.
func visionLossAndGrad(m *llavaonevision.Model, aux *auxHead, c *Config, step, lo, hi, batch int) (float64, error) {
	side := c.ImageSize / c.PatchSize
	aux = aux.frozenEmb()
	var sum float64
	for i := lo; i < hi; i++ {
		sc := visionScene(c, step, i)
		img, err := m.PrepareImage(image.ToRGB(sc.Render()))
		if err != nil {
			return 0, fmt.Errorf("vision warm-up scene %d: %w", i, err)
		}
		one := []model.ImageInput{{Tiles: img.Tiles[:1], Height: img.Height, Width: img.Width}}
		err = m.ProjectorLossAndGrad(one, func(proj *tensor.Tensor) (*tensor.Tensor, error) {
			l, d, err := aux.lossAndGrad(proj, sceneLabels(sc, side, c.PatchSize), 1/float32(batch), c.AuxBalance)
			sum += l
			return d, err
		})
		if err != nil {
			return 0, fmt.Errorf("vision warm-up scene %d: %w", i, err)
		}
	}
	return sum, nil
}

// visionStep adds the warm-up gradient of step to the vision, projector and
// auxiliary-head gradients (zero before: the text phase's samples have no
// image), clips it to ClipNorm on its own and returns the mean auxiliary
// loss.
func (s *stepper) visionStep(step int) (float64, error) {
	c := s.cfg
	B := c.TextVisionBatch
	var loss float64
	if len(s.replicas) == 0 {
		l, err := visionLossAndGrad(s.m, s.aux, c, step, 0, B, B)
		if err != nil {
			return 0, err
		}
		loss = l
	} else {
		W := len(s.replicas)
		losses := make([]float64, W)
		errs := make([]error, W)
		var wg sync.WaitGroup
		for w := range W {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				nn.ZeroGrads(s.rparams[w])
				losses[w], errs[w] = visionLossAndGrad(s.replicas[w], s.raux[w], c, step, w*B/W, (w+1)*B/W, B)
			}(w)
		}
		wg.Wait()
		for w := range W {
			if errs[w] != nil {
				return 0, errs[w]
			}
			loss += losses[w]
			for k, p := range s.params {
				if !isVisionParam(p.Name) {
					continue
				}
				dst, src := p.Grad.Data, s.rparams[w][k].Grad.Data
				for j := range dst {
					dst[j] += src[j]
				}
			}
		}
	}
	var ss float64
	for _, p := range s.params {
		if isVisionParam(p.Name) {
			for _, g := range p.Grad.Data {
				ss += float64(g) * float64(g)
			}
		}
	}
	if norm := math.Sqrt(ss); c.ClipNorm > 0 && norm > c.ClipNorm {
		f := float32(c.ClipNorm / (norm + 1e-6))
		for _, p := range s.params {
			if isVisionParam(p.Name) {
				for j := range p.Grad.Data {
					p.Grad.Data[j] *= f
				}
			}
		}
	}
	return loss, nil
}
