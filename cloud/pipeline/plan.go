package pipeline

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Catalog is what validation needs from the part catalogue
// (cloud/catalog's *Catalog satisfies it).
type Catalog interface {
	// Get returns the descriptor of a part.
	Get(id string) (*ifcv1.PartDescriptor, bool)
	// ValidateParams checks params against the part's schema and returns
	// them with defaults applied.
	ValidateParams(part string, params map[string]any) (map[string]any, error)
}

// Input sources of a PlanNode.
const (
	// FromInput means the node takes the execution's input image.
	FromInput = -1
	// FromNone means the node takes no input of that type.
	FromNone = -2
)

// maxProblems bounds the problems reported for one definition.
const maxProblems = 100

var nodeIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// PlanNode is one validated node with its resolved inputs.
type PlanNode struct {
	ID     string
	Part   *ifcv1.PartDescriptor
	Params *structpb.Struct // normalised by the catalogue (defaults applied)
	Level  int              // 0 for roots, else 1 + the deepest parent's level
	// Parents and Children are indexes into Plan.Nodes.
	Parents  []int
	Children []int
	// ImageFrom is the index of the node whose image this node takes,
	// FromInput for the execution's input image, or FromNone.
	ImageFrom int
	// DetectionsFrom is the index of the node whose detections this node
	// takes, or FromNone.
	DetectionsFrom    int
	OutputsImage      bool
	OutputsDetections bool
}

// Plan is a validated definition in topological order.
type Plan struct {
	Name   string
	Nodes  []*PlanNode // topological order: by level, then definition order
	Levels [][]int     // indexes into Nodes, one slice per level
	index  map[string]int
}

// Index returns the position of a node in Nodes.
func (p *Plan) Index(id string) (int, bool) {
	i, ok := p.index[id]
	return i, ok
}

// Validate reports every problem of def as a *ValidationError wrapping ErrInvalid.
func Validate(def *ifcv1.PipelineDefinition, cat Catalog) error {
	_, err := Compile(def, cat)
	return err
}

type problems struct {
	list []Problem
	more int
}

func (ps *problems) add(node, field, format string, args ...any) {
	if len(ps.list) >= maxProblems {
		ps.more++
		return
	}
	ps.list = append(ps.list, Problem{Node: node, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := ps.list
	if ps.more > 0 {
		list = append(list, Problem{Message: fmt.Sprintf("%d more problems not shown", ps.more)})
	}
	return &ValidationError{Problems: list}
}

type defNode struct {
	node     *ifcv1.Node
	desc     *ifcv1.PartDescriptor
	params   *structpb.Struct
	parents  []int // definition indexes, in edge order
	children []int
}

// Compile validates def against the catalogue and returns its plan.
//
// Inputs are matched to edges per port type: for every type T a part
// declares as input, the incoming edges whose source outputs T are the
// candidates. One candidate is used. With several, sources that can deliver
// only one of the target's input types win (a detector that outputs both an
// annotated image and detections, wired beside an image filter into a node
// taking IMAGE and DETECTIONS, delivers the detections); if that still leaves
// more than one, the definition is ambiguous and refused. Every incoming edge
// must end up delivering something.
func Compile(def *ifcv1.PipelineDefinition, cat Catalog) (*Plan, error) {
	var ps problems
	if def == nil {
		ps.add("", "", "definition is missing")
		return nil, ps.err()
	}
	if cat == nil {
		return nil, fmt.Errorf("compile pipeline: nil catalog")
	}
	if size := proto.Size(def); size > MaxDefinitionBytes {
		ps.add("", "", "definition is %d bytes, limit %d", size, MaxDefinitionBytes)
		return nil, ps.err()
	}
	if len(def.GetName()) > MaxNameLen {
		ps.add("", "name", "longer than %d bytes", MaxNameLen)
	}
	switch n := len(def.GetNodes()); {
	case n == 0:
		ps.add("", "nodes", "pipeline has no nodes")
		return nil, ps.err()
	case n > MaxNodes:
		ps.add("", "nodes", "%d nodes, limit %d", n, MaxNodes)
		return nil, ps.err()
	}
	if n := len(def.GetEdges()); n > MaxEdges {
		ps.add("", "edges", "%d edges, limit %d", n, MaxEdges)
		return nil, ps.err()
	}

	nodes := make([]*defNode, len(def.GetNodes()))
	byID := make(map[string]int, len(nodes))
	for i, n := range def.GetNodes() {
		dn := &defNode{node: n}
		nodes[i] = dn
		field := fmt.Sprintf("nodes[%d]", i)
		if n == nil {
			ps.add("", field, "node is missing")
			dn.node = &ifcv1.Node{}
			continue
		}
		switch _, dup := byID[n.GetId()]; {
		case !nodeIDPattern.MatchString(n.GetId()):
			ps.add(n.GetId(), field+".id", "must match ^[a-zA-Z0-9_-]{1,64}$")
		case dup:
			ps.add(n.GetId(), field+".id", "duplicate node id")
		default:
			byID[n.GetId()] = i
		}
		if n.GetPart() == "" {
			ps.add(n.GetId(), field+".part", "part is required")
			continue
		}
		desc, ok := cat.Get(n.GetPart())
		if !ok || desc == nil {
			ps.add(n.GetId(), field+".part", "unknown part %q", n.GetPart())
			continue
		}
		dn.desc = desc
		var raw map[string]any
		if n.GetParams() != nil {
			raw = n.GetParams().AsMap()
		}
		norm, err := cat.ValidateParams(n.GetPart(), raw)
		if err != nil {
			addParamsProblems(&ps, n.GetId(), field+".params", err)
			continue
		}
		if norm == nil {
			norm = raw
		}
		if dn.params, err = structpb.NewStruct(norm); err != nil {
			ps.add(n.GetId(), field+".params", "%v", err)
		}
	}

	type edgeKey struct{ from, to int }
	seenEdges := make(map[edgeKey]int)
	for i, e := range def.GetEdges() {
		field := fmt.Sprintf("edges[%d]", i)
		if e == nil {
			ps.add("", field, "edge is missing")
			continue
		}
		from, okFrom := byID[e.GetFrom()]
		to, okTo := byID[e.GetTo()]
		if !okFrom {
			ps.add("", field+".from", "no node %q", e.GetFrom())
		}
		if !okTo {
			ps.add("", field+".to", "no node %q", e.GetTo())
		}
		if !okFrom || !okTo {
			continue
		}
		if from == to {
			ps.add(e.GetFrom(), field, "edge from a node to itself")
			continue
		}
		k := edgeKey{from, to}
		if first, dup := seenEdges[k]; dup {
			ps.add(e.GetTo(), field, "duplicate of edges[%d]", first)
			continue
		}
		seenEdges[k] = i
		nodes[from].children = append(nodes[from].children, to)
		nodes[to].parents = append(nodes[to].parents, from)
		if src, dst := nodes[from].desc, nodes[to].desc; src != nil && dst != nil && !anyCommon(src.GetOutputs(), dst.GetInputs()) {
			ps.add(e.GetTo(), field, "%s (%s) outputs %s but %s (%s) accepts %s",
				e.GetFrom(), src.GetId(), typeList(src.GetOutputs()), e.GetTo(), dst.GetId(), typeList(dst.GetInputs()))
		}
	}

	for _, cyc := range findCycles(nodes) {
		ids := make([]string, len(cyc))
		for i, ni := range cyc {
			ids[i] = nodes[ni].node.GetId()
		}
		ps.add(ids[0], "edges", "cycle: %s -> %s", strings.Join(ids, " -> "), ids[0])
	}
	if err := ps.err(); err != nil {
		return nil, err
	}

	// The graph is acyclic and every part known: order it and match inputs.
	levels := make([]int, len(nodes))
	order := topoOrder(nodes, levels)
	pos := make([]int, len(nodes)) // definition index -> plan index
	for pi, di := range order {
		pos[di] = pi
	}
	plan := &Plan{Name: def.GetName(), Nodes: make([]*PlanNode, len(nodes)), index: make(map[string]int, len(nodes))}
	for pi, di := range order {
		dn := nodes[di]
		pn := &PlanNode{
			ID:                dn.node.GetId(),
			Part:              dn.desc,
			Params:            dn.params,
			Level:             levels[di],
			ImageFrom:         FromNone,
			DetectionsFrom:    FromNone,
			OutputsImage:      slices.Contains(dn.desc.GetOutputs(), ifcv1.PortType_PORT_TYPE_IMAGE),
			OutputsDetections: slices.Contains(dn.desc.GetOutputs(), ifcv1.PortType_PORT_TYPE_DETECTIONS),
		}
		for _, p := range dn.parents {
			pn.Parents = append(pn.Parents, pos[p])
		}
		for _, c := range dn.children {
			pn.Children = append(pn.Children, pos[c])
		}
		slices.Sort(pn.Parents)
		slices.Sort(pn.Children)
		plan.Nodes[pi] = pn
		plan.index[pn.ID] = pi
		for len(plan.Levels) <= pn.Level {
			plan.Levels = append(plan.Levels, nil)
		}
		plan.Levels[pn.Level] = append(plan.Levels[pn.Level], pi)
	}
	for _, pn := range plan.Nodes {
		matchInputs(plan, pn, &ps)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return plan, nil
}

// addParamsProblems reports a catalogue error, one problem per bad field
// when the catalogue says which.
func addParamsProblems(ps *problems, node, field string, err error) {
	var perr *catalog.ParamsError
	if !errors.As(err, &perr) || len(perr.Fields) == 0 {
		ps.add(node, field, "%v", err)
		return
	}
	for _, f := range perr.Fields {
		ff := field
		if f.Field != "" {
			ff += "." + f.Field
		}
		ps.add(node, ff, "%s", f.Reason)
	}
}

// matchInputs decides where each declared input of pn comes from.
func matchInputs(plan *Plan, pn *PlanNode, ps *problems) {
	inputs := uniqueTypes(pn.Part.GetInputs())
	if len(pn.Parents) == 0 {
		if !slices.Contains(inputs, ifcv1.PortType_PORT_TYPE_IMAGE) {
			ps.add(pn.ID, "", "has no incoming edge, so it takes the input image, but %s accepts %s",
				pn.Part.GetId(), typeList(pn.Part.GetInputs()))
			return
		}
		pn.ImageFrom = FromInput
		for _, t := range inputs {
			if t != ifcv1.PortType_PORT_TYPE_IMAGE {
				ps.add(pn.ID, "", "needs a %s input but has no incoming edge", typeName(t))
			}
		}
		return
	}
	used := make(map[int]bool, len(pn.Parents))
	unmatched := false
	for _, t := range inputs {
		var cands []int
		for _, p := range pn.Parents {
			if slices.Contains(plan.Nodes[p].Part.GetOutputs(), t) {
				cands = append(cands, p)
			}
		}
		if len(cands) > 1 {
			var single []int
			for _, c := range cands {
				if len(commonTypes(plan.Nodes[c].Part.GetOutputs(), inputs)) == 1 {
					single = append(single, c)
				}
			}
			if len(single) > 0 {
				cands = single
			}
		}
		switch len(cands) {
		case 0:
			ps.add(pn.ID, "", "needs a %s input but no incoming edge delivers one", typeName(t))
			unmatched = true
			continue
		case 1:
		default:
			names := make([]string, len(cands))
			for i, c := range cands {
				names[i] = plan.Nodes[c].ID
			}
			ps.add(pn.ID, "", "%s input is ambiguous: delivered by %s", typeName(t), strings.Join(names, ", "))
			unmatched = true
			continue
		}
		used[cands[0]] = true
		switch t {
		case ifcv1.PortType_PORT_TYPE_IMAGE:
			pn.ImageFrom = cands[0]
		case ifcv1.PortType_PORT_TYPE_DETECTIONS:
			pn.DetectionsFrom = cands[0]
		}
	}
	for _, p := range pn.Parents {
		if !unmatched && !used[p] && anyCommon(plan.Nodes[p].Part.GetOutputs(), inputs) {
			ps.add(pn.ID, "", "edge from %s delivers nothing: its inputs come from other edges", plan.Nodes[p].ID)
		}
	}
}

// findCycles returns the cycles found by a depth-first search, one per
// back edge, each as the node indexes along it.
func findCycles(nodes []*defNode) [][]int {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(nodes))
	var stack []int
	var cycles [][]int
	var visit func(int)
	visit = func(u int) {
		color[u] = grey
		stack = append(stack, u)
		for _, v := range nodes[u].children {
			switch color[v] {
			case white:
				visit(v)
			case grey:
				start := slices.Index(stack, v)
				cycles = append(cycles, slices.Clone(stack[start:]))
			}
		}
		stack = stack[:len(stack)-1]
		color[u] = black
	}
	for i := range nodes {
		if color[i] == white {
			visit(i)
		}
	}
	return cycles
}

// topoOrder returns definition indexes ordered by level then definition
// order, filling levels. The graph must be acyclic.
func topoOrder(nodes []*defNode, levels []int) []int {
	indeg := make([]int, len(nodes))
	for _, n := range nodes {
		for _, c := range n.children {
			indeg[c]++
		}
	}
	var frontier []int
	for i := range nodes {
		if indeg[i] == 0 {
			frontier = append(frontier, i)
		}
	}
	order := make([]int, 0, len(nodes))
	for len(frontier) > 0 {
		order = append(order, frontier...)
		var next []int
		for _, u := range frontier {
			for _, c := range nodes[u].children {
				levels[c] = max(levels[c], levels[u]+1)
				if indeg[c]--; indeg[c] == 0 {
					next = append(next, c)
				}
			}
		}
		slices.Sort(next)
		frontier = next
	}
	return order
}

func uniqueTypes(ts []ifcv1.PortType) []ifcv1.PortType {
	var out []ifcv1.PortType
	for _, t := range ts {
		if t != ifcv1.PortType_PORT_TYPE_UNSPECIFIED && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func commonTypes(a, b []ifcv1.PortType) []ifcv1.PortType {
	var out []ifcv1.PortType
	for _, t := range uniqueTypes(a) {
		if slices.Contains(b, t) {
			out = append(out, t)
		}
	}
	return out
}

func anyCommon(a, b []ifcv1.PortType) bool { return len(commonTypes(a, b)) > 0 }

func typeName(t ifcv1.PortType) string {
	return strings.TrimPrefix(t.String(), "PORT_TYPE_")
}

func typeList(ts []ifcv1.PortType) string {
	if len(ts) == 0 {
		return "nothing"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = typeName(t)
	}
	return "[" + strings.Join(names, ", ") + "]"
}
