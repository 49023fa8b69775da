// Package trigger is the one place where a schedule's trigger is checked,
// parsed and turned into fire times. Compile checks a trigger spec (the
// fields of store.Trigger) and compiles it into a Trigger, a pure function
// from a time to the next fire time; every error is an *Error naming the
// field at fault.
//
// Every store checks the trigger of every schedule written with Compile
// (store/storekit's PrepareSchedule), and the scheduler compiles with it
// the triggers it fires, so what a store accepts is what the scheduler
// fires, by the same rules; CompileStore takes a store.Trigger and reports
// store errors, for both. It is internal to Herald, and imports no Herald
// package but store.
//
// A cron expression is parsed once, into a set of values per field, and
// its fire times are computed from those sets: the next wall-clock time is
// found field by field, then read in the trigger's zone with the
// daylight-saving semantics of Herald's design. go-quartz's CronTrigger is
// not used here: it gets daylight saving, dates past a month's end and the
// L, W and # forms wrong (quartz_test.go records how), and it would parse
// the expression a second time, in its own dialect. Nothing here reads the
// clock or applies jitter, so every node computes the same fire times.
//
// # Cron expressions
//
// An expression is one of
//
//	min hour dom month dow            (5 fields, crontab)
//	sec min hour dom month dow        (6 fields)
//	sec min hour dom month dow year   (7 fields)
//	@yearly @annually @monthly @weekly @daily @midnight @hourly
//	@every <duration>
//
// All forms share crontab semantics. A field is a comma-separated list of
// items; an item is *, ?, a value, a range a-b, or any of these followed by a
// step /n (a/n means from a up to the field's maximum). ? means the same as
// *. Months may be written JAN-DEC and days of the week SUN-SAT, in any case.
// The day of the week runs from 0 to 7, where both 0 and 7 are Sunday. Years
// run from 1970 to 2099. A 5-field expression is the 6-field expression with
// a 0 seconds field in front.
//
// @annually is an alias of @yearly, and @midnight of @daily. @weekly fires on
// Sundays at midnight. @every takes a Go duration of at least one second, and
// fires like an interval trigger: at the anchor given to Compile plus whole
// multiples of the duration.
//
// When both day fields are restricted (neither is * nor ?), a day matches if
// either matches: "0 0 1,15 * 1" fires on the 1st, the 15th and every Monday
// (the Vixie cron rule).
//
// Beyond crontab, the day-of-month field may be, as a whole, one of Quartz's
// forms: L (the month's last day), L-n (n days before it, n from 1 to 30), nW
// (the weekday nearest to day n, within the month; a day past the month's end
// means its last day) or LW (the month's last weekday). The day-of-week field
// may be d#k (the k-th day d of the month, k from 1 to 5) or dL (the month's
// last day d), with d in crontab numbering or a name: FRI#3, 5L. A month
// without such a day does not fire.
//
// An expression that no date can match, such as "0 0 30 2 *", compiles but
// never fires.
//
// # Time zones and daylight saving
//
// A cron expression is read in the trigger's zone (UTC when none is given).
// Across a daylight-saving change:
//
//   - a wall-clock time that does not exist, skipped by a spring-forward
//     gap, fires once, shifted forward by the gap (02:30 becomes 03:30);
//   - a wall-clock time that occurs twice, in a fall-back, fires once, at
//     its first occurrence;
//   - an expression whose hour field covers every hour ("*/5 * * * *",
//     "0 * * * *") follows elapsed time instead: it fires in both passes of a
//     repeated hour and has no fire times inside a skipped one.
//
// Fire times are instants, returned in UTC; show them in Trigger.Location.
// Cron fire times fall between 1970 and 2255.
package trigger
