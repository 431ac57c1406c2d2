package config

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ReadSecretFile reads a Secret value named by fromFile, with the checks
// every reader of one makes: a regular file (not a FIFO that would block,
// nor a device), at most MaxFileSize bytes.
func ReadSecretFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: path, Err: errNotRegular}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxFileSize {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d MiB", MaxFileSize>>20)}
	}
	return raw, nil
}

var errNotRegular = errors.New("not a regular file (a Secret value is read from a file, not a pipe or a device)")
