package gateway

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// spender passes and counts how often the chain gave its pass back.
type spender struct{ undone int }

func (s *spender) Handle(*Request) (Verdict, error) { return Pass, nil }
func (s *spender) Undo(*Request)                    { s.undone++ }

// fixed answers v, or err.
type fixed struct {
	v   Verdict
	err error
}

func (f fixed) Handle(*Request) (Verdict, error) { return f.v, f.err }

// TestChainUndo: a refusal that asks the client to try again (503 busy,
// also when a filter fails closed, and 429) gives back what the filters
// before it spent (Undoer); any other refusal, a pass, a failure let
// open, and the filters after the refusal do not.
func TestChainUndo(t *testing.T) {
	busy := &Page{Status: 503, Reason: "busy"}
	counter := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	entryOf := func(f Filter, onError OnError) *entry {
		u, _ := f.(Undoer)
		return &entry{f: f, onError: onError, busy: busy, errs: counter, undo: u,
			rejects: newReasonCounters(nil, func(string) prometheus.Counter { return counter })}
	}
	tests := []struct {
		name  string
		later Filter
		open  OnError
		want  int
	}{
		{"503 busy", fixed{v: RejectWith(busy)}, FailClosed, 1},
		{"429", fixed{v: RejectWith(&Page{Status: 429, Reason: "rate_limited_user"})}, FailClosed, 1},
		{"failed closed", fixed{err: errors.New("down")}, FailClosed, 1},
		{"403", fixed{v: RejectWith(&Page{Status: 403, Reason: "blacklisted"})}, FailClosed, 0},
		{"409 sold out", fixed{v: RejectWith(&Page{Status: 409, Reason: "sold_out"})}, FailClosed, 0},
		{"pass", fixed{v: Pass}, FailClosed, 0},
		{"failed open", fixed{err: errors.New("down")}, FailOpen, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, after := &spender{}, &spender{}
			c := chain{entryOf(before, FailClosed), entryOf(tc.later, tc.open), entryOf(after, FailClosed)}
			c.run(&Request{Ctx: &fasthttp.RequestCtx{}})
			if before.undone != tc.want || after.undone != 0 {
				t.Fatalf("undone: before %d (want %d), after %d (want 0)", before.undone, tc.want, after.undone)
			}
		})
	}
}
