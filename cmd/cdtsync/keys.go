package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// keys runs "cdtsync keys rotate": it adds a new access-token signing key to <data>/keys.
// A running server picks it up at its next start; tokens signed with older keys stay valid
// while their files remain (delete an old key file 15 minutes after the restart).
func (m *Main) keys(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New("cách dùng / usage: cdtsync keys rotate [--data DIR]")
	}
	fs := m.flagSet("keys rotate")
	data := m.dataFlag(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ks, err := m.loadKeys(*data)
	if err != nil {
		return err
	}
	k, err := ks.Rotate()
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Khoá ký mới / new signing key: %s (các khoá / keys: %s)\n", k.ID, strings.Join(ks.IDs(), ", "))
	return nil
}
