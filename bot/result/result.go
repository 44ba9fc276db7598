// Package result holds the data that flows from executors to the store and
// from the store to comparison: one Result is the samples of one metric of
// one benchmark on one target. It is a leaf package: it imports nothing of
// tcbot, so executors, the store, comparison and reports can all share it
// without depending on each other.
package result

import (
	"fmt"
	"sort"
)

// Metric names used across tcbot (DESIGN.md "Metrics").
const (
	Instructions = "instructions"
	CodeSize     = "code-size"
	Time         = "time"
	CompileTime  = "compile-time"
	Status       = "status"
	// BootTime is the seconds a qemu-system guest takes to its prompt,
	// on its own clock.
	BootTime = "boot-time"
	// KernelSize is the bytes of a kernel image built from the change.
	KernelSize = "kernel-size"
	// BuildTime is the wall seconds a toolchain (toolchain: build) or a
	// kernel (recipe: kernel) built from the change took; informational.
	BuildTime = "build-time"
	// SystemInstructions is a whole booted system's instructions during
	// one benchmark run (the distribution scenario): counted, not exact.
	SystemInstructions = "system-instructions"
)

// Status sample values: a status result has exactly one sample.
const (
	Pass = 1.0
	Fail = 0.0
)

// Kind says how a metric's samples must be compared.
type Kind int

const (
	// Exact metrics do not vary from run to run (guest instruction counts,
	// code size): every sample is the same value and a threshold decides.
	Exact Kind = iota
	// Noisy metrics vary (wall or CPU time): a statistical test decides.
	Noisy
	// StatusKind is pass/fail: a benchmark that built, ran and printed the
	// expected checksum passes.
	StatusKind
	// Counted metrics are counts that vary only a little between runs
	// (a whole guest system's instructions, where interrupts and I/O land
	// a few thousand instructions apart): the median decides against a
	// threshold set above the measured spread, and only when the two
	// sides' samples do not overlap.
	Counted
)

// Metric describes one metric: its unit, how to compare it and which
// direction is better.
type Metric struct {
	Name           string
	Unit           string
	Kind           Kind
	HigherIsBetter bool
	Doc            string
}

// Metrics is the table of metrics tcbot knows. Recipes name metrics from it.
var Metrics = []Metric{
	{Name: Instructions, Unit: "count", Kind: Exact, Doc: "guest instructions executed, counted by the QEMU plugin"},
	{Name: CodeSize, Unit: "bytes", Kind: Exact, Doc: "bytes of the functions in the loadable executable sections of the binary"},
	{Name: Time, Unit: "s", Kind: Noisy, Doc: "seconds per run (CPU time of the emulator under qemu-user; the guest's clock under qemu-system; wall time on boards)"},
	{Name: CompileTime, Unit: "s", Kind: Noisy, Doc: "CPU seconds spent compiling the benchmark"},
	{Name: Status, Unit: "pass/fail", Kind: StatusKind, Doc: "1 when the benchmark built, ran and printed its checksum, else 0"},
	{Name: BootTime, Unit: "s", Kind: Noisy, Doc: "seconds a qemu-system guest takes to its prompt, on the guest's clock"},
	{Name: KernelSize, Unit: "bytes", Kind: Exact, Doc: "bytes of the kernel image built from the change"},
	{Name: BuildTime, Unit: "s", Kind: Noisy, Doc: "wall seconds to build the toolchain component or kernel under test (incremental or cold; informational)"},
	{Name: "image-size", Unit: "bytes", Kind: Exact, Doc: "OpenEmbedded image size"},
	{Name: "package-size", Unit: "bytes", Kind: Exact, Doc: "OpenEmbedded package size"},
	{Name: "build-cpu-time", Unit: "s", Kind: Noisy, Doc: "OpenEmbedded build CPU time per recipe"},
	{Name: "requests-per-second", Unit: "req/s", Kind: Noisy, HigherIsBetter: true, Doc: "LAMP benchmark throughput"},
	{Name: "latency-p50-ms", Unit: "ms", Kind: Noisy, Doc: "LAMP median request latency, milliseconds"},
	{Name: "latency-p99-ms", Unit: "ms", Kind: Noisy, Doc: "LAMP 99th-percentile request latency, milliseconds"},
	{Name: "instructions-per-request", Unit: "insn/req", Kind: Counted, Doc: "guest instructions (kernel and every process) per LAMP request, counted by the QEMU plugin in system mode between the load generator's marks"},
	{Name: SystemInstructions, Unit: "count", Kind: Counted, Doc: "guest instructions of the whole system (kernel and every process) from just before a benchmark is started to just after it was reaped, counted by the QEMU plugin in system mode between tcbot's markrun's marks"},
}

// LookupMetric returns the description of a metric by name.
func LookupMetric(name string) (Metric, bool) {
	for _, m := range Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// Result is the samples of one metric of one benchmark on one target.
type Result struct {
	Target    string    `json:"target"`
	Suite     string    `json:"suite"`
	Benchmark string    `json:"benchmark"`
	Metric    string    `json:"metric"`
	Unit      string    `json:"unit"`
	Samples   []float64 `json:"samples"`
	// Note explains the samples: the reason of a failed status ("wrong
	// checksum"), or where samples came from ("identical binary: reused").
	Note string `json:"note,omitempty"`
	// Identical is set on run metrics of a head whose binary is
	// byte-identical to the base's: they were not measured again but copied
	// (LLVM LNT's binary-hash rule), and compare as unchanged.
	Identical bool `json:"identical,omitempty"`
}

// Key identifies a result within one measurement.
type Key struct {
	Target, Suite, Benchmark, Metric string
}

// Key returns the result's key.
func (r Result) Key() Key {
	return Key{Target: r.Target, Suite: r.Suite, Benchmark: r.Benchmark, Metric: r.Metric}
}

func (k Key) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", k.Target, k.Suite, k.Benchmark, k.Metric)
}

// Less orders keys by target, suite, benchmark, metric.
func (k Key) Less(o Key) bool {
	if k.Target != o.Target {
		return k.Target < o.Target
	}
	if k.Suite != o.Suite {
		return k.Suite < o.Suite
	}
	if k.Benchmark != o.Benchmark {
		return k.Benchmark < o.Benchmark
	}
	return k.Metric < o.Metric
}

// Sort orders results by key so reports and stored data are
// deterministic.
func Sort(rs []Result) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Key().Less(rs[j].Key()) })
}

// FunctionSize is one symbol of a binary's code-size attribution table.
type FunctionSize struct {
	Name string `json:"name"`
	Size uint64 `json:"size"`
}

// FunctionCount is the guest instructions executed in one function of a
// benchmark's binary: the per-function attribution of its instruction
// count (the counts of a binary sum to its instruction count).
type FunctionCount struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// Better says which direction of a metric is good: "fewer is better" for
// counts, "higher is better" for throughput, "lower is better" for sizes
// and times, "pass is better" for status.
func Better(metric, unit string) string {
	m, ok := LookupMetric(metric)
	switch {
	case metric == Status || unit == "pass/fail":
		return "pass is better"
	case ok && m.HigherIsBetter:
		return "higher is better"
	case unit == "count":
		return "fewer is better"
	}
	return "lower is better"
}
