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
// an in-flight slot throughout. Before the first send and before every
// retry the check runs twice: held waits out a Take still settling or
// Redis failing, then the order waits for its rate slot, and once it has
// it lastCheck runs the check again, without waiting: a Release or an
// unpaid deadline that came while the order waited stops it, as the
// memory queue's check right before each send does. Anything but a
// verdict there gives the slot up and starts over, so no send goes out
// later than its slot (plus one Redis call): the fleet stays at or under
// rate. stop ends the waiting (for the check, a rate slot, a retry);
// work bounds a send under way and what follows it (record, release,
// ack), so a stopping forwarder finishes the sends it began. It reports
// whether the entry is done with here: finished (acked), or taken over
// by another instance; false leaves it pending, for Run to hand back.
func (f *Forwarder) deliver(stop, work context.Context, it *streamItem) bool {
	q := &it.q
	o := Order{Activity: q.Activity, User: q.User, Seq: q.Seq()}
	o.Ticket = orderkey.String(q.Activity, q.User, o.Seq)
	admitted := q.Time()
	var st Status
	var failures int
	maybeSeen, parsed := false, false
	// unanswered: some send of it may be at the backend unanswered (a
	// send here that timed out, or any send of an instance it is taken
	// over from: the claim mark, set right before a send, says one began,
	// and whether it was answered died with that instance): a dead letter
	// then keeps its unit.
	unanswered := false
	for first := true; ; first = false {
		if it.lost.Load() {
			return true // another instance took it over: it delivers
		}
		if send, done := f.held(stop, it, &o, first); !send {
			return done
		}
		if !parsed {
			// After the check: an order whose unit was given back is
			// dropped, whatever its bytes, and one whose Take is still
			// settling is not dead-lettered before its unit is held.
			if err := ParseOrder(q.Order, &o); err != nil {
				return f.deadLetter(work, it, &o, Status{State: Failed, Reason: ReasonMalformed})
			}
			if f.unconfirmedBefore(stop, it, &o) {
				// Dead-lettered unconfirmed by an instance that died
				// before its ack: finish that, never send it again.
				f.st.dead.Add(1)
				f.st.deadBy[deadIndex(ReasonUnconfirmed)].Add(1)
				return f.finish(work, it, ReasonUnconfirmed)
			}
			st = f.carried(stop, it, &o)
			failures, parsed = st.Attempts, true
			unanswered = it.fromDead
		}
		if !f.wait(stop) {
			return false
		}
		if it.lost.Load() {
			return true // taken over while it waited for the slot
		}
		switch send, done, again := f.lastCheck(stop, it, &o); {
		case again:
			continue // the slot is given up: the fleet runs under rate by it
		case !send:
			return done
		}
		if maybeSeen {
			f.st.afterTimeout.Add(1)
		}
		if it.fromDead {
			f.st.fromDead.Add(1)
			it.fromDead = false
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
		unanswered = unanswered || out.maybeSeen
		switch out.verdict {
		case vDeliver:
			st.State = Delivered
			f.st.delivered.Add(1)
			f.record(work, &o, st)
			return f.finish(work, it, "")
		case vDeadLetter:
			st.State, st.Reason = Failed, Unconfirmed(out.reason, unanswered)
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
// the unit is held (now claimed); otherwise done says whether the entry
// is finished (the order was dropped, its unit having been given back,
// unpaid or not, or its load reset: the entry is acked with a failed
// record) or ctx ended first. first is the check before the first send,
// which may find a claim of a dead consumer.
func (f *Forwarder) held(ctx context.Context, it *streamItem, o *Order, first bool) (send, done bool) {
	for {
		c, err := f.log.Peek(ctx, &it.q) // the claim comes right before the send (lastCheck)
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
			it.fromDead = true // counted at its send, if it comes
		}
		if send, done, again := f.verdict(ctx, it, o, c); !again {
			return send, done
		}
		if sleep(ctx, f.cfg.PollMax) != nil {
			return false, false
		}
	}
}

// lastCheck is the check right before a send, once the rate slot has
// come (see deliver): held's answers, or again when it has none now.
func (f *Forwarder) lastCheck(ctx context.Context, it *streamItem, o *Order) (send, done, again bool) {
	c, err := f.log.Check(ctx, &it.q)
	if err != nil || c == stock.OrderPending {
		return false, false, true
	}
	return f.verdict(ctx, it, o, c)
}

// verdict acts on a check's answer c: send for a held unit; a dropped
// order is recorded and acked (done: the ack went through). A give-back
// that began and did not finish (OrderRetracted) is finished first, with
// Release; again means that failed, and the check is to run again.
func (f *Forwarder) verdict(ctx context.Context, it *streamItem, o *Order, c stock.OrderCheck) (send, done, again bool) {
	if c == stock.OrderRetracted {
		if _, err := f.log.Release(ctx, o.Activity, []byte(o.User), o.Seq); err != nil {
			f.st.relFailed.Add(1)
			return false, false, true
		}
		c = stock.OrderGone
	}
	reason, drop := DropReason(c)
	if !drop {
		return true, false, false
	}
	dead, ok, err := f.deadRecord(ctx, o)
	if err != nil {
		return false, false, true // read it again: a drop would overwrite a dead letter's record
	}
	if ok {
		// A dead letter cut off between its Release and its ack: finish
		// it as one (its reason kept, listed on the dead-letter Stream),
		// not as a drop. Counted where it was dead-lettered.
		return false, f.finish(ctx, it, dead), false
	}
	f.st.dropped.Add(1)
	f.record(ctx, o, Status{State: Failed, Reason: reason})
	return false, f.finish(ctx, it, ""), false
}

// deadRecord is the reason of the order's failed record when a dead
// letter wrote it (a reason no drop gives), so a takeover finishes a dead
// letter it finds half done as one.
// The records are the load's own (their keys carry its version). An
// error leaves it undecided: the caller checks again.
func (f *Forwarder) deadRecord(ctx context.Context, o *Order) (string, bool, error) {
	rec, state, err := f.log.OrderStatus(ctx, o.Activity, o.User, o.Seq)
	if err != nil {
		return "", false, err
	}
	if state != stock.OrderRecorded || rec == nil {
		return "", false, nil
	}
	st, err := ParseStatus(rec)
	if err != nil || st.State != Failed || st.Reason == "" || isDropReason(st.Reason) {
		return "", false, nil
	}
	return st.Reason, true, nil
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
	for st.Reason != ReasonUnconfirmed { // an unconfirmed order may be at the backend: its unit stays sold
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

// unconfirmedBefore reports whether an order taken over from another
// instance was already dead-lettered unconfirmed there (its final record
// says so) and only the ack is missing: a released dead letter is found
// by the held-mark check (its unit is gone), an unconfirmed one keeps its
// unit, so only its record tells.
func (f *Forwarder) unconfirmedBefore(ctx context.Context, it *streamItem, o *Order) bool {
	if !it.q.Claimed {
		return false
	}
	rec, state, err := f.log.OrderStatus(ctx, o.Activity, o.User, o.Seq)
	if err != nil || state != stock.OrderRecorded || rec == nil {
		return false
	}
	st, err := ParseStatus(rec)
	return err == nil && st.State == Failed && st.Reason == ReasonUnconfirmed
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
