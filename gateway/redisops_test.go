package gateway

import (
	"os"
	"os/exec"
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
	out, err := exec.Command("git", "ls-files", "../*.go").Output()
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`B\(\)\.([A-Z][a-z]+)`)
	for _, f := range strings.Fields(string(out)) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
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
