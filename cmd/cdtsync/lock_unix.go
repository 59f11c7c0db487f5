//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFileName is the lock file in the data directory: `serve` and `restore` hold it, so a
// database is never replaced under a running server and two servers never share one data
// directory. The kernel drops the lock when the process ends, even by kill -9.
const lockFileName = "cdtsync.lock"

// errDataInUse says another process holds the data directory.
var errDataInUse = errors.New("thư mục dữ liệu đang được một máy chủ cdtsync dùng / the data directory is in use by a running cdtsync server")

// lockData locks the data directory dir. It fails at once, with errDataInUse, if another
// process holds it.
func lockData(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errDataInUse
		}
		return nil, fmt.Errorf("khoá thư mục dữ liệu / locking the data directory: %w", err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
