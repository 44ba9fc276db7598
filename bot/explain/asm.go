package explain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/store"
)

// MaxAsmLines caps one function's assembly diff (context included).
const MaxAsmLines = 120

// context lines kept around each change.
const contextLines = 3

// Objdumps are the disassemblers tried per arch, in order; the host's
// plain objdump only when it handles the arch (objdump -i lists it).
var Objdumps = map[string][]string{
	"armv8": {"aarch64-linux-gnu-objdump", "objdump"},
	"armv7": {"arm-linux-gnueabihf-objdump", "objdump"},
}

// bfdArch is the name objdump -i lists for an arch.
var bfdArch = map[string]string{"armv8": "aarch64", "armv7": "arm"}

// objdumpPackages say what to install for an arch's objdump.
var objdumpPackages = map[string]string{
	"armv8": "binutils-aarch64-linux-gnu",
	"armv7": "binutils-arm-linux-gnueabihf",
}

// ErrNoObjdump says no objdump on this host disassembles a target's arch.
var ErrNoObjdump = errors.New("no objdump")

// objdumpArches caches which arches each plain objdump handles.
var objdumpArches sync.Map // path -> map[string]bool

// handles reports whether objdump at path lists arch in objdump -i (a
// trusted host tool, asked once).
func handles(path, arch string) bool {
	if v, ok := objdumpArches.Load(path); ok {
		return v.(map[string]bool)[arch]
	}
	set := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-i")
	cmd.Env = []string{"LC_ALL=C"}
	if out, err := cmd.Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "  ") {
				set[strings.TrimSpace(l)] = true
			}
		}
	}
	objdumpArches.Store(path, set)
	return set[arch]
}

// objdumpFor returns the objdump that disassembles arch on this host.
func objdumpFor(arch string) (string, error) {
	for _, name := range Objdumps[arch] {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if name == "objdump" && !handles(p, bfdArch[arch]) {
			continue
		}
		return p, nil
	}
	pkg := objdumpPackages[arch]
	if pkg == "" {
		return "", fmt.Errorf("%w for arch %q", ErrNoObjdump, arch)
	}
	return "", fmt.Errorf("%w for %s on this host (install %s)", ErrNoObjdump, arch, pkg)
}

// Disassembler disassembles single functions with binutils' objdump.
// The binaries come from revisions under test: objdump runs in the
// sandbox when one is given, with an empty environment and a timeout.
type Disassembler struct {
	// Arch by target name.
	Arch    map[string]string
	Sandbox *sandbox.Sandbox
}

// NewDisassembler makes a disassembler for the targets of a config.
func NewDisassembler(targets []config.Target, sb *sandbox.Sandbox) *Disassembler {
	d := &Disassembler{Arch: map[string]string{}, Sandbox: sb}
	for _, t := range targets {
		d.Arch[t.Name] = t.Arch
	}
	return d
}

// Function returns the normalized disassembly of function in binary.
func (d *Disassembler) Function(ctx context.Context, target, binary, function string) ([]string, error) {
	tool, err := objdumpFor(d.Arch[target])
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(function, "\x00\n") || strings.HasPrefix(function, "-") {
		return nil, fmt.Errorf("function name %q", function)
	}
	argv := []string{tool, "-d", "--no-show-raw-insn", "--disassemble=" + function, binary}
	mounts := []sandbox.Mount{sandbox.RO(binary)}
	mounts = append(mounts, sandbox.HostMounts(tool)...)
	out, err := d.Sandbox.Output(ctx, 30*time.Second, argv, []string{"LC_ALL=C"}, "", mounts)
	if err != nil {
		return nil, fmt.Errorf("objdump %s %s: %w", filepath.Base(binary), function, err)
	}
	return Normalize(out, function), nil
}

var (
	insnLine = regexp.MustCompile(`^\s*[0-9a-f]+:\s*(.*)$`)
	// An absolute target before its symbolic form: "b.ne 400550 <f+0x10>".
	absTarget = regexp.MustCompile(`\b[0-9a-f]+ (<[^>]*>)`)
	comment   = regexp.MustCompile(`\s*(//|@|;).*$`)
)

// Normalize keeps the instructions of function from objdump's output,
// without addresses, raw bytes or comments, and with branch targets by
// symbol only, so code that only moved does not differ.
func Normalize(out []byte, function string) []string {
	var lines []string
	in := false
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(l, ">:") {
			in = strings.HasSuffix(l, "<"+function+">:")
			continue
		}
		if !in {
			continue
		}
		m := insnLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		s := comment.ReplaceAllString(m[1], "")
		s = absTarget.ReplaceAllString(s, "$1")
		s = strings.Join(strings.Fields(s), " ")
		if s != "" {
			lines = append(lines, s)
		}
	}
	return labelBranches(lines, function)
}

// labelBranches names the branch targets inside the function by rank
// (<.L1>, <.L2>, ... in address order) instead of by offset, so that one
// inserted instruction does not change every branch after it. function
// is a symbol of a binary under test, any bytes: it is matched as plain
// text, never compiled into a pattern.
func labelBranches(lines []string, function string) []string {
	prefix := "<" + function + "+0x"
	// each calls fn on every "<function+0xOFF>" in l with its offset and
	// returns l with each replaced by fn's result.
	each := func(l string, fn func(off uint64) string) string {
		var b strings.Builder
		for {
			i := strings.Index(l, prefix)
			if i < 0 {
				break
			}
			rest := l[i+len(prefix):]
			j := strings.IndexByte(rest, '>')
			off, err := strconv.ParseUint(rest[:max(j, 0)], 16, 64)
			if j <= 0 || err != nil {
				b.WriteString(l[:i+len(prefix)])
				l = rest
				continue
			}
			b.WriteString(l[:i])
			b.WriteString(fn(off))
			l = rest[j+1:]
		}
		b.WriteString(l)
		return b.String()
	}
	var offs []uint64
	seen := map[uint64]bool{}
	for _, l := range lines {
		each(l, func(off uint64) string {
			if !seen[off] {
				seen[off] = true
				offs = append(offs, off)
			}
			return ""
		})
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	rank := map[uint64]int{}
	for i, v := range offs {
		rank[v] = i + 1
	}
	for i, l := range lines {
		lines[i] = each(l, func(off uint64) string { return fmt.Sprintf("<.L%d>", rank[off]) })
	}
	return lines
}

// maxLCSCells bounds the LCS table of one diff (4 bytes a cell): past
// it, the changed middle shows as removed then added, unaligned.
const maxLCSCells = 4 << 20

// Diff aligns two instruction lists (longest common subsequence) and
// keeps the changes with contextLines around them, at most max lines;
// changed is false when they are equal.
func Diff(a, b []string, max int) (report.AsmDiff, bool) {
	// The common prefix and suffix align by themselves; only the middle
	// needs the table, which keeps large functions with a small change
	// cheap.
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	q := 0
	for q < len(a)-p && q < len(b)-p && a[len(a)-1-q] == b[len(b)-1-q] {
		q++
	}
	var all []report.AsmLine
	for _, l := range a[:p] {
		all = append(all, report.AsmLine{Op: " ", Text: l})
	}
	all = append(all, align(a[p:len(a)-q], b[p:len(b)-q])...)
	for _, l := range a[len(a)-q:] {
		all = append(all, report.AsmLine{Op: " ", Text: l})
	}
	return cut(all, max)
}

// align diffs a and b by their longest common subsequence; removed
// lines come before added ones, as diff prints them.
func align(a, b []string) []report.AsmLine {
	n, m := len(a), len(b)
	var all []report.AsmLine
	if n*m > maxLCSCells {
		for _, l := range a {
			all = append(all, report.AsmLine{Op: "-", Text: l})
		}
		for _, l := range b {
			all = append(all, report.AsmLine{Op: "+", Text: l})
		}
		return all
	}
	// lcs[i][j]: length of the LCS of a[i:] and b[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max32(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			all = append(all, report.AsmLine{Op: " ", Text: a[i]})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			all = append(all, report.AsmLine{Op: "-", Text: a[i]})
			i++
		default:
			all = append(all, report.AsmLine{Op: "+", Text: b[j]})
			j++
		}
	}
	return all
}

// cut keeps the changed lines of all with contextLines around them, at
// most max lines, "…" where equal lines were left out.
func cut(all []report.AsmLine, max int) (report.AsmDiff, bool) {
	keep := make([]bool, len(all))
	changed := false
	for k, l := range all {
		if l.Op != " " {
			changed = true
			for c := k - contextLines; c <= k+contextLines; c++ {
				if c >= 0 && c < len(all) {
					keep[c] = true
				}
			}
		}
	}
	var d report.AsmDiff
	if !changed {
		return d, false
	}
	gap := false
	for k, l := range all {
		if !keep[k] {
			gap = true
			continue
		}
		if gap && len(d.Lines) > 0 {
			d.Lines = append(d.Lines, report.AsmLine{Op: " ", Text: "…"})
		}
		gap = false
		if len(d.Lines) >= max {
			d.Truncated = true
			break
		}
		d.Lines = append(d.Lines, l)
	}
	return d, true
}

func max32(a, b int32) int32 {
	if a > b {
		return a
	}
	return b
}

// BinaryPath returns the path of a benchmark's binary of a measurement
// in workdir's build cache (workdir/build/<suite version>/<arch>-<id>/,
// whose build.json lists each binary's SHA-256) when it is there and still
// the binary that was measured, else "".
func BinaryPath(workdir string, arch map[string]string, m *store.Measurement, bench string) string {
	want := m.Binaries[bench].SHA256
	if want == "" || arch[m.Target] == "" {
		return ""
	}
	manifests, _ := filepath.Glob(filepath.Join(workdir, "build", m.SuiteVersion, arch[m.Target]+"-*", "build.json"))
	for _, mf := range manifests {
		data, err := os.ReadFile(mf)
		if err != nil || !strings.Contains(string(data), want) {
			continue
		}
		var list []struct {
			Benchmark string `json:"benchmark"`
			SHA256    string `json:"sha256"`
		}
		if json.Unmarshal(data, &list) != nil {
			continue
		}
		for _, b := range list {
			if b.Benchmark != bench || b.SHA256 != want {
				continue
			}
			p := filepath.Join(filepath.Dir(mf), "bin", bench)
			if bin, err := os.ReadFile(p); err == nil && sha(bin) == want {
				return p
			}
		}
	}
	return ""
}
