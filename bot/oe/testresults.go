package oe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// testresults.json (meta/lib/oeqa/core/runner.py, OETestResultJSONHelper)
// is a JSON object keyed by result ID ("runtime_<image>_<machine>_<start
// time>", testimage.bbclass get_testimage_result_id), each holding the
// run's "configuration" (TEST_TYPE, MACHINE, IMAGE_BASENAME, STARTTIME,
// ...) and its "result": test ID -> {"status": ..., "log": ...,
// "duration": ...}. oeqa statuses are PASSED, FAILED, ERROR, SKIPPED,
// EXPECTEDFAIL and UNKNOWN; ptest results ("ptestresult.<ptest>.<test>")
// use the ptest parser's PASSED, FAILED, SKIPPED. Next to the tests,
// "result" holds extra data without a status: ptestresult.sections
// (per-ptest durations and logs) and ptestresult.rawlogs, likewise for ltp.

// TestOutcome is what a test status means.
type TestOutcome int

const (
	TestPassed TestOutcome = iota
	TestFailed
	TestSkipped
)

// testStatuses classifies statuses as resulttool's report does
// (scripts/lib/resulttool/report.py), plus oeqa's EXPECTEDFAIL, which is
// a pass like XFAIL.
var testStatuses = map[string]TestOutcome{
	"PASSED": TestPassed, "passed": TestPassed, "PASS": TestPassed, "XFAIL": TestPassed, "EXPECTEDFAIL": TestPassed,
	"FAILED": TestFailed, "failed": TestFailed, "FAIL": TestFailed, "ERROR": TestFailed, "error": TestFailed, "UNKNOWN": TestFailed, "XPASS": TestFailed,
	"SKIPPED": TestSkipped, "skipped": TestSkipped, "UNSUPPORTED": TestSkipped, "UNTESTED": TestSkipped, "UNRESOLVED": TestSkipped,
}

// TestRun is one result ID of testresults.json: one testimage (or ptest,
// selftest, ...) run.
type TestRun struct {
	ID string
	// Configuration holds the configuration's string values (MACHINE,
	// IMAGE_BASENAME, STARTTIME, TEST_TYPE, ...).
	Configuration map[string]string
	Tests         []TestCase // sorted by name
}

// TestCase is the result of one test.
type TestCase struct {
	Name    string
	Status  string // as written: "PASSED", "FAILED", ...
	Outcome TestOutcome
	Log     string
	Line    int // where the test's entry starts in the file
}

// ParseTestResults parses an oeqa testresults.json. Syntax errors name
// the line; so do entries of the wrong shape (a test without a status, a
// status oeqa does not write).
func ParseTestResults(file string, data []byte) ([]TestRun, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errorf(file, 0, "empty file")
	}
	// Line starts, for naming lines: a ptest run has thousands of tests.
	var newlines []int
	for i, c := range data {
		if c == '\n' {
			newlines = append(newlines, i)
		}
	}
	lineAt := func(off int) int { return 1 + sort.SearchInts(newlines, off) }
	ids, err := objectEntries(data, 0)
	if err != nil {
		return nil, jsonError(file, err, lineAt)
	}
	if len(ids) == 0 {
		return nil, errorf(file, 1, "holds no test run")
	}
	var runs []TestRun
	for _, id := range ids {
		run := TestRun{ID: id.key, Configuration: map[string]string{}}
		parts, err := objectEntries(id.raw, id.rawOff)
		if err != nil {
			return nil, entryError(file, err, lineAt, id.line(lineAt), "result ID "+quoteShort(id.key))
		}
		var result *entry
		for i := range parts {
			switch parts[i].key {
			case "configuration":
				var conf map[string]any
				if err := json.Unmarshal(parts[i].raw, &conf); err != nil || conf == nil {
					return nil, errorf(file, parts[i].line(lineAt), "configuration of %s is not an object", quoteShort(id.key))
				}
				for k, v := range conf {
					if s, ok := v.(string); ok {
						run.Configuration[k] = s
					}
				}
			case "result":
				result = &parts[i]
			}
		}
		if result == nil {
			return nil, errorf(file, id.line(lineAt), "%s has no \"result\"", quoteShort(id.key))
		}
		tests, err := objectEntries(result.raw, result.rawOff)
		if err != nil {
			return nil, entryError(file, err, lineAt, result.line(lineAt), "result of "+quoteShort(id.key))
		}
		for _, te := range tests {
			var tc struct {
				Status *string `json:"status"`
				Log    any     `json:"log"`
			}
			n := te.line(lineAt)
			if extraResult(te.key) {
				continue
			}
			if err := json.Unmarshal(te.raw, &tc); err != nil {
				return nil, errorf(file, n, "test %s: want an object with a \"status\" string", quoteShort(te.key))
			}
			if tc.Status == nil {
				return nil, errorf(file, n, "test %s has no status", quoteShort(te.key))
			}
			out, ok := testStatuses[*tc.Status]
			if !ok {
				return nil, errorf(file, n, "test %s: unknown status %s (want PASSED, FAILED, ERROR, SKIPPED, ...)", quoteShort(te.key), quoteShort(*tc.Status))
			}
			c := TestCase{Name: te.key, Status: *tc.Status, Outcome: out, Line: n}
			switch l := tc.Log.(type) {
			case nil:
			case string:
				c.Log = l
			default:
				b, _ := json.Marshal(l)
				c.Log = string(b)
			}
			run.Tests = append(run.Tests, c)
		}
		sort.Slice(run.Tests, func(i, j int) bool { return run.Tests[i].Name < run.Tests[j].Name })
		runs = append(runs, run)
	}
	return runs, nil
}

// extraResult reports whether a key of "result" is extra data rather than
// a test: ptestresult.sections, ptestresult.rawlogs, ltpresult.sections...
func extraResult(key string) bool {
	return strings.HasSuffix(key, ".sections") || strings.HasSuffix(key, ".rawlogs")
}

// entry is one member of a JSON object, with the offset of its key.
type entry struct {
	key string
	off int // offset in the whole file just after the key
	raw json.RawMessage
	// rawOff is the offset of raw in the whole file.
	rawOff int
}

func (e entry) line(lineAt func(int) int) int { return lineAt(e.off) }

// offsetError is a JSON problem at an offset of the whole file.
type offsetError struct {
	off int
	msg string
}

func (e *offsetError) Error() string { return e.msg }

// objectEntries reads data, which must be exactly one JSON object, into
// its members in order. base is data's offset in the whole file, so
// errors and entries carry whole-file offsets. A key given twice is an
// error: Python's json.dumps never writes one.
func objectEntries(data []byte, base int) ([]entry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	at := func() int { return base + int(dec.InputOffset()) }
	fail := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &offsetError{off: base + int(se.Offset), msg: se.Error()}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return &offsetError{off: base + len(data), msg: "unexpected end of JSON input (truncated?)"}
		}
		return &offsetError{off: at(), msg: err.Error()}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &offsetError{off: at(), msg: fmt.Sprintf("want a JSON object, got %v", tokString(tok))}
	}
	var es []entry
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &offsetError{off: at(), msg: "want an object key"}
		}
		e := entry{key: key, off: at()}
		if seen[key] {
			return nil, &offsetError{off: e.off, msg: fmt.Sprintf("key %s given twice", quoteShort(key))}
		}
		seen[key] = true
		if err := dec.Decode(&e.raw); err != nil {
			return nil, fail(err)
		}
		// The value ends where the decoder stands; it starts len(raw)
		// bytes before.
		e.rawOff = at() - len(e.raw)
		es = append(es, e)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fail(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fail(err)
		}
		return nil, &offsetError{off: at(), msg: fmt.Sprintf("data after the JSON object: %v", tokString(tok))}
	}
	return es, nil
}

func tokString(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		return string(v)
	case string:
		return quoteShort(v)
	case nil:
		return "null"
	}
	return fmt.Sprint(t)
}

// jsonError turns an objectEntries error into a ParseError with a line.
func jsonError(file string, err error, lineAt func(int) int) error {
	var oe *offsetError
	if errors.As(err, &oe) {
		return errorf(file, lineAt(oe.off), "%s", oe.msg)
	}
	return errorf(file, 0, "%v", err)
}

// entryError is jsonError for a member's value, saying which member.
func entryError(file string, err error, lineAt func(int) int, line int, what string) error {
	var oe *offsetError
	if errors.As(err, &oe) {
		return errorf(file, lineAt(oe.off), "%s: %s", what, oe.msg)
	}
	return errorf(file, line, "%s: %v", what, err)
}
