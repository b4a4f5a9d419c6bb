package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// Every command answers --help (and -h, and "help CMD") on stdout with
// exit 0, and its help names the exit codes.
func TestHelpEveryCommand(t *testing.T) {
	for _, name := range commandNames() {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errOut bytes.Buffer
				if code := run(args, &out, &errOut); code != exitOK {
					t.Fatalf("exit %d, stderr %q", code, errOut.String())
				}
				if !strings.HasPrefix(out.String(), "usage: flashgate "+name) || errOut.Len() != 0 {
					t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
				}
				if name != "version" && !strings.Contains(out.String(), "Exit codes: 0") {
					t.Fatalf("help of %s does not document its exit codes:\n%s", name, out.String())
				}
			})
		}
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no command", nil, exitConfig, "usage:"},
		{"unknown command", []string{"teleport"}, exitConfig, `unknown command "teleport"`},
		{"top-level help", []string{"--help"}, exitOK, ""},
		{"help for an unknown command", []string{"help", "teleport"}, exitConfig, `unknown command "teleport"`},
		{"serve without config", []string{"serve"}, exitConfig, "--config FILE is required"},
		{"serve unknown flag", []string{"serve", "--nope"}, exitConfig, "flag provided but not defined"},
		{"check missing file", []string{"check", "--config", "/nonexistent/flashgate.yaml"}, exitConfig, "nonexistent"},
		{"check two files", []string{"check", "--config", "../../conf/demo.yaml", "other.yaml"}, exitConfig, `unexpected argument "other.yaml"`},
		{"version with a flag", []string{"version", "--bogus"}, exitConfig, `flashgate version: unexpected argument "--bogus"`},
		{"version with an argument", []string{"version", "extra"}, exitConfig, `unexpected argument "extra"`},
		{"health two targets", []string{"health", "--config", "x", "--url", "y"}, exitConfig, "not both"},
		{"health unreachable", []string{"health", "--url", "http://127.0.0.1:1/healthz", "--timeout", "500ms"}, exitFail, "unhealthy"},
		{"admin no call", []string{"admin", "--token", "t"}, exitConfig, "a CALL is required"},
		{"admin zero timeout", []string{"admin", "--token", "t", "--timeout", "0", "activities"}, exitConfig, "--timeout must be > 0"},
		{"health zero timeout", []string{"health", "--timeout", "0s"}, exitConfig, "--timeout must be > 0"},
		{"admin unknown call", []string{"admin", "--token", "t", "explode"}, exitConfig, `unknown call "explode"`},
		{"admin unreachable", []string{"admin", "--token", "t", "--addr", "127.0.0.1:1", "--timeout", "500ms", "activities"}, exitFail, "GET /admin/activities"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.err) {
				t.Fatalf("stderr %q lacks %q", errOut.String(), tc.err)
			}
		})
	}
}

func TestAdminRequest(t *testing.T) {
	tests := []struct {
		args         []string
		method, path string
		body         string
		bad          bool
	}{
		{args: []string{"activities"}, method: "GET", path: "/admin/activities"},
		{args: []string{"status"}, method: "GET", path: "/admin/status"},
		{args: []string{"reload"}, method: "POST", path: "/admin/reload"},
		{args: []string{"pause", "phone-sale"}, method: "POST", path: "/admin/activities/phone-sale/pause"},
		{args: []string{"resume", "phone-sale"}, method: "POST", path: "/admin/activities/phone-sale/resume"},
		{args: []string{"window", "a1", "2026-11-11T20:00:00+08:00", "-"}, method: "PUT", path: "/admin/activities/a1/window",
			body: `{"end":null,"start":"2026-11-11T20:00:00+08:00"}`},
		{args: []string{"window-clear", "a1"}, method: "DELETE", path: "/admin/activities/a1/window"},
		{args: []string{"warm", "a1"}, method: "POST", path: "/admin/activities/a1/warm"},
		{args: []string{"warm", "a1", "--force"}, method: "POST", path: "/admin/activities/a1/warm?force=true"},
		{args: []string{"warm", "--force", "a1"}, method: "POST", path: "/admin/activities/a1/warm?force=true"},
		{args: []string{"warm", "a1", "a2"}, bad: true},
		{args: []string{"stock", "a1"}, method: "GET", path: "/admin/activities/a1/stock"},
		{args: []string{"topup", "a1", "10"}, method: "POST", path: "/admin/activities/a1/topup?units=10"},
		{args: []string{"release", "a1", "a b", "42"}, method: "POST", path: "/admin/activities/a1/release?user=a+b&seq=42"},
		{args: []string{"paid", "a1", "a1:ann@x:4294967297"}, method: "POST", path: "/admin/activities/a1/orders/a1:ann@x:4294967297/paid"},
		{args: []string{"paid", "a1"}, bad: true},
		{args: []string{"reservations", "a1"}, method: "GET", path: "/admin/activities/a1/reservations"},
		{args: []string{"reserve", "a1", "list.txt"}, method: "POST", path: "/admin/activities/a1/reservations"},
		{args: []string{"blacklist"}, method: "GET", path: "/admin/blacklist"},
		{args: []string{"blacklist-add", "10.0.0.0/8"}, method: "POST", path: "/admin/blacklist?entry=10.0.0.0%2F8"},
		{args: []string{"blacklist-remove", "bot-7"}, method: "DELETE", path: "/admin/blacklist?entry=bot-7"},
		{args: []string{"reserve", "a1"}, bad: true},
		{args: []string{"blacklist-add"}, bad: true},
		{args: []string{"pause"}, bad: true},
		{args: []string{"pause", "a", "b"}, bad: true},
		{args: []string{"window", "a1", "2026-11-11T20:00:00Z"}, bad: true},
		{args: []string{"warm"}, bad: true},
		{args: []string{"warm", "a1", "--forse"}, bad: true},
		{args: []string{"topup", "a1"}, bad: true},
		{args: []string{"status", "x"}, bad: true},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			c, err := adminRequest(tc.args)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", c)
				}
				return
			}
			if err != nil || c.method != tc.method || c.path != tc.path || string(c.body) != tc.body {
				t.Fatalf("got %s %s %s (%v), want %s %s %s", c.method, c.path, c.body, err, tc.method, tc.path, tc.body)
			}
		})
	}
}

func TestProbeAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8080": "127.0.0.1:8080", ":8080": "127.0.0.1:8080", "[::]:8080": "[::1]:8080",
		"127.0.0.1:9000": "127.0.0.1:9000", "gw.internal:8080": "gw.internal:8080",
	} {
		if got := probeAddr(in); got != want {
			t.Errorf("probeAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// reserve sends a large list in batches with a progress line each, over
// real HTTP to an admin endpoint that counts what it receives.
func TestReserveBatches(t *testing.T) {
	var mu sync.Mutex
	var got []int
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != "/admin/activities/a1/reservations" || string(ctx.Request.Header.Peek("Authorization")) != "Bearer tok" ||
			!strings.HasPrefix(string(ctx.Request.Header.ContentType()), "text/plain") {
			ctx.SetStatusCode(400)
			ctx.SetBodyString(`{"error":"bad"}`)
			return
		}
		n := strings.Count(string(ctx.PostBody()), "\n")
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
		ctx.SetBodyString(`{"added":` + strconv.Itoa(n) + `}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	var list strings.Builder
	list.WriteString("# the launch list\nvip-1   # an inline comment, as the gateway reads these files\n")
	for i := 0; i < 2*reserveBatch+5; i++ {
		fmt.Fprintf(&list, "user-%d\n", i)
	}
	file := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(file, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"admin", "--addr", ln.Addr().String(), "--token", "tok", "reserve", "a1", file}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if want := []int{reserveBatch, reserveBatch, 6}; !slices.Equal(got, want) {
		t.Fatalf("batches %v, want %v", got, want)
	}
	if !strings.Contains(out.String(), "[1/3] 10000 of 20006 user ids sent, 10000 new so far") ||
		!strings.Contains(out.String(), "[3/3] 20006 of 20006 user ids sent, 20006 new so far") {
		t.Fatalf("progress:\n%s", out.String())
	}

	// A bad line is reported with the file's own line number, and a bad
	// file sends nothing (it used to stop half-way, at the batch).
	got = nil
	list.WriteString("bad user\n")
	if err := os.WriteFile(file, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	code = run([]string{"admin", "--addr", ln.Addr().String(), "--token", "tok", "reserve", "a1", file}, &out, &errOut)
	if code != exitConfig || !strings.Contains(errOut.String(), "list.txt:20008: \"bad user\" is not a user id") ||
		!strings.Contains(errOut.String(), "1 bad line in") || len(got) != 0 {
		t.Fatalf("bad line: exit %d, batches %v\n%s", code, got, errOut.String())
	}
}

// A mistyped flag prints the usage text, which shows each flag's default:
// the admin token taken from the environment must never be among them,
// or any typo in a CI job puts the live token in its log. The token from
// the environment is still used.
func TestAdminUsageHidesToken(t *testing.T) {
	const secret = "s3cret-prod-token-value"
	t.Setenv("FLASHGATE_ADMIN_TOKEN", secret)
	var out, errOut bytes.Buffer
	if code := run([]string{"admin", "--adr", "127.0.0.1:1", "activities"}, &out, &errOut); code != exitConfig {
		t.Fatalf("exit %d, want %d", code, exitConfig)
	}
	if strings.Contains(errOut.String()+out.String(), secret) {
		t.Fatalf("the usage text shows the token:\n%s", errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"admin", "--addr", "127.0.0.1:1", "--timeout", "300ms", "activities"}, &out, &errOut); code != exitFail || strings.Contains(errOut.String(), "no token") {
		t.Fatalf("the token from the environment was not used: exit %d, %q", code, errOut.String())
	}
}

// TestUsageInREADME: the README's quick start shows the usage text the
// binary prints, exactly.
func TestUsageInREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	usage(&b)
	if !strings.Contains(string(readme), "```\n"+b.String()+"```\n") {
		t.Errorf("README.md does not show the usage text as printed:\n%s", b.String())
	}
}

// A pause that holds on the called instance only (202 paused_here_only)
// is not the fleet's: the CLI says so on stderr and exits 1, so a script
// does not take it for a paused sale.
func TestAdminPauseHereOnly(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(202)
		ctx.SetBodyString(`{"id":"a1","paused":true,"overrides":{"paused":true,"paused_here_only":true}}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	var out, errOut bytes.Buffer
	code := run([]string{"admin", "--addr", ln.Addr().String(), "--token", "tok", "pause", "a1"}, &out, &errOut)
	if code != exitFail || !strings.Contains(errOut.String(), "pause a1 on "+ln.Addr().String()+" only: Redis did not take the pause") ||
		!strings.Contains(out.String(), `"paused_here_only":true`) {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out.String(), errOut.String())
	}
}

// TestAdminFlagHint: an extra argument that is one of flashgate admin's
// own flags is told to go before the call; any other is not (following
// such a hint would only meet "flag provided but not defined").
func TestAdminFlagHint(t *testing.T) {
	for args, hint := range map[string]bool{"stock a1 --timeout=1s": true, "stock a1 --addr": true, "stock a1 --force": false, "stock a1 -x": false} {
		_, err := adminRequest(strings.Fields(args))
		if err == nil {
			t.Fatalf("%s accepted", args)
		}
		if got := strings.Contains(err.Error(), "flags go before the call"); got != hint {
			t.Errorf("%s: %q, hint %v, want %v", args, err, got, hint)
		}
	}
}
