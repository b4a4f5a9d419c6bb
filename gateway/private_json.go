package gateway

import "github.com/valyala/fasthttp"

// ReasonHeader carries the reason code of every answer that is not the
// action's own (a refusal, busy, not found): README, HTTP contract.
const ReasonHeader = "X-Flashgate-Reason"

// SetPrivateJSON sets the headers of a JSON answer meant for one client
// and no cache (a token, a purchase path, a ticket's status):
// Content-Type: application/json and Cache-Control: no-store. The gateway
// and the filters' endpoints write them through here.
func SetPrivateJSON(h *fasthttp.ResponseHeader) {
	h.SetContentTypeBytes(ctypeJSON)
	h.SetBytesKV(headerCacheCtl, noStore)
}
