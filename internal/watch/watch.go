// Package watch calls back when a config file's content changes, for the
// gateway's reload on file change.
//
// It watches directories, not the file: editors replace a file by
// renaming a new one over it, and Kubernetes updates a mounted ConfigMap
// by swapping the "..data" symlink in the file's directory, so a watch on
// the file itself would be left on a deleted inode. On any event in the
// file's directory, or in the directory its symlinks resolve to, the
// watcher waits for the events to settle (debounce), resolves the path
// again and compares the content's hash with the last one it saw: only a
// real change calls back, once per burst of events.
package watch

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher watches one file until Close.
type Watcher struct {
	path     string
	debounce time.Duration
	changed  func()
	w        *fsnotify.Watcher

	mu     sync.Mutex
	target string // directory the path resolves into, when not its own
	sum    [sha256.Size]byte
	stop   chan struct{}
	done   chan struct{}
}

// File starts watching path; changed runs (on the watcher's goroutine, one
// call at a time) after the content changed and no event came for
// debounce.
func File(path string, debounce time.Duration, changed func()) (*Watcher, error) {
	if debounce <= 0 {
		return nil, errors.New("watch: debounce must be > 0")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	wa := &Watcher{path: abs, debounce: debounce, changed: changed, w: fw,
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := fw.Add(filepath.Dir(abs)); err != nil {
		_ = fw.Close()
		return nil, err
	}
	wa.sum, _ = wa.read()
	wa.follow()
	go wa.loop()
	return wa, nil
}

// read hashes the file's current content.
func (wa *Watcher) read() ([sha256.Size]byte, error) {
	b, err := os.ReadFile(wa.path)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// follow watches the directory the path's symlinks resolve into, when it
// is another one than the path's own, and stops watching the previous one.
func (wa *Watcher) follow() {
	real, err := filepath.EvalSymlinks(wa.path)
	if err != nil {
		return
	}
	dir := filepath.Dir(real)
	if dir == filepath.Dir(wa.path) || dir == wa.target {
		return
	}
	if wa.target != "" {
		_ = wa.w.Remove(wa.target)
	}
	if wa.w.Add(dir) == nil {
		wa.target = dir
	}
}

func (wa *Watcher) loop() {
	defer close(wa.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-wa.stop:
			timer.Stop()
			return
		case _, ok := <-wa.w.Events:
			if !ok {
				return
			}
			timer.Reset(wa.debounce)
		case _, ok := <-wa.w.Errors:
			if !ok {
				return
			}
		case <-timer.C:
			wa.follow()
			sum, err := wa.read()
			if err != nil || sum == wa.sum {
				continue // mid-swap, removed, or touched without a change
			}
			wa.sum = sum
			wa.changed()
		}
	}
}

// Close stops the watcher and waits for a callback in progress.
func (wa *Watcher) Close() error {
	wa.mu.Lock()
	select {
	case <-wa.stop:
		wa.mu.Unlock()
		return nil
	default:
		close(wa.stop)
	}
	wa.mu.Unlock()
	err := wa.w.Close()
	<-wa.done
	return err
}
