// Package layercheck checks tcbot's OpenEmbedded files without building
// anything, so a broken kas file or layer is caught by `go test` and
// `tcbot config check` instead of an hour into a build host's `kas build`:
//
//   - kas project files and the per-change toolchain includes (rendered
//     from their templates with sample values) are validated against the
//     JSON schema of the kas that will read them (Debian's package), and
//     against what that kas does beyond the schema: the format version it
//     reads, includes and local layers resolved from the repository root,
//     repositories pinned to a commit;
//   - BitBake files (.bb, .bbappend, .bbclass, .inc, .conf, and the
//     local.conf text inside kas files) are checked with the rules of
//     BitBake's own parser;
//   - a layer is checked for what BitBake needs to accept it (layer.conf,
//     its collection, LAYERSERIES_COMPAT) and for recipes that BBFILES would
//     miss or whose file:// sources do not exist.
//
// Every check reads files only: no network, no BitBake, no kas run. Each
// problem is an *Error naming the file and line. The checks are syntax and
// structure checks; whether a recipe builds is still up to a build host.
package layercheck

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Error is one problem in one file.
type Error struct {
	File string
	Line int // 0 when the problem is the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// OEDir is where a repository keeps its OpenEmbedded files.
const OEDir = "recipes/oe"

// CheckAll checks a repository's OpenEmbedded side: every kas file
// recipes/oe/*.yml, every toolchain template recipes/oe/*.tmpl rendered
// with sample values, and every layer in recipes/oe (meta-tcbot) or named
// by those kas files as a layer of this repository. schemaPath is kas's
// schema-kas.json (see FindKasSchema); with "" the schema validation is
// skipped and every other check still runs. File names in the errors are
// relative to repoRoot.
func CheckAll(repoRoot, schemaPath string) []error {
	var schema []byte
	var errs []error
	if schemaPath != "" {
		var err error
		schema, err = os.ReadFile(schemaPath)
		if err != nil {
			return []error{fmt.Errorf("kas schema: %w", err)}
		}
		if _, err := compileSchema(schema); err != nil {
			return []error{&Error{File: schemaPath, Msg: err.Error()}}
		}
	}
	dir := filepath.Join(repoRoot, filepath.FromSlash(OEDir))
	ymls, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
	tmpls, _ := filepath.Glob(filepath.Join(dir, "*.tmpl"))
	if len(ymls) == 0 {
		errs = append(errs, &Error{File: OEDir, Msg: "no kas project files (*.yml)"})
	}
	sort.Strings(ymls)
	sort.Strings(tmpls)

	shipped := map[string]*kasFile{}
	for _, p := range ymls {
		name := rel(repoRoot, p)
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		kf, ferrs := checkKasData(name, data, schema)
		errs = append(errs, ferrs...)
		if kf != nil {
			shipped[name] = kf
		}
	}
	for _, name := range sortedKeys(shipped) {
		errs = append(errs, checkKasProject(repoRoot, name, shipped)...)
	}
	for _, p := range tmpls {
		errs = append(errs, checkTemplate(repoRoot, p, schema, shipped)...)
	}
	layers := map[string]bool{}
	confs, _ := filepath.Glob(filepath.Join(dir, "*", "conf", "layer.conf"))
	for _, c := range confs {
		layers[filepath.Dir(filepath.Dir(c))] = true
	}
	for _, kf := range shipped {
		for _, l := range localLayers(repoRoot, kf) {
			if isLayer(l) {
				layers[l] = true
			}
		}
	}
	for _, layer := range sortedKeys(layers) {
		for _, err := range CheckLayer(layer) {
			if e, ok := err.(*Error); ok {
				e.File = rel(repoRoot, e.File)
			}
			errs = append(errs, err)
		}
	}
	return errs
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
