package layercheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// FormatVersion is the newest kas project-file format tcbot's files may
// use: Debian 12's kas 3.1 reads formats 1 to 12 (kas/__version__.py,
// __file_version__ = 12), and every later kas still reads 12. Format 12
// has no repos.<id>.commit (added in format 14): a repository is pinned
// with refspec set to a full commit ID, which kas 3.1 checks out detached
// and newer kas accepts with a deprecation warning.
const FormatVersion = 12

// SchemaPaths are where Debian's kas package installs its schema; the
// first that exists wins.
var SchemaPaths = []string{
	"/usr/lib/python3/dist-packages/kas/schema-kas.json",
	"/usr/lib/python3*/dist-packages/kas/schema-kas.json",
	"/usr/lib/python3*/site-packages/kas/schema-kas.json",
}

// FindKasSchema locates the JSON schema of the installed kas.
func FindKasSchema() (string, error) {
	for _, pat := range SchemaPaths {
		matches, _ := filepath.Glob(pat)
		sort.Strings(matches)
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
				return m, nil
			}
		}
	}
	return "", fmt.Errorf("kas's schema-kas.json not found (looked for %s): install Debian's kas package with `apt-get install kas` (or `make deps`)", strings.Join(SchemaPaths, ", "))
}

// CheckKas validates one kas project file: its YAML, kas's JSON schema
// (the bytes of schema-kas.json), the format version the schema's kas
// reads, and the BitBake syntax of its local_conf_header and
// bblayers_conf_header blocks. The error joins one *Error per problem,
// each naming the file and line, and for schema problems the JSON pointer
// of the value and the schema keyword that failed.
func CheckKas(path string, schema []byte) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if _, err := compileSchema(schema); err != nil {
		return fmt.Errorf("kas schema: %w", err)
	}
	_, errs := checkKasData(path, data, schema)
	return errors.Join(errs...)
}

// kasFile is a parsed kas file.
type kasFile struct {
	name  string
	root  *yaml.Node // the document's top mapping
	value map[string]any
}

func compileSchema(schema []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	// kas 3.1 validates with Draft4Validator; a schema naming its own
	// draft ($schema, as newer kas does) overrides this.
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("schema-kas.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("schema-kas.json")
}

// checkKasData checks one kas file's content; schema nil skips the schema.
func checkKasData(name string, data, schema []byte) (*kasFile, []error) {
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &Error{File: name, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		bad(line, "not YAML: %v", err)
		return nil, errs
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		bad(1, "a kas file is a YAML mapping (header:, repos:, ...)")
		return nil, errs
	}
	root := doc.Content[0]
	v, err := yamlValue(root)
	if err != nil {
		bad(err.line, "%s", err.msg)
		return nil, errs
	}
	kf := &kasFile{name: name, root: root, value: v.(map[string]any)}

	if schema != nil {
		limit := FormatVersion
		sch, err := compileSchema(schema)
		if err != nil {
			bad(0, "kas schema: %v", err)
			return kf, errs
		}
		if err := sch.Validate(kf.value); err != nil {
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				bad(0, "kas schema: %v", err)
			} else {
				leaves := schemaLeaves(ve)
				sort.SliceStable(leaves, func(i, j int) bool {
					li, lj := schemaLine(root, leaves[i]), schemaLine(root, leaves[j])
					if li != lj {
						return li < lj
					}
					return describe(leaves[i]) < describe(leaves[j])
				})
				for _, leaf := range leaves {
					bad(schemaLine(root, leaf), "%s", describe(leaf))
				}
			}
		}
		if max, ok := schemaMaxVersion(schema); ok {
			limit = max
		}
		if ver, line, ok := kasVersion(kf); ok && ver > limit {
			bad(line, "header.version %d is newer than the kas that will read it: its schema reads format %d at most", ver, limit)
		}
	}
	for _, block := range []string{"local_conf_header", "bblayers_conf_header"} {
		m := child(root, block)
		if m == nil || m.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, val := m.Content[i], m.Content[i+1]
			if val.Kind != yaml.ScalarNode || val.Tag != "!!str" {
				continue // the schema says so
			}
			first := val.Line
			if val.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				first++
			}
			errs = append(errs, checkSource(fmt.Sprintf("%s (%s.%s)", name, block, k.Value), val.Value, first, syntaxConf)...)
		}
	}
	return kf, errs
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

type valueError struct {
	line int
	msg  string
}

// yamlValue turns a YAML node into the JSON value kas validates (kas reads
// YAML with PyYAML's safe_load and validates the result).
func yamlValue(n *yaml.Node) (any, *valueError) {
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, &valueError{k.Line, "mapping key is not a scalar"}
			}
			if k.Tag == "!!merge" {
				return nil, &valueError{k.Line, "YAML merge keys (<<) are not supported in kas files"}
			}
			if _, dup := m[k.Value]; dup {
				return nil, &valueError{k.Line, fmt.Sprintf("key %q given twice", k.Value)}
			}
			v, err := yamlValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, &valueError{n.Line, err.Error()}
			}
			return b, nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, &valueError{n.Line, err.Error()}
			}
			return json.Number(strconv.FormatInt(i, 10)), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, &valueError{n.Line, err.Error()}
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
		default:
			return n.Value, nil
		}
	}
	return nil, &valueError{n.Line, "unsupported YAML node"}
}

// child returns the value node of key in mapping n.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// keyNode returns the key node of key in mapping n.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}

// lineAt follows a JSON pointer's tokens through the YAML tree and returns
// the line of the deepest node reached.
func lineAt(n *yaml.Node, loc []string) int {
	line := n.Line
	for _, tok := range loc {
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			if k := keyNode(n, tok); k != nil {
				line = k.Line
				next = child(n, tok)
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// schemaLeaves flattens a validation error into its most specific causes.
// Where a oneOf/anyOf failed, branches that failed only because the value
// has another type are dropped when some branch went deeper: "repos.x has
// an unknown key" says more than "repos.x is not null".
func schemaLeaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	var typeOnly [][]*jsonschema.ValidationError
	for _, c := range e.Causes {
		leaves := schemaLeaves(c)
		only := true
		for _, l := range leaves {
			if _, ok := l.ErrorKind.(*kind.Type); !ok {
				only = false
			}
		}
		if only {
			typeOnly = append(typeOnly, leaves)
		} else {
			out = append(out, leaves...)
		}
	}
	_, choice := e.ErrorKind.(*kind.OneOf)
	if _, any := e.ErrorKind.(*kind.AnyOf); any {
		choice = true
	}
	if !choice || len(out) == 0 {
		for _, ls := range typeOnly {
			out = append(out, ls...)
		}
	}
	return out
}

var printer = message.NewPrinter(language.English)

func describe(e *jsonschema.ValidationError) string {
	ptr := "/" + strings.Join(e.InstanceLocation, "/")
	kw := strings.Join(e.ErrorKind.KeywordPath(), "/")
	msg := e.ErrorKind.LocalizedString(printer)
	if kw == "" {
		return fmt.Sprintf("%s: %s (kas schema)", ptr, msg)
	}
	return fmt.Sprintf("%s: %s (kas schema keyword %s)", ptr, msg, kw)
}

func schemaLine(root *yaml.Node, e *jsonschema.ValidationError) int {
	loc := e.InstanceLocation
	if ap, ok := e.ErrorKind.(*kind.AdditionalProperties); ok && len(ap.Properties) > 0 {
		loc = append(append([]string{}, loc...), ap.Properties[0])
	}
	return lineAt(root, loc)
}

// schemaMaxVersion finds the "maximum" of header.version in a kas schema:
// newer kas states the newest format it reads there; kas 3.1 does not.
func schemaMaxVersion(schema []byte) (int, bool) {
	var s map[string]any
	if json.Unmarshal(schema, &s) != nil {
		return 0, false
	}
	v := dig(s, "properties", "header", "properties", "version")
	var find func(any) (int, bool)
	find = func(x any) (int, bool) {
		switch t := x.(type) {
		case map[string]any:
			if m, ok := t["maximum"].(float64); ok {
				return int(m), true
			}
			for _, k := range sortedKeys(t) {
				if n, ok := find(t[k]); ok {
					return n, true
				}
			}
		case []any:
			for _, e := range t {
				if n, ok := find(e); ok {
					return n, true
				}
			}
		}
		return 0, false
	}
	return find(v)
}

func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// kasVersion is the file's header.version as a format number ("0.10" is 1).
func kasVersion(kf *kasFile) (int, int, bool) {
	h := child(kf.root, "header")
	v := child(h, "version")
	if v == nil || v.Kind != yaml.ScalarNode {
		return 0, 0, false
	}
	if v.Tag == "!!int" {
		n, err := strconv.Atoi(v.Value)
		return n, v.Line, err == nil
	}
	if v.Value == "0.10" {
		return 1, v.Line, true
	}
	return 0, 0, false
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// checkKasProject checks what kas does beyond its schema, for a file in the
// repository: string includes and local layers are found from the
// repository root, repositories with a URL are pinned to a commit, and a
// file that (with its includes) names a machine also names a distro and a
// target. tcbot's own rule: the format stays readable by Debian's kas.
func checkKasProject(repoRoot, name string, files map[string]*kasFile) []error {
	var errs []error
	kf := files[name]
	bad := func(file string, line int, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if ver, line, ok := kasVersion(kf); ok && ver > FormatVersion {
		bad(name, line, "header.version %d: tcbot's kas files stay at format %d or older so Debian 12's kas 3.1 reads them (pin repos with refspec: <commit>, not commit:)", ver, FormatVersion)
	}
	merged, chain, ierrs := mergeIncludes(repoRoot, name, files, nil)
	errs = append(errs, ierrs...)
	if merged == nil {
		return errs
	}
	// Repositories: only those this file itself declares are reported
	// here, so an include's problem is reported once, at the include.
	repos := child(kf.root, "repos")
	if repos != nil && repos.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(repos.Content); i += 2 {
			id, rn := repos.Content[i], repos.Content[i+1]
			errs = append(errs, checkRepo(repoRoot, name, id, rn)...)
		}
	}
	if _, ok := merged["machine"]; ok && len(ierrs) == 0 {
		for _, k := range []string{"distro", "target", "repos"} {
			if _, ok := merged[k]; !ok {
				bad(name, 1, "sets machine but neither it nor its includes (%s) set %s", strings.Join(chain, ", "), k)
			}
		}
	}
	return errs
}

func checkRepo(repoRoot, file string, id, rn *yaml.Node) []error {
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if rn.Kind == yaml.ScalarNode && rn.Tag == "!!null" {
		// The repository holding this file, itself one layer.
		if !isLayer(repoRoot) {
			bad(id.Line, "repos.%s: with no settings the repository holding this file is a layer, but %s has no conf/layer.conf", id.Value, repoRoot)
		}
		return errs
	}
	if rn.Kind != yaml.MappingNode {
		return errs // the schema reports it
	}
	url := child(rn, "url")
	hasURL := url != nil && !(url.Kind == yaml.ScalarNode && url.Tag == "!!null")
	if hasURL {
		refspec, commit := child(rn, "refspec"), child(rn, "commit")
		switch {
		case refspec != nil && commit != nil:
			bad(refspec.Line, "repos.%s: refspec together with commit: kas 4 and later refuse the mixture", id.Value)
		case refspec == nil && commit == nil:
			bad(id.Line, "repos.%s: no refspec: kas 3.1 refuses a repository with a URL and no refspec, and tcbot pins every repository to a full commit ID", id.Value)
		default:
			pin := refspec
			if pin == nil {
				pin = commit
			}
			if !commitRE.MatchString(pin.Value) {
				bad(pin.Line, "repos.%s: %q is not a full commit ID: pin the repository (40 lowercase hex digits) so every build of a revision sees the same layers", id.Value, pin.Value)
			}
		}
		return errs
	}
	if p := child(rn, "path"); p != nil && p.Tag != "!!null" {
		return errs // kas resolves it from KAS_WORK_DIR: nothing to check here
	}
	layers := child(rn, "layers")
	if layers == nil || layers.Kind != yaml.MappingNode || len(layers.Content) == 0 {
		if !isLayer(repoRoot) {
			bad(id.Line, "repos.%s: a local repository without layers is itself a layer, but %s has no conf/layer.conf", id.Value, repoRoot)
		}
		return errs
	}
	for i := 0; i+1 < len(layers.Content); i += 2 {
		k, v := layers.Content[i], layers.Content[i+1]
		if v.Kind == yaml.ScalarNode && disabledLayer[strings.ToLower(v.Value)] {
			continue
		}
		dir := filepath.Join(repoRoot, filepath.FromSlash(k.Value))
		if !isLayer(dir) {
			bad(k.Line, "repos.%s.layers.%s: no layer there (%s has no conf/layer.conf); kas finds the layers of the repository holding this file from its root, %s", id.Value, k.Value, rel(repoRoot, dir), repoRoot)
		}
	}
	return errs
}

// localLayers lists the layer directories a kas file takes from the
// repository holding it (repositories without a URL or path).
func localLayers(repoRoot string, kf *kasFile) []string {
	var out []string
	repos := child(kf.root, "repos")
	if repos == nil || repos.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(repos.Content); i += 2 {
		rn := repos.Content[i+1]
		if rn.Kind != yaml.MappingNode {
			continue
		}
		if u := child(rn, "url"); u != nil && u.Tag != "!!null" {
			continue
		}
		if p := child(rn, "path"); p != nil && p.Tag != "!!null" {
			continue
		}
		layers := child(rn, "layers")
		if layers == nil || layers.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(layers.Content); j += 2 {
			out = append(out, filepath.Join(repoRoot, filepath.FromSlash(layers.Content[j].Value)))
		}
	}
	return out
}

// disabledLayer are the values with which kas 3.1 leaves a layer out.
var disabledLayer = map[string]bool{"disabled": true, "excluded": true, "n": true, "no": true, "0": true, "false": true}

func isLayer(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, "conf", "layer.conf"))
	return err == nil && fi.Mode().IsRegular()
}

// mergeIncludes merges a file's includes into it the way kas does: depth
// first, later includes over earlier ones, the file over all of them.
// String includes are paths from the repository root.
func mergeIncludes(repoRoot, name string, files map[string]*kasFile, seen []string) (map[string]any, []string, []error) {
	for _, s := range seen {
		if s == name {
			return nil, nil, []error{&Error{File: name, Msg: "includes itself: " + strings.Join(append(seen, name), " -> ")}}
		}
	}
	kf := files[name]
	var errs []error
	merged := map[string]any{}
	chain := []string{}
	includes := child(child(kf.root, "header"), "includes")
	if includes != nil && includes.Kind == yaml.SequenceNode {
		for _, inc := range includes.Content {
			if inc.Kind != yaml.ScalarNode {
				continue // {repo:, file:} includes live in other repositories
			}
			target := path.Clean(inc.Value)
			if _, ok := files[target]; !ok {
				alt := path.Join(path.Dir(name), inc.Value)
				if _, ok := files[alt]; ok {
					errs = append(errs, &Error{File: name, Line: inc.Line, Msg: fmt.Sprintf("include %q is relative to this file; kas resolves string includes from the repository root and only falls back with a warning: write %q", inc.Value, alt)})
					target = alt
				} else if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(inc.Value))); err == nil {
					errs = append(errs, &Error{File: name, Line: inc.Line, Msg: fmt.Sprintf("include %q is not one of the kas files checked here (recipes/oe/*.yml)", inc.Value)})
					continue
				} else {
					errs = append(errs, &Error{File: name, Line: inc.Line, Msg: fmt.Sprintf("include %q not found: kas resolves string includes from the repository root (%s)", inc.Value, repoRoot)})
					continue
				}
			}
			m, c, ierrs := mergeIncludes(repoRoot, target, files, append(seen, name))
			if len(ierrs) > 0 && m == nil {
				errs = append(errs, ierrs...)
				continue
			}
			merged = mergeMaps(merged, m)
			chain = append(chain, c...)
		}
	}
	return mergeMaps(merged, kf.value), append(chain, name), errs
}

func mergeMaps(dst, src map[string]any) map[string]any {
	out := make(map[string]any, len(dst)+len(src))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if dm, ok := out[k].(map[string]any); ok {
			if sm, ok := v.(map[string]any); ok {
				out[k] = mergeMaps(dm, sm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// TemplateData is what a toolchain include template (recipes/oe/*.tmpl)
// is rendered with: the component's repository URL as configured (https,
// http, ssh, git or file; the template turns it into a BitBake git
// fetcher URL), the full commit ID under test, and a branch of that
// repository (the revision need not be on it: a pull request's head is
// fetched by commit).
type TemplateData struct {
	URL, Rev, Branch string
}

// RenderTemplate fills a toolchain include template. Unknown fields are
// errors, so a template and its data cannot drift apart silently.
func RenderTemplate(name, text string, d TemplateData) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// SampleData returns the data a template is checked with: plausible values
// for the component named in the file name (toolchain-<component>.yml.tmpl),
// once with a branch and once without, and once with each kind of URL a
// repository may be configured with (https, file, ssh, git, a plain path).
func SampleData(templateName string) []TemplateData {
	component := strings.TrimSuffix(strings.TrimPrefix(path.Base(templateName), "toolchain-"), ".yml.tmpl")
	repo := map[string]struct{ url, branch string }{
		"gcc":      {"https://gcc.gnu.org/git/gcc.git", "releases/gcc-13"},
		"binutils": {"https://sourceware.org/git/binutils-gdb.git", "binutils-2_42-branch"},
		"glibc":    {"https://sourceware.org/git/glibc.git", "release/2.39/master"},
		"linux":    {"https://git.yoctoproject.org/linux-yocto.git", "v6.6/standard/base"},
	}[component]
	if repo.url == "" {
		repo.url, repo.branch = "https://example.org/toolchain.git", "main"
	}
	rev := "0123456789abcdef0123456789abcdef01234567"
	return []TemplateData{
		{URL: repo.url, Rev: rev, Branch: repo.branch},
		{URL: repo.url, Rev: rev, Branch: ""},
		{URL: "file:///srv/git/" + component + ".git", Rev: rev, Branch: "main"},
		{URL: "ssh://git@example.org/toolchain/" + component + ".git", Rev: rev, Branch: "main"},
		{URL: "git://example.org/" + component + ".git", Rev: rev, Branch: "main"},
		{URL: "/srv/git/" + component + ".git", Rev: rev, Branch: "main"},
	}
}

// checkTemplate renders a template with every sample and checks each
// result as a kas file that is passed to kas after a project file
// (`kas build project.yml:include.yml`): valid on its own, and not
// replacing a local_conf_header block of the shipped files.
func checkTemplate(repoRoot, p string, schema []byte, shipped map[string]*kasFile) []error {
	name := rel(repoRoot, p)
	text, err := os.ReadFile(p)
	if err != nil {
		return []error{err}
	}
	var errs []error
	seen := map[string]bool{}
	add := func(e *Error) {
		if !seen[e.Msg] { // the same problem in every rendering: once is enough
			seen[e.Msg] = true
			errs = append(errs, e)
		}
	}
	for _, d := range SampleData(name) {
		out, err := RenderTemplate(name, string(text), d)
		if err != nil {
			add(&Error{File: name, Msg: err.Error()})
			return errs
		}
		label := fmt.Sprintf("%s (rendered with URL %s, branch %q)", name, d.URL, d.Branch)
		kf, kerrs := checkKasData(label, out, schema)
		for _, e := range kerrs {
			add(e.(*Error))
		}
		if kf == nil {
			continue
		}
		if !bytes.Contains(out, []byte(d.Rev)) {
			add(&Error{File: name, Msg: "the rendered include does not contain the revision under test: {{.Rev}} is unused"})
		}
		if ver, line, ok := kasVersion(kf); ok && ver > FormatVersion {
			add(&Error{File: name, Line: line, Msg: fmt.Sprintf("header.version %d: tcbot's kas files stay at format %d or older", ver, FormatVersion)})
		}
		if child(kf.root, "repos") != nil || child(kf.root, "header") != nil && child(child(kf.root, "header"), "includes") != nil {
			add(&Error{File: name, Msg: "a toolchain include sets local.conf only; repositories and includes belong in the project files"})
		}
		hdr := child(kf.root, "local_conf_header")
		if hdr == nil || hdr.Kind != yaml.MappingNode {
			add(&Error{File: name, Msg: "renders no local_conf_header: the include would not pin anything"})
			continue
		}
		for i := 0; i+1 < len(hdr.Content); i += 2 {
			key := hdr.Content[i]
			for _, sname := range sortedKeys(shipped) {
				sh := child(shipped[sname].root, "local_conf_header")
				if k := keyNode(sh, key.Value); k != nil {
					add(&Error{File: name, Line: key.Line, Msg: fmt.Sprintf("local_conf_header key %q is also used by %s:%d: kas would replace that block instead of adding this one", key.Value, sname, k.Line)})
				}
			}
		}
	}
	return errs
}
