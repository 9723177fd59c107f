package runner

import (
	"testing"

	"github.com/recon-dev/recon/internal/config"
	"github.com/recon-dev/recon/internal/state"
)

func TestChecksumModeChoice(t *testing.T) {
	run := func(source, exceptions int64) state.Run {
		return state.Run{SourceCount: source, Exceptions: exceptions}
	}
	// timed is a run of 1M source records that took seconds in mode.
	timed := func(mode string, seconds float64) state.Run {
		r := run(1_000_000, 10)
		r.Mode, r.DurationSeconds, r.ConfigHash = &mode, &seconds, "h"
		return r
	}
	for _, c := range []struct {
		name     string
		mode     string
		recent   []state.Run
		checksum bool
		expect   int64
	}{
		{"rows always", config.ModeRows, []state.Run{run(5_000_000, 0)}, false, 5_000_000},
		{"checksum on a first run", config.ModeChecksum, nil, true, 0},
		{"checksum however much differs", config.ModeChecksum, []state.Run{run(50, 50)}, true, 50},
		{"checksum however slow", config.ModeChecksum, []state.Run{timed("checksum", 9), timed("rows", 1)}, true, 1_000_000},
		{"auto reads rows on a first run", config.ModeAuto, nil, false, 0},
		{"auto: too few to pay", config.ModeAuto, []state.Run{run(99_999, 0)}, false, 99_999},
		{"auto: sparse drift", config.ModeAuto, []state.Run{run(1_000_000, 999)}, true, 1_000_000},
		{"auto: 0.1%, most segments would differ", config.ModeAuto, []state.Run{run(1_000_000, 1_000)}, false, 1_000_000},
		{"auto: dense drift", config.ModeAuto, []state.Run{run(1_000_000, 50_000)}, false, 1_000_000},
		{"auto: runs of older recons have no timing", config.ModeAuto, []state.Run{run(1_000_000, 0), run(1_000_000, 0)}, true, 1_000_000},
		{"auto: checksums paid", config.ModeAuto, []state.Run{timed("checksum", 1), timed("rows", 2)}, true, 1_000_000},
		{"auto: checksums took longer", config.ModeAuto, []state.Run{timed("checksum", 2), timed("rows", 1)}, false, 1_000_000},
		{"auto: still within the window", config.ModeAuto, []state.Run{timed("rows", 1), timed("rows", 1), timed("checksum", 2)}, false, 1_000_000},
		{"auto: the newest rows run counts", config.ModeAuto, []state.Run{timed("rows", 3), timed("checksum", 2), timed("rows", 1)}, true, 1_000_000},
		{"auto: per source record", config.ModeAuto, []state.Run{timed("rows", 1), func() state.Run {
			r := timed("checksum", 1.5)
			r.SourceCount = 2_000_000 // half the time per record of rows'
			return r
		}()}, true, 1_000_000},
		{"auto: no rows run to weigh against", config.ModeAuto, []state.Run{timed("checksum", 50)}, true, 1_000_000},
		// The window's slow checksum run has left it: time checksums again.
		{"auto: no checksum run to weigh", config.ModeAuto, []state.Run{timed("rows", 1), timed("rows", 1)}, true, 1_000_000},
		{"auto: a checksum run of another config", config.ModeAuto, []state.Run{timed("rows", 1), func() state.Run {
			r := timed("checksum", 2)
			r.ConfigHash = "before" // say, fewer fields
			return r
		}()}, true, 1_000_000},
		{"auto: drift outweighs timing", config.ModeAuto, []state.Run{run(1_000_000, 5_000), timed("checksum", 1), timed("rows", 2)}, false, 1_000_000},
	} {
		checksum, expect, why := checksumMode(c.mode, "h", c.recent)
		if checksum != c.checksum || expect != c.expect {
			t.Errorf("%s: checksumMode(%s, %+v) = %t, %d (%s); want %t, %d", c.name, c.mode, c.recent, checksum, expect, why, c.checksum, c.expect)
		}
		if c.mode == config.ModeAuto && why == "" {
			t.Errorf("%s: auto mode chose without saying why", c.name)
		}
	}
}
