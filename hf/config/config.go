package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Config is the parsed config.json of one supported architecture, for
// example *LlavaOnevisionConfig.
type Config interface {
	// Architecture is the Hugging Face class name, e.g.
	// "LlavaOnevisionForConditionalGeneration".
	Architecture() string
	// ModelType is config.json's model_type, e.g. "llava_onevision".
	ModelType() string
}

// ParseFunc parses the bytes of a config.json; source names the file in errors.
type ParseFunc func(data []byte, source string) (Config, error)

// Model is a parsed config.json.
type Model struct {
	Source       string // the file read, or the name given to Parse
	Architecture string // the registered architecture that parsed it
	Config       Config
}

// LlavaOnevision returns the config if the model is LLaVA-OneVision.
func (m *Model) LlavaOnevision() (*LlavaOnevisionConfig, bool) {
	c, ok := m.Config.(*LlavaOnevisionConfig)
	return c, ok
}

var registry = struct {
	sync.RWMutex
	byArch      map[string]ParseFunc
	byModelType map[string]string // model_type -> architecture
}{byArch: map[string]ParseFunc{}, byModelType: map[string]string{}}

// Register makes an architecture parseable. arch is the class name found in
// config.json's "architectures"; modelType is the "model_type" that selects
// it when "architectures" is absent (may be empty). It panics on a duplicate,
// as a programming error at init time.
func Register(arch, modelType string, parse ParseFunc) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.byArch[arch]; dup {
		panic("config: architecture registered twice: " + arch)
	}
	registry.byArch[arch] = parse
	if modelType != "" {
		registry.byModelType[modelType] = arch
	}
}

// Supported lists the registered architectures, sorted.
func Supported() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.byArch))
	for a := range registry.byArch {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ErrUnsupported is wrapped by the error for an architecture or model_type
// that no package registered.
var ErrUnsupported = errors.New("not supported")

// Parse parses config.json bytes, dispatching on architectures[0], or on
// model_type when architectures is absent. source names the file in errors.
func Parse(data []byte, source string) (*Model, error) {
	var head struct {
		Architectures json.RawMessage `json:"architectures"`
		ModelType     json.RawMessage `json:"model_type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%s: %w", source, jsonErr(err))
	}
	o := &object{file: source, fields: map[string]json.RawMessage{}, used: map[string]bool{}}
	if head.Architectures != nil {
		o.fields["architectures"] = head.Architectures
	}
	if head.ModelType != nil {
		o.fields["model_type"] = head.ModelType
	}
	archs := o.strings("architectures")
	modelType := o.str("model_type", "")
	if o.err != nil {
		return nil, o.err
	}
	supported := strings.Join(Supported(), ", ")
	registry.RLock()
	var arch string
	switch {
	case len(archs) > 0:
		arch = archs[0]
	case modelType != "":
		arch = registry.byModelType[modelType]
		if arch == "" {
			registry.RUnlock()
			return nil, fmt.Errorf("%s: model_type %q is %w (supported: %s)", source, modelType, ErrUnsupported, supported)
		}
	default:
		registry.RUnlock()
		return nil, fmt.Errorf("%s: neither architectures nor model_type is set (supported: %s)", source, supported)
	}
	parse := registry.byArch[arch]
	registry.RUnlock()
	if parse == nil {
		return nil, fmt.Errorf("%s: architecture %q is %w (supported: %s)", source, arch, ErrUnsupported, supported)
	}
	cfg, err := parse(data, source)
	if err != nil {
		return nil, err
	}
	return &Model{Source: source, Architecture: arch, Config: cfg}, nil
}

// Load reads config.json from a checkpoint directory, or the file at path.
func Load(path string) (*Model, error) {
	file, err := resolve(path, "config.json")
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, file)
}

// resolve returns path/name when path is a directory, else path.
func resolve(path, name string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	if st.IsDir() {
		return filepath.Join(path, name), nil
	}
	return path, nil
}
