// Package pipeline reads, writes and validates pipeline definitions: the DAG
// of parts a user draws on the canvas.
//
// Definitions arrive as JSON or YAML from outside, so Parse is bounded
// (MaxDefinitionBytes, nesting depth), refuses unknown fields and reports
// the line and field of the first problem it meets. YAML is converted to
// JSON by walking the YAML tree against the protobuf descriptor (so an
// unknown field is reported with its YAML line), then decoded with
// protojson; YAML aliases, merge keys and multi-document streams are refused.
//
// Compile (and Validate, which only keeps the verdict) checks everything a
// run needs and reports every problem at once in a *ValidationError, which
// unwraps to ErrInvalid:
//   - 1..MaxNodes nodes with unique ids matching ^[a-zA-Z0-9_-]{1,64}$,
//     at most MaxEdges edges;
//   - parts known to the catalogue and params valid against their schema;
//   - edges between existing nodes, no self-loops, no duplicates, no cycles
//     (the nodes of one cycle are named);
//   - every edge carries a type the target accepts;
//   - nodes without incoming edges take the execution's input image, so
//     they must accept IMAGE and need nothing else;
//   - every input type a part declares is delivered by exactly one edge
//     (see Compile for how a source producing several types is matched).
//
// A compiled Plan lists the nodes in topological order grouped in levels
// (level 0 = roots, level n = one more than the deepest parent), with the
// params the catalogue normalised (defaults applied).
package pipeline

import (
	"errors"
	"fmt"
	"strings"
)

// Bounds on definitions accepted from outside.
const (
	// MaxDefinitionBytes bounds the size of an encoded definition.
	MaxDefinitionBytes = 1 << 20
	// MaxNodes bounds the number of nodes in a pipeline.
	MaxNodes = 64
	// MaxEdges bounds the number of edges in a pipeline.
	MaxEdges = 256
	// MaxNameLen bounds the length of a pipeline name in bytes.
	MaxNameLen = 200
	// MaxDepth bounds the nesting of values in a definition (params included).
	MaxDepth = 32
)

var (
	// ErrInvalid is wrapped by every validation failure; errors.As gives the
	// *ValidationError with all problems.
	ErrInvalid = errors.New("invalid pipeline")
	// ErrSyntax is wrapped by every parse failure; errors.As gives a *SyntaxError.
	ErrSyntax = errors.New("malformed pipeline definition")
	// ErrTooLarge is returned when an encoded definition exceeds MaxDefinitionBytes.
	ErrTooLarge = errors.New("pipeline definition too large")
)

// Problem is one thing wrong with a definition.
type Problem struct {
	Node    string `json:"node,omitempty"`  // node id, when the problem is about one node
	Field   string `json:"field,omitempty"` // e.g. "nodes[2].id", "edges[0].to", "params"
	Message string `json:"message"`
}

// String renders the problem on one line.
func (p Problem) String() string {
	var b strings.Builder
	if p.Node != "" {
		fmt.Fprintf(&b, "node %q: ", p.Node)
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in a definition.
type ValidationError struct {
	Problems []Problem
}

// Error joins the problems on one line.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("%s: %s", ErrInvalid, strings.Join(parts, "; "))
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// SyntaxError is a parse failure with its position when known.
type SyntaxError struct {
	Line   int    // 1-based, 0 when unknown
	Column int    // 1-based, 0 when unknown
	Path   string // field path such as "nodes[1].params", when known
	Msg    string
}

// Error renders the position, path and message.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	b.WriteString(ErrSyntax.Error())
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if e.Path != "" {
		fmt.Fprintf(&b, ": %s", e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }
