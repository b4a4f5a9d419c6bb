package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0"}, pw)
		pw.Close()
	}()

	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no log line: %v", <-done)
	}
	_, addr, ok := strings.Cut(lines.Text(), "listening on ")
	if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("start line %q does not name a loopback address", lines.Text())
	}
	go io.Copy(io.Discard, pr) // keep later log lines from blocking run

	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/orders")
	req.Header.SetMethod("POST")
	req.Header.Set("Idempotency-Key", "k1")
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 201 {
		t.Fatalf("POST /orders: %d %s", resp.StatusCode(), resp.Body())
	}

	cancel() // what SIGTERM does in main
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"fail rate above 1", []string{"-fail-rate", "1.5"}, "-fail-rate: must be in [0,1], got 1.5"},
		{"negative fail rate", []string{"-fail-rate", "-0.1"}, "-fail-rate: must be in [0,1]"},
		{"negative latency", []string{"-latency", "-1s"}, "-latency: must be >= 0, got -1s"},
		{"stray argument", []string{"extra"}, `unexpected arguments ["extra"]`},
		{"unknown flag", []string{"-nope"}, "flag provided but not defined: -nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
