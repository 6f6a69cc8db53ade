package server

import (
	"net/http"

	"github.com/keyhold/keyhold/internal/verify"
)

// serveVerify answers POST /v1/verify: parse → verify → write. The key is
// read from the JSON body, else from Authorization: Bearer, else from
// X-API-Key (verify.ReadRequest), never from the URL, and never logged.
//
// An Idempotency-Key lookup goes between parse and verify (it needs the
// key), and its record where the answer is written (writeResult).
func (s *Server) serveVerify(w http.ResponseWriter, r *http.Request) {
	hc := getHotCall()
	defer s.finishHot(w, r, hc, routeVerify)

	// Parse.
	var vreq verify.Request
	vreq.Cost = 1
	if status, msg := verify.ReadRequest(r, &hc.buf, &hc.scopes, &vreq); status != 0 { // refuses bodies over 4 KiB with 413
		s.answerBadRequest(w, r, hc, routeVerify, status, msg)
		return
	}
	// Idempotency-Key: a replay, or a refusal of the header, is answered
	// here; a claim is finished where the answer is written.
	claim, ans := s.replays.Begin(r.Context(), r.Header, verify.RouteVerify, &vreq, "")
	if ans != nil && s.replayable(r, &vreq, ans) {
		s.writeReplay(w, r, hc, routeVerify, ans)
		return
	}
	hc.claim = claim
	// Verify.
	var res verify.Result
	s.verifier.Verify(r.Context(), &vreq, &res)
	// Write.
	s.countHot(routeVerify, res.Code)
	s.writeResult(w, r, hc, &res)
}
