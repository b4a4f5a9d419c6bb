package forward

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/flashgate/flashgate/internal/orderkey"
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

// DropReason says whether the held-mark check's answer c drops the order
// unsent (its unit was given back, unpaid or not, or its sale was reset)
// and with which reason: the one rule of both queues and of the memory
// store's poll.
func DropReason(c stock.OrderCheck) (string, bool) {
	switch c {
	case stock.OrderGone:
		return ReasonReleased, true
	case stock.OrderUnpaid:
		return ReasonUnpaid, true
	case stock.OrderReset:
		return ReasonReset, true
	}
	return "", false
}

// isDropReason reports whether reason is one DropReason gives.
func isDropReason(reason string) bool {
	return reason == ReasonReleased || reason == ReasonUnpaid || reason == ReasonReset
}

// pendingWait is how long the forwarder waits between checks of an order
// whose Take has not settled yet (a borrowed unit, settle.lua to come).
const pendingWait = 50 * time.Millisecond

// deliver works one entry from the held-mark check to its ack, holding
// an in-flight slot throughout. The check runs after the rate slot, right
// before every send (the first and each retry): a Release or an unpaid
// deadline that came while the order waited for its slot or its retry
// stops it, as the memory queue's check before each send does. A slot
// spent on an order found given back is lost: the fleet runs under rate
// by it, never over. stop ends the waiting (for the check, a rate slot,
// a retry); work bounds a send under way and what follows it (record,
// release, ack), so a stopping forwarder finishes the sends it began. It
// reports whether the entry is done with here: finished (acked), or
// taken over by another instance; false leaves it pending, for Run to
// hand back.
func (f *Forwarder) deliver(stop, work context.Context, it *streamItem) bool {
	q := &it.q
	o := Order{Activity: q.Activity, User: q.User, Seq: q.Seq()}
	o.Ticket = orderkey.String(q.Activity, q.User, o.Seq)
	if err := ParseOrder(q.Order, &o); err != nil {
		return f.deadLetter(work, it, &o, Status{State: Failed, Reason: ReasonMalformed})
	}
	admitted := q.Time()
	st := f.carried(stop, it, &o)
	failures, maybeSeen := st.Attempts, false
	for first := true; ; first = false {
		if it.lost.Load() {
			return true // another instance took it over: it delivers
		}
		if !f.wait(stop) {
			return false
		}
		if it.lost.Load() {
			return true // taken over while it waited for the slot
		}
		if send, done := f.held(stop, it, &o, first); !send {
			return done
		}
		if maybeSeen {
			f.st.afterTimeout.Add(1)
		}
		sctx, cancel := context.WithTimeout(work, f.cfg.SendTimeout)
		rep, err := f.send.Send(sctx, &o)
		cancel()
		out := f.pol.classify(rep, err, try{st.Attempts, failures, time.Since(admitted)}, jitter())
		failures++
		if out.counted {
			st.Attempts++
		}
		if err == nil {
			st.Code, st.Body = rep.Status, rep.Body
		}
		maybeSeen = out.maybeSeen
		switch out.verdict {
		case vDeliver:
			st.State = Delivered
			f.st.delivered.Add(1)
			f.record(work, &o, st)
			return f.finish(work, it, "")
		case vDeadLetter:
			st.State, st.Reason = Failed, out.reason
			return f.deadLetter(work, it, &o, st)
		}
		f.st.retried.Add(1)
		if out.counted || err == nil { // news for the poll (a refused connection is none)
			st.State = Queued
			f.recordQueued(work, &o, st)
		}
		if sleep(stop, out.wait) != nil {
			return false
		}
	}
}

// held runs the held-mark check (claim.lua) until it answers: send when
// the unit is held; otherwise done says whether the entry is finished
// (the order was dropped, its unit having been given back, unpaid or
// not, or its load reset: the entry is acked with a failed record) or
// ctx ended first. first is the check before the first send, which may
// find a claim of a dead consumer.
func (f *Forwarder) held(ctx context.Context, it *streamItem, o *Order, first bool) (send, done bool) {
	for {
		c, err := f.log.Check(ctx, &it.q)
		switch {
		case err != nil:
			if sleep(ctx, f.cfg.PollMax) != nil {
				return false, false
			}
			continue
		case c == stock.OrderPending:
			if sleep(ctx, pendingWait) != nil {
				return false, false
			}
			continue
		case c == stock.OrderRedeliver && first && it.q.Claimed:
			f.st.fromDead.Add(1)
		}
		if reason, drop := DropReason(c); drop {
			f.st.dropped.Add(1)
			f.record(ctx, o, Status{State: Failed, Reason: reason})
			return false, f.finish(ctx, it, "")
		}
		return true, false
	}
}

// wait reserves a slot of the shared rate and waits for it; a refusal
// (the next slot is beyond the horizon) waits as long as it says and asks
// again, a Redis failure waits PollMax (no order goes out unpaced). It
// reports false when ctx ends; a slot reserved then is lost, as is one
// reserved by an instance that dies before its send: the fleet runs one
// slot under rate per such loss, never over.
func (f *Forwarder) wait(ctx context.Context) bool {
	for {
		d, ok, err := f.pace.Reserve(ctx)
		if err != nil {
			d, ok = f.cfg.PollMax, false
		}
		if sleep(ctx, d) != nil {
			return false
		}
		if ok {
			return true
		}
	}
}

// deadLetter records the failure (first: a poll between the release and
// the record would find neither the ledger entry nor the record), gives
// the unit back (Release is idempotent: a retry after a crash releases
// nothing twice) and moves the entry to the dead-letter Stream.
func (f *Forwarder) deadLetter(ctx context.Context, it *streamItem, o *Order, st Status) bool {
	f.record(ctx, o, st)
	for {
		_, err := f.log.Release(ctx, o.Activity, []byte(o.User), o.Seq)
		if err == nil {
			break
		}
		f.st.relFailed.Add(1)
		if sleep(ctx, f.pol.backoff) != nil {
			return false // unacked: retried by whoever reads it next
		}
	}
	f.st.dead.Add(1)
	f.st.deadBy[deadIndex(st.Reason)].Add(1)
	return f.finish(ctx, it, st.Reason)
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

// carried is what an order taken over from another instance had
// already used: the attempts (and last answer) of its interim record, so
// a takeover does not give it a fresh set of attempts. An order read for
// the first time, or one whose record cannot be read, starts from zero.
func (f *Forwarder) carried(ctx context.Context, it *streamItem, o *Order) Status {
	if !it.q.Claimed {
		return Status{}
	}
	rec, state, err := f.log.OrderStatus(ctx, o.Activity, o.User, o.Seq)
	if err != nil || state != stock.OrderQueued || rec == nil {
		return Status{}
	}
	st, err := ParseStatus(rec)
	if err != nil || st.State != Queued {
		return Status{}
	}
	return Status{Attempts: st.Attempts, Code: st.Code, Body: st.Body}
}

// recordQueued writes the interim status of an order waiting for its
// retry (attempts, the last code and body), once: a poll of a queued
// order says what the memory queue's says. It lives beside the final
// record (stock.PutQueuedStatus), which always wins, so a late interim
// write of a slow instance can never hide a final one.
func (f *Forwarder) recordQueued(ctx context.Context, o *Order, st Status) {
	b, _ := json.Marshal(statusRecord(st))
	_ = f.log.PutQueuedStatus(ctx, o.Activity, o.User, o.Seq, b, f.cfg.StatusTTL)
}

// finish acks the entry, retrying while Redis fails (bounded by ctx):
// an unacked finished order would be delivered again after ClaimIdle.
// It reports whether the ack went through.
func (f *Forwarder) finish(ctx context.Context, it *streamItem, dead string) bool {
	for {
		_, err := f.log.Finish(ctx, &it.q, f.cfg.Group, dead)
		if err == nil {
			return true
		}
		if sleep(ctx, f.cfg.PollMax) != nil {
			return false
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

// ParseStatus reads a record written by a Forwarder: a final one
// (delivered, failed) or an interim one (queued).
func ParseStatus(b []byte) (Status, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return Status{}, err
	}
	st := Status{Code: r.Code, Body: r.Body, Reason: r.Reason, Attempts: r.Attempts}
	switch r.State {
	case "queued":
		st.State = Queued
	case "delivered":
		st.State = Delivered
	case "failed":
		st.State = Failed
	default:
		return Status{}, errors.New("forward: unknown order state " + strconv.Quote(r.State))
	}
	return st, nil
}
