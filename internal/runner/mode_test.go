package runner

import (
	"testing"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/state"
)

func TestChecksumModeChoice(t *testing.T) {
	run := func(source, exceptions int64) *state.Run {
		return &state.Run{SourceCount: source, Exceptions: exceptions}
	}
	for _, c := range []struct {
		mode     string
		last     *state.Run
		checksum bool
		expect   int64
	}{
		{config.ModeRows, run(5_000_000, 0), false, 5_000_000},
		{config.ModeChecksum, nil, true, 0},
		{config.ModeChecksum, run(50, 50), true, 50},
		{config.ModeAuto, nil, false, 0},                            // a first run reads rows
		{config.ModeAuto, run(99_999, 0), false, 99_999},            // too few to pay
		{config.ModeAuto, run(1_000_000, 999), true, 1_000_000},     // sparse drift
		{config.ModeAuto, run(1_000_000, 1_000), false, 1_000_000},  // 0.1%: most segments would differ
		{config.ModeAuto, run(1_000_000, 50_000), false, 1_000_000}, // dense drift
	} {
		checksum, expect := checksumMode(c.mode, c.last)
		if checksum != c.checksum || expect != c.expect {
			t.Errorf("checksumMode(%s, %+v) = %t, %d; want %t, %d", c.mode, c.last, checksum, expect, c.checksum, c.expect)
		}
	}
}
