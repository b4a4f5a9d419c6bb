package stock

import (
	"strconv"
	"testing"

	"github.com/flashgate/flashgate/gateway"
)

func BenchmarkSoldOut(b *testing.B) {
	f, _, act := setup(b, 0)
	r := request(act, "u1")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = f.Handle(r)
	}
}

// BenchmarkAdmitMemory takes a unit per iteration from a memory store
// large enough never to run out.
func BenchmarkAdmitMemory(b *testing.B) {
	f, _, act := setup(b, 1<<40)
	r := request(act, "")
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
