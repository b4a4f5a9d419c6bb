package forward

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/flashgate/flashgate/stock"
)

// Reasons a queued order ends without delivery, beside ReasonRejected and
// ReasonExhausted.
const (
	ReasonReleased  = "released"  // its unit was given back before delivery
	ReasonUnpaid    = "unpaid"    // its unit was given back at its pay_within deadline
	ReasonReset     = "reset"     // a forced re-Warm reset the sale
	ReasonMalformed = "malformed" // the entry could not be read
)

// dropReason is the reason of an order dropped by its held-mark check.
func dropReason(c stock.OrderCheck) string {
	switch c {
	case stock.OrderReset:
		return ReasonReset
	case stock.OrderUnpaid:
		return ReasonUnpaid
	}
	return ReasonReleased
}

// pendingWait is how long the forwarder waits between checks of an order
// whose Take has not settled yet (a borrowed unit, settle.lua to come).
const pendingWait = 50 * time.Millisecond

// deliver works one entry from the held-mark check to its ack, holding
// an in-flight slot throughout.
func (f *Forwarder) deliver(ctx context.Context, it *streamItem) {
	q := &it.q
	o := Order{Activity: q.Activity, User: q.User, Seq: q.Seq()}
	o.Ticket = q.Activity + ":" + q.User + ":" + strconv.FormatInt(o.Seq, 10)
	for {
		c, err := f.log.Check(ctx, q)
		switch {
		case err != nil:
			if sleep(ctx, f.cfg.PollMax) != nil {
				return
			}
			continue
		case c == stock.OrderPending:
			if sleep(ctx, pendingWait) != nil {
				return
			}
			continue
		case c == stock.OrderGone || c == stock.OrderReset || c == stock.OrderUnpaid:
			f.st.dropped.Add(1)
			f.record(ctx, &o, Status{State: Failed, Reason: dropReason(c)})
			f.finish(ctx, it, "")
			return
		case c == stock.OrderRedeliver && q.Claimed:
			f.st.fromDead.Add(1)
		}
		break
	}
	if err := ParseOrder(q.Order, &o); err != nil {
		f.deadLetter(ctx, it, &o, Status{State: Failed, Reason: ReasonMalformed})
		return
	}
	var st Status
	timedOut := false
	for {
		if it.lost.Load() {
			return // another instance took it over: it delivers
		}
		if !f.wait(ctx) {
			return
		}
		if timedOut {
			f.st.afterTimeout.Add(1)
		}
		sctx, cancel := context.WithTimeout(ctx, f.cfg.SendTimeout)
		code, body, err := f.send.Send(sctx, &o)
		cancel()
		notSent := errors.Is(err, ErrNotSent)
		if !notSent {
			st.Attempts++
		}
		if err == nil {
			st.Code, st.Body = code, body
		}
		timedOut = err != nil && !notSent && !errors.Is(err, ErrUnreachable) // it may have reached the backend
		switch {
		case notSent:
		case err == nil && (code < 300 || code == 409):
			st.State = Delivered
			f.st.delivered.Add(1)
			f.record(ctx, &o, st)
			f.finish(ctx, it, "")
			return
		case err == nil && code < 500:
			st.State, st.Reason = Failed, ReasonRejected
			f.deadLetter(ctx, it, &o, st)
			return
		case st.Attempts >= f.cfg.Attempts:
			st.State, st.Reason = Failed, ReasonExhausted
			f.deadLetter(ctx, it, &o, st)
			return
		}
		f.st.retried.Add(1)
		if sleep(ctx, Backoff(f.cfg.Backoff, f.cfg.BackoffMax, max(st.Attempts, 1), jitter())) != nil {
			return
		}
	}
}

// wait takes a delivery from the shared rate, waiting as long as it says;
// a Redis failure waits PollMax and asks again (no order goes out
// unpaced). It reports false when ctx ends.
func (f *Forwarder) wait(ctx context.Context) bool {
	for {
		d, err := f.pace.Take(ctx)
		if err == nil && d <= 0 {
			return true
		}
		if err != nil {
			d = f.cfg.PollMax
		}
		if sleep(ctx, d) != nil {
			return false
		}
	}
}

// deadLetter records the failure (first: a poll between the release and
// the record would find neither the ledger entry nor the record), gives
// the unit back (Release is idempotent: a retry after a crash releases
// nothing twice) and moves the entry to the dead-letter Stream.
func (f *Forwarder) deadLetter(ctx context.Context, it *streamItem, o *Order, st Status) {
	f.record(ctx, o, st)
	for {
		_, err := f.log.Release(ctx, o.Activity, []byte(o.User), o.Seq)
		if err == nil {
			break
		}
		f.st.relFailed.Add(1)
		if sleep(ctx, f.cfg.Backoff) != nil {
			return // unacked: retried by whoever reads it next
		}
	}
	f.st.dead.Add(1)
	f.finish(ctx, it, st.Reason)
}

// record writes the final status for order_status on any instance,
// retrying while Redis fails (bounded by ctx), before the entry is acked.
// It must not be skipped: a delivered order keeps its held ledger entry,
// and without the record its poll would answer "queued" for ever (seen
// when Redis died between the backend's answer and this write).
func (f *Forwarder) record(ctx context.Context, o *Order, st Status) {
	b, _ := json.Marshal(statusRecord(st))
	for {
		if err := f.log.PutOrderStatus(ctx, o.Activity, o.User, o.Seq, b, f.cfg.StatusTTL); err == nil || sleep(ctx, f.cfg.PollMax) != nil {
			return
		}
	}
}

// finish acks the entry, retrying while Redis fails (bounded by ctx):
// an unacked finished order would be delivered again after ClaimIdle.
func (f *Forwarder) finish(ctx context.Context, it *streamItem, dead string) {
	for {
		if _, err := f.log.Finish(ctx, &it.q, f.cfg.Group, dead); err == nil || sleep(ctx, f.cfg.PollMax) != nil {
			return
		}
	}
}

// record is a Status as stored in Redis.
type record struct {
	State    string `json:"state"`
	Code     int    `json:"code,omitempty"`
	Body     []byte `json:"body,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Attempts int    `json:"attempts"`
}

func statusRecord(st Status) record {
	return record{State: st.State.String(), Code: st.Code, Body: st.Body, Reason: st.Reason, Attempts: st.Attempts}
}

// ParseStatus reads a record written by a Forwarder.
func ParseStatus(b []byte) (Status, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return Status{}, err
	}
	st := Status{Code: r.Code, Body: r.Body, Reason: r.Reason, Attempts: r.Attempts}
	switch r.State {
	case "delivered":
		st.State = Delivered
	case "failed":
		st.State = Failed
	default:
		return Status{}, errors.New("forward: unknown order state " + strconv.Quote(r.State))
	}
	return st, nil
}
