//go:build !unix

package main

// lockData does nothing where flock is missing: stop the server before a restore.
func lockData(dir string) (unlock func(), err error) { return func() {}, nil }
