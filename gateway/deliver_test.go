package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/forward"
	"github.com/flashgate/flashgate/internal/breaker"
	"github.com/flashgate/flashgate/internal/demobackend"
)

func testUpstream(addr string, breakerFailures int) *Upstream {
	return newUpstream(conf.Upstream{
		Name: "orders", Addrs: []string{addr}, Timeout: 2 * time.Second, ConnectTimeout: 200 * time.Millisecond,
		MaxConns: 4, MaxIdleConnDuration: time.Second, MaxResponseBytes: 1 << 20,
		BreakerFailures: breakerFailures, BreakerOpen: time.Minute,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), NewPages(nil), time.Now, nil)
}

func queuedOrder(user string, seq int64, header ...[2]string) *forward.Order {
	return &forward.Order{
		Ticket: ticketOf("phone-sale", user, seq), Activity: "phone-sale", User: user, Seq: seq,
		Method: "POST", Path: "/orders", Body: []byte(`{"qty":1}`), Header: header,
	}
}

// ticketOf is AppendIdempotencyKey for strings, so the test's tickets are
// the ones the gateway issues.
func ticketOf(activity, user string, seq int64) string {
	return string(AppendIdempotencyKey(nil, []byte(activity), []byte(user), seq))
}

func TestSendDeliversWithTheTicketAsKey(t *testing.T) {
	b, addr, hl := startBackend(t, demobackend.Options{})
	u := testUpstream(addr, 20)
	o := queuedOrder("alice", 1,
		[2]string{"Content-Type", "application/json"},
		[2]string{"X-User-Id", "mallory"},        // forged identity: replaced
		[2]string{"Idempotency-Key", "forged:1"}, // forged key: replaced
		[2]string{"Connection", "X-Secret"},      // hop-by-hop, and what it names
		[2]string{"X-Secret", "s"},
		[2]string{"X-Keep", "k"},
	)
	rep, err := u.Send(context.Background(), o)
	if err != nil || rep.Status != 201 {
		t.Fatalf("Send = %d %s %v, want 201", rep.Status, rep.Body, err)
	}
	tests := []struct{ header, want string }{
		{"Idempotency-Key", o.Ticket},
		{"X-User-Id", "alice"},
		{"X-Activity-Id", "phone-sale"},
		{"X-Keep", "k"},
		{"X-Secret", ""},
		{"Content-Type", "application/json"},
	}
	for _, tc := range tests {
		if got := hl.get(tc.header); got != tc.want {
			t.Errorf("backend saw %s = %q, want %q", tc.header, got, tc.want)
		}
	}
	if hl.get("X-Request-Id") == "" {
		t.Error("no X-Request-Id sent")
	}
	// A redelivery carries the same key: the backend has it (409), which
	// the queue acks, and there is still one order.
	rep, err = u.Send(context.Background(), o)
	if err != nil || rep.Status != 409 {
		t.Fatalf("redelivery = %d %v, want 409", rep.Status, err)
	}
	if b.Orders() != 1 {
		t.Errorf("backend has %d orders, want 1", b.Orders())
	}
}

func TestSendUnreachableOpensBreaker(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	u := testUpstream(addr, 2)
	for i := range 2 {
		rep, err := u.Send(context.Background(), queuedOrder("bob", int64(i+1)))
		if err == nil || !notDelivered(err) {
			t.Fatalf("send %d: %d %v, want a not-delivered error", i, rep.Status, err)
		}
	}
	if st := u.breaker.State(); st != breaker.Open {
		t.Errorf("breaker %v after two unreachable deliveries, want open (breaker_failures 2)", st)
	}
	// While it is open nothing is sent, and the queue is told so: the
	// order waits without using an attempt.
	if _, err := u.Send(context.Background(), queuedOrder("bob", 3)); !errors.Is(err, forward.ErrNotSent) {
		t.Errorf("send through an open breaker: %v, want ErrNotSent", err)
	}
}

func TestSendHonoursTheQueueDeadline(t *testing.T) {
	_, addr, _ := startBackend(t, demobackend.Options{Latency: 5 * time.Second})
	u := testUpstream(addr, 20)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := u.Send(ctx, queuedOrder("carol", 1))
	if err == nil || !isTimeout(err) {
		t.Fatalf("err = %v, want a timeout (the queue's send deadline is shorter than the upstream's)", err)
	}
}

// The queue drains through the upstream: every order reaches the backend
// once, and a rejected one gives its unit back once.
func TestQueueDrainsThroughUpstream(t *testing.T) {
	b, addr, _ := startBackend(t, demobackend.Options{})
	u := testUpstream(addr, 20)
	released := map[string]int{}
	q, err := forward.New(forward.Config{Rate: 1000, MaxInflight: 2, Attempts: 2, Backoff: time.Millisecond},
		u, func(_ context.Context, o *forward.Order) error { released[o.Ticket]++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	orders := []*forward.Order{queuedOrder("u1", 1), queuedOrder("u2", 1), queuedOrder("u3", 1)}
	bad := queuedOrder("u4", 1)
	bad.Path = "/nowhere" // the backend answers 404: dead-lettered at once
	for _, o := range append(orders, bad) {
		if err := q.Enqueue(*o); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for s := q.Stats(); s.Delivered+s.DeadLettered < 4; s = q.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("not drained in 10 s: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
	for _, o := range orders {
		if st, ok := q.Status(o.Ticket, o.User); !ok || st.State != forward.Delivered || st.Code != 201 {
			t.Errorf("%s: %v %d (%v), want delivered 201", o.Ticket, st.State, st.Code, ok)
		}
	}
	st, ok := q.Status(bad.Ticket, bad.User)
	if !ok || st.State != forward.Failed || st.Reason != forward.ReasonRejected || st.Code != 404 {
		t.Errorf("rejected order: %+v (%v), want failed backend_rejected 404", st, ok)
	}
	if b.Orders() != 3 || released[bad.Ticket] != 1 || len(released) != 1 {
		t.Errorf("backend orders %d, releases %v; want 3 orders and one release of %s", b.Orders(), released, bad.Ticket)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, v string
		want    time.Duration
	}{
		{"none", "", 0},
		{"seconds", "3", 3 * time.Second},
		{"zero", "0", 0},
		{"huge seconds, bounded", "99999999999", (1 << 20) * time.Second},
		{"date ahead", "Wed, 02 Dec 2026 12:00:30 GMT", 30 * time.Second},
		{"date past", "Wed, 02 Dec 2026 11:00:00 GMT", 0},
		{"negative", "-5", 0},
		{"garbage", "soon", 0},
		{"fraction", "1.5", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryAfter([]byte(tc.v), now); got != tc.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tc.v, got, tc.want)
			}
		})
	}
}

// FuzzRetryAfter: whatever a backend sends, the wait is within
// [0, 2^20 s] and delta-seconds read as themselves.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "3", "99999999999999999999", "Wed, 02 Dec 2026 12:00:30 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "-1", " 5", "5 ", "1e3"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := retryAfter([]byte(v), now)
		if d < 0 || d > (1<<20)*time.Second {
			t.Fatalf("retryAfter(%q) = %v", v, d)
		}
		if n, err := strconv.ParseUint(v, 10, 32); err == nil && n < 1<<20 && d != time.Duration(n)*time.Second {
			t.Fatalf("retryAfter(%q) = %v, want %ds", v, d, n)
		}
	})
}
