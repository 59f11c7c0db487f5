//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package sqlite

// diskFree is unknown here.
func diskFree(dir string) int64 { return -1 }
