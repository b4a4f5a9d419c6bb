package conf_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/conf"
)

// TestErrorsStayErrors: a bad file is one *FileError whose problems are
// *PathErrors with their YAML paths, no config beside it, and the
// causes stay reachable with errors.Is and errors.As.
func TestErrorsStayErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flashgate.yaml")
	yaml := "server: {read_timeout: soon}\nroutes: [{path: x, action: {type: json, endpoint: nope}}]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(path)
	if cfg != nil {
		t.Fatalf("a config beside the error: %+v", cfg)
	}
	var fe *conf.FileError
	if !errors.As(err, &fe) || fe.File != path {
		t.Fatalf("not a FileError of %s: %#v", path, err)
	}
	var paths []string
	for _, e := range fe.Errs {
		var pe *conf.PathError
		if !errors.As(e, &pe) {
			t.Fatalf("problem without a path: %#v", e)
		}
		paths = append(paths, pe.Path)
	}
	want := "server.read_timeout routes[0].path routes[0].action.endpoint"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("paths %q, want %q", got, want)
	}
	for _, l := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(l, "flashgate.yaml: ") || strings.HasPrefix(l, "flashgate.yaml: flashgate.yaml") {
			t.Errorf("line %q does not name the file once", l)
		}
	}
	if _, err := conf.Load(filepath.Join(dir, "none.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// A wrapped cause is still reachable through the file and the path.
	sentinel := errors.New("boom")
	wrapped := conf.InFile(path, errors.Join(conf.AtPath("routes[1]", sentinel), conf.InFile("", conf.AtPath("x", sentinel))))
	if !errors.Is(wrapped, sentinel) || len(wrapped.(*conf.FileError).Errs) != 2 {
		t.Errorf("cause lost or leaves not opened: %v", wrapped)
	}
	if got := wrapped.Error(); got != "flashgate.yaml: routes[1]: boom\nflashgate.yaml: x: boom" {
		t.Errorf("message %q", got)
	}
}

// TestYAMLProblemsOneALine: the parser's list of problems (here a key
// given twice, twice) becomes one problem a line, each naming its line,
// with no bare "unmarshal errors:" header among them.
func TestYAMLProblemsOneALine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dup.yaml")
	yaml := "server: {listen: '127.0.0.1:1'}\nserver: {listen: '127.0.0.1:2'}\nlog: {}\nlog: {}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := conf.Load(path)
	got := conf.Problems(err)
	want := []string{
		`dup.yaml: yaml: line 2: mapping key "server" already defined at line 1`,
		`dup.yaml: yaml: line 4: mapping key "log" already defined at line 3`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems %q, want %q", got, want)
	}
}
