// Package uuid7 makes the UUIDv7 identifiers of Herald's runs and events
// from a time the store gives, its clock's reading when it creates the
// record, instead of the machine's: an identifier then carries its record's
// creation time to the millisecond, whatever clock the store runs on (a
// test's included). A listing bounded in creation time can so be read
// between two identifiers (Floor), through the indexes that already order
// records by identifier. Herald's stores import it; nothing else should.
package uuid7

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

// Min and Max are the smallest and the largest identifiers: the bounds of
// a listing that has none.
const (
	Min = "00000000-0000-0000-0000-000000000000"
	Max = "ffffffff-ffff-ffff-ffff-ffffffffffff"
)

// counterBits is the width of the counter that orders the identifiers of
// one millisecond: the 12 bits of rand_a and the top 30 of rand_b (RFC
// 9562, section 6.2, method 1); the last 32 bits are random.
const counterBits = 42

// Generator makes identifiers. The zero value is ready to use; it is safe
// for concurrent use.
type Generator struct {
	mu      sync.Mutex
	ms      int64  // the millisecond of the last identifier
	counter uint64 // its counter
}

// New returns a new identifier of time t. Its first 48 bits are t's
// milliseconds since the Unix epoch. Its counter starts at t's
// microseconds within the millisecond, above 31 random bits, so that the
// identifiers of several generators (processes) order by microsecond; the
// later identifiers of one generator in the same millisecond take the
// next counter values, so that one generator's identifiers increase while
// its times do not go back (about 10^11 of them fit in one millisecond).
// When t goes back, so do the identifiers: an identifier always carries
// its own time. t must lie between the Unix epoch and the year 10889.
func (g *Generator) New(t time.Time) string {
	var r [8]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand)
	random := binary.BigEndian.Uint64(r[:])
	ms := t.UnixMilli()
	seed := uint64(t.UnixMicro()-ms*1000)<<32 | random>>33 // 10 bits of microseconds, 31 random
	g.mu.Lock()
	counter := seed
	if ms == g.ms && g.counter+1 > seed {
		counter = g.counter + 1
	}
	g.ms, g.counter = ms, counter
	g.mu.Unlock()
	return format(ms, counter, uint32(random))
}

// Floor returns the smallest identifier of t's millisecond: every
// identifier made for a time in that millisecond or a later one is at
// least Floor(t), and every identifier of an earlier millisecond is less.
// Identifiers compare as their strings do (and as PostgreSQL's uuid type
// does). A time before the Unix epoch floors to Min, one past the 48 bits
// of milliseconds (the year 10889) to Max.
func Floor(t time.Time) string {
	switch ms := t.UnixMilli(); {
	case ms < 0:
		return Min
	case ms >= 1<<48:
		return Max
	default:
		return format(ms, 0, 0)
	}
}

// format writes a UUIDv7 of ms, counter (counterBits wide) and tail.
func format(ms int64, counter uint64, tail uint32) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(ms)<<16) // 48 bits of milliseconds
	b[6] = 0x70 | byte(counter>>(counterBits-4))&0x0f  // version 7, counter bits 41-38
	b[7] = byte(counter >> (counterBits - 12))         // counter bits 37-30
	b[8] = 0x80 | byte(counter>>24)&0x3f               // variant 10, counter bits 29-24
	b[9], b[10], b[11] = byte(counter>>16), byte(counter>>8), byte(counter)
	binary.BigEndian.PutUint32(b[12:16], tail)
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
