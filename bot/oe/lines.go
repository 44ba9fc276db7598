package oe

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseError is a problem found in an input file: which file, which line
// and what is wrong with it.
type ParseError struct {
	File string // the name the parser was given
	Line int    // 1-based; 0 when the problem concerns the whole file
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

func errorf(file string, line int, format string, args ...any) error {
	return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// line is one line of a text file without its newline.
type line struct {
	n    int // 1-based
	text string
}

// splitLines splits a text file into lines. Every file read here is
// written a line at a time, each ending in a newline (Python's
// f.write("...\n"), echo, sort), so a last line without one was cut short
// by a full disk or a killed writer, and a NUL byte means the file is not
// text (a crash can leave blocks of zeros). Both are errors, as is an
// empty file.
func splitLines(file string, data []byte) ([]line, error) {
	if len(data) == 0 {
		return nil, errorf(file, 0, "empty file")
	}
	s := string(data)
	parts := strings.Split(s, "\n")
	last := parts[len(parts)-1]
	parts = parts[:len(parts)-1]
	ls := make([]line, 0, len(parts))
	for i, p := range parts {
		if strings.IndexByte(p, 0) >= 0 {
			return nil, errorf(file, i+1, "NUL byte: not a text file (corrupted?)")
		}
		ls = append(ls, line{n: i + 1, text: p})
	}
	if last != "" {
		return nil, errorf(file, len(parts)+1, "truncated line %s: no newline at end of file", quoteShort(last))
	}
	return ls, nil
}

// quoteShort quotes s for an error message, cutting it when long.
func quoteShort(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

// parseCount parses a whole non-negative number such as a size in KiB or
// bytes. limit bounds it so that a size in bytes stays exact in a float64.
func parseCount(s string, limit int64) (int64, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > limit {
		return 0, false
	}
	return v, true
}

// parseSeconds parses a non-negative, finite decimal number.
func parseSeconds(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// Size limits: 2^53 bytes is the largest size a float64 sample holds
// exactly, far beyond any image.
const (
	maxBytes = 1 << 53
	maxKiB   = maxBytes >> 10
)
