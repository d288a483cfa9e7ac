// Package fakecrm is a test double of the central CRM that crmedge forwards
// to. It serves the four dialects of SPEC §2–§5 from memory, records every
// request it receives, honours Idempotency-Key, and misbehaves on demand.
//
// # Use from Go
//
//	crm, baseURL, err := fakecrm.NewServer(fakecrm.Options{Token: "tok", AcceptUnknownCodes: true})
//	defer crm.Close()
//	crm.ResetAfterNext(1)             // the lost ack
//	... drive the forwarder at baseURL ...
//	crm.AppliedCount("evt-42")        // 0 or 1, never more
//
// # Request pipeline
//
// A dialect request (anything not under /_fake/) goes through, in order:
//
//  1. down or reset-before: the connection is dropped (TCP RST) unprocessed;
//     black hole: it is held open, unanswered.
//  2. latency: the request waits; if the client leaves first, it is dropped
//     unprocessed (outcome "canceled").
//  3. injected failure (FailNext) or 429 (RateLimitNext), in the dialect's
//     error envelope, not applied.
//  4. auth (401 when Options.Token is set and not presented).
//  5. idempotency: a write whose Idempotency-Key was already applied gets the
//     stored status and body, byte for byte, and changes nothing.
//  6. rejection rules (RejectCode, RejectPath): a permanent error, not applied.
//  7. the dialect handler. A 2xx write is "applied"; with a key, its answer is
//     stored. Non-2xx answers do not bind the key: a retry is evaluated anew.
//  8. reset-after: the answer is computed and stored, then the connection is
//     dropped instead of sent.
//
// Each counted fault ("the next n requests") is consumed by at most one
// request, in the order reset-before, black hole, fail, rate limit,
// reset-after. GETs count as dialect requests for faults but are never
// "applied" and never take part in idempotency.
//
// # Control endpoints (process mode)
//
// Served without auth, never faulted, never recorded:
//
//	POST /_fake/faults        {"latency_ms":0,"fail_next":0,"fail_status":500,
//	                           "rate_limit_next":0,"retry_after_s":1,
//	                           "reset_before_next":0,"reset_after_next":0,
//	                           "blackhole_next":0,"down":false,
//	                           "reject_codes":{"CODE":422},
//	                           "reject_paths":{"/path":400,"POST /path":400}}
//	                          every field optional: absent leaves a setting as it
//	                          is, counters are set (not added); a rule with status
//	                          0 is removed. Answers the resulting settings.
//	GET  /_fake/faults        the current settings, same shape
//	POST /_fake/clear-faults  Reset: no faults (data and log kept)
//	GET  /_fake/received      [Request...]: every dialect request, body as a JSON string
//	GET  /_fake/applied       [Request...]: only the applied ones, in apply order
//	GET  /_fake/stats         {"received":N,"applied":N,"duplicates":N}
//	POST /_fake/catalog       {"products":[{"code","name","score"}],
//	                           "codes":[{"code","product_code","serial"}],
//	                           "gifts":[{"code","name","score"}]}
//	POST /_fake/members       {"pos_id":"shop1","member":{"phone":"09…","name":…,"_id"?:…}} → {"_id":…}
//	POST /_fake/history       {"phone":"09…","entries":[{"type":1,"score":100,
//	                           "product":{"code","name"},"gift":{"code","name","score"},
//	                           "code","serialNumber","createdAt":<epoch ms>,"id",
//	                           "rejected":false}]}
//
// A Request in JSON is {"time","method","path","raw_query","idempotency_key",
// "edge_id","body","status","outcome","applied","duplicate"}; it decodes back
// into a Request with encoding/json.
package fakecrm
