// Package metadata keeps the cloud's records: pipelines, files, executions
// and users. Implementations are chosen by URL scheme (sqlite://,
// postgres://) and share one test suite.
package metadata

import (
	"context"
	"errors"
	"time"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

var (
	// ErrNotFound is returned when the requested record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a record with the same key exists.
	ErrConflict = errors.New("conflict")
)

// File describes an uploaded or produced image.
type File struct {
	FileID      string
	Key         string // object store key
	SHA256      string // hex
	Size        int64
	ContentType string
	Width       int
	Height      int
	Metadata    map[string]string
	CreatedBy   string
	CreatedAt   time.Time
}

// User is a human principal.
type User struct {
	Username     string
	PasswordHash string
	Role         string
	CreatedAt    time.Time
	// DisabledAt is when the user was disabled (zero: active). A disabled
	// user cannot sign in and their tokens are refused.
	DisabledAt time.Time
}

// Disabled reports whether the user may no longer sign in.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

// ExecutionFilter selects executions for listing. Zero fields match all.
type ExecutionFilter struct {
	PipelineID string
	Status     ifcv1.ExecutionStatus
	CreatedBy  string
	Since      time.Time
	Until      time.Time
	Limit      int    // default 50, max 500
	PageToken  string // opaque, from a previous page
}

// Store is the metadata store contract.
type Store interface {
	// CreatePipelineVersion saves def as a new version. With id empty a new
	// pipeline is created (id assigned); otherwise version = latest+1.
	CreatePipelineVersion(ctx context.Context, id string, def *ifcv1.PipelineDefinition, createdBy string) (*ifcv1.Pipeline, error)
	// GetPipeline returns one version; version 0 means the latest.
	GetPipeline(ctx context.Context, id string, version int32) (*ifcv1.Pipeline, error)
	// ListPipelines returns the latest version of every pipeline not deleted.
	ListPipelines(ctx context.Context) ([]*ifcv1.Pipeline, error)
	// ListPipelineVersions returns every version of one pipeline, oldest first.
	ListPipelineVersions(ctx context.Context, id string) ([]*ifcv1.Pipeline, error)
	// DeletePipeline hides the pipeline from listing and new executions;
	// past executions keep referring to their version.
	DeletePipeline(ctx context.Context, id string) error

	PutFile(ctx context.Context, f File) error
	GetFile(ctx context.Context, fileID string) (File, error)

	CreateExecution(ctx context.Context, e *ifcv1.Execution) error
	UpdateExecution(ctx context.Context, e *ifcv1.Execution) error
	GetExecution(ctx context.Context, id string) (*ifcv1.Execution, error)
	// ListExecutions returns executions newest first and a token for the next page ("" at the end).
	ListExecutions(ctx context.Context, f ExecutionFilter) ([]*ifcv1.Execution, string, error)

	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, username string) (User, error)
	// ListUsers returns every user ordered by username.
	ListUsers(ctx context.Context) ([]User, error)
	// SetUserPassword replaces a user's password hash; ErrNotFound when absent.
	SetUserPassword(ctx context.Context, username, passwordHash string) error
	// DisableUser marks a user disabled at at; idempotent (the first time is
	// kept); ErrNotFound when absent.
	DisableUser(ctx context.Context, username string, at time.Time) error

	InspectionStore

	Close() error
}
