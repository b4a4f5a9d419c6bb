package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// installLock serialises apt-get across test binaries: `go test ./...` runs
// one binary per package in parallel, and dpkg allows one writer at a time.
const installLock = "/tmp/flashgate-redis-install.lock"

// installTimeout bounds apt-get update plus install, so a broken mirror
// fails the test instead of hanging it until the go test deadline.
const installTimeout = 5 * time.Minute

// installHint is the whole remedy, so that an error needs no reading of code.
const installHint = "install it with `sudo apt-get update && sudo apt-get install -y redis-server` " +
	"(Debian/Ubuntu), or put redis-server and redis-cli on PATH"

// searchDirs are looked in after PATH, because test environments often
// run with a PATH that lacks the sbin and local directories.
var searchDirs = []string{"/usr/bin", "/usr/local/bin", "/usr/sbin", "/usr/local/sbin"}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of redis-server, with redis-cli beside it. When
// either is missing and the process runs as root, it installs Debian's
// redis-server package (which pulls in redis-tools) with apt-get; otherwise
// it returns an error that says how to install it. The result is computed
// once per process; a file lock keeps parallel test binaries from running
// apt-get at the same time.
func Binary() (string, error) {
	binOnce.Do(func() { binPath, binErr = findOrInstall() })
	return binPath, binErr
}

// CLI returns the path of the redis-cli that sits beside Binary's server.
func CLI() (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(bin), "redis-cli"), nil
}

func findOrInstall() (string, error) {
	if p, ok := lookup(); ok {
		return p, nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", fmt.Errorf("redistest: redis-server not found and apt-get is unavailable: %s", installHint)
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("redistest: redis-server not found and not running as root: %s", installHint)
	}
	unlock, err := lockFile(installLock)
	if err != nil {
		return "", fmt.Errorf("redistest: %w", err)
	}
	defer unlock()
	// Another test binary may have installed it while we waited for the lock.
	if p, ok := lookup(); ok {
		return p, nil
	}
	if err := aptInstall(); err != nil {
		return "", fmt.Errorf("redistest: installing redis-server: %w; %s", err, installHint)
	}
	if p, ok := lookup(); ok {
		return p, nil
	}
	return "", fmt.Errorf("redistest: apt-get installed redis-server but it is not on PATH or in %v; %s", searchDirs, installHint)
}

// lookup finds a redis-server that has a redis-cli in the same directory,
// so that the pair always comes from one installation.
func lookup() (string, bool) {
	var cands []string
	if p, err := exec.LookPath("redis-server"); err == nil {
		cands = append(cands, p)
	}
	for _, d := range searchDirs {
		cands = append(cands, filepath.Join(d, "redis-server"))
	}
	for _, p := range cands {
		if isExec(p) && isExec(filepath.Join(filepath.Dir(p), "redis-cli")) {
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
			return p, true
		}
	}
	return "", false
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// lockFile takes an exclusive flock on path; the returned func releases it.
// flock, unlike a lock directory, is released by the kernel when a test
// binary dies, so a crash never leaves the next run waiting forever.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// aptInstall runs apt-get update and install. The dpkg lock timeout makes
// apt-get wait for another apt run (on a shared machine) instead of failing.
func aptInstall() error {
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	steps := [][]string{
		{"apt-get", "-o", "DPkg::Lock::Timeout=120", "update"},
		{"apt-get", "-o", "DPkg::Lock::Timeout=120", "install", "-y", "--no-install-recommends", "redis-server"},
	}
	for _, args := range steps {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				err = fmt.Errorf("timed out after %s", installTimeout)
			}
			return fmt.Errorf("%v: %w\n%s", args, err, tail(out, 2000))
		}
	}
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

var (
	versionOnce  sync.Once
	versionMajor int
)

var versionRE = regexp.MustCompile(`v=(\d+)\.`)

// majorVersion is redis-server's major version, 0 if it cannot be told.
// It decides whether the cluster bus port can be set (cluster-port, 7.0+)
// or must be the client port + 10000.
func majorVersion(bin string) int {
	versionOnce.Do(func() {
		out, err := exec.Command(bin, "--version").Output()
		if err != nil {
			return
		}
		if m := versionRE.FindSubmatch(bytes.TrimSpace(out)); m != nil {
			versionMajor, _ = strconv.Atoi(string(m[1]))
		}
	})
	return versionMajor
}
