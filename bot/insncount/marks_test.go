package insncount

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeMarks(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "marks.txt")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadMarks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		want    []uint64
	}{
		{"two marks around a measurement", "mark 1 5547\nmark 2 11554\n", []uint64{5547, 11554}},
		{"no mark executed yet", "", nil},
		{"one mark so far", "mark 1 0\n", []uint64{0}},
		{"equal counts (marks in one block)", "mark 1 7\nmark 2 7\nmark 3 18446744073709551615\n", []uint64{7, 7, 1<<64 - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadMarks(writeMarks(t, tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ReadMarks = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReadMarksErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		want    string // after "<path>:"
	}{
		{"cut off while QEMU writes", "mark 1 10\nmark 2 2", `2: "mark 2 2" has no newline`},
		{"not a mark line", "mark 1 10\ninsns 30\n", `2: "insns 30": want "mark <N> <count>"`},
		{"extra field", "mark 1 10 vcpu0\n", `1: "mark 1 10 vcpu0": want`},
		{"two spaces", "mark  1 10\n", `1: "mark  1 10": want`},
		{"CRLF", "mark 1 10\r\n", `1: count "10\r" is not a whole number`},
		{"blank line", "mark 1 10\n\nmark 2 20\n", `2: "": want`},
		{"numbering skips", "mark 1 10\nmark 3 20\n", `2: mark number "3", want 2`},
		{"numbering does not start at 1", "mark 0 10\n", `1: mark number "0", want 1`},
		{"signed number", "mark +1 10\n", `1: mark number "+1", want 1`},
		{"leading zero", "mark 01 10\n", `1: mark number "01", want 1`},
		{"negative count", "mark 1 -10\n", `1: count "-10" is not a whole number`},
		{"hex count", "mark 1 0x10\n", `1: count "0x10" is not a whole number`},
		{"count overflows", "mark 1 18446744073709551616\n", `1: count "18446744073709551616" is not a whole number`},
		{"count decreases", "mark 1 100\nmark 2 99\n", `2: count 99 is below mark 1's 100`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeMarks(t, tc.content)
			got, err := ReadMarks(path)
			if err == nil {
				t.Fatalf("ReadMarks(%q) = %v, want an error", tc.content, got)
			}
			if want := path + ":" + tc.want; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\ndoes not contain %q", err, want)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "never-written.txt")
		_, err := ReadMarks(path)
		if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want a not-exist error naming %s", err, path)
		}
	})
}

// FuzzParseMarks checks that the parser never panics and that whatever it
// accepts is exactly the plugin's format: rendering the counts again gives
// the input back.
func FuzzParseMarks(f *testing.F) {
	f.Add([]byte("mark 1 5547\nmark 2 11554\n"))
	f.Add([]byte(""))
	f.Add([]byte("mark 1 10\nmark 2 2"))
	f.Add([]byte("mark 01 10\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		counts, err := parseMarks("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		var b strings.Builder
		for i, c := range counts {
			if i > 0 && c < counts[i-1] {
				t.Fatalf("accepted decreasing counts %v", counts)
			}
			fmt.Fprintf(&b, "mark %d %d\n", i+1, c)
		}
		if b.String() != string(data) {
			t.Fatalf("accepted %q, which is not what the plugin writes (%q)", data, b.String())
		}
	})
}
