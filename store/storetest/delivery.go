package storetest

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func deliveryTests() []test {
	return []test{
		{"RecordAndListInOrder", testDeliveryRecord},
		{"RecordForMissingRunIsNotFound", testDeliveryMissingRun},
		{"RecordRejectsBadInputAndWritesNothing", testDeliveryBadInput},
	}
}

func testDeliveryRecord(t *testing.T, fx *fixture) {
	r := fx.enqueueRun(adhoc())
	other := fx.enqueueRun(adhoc())
	started := fx.now().Add(-3 * time.Second)
	in := []*store.Delivery{
		{RunID: r.ID, Channel: "slack", To: "#ops", Attempt: 1, Status: store.DeliveryRetrying, Error: "429", StartedAt: started, FinishedAt: started.Add(time.Second)},
		{RunID: r.ID, Channel: "email", To: "a@example.com", Attempt: 1, Status: store.DeliverySucceeded},
		{RunID: r.ID, Channel: "slack", To: "#ops", Attempt: 2, Status: store.DeliverySucceeded},
	}
	var ids []string
	for i, d := range in {
		got, err := fx.st.DeliveryRecord(fx.ctx, d)
		if err != nil {
			t.Fatalf("DeliveryRecord %d: %v", i, err)
		}
		if got.ID == "" {
			t.Fatalf("DeliveryRecord %d assigned no ID", i)
		}
		if d.ID != "" {
			t.Errorf("DeliveryRecord modified its argument")
		}
		ids = append(ids, got.ID)
		if i == 1 {
			if _, err := fx.st.DeliveryRecord(fx.ctx, &store.Delivery{RunID: other.ID, Channel: "log", Attempt: 1, Status: store.DeliveryFailed}); err != nil {
				t.Fatalf("DeliveryRecord: %v", err)
			}
		}
	}
	list, err := fx.open().DeliveryList(fx.ctx, &store.DeliveryListParams{RunID: r.ID})
	if err != nil {
		t.Fatalf("DeliveryList: %v", err)
	}
	if len(list) != 3 {
		t.Fatalf("DeliveryList = %d deliveries, want 3", len(list))
	}
	for i, d := range list {
		want(t, "ID in recording order", d.ID, ids[i])
		want(t, "RunID", d.RunID, r.ID)
		want(t, "Channel", d.Channel, in[i].Channel)
		want(t, "To", d.To, in[i].To)
		want(t, "Attempt", d.Attempt, in[i].Attempt)
		want(t, "Status", d.Status, in[i].Status)
		want(t, "Error", d.Error, in[i].Error)
	}
	wantTime(t, "StartedAt as given", list[0].StartedAt, started)
	wantTime(t, "FinishedAt as given", list[0].FinishedAt, started.Add(time.Second))
	wantTime(t, "StartedAt defaults to now", list[1].StartedAt, fx.now())
	wantTime(t, "FinishedAt defaults to now", list[1].FinishedAt, fx.now())

	none := fx.enqueueRun(adhoc())
	list, err = fx.st.DeliveryList(fx.ctx, &store.DeliveryListParams{RunID: none.ID})
	if err != nil {
		t.Fatalf("DeliveryList: %v", err)
	}
	want(t, "deliveries of a run without any", len(list), 0)
}

func testDeliveryMissingRun(t *testing.T, fx *fixture) {
	_, err := fx.st.DeliveryRecord(fx.ctx, &store.Delivery{RunID: missingID, Channel: "log", Attempt: 1, Status: store.DeliverySucceeded})
	wantErr(t, "DeliveryRecord for a missing run", err, store.ErrNotFound)
	list, err := fx.st.DeliveryList(fx.ctx, &store.DeliveryListParams{RunID: missingID})
	if err != nil {
		t.Fatalf("DeliveryList: %v", err)
	}
	want(t, "deliveries of a missing run", len(list), 0)
}

func testDeliveryBadInput(t *testing.T, fx *fixture) {
	r := fx.enqueueRun(adhoc())
	cases := []struct {
		name  string
		d     store.Delivery
		field string
	}{
		{"no run", store.Delivery{Channel: "log", Attempt: 1, Status: store.DeliverySucceeded}, "run_id"},
		{"no channel", store.Delivery{RunID: r.ID, Attempt: 1, Status: store.DeliverySucceeded}, "channel"},
		{"attempt 0", store.Delivery{RunID: r.ID, Channel: "log", Status: store.DeliverySucceeded}, "attempt"},
		{"unknown status", store.Delivery{RunID: r.ID, Channel: "log", Attempt: 1, Status: "sent"}, "status"},
	}
	for _, tc := range cases {
		_, err := fx.st.DeliveryRecord(fx.ctx, &tc.d)
		wantInvalid(t, tc.name, err, tc.field)
	}
	list, err := fx.st.DeliveryList(fx.ctx, &store.DeliveryListParams{RunID: r.ID})
	if err != nil {
		t.Fatalf("DeliveryList: %v", err)
	}
	want(t, "deliveries after refusals", len(list), 0)
}
