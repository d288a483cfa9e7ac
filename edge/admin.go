package edge

// The admin dialect: /admin/v1/* for the shop's IT person, plus health,
// readiness and metrics. Envelope: `{"ok": true, ...}` or
// `{"ok": false, "error": "<code>", "message": "..."}`.

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"
)

var adminDialect = &dialect{
	name: "admin",
	writeError: func(w http.ResponseWriter, err error) {
		writeJSON(w, HTTPStatus(ErrorCode(err)), map[string]any{"ok": false, "error": ErrorReason(err), "message": ErrorMessage(err)})
	},
	replayOK: map[string]any{"ok": true},
}

func (s *Server) routeAdmin() {
	s.handle(http.MethodGet, "/healthz", adminDialect, public, func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) error {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "version": s.opts.Version})
		return nil
	})
	s.handle(http.MethodGet, "/readyz", adminDialect, public, func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.svc.Ping(ctx); err != nil {
			return &Error{Code: EUNAVAILABLE, Reason: "database", Message: "The database does not answer"}
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
		return nil
	})
	metrics := s.metrics.handler()
	s.handle(http.MethodGet, "/metrics", adminDialect, public, func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
		metrics.ServeHTTP(w, r)
		return nil
	})
	s.handle(http.MethodGet, "/admin/v1/sync", adminDialect, adminOnly, s.adminSync)
	s.handle(http.MethodGet, "/admin/v1/outbox", adminDialect, adminOnly, s.adminOutbox)
	s.handle(http.MethodPost, "/admin/v1/outbox/retry", adminDialect, adminOnly, s.adminRetry)
	for _, kind := range []string{CatalogProducts, CatalogCodes, CatalogGifts} {
		s.handle(http.MethodPut, "/admin/v1/"+kind, adminDialect, adminOnly, s.adminImport(kind))
	}
}

// SyncJSON is the sync status as `GET /admin/v1/sync` shows it (SPEC §6).
type SyncJSON struct {
	Online          bool    `json:"online"`
	Pending         int64   `json:"pending"`
	Dead            int64   `json:"dead"`
	OldestPendingAt *int64  `json:"oldest_pending_at"`
	LastSuccessAt   *int64  `json:"last_success_at"`
	LastError       *string `json:"last_error"`
}

func (s *Server) adminSync(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	st, err := s.svc.Sync(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SyncJSON{Online: st.Online, Pending: st.Pending, Dead: st.Dead,
		OldestPendingAt: msOrNil(st.OldestPending), LastSuccessAt: msOrNil(st.LastSuccess), LastError: nonEmpty(st.LastError)})
	return nil
}

func msOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

// EventJSON is an outbox event as admins see it.
type EventJSON struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	State      string `json:"state"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	Attempts   int    `json:"attempts"`
	LastStatus int    `json:"last_status"`
	LastError  string `json:"last_error"`
	LastBody   string `json:"last_body"`
	CreatedAt  int64  `json:"created_at"`
	NextTryAt  *int64 `json:"next_try_at"`
	DoneAt     *int64 `json:"done_at"`
}

// EventStates names event states for listings and the CLI.
var EventStates = map[int]string{EventPending: "pending", EventDelivered: "delivered", EventDead: "dead"}

// EventView is the listing shape of an event.
func EventView(e *Event) EventJSON {
	return EventJSON{ID: e.ID, Kind: e.Kind, State: EventStates[e.State], Method: e.Call.Method, Path: e.Call.Path,
		Attempts: e.Attempts, LastStatus: e.LastStatus, LastError: e.LastError, LastBody: e.LastBody,
		CreatedAt: e.CreatedAt.UnixMilli(), NextTryAt: msOrNil(e.NextTry), DoneAt: msOrNil(e.DoneAt)}
}

// ParseEventState reads "pending", "dead", "delivered" or "all".
func ParseEventState(v string) (int, error) {
	switch v {
	case "", "pending":
		return EventPending, nil
	case "dead":
		return EventDead, nil
	case "delivered":
		return EventDelivered, nil
	case "all":
		return -1, nil
	}
	return 0, Invalid("state", "state must be pending, dead, delivered or all")
}

func (s *Server) adminOutbox(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	stateText, err := queryText(r, "state")
	if err != nil {
		return err
	}
	state, err := ParseEventState(stateText)
	if err != nil {
		return err
	}
	limit := 100
	if v, err := queryText(r, "limit"); err != nil {
		return err
	} else if v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 10000 {
			return Invalid("limit", "limit must be from 1 to 10000")
		}
	}
	evs, err := s.svc.OutboxEvents(r.Context(), OutboxFilter{State: state, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]EventJSON, 0, len(evs))
	for i := range evs {
		out = append(out, EventView(&evs[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "events": out})
	return nil
}

func (s *Server) adminRetry(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var b struct {
		ID      string `json:"id"`
		AllDead bool   `json:"all_dead"`
	}
	if _, err := decodeBody(r, &b); err != nil {
		return err
	}
	var n int
	var err error
	switch {
	case b.ID != "":
		n, err = 1, s.svc.RetryDeadEvent(r.Context(), b.ID)
	case b.AllDead:
		n, err = s.svc.RetryAllDead(r.Context())
	default:
		return Invalid("id", `give "id" of a dead event, or "all_dead": true`)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "requeued": n})
	return nil
}

func (s *Server) adminImport(kind string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
		body, err := readBody(r)
		if err != nil {
			return err
		}
		b, err := ParseCatalog(kind, bytes.NewReader(body))
		if err != nil {
			return err
		}
		if err := s.svc.ImportCatalog(r.Context(), b, nil); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, struct {
			OK   bool   `json:"ok"`
			Kind string `json:"kind"`
			Rows int    `json:"rows"`
		}{true, kind, b.Len()})
		return nil
	}
}
