// Package codesize measures the code size of an ELF binary: the bytes of
// its loadable executable sections, and a per-function table from the
// symbol table (kept so a code-size change can later be attributed to the
// functions that grew).
package codesize

import (
	"debug/elf"
	"fmt"
	"sort"

	"github.com/tcbot/tcbot/bot/result"
)

// Size is the measured code size of a binary.
type Size struct {
	// Text is the total size in bytes of allocated, executable sections
	// (.text, .init, .fini, .plt, ...).
	Text uint64
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
	for _, sec := range f.Sections {
		if sec.Flags&elf.SHF_ALLOC != 0 && sec.Flags&elf.SHF_EXECINSTR != 0 && sec.Type != elf.SHT_NOBITS {
			s.Text += sec.Size
		}
	}
	syms, err := f.Symbols()
	if err != nil && err != elf.ErrNoSymbols {
		return Size{}, fmt.Errorf("symbols of %s: %w", path, err)
	}
	seen := map[string]bool{}
	for _, sym := range syms {
		if elf.ST_TYPE(sym.Info) != elf.STT_FUNC || sym.Size == 0 || sym.Name == "" {
			continue
		}
		// Local functions of different files can share a name; keep the
		// first, sizes of the rest are added.
		if seen[sym.Name] {
			for i := range s.Functions {
				if s.Functions[i].Name == sym.Name {
					s.Functions[i].Size += sym.Size
				}
			}
			continue
		}
		seen[sym.Name] = true
		s.Functions = append(s.Functions, result.FunctionSize{Name: sym.Name, Size: sym.Size})
	}
	sort.Slice(s.Functions, func(i, j int) bool {
		if s.Functions[i].Size != s.Functions[j].Size {
			return s.Functions[i].Size > s.Functions[j].Size
		}
		return s.Functions[i].Name < s.Functions[j].Name
	})
	return s, nil
}
