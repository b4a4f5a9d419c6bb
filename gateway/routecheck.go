package gateway

import (
	"errors"
	"fmt"
	"slices"

	"github.com/flashgate/flashgate/conf"
)

// What a route's chain must hold for its action and its activities:
// checked when the route is built, so a config that would take units it
// cannot sell, or sell outside a window, is refused before it serves.

// checkStockAction refuses a chain that takes a stock unit for an action
// that would not turn it into an order: the unit would be lost.
func checkStockAction(path string, rc conf.Route, ds []decoded) error {
	if rc.Action.Mode == "async" && !slices.ContainsFunc(ds, func(d decoded) bool { return d.typ == "stock" }) {
		return conf.AtPath(conf.Join(path, "action.mode"), errors.New("async queues the order of a unit the stock filter took, so the chain needs a stock filter"))
	}
	for _, d := range ds {
		if d.typ != "stock" {
			continue
		}
		a := rc.Action
		if a.Type == "proxy" || (a.Type == "json" && a.Endpoint == "stock_decision") {
			return nil
		}
		return conf.AtPath(d.path, fmt.Errorf("stock takes a unit, so the action must be proxy (or json stock_decision), not %s", a.Type))
	}
	return nil
}

// checkSaleWindow refuses a purchase route (one with a stock filter) that
// serves an activity with a sale window but has no sale_window filter:
// the window would show (status JSON, countdown) and gate nothing, so the
// sale would sell before it opens and after it ends. It returns the
// activities such a route sells without a window (they have none), for
// the admin window call, which refuses to give them one.
func checkSaleWindow(ds []decoded, acts []*Activity) (ungated []string, err error) {
	at := slices.IndexFunc(ds, func(d decoded) bool { return d.typ == "stock" })
	if at < 0 || slices.ContainsFunc(ds, func(d decoded) bool { return d.typ == "sale_window" }) {
		return nil, nil
	}
	for _, a := range acts {
		why := ""
		switch {
		case a.Override().Windows() != nil: // a reload must not drop the filter under an operator's window
			why = " (an operator's window override is in force: clear it with DELETE /admin/activities/" + a.ID + "/window first)"
		case !a.Start.IsZero() || !a.End.IsZero() || len(a.Windows) > 0:
		default:
			ungated = append(ungated, a.ID)
			continue
		}
		return nil, conf.AtPath(ds[at].path, fmt.Errorf("activity %q has a sale window%s, but this purchase route has no sale_window filter: it would sell outside the window (add `- sale_window: {}` before stock)", a.ID, why))
	}
	return ungated, nil
}
