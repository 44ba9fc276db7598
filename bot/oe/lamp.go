package oe

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// LAMPFile is the name of the LAMP load generator's output in the build
// directory.
const LAMPFile = "tcbot-lamp.txt"

// LAMP is the result of one LAMP benchmark run: a load generator on the
// host sending HTTP requests to a PHP page that queries MariaDB, served by
// Apache in the image booted under QEMU.
//
// The generator writes tcbot-lamp.txt in the build directory: exactly
// these six lines, each "key: value" ending in a newline, in any order,
// each once; nothing else (no comments, no other keys; blank lines are
// ignored):
//
//	requests: 12000             requests sent and completed, a whole number > 0
//	errors: 0                   of those, how many failed (connection error,
//	                            HTTP status other than 200, or a page without
//	                            the expected database row), 0 <= errors <= requests
//	seconds: 60.013             wall time of the measurement, > 0
//	requests-per-second: 199.96 (requests - errors) / seconds
//	latency-p50-ms: 4.81        median request latency, milliseconds
//	latency-p99-ms: 19.2        99th percentile latency, >= latency-p50-ms
//
// Numbers are decimal ("1e3" is accepted, "inf" and "nan" are not).
// requests-per-second must agree with (requests - errors) / seconds within
// 0.1% (or 0.01 req/s), or within what the printed digits of seconds and
// requests-per-second allow when that is more, so a generator that
// computes it otherwise is caught here rather than believed.
type LAMP struct {
	Requests          int64
	Errors            int64
	Seconds           float64
	RequestsPerSecond float64
	LatencyP50ms      float64
	LatencyP99ms      float64
}

// lampKeys are the keys of tcbot-lamp.txt, in the order they are written.
var lampKeys = []string{"requests", "errors", "seconds", "requests-per-second", "latency-p50-ms", "latency-p99-ms"}

// ParseLAMP parses the LAMP load generator's output (see LAMP).
func ParseLAMP(file string, data []byte) (LAMP, error) {
	ls, err := splitLines(file, data)
	if err != nil {
		return LAMP{}, err
	}
	vals := make(map[string]float64)
	lines := make(map[string]int)
	texts := make(map[string]string)
	for _, l := range ls {
		if strings.TrimSpace(l.text) == "" {
			continue
		}
		k, v, ok := strings.Cut(l.text, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			return LAMP{}, errorf(file, l.n, "want \"key: value\", got %s", quoteShort(l.text))
		}
		known := false
		for _, lk := range lampKeys {
			known = known || k == lk
		}
		if !known {
			return LAMP{}, errorf(file, l.n, "unknown key %s (want %s)", quoteShort(k), strings.Join(lampKeys, ", "))
		}
		if first, dup := lines[k]; dup {
			return LAMP{}, errorf(file, l.n, "%s given again (first at line %d)", k, first)
		}
		x, ok := parseSeconds(v)
		if !ok {
			return LAMP{}, errorf(file, l.n, "%s: %s is not a non-negative number", k, quoteShort(v))
		}
		if (k == "requests" || k == "errors") && (x != math.Trunc(x) || x > maxBytes) {
			return LAMP{}, errorf(file, l.n, "%s: %s is not a whole number", k, quoteShort(v))
		}
		vals[k], lines[k], texts[k] = x, l.n, v
	}
	var missing []string
	for _, k := range lampKeys {
		if _, ok := vals[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return LAMP{}, errorf(file, 0, "missing %s (all of %s are required)", strings.Join(missing, ", "), strings.Join(lampKeys, ", "))
	}
	r := LAMP{
		Requests: int64(vals["requests"]), Errors: int64(vals["errors"]), Seconds: vals["seconds"],
		RequestsPerSecond: vals["requests-per-second"], LatencyP50ms: vals["latency-p50-ms"], LatencyP99ms: vals["latency-p99-ms"],
	}
	switch {
	case r.Requests == 0:
		return LAMP{}, errorf(file, lines["requests"], "requests: 0: the generator sent nothing")
	case r.Errors > r.Requests:
		return LAMP{}, errorf(file, lines["errors"], "errors: %d is more than the %d requests", r.Errors, r.Requests)
	case r.Seconds == 0:
		return LAMP{}, errorf(file, lines["seconds"], "seconds: 0: a measurement takes time")
	case r.LatencyP99ms < r.LatencyP50ms:
		return LAMP{}, errorf(file, lines["latency-p99-ms"], "latency-p99-ms %g is below latency-p50-ms %g", r.LatencyP99ms, r.LatencyP50ms)
	}
	want := float64(r.Requests-r.Errors) / r.Seconds
	// Printing rounded both numbers: seconds by up to half its last digit,
	// which moves want by that much relative, requests-per-second by half
	// of its own.
	rounding := want*halfUnit(texts["seconds"])/r.Seconds*1.001 + halfUnit(texts["requests-per-second"])
	if d := math.Abs(r.RequestsPerSecond - want); d > math.Max(math.Max(0.01, 0.001*want), rounding) {
		return LAMP{}, errorf(file, lines["requests-per-second"], "requests-per-second %g disagrees with (requests - errors) / seconds = %.2f", r.RequestsPerSecond, want)
	}
	return r, nil
}

// halfUnit is half a unit in the last place of a printed decimal number:
// 0.0005 for "60.004", 0.5 for "60", 5 for "1.2e2"; 0 when s is not of
// that form.
func halfUnit(s string) float64 {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e < -400 || e > 400 {
			return 0
		}
		mant, exp = s[:i], e
	}
	decimals := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		decimals = len(mant) - i - 1
	}
	return 0.5 * math.Pow10(exp-decimals)
}
