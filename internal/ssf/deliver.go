package ssf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// pushBatch is how many SETs of a stream one round of the push loop
// sends.
const pushBatch = 50

// maxBackoff caps the wait between two tries of a push.
const maxBackoff = 10 * time.Minute

// pushLoop delivers the outbox of push streams until ctx is done: at
// once when it grows, else every second for retries due; and it prunes
// the outbox and the replay memory every minute.
func (s *Service) pushLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastPrune time.Time
	for {
		changed := s.changes()
		now := s.wall()
		if now.Sub(lastPrune) >= time.Minute {
			lastPrune = now
			s.pruneOnce(ctx, now)
		}
		s.pushOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// pruneOnce drops what aged out.
func (s *Service) pruneOnce(ctx context.Context, now time.Time) {
	n, err := s.state.prune(ctx, now.Add(-s.cfg.Retain), now.Add(-s.cfg.MaxAge-s.cfg.MaxSkew))
	if err != nil {
		s.log.Error("pruning the federation outbox", "err", err)
	}
	if n > 0 {
		s.log.Warn("federation SETs aged out undelivered", "sets", n, "retain", s.cfg.Retain)
	}
}

// pushOnce sends what is due on every enabled push stream that is not
// held. Only the push loop calls it (holds is its own).
func (s *Service) pushOnce(ctx context.Context) {
	streams, err := s.state.streams(ctx, "")
	if err != nil {
		s.log.Error("reading federation streams", "err", err)
		return
	}
	for _, st := range streams {
		p, ok := s.peers[st.Peer]
		if !ok || p.Paused || st.Status != StatusEnabled || st.Delivery.Method != MethodPush {
			continue
		}
		if s.wall().Before(s.holds[st.ID].until) {
			continue // the receiver failed lately: wait
		}
		s.pushStream(ctx, st)
	}
}

// hold is a push stream's backoff: after fails failures in a row, nothing
// is pushed to it before until.
type hold struct {
	fails int
	until time.Time
}

// pushStream pushes what is due on st, batch after batch, until nothing
// is due or the receiver fails (then the stream is held with backoff).
func (s *Service) pushStream(ctx context.Context, st storedStream) {
	for ctx.Err() == nil {
		due, err := s.state.due(ctx, st.ID, s.wall(), false, pushBatch)
		if err != nil {
			s.log.Error("reading the federation outbox", "err", err)
			return
		}
		for _, q := range due {
			if ctx.Err() != nil {
				return
			}
			if !s.pushOne(ctx, st, q) {
				h := s.holds[st.ID]
				h.fails++
				wait := min(maxBackoff, time.Second<<min(h.fails-1, 10))
				h.until = s.wall().Add(wait)
				s.holds[st.ID] = h
				if h.fails <= 3 || h.fails%10 == 0 {
					s.log.Warn("pushing to a peer failed; holding its stream", "peer", st.Peer, "failures", h.fails, "for", wait)
				}
				return
			}
			delete(s.holds, st.ID)
		}
		if len(due) < pushBatch {
			return
		}
	}
}

// pushOne sends one SET (RFC 8935) and removes it; false when the
// receiver could not be reached or failed (the SET stays, put off). A
// 4xx other than 429 (the receiver refused the SET) is final: the SET is
// dropped and counted.
func (s *Service) pushOne(ctx context.Context, st storedStream, q queued) bool {
	tok, err := s.sign(q, s.wall())
	if err != nil { // cannot happen to what Publish queued: drop it
		s.log.Error("signing a queued SET; dropped", "peer", st.Peer, "jti", q.JTI, "err", err)
		_, _ = s.state.remove(ctx, st.ID, []string{q.JTI})
		return true
	}
	final, err := s.post(ctx, st.Delivery, tok)
	pushed := true
	switch {
	case err == nil:
		s.met.delivered.WithLabelValues(st.Peer).Inc()
		_, err = s.state.remove(ctx, st.ID, []string{q.JTI})
	case final:
		s.met.failures.WithLabelValues(st.Peer, "refused").Inc()
		s.log.Warn("peer refused a SET; dropped", "peer", st.Peer, "jti", q.JTI, "err", err)
		_, err = s.state.remove(ctx, st.ID, []string{q.JTI})
	default:
		pushed = false
		s.met.failures.WithLabelValues(st.Peer, "unreachable").Inc()
		s.log.Debug("pushing a SET failed", "peer", st.Peer, "jti", q.JTI, "attempts", q.Attempts+1, "err", err)
		err = s.state.retry(ctx, q.Seq, s.wall().Add(min(maxBackoff, time.Second<<min(q.Attempts, 10))))
	}
	if err != nil && ctx.Err() == nil {
		s.log.Error("updating the federation outbox", "err", err)
	}
	return pushed
}

// post pushes token to d; final reports an answer that retrying cannot
// change (a 4xx other than 429).
func (s *Service) post(ctx context.Context, d Delivery, token string) (final bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.EndpointURL, bytes.NewBufferString(token))
	if err != nil {
		return true, err
	}
	req.Header.Set("Content-Type", "application/secevent+jwt")
	req.Header.Set("Accept", "application/json")
	if d.AuthorizationHeader != "" {
		req.Header.Set("Authorization", d.AuthorizationHeader)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		return false, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return true, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return false, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
}

// pollRequest is an RFC 8936 poll.
type pollRequest struct {
	MaxEvents         *int              `json:"maxEvents,omitempty"`
	ReturnImmediately bool              `json:"returnImmediately,omitempty"`
	Ack               []string          `json:"ack,omitempty"`
	SetErrs           map[string]setErr `json:"setErrs,omitempty"`
}

type setErr struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}

// pollResponse is an RFC 8936 answer.
type pollResponse struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable,omitempty"`
}

// maxPollEvents bounds one poll's answer.
const maxPollEvents = 500

// servePoll answers a poll of the caller's stream (RFC 8936): it takes
// acknowledgements and errors out of the outbox, then returns the oldest
// SETs queued, waiting up to long_poll for one unless asked to return
// immediately.
func (s *Service) servePoll(w http.ResponseWriter, r *http.Request, caller string) error {
	if _, err := s.callerPeer(caller); err != nil {
		return err
	}
	var req pollRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	st, err := s.ownStream(r.Context(), caller, r.PathValue("stream_id"))
	if err != nil {
		return err
	}
	if st.Delivery.Method != MethodPoll {
		return fail(http.StatusConflict, "conflict", "stream %s is delivered by push", st.ID)
	}
	ctx := r.Context()
	acked, err := s.state.remove(ctx, st.ID, req.Ack)
	if err != nil {
		return err
	}
	s.met.delivered.WithLabelValues(st.Peer).Add(float64(acked))
	var refused []string
	for jti, e := range req.SetErrs {
		refused = append(refused, jti)
		s.log.Warn("peer refused a SET; dropped", "peer", st.Peer, "jti", jti, "err", e.Err, "description", e.Description)
	}
	if n, err := s.state.remove(ctx, st.ID, refused); err != nil {
		return err
	} else if n > 0 {
		s.met.failures.WithLabelValues(st.Peer, "refused").Add(float64(n))
	}
	maxEvents := maxPollEvents
	if req.MaxEvents != nil {
		maxEvents = min(max(*req.MaxEvents, 0), maxPollEvents)
	}
	resp := pollResponse{Sets: map[string]string{}}
	if maxEvents == 0 || st.Status != StatusEnabled {
		return writeJSON(w, http.StatusOK, resp)
	}
	wait := time.NewTimer(s.cfg.LongPoll)
	defer wait.Stop()
	for {
		changed := s.changes()
		// Every queued SET is due for a poll: attempts are a push's.
		due, err := s.state.due(ctx, st.ID, time.Time{}, true, maxEvents+1)
		if err != nil {
			return err
		}
		if len(due) > 0 || req.ReturnImmediately {
			now := s.wall()
			for i, q := range due {
				if i == maxEvents {
					resp.MoreAvailable = true
					break
				}
				tok, err := s.sign(q, now)
				if err != nil {
					return err
				}
				resp.Sets[q.JTI] = tok
			}
			return writeJSON(w, http.StatusOK, resp)
		}
		select {
		case <-changed:
		case <-wait.C:
			return writeJSON(w, http.StatusOK, resp)
		case <-ctx.Done():
			return nil
		case <-s.quit: // the guard is stopping
			return writeJSON(w, http.StatusOK, resp)
		}
	}
}

// decodePoll parses a poll answer from a peer.
func decodePoll(r io.Reader) (pollResponse, error) {
	var resp pollResponse
	if err := json.NewDecoder(r).Decode(&resp); err != nil {
		return pollResponse{}, fmt.Errorf("decoding poll answer: %w", err)
	}
	return resp, nil
}
