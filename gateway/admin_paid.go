package gateway

import (
	"errors"
	"strconv"

	"github.com/flashgate/flashgate/internal/orderkey"
	"github.com/flashgate/flashgate/internal/userid"
	"github.com/flashgate/flashgate/stock"
)

// adminPaid answers POST /admin/activities/{id}/orders/{key}/paid: the
// backend confirms that the order {key} (its Idempotency-Key,
// "activity:user:seq") is paid, so its unit is not released at the
// activity's pay_within deadline. Paying twice is 200 both times; a
// payment after the release (or once it has begun) is 409
// released_unpaid, because the unit is selling again.
func adminPaid(a *AdminCall, act *Activity) {
	key := a.Param("key")
	user, seq, err := parseOrderKey(key, act.ID)
	if err != nil {
		a.Error(400, "bad_key", err.Error())
		return
	}
	ctx, cancel := adminCtx()
	defer cancel()
	res, err := a.Deps.Stock.Paid(ctx, act.ID, []byte(user), seq)
	if err != nil {
		a.storeError(err)
		return
	}
	switch res {
	case stock.PaidNow, stock.PaidAlready:
		a.JSON(200, map[string]any{"activity": act.ID, "key": key, "user": user, "seq": seq, "paid": true, "status": res.String()})
	case stock.PaidTooLate:
		a.Error(409, "released_unpaid", "order "+strconv.Quote(key)+" was not paid within pay_within: its unit was given back and sells again")
	default:
		a.Error(404, "unknown_order", "no unit is held under order "+strconv.Quote(key)+": never admitted, or given back")
	}
}

// parseOrderKey reads the key of an order of activity: exactly the
// Idempotency-Key the backend received (internal/orderkey), so "a:u:07"
// is refused rather than read as "a:u:7".
func parseOrderKey(key, activity string) (user string, seq int64, err error) {
	act, user, seq, ok := orderkey.Parse(key)
	if !ok {
		return "", 0, errors.New("key must be the order's Idempotency-Key " + orderkey.Rule + " (user " + userid.Rule + "), got " + strconv.Quote(key))
	}
	if act != activity {
		return "", 0, errors.New("key " + strconv.Quote(key) + " names activity " + strconv.Quote(act) + ", not " + strconv.Quote(activity))
	}
	return user, seq, nil
}
