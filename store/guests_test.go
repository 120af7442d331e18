package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestGuests runs the guest records against SQLite and PostgreSQL.
func TestGuests(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			testGuests(t, openStore(t, b.newURI(t)))
		})
	}
}

func testGuests(t *testing.T, st *Store) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	karl := Guest{
		UserID: "@ext.karl.kaeufer:forst.test", Name: "Karl Käufer", Organisation: "Holz AG", Email: "karl@holz-ag.de",
		Tenant: "hessenforst", Rooms: []string{"hessenforst/holzmarkt"}, InvitedBy: "@ulange:forst.test",
		CreatedAt: now, ExpiresAt: now.Add(90 * 24 * time.Hour), Status: GuestActive,
	}
	jana := Guest{
		UserID: "@ext.jana.jaeger:forst.test", Name: "Jana Jäger", Organisation: "Jagdpächter", Email: "jana@example.org",
		Tenant: "hessenforst", InvitedBy: "@ulange:forst.test",
		CreatedAt: now.Add(time.Minute), ExpiresAt: now.Add(24 * time.Hour), Status: GuestActive,
	}
	for _, g := range []Guest{karl, jana} {
		if err := st.AddGuest(ctx, g); err != nil {
			t.Fatalf("AddGuest(%s): %v", g.UserID, err)
		}
	}
	if err := st.AddGuest(ctx, karl); !errors.Is(err, ErrGuestExists) {
		t.Errorf("AddGuest of a taken account: got %v, want ErrGuestExists", err)
	}

	got, err := st.Guest(ctx, karl.UserID)
	if err != nil || got == nil {
		t.Fatalf("Guest: got %v, %v", got, err)
	}
	if got.Name != karl.Name || got.Email != karl.Email || !slices.Equal(got.Rooms, karl.Rooms) ||
		!got.ExpiresAt.Equal(karl.ExpiresAt) || !got.CreatedAt.Equal(karl.CreatedAt) || got.Status != GuestActive {
		t.Errorf("Guest: got %+v, want %+v", *got, karl)
	}
	if g, err := st.Guest(ctx, "@niemand:forst.test"); err != nil || g != nil {
		t.Errorf("Guest of nobody: got %v, %v, want nil, nil", g, err)
	}
	all, err := st.Guests(ctx)
	if err != nil || len(all) != 2 || all[0].UserID != karl.UserID || all[1].Rooms == nil {
		t.Fatalf("Guests: got %+v, %v; want karl then jana, with rooms [] not nil", all, err)
	}

	rooms := []string{"hessenforst/holzmarkt", "hessenforst/jagd"}
	if ok, err := st.SetGuestRooms(ctx, karl.UserID, rooms); err != nil || !ok {
		t.Errorf("SetGuestRooms: got %v, %v, want true", ok, err)
	}
	if g, _ := st.Guest(ctx, karl.UserID); !slices.Equal(g.Rooms, rooms) {
		t.Errorf("rooms after SetGuestRooms: got %q, want %q", g.Rooms, rooms)
	}

	// Jana's day is over; Karl's extension before his expiry keeps him.
	later := now.Add(30 * 24 * time.Hour)
	if ok, err := st.ExtendGuest(ctx, karl.UserID, now.Add(200*24*time.Hour), now); err != nil || !ok {
		t.Errorf("ExtendGuest before the expiry: got %v, %v, want true", ok, err)
	}
	if ok, err := st.ExtendGuest(ctx, jana.UserID, now.Add(200*24*time.Hour), later); err != nil || ok {
		t.Errorf("ExtendGuest after the expiry: got %v, %v, want false", ok, err)
	}
	expired, err := st.ExpireGuests(ctx, later)
	if err != nil || len(expired) != 1 || expired[0].UserID != jana.UserID || expired[0].Status != GuestExpired {
		t.Fatalf("ExpireGuests: got %+v, %v, want jana expired", expired, err)
	}
	if again, err := st.ExpireGuests(ctx, later); err != nil || len(again) != 0 {
		t.Errorf("ExpireGuests again: got %+v, %v, want none", again, err)
	}
	if expired, _ := st.ExpireGuests(ctx, now.Add(199*24*time.Hour)); len(expired) != 0 {
		t.Errorf("ExpireGuests before the extended expiry: got %+v, want none", expired)
	}
	if ok, _ := st.SetGuestRooms(ctx, jana.UserID, rooms); ok {
		t.Error("SetGuestRooms of an expired guest: got true, want false")
	}

	if _, err := st.EndGuest(ctx, karl.UserID, GuestActive); err == nil {
		t.Error("EndGuest with status active: got no error")
	}
	if ok, err := st.EndGuest(ctx, karl.UserID, GuestRemoved); err != nil || !ok {
		t.Errorf("EndGuest: got %v, %v, want true", ok, err)
	}
	if ok, _ := st.EndGuest(ctx, karl.UserID, GuestRemoved); ok {
		t.Error("EndGuest of an ended guest: got true, want false")
	}
	if g, _ := st.Guest(ctx, karl.UserID); g.Status != GuestRemoved {
		t.Errorf("status after EndGuest: got %s, want %s", g.Status, GuestRemoved)
	}
	// An ended guest's account is never handed out again.
	karl.Status = GuestActive
	if err := st.AddGuest(ctx, karl); !errors.Is(err, ErrGuestExists) {
		t.Errorf("AddGuest of a removed guest's account: got %v, want ErrGuestExists", err)
	}
}
