package conf

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// checkKeys reports every key of the YAML document data that the schema
// (out's mapstructure tags) does not know, with its YAML path, whatever
// its value. Strict decoding alone cannot: viper flattens the file into
// leaves, so a key whose value is empty (`logging: {}`, `logging:`) has no
// leaf and never reaches mapstructure's ErrorUnused. Maps and `any`
// fields (filter settings, endpoint config) are not walked here: their
// owners decode them strictly from values viper keeps whole.
func checkKeys(errs *Errors, data []byte, out any) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return // viper has already reported a YAML error
	}
	walkKeys(errs, "", doc.Content[0], reflect.TypeOf(out))
}

// notAMapping refuses a file whose top level is not a mapping of
// sections (a list, a bare value) in words, where the YAML decoder would
// say "cannot unmarshal !!seq into map[string]interface {}". A file that
// does not parse, or is empty, is left to the decoder.
func notAMapping(data []byte) error {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.MappingNode || root.Kind == yaml.AliasNode {
		return nil
	}
	what := map[yaml.Kind]string{yaml.SequenceNode: "a list", yaml.ScalarNode: "a single value"}[root.Kind]
	if what == "" {
		what = "something else"
	}
	return fmt.Errorf("line %d: the file must be a mapping of sections (server:, routes:, ...), got %s", root.Line, what)
}

var timeType = reflect.TypeOf(time.Time{})

func walkKeys(errs *Errors, path string, n *yaml.Node, t reflect.Type) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType || t == filterType: // a filter's keys are its type's (decodeSections)
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		var unknown []string
		for key, val := range mappingPairs(n) {
			f, ok := fieldByTag(t, key)
			if !ok {
				unknown = append(unknown, key)
				continue
			}
			walkKeys(errs, Join(path, key), val, f.Type)
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			errs.Addf(path, "unknown field(s): %s", strings.Join(unknown, ", "))
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			walkKeys(errs, Index(path, i), item, t.Elem())
		}
	}
	// Anything else is a scalar, a map or a wrong type, which the decoder
	// checks.
}

// mappingPairs yields the keys of a YAML mapping with their values,
// following merge keys (<<: *base) as YAML and viper do.
func mappingPairs(n *yaml.Node) func(yield func(string, *yaml.Node) bool) {
	return func(yield func(string, *yaml.Node) bool) {
		var walk func(m *yaml.Node) bool
		walk = func(m *yaml.Node) bool {
			for m.Kind == yaml.AliasNode && m.Alias != nil {
				m = m.Alias
			}
			if m.Kind != yaml.MappingNode {
				return true
			}
			for i := 0; i+1 < len(m.Content); i += 2 {
				k, v := m.Content[i], m.Content[i+1]
				if k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0) {
					merged := []*yaml.Node{v}
					if v.Kind == yaml.SequenceNode {
						merged = v.Content
					}
					for _, mm := range merged {
						if !walk(mm) {
							return false
						}
					}
					continue
				}
				if !yield(k.Value, v) {
					return false
				}
			}
			return true
		}
		walk(n)
	}
}

// fieldByTag finds the field of struct t whose mapstructure tag is key,
// matching case-insensitively as viper and mapstructure do.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		if strings.EqualFold(tag, key) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
