package stock

import (
	"strconv"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

func BenchmarkSoldOut(b *testing.B) {
	f, _, act := setup(b, 0)
	r := filtertest.Request(act, "u1", time.Now())
	b.ReportAllocs()
	for b.Loop() {
		_, _ = f.Handle(r)
	}
}

// BenchmarkAdmitMemory takes a unit per iteration from a memory store
// large enough never to run out.
func BenchmarkAdmitMemory(b *testing.B) {
	f, _, act := setup(b, 1<<40)
	r := filtertest.Request(act, "", time.Now())
	var buf []byte
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		buf = strconv.AppendInt(append(buf[:0], "user-"...), i, 10)
		r.User = buf
		r.Ticket = gateway.Ticket{}
		i++
		if v, _ := f.Handle(r); v.Action != gateway.Continue {
			b.Fatal("not admitted")
		}
	}
}
