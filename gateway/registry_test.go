package gateway

import (
	"strings"
	"testing"
)

// TestRegisterRefusesDuplicates: a second filter type, endpoint or admin
// call under a name already registered panics at init, naming the module.
func TestRegisterRefusesDuplicates(t *testing.T) {
	tests := []struct {
		name string
		m    Module
		want string
	}{
		{"filter", Module{Name: "dup", Filters: []FilterInfo{{Type: "test_verdict"}}}, "dup: filter type registered twice: test_verdict"},
		{"endpoint", Module{Name: "dup", Endpoints: []EndpointInfo{{Name: "activity_status"}}}, "dup: endpoint registered twice: activity_status"},
		{"admin", Module{Name: "dup", Admin: []AdminRoute{{Method: "GET", Path: "/admin/status"}}}, "dup: admin route registered twice: GET /admin/status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				p, _ := recover().(string)
				if !strings.Contains(p, tc.want) {
					t.Fatalf("panic %q, want %q", p, tc.want)
				}
			}()
			Register(tc.m)
		})
	}
}

// TestCoreModule: gateway's own endpoints and admin calls reach the
// registry like any filter package's.
func TestCoreModule(t *testing.T) {
	for _, n := range []string{"activity_status", "stock_decision", "order_status"} {
		if _, ok := lookupEndpoint(n); !ok {
			t.Errorf("endpoint %s not registered", n)
		}
	}
	var paths []string
	for _, ar := range adminRoutes() {
		paths = append(paths, ar.Method+" "+ar.Path)
	}
	if got := strings.Join(paths, ","); !strings.Contains(got, "GET /admin/status") || !strings.Contains(got, "POST /admin/activities/{id}/release") {
		t.Fatalf("admin routes %s", got)
	}
}
