// Package storekit is what a store implementation needs to refuse bad input
// the same way as every other store: the checks that each method of
// store.Store runs on its arguments before it writes or reads anything.
//
// Import it only to write a store; callers of a store need none of it.
// Every store calls the function named for its method (PrepareSchedule in
// ScheduleCreate and ScheduleUpdate, CheckClaim in RunClaim, ListLimit for
// a page size, and so on), so that a given input is refused by each store
// with the same *store.ValidationError, naming the same field, and the
// conformance suite in store/storetest can hold every store to it.
//
// The Prepare functions validate their input and return a normalized copy
// (defaults filled in, times in UTC at microsecond precision, as
// store.Timestamp makes them); the Check functions only validate. None
// modifies its argument.
package storekit
