package stock

import (
	"errors"
	"strconv"
	"testing"

	"github.com/flashgate/flashgate/internal/userid"
)

func TestEmptySet(t *testing.T) {
	for _, n := range []int{1, 2, 63, 64, 65, 128, 1000, MaxShards} {
		e := newEmptySet(n)
		for i := 0; i < n; i++ {
			if e.all() {
				t.Fatalf("n=%d: all() with %d of %d set", n, i, n)
			}
			e.set(i)
			if !e.has(i) {
				t.Fatalf("n=%d: bit %d not set", n, i)
			}
		}
		if !e.all() {
			t.Fatalf("n=%d: all() = false with every bit set", n)
		}
		if got := len(e.marked(nil)); got != n {
			t.Fatalf("n=%d: marked %d", n, got)
		}
		e.clear(n - 1)
		if e.all() || e.has(n-1) {
			t.Fatalf("n=%d: clear(%d) did not clear", n, n-1)
		}
		e.reset()
		if len(e.marked(nil)) != 0 {
			t.Fatalf("n=%d: reset left bits", n)
		}
	}
}

func TestShare(t *testing.T) {
	tests := []struct {
		units  int64
		shards int
	}{{0, 1}, {7, 8}, {8, 8}, {50, 8}, {200, 8}, {1, 1024}, {100003, 1024}}
	for _, tc := range tests {
		var sum int64
		for i := range tc.shards {
			s := share(tc.units, tc.shards, i)
			if s < tc.units/int64(tc.shards) || s > tc.units/int64(tc.shards)+1 {
				t.Errorf("share(%d, %d, %d) = %d: uneven", tc.units, tc.shards, i, s)
			}
			sum += s
		}
		if sum != tc.units {
			t.Errorf("shares of %d over %d add up to %d", tc.units, tc.shards, sum)
		}
	}
}

func TestKeys(t *testing.T) {
	keys := shardKeys("fg:", "act42", 3)
	want := []string{"{fg:act42:3}:s", "{fg:act42:3}:pend", "{fg:act42:3}:fence", "{fg:act42:3}:orders", "{fg:act42:3}:due"}
	if len(keys) != len(want) {
		t.Fatalf("keys = %q, want %q", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Errorf("key %d = %q, want %q", i, keys[i], want[i])
		}
	}
	if got := metaKey("fg:", "act42"); got != "{fg:act42:meta}" {
		t.Errorf("meta key = %q", got)
	}
}

func TestSeq(t *testing.T) {
	for _, tc := range []struct{ v, n int64 }{{1, 1}, {1, 1<<32 - 1}, {7, 42}, {1 << 30, 3}} {
		v, n := splitSeq(makeSeq(tc.v, tc.n))
		if v != tc.v || n != tc.n {
			t.Errorf("split(make(%d, %d)) = %d, %d", tc.v, tc.n, v, n)
		}
	}
	if makeSeq(2, 1) <= makeSeq(1, 1<<32-1) {
		t.Error("a later version's seq is not larger")
	}
}

func TestUnavailableError(t *testing.T) {
	cause := errors.New("connection refused")
	err := unavailable("take", cause)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, cause) {
		t.Errorf("%v: errors.Is fails", err)
	}
	if got, want := err.Error(), "stock: store unavailable: take: connection refused"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func FuzzOrderID(f *testing.F) {
	f.Add(int64(1), "alice")
	f.Add(int64(4294967295), "a:b:c")
	f.Add(int64(0), "")
	f.Fuzz(func(t *testing.T, n int64, user string) {
		if n < 0 {
			return
		}
		gn, gu, ok := parseOrderID(orderID(n, user))
		if !ok || gn != n || gu != user {
			t.Fatalf("round trip of (%d, %q) = (%d, %q, %v)", n, user, gn, gu, ok)
		}
	})
}

func FuzzStockMsg(f *testing.F) {
	f.Add("act42", 3, int64(0))
	f.Add("a-b_c", -1, int64(7))
	f.Add("x", 1023, int64(0))
	f.Fuzz(func(t *testing.T, act string, shard int, version int64) {
		msg := stockMsg(act, shard)
		if shard < 0 {
			if version <= 0 {
				return
			}
			msg = loadMsg(act, version)
		} else {
			version = 0
		}
		ga, gs, gv, ok := parseStockMsg(msg)
		if !ok || ga != act || gs != max(shard, -1) || gv != version {
			t.Fatalf("round trip of (%q, %d, %d) = (%q, %d, %d, %v)", act, shard, version, ga, gs, gv, ok)
		}
		_, _, _, _ = parseStockMsg(act) // never panics on garbage
	})
}

func TestHeldOnShard(t *testing.T) {
	tests := []struct {
		name string
		rec  string
		n    int64
		t    int
		ok   bool
	}{
		{"no entries", "3", 3, 0, false},
		{"held", "1;1,ab,2", 1, 2, true},
		{"pending", "1;1,ab,p", 1, 0, false},
		{"second of two", "12;2,ab,0;12,cd,7", 12, 7, true},
		{"prefix of another number", "12;12,cd,7", 1, 0, false},
		{"empty", "", 1, 0, false},
		{"malformed", "1;1", 1, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := heldOnShard(tc.rec, tc.n)
			if got != tc.t || ok != tc.ok {
				t.Errorf("heldOnShard(%q, %d) = %d, %v; want %d, %v", tc.rec, tc.n, got, ok, tc.t, tc.ok)
			}
		})
	}
}

func TestParseEntry(t *testing.T) {
	tests := []struct {
		name    string
		fv      map[string]string
		n       int64
		user    string
		version int64
		order   string
		ok      bool
	}{
		{"n:user -> version:order", map[string]string{"3:a:b": "7:ord:er"}, 3, "a:b", 7, "ord:er", true},
		{"empty order", map[string]string{"1:x": "2:"}, 1, "x", 2, "", true},
		{"no user", map[string]string{"1:": "2:x"}, 0, "", 0, "", false},
		{"n not a number", map[string]string{"x:a": "2:x"}, 0, "", 0, "", false},
		{"no id", map[string]string{"1": "2:x"}, 0, "", 0, "", false},
		{"no version", map[string]string{"1:a": "x"}, 0, "", 0, "", false},
		{"version not a number", map[string]string{"1:a": "v:x"}, 0, "", 0, "", false},
		{"two fields", map[string]string{"1:a": "2:x", "2:a": "2:x"}, 0, "", 0, "", false},
		{"no fields", map[string]string{}, 0, "", 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, user, version, order, ok := parseEntry(tc.fv)
			if n != tc.n || user != tc.user || version != tc.version || order != tc.order || ok != tc.ok {
				t.Errorf("parseEntry(%q) = %d, %q, %d, %q, %v; want %d, %q, %d, %q, %v",
					tc.fv, n, user, version, order, ok, tc.n, tc.user, tc.version, tc.order, tc.ok)
			}
		})
	}
}

// FuzzParseEntry: an entry take.lua or borrow.lua writes (n:user ->
// streamValue) reads back as written for any user id the gateway
// accepts; anything else never panics and is either refused or read with
// a user.
func FuzzParseEntry(f *testing.F) {
	f.Add(int64(1), "alice", int64(1), "order", "1:a", "1:b")
	f.Add(int64(4294967295), "a:b:c", int64(9), "", "1", "")
	f.Add(int64(0), "x", int64(0), "1:2 3", "", ":")
	f.Fuzz(func(t *testing.T, n int64, user string, version int64, order, k, v string) {
		if n >= 0 && version >= 0 && userid.Valid(user) {
			fv := map[string]string{orderID(n, user): streamValue(strconv.FormatInt(version, 10), order)}
			gn, gu, gv, gord, ok := parseEntry(fv)
			if !ok || gn != n || gu != user || gv != version || gord != order {
				t.Fatalf("parseEntry(%q) = %d, %q, %d, %q, %v", fv, gn, gu, gv, gord, ok)
			}
		}
		for _, fv := range []map[string]string{{k: v}, {k: v, order: user}} {
			if _, gu, _, _, ok := parseEntry(fv); ok == (gu == "") {
				t.Fatalf("parseEntry(%q): ok %v with user %q", fv, ok, gu)
			}
		}
	})
}
