package sourcetest

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/recon-dev/recon/queries"
)

// FuzzLiteral checks, for any text, the invariants of a dialect's string
// literals that hold without a database: one line, no raw control
// characters, and an error only for text the dialect cannot hold (invalid
// UTF-8, or a NUL where refuses says so). The conformance suite's
// RepairText checks against the database that they mean the text.
func FuzzLiteral(f *testing.F, w queries.Writer, refusesNUL bool) {
	for _, s := range RepairTexts(50, 2) {
		f.Add(s)
	}
	f.Add("\x00")
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, s string) {
		lit, err := w.StringLiteral(s)
		cannot := !utf8.ValidString(s) || (refusesNUL && strings.Contains(s, "\x00"))
		if (err != nil) != cannot {
			t.Fatalf("StringLiteral(%q) = %q, %v", s, lit, err)
		}
		if err == nil && queries.HasControl(lit) {
			t.Fatalf("StringLiteral(%q) = %q holds a control character", s, lit)
		}
	})
}
