package static

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flashgate/flashgate/internal/ident"
)

// Config keys, used as error prefixes so `flashgate check` can print
// errors as they are.
const (
	keyCatalogue = "static.catalogue"
	keyTemplates = "static.templates"
	keyCacheMB   = "static.cache_mb"
)

// maxErrors caps how many catalogue problems are reported: past that the
// file is more likely the wrong file than a file with typos.
const maxErrors = 50

// Product is one catalogue entry, rendered once into a product page.
type Product struct {
	ID          string            `json:"id" yaml:"id"`     // [A-Za-z0-9_-]{1,64}, required, unique
	Name        string            `json:"name" yaml:"name"` // required
	Description string            `json:"description" yaml:"description"`
	Price       string            `json:"price" yaml:"price"` // display string, e.g. "¥99.00"
	Image       string            `json:"image" yaml:"image"`
	Activity    string            `json:"activity" yaml:"activity"` // optional activity id the page's JS polls
	Attrs       map[string]string `json:"attrs" yaml:"attrs"`
}

// readCatalogue reads and parses the catalogue at path; "" means none.
func readCatalogue(path string) ([]Product, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyCatalogue, err)
	}
	return parseCatalogue(data)
}

// parseCatalogue parses a YAML or JSON catalogue (JSON is read as YAML
// flow syntax, so one strict walker serves both): either a list of
// products or a mapping with the single key "products". It walks the node
// tree itself rather than using yaml's Decode so that every problem is
// reported with its path (products[2].name), all at once.
func parseCatalogue(data []byte) (ps []Product, err error) {
	// The YAML parser has panicked on hostile input before; a catalogue
	// must never take the gateway down, so a panic is just a bad file.
	defer func() {
		if r := recover(); r != nil {
			ps, err = nil, fmt.Errorf("%s: yaml: %v", keyCatalogue, r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty file: no products
		}
		return nil, fmt.Errorf("%s: %w", keyCatalogue, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: want one YAML document, found more", keyCatalogue)
	}
	c := &checker{}
	ps = c.root(&doc)
	if len(c.errs) > 0 {
		return nil, c.err()
	}
	return ps, nil
}

// checker collects catalogue errors with their paths.
type checker struct {
	errs    []error
	dropped int
	// Aliased nodes are walked once: *x repeated N times must not cost N
	// walks of x (the YAML "billion laughs" shape).
	items    map[*yaml.Node]Product
	attrSets map[*yaml.Node]map[string]string
}

func (c *checker) add(path, format string, args ...any) {
	if len(c.errs) == maxErrors {
		c.dropped++
		return
	}
	c.errs = append(c.errs, fmt.Errorf("%s: %s: %s", keyCatalogue, path, fmt.Sprintf(format, args...)))
}

func (c *checker) err() error {
	errs := c.errs
	if c.dropped > 0 {
		errs = append(errs, fmt.Errorf("%s: %d more errors not shown", keyCatalogue, c.dropped))
	}
	return errors.Join(errs...)
}

// resolve follows an alias (*name) to its anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (c *checker) root(doc *yaml.Node) []Product {
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	n = resolve(n)
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		return c.products(n)
	case n.Kind == yaml.MappingNode:
		var ps []Product
		seen := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
			switch {
			case k.Kind != yaml.ScalarNode || k.Value != "products":
				c.add(keyName(k), "unknown field (want products)")
			case seen:
				c.add("products", "duplicate field")
			case isNull(v):
				seen = true
			case v.Kind != yaml.SequenceNode:
				seen = true
				c.add("products", "must be a list")
			default:
				seen = true
				ps = c.products(v)
			}
		}
		return ps
	default:
		c.add("(root)", "want a list of products or a mapping with key products")
		return nil
	}
}

func (c *checker) products(seq *yaml.Node) []Product {
	ps := make([]Product, 0, len(seq.Content))
	first := make(map[string]bool, len(seq.Content))
	for i, item := range seq.Content {
		path := fmt.Sprintf("products[%d]", i)
		n := resolve(item)
		if p, again := c.items[n]; again {
			// The same node twice is the same id twice.
			if ident.Valid(p.ID) {
				c.add(path+".id", "duplicate %q", p.ID)
			}
			continue
		}
		p, ok := c.product(path, n)
		if !ok {
			continue
		}
		if n.Anchor != "" {
			remember(&c.items, n, p)
		}
		if ident.Valid(p.ID) {
			if first[p.ID] {
				c.add(path+".id", "duplicate %q", p.ID)
				continue
			}
			first[p.ID] = true
		}
		ps = append(ps, p)
	}
	return ps
}

// product decodes and validates one entry; ok is false when it is not a
// mapping at all.
func (c *checker) product(path string, n *yaml.Node) (p Product, ok bool) {
	if n.Kind != yaml.MappingNode {
		c.add(path, "must be a mapping")
		return p, false
	}
	seen := make(map[string]bool, 8)
	badType := make(map[string]bool) // no "required" on top of "must be a string"
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		name := keyName(k)
		fpath := path + "." + name
		if k.Kind == yaml.ScalarNode && seen[k.Value] {
			c.add(fpath, "duplicate field")
			continue
		}
		seen[k.Value] = true
		var dst *string
		switch name {
		case "id":
			dst = &p.ID
		case "name":
			dst = &p.Name
		case "description":
			dst = &p.Description
		case "price":
			dst = &p.Price
		case "image":
			dst = &p.Image
		case "activity":
			dst = &p.Activity
		case "attrs":
			p.Attrs = c.attrs(fpath, v)
			continue
		case "<<":
			c.add(fpath, "merge keys are not supported")
			continue
		default:
			c.add(fpath, "unknown field")
			continue
		}
		s, ok := scalar(v)
		if !ok {
			c.add(fpath, "must be a string")
			badType[name] = true
		}
		*dst = s
	}
	switch {
	case badType["id"]:
	case p.ID == "":
		c.add(path+".id", "required")
	case !ident.Valid(p.ID):
		c.add(path+".id", "invalid %q: want %s", p.ID, ident.Rule)
	}
	if strings.TrimSpace(p.Name) == "" && !badType["name"] {
		c.add(path+".name", "required")
	}
	if p.Activity != "" && !ident.Valid(p.Activity) {
		c.add(path+".activity", "invalid %q: want %s", p.Activity, ident.Rule)
	}
	return p, true
}

// remember records the result of walking an anchored node.
func remember[V any](m *map[*yaml.Node]V, n *yaml.Node, v V) {
	if *m == nil {
		*m = map[*yaml.Node]V{}
	}
	(*m)[n] = v
}

// attrs decodes an attrs mapping. An anchored mapping (attributes shared
// through aliases) is decoded once and its map shared; nothing writes to
// it after parsing.
func (c *checker) attrs(path string, n *yaml.Node) map[string]string {
	if m, again := c.attrSets[n]; again {
		return m
	}
	m := c.attrMap(path, n)
	if n.Anchor != "" {
		remember(&c.attrSets, n, m)
	}
	return m
}

func (c *checker) attrMap(path string, n *yaml.Node) map[string]string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		c.add(path, "must be a mapping of strings")
		return nil
	}
	m := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		kpath := path + attrPath(keyName(k))
		key, ok := scalar(k)
		if !ok || key == "" {
			c.add(kpath, "key must be a non-empty string")
			continue
		}
		if _, dup := m[key]; dup {
			c.add(kpath, "duplicate key")
			continue
		}
		val, ok := scalar(v)
		if !ok {
			c.add(kpath, "must be a string")
			continue
		}
		m[key] = val
	}
	return m
}

// scalar returns the text of a scalar node. Numbers and booleans keep
// their source text ("99.00" stays "99.00"), null is "".
func scalar(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// keyName renders a mapping key for an error path.
func keyName(k *yaml.Node) string {
	if k.Kind != yaml.ScalarNode {
		return "(non-string key)"
	}
	return k.Value
}

// attrPath renders an attrs key for a path: .color, or ["odd key"].
func attrPath(k string) string {
	if ident.Valid(k) {
		return "." + k
	}
	return fmt.Sprintf("[%q]", k)
}
