package server

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/backends"
)

// A lease string, as the worker protocol hands it out, is
//
//	v2.<model>.<task id>.<attempt>.<owner in unpadded base64url>
//
// and the owner is "<token id>:<worker name>": the server reads the model
// from it and refuses a lease whose owner is another token's, so a worker
// token can act on the leases it claimed only, and a lease sent with
// another task's id, so a worker that mixes up its tasks ends none of them
// by mistake (every task a worker holds at the same attempt has the same
// owner and attempt in the database). The holder itself is checked by the
// database (owner and attempt, backends.WorkDriver.Heartbeat).
//
// Servers before v2 handed out
//
//	v1.<model>.<attempt>.<owner in unpadded base64url>
//
// without the task id; they are taken still, so that a worker holding one
// across a server upgrade can end its task.
const (
	leasePrefix   = "v2."
	leasePrefixV1 = "v1."
)

// maxLeaseLen bounds a lease string: a model name (63), a task id (36), an
// attempt and a base64 owner of worker.MaxOwnerLen bytes.
const maxLeaseLen = 440

// workerLease is a parsed lease string.
type workerLease struct {
	model string
	task  uuid.UUID // uuid.Nil in a v1 lease
	lease backends.Lease
}

// leaseString returns the lease string of a claim of task id.
func leaseString(model string, id uuid.UUID, l backends.Lease) string {
	return leasePrefix + model + "." + id.String() + "." + strconv.Itoa(l.Attempt) + "." + base64.RawURLEncoding.EncodeToString([]byte(l.Owner))
}

// leaseOwner is the lease owner of a worker of a token.
func leaseOwner(tokenID, workerName string) string { return tokenID + ":" + workerName }

// parseLease parses a lease string; the error is a 400 naming the field.
func parseLease(s string) (workerLease, error) {
	bad := badRequest("lease", "format", "must be the lease string POST /worker/claim returned with the task")
	if len(s) > maxLeaseLen {
		return workerLease{}, bad
	}
	var l workerLease
	var parts []string
	switch {
	case strings.HasPrefix(s, leasePrefix):
		parts = strings.Split(s[len(leasePrefix):], ".")
		if len(parts) != 4 {
			return workerLease{}, bad
		}
		id, err := uuid.Parse(parts[1])
		if err != nil || id == uuid.Nil || id.String() != parts[1] {
			return workerLease{}, bad
		}
		l.task = id
		parts = append(parts[:1], parts[2:]...)
	case strings.HasPrefix(s, leasePrefixV1):
		parts = strings.Split(s[len(leasePrefixV1):], ".")
	default:
		return workerLease{}, bad
	}
	if len(parts) != 3 || !reTable.MatchString(parts[0]) {
		return workerLease{}, bad
	}
	attempt, err := strconv.Atoi(parts[1])
	if err != nil || attempt < 1 || strconv.Itoa(attempt) != parts[1] {
		return workerLease{}, bad
	}
	owner, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(owner) == 0 || base64.RawURLEncoding.EncodeToString(owner) != parts[2] { // the decoder skips newlines
		return workerLease{}, bad
	}
	l.model, l.lease = parts[0], backends.Lease{Owner: string(owner), Attempt: attempt}
	return l, nil
}

// leaseLost is the 409 of a lease its holder no longer holds (expired and
// taken over, stale) or never held (another token's).
func leaseLost(detail string) *Problem {
	return problem(http.StatusConflict, "lease-lost", "Lease lost", detail)
}

// AuthUser is the User of a token of package auth: its name, admin flag,
// worker scope and token id. Authenticate functions over an auth.Store
// return it, so that worker tokens keep their scope.
func AuthUser(u auth.User) User {
	return User{Name: u.Name, Admin: u.Admin, Models: u.Models, TokenID: u.TokenID}
}
