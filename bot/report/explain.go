package report

// Explanation says where the instructions of one benchmark went between
// base and head, per function of the binary (the QEMU plugin attributes
// every executed translation block to the function it starts in, so the
// per-function counts are exact, like the total), and shows the assembly
// that changed in the functions that moved most.
type Explanation struct {
	Target    string `json:"target"`
	Suite     string `json:"suite"`
	Benchmark string `json:"benchmark"`
	Metric    string `json:"metric"` // the metric explained: "instructions"
	// Moved is set when the benchmark's total is unchanged (its comparison
	// is not a regression or an improvement) but cost moved between
	// functions: the report says "moved", never "regression", for it.
	Moved bool `json:"moved,omitempty"`
	// Functions are the functions that moved most, by absolute change,
	// largest first (a few; the JSON of the measurement has all of them).
	Functions []FunctionDelta `json:"functions"`
	// Asm is the assembly diff of the top-moving functions whose code
	// differs between base and head.
	Asm []AsmDiff `json:"asm,omitempty"`
}

// FunctionDelta is one function's instruction count at base and head.
type FunctionDelta struct {
	Name string `json:"name"`
	Base uint64 `json:"base"`
	Head uint64 `json:"head"`
	// Delta is Head - Base.
	Delta int64 `json:"delta"`
	// DeltaPct is the change in percent of the function's base count; nil
	// when the function did not run at base.
	DeltaPct *float64 `json:"delta_pct"`
	// ShareOfTotalPct is Delta in percent of the benchmark's base total,
	// how much of the benchmark's change this function explains.
	ShareOfTotalPct float64 `json:"share_of_total_pct"`
}

// AsmDiff is `objdump -d` of one function in the base and head binaries,
// aligned: equal lines once, removed lines "-", added lines "+".
type AsmDiff struct {
	Function string `json:"function"`
	// Lines in order; addresses and encodings are dropped so that code
	// that only moved does not show as changed.
	Lines []AsmLine `json:"lines"`
	// Truncated is set when the diff was cut to keep reports small.
	Truncated bool `json:"truncated,omitempty"`
}

// AsmLine is one line of an assembly diff: Op is " " (in both), "-" (base
// only) or "+" (head only).
type AsmLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}
