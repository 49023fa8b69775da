package dashboard

// shortID is the last eight digits of a UUID: its random part (a UUIDv7
// begins with its time), enough to tell runs apart on a page.
func shortID(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}
