package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// This file checks the shape of every value in the file before it is
// decoded: a value of the wrong type (jobs: two, poll: [1], branches:
// main), out of range (jobs: -4, samples: -3) or a duration without a unit
// (reconcile: 10) is an error naming the file, the line, the key and the
// form the key wants. The expected form lives on the struct field, in the
// tags:
//
//	want:"a positive whole number such as 4"   what to write instead
//	min:"1" max:"1000"                         bounds of a number or size
//	zero:"ok"                                  a duration may be 0
//
// A bad value is replaced by null before decoding, so the key keeps its
// default, decoding goes on and every other problem of the file is
// reported with it. Nothing wrong is ever silently replaced by a default:
// the replacement only happens alongside an error.

// problem is one error of a config, with the line it is on (0: none) so
// the errors of a file can be listed in file order.
type problem struct {
	line int
	err  error
}

func joinProblems(ps []problem) error {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].line < ps[j].line })
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p.err
	}
	return errors.Join(errs...)
}

var (
	durationType = reflect.TypeOf(Duration(0))
	byteSizeType = reflect.TypeOf(ByteSize(0))
)

// shapeChecker walks a YAML document alongside the Go type it decodes into.
type shapeChecker struct {
	path  string
	probs []problem
}

func (s *shapeChecker) bad(line int, key, format string, args ...any) {
	loc := s.path
	if line > 0 {
		loc = fmt.Sprintf("%s:%d", s.path, line)
	}
	s.probs = append(s.probs, problem{line, fmt.Errorf("%s: %s: %s", loc, key, fmt.Sprintf(format, args...))})
}

// checkShape checks the document c.root against Config, turning every bad
// value into null so that decoding cannot fail on it, and removing keys
// written twice (the first one stays).
func (c *Config) checkShape() []problem {
	s := &shapeChecker{path: c.Path}
	doc := c.root.Content[0]
	if doc.Kind != yaml.MappingNode {
		s.bad(doc.Line, "config", "%s: want a mapping of keys such as repos: and targets: (see README, Configuration)", describe(doc))
		*doc = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: doc.Line, Column: doc.Column}
		return s.probs
	}
	s.check(doc, reflect.TypeOf(Config{}), "", "")
	return s.probs
}

func nullNode(n *yaml.Node) {
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node that has the wrong kind.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return strconv.Quote(n.Value)
}

// join makes the key path of a mapping entry: github.token_env.
func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

// wantOf is the expected form of a key: its want tag, or one by type.
func wantOf(t reflect.Type, tag reflect.StructTag) string {
	if w := tag.Get("want"); w != "" {
		return w
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		return "a duration such as 5m or 90s"
	case t == byteSizeType:
		return "a size such as 8GiB, 512MiB or 4G, or a number of bytes"
	}
	switch t.Kind() {
	case reflect.String:
		return "a single value"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list such as [a, b]"
	case reflect.Map, reflect.Struct:
		return "a mapping of keys (key: value)"
	}
	return "another value"
}

// check checks node n, which decodes into a value of type t at key. It
// returns false when n cannot be used: the caller turns it into null.
func (s *shapeChecker) check(n *yaml.Node, t reflect.Type, key string, tag reflect.StructTag) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		// Check what the alias stands for, but never change the anchor:
		// another key may use it with another type.
		cp := *n.Alias
		cp.Line, cp.Column = n.Line, n.Column
		return s.check(&cp, t, key, tag)
	}
	if isNull(n) {
		return true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want := wantOf(t, tag)
	switch t {
	case durationType:
		return s.checkDuration(n, key, want, tag.Get("zero") != "")
	case byteSizeType:
		return s.checkByteSize(n, key, want, tag)
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			s.bad(n.Line, key, "%s is not a mapping: want %s", describe(n), want)
			return false
		}
		s.checkStruct(n, t, key)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			s.bad(n.Line, key, "%s is not a mapping: want %s", describe(n), want)
			return false
		}
		s.eachPair(n, key, func(k, v *yaml.Node) {
			if k.ShortTag() == "!!merge" {
				s.checkMerge(v, t, key, tag)
				return
			}
			if !s.check(v, t.Elem(), join(key, k.Value), tag) {
				nullNode(v)
			}
		})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			s.bad(n.Line, key, "%s is not a list: want %s", describe(n), want)
			return false
		}
		for i, e := range n.Content {
			if !s.check(e, t.Elem(), fmt.Sprintf("%s[%d]", key, i), tag) {
				nullNode(e)
			}
		}
	default:
		return s.checkScalar(n, t, key, want, tag)
	}
	return true
}

// eachPair calls f on each key and value of mapping n, after reporting
// and removing keys written twice.
func (s *shapeChecker) eachPair(n *yaml.Node, key string, f func(k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); {
		k, v := n.Content[i], n.Content[i+1]
		if first, dup := seen[k.Value]; dup && k.ShortTag() != "!!merge" {
			s.bad(k.Line, join(key, k.Value), "already defined at line %d: write each key once", first)
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			continue
		}
		seen[k.Value] = k.Line
		f(k, v)
		i += 2
	}
}

// checkMerge checks the value of a merge key (<<: *defaults), another
// mapping of type t or a list of them.
func (s *shapeChecker) checkMerge(v *yaml.Node, t reflect.Type, key string, tag reflect.StructTag) {
	if v.Kind == yaml.SequenceNode {
		for _, e := range v.Content {
			s.check(e, t, key, tag)
		}
		return
	}
	s.check(v, t, key, tag)
}

// field is a key of a struct, found by its yaml tag.
type field struct {
	typ reflect.Type
	tag reflect.StructTag
}

// fieldsOf lists the keys of struct t, those of inline structs included.
func fieldsOf(t reflect.Type) map[string]field {
	out := map[string]field{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range fieldsOf(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = field{f.Type, f.Tag}
	}
	return out
}

func (s *shapeChecker) checkStruct(n *yaml.Node, t reflect.Type, key string) {
	fields := fieldsOf(t)
	s.eachPair(n, key, func(k, v *yaml.Node) {
		if k.ShortTag() == "!!merge" {
			s.checkMerge(v, t, key, "")
			return
		}
		sub := join(key, k.Value)
		f, ok := fields[k.Value]
		if !ok {
			s.bad(k.Line, sub, "unknown key%s: check its spelling against the README's Configuration section", suggest(k.Value, fields))
			// Unknown keys are not decoded at all.
			return
		}
		if !s.check(v, f.typ, sub, f.tag) {
			nullNode(v)
		}
	})
}

// suggest names the known key closest to a misspelt one, if one is close.
func suggest(name string, fields map[string]field) string {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(name, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkScalar checks a string, bool or number by decoding it as yaml.v3
// will, then its bounds.
func (s *shapeChecker) checkScalar(n *yaml.Node, t reflect.Type, key, want string, tag reflect.StructTag) bool {
	if n.Kind != yaml.ScalarNode {
		s.bad(n.Line, key, "%s where one value belongs: want %s", describe(n), want)
		return false
	}
	v := reflect.New(t)
	if err := n.Decode(v.Interface()); err != nil {
		quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
		f, ferr := strconv.ParseFloat(n.Value, 64)
		switch t.Kind() {
		case reflect.Bool:
			s.bad(n.Line, key, "%q is not true or false: want %s", n.Value, want)
		case reflect.Float32, reflect.Float64:
			if quoted && ferr == nil {
				s.bad(n.Line, key, "%q is quoted text: write %s without quotes", n.Value, n.Value)
			} else {
				s.bad(n.Line, key, "%q is not a number: want %s", n.Value, want)
			}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			switch {
			case quoted && ferr == nil:
				s.bad(n.Line, key, "%q is quoted text: write %s without quotes", n.Value, n.Value)
			case ferr == nil && f == math.Trunc(f):
				s.bad(n.Line, key, "%s is too large: want %s", n.Value, want)
			case ferr == nil:
				s.bad(n.Line, key, "%s is not a whole number: want %s", n.Value, want)
			default:
				s.bad(n.Line, key, "%q is not a number: want %s", n.Value, want)
			}
		default:
			s.bad(n.Line, key, "%q: want %s", n.Value, want)
		}
		return false
	}
	var x float64
	switch v := v.Elem(); v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		// yaml.v3 truncates 1.5 to 1 without a word.
		if f, err := strconv.ParseFloat(n.Value, 64); n.ShortTag() == "!!float" && (err != nil || f != math.Trunc(f)) {
			s.bad(n.Line, key, "%s is not a whole number: want %s", n.Value, want)
			return false
		}
		x = float64(v.Int())
	case reflect.Float32, reflect.Float64:
		x = v.Float()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if tag.Get("min") != "" || tag.Get("max") != "" {
				s.bad(n.Line, key, "%s is not a number: want %s", n.Value, want)
				return false
			}
			return true // the key's own check (Validate) decides
		}
	default:
		return true
	}
	return s.bounds(n, key, want, x, tag, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
}

// bounds checks x against the min and max tags, which parse reads.
func (s *shapeChecker) bounds(n *yaml.Node, key, want string, x float64, tag reflect.StructTag, parse func(string) (float64, error)) bool {
	if m := tag.Get("min"); m != "" {
		lo, err := parse(m)
		if err != nil {
			panic(fmt.Sprintf("config: bad min tag %q on %s: %v", m, key, err))
		}
		if x < lo {
			if x < 0 && lo >= 0 {
				s.bad(n.Line, key, "%s is negative: want %s", n.Value, want)
			} else {
				s.bad(n.Line, key, "%s is too small (at least %s): want %s", n.Value, m, want)
			}
			return false
		}
	}
	if m := tag.Get("max"); m != "" {
		hi, err := parse(m)
		if err != nil {
			panic(fmt.Sprintf("config: bad max tag %q on %s: %v", m, key, err))
		}
		if x > hi {
			s.bad(n.Line, key, "%s is too large (at most %s): want %s", n.Value, m, want)
			return false
		}
	}
	return true
}

func (s *shapeChecker) checkDuration(n *yaml.Node, key, want string, zeroOK bool) bool {
	if n.Kind != yaml.ScalarNode {
		s.bad(n.Line, key, "%s is not a duration: want %s", describe(n), want)
		return false
	}
	d, err := parseDuration(n.Value)
	switch {
	case errors.Is(err, errNegative):
		s.bad(n.Line, key, "%q is negative: want %s", n.Value, want)
	case err != nil:
		if _, ferr := strconv.ParseFloat(n.Value, 64); ferr == nil {
			s.bad(n.Line, key, "%q has no unit: want %s", n.Value, want)
		} else {
			s.bad(n.Line, key, "%q is not a duration: want %s", n.Value, want)
		}
	case d == 0 && !zeroOK:
		s.bad(n.Line, key, "%q is zero: want %s", n.Value, want)
	default:
		return true
	}
	return false
}

func (s *shapeChecker) checkByteSize(n *yaml.Node, key, want string, tag reflect.StructTag) bool {
	if n.Kind != yaml.ScalarNode {
		s.bad(n.Line, key, "%s is not a size: want %s", describe(n), want)
		return false
	}
	b, err := ParseByteSize(n.Value)
	if err != nil {
		s.bad(n.Line, key, "%q %v: want %s", n.Value, err, want)
		return false
	}
	return s.bounds(n, key, want, float64(b), tag, func(s string) (float64, error) {
		b, err := ParseByteSize(s)
		return float64(b), err
	})
}

// Duration is a time.Duration written as "5m" or "90s" in YAML; 0 (or "")
// is zero.
type Duration time.Duration

var errNegative = errors.New("is negative")

// UnmarshalYAML reads "5m", "90s" or 0. (Parse checks every duration of a
// file, with its key, before decoding.)
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration: write e.g. 5m or 90s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// parseDuration reads a non-negative duration; a number needs a unit,
// except 0.
func parseDuration(s string) (time.Duration, error) {
	if s == "0" || s == "" {
		return 0, nil
	}
	v, err := time.ParseDuration(s)
	if err == nil && v < 0 {
		err = errNegative
	}
	return v, err
}

// ByteSize is a number of bytes written as 8GiB, 512MiB, 4G or a plain
// number in YAML. K, M, G and T, with or without "iB", are powers of
// 1024 (as in systemd and docker); kB, MB, GB and TB are powers of 1000.
type ByteSize int64

// UnmarshalYAML reads a size such as 8GiB.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q %v: write e.g. 8GiB", n.Line, n.Value, err)
	}
	*b = v
	return nil
}

var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// ParseByteSize reads a size such as "8GiB", "512MiB", "4G" or "1048576".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("has an unknown unit %q", strings.TrimSpace(t[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	switch {
	case num == "" || err != nil:
		return 0, errors.New("is not a size")
	case v < 0:
		return 0, errNegative
	case v*mult >= math.MaxInt64:
		return 0, errors.New("is too large")
	}
	return ByteSize(v * mult), nil
}

// String writes b the way a config would: 8GiB, 512MiB, or bytes.
func (b ByteSize) String() string {
	for _, u := range []struct {
		name string
		size ByteSize
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b >= u.size && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
