package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func storeTests() []test {
	return []test{
		{"PingAndClose", testStoreClose},
		{"SettingsReadBackWhatTheStoreWasGiven", testStoreSettings},
	}
}

// testStoreSettings checks that a store reads back the clock it was given
// (the very clock: moving it moves the store's) and the default limits,
// which is what the scheduler configures itself with.
func testStoreSettings(t *testing.T, fx *fixture) {
	c := fx.st.Clock()
	if c == nil {
		t.Fatal("Clock() = nil, want the clock the store was given")
	}
	if got, want := c.Now(), fx.clock.Now(); !got.Equal(want) {
		t.Errorf("Clock().Now() = %v, want the given clock's %v", got, want)
	}
	fx.clock.Advance(time.Hour)
	if got, want := c.Now(), fx.clock.Now(); !got.Equal(want) {
		t.Errorf("after the given clock moved, Clock().Now() = %v, want %v", got, want)
	}
	if got, want := fx.open().Limits(), (store.Limits{}).WithDefaults(); got != want {
		t.Errorf("Limits() = %+v, want the defaults %+v", got, want)
	}
}

func testStoreClose(t *testing.T, fx *fixture) {
	st := fx.open()
	if err := st.Ping(fx.ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := st.ScheduleGet(fx.ctx, missingID)
	wantErr(t, "ScheduleGet after Close", err, store.ErrClosed)
	_, err = st.RunEnqueue(fx.ctx, adhoc())
	wantErr(t, "RunEnqueue after Close", err, store.ErrClosed)
	wantErr(t, "Ping after Close", st.Ping(fx.ctx), store.ErrClosed)
}
