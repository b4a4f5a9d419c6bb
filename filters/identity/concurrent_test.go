package identity

import (
	"github.com/flashgate/flashgate/internal/filtertest"
	"strconv"
	"sync"
	"testing"
)

// TestConcurrentUsers runs verifications in parallel with distinct users
// (escaped and plain claims): pooled buffers must never leak one
// request's user into another. Run it with -race.
func TestConcurrentUsers(t *testing.T) {
	f := filtertest.Filter[*filter](t, filtertest.Env(), "identity", hsSettings(nil))
	exp := itoa(testNow.Unix() + 3600)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := "user-" + strconv.Itoa(g)
			escaped := `us\u0065r-` + strconv.Itoa(g)
			for i := range 200 {
				claimsJSON := `{"sub":"` + user + `","exp":` + exp + `}`
				if i%2 == 1 {
					claimsJSON = `{"sub":"` + escaped + `","exp":` + exp + `}`
				}
				r := filtertest.Request(nil, "", testNow, bearer(rawHS256(hdr, claimsJSON, testSecret))...)
				if v, err := f.Handle(r); err != nil || v.Page != nil || string(r.User) != user {
					t.Errorf("goroutine %d: user %q verdict %+v err %v", g, r.User, v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
