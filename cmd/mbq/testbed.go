package main

import (
	"mbq/progress"

	"fmt"
	"io"
	"sort"

	"mbq/testbed/world"
)

func init() {
	register("testbed", "the synthetic vision-language world (testbed data)", runTestbed)
}

// testbedCommand is one subcommand of "mbq testbed".
type testbedCommand struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

// testbedCommands are the subcommands of "mbq testbed"; later parts (train,
// ...) add theirs here.
var testbedCommands = map[string]testbedCommand{
	"data":  {"write images, calib.json and bench.jsonl of the synthetic world", runTestbedData},
	"train": {"train the testbed VLM on fresh samples of the world (resumable checkpoints)", runTestbedTrain},
	"probe": {"diagnose a testbed model: linear probes of grid cells on its residual stream, where its guided heads look", runTestbedProbe},
}

func testbedUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: mbq testbed <subcommand> [flags]\n\nSubcommands:")
	names := make([]string, 0, len(testbedCommands))
	for n := range testbedCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, testbedCommands[n].summary)
	}
}

func runTestbed(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		testbedUsage(stderr)
		return errUsage
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		testbedUsage(stdout)
		return nil
	}
	sub, ok := testbedCommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "mbq testbed: unknown subcommand %q\n\n", args[0])
		testbedUsage(stderr)
		return errUsage
	}
	return sub.run(args[1:], stdout, stderr)
}

func runTestbedData(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("testbed data", "", stderr)
	out := fs.String("out", "", "directory to write (required; must not exist or be empty, unless --force)")
	seed := fs.Uint64("seed", 0, "random seed: the same seed writes identical files")
	nCalib := fs.Int("calib", 128, "image-caption pairs in calib.json")
	nBench := fs.Int("bench", 1200, "questions in bench.jsonl, split evenly over the seven categories")
	size := fs.Int("size", world.DefaultConfig().Size, "image width and height in pixels")
	countries := fs.Int("countries", 0, fmt.Sprintf("countries in the fact table of the language questions (0: %d; must match the model's training world)", world.NumCountries))
	creatures := fs.Int("creatures", 0, fmt.Sprintf("creatures in the fact table (0: %d; must match the model's training world)", world.NumCreatures))
	force := fs.Bool("force", false, "replace a directory holding a previous dataset (nothing else is ever removed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	if *nCalib < 0 || *nBench < 0 {
		return fmt.Errorf("--calib %d, --bench %d: counts must be non-negative", *nCalib, *nBench)
	}
	cfg := world.DefaultConfig()
	cfg.Size, cfg.Countries, cfg.Creatures = *size, *countries, *creatures
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("--size %d --countries %d --creatures %d: %w", *size, *countries, *creatures, err)
	}
	var bar *progress.Bar
	sum, err := world.WriteDatasetOptions(*out, world.DatasetOptions{
		Config: cfg,
		Seed:   *seed,
		Calib:  *nCalib,
		Bench:  *nBench,
		Force:  *force,
		Progress: func(done, total int) {
			if bar == nil {
				fmt.Fprintf(stderr, "writing %d calibration pairs and %d benchmark questions (seed %d, %dx%d images) to %s\n",
					*nCalib, *nBench, *seed, cfg.Size, cfg.Size, *out)
				bar = progress.New(stderr, "testbed data", "items", total)
			}
			bar.Set(done)
		},
	})
	bar.Done()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d images, %d calibration pairs (calib.json), %d questions (bench.jsonl)\n",
		*out, sum.Images, sum.Calib, *nBench)
	for i, c := range world.Categories {
		fmt.Fprintf(stdout, "  %-11s %5d\n", c, sum.Bench[i])
	}
	return nil
}
