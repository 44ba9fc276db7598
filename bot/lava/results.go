package lava

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tcbot/tcbot/bot/executor"
)

// Metrics each run reports, as test case name suffixes (<case>-<metric>).
const (
	metricStatus  = "status"  // pass|fail, measurement: exit status
	metricSignal  = "signal"  // only when a signal killed the run: its number
	metricTime    = "time"    // wall seconds
	metricCPU     = "cpu"     // user+system CPU seconds
	metricTimeout = "timeout" // only when the run was killed at its timeout
)

// outputMarker starts the console lines that carry a run's output:
// "tcbot-output <index> stdout|stderr <base64>".
const outputMarker = "tcbot-output "

// setName is the test set of run index i.
func setName(i int) string { return "run-" + strconv.Itoa(i) }

// Outcomes turns a finished job's test cases and log into one Outcome per
// run, in order. caseNames[i] is the test case prefix run i reported
// under (the benchmark's name). A run without its status, time or output
// means the job did not run it through: that is an error, not a result.
func Outcomes(caseNames []string, tests []TestCase, log []LogLine) ([]*executor.Outcome, error) {
	type key struct{ set, name string }
	byKey := map[key]TestCase{}
	for _, tc := range tests {
		m := tc.Meta()
		if m.Definition == "lava" {
			continue // LAVA's own suite: job, http-download, ...
		}
		byKey[key{m.Set, tc.Name}] = tc
	}
	out := map[int]map[string][]byte{}
	for _, l := range log {
		msg, ok := l.Msg.(string)
		if l.Level != "target" || !ok {
			continue
		}
		rest, ok := strings.CutPrefix(strings.TrimSpace(msg), outputMarker)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 || (f[1] != "stdout" && f[1] != "stderr") {
			continue
		}
		i, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		var data []byte
		if len(f) > 2 {
			if data, err = base64.StdEncoding.DecodeString(f[2]); err != nil {
				return nil, fmt.Errorf("run %d: console line with its %s is garbled (%v)", i, f[1], err)
			}
		}
		if out[i] == nil {
			out[i] = map[string][]byte{}
		}
		out[i][f[1]] = data
	}
	outcomes := make([]*executor.Outcome, len(caseNames))
	for i, name := range caseNames {
		get := func(metric string) (float64, bool, error) {
			tc, ok := byKey[key{setName(i), name + "-" + metric}]
			if !ok {
				return 0, false, nil
			}
			v, ok := tc.Value()
			if !ok {
				return 0, true, fmt.Errorf("run %d (%s): test case %s has no measurement", i, name, tc.Name)
			}
			return v, true, nil
		}
		o := &executor.Outcome{}
		status, ok, err := get(metricStatus)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("run %d (%s): no %s-%s result: the job ended before the run did", i, name, name, metricStatus)
		}
		o.ExitCode = int(status)
		wall, ok, err := get(metricTime)
		if err != nil || !ok {
			return nil, fmt.Errorf("run %d (%s): no time measured (%v)", i, name, err)
		}
		o.Wall = seconds(wall)
		if cpu, ok, err := get(metricCPU); err != nil {
			return nil, err
		} else if ok {
			o.CPU = seconds(cpu)
		}
		if sig, ok, err := get(metricSignal); err != nil {
			return nil, err
		} else if ok && sig > 0 {
			o.ExitCode, o.Signal = -1, syscall.Signal(int(sig)).String()
		}
		if _, ok, _ := get(metricTimeout); ok {
			o.TimedOut = true
		}
		streams, ok := out[i]
		if !ok {
			return nil, fmt.Errorf("run %d (%s): its output is not in the job log", i, name)
		}
		o.Stdout, o.Stderr = streams["stdout"], streams["stderr"]
		outcomes[i] = o
	}
	return outcomes, nil
}

func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

// KernelPanic returns the guest kernel's panic message from a job log
// ("Kernel panic - not syncing: VFS: Unable to mount root fs ..."), or "".
func KernelPanic(log []LogLine) string {
	for _, l := range log {
		msg, ok := l.Msg.(string)
		if l.Level != "target" || !ok {
			continue
		}
		if i := strings.Index(msg, "Kernel panic - not syncing"); i >= 0 {
			return "guest " + strings.TrimSpace(msg[i:])
		}
	}
	return ""
}
