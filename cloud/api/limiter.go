package api

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// loginLimiter bounds login attempts per client address so passwords
// cannot be guessed at the speed of the hash. It forgets everyone when it
// tracks too many addresses (a flood then costs the attacker its own
// budget, never other users their accounts: nothing is locked out).
type loginLimiter struct {
	mu    sync.Mutex
	per   rate.Limit
	burst int
	max   int
	m     map[string]*rate.Limiter
}

func newLoginLimiter(perMinute, burst int) *loginLimiter {
	return &loginLimiter{per: rate.Every(time.Minute / time.Duration(perMinute)), burst: burst, max: 10000, m: map[string]*rate.Limiter{}}
}

// allow reports whether the client of r may attempt a login now.
func (l *loginLimiter) allow(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[host]
	if lim == nil {
		if len(l.m) >= l.max {
			clear(l.m)
		}
		lim = rate.NewLimiter(l.per, l.burst)
		l.m[host] = lim
	}
	return lim.Allow()
}
