// Package codesize measures the code size of an ELF binary: the bytes of
// the functions in its loadable executable sections, and a per-function table from the
// symbol table (kept so a code-size change can later be attributed to the
// functions that grew).
package codesize

import (
	"debug/elf"
	"fmt"
	"sort"
	"strings"

	"github.com/tcbot/tcbot/bot/result"
)

// Size is the measured code size of a binary.
type Size struct {
	// Text is the code size: the bytes of all functions (STT_FUNC symbols
	// with a size, each address counted once so aliases such as memcpy and
	// __memcpy count once) in allocated, executable sections. Linker
	// padding is left out on purpose: section totals jump by whole pages
	// when a function shrinks by a few bytes (seen here: .text grew 4,480
	// bytes while the functions in it shrank 352), which would make the
	// metric cry wolf.
	Text uint64
	// Sections is the total size of allocated, executable sections
	// (.init, .plt, .text, .fini, ...), padding included.
	Sections uint64
	// Functions lists function symbols with their sizes, largest first.
	Functions []result.FunctionSize
}

// Measure reads the ELF file at path.
func Measure(path string) (Size, error) {
	f, err := elf.Open(path)
	if err != nil {
		return Size{}, fmt.Errorf("code size of %s: %w", path, err)
	}
	defer f.Close()
	var s Size
	exec := map[int]bool{}
	for i, sec := range f.Sections {
		if sec.Flags&elf.SHF_ALLOC != 0 && sec.Flags&elf.SHF_EXECINSTR != 0 && sec.Type != elf.SHT_NOBITS {
			s.Sections += sec.Size
			exec[i] = true
		}
	}
	syms, err := f.Symbols()
	if err != nil && err != elf.ErrNoSymbols {
		return Size{}, fmt.Errorf("symbols of %s: %w", path, err)
	}
	// One entry per address: the first name in sorted order (aliases).
	sort.SliceStable(syms, func(i, j int) bool { return syms[i].Name < syms[j].Name })
	type fn struct {
		name string
		size uint64
	}
	byAddr := map[uint64]fn{}
	for _, sym := range syms {
		if elf.ST_TYPE(sym.Info) != elf.STT_FUNC || sym.Size == 0 || sym.Name == "" || !exec[int(sym.Section)] {
			continue
		}
		// ARM Thumb functions have the low bit set in their address.
		addr := sym.Value &^ 1
		if prev, ok := byAddr[addr]; ok {
			if sym.Size > prev.size {
				byAddr[addr] = fn{prev.name, sym.Size}
			}
			continue
		}
		byAddr[addr] = fn{sym.Name, sym.Size}
	}
	// Local functions of different files can share a name: their sizes add.
	byName := map[string]uint64{}
	for _, f := range byAddr {
		s.Text += f.size
		byName[f.name] += f.size
	}
	for name, size := range byName {
		s.Functions = append(s.Functions, result.FunctionSize{Name: name, Size: size})
	}
	sort.Slice(s.Functions, func(i, j int) bool {
		if s.Functions[i].Size != s.Functions[j].Size {
			return s.Functions[i].Size > s.Functions[j].Size
		}
		return s.Functions[i].Name < s.Functions[j].Name
	})
	if s.Text == 0 {
		// A stripped binary has no symbols: fall back to the sections.
		s.Text = s.Sections
	}
	return s, nil
}

// Attribute names the functions whose sizes changed most between two
// tables, largest change first, at most n: "main +352 B, hash_key -84 B".
// It is how a code-size change is traced to the code that caused it.
func Attribute(base, head []result.FunctionSize, n int) string {
	sizes := map[string][2]uint64{}
	for _, f := range base {
		s := sizes[f.Name]
		s[0] += f.Size
		sizes[f.Name] = s
	}
	for _, f := range head {
		s := sizes[f.Name]
		s[1] += f.Size
		sizes[f.Name] = s
	}
	type delta struct {
		name string
		d    int64
	}
	var ds []delta
	for name, s := range sizes {
		if d := int64(s[1]) - int64(s[0]); d != 0 {
			ds = append(ds, delta{name, d})
		}
	}
	abs := func(x int64) int64 {
		if x < 0 {
			return -x
		}
		return x
	}
	sort.Slice(ds, func(i, j int) bool {
		if abs(ds[i].d) != abs(ds[j].d) {
			return abs(ds[i].d) > abs(ds[j].d)
		}
		return ds[i].name < ds[j].name
	})
	var parts []string
	for i, d := range ds {
		if i == n {
			parts = append(parts, fmt.Sprintf("%d more", len(ds)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %+d B", d.name, d.d))
	}
	return strings.Join(parts, ", ")
}
