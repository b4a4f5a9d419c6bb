package gateway

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRedisOpsCoverCode: every command the code builds (c.B().Xxx()) has
// its own op label, so flashgate_redis_*{op="other"} stays empty and an
// incident's Redis panel names the command that fails (HMGET of the sync
// loop, WAIT of wait_replicas, ...).
func TestRedisOpsCoverCode(t *testing.T) {
	var files []string
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != ".." {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`B\(\)\.([A-Z][a-z]+)`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			if op := strings.ToUpper(m[1]); !slices.Contains(redisOps, op) && op != "FLUSHALL" {
				t.Errorf("%s sends %s, which redisOps lacks: it would be counted as op=\"other\"", f, op)
			}
		}
	}
}
