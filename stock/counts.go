package stock

// Counts are an activity's stock numbers. They are defined here, once, so
// that every view of a sale (the admin API, the public status JSON, the
// dashboard, metrics) shows the same numbers with the same meaning:
//
//	Total   = Loaded + ToppedUp
//	Sold    = Total - Left, never below 0
//	SoldOut = Left == 0: no unit is left in any shard
//
// A unit admitted and not given back counts as sold, whether or not its
// order has been paid yet. The numbers are what the store holds, not what
// the config says: a reload that changes the stock of an activity that is
// already selling leaves the store (and so Loaded) as it was until a
// forced warm.
//
// With pay_within, every admitted unit starts Held; it then becomes Paid
// or, past its deadline, ReleasedUnpaid. Without a Release by the
// backend, units admitted since the load = Held + Paid + ReleasedUnpaid,
// and Sold = Held + Paid.
//
// New numbers are added as fields here, filled by both stores' Counts.
type Counts struct {
	// Loaded is the stock of the last load (Warm) of the activity.
	Loaded int64 `json:"loaded"`
	// ToppedUp is the units TopUp added since that load.
	ToppedUp int64 `json:"topped_up"`
	// Total is every unit the sale has had: Loaded + ToppedUp.
	Total int64 `json:"total"`
	// Left is the units in the shards now, summed over the shards.
	Left int64 `json:"left"`
	// Sold is Total - Left (>= 0): units admitted and not given back.
	Sold int64 `json:"sold"`
	// SoldOut is true when no shard has a unit left.
	SoldOut bool `json:"sold_out"`
	// Held is the units admitted under a pay_within deadline and neither
	// paid nor given back yet: part of Sold.
	Held int64 `json:"held"`
	// Paid is the payments confirmed since the load (Store.Paid). A paid
	// unit the backend releases later stays counted.
	Paid int64 `json:"paid"`
	// ReleasedUnpaid is the units given back since the load because their
	// deadline passed unpaid, each counted once whichever instance
	// released it.
	ReleasedUnpaid int64 `json:"released_unpaid"`
}

// newCounts derives every number from the three the stores keep. The
// shards are read one by one, not in one snapshot, so a Take or a TopUp
// between two reads can make Left look larger than Total for an instant:
// Sold is clamped at 0 rather than shown negative.
func newCounts(loaded, toppedUp, left int64) Counts {
	total := loaded + toppedUp
	return Counts{
		Loaded: loaded, ToppedUp: toppedUp, Total: total, Left: left,
		Sold: max(total-left, 0), SoldOut: left <= 0,
	}
}
