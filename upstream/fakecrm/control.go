package fakecrm

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// controlMux serves /_fake/: the same knobs as the Go API, for tests that run
// the fake as its own process. These endpoints need no auth, are never
// faulted and are not recorded.
func (c *CRM) controlMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_fake/faults", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		s := c.faults.settings()
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("POST /_fake/faults", func(w http.ResponseWriter, r *http.Request) {
		var s faultSettings
		if !readJSON(w, r, &s) {
			return
		}
		c.mu.Lock()
		c.faults.apply(s)
		s = c.faults.settings()
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("POST /_fake/clear-faults", func(w http.ResponseWriter, r *http.Request) {
		c.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /_fake/received", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Received())
	})
	mux.HandleFunc("GET /_fake/applied", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Applied())
	})
	mux.HandleFunc("GET /_fake/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Stats())
	})
	mux.HandleFunc("POST /_fake/catalog", func(w http.ResponseWriter, r *http.Request) {
		var cat struct {
			Products []Product          `json:"products"`
			Codes    []AccumulationCode `json:"codes"`
			Gifts    []Gift             `json:"gifts"`
		}
		if !readJSON(w, r, &cat) {
			return
		}
		c.mu.Lock()
		for _, p := range cat.Products {
			c.store.addProduct(p)
		}
		for _, code := range cat.Codes {
			c.store.addCode(code)
		}
		for _, g := range cat.Gifts {
			c.store.addGift(g)
		}
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /_fake/members", func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			PosID  string         `json:"pos_id"`
			Member map[string]any `json:"member"`
		}
		if !readJSON(w, r, &m) {
			return
		}
		id, err := c.AddMember(m.PosID, m.Member)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"_id": id})
	})
	mux.HandleFunc("POST /_fake/history", func(w http.ResponseWriter, r *http.Request) {
		var h struct {
			Phone   string  `json:"phone"`
			Entries []Entry `json:"entries"`
		}
		if !readJSON(w, r, &h) {
			return
		}
		if err := c.AddHistory(h.Phone, h.Entries...); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	return mux
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("malformed JSON: %v", err)})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
