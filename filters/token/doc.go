// Package token implements order tokens, the behaviour check of the flash
// sale design: a purchase must carry a token that the checkout page
// fetched from the gateway, and the token must be at least min_age old. A
// bot that posts to the purchase URL without loading the checkout page has
// no token; one that fetches a token and buys in the same instant has a
// token that is too young. Both are turned away before Redis is touched.
//
// Two parts share one key ring:
//
//   - the order_token endpoint (GET /api/activities/{activity}/token)
//     issues a token to an identified user for one activity;
//   - the order_token filter verifies it on the purchase route, from a
//     header (X-Order-Token) or a query/form field (order_token).
//
// # Token format, version 1
//
// A token is the unpadded base64url encoding of these bytes:
//
//	offset  size  field
//	0       1     version, 0x01
//	1       1     key id length k, 1..32
//	2       k     key id (which secret signed it, for rotation)
//	2+k     8     issue time, unix milliseconds, big-endian
//	10+k    12    nonce, random (the single_use replay key)
//	22+k    1     user id length u, 1..128
//	23+k    u     user id
//	23+k+u  1     activity id length a, 1..64
//	24+k+u  a     activity id
//	24+k+u+a 16   tag: HMAC-SHA256(secret, "flashgate/order_token/v1\x00" ||
//	              every byte above), first 16 bytes
//
// so a token is 43 to 264 bytes, 58 to 352 characters. The user and
// activity travel in clear so that a mismatch gets its own reason code;
// they are the caller's own ids, not secrets. The domain string in the MAC
// keeps an order token from ever verifying as anything else signed with
// the same keys (hidden purchase paths use their own). Verification needs
// no Redis: the key id picks the secret, the tag proves the rest.
//
// Keys rotate by id: list the new key first (it signs), keep the old one
// after it until max_age has passed (it still verifies), then drop it.
package token
