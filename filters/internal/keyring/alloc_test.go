//go:build !race

package keyring

import "testing"

// sync.Pool drops items at random under the race detector, hence the tag.
func TestSumAllocs(t *testing.T) {
	r, _ := New([]string{"k"}, [][]byte{[]byte(s32)})
	msg := []byte("message")
	var out [32]byte
	if n := testing.AllocsPerRun(100, func() { r.Primary().Sum(&out, nil, msg) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}
