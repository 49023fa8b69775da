package storetest

import (
	"testing"

	"github.com/heraldhq/herald/store"
)

func storeTests() []test {
	return []test{
		{"PingAndClose", testStoreClose},
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
