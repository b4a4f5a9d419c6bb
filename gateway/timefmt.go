package gateway

import "time"

// RFC3339Milli is the one format of times in the public JSON answers
// (status, order token, purchase path, not_started rejections): RFC 3339
// in UTC with exactly three fractional digits, "2030-01-01T12:00:00.000Z".
// Milliseconds because a page must not round an order token's
// usable_from down to a second at which the token is still too young;
// always three digits so that a client sees one shape, not time.Time's
// trimmed nanoseconds.
const RFC3339Milli = "2006-01-02T15:04:05.000Z07:00"

// Millis is a time that marshals to JSON as RFC3339Milli in UTC.
type Millis time.Time

// MarshalJSON writes the time as a quoted RFC3339Milli string.
func (m Millis) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(RFC3339Milli)+2)
	b = append(b, '"')
	b = time.Time(m).UTC().AppendFormat(b, RFC3339Milli)
	return append(b, '"'), nil
}

// UnmarshalJSON reads any RFC 3339 time.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var t time.Time
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	*m = Millis(t)
	return nil
}

// millisPtr is t as a Millis, nil for nil (a countdown with no target).
func millisPtr(t *time.Time) *Millis {
	if t == nil {
		return nil
	}
	m := Millis(*t)
	return &m
}
