package oe

import (
	"strings"
)

// Buildstats files (meta/classes-global/buildstats.bbclass in
// openembedded-core): tmp/buildstats/<BUILDNAME>/ holds a build_stats file
// for the whole bitbake run and one directory per recipe, named by PF,
// with one file per task run, named by the task ("do_compile"). A task
// file is written in two steps:
//
//	Event: TaskStarted
//	Started: 1710498645.12
//
// at TaskStarted, then write_task_data appends at TaskSucceeded or
// TaskFailed
//
//	<PF>: do_compile
//	Elapsed time: 12.34 seconds
//	utime: 5              (clock ticks, /proc/<pid>/stat)
//	stime: 2
//	cutime: 1130
//	cstime: 210
//	IO rchar: 123456      (/proc/<pid>/io, when the kernel has it)
//	rusage ru_utime: 0.05 (getrusage(RUSAGE_SELF), seconds)
//	...
//	Child rusage ru_utime: 11.31 (getrusage(RUSAGE_CHILDREN))
//	...
//	Status: PASSED        (or FAILED)
//	Ended: 1710498657.46
//
// The block from "<PF>:" to the last rusage line is written only when the
// task's start time is known: a task that fails before TaskStarted has
// only Status and Ended. Several lines end in a space. scripts/lib/
// buildstats.py, the reader that ships with OE, computes a task's CPU time
// as rusage ru_utime + ru_stime + Child rusage ru_utime + ru_stime, the
// child part being optional; so does Task.CPUTime.

// Task is one task file of buildstats.
type Task struct {
	// Status is "PASSED" or "FAILED".
	Status string
	// Started is zero when the task failed before it started.
	Started, Ended float64
	// Elapsed is the wall time in seconds; HasUsage says whether the file
	// has it and the resource usage that comes with it.
	Elapsed  float64
	HasUsage bool
	// RUsage and ChildRUsage are the rusage lines by field ("ru_utime").
	RUsage, ChildRUsage map[string]float64
	// IO holds the "IO <field>" lines (rchar, read_bytes, ...).
	IO map[string]int64
}

// Failed reports whether the task failed.
func (t Task) Failed() bool { return t.Status == "FAILED" }

// CPUTime is the task's CPU time in seconds, as scripts/lib/buildstats.py
// computes it; false when the file holds no resource usage (a task that
// failed before it started).
func (t Task) CPUTime() (float64, bool) {
	if !t.HasUsage {
		return 0, false
	}
	return t.RUsage["ru_utime"] + t.RUsage["ru_stime"] + t.ChildRUsage["ru_utime"] + t.ChildRUsage["ru_stime"], true
}

// ParseTask parses one buildstats task file. A file without Status and
// Ended belongs to a task that never finished (the build was interrupted)
// and is an error, as buildstats.py has it; so is a file holding two runs
// of the task.
func ParseTask(file string, data []byte) (Task, error) {
	ls, err := splitLines(file, data)
	if err != nil {
		return Task{}, err
	}
	t := Task{RUsage: map[string]float64{}, ChildRUsage: map[string]float64{}, IO: map[string]int64{}}
	seen := make(map[string]int)
	var hasStarted, hasEnded bool
	for _, l := range ls {
		if strings.TrimSpace(l.text) == "" {
			continue
		}
		k, v, ok := strings.Cut(l.text, ":")
		if !ok {
			return Task{}, errorf(file, l.n, "want \"Key: value\", got %s", quoteShort(l.text))
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if first, dup := seen[k]; dup {
			return Task{}, errorf(file, l.n, "second %q line (first at line %d): the file holds two runs of the task", k, first)
		}
		seen[k] = l.n
		bad := func(what string) error {
			return errorf(file, l.n, "%s: %s is not %s", k, quoteShort(v), what)
		}
		switch {
		case k == "Event":
			if v == "" {
				return Task{}, bad("an event name")
			}
		case k == "Started", k == "Ended":
			x, ok := parseSeconds(v)
			if !ok {
				return Task{}, bad("a time in seconds")
			}
			if k == "Started" {
				t.Started, hasStarted = x, true
			} else {
				t.Ended, hasEnded = x, true
			}
		case k == "Elapsed time":
			num, unit, _ := strings.Cut(v, " ")
			x, ok := parseSeconds(num)
			if !ok || strings.TrimSpace(unit) != "seconds" {
				return Task{}, bad(`"<number> seconds"`)
			}
			t.Elapsed, t.HasUsage = x, true
		case k == "utime", k == "stime", k == "cutime", k == "cstime":
			if _, ok := parseCount(v, 1<<62); !ok {
				return Task{}, bad("a count of clock ticks")
			}
		case strings.HasPrefix(k, "IO "):
			n, ok := parseCount(v, 1<<62)
			if !ok {
				return Task{}, bad("a whole number")
			}
			t.IO[strings.TrimSpace(strings.TrimPrefix(k, "IO "))] = n
		case strings.HasPrefix(k, "rusage "), strings.HasPrefix(k, "Child rusage "):
			field := k[strings.LastIndexByte(k, ' ')+1:]
			x, ok := parseSeconds(v)
			if !ok {
				return Task{}, bad("a non-negative number")
			}
			if strings.HasPrefix(k, "Child ") {
				t.ChildRUsage[field] = x
			} else {
				t.RUsage[field] = x
			}
		case k == "Status":
			if v != "PASSED" && v != "FAILED" {
				return Task{}, bad("PASSED or FAILED")
			}
			t.Status = v
		default:
			// "<PF>: do_compile" and lines of later OE releases.
		}
	}
	switch {
	case t.Status == "" && hasStarted:
		return Task{}, errorf(file, 0, "no Status line: the task started but never finished (was the build interrupted?)")
	case t.Status == "":
		return Task{}, errorf(file, 0, "no Status line")
	case !hasEnded:
		return Task{}, errorf(file, 0, "no Ended line after Status")
	}
	if t.HasUsage {
		for _, f := range []string{"ru_utime", "ru_stime"} {
			if _, ok := t.RUsage[f]; !ok {
				return Task{}, errorf(file, 0, "has an Elapsed time line but no \"rusage %s\" line", f)
			}
		}
	}
	return t, nil
}

// BuildSummary is the build_stats file of one bitbake run.
type BuildSummary struct {
	Host    string  // "Host Info": uname of the build host
	Started float64 // "Build Started", seconds since the epoch
	Elapsed float64 // "Elapsed time" of the whole run, seconds
	// CPUUsage is the bitbake process's share of the host's CPU time in
	// percent; HasCPUUsage is false when bitbake could not measure it.
	CPUUsage    float64
	HasCPUUsage bool
	// Failed lists the "Failed at: <PF> at task: <task>" lines.
	Failed []FailedTask
	// RootfsSizes are the "Uncompressed Rootfs size" lines, `du -sh`
	// output, one per image built.
	RootfsSizes []string
}

// FailedTask is a task build_stats reports as failed.
type FailedTask struct{ PF, Task string }

// ParseBuildSummary parses the build_stats file of a buildstats build
// directory. bitbake writes "Build Started" when the run starts and
// "Elapsed time" when it completes (also when it fails), so both are
// required: without them the run was killed and its statistics are
// incomplete.
func ParseBuildSummary(file string, data []byte) (BuildSummary, error) {
	ls, err := splitLines(file, data)
	if err != nil {
		return BuildSummary{}, err
	}
	var s BuildSummary
	seen := make(map[string]int)
	for _, l := range ls {
		if strings.TrimSpace(l.text) == "" {
			continue
		}
		k, v, ok := strings.Cut(l.text, ":")
		if !ok {
			return BuildSummary{}, errorf(file, l.n, "want \"Key: value\", got %s", quoteShort(l.text))
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if first, dup := seen[k]; dup && k != "Failed at" && k != "Uncompressed Rootfs size" {
			return BuildSummary{}, errorf(file, l.n, "second %q line (first at line %d): two bitbake runs wrote to one build_stats", k, first)
		}
		seen[k] = l.n
		switch k {
		case "Host Info":
			s.Host = v
		case "Build Started":
			x, ok := parseSeconds(v)
			if !ok {
				return BuildSummary{}, errorf(file, l.n, "Build Started: %s is not a time in seconds", quoteShort(v))
			}
			s.Started = x
		case "Elapsed time":
			num, unit, _ := strings.Cut(v, " ")
			x, ok := parseSeconds(num)
			if !ok || strings.TrimSpace(unit) != "seconds" {
				return BuildSummary{}, errorf(file, l.n, "Elapsed time: %s is not \"<number> seconds\"", quoteShort(v))
			}
			s.Elapsed = x
		case "CPU usage":
			x, ok := parseSeconds(strings.TrimSuffix(v, "%"))
			if !ok || !strings.HasSuffix(v, "%") {
				return BuildSummary{}, errorf(file, l.n, "CPU usage: %s is not a percentage", quoteShort(v))
			}
			s.CPUUsage, s.HasCPUUsage = x, true
		case "Failed at":
			pf, task, ok := strings.Cut(v, " at task: ")
			pf, task = strings.TrimSpace(pf), strings.TrimSpace(task)
			if !ok || pf == "" || task == "" || strings.ContainsAny(pf, " \t") || strings.ContainsAny(task, " \t") {
				return BuildSummary{}, errorf(file, l.n, "want \"Failed at: <PF> at task: <task>\", got %s", quoteShort(l.text))
			}
			s.Failed = append(s.Failed, FailedTask{PF: pf, Task: task})
		case "Uncompressed Rootfs size":
			s.RootfsSizes = append(s.RootfsSizes, v)
		}
	}
	if _, ok := seen["Build Started"]; !ok {
		return BuildSummary{}, errorf(file, 0, "no \"Build Started\" line")
	}
	if _, ok := seen["Elapsed time"]; !ok {
		return BuildSummary{}, errorf(file, 0, "no \"Elapsed time\" line: the bitbake run did not complete (killed?)")
	}
	return s, nil
}
