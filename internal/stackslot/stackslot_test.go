package stackslot

import (
	"testing"
	"time"
)

func TestHoldWaitsForFreeSlots(t *testing.T) {
	dir := t.TempDir()
	releaseBig, err := hold(dir, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		release, err := hold(dir, 2, 1)
		if err != nil {
			t.Error(err)
		}
		got <- release
	}()
	select {
	case <-got:
		t.Fatal("a third slot was taken while both of two were held")
	case <-time.After(time.Second):
	}
	releaseBig()
	select {
	case release := <-got:
		release()
	case <-time.After(10 * time.Second):
		t.Fatal("a freed slot was not taken")
	}
}

func TestHoldCapsCostAtSlots(t *testing.T) {
	release, err := hold(t.TempDir(), 1, 2)
	if err != nil {
		t.Fatalf("a cost above the machine's slots: %v, want it capped", err)
	}
	release()
}

func TestCost(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		servers int
		want    int
	}{{"dendrite", 4, 1}, {"synapse", 4, 2}, {"mixed", 4, 2}, {"synapse", 1, 1}} {
		if got := Cost(tc.kind, tc.servers); got != tc.want {
			t.Errorf("Cost(%s, %d): got %d, want %d", tc.kind, tc.servers, got, tc.want)
		}
	}
}
