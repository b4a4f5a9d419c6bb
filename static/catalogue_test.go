package static

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/internal/ident"
)

func TestParseCatalogueValid(t *testing.T) {
	want := []Product{
		{ID: "phone-x", Name: "Phone X", Description: "The phone everyone queues for. <b>Limited</b> & fast.",
			Price: "¥4999.00", Image: "/img/phone-x.jpg", Activity: "flash-phone",
			Attrs: map[string]string{"colour": "black", "storage": "256 GB"}},
		{ID: "mug", Name: "Flash Mug", Description: "Holds coffee while you wait for the sale.",
			Price: "¥29.00", Image: "/img/mug.jpg"},
		{ID: "tee_2", Name: "T-shirt", Price: "99.00", Attrs: map[string]string{"size": "M"}},
	}
	got, err := readCatalogue("testdata/catalogue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
}

func TestParseCatalogueForms(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ids  []string
	}{
		{"empty file", "", nil},
		{"null", "~\n", nil},
		{"comment only", "# nothing yet\n", nil},
		{"bare list", "- {id: a, name: A}\n- {id: b, name: B}\n", []string{"a", "b"}},
		{"products key", "products:\n  - {id: a, name: A}\n", []string{"a"}},
		{"products null", "products:\n", nil},
		{"json with tabs", "{\n\t\"products\": [\n\t\t{\"id\": \"a\", \"name\": \"A\", \"price\": 12.5}\n\t]\n}\n", []string{"a"}},
		{"json list", `[{"id":"a","name":"A","attrs":{"k":"v"}}]`, []string{"a"}},
		{"anchor and alias", "- &x {id: a, name: A, attrs: &at {k: v}}\n- {id: b, name: B, attrs: *at}\n", []string{"a", "b"}},
		{"null fields", "- {id: a, name: A, description: ~, attrs: ~}\n", []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := parseCatalogue([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, p := range ps {
				ids = append(ids, p.ID)
			}
			if !reflect.DeepEqual(ids, tc.ids) {
				t.Errorf("ids = %q, want %q", ids, tc.ids)
			}
		})
	}
}

func TestReadCatalogueJSONFile(t *testing.T) {
	ps, err := readCatalogue("testdata/catalogue.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Price != "¥4999.00" || ps[1].Attrs["colour"] != "white" {
		t.Errorf("got %#v", ps)
	}
}

// TestCatalogueErrors runs every testdata/catalogue/*.yaml against the
// exact error text in the .err file beside it.
func TestCatalogueErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/catalogue/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".err")
			if err != nil {
				t.Fatal(err)
			}
			_, err = readCatalogue(f)
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); got != strings.TrimSpace(string(want)) {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestCatalogueMissingFile(t *testing.T) {
	_, err := readCatalogue("testdata/nope.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), "static.catalogue: open testdata/nope.yaml: ") {
		t.Errorf("err = %v", err)
	}
}

func TestCatalogueErrorCap(t *testing.T) {
	var b strings.Builder
	for i := range maxErrors + 7 {
		fmt.Fprintf(&b, "- {id: a%d}\n", i) // name required
	}
	_, err := parseCatalogue([]byte(b.String()))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "static.catalogue: 7 more errors not shown" {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func FuzzCatalogue(f *testing.F) {
	for _, s := range []string{
		"", "~", "- {id: a, name: A}", "products: [{id: a, name: A, attrs: {k: v}}]",
		`{"products":[{"id":"a","name":"A"}]}`, "- &a {id: a, name: A}\n- *a\n",
		"a: &a [*a]", "- {<<: {id: a}, name: A}", "products: !!binary aGVsbG8=",
		"- [1, 2]\n- {? [a]: b}\n", "---\n---\n",
	} {
		f.Add([]byte(s))
	}
	if files, _ := filepath.Glob("testdata/catalogue/*.yaml"); len(files) > 0 {
		for _, fn := range files {
			b, _ := os.ReadFile(fn)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := parseCatalogue(data)
		if err != nil {
			if ps != nil {
				t.Fatal("products returned with an error")
			}
			if !strings.HasPrefix(err.Error(), keyCatalogue+": ") {
				t.Fatalf("error without key prefix: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range ps {
			if !ident.Valid(p.ID) || strings.TrimSpace(p.Name) == "" || seen[p.ID] {
				t.Fatalf("invalid product accepted: %#v", p)
			}
			seen[p.ID] = true
		}
	})
}
