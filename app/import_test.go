package app

import (
	"testing"
	"time"

	"github.com/toktok/toktok/password"
)

func TestAdvisedFloor(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		costs []password.WrapCost
		want  time.Duration
	}{
		{nil, 0},
		{[]password.WrapCost{{Equal: true, Wrapped: 50 * ms, Ordinary: 48 * ms}}, 0},
		{[]password.WrapCost{{Equal: false, Wrapped: 24 * ms, Ordinary: 20 * ms}}, 30 * ms},
		{[]password.WrapCost{{Equal: false, Wrapped: 24 * ms, Ordinary: 20 * ms}, {Equal: false, Wrapped: 101 * ms, Ordinary: 20 * ms}}, 130 * ms},
		// Cheaper than an ordinary check (a noisy calibration): nothing to hide.
		{[]password.WrapCost{{Equal: false, Wrapped: 15 * ms, Ordinary: 20 * ms}}, 0},
	} {
		if got := AdvisedFloor(tc.costs); got != tc.want {
			t.Errorf("AdvisedFloor(%+v) = %v, want %v", tc.costs, got, tc.want)
		}
	}
}
