package faultproxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// FaultsJSON is Faults on the control API, with durations as Go duration strings ("150ms").
type FaultsJSON struct {
	Delay      string  `json:"delay,omitempty"`
	Jitter     string  `json:"jitter,omitempty"`
	StallProb  float64 `json:"stall_prob,omitempty"`
	StallFor   string  `json:"stall_for,omitempty"`
	ResetPerMB float64 `json:"reset_per_mb,omitempty"`
}

// JSON converts f for the control API.
func (f Faults) JSON() FaultsJSON {
	s := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	return FaultsJSON{Delay: s(f.Delay), Jitter: s(f.Jitter), StallProb: f.StallProb, StallFor: s(f.StallFor), ResetPerMB: f.ResetPerMB}
}

// Faults parses the control API form; empty durations are zero.
func (j FaultsJSON) Faults() (Faults, error) {
	f := Faults{StallProb: j.StallProb, ResetPerMB: j.ResetPerMB}
	for _, d := range []struct {
		name string
		in   string
		out  *time.Duration
	}{{"delay", j.Delay, &f.Delay}, {"jitter", j.Jitter, &f.Jitter}, {"stall_for", j.StallFor, &f.StallFor}} {
		if d.in == "" {
			continue
		}
		v, err := time.ParseDuration(d.in)
		if err != nil {
			return Faults{}, fmt.Errorf("faults: %s %q is not a duration such as 150ms", d.name, d.in)
		}
		*d.out = v
	}
	return f, f.Validate()
}

// Handler is a tiny control API for a proxy running in another process:
//
//	GET  /stats               → Stats
//	GET  /faults              → FaultsJSON
//	PUT  /faults              ← FaultsJSON (replaces all faults)
//	POST /blackhole?on=true   (or on=false)
//	POST /cut                 → {"cut": n}
func (p *Proxy) Handler() http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) { reply(w, p.Stats()) })
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) { reply(w, p.Faults().JSON()) })
	mux.HandleFunc("PUT /faults", func(w http.ResponseWriter, r *http.Request) {
		var j FaultsJSON
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		f, err := j.Faults()
		if err == nil {
			err = p.SetFaults(f)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		reply(w, f.JSON())
	})
	mux.HandleFunc("POST /blackhole", func(w http.ResponseWriter, r *http.Request) {
		on, err := strconv.ParseBool(r.URL.Query().Get("on"))
		if err != nil {
			http.Error(w, "blackhole: want ?on=true or ?on=false", http.StatusBadRequest)
			return
		}
		p.SetBlackhole(on)
		reply(w, p.Stats())
	})
	mux.HandleFunc("POST /cut", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]int{"cut": p.CutAll()})
	})
	return mux
}
