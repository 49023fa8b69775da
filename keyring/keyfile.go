package keyring

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// maxKeyFileSize bounds what LoadOrCreateKeyFile reads; a key line is under
// 80 bytes.
const maxKeyFileSize = 1024

// LoadOrCreateKeyFile returns the key stored at path, a file holding the
// single line "ID:BASE64" (the key's id, a colon, and its secret as Encoded
// writes it; a final newline is optional). It is for a server's first start
// when no key is configured.
//
// When path does not exist, it generates a key with an id such as
// "generated-3f9a61c2", writes it to path with mode 0600, and reports
// created. The write is atomic: a temporary file in the same directory is
// written with mode 0600, synced, and linked to path only if path still does
// not exist (renamed over it where the file system has no hard links), so a
// reader never sees a partial file and two processes starting at once end
// up with the same key. The directory must exist.
//
// It refuses a file that group or others may access, or that is not a
// single well-formed key line, with an error that matches ErrInvalidKey and
// names the path (and the mode) but never the file's contents. On Windows
// the mode is not checked.
func LoadOrCreateKeyFile(path string) (key Key, created bool, err error) {
	key, err = loadKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key, err = GenerateKey(generatedID())
	if err != nil {
		return Key{}, false, err
	}
	switch err := writeKeyFile(path, key); {
	case errors.Is(err, fs.ErrExist):
		// Another process created the file first: use its key.
		key, err = loadKeyFile(path)
		return key, false, err
	case err != nil:
		return Key{}, false, err
	}
	return key, true, nil
}

// generatedID returns "generated-" and 8 random hex digits. A random suffix
// keeps a key generated after the file was lost from taking the old key's
// id, so values sealed under the old key report ErrUnknownKey, not
// ErrCorrupt.
func generatedID() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24+)
	return "generated-" + hex.EncodeToString(b[:])
}

// loadKeyFile reads and checks the key file at path. Its error matches
// fs.ErrNotExist when there is no file.
func loadKeyFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("keyring: open key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the mode checked is the mode of
	// the file read.
	info, err := f.Stat()
	if err != nil {
		return Key{}, fmt.Errorf("keyring: stat key file: %w", err)
	}
	field := "key file " + path
	if !info.Mode().IsRegular() {
		return Key{}, invalid(field, "is not a regular file")
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return Key{}, invalid(field, fmt.Sprintf(
			"mode %04o lets group or others access it; it must be 0600 (chmod 600 %s)", perm, path))
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return Key{}, fmt.Errorf("keyring: read key file %s: %w", path, err)
	}
	defer clear(b)
	if len(b) > maxKeyFileSize {
		return Key{}, invalid(field, fmt.Sprintf("is larger than %d bytes; it must hold one line ID:BASE64", maxKeyFileSize))
	}
	line := bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if bytes.ContainsAny(line, "\r\n") {
		return Key{}, invalid(field, "must hold one line ID:BASE64, found more")
	}
	id, secret, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return Key{}, invalid(field, "must hold one line ID:BASE64, found no ':'")
	}
	if !validID(id) {
		return Key{}, invalid(field+": key id", idRule)
	}
	return parseKey(field+": key "+fmt.Sprintf("%q", id)+": secret", string(id), string(secret))
}

// writeKeyFile writes key to a new file at path atomically. Its error
// matches fs.ErrExist when path already exists.
func writeKeyFile(path string, key Key) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keyring-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("keyring: create key file %s: %w", path, err)
	}
	tmpPath := tmp.Name()
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmpPath) // after the link, path keeps the file
	}()
	line := []byte(key.ID + ":" + key.Encoded() + "\n")
	defer clear(line)
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("keyring: create key file %s: %w", path, err)
	}
	if _, err := tmp.Write(line); err != nil {
		return fmt.Errorf("keyring: write key file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("keyring: sync key file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keyring: write key file %s: %w", path, err)
	}
	// A hard link, unlike a rename, fails when path exists, so a file made
	// meanwhile by another process is kept.
	if err := os.Link(tmpPath, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("keyring: create key file: %w", err)
		}
		if err := os.Rename(tmpPath, path); err != nil {
			return fmt.Errorf("keyring: create key file %s: %w", path, err)
		}
	}
	syncDir(dir)
	return nil
}

// syncDir makes a new directory entry durable. It is best effort: some
// systems (Windows, some network file systems) cannot sync a directory, and
// the file itself is already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
