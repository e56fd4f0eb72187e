package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"mbq/hf/chat"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/quant"
	"mbq/tensor"
)

// `mbq bench decode`: per-token decode latency (batch 1, KV cache) of full
// precision against packed W4 / W3 weights (nn.Linear.Packed), for
//
//   - a Qwen2-7B-like decoder stack (default hidden 3584, intermediate
//     18944, 28 query / 4 key-value heads, 2 layers, random weights, a KV
//     cache of --ctx tokens kept at that length): one token through every
//     layer (norms, q/k/v/o, RoPE, attention over the cache, SwiGLU MLP);
//     the embedding, final norm and lm_head are not included;
//   - the testbed model (--model, default the embedded one): Session.Step of
//     the whole language model (lm_head included) after a short text
//     prefill, its decoder packed by round to nearest (PackDecoder).
//
// Each packed variant runs with the int8-activation GEMV (the default,
// nn.PackedKernelInt8) and with the float GEMV (nn.PackedKernelFloat). The
// variants are timed in interleaved rounds and each reports the median of
// its rounds, so every speed-up comes from this run.

type decodeVariant struct {
	name   string
	bytes  int64 // decoder linear weight bytes read per token
	kernel nn.PackedKernel
	step   func() // one token
}

func runBenchDecode(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench decode", "", stderr)
	hidden := fs.Int("hidden", 3584, "synthetic stack: hidden size")
	inter := fs.Int("intermediate", 18944, "synthetic stack: MLP intermediate size")
	heads := fs.Int("heads", 28, "synthetic stack: query heads")
	kvHeads := fs.Int("kv-heads", 4, "synthetic stack: key/value heads")
	layers := fs.Int("layers", 2, "synthetic stack: decoder layers (0: skip the synthetic stack)")
	ctx := fs.Int("ctx", 128, "synthetic stack: tokens in the KV cache")
	group := fs.Int("group", 128, "W4/W3 group size")
	tokens := fs.Int("tokens", 8, "tokens per round and variant")
	rounds := fs.Int("rounds", 3, "interleaved rounds (each variant reports its median)")
	dir := fs.String("model", "", "testbed model directory (default: the embedded testbed); \"none\" skips it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *layers < 0 || *ctx < 1 || *tokens < 1 || *rounds < 1:
		return errors.New("--layers must be >= 0, --ctx, --tokens and --rounds >= 1")
	case *group <= 0 || *group%128 != 0:
		return fmt.Errorf("--group: %d, want a positive multiple of 128", *group)
	case *layers > 0 && (*hidden%*group != 0 || *inter%*group != 0):
		return fmt.Errorf("--hidden %d and --intermediate %d must be multiples of --group %d", *hidden, *inter, *group)
	case *layers > 0 && (*heads <= 0 || *kvHeads <= 0 || *heads%*kvHeads != 0 || *hidden%*heads != 0 || (*hidden / *heads)%2 != 0):
		return fmt.Errorf("--heads %d / --kv-heads %d do not fit --hidden %d", *heads, *kvHeads, *hidden)
	}
	w4 := quant.WeightSpec{Bits: 4, Group: *group}
	w3 := quant.WeightSpec{Bits: 3, Group: *group}
	if *layers > 0 {
		cfg := nn.Qwen2Config{Hidden: *hidden, Intermediate: *inter, NumHeads: *heads, NumKVHeads: *kvHeads,
			RopeTheta: 1e6, RMSNormEps: 1e-6}
		fmt.Fprintf(stdout, "decode, Qwen2-7B-like stack: %d layers, hidden %d, intermediate %d, %d/%d heads, KV cache %d tokens, random weights\n",
			*layers, *hidden, *inter, *heads, *kvHeads, *ctx)
		start := time.Now()
		vs, err := syntheticVariants(cfg, *layers, *ctx, []quant.WeightSpec{w4, w3})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "(built and packed in %s)\n", time.Since(start).Round(time.Millisecond))
		timeDecode(stdout, vs, *tokens, *rounds)
	}
	if *dir != "none" {
		d, err := resolveModel(*dir)
		if err != nil {
			return err
		}
		if *layers > 0 {
			fmt.Fprintln(stdout)
		}
		vs, desc, err := testbedVariants(d, []quant.WeightSpec{w4, w3})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "decode, %s (whole language model per token, lm_head included)\n", desc)
		timeDecode(stdout, vs, *tokens, *rounds)
	}
	return nil
}

// timeDecode times the variants in interleaved rounds and prints a table.
func timeDecode(w io.Writer, vs []decodeVariant, tokens, rounds int) {
	ms := make([][]float64, len(vs))
	prev := nn.ActivePackedKernel()
	defer nn.SetPackedKernel(prev)
	for i, v := range vs { // warm-up
		nn.SetPackedKernel(v.kernel)
		vs[i].step()
	}
	for range rounds {
		for i, v := range vs {
			nn.SetPackedKernel(v.kernel)
			start := time.Now()
			for range tokens {
				v.step()
			}
			ms[i] = append(ms[i], float64(time.Since(start).Microseconds())/1000/float64(tokens))
		}
	}
	fmt.Fprintf(w, "%-16s %12s %10s %9s %8s\n", "variant", "weights MiB", "ms/token", "speed-up", "GB/s")
	base := 0.0
	for i, v := range vs {
		slices.Sort(ms[i])
		med := ms[i][len(ms[i])/2]
		if i == 0 {
			base = med
		}
		fmt.Fprintf(w, "%-16s %12.1f %10.2f %8.2fx %8.1f\n", v.name, float64(v.bytes)/(1<<20), med, base/med,
			float64(v.bytes)/(med/1000)/1e9)
	}
}

// packAll packs the weights ([rows×cols] row-major each) with spec, on
// GOMAXPROCS goroutines.
func packAll(ws [][]float32, shapes [][2]int, spec quant.WeightSpec) ([]*quant.PackedMatrix, error) {
	out := make([]*quant.PackedMatrix, len(ws))
	errs := make([]error, len(ws))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = quant.PackWeights(ws[i], shapes[i][0], shapes[i][1], spec)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// syntheticVariants builds a random stack and its fp32, W4 and W3 steps.
func syntheticVariants(cfg nn.Qwen2Config, layers, ctx int, specs []quant.WeightSpec) ([]decodeVariant, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(d []float32, std float32) {
		for i := range d {
			d[i] = (float32(rng.Uint32()>>8)/(1<<24)*2 - 1) * std * 1.7320508
		}
	}
	hd := cfg.Hidden / cfg.NumHeads
	kd := cfg.NumKVHeads * hd
	var blocks []*nn.Qwen2Block
	var fpBytes int64
	for range layers {
		b := nn.NewQwen2Block(cfg)
		for _, l := range b.Linears() {
			fill(l.W.Value.Data, 0.02)
			fpBytes += 4 * int64(len(l.W.Value.Data))
			if l.B != nil {
				fill(l.B.Value.Data, 0.02)
			}
		}
		blocks = append(blocks, b)
	}
	kv := make([]float32, ctx*kd)
	fill(kv, 1)
	x := tensor.New(1, cfg.Hidden)
	fill(x.Data, 1)
	rope := nn.NewRoPETable([]int{ctx}, cfg.RopeTheta, hd)
	stepOf := func(bs []*nn.Qwen2Block) func() {
		caches := make([]nn.KVCache, len(bs))
		for i := range caches {
			caches[i].K = append(make([]float32, 0, (ctx+1)*kd), kv...)
			caches[i].V = append(make([]float32, 0, (ctx+1)*kd), kv...)
		}
		return func() {
			h := x
			for i, b := range bs {
				c := &caches[i]
				c.K, c.V, c.Len = c.K[:ctx*kd], c.V[:ctx*kd], ctx
				h = b.ForwardCached(h, rope, c, nil)
			}
		}
	}
	vs := []decodeVariant{{name: "fp32", bytes: fpBytes, step: stepOf(blocks)}}
	for _, spec := range specs {
		var ws [][]float32
		var shapes [][2]int
		for _, b := range blocks {
			for _, l := range b.Linears() {
				ws = append(ws, l.W.Value.Data)
				shapes = append(shapes, [2]int{l.Out(), l.In()})
			}
		}
		pms, err := packAll(ws, shapes, spec)
		if err != nil {
			return nil, err
		}
		var pbs []*nn.Qwen2Block
		var bytes int64
		i := 0
		for _, b := range blocks {
			pb := &nn.Qwen2Block{Cfg: b.Cfg, InputNorm: b.InputNorm, PostNorm: b.PostNorm}
			for _, dst := range []**nn.Linear{&pb.Q, &pb.K, &pb.V, &pb.O, &pb.Gate, &pb.Up, &pb.Down} {
				src := b.Linears()[i%7].Linear
				var bias []float32
				if src.B != nil {
					bias = src.B.Value.Data
				}
				*dst = nn.PackedLinear(pms[i], bias)
				bytes += int64(pms[i].Bytes())
				i++
			}
			pbs = append(pbs, pb)
		}
		for _, k := range []nn.PackedKernel{nn.PackedKernelInt8, nn.PackedKernelFloat} {
			vs = append(vs, decodeVariant{name: spec.String() + " " + k.String(), bytes: bytes, kernel: k, step: stepOf(pbs)})
		}
	}
	return vs, nil
}

// testbedVariants loads the model at dir once per variant (fp32, then
// each spec packed by round to nearest) and returns a Session.Step each.
func testbedVariants(dir string, specs []quant.WeightSpec) ([]decodeVariant, string, error) {
	load := func() (*llavaonevision.Model, error) {
		m, err := model.Load(dir)
		if err != nil {
			return nil, err
		}
		lm, ok := m.(*llavaonevision.Model)
		if !ok {
			return nil, fmt.Errorf("%s: bench decode needs a LLaVA-OneVision model", dir)
		}
		if lm.IsPacked() {
			return nil, fmt.Errorf("%s: the model is already packed; give a full-precision model", dir)
		}
		return lm, nil
	}
	stepOf := func(m *llavaonevision.Model) (func(), error) {
		in, err := m.Prepare(model.Sample{Messages: []chat.Message{chat.Text("user", "What colour is the circle in the image?")}}, true)
		if err != nil {
			return nil, err
		}
		s, _, err := m.Prefill(in, false)
		if err != nil {
			return nil, err
		}
		prefill := s.Len()
		id := in.IDs[len(in.IDs)-2]
		return func() {
			if s.Len() > prefill+256 { // keep the context short and comparable
				s, _, _ = m.Prefill(in, false)
			}
			s.Step(id)
		}, nil
	}
	lm, err := load()
	if err != nil {
		return nil, "", err
	}
	tc := &lm.Cfg.TextConfig
	desc := fmt.Sprintf("testbed %s: %d layers, hidden %d, intermediate %d, vocab %d", dir, tc.NumHiddenLayers, tc.HiddenSize, tc.IntermediateSize, tc.VocabSize)
	var fpBytes int64
	for _, l := range lm.DecoderLinears() {
		fpBytes += 4 * int64(len(l.W.Value.Data))
	}
	step, err := stepOf(lm)
	if err != nil {
		return nil, "", err
	}
	vs := []decodeVariant{{name: "fp32", bytes: fpBytes, step: step}}
	for _, spec := range specs {
		pm, err := load()
		if err != nil {
			return nil, "", err
		}
		if err := pm.PackDecoder(spec); err != nil {
			return nil, "", err
		}
		var bytes int64
		for _, l := range pm.DecoderLinears() {
			bytes += int64(l.Packed.Bytes())
		}
		for _, k := range []nn.PackedKernel{nn.PackedKernelInt8, nn.PackedKernelFloat} {
			step, err := stepOf(pm)
			if err != nil {
				return nil, "", err
			}
			vs = append(vs, decodeVariant{name: spec.String() + " " + k.String(), bytes: bytes, kernel: k, step: step})
		}
	}
	return vs, desc, nil
}
