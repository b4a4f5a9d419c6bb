package watch

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// start watches path and returns a channel of the content each callback
// saw.
func start(t *testing.T, path string, debounce time.Duration) <-chan string {
	t.Helper()
	got := make(chan string, 16)
	w, err := File(path, debounce, func() {
		b, _ := os.ReadFile(path)
		got <- string(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return got
}

// next returns the content of the next callback that saw a non-empty
// file. os.WriteFile truncates before it writes, and on a loaded machine
// the debounce can end between the two: the watcher then rightly reports
// the empty file (a reload of it fails and the old config keeps serving)
// and then the written one. Only that truncation is skipped.
func next(t *testing.T, got <-chan string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-got:
			if s == "" {
				continue
			}
			return s
		case <-deadline:
			t.Fatal("no callback within 10s")
			return ""
		}
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatch(t *testing.T) {
	tests := []struct {
		name string
		// change changes the file at path to content in its own way.
		change func(t *testing.T, dir, path, content string)
	}{
		{"write in place", func(t *testing.T, _, path, content string) { write(t, path, content) }},
		{"rename over (editors)", func(t *testing.T, dir, path, content string) {
			tmp := filepath.Join(dir, ".flashgate.yaml.swp")
			write(t, tmp, content)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "flashgate.yaml")
			write(t, path, "v0")
			got := start(t, path, 50*time.Millisecond)
			tc.change(t, dir, path, "v1")
			if s := next(t, got); s != "v1" {
				t.Fatalf("first change: callback saw %q", s)
			}
			// Touching without a change calls nothing: the next callback
			// is the next real change.
			now := time.Now()
			if err := os.Chtimes(path, now, now); err != nil {
				t.Fatal(err)
			}
			write(t, path, "v1")
			tc.change(t, dir, path, "v2")
			if s := next(t, got); s != "v2" {
				t.Fatalf("after a touch: callback saw %q, want v2", s)
			}
		})
	}
}

// TestWatchBurst: writes that come faster than the debounce make one
// callback, with the last content.
func TestWatchBurst(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flashgate.yaml")
	write(t, path, "v0")
	got := start(t, path, time.Second)
	for _, s := range []string{"a", "b", "c", "d"} {
		write(t, path, s)
	}
	if s := next(t, got); s != "d" {
		t.Fatalf("burst: first callback saw %q, want the last write", s)
	}
}

// TestWatchConfigMapSwap does what the kubelet does to a mounted
// ConfigMap: the file is a symlink through "..data" into a timestamped
// directory, and an update writes a new directory and renames a new
// "..data" symlink over the old one.
func TestWatchConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, content string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "flashgate.yaml"), content)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_12_01_00_00_00.1", "v0")
	path := filepath.Join(dir, "flashgate.yaml")
	if err := os.Symlink("..data/flashgate.yaml", path); err != nil {
		t.Fatal(err)
	}
	got := start(t, path, 50*time.Millisecond)
	version("..2026_12_01_00_01_00.2", "v1")
	if err := os.RemoveAll(filepath.Join(dir, "..2026_12_01_00_00_00.1")); err != nil {
		t.Fatal(err)
	}
	if s := next(t, got); s != "v1" {
		t.Fatalf("first swap: callback saw %q", s)
	}
	version("..2026_12_01_00_02_00.3", "v2")
	if s := next(t, got); s != "v2" {
		t.Fatalf("second swap: callback saw %q", s)
	}
}

// TestWatchSymlinkTarget: a path that is a symlink into another directory
// sees the target edited in place there.
func TestWatchSymlinkTarget(t *testing.T) {
	real, link := t.TempDir(), t.TempDir()
	target := filepath.Join(real, "flashgate.yaml")
	write(t, target, "v0")
	path := filepath.Join(link, "flashgate.yaml")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	got := start(t, path, 50*time.Millisecond)
	write(t, target, "v1")
	if s := next(t, got); s != "v1" {
		t.Fatalf("target edit: callback saw %q", s)
	}
}

func TestWatchBadDebounce(t *testing.T) {
	if _, err := File(filepath.Join(t.TempDir(), "x"), 0, func() {}); err == nil {
		t.Fatal("debounce 0 accepted")
	}
}
