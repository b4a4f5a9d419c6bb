//go:build !race

package shed

import (
	"testing"
	"time"
)

func TestZeroAllocs(t *testing.T) {
	s, c := newTest()
	if n := testing.AllocsPerRun(500, func() {
		st, _ := s.Admit()
		c.add(time.Millisecond)
		s.Done(st)
	}); n != 0 {
		t.Errorf("admit+done: %v allocs", n)
	}
	s, c = newTest()
	run(t, s, c, 20, 50*time.Millisecond)
	c.add(interval)
	admitted(s, 100)
	if n := testing.AllocsPerRun(500, func() { s.Admit() }); n != 0 || s.Limit() == 0 {
		t.Errorf("shed: %v allocs (limit %d)", n, s.Limit())
	}
}
