// Package profile turns the QEMU plugin's per-translation-block counts
// (insncount.so tbs=FILE) into instructions per function of the static
// binary that ran: exact per-function counts, because every executed
// instruction was counted in the block it ran in.
package profile

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/tcbot/tcbot/bot/result"
)

// Unknown names the code outside every function symbol (a stripped
// binary, the vDSO, code the loader generated).
const Unknown = "[unknown]"

// ReadBlocks parses the plugin's per-TB file: instructions executed per
// block start address, blocks translated more than once added up.
func ReadBlocks(r io.Reader) (map[uint64]uint64, error) {
	blocks := make(map[uint64]uint64)
	sc := bufio.NewScanner(r)
	lines, ended := 0, false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case ended:
			return nil, fmt.Errorf("per-block counts: data after the end line")
		case len(f) == 1 && f[0] == "incomplete":
			return nil, fmt.Errorf("per-block counts: the plugin ran out of memory and attributed only part of the run")
		case len(f) == 2 && f[0] == "end":
			n, err := strconv.Atoi(f[1])
			if err != nil || n != lines {
				return nil, fmt.Errorf("per-block counts: end line says %s blocks, read %d (file truncated?)", f[1], lines)
			}
			ended = true
		case len(f) == 2:
			addr, err1 := strconv.ParseUint(f[0], 16, 64)
			n, err2 := strconv.ParseUint(f[1], 10, 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("per-block counts: line %d %q: want \"<hex address> <count>\"", lines+1, sc.Text())
			}
			blocks[addr] += n
			lines++
		default:
			return nil, fmt.Errorf("per-block counts: line %d %q: want \"<hex address> <count>\"", lines+1, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("per-block counts: %w", err)
	}
	if !ended {
		return nil, fmt.Errorf("per-block counts: no end line (the run did not finish writing them)")
	}
	return blocks, nil
}

// Func is one function symbol: [start, end).
type Func struct {
	name       string
	start, end uint64
}

// Symbols reads the function symbols of an ELF binary, sorted by address.
// On 32-bit Arm the Thumb bit of a symbol's address is cleared.
func Symbols(path string) ([]Func, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("symbols of %s: %w", path, err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil && err != elf.ErrNoSymbols {
		return nil, fmt.Errorf("symbols of %s: %w", path, err)
	}
	arm := f.Machine == elf.EM_ARM
	var fns []Func
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value == 0 || s.Section == elf.SHN_UNDEF {
			continue
		}
		v := s.Value
		if arm {
			v &^= 1
		}
		fns = append(fns, Func{name: s.Name, start: v, end: v + s.Size})
	}
	// By address; at one address (aliases such as memcpy and
	// __memcpy_generic) the global, then the shorter name wins, so the
	// choice does not depend on the symbol table's order.
	sort.Slice(fns, func(i, j int) bool {
		a, b := fns[i], fns[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if (a.end > a.start) != (b.end > b.start) {
			return a.end > a.start // sized first
		}
		if len(a.name) != len(b.name) {
			return len(a.name) < len(b.name)
		}
		return a.name < b.name
	})
	out := fns[:0]
	for _, f := range fns {
		if len(out) > 0 && out[len(out)-1].start == f.start {
			continue
		}
		out = append(out, f)
	}
	return out, nil
}

// Attribute adds up the blocks per function: a block belongs to the
// function whose [start, start+size) holds its start address; a block
// inside no sized symbol goes to the closest preceding symbol of size 0
// (hand-written assembly often has none), else to Unknown. The result is
// sorted by count, largest first, then by name; its counts sum to the
// blocks' total.
func Attribute(fns []Func, blocks map[uint64]uint64) []result.FunctionCount {
	per := make(map[string]uint64)
	for addr, n := range blocks {
		if n == 0 {
			continue
		}
		i := sort.Search(len(fns), func(i int) bool { return fns[i].start > addr }) - 1
		name := Unknown
		if i >= 0 {
			f := fns[i]
			if addr < f.end || f.end == f.start {
				name = f.name
			}
		}
		per[name] += n
	}
	out := make([]result.FunctionCount, 0, len(per))
	for name, n := range per {
		out = append(out, result.FunctionCount{Name: name, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// FromFiles reads the plugin's per-TB file and the binary that ran and
// returns its instructions per function.
func FromFiles(tbsFile, binary string) ([]result.FunctionCount, error) {
	f, err := os.Open(tbsFile)
	if err != nil {
		return nil, fmt.Errorf("per-block counts: %w", err)
	}
	defer f.Close()
	blocks, err := ReadBlocks(f)
	if err != nil {
		return nil, err
	}
	fns, err := Symbols(binary)
	if err != nil {
		return nil, err
	}
	return Attribute(fns, blocks), nil
}

// Total is the sum of a profile's counts.
func Total(p []result.FunctionCount) uint64 {
	var t uint64
	for _, f := range p {
		t += f.Count
	}
	return t
}
