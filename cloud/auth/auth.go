// Package auth authenticates users and enforces the role/permission matrix
// on every REST, WebSocket and gRPC entry point of the cloud API.
//
// Passwords are hashed with argon2id and stored as PHC-style strings;
// sessions are short-lived HS256 JWTs. The permission matrix below is the
// single source of truth and is mirrored, checked by a test, in
// docs/security.md.
package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Role is what a user is allowed to do, as a named set of permissions.
type Role string

// The roles a user can have.
const (
	RoleAdmin      Role = "admin"
	RoleQAManager  Role = "qa_manager"
	RoleInspector  Role = "inspector"
	RoleIntegrator Role = "integrator"
)

// Roles lists every role in display order.
var Roles = []Role{RoleAdmin, RoleQAManager, RoleInspector, RoleIntegrator}

// Permission names one kind of action on one kind of resource.
type Permission string

// The permissions checked by the API.
const (
	PermPartsRead        Permission = "parts:read"
	PermPipelinesRead    Permission = "pipelines:read"
	PermPipelinesWrite   Permission = "pipelines:write" // create pipelines and save new versions
	PermPipelinesDelete  Permission = "pipelines:delete"
	PermFilesUpload      Permission = "files:upload"
	PermFilesRead        Permission = "files:read" // metadata and download
	PermExecutionsRun    Permission = "executions:run"
	PermExecutionsCancel Permission = "executions:cancel"
	PermExecutionsRead   Permission = "executions:read"
	PermWebSocket        Permission = "websocket:connect"
	PermUsersManage      Permission = "users:manage"
	PermDevicesRead      Permission = "devices:read"   // fleet status
	PermDevicesManage    Permission = "devices:manage" // enrollment tokens and revocation
	PermMastersRead      Permission = "masters:read"
	PermMastersWrite     Permission = "masters:write" // inspection masters and line rollouts
	PermRecordsRead      Permission = "records:read"  // search and review synced inspection records
	PermRecordsOverride  Permission = "records:override"
)

// Permissions lists every permission in display order.
var Permissions = []Permission{
	PermPartsRead,
	PermPipelinesRead, PermPipelinesWrite, PermPipelinesDelete,
	PermFilesUpload, PermFilesRead,
	PermExecutionsRun, PermExecutionsCancel, PermExecutionsRead,
	PermWebSocket,
	PermUsersManage,
	PermDevicesRead, PermDevicesManage,
	PermMastersRead, PermMastersWrite,
	PermRecordsRead, PermRecordsOverride,
}

// matrix is the permission matrix: which role holds which permission.
// Anything absent is denied. Keep docs/security.md in step (a test checks).
var matrix = map[Role][]Permission{
	RoleAdmin: Permissions,
	RoleQAManager: {
		PermPartsRead,
		PermPipelinesRead, PermPipelinesWrite, PermPipelinesDelete,
		PermFilesUpload, PermFilesRead,
		PermExecutionsRun, PermExecutionsCancel, PermExecutionsRead,
		PermWebSocket,
		PermDevicesRead,
		PermMastersRead, PermMastersWrite,
		PermRecordsRead, PermRecordsOverride,
	},
	RoleInspector: {
		PermPartsRead,
		PermPipelinesRead,
		PermFilesUpload, PermFilesRead,
		PermExecutionsRun, PermExecutionsRead,
		PermWebSocket,
		PermMastersRead,
		PermRecordsRead,
	},
	RoleIntegrator: {
		PermPartsRead,
		PermPipelinesRead, PermPipelinesWrite,
		PermFilesUpload, PermFilesRead,
		PermExecutionsRun, PermExecutionsCancel, PermExecutionsRead,
		PermWebSocket,
		PermDevicesRead, PermDevicesManage,
		PermMastersRead, PermMastersWrite,
	},
}

// Allowed reports whether role holds perm.
func Allowed(role Role, perm Permission) bool {
	return slices.Contains(matrix[role], perm)
}

// PermissionsOf lists the permissions role holds, in the order of Permissions.
func PermissionsOf(role Role) []Permission {
	var out []Permission
	for _, p := range Permissions {
		if Allowed(role, p) {
			out = append(out, p)
		}
	}
	return out
}

// ParseRole returns the role named s, or an error for an unknown name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if _, ok := matrix[r]; !ok {
		return "", fmt.Errorf("unknown role %q", s)
	}
	return r, nil
}

// Errors callers branch on.
var (
	// ErrInvalidCredentials is returned by Login for an unknown user or a wrong password.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrUnauthenticated means no valid token was presented.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden means the principal lacks the permission.
	ErrForbidden = errors.New("permission denied")
)

// Principal is the authenticated caller.
type Principal struct {
	Username string
	Role     Role
	// ExpiresAt is when the credential that proved it expires (zero: unknown).
	ExpiresAt time.Time
}

// Can reports whether the principal holds perm.
func (p Principal) Can(perm Permission) bool { return Allowed(p.Role, perm) }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal put in ctx by the middleware or interceptors.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
