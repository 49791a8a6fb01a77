//go:build !unix

package pgtest

import "syscall"

// runAs fails: this system has no root to step down from.
func runAs(int, int) (*syscall.SysProcAttr, error) { return nil, errNoCredential }
