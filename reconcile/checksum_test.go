package reconcile

import (
	"math"
	"reflect"
	"testing"
)

func TestKeyRanges(t *testing.T) {
	tests := []struct {
		name         string
		origin, last int64
		width        int64
		segments     []int64
		want         [][2]int64
	}{
		{"one segment", 1, 1000, 64, []int64{2}, [][2]int64{{129, 192}}},
		{"adjacent segments join", 1, 1000, 64, []int64{2, 3, 5}, [][2]int64{{129, 256}, {321, 384}}},
		{"the last stops at the greatest key", 1, 1000, 64, []int64{15}, [][2]int64{{961, 1000}}},
		{"none beyond the greatest key", 1, 1000, 64, []int64{15, 16}, [][2]int64{{961, 1000}}},
		{"negative origin", -100, 100, 16, []int64{0, 6, 12}, [][2]int64{{-100, -85}, {-4, 11}, {92, 100}}},
		{"width one", 5, 9, 1, []int64{0, 1, 3}, [][2]int64{{5, 6}, {8, 8}}},
		{"near the greatest int64", math.MaxInt64 - 99, math.MaxInt64, 128, []int64{0}, [][2]int64{{math.MaxInt64 - 99, math.MaxInt64}}},
		{"near the least int64", math.MinInt64, math.MinInt64 + 99, 64, []int64{1}, [][2]int64{{math.MinInt64 + 64, math.MinInt64 + 99}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := SegmentLevel{Origin: tt.origin, Last: tt.last}
			if got := l.KeyRanges(tt.width, tt.segments); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("KeyRanges(%d, %v) = %v, want %v", tt.width, tt.segments, got, tt.want)
			}
		})
	}
}
