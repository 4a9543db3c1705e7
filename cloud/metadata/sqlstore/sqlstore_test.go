package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	pg := &Dialect{DollarPlaceholders: true}
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE a = ? AND b = ?`, `SELECT a FROM t WHERE a = $1 AND b = $2`},
		{`INSERT INTO t VALUES (?, '', '?', ?)`, `INSERT INTO t VALUES ($1, '', '?', $2)`},
		{`SELECT 'it''s ?' WHERE x IN (?, ?)`, `SELECT 'it''s ?' WHERE x IN ($1, $2)`},
	} {
		if got := pg.rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	sqlite := &Dialect{}
	if q := `SELECT ? WHERE '?' = ?`; sqlite.rebind(q) != q {
		t.Errorf("sqlite rebind changed %q to %q", q, sqlite.rebind(q))
	}
}
