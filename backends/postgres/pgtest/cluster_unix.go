//go:build unix

package pgtest

import "syscall"

// runAs returns the process attributes that run a child as uid and gid,
// without root's supplementary groups.
func runAs(uid, gid int) (*syscall.SysProcAttr, error) {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}
