package sbom

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/devices/cpe"
	"github.com/trustward/trustward/internal/devices/purl"
)

// MaxProblems bounds the problems kept for one document; a last problem
// says how many more there were. A broken generator can otherwise produce
// one per component and edge.
const MaxProblems = 10_000

// builder accumulates a Document from either format and applies the checks
// that do not depend on the format.
type builder struct {
	ctx     context.Context
	doc     *Document
	limits  Limits
	ticks   int
	refs    map[string]int      // Ref -> index in Components; -1 for the subject
	other   map[string]struct{} // refs that are not components but may be named (SPDX files, the document)
	depKeys []string            // Dependencies keys in the order first seen
	dropped int                 // problems beyond MaxProblems
}

func newBuilder(ctx context.Context, doc *Document, l Limits) *builder {
	return &builder{ctx: ctx, doc: doc, limits: l, refs: map[string]int{}, other: map[string]struct{}{}}
}

// tick checks for cancellation now and then.
func (b *builder) tick() error {
	b.ticks++
	if b.ticks%1024 == 0 {
		return b.ctx.Err()
	}
	return nil
}

func (b *builder) problem(kind ProblemKind, c *Component, format string, args ...any) {
	if len(b.doc.Problems) >= MaxProblems {
		b.dropped++
		return
	}
	p := Problem{Kind: kind, Detail: fmt.Sprintf(format, args...)}
	if c != nil {
		p.Ref, p.Component = c.Ref, c.Label()
	}
	b.doc.Problems = append(b.doc.Problems, p)
}

// register validates a component's identifiers and records its Ref; the
// subject is recorded as -1, the others at the index they will take.
func (b *builder) register(c *Component, subject bool) {
	if c.Purl != "" {
		if _, err := purl.Parse(c.Purl); err != nil {
			b.problem(BadPurl, c, "%v", err)
		} else {
			c.PurlValid = true
		}
	}
	if c.CPE != "" {
		if _, err := cpe.ParseName(c.CPE); err != nil {
			b.problem(BadCPE, c, "%v", err)
		} else {
			c.CPEValid = true
		}
	}
	c.Unmatchable = !c.PurlValid && !c.CPEValid
	if c.Ref == "" {
		return
	}
	if prev, dup := b.refs[c.Ref]; dup {
		other := "the document's subject"
		if prev >= 0 {
			other = "component " + b.doc.Components[prev].Label()
		}
		b.problem(DuplicateRef, c, "ref %q is also the ref of %s; dependencies naming it are ambiguous", c.Ref, other)
		return
	}
	if subject {
		b.refs[c.Ref] = -1
		return
	}
	b.refs[c.Ref] = len(b.doc.Components)
}

// add registers a component and appends it.
func (b *builder) add(c Component) {
	b.register(&c, false)
	b.doc.Components = append(b.doc.Components, c)
}

func (b *builder) addDependencies(ref string, on []string) {
	list, seen := b.doc.Dependencies[ref]
	if !seen {
		b.depKeys = append(b.depKeys, ref)
	}
	for _, t := range on {
		if t == "" {
			continue
		}
		dup := false
		for _, have := range list {
			if have == t {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, t)
		}
	}
	b.doc.Dependencies[ref] = list
}

func (b *builder) timestamp(s, field string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		b.problem(BadTimestamp, nil, "%s %q is not an RFC 3339 date and time", field, s)
		return time.Time{}
	}
	return t
}

func (b *builder) label(ref string) string {
	switch i, ok := b.refs[ref]; {
	case !ok:
		return ref
	case i < 0:
		return b.doc.Subject.Label()
	default:
		return b.doc.Components[i].Label()
	}
}

func (b *builder) known(ref string) bool {
	if _, ok := b.refs[ref]; ok {
		return true
	}
	_, ok := b.other[ref]
	return ok
}

// finish checks the dependency graph and closes the problem list.
func (b *builder) finish() (*Document, error) {
	if err := b.ctx.Err(); err != nil {
		return nil, err
	}
	if n := len(b.doc.Components); n > b.limits.MaxComponents {
		return nil, tooLarge("the SBOM has more than %d components", b.limits.MaxComponents)
	}
	for _, from := range b.depKeys {
		if !b.known(from) {
			b.problemRef(UnknownRef, from, "the dependency graph gives dependencies of %q, which no component has as its ref", from)
		}
		for _, to := range b.doc.Dependencies[from] {
			if !b.known(to) {
				b.problemRef(UnknownRef, from, "%s depends on %q, which no component has as its ref", b.label(from), to)
			}
		}
	}
	for _, scc := range cycles(b.doc.Dependencies, b.depKeys) {
		names := make([]string, 0, min(len(scc), 10))
		for _, r := range scc[:min(len(scc), 10)] {
			names = append(names, b.label(r))
		}
		more := ""
		if len(scc) > 10 {
			more = fmt.Sprintf(" and %d more", len(scc)-10)
		}
		detail := fmt.Sprintf("%s depends on itself", names[0])
		if len(scc) > 1 {
			detail = fmt.Sprintf("%d components depend on each other in a cycle: %s%s", len(scc), strings.Join(names, ", "), more)
		}
		b.problemRef(DependencyCycle, scc[0], "%s", detail)
	}
	if b.dropped > 0 {
		b.doc.Problems = append(b.doc.Problems, Problem{Kind: Truncated, Detail: fmt.Sprintf("%d more problems were not kept", b.dropped)})
	}
	return b.doc, nil
}

// problemRef records a problem of the component with the given ref, or of
// the ref alone when no component has it.
func (b *builder) problemRef(kind ProblemKind, ref, format string, args ...any) {
	switch i, ok := b.refs[ref]; {
	case ok && i < 0:
		b.problem(kind, b.doc.Subject, format, args...)
	case ok:
		b.problem(kind, &b.doc.Components[i], format, args...)
	default:
		b.problem(kind, &Component{Ref: ref}, format, args...)
	}
}

// cycles returns the strongly connected components of the graph that are
// cycles (more than one node, or a node depending on itself), each in the
// order its nodes were first seen, found with an iterative Tarjan so that
// a long chain cannot overflow the stack.
func cycles(graph map[string][]string, order []string) [][]string {
	ids := map[string]int{}
	var names []string
	id := func(s string) int {
		if i, ok := ids[s]; ok {
			return i
		}
		ids[s] = len(names)
		names = append(names, s)
		return len(names) - 1
	}
	for _, k := range order {
		id(k)
	}
	adj := make([][]int, len(names))
	for _, k := range order {
		u := ids[k]
		for _, t := range graph[k] {
			v := id(t)
			for len(adj) <= v {
				adj = append(adj, nil)
			}
			adj[u] = append(adj[u], v)
		}
	}
	n := len(names)
	index := make([]int, n) // 0: not visited; else visit number
	low := make([]int, n)
	onStack := make([]bool, n)
	var stack []int
	var out [][]string
	counter := 0
	type frame struct{ v, next int }
	visit := func(v int) {
		counter++
		index[v], low[v] = counter, counter
		stack = append(stack, v)
		onStack[v] = true
	}
	for s := 0; s < n; s++ {
		if index[s] != 0 {
			continue
		}
		visit(s)
		call := []frame{{s, 0}}
		for len(call) > 0 {
			top := len(call) - 1
			v := call[top].v
			if call[top].next < len(adj[v]) {
				w := adj[v][call[top].next]
				call[top].next++
				if index[w] == 0 {
					visit(w)
					call = append(call, frame{w, 0})
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			if low[v] == index[v] {
				var scc []int
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					scc = append(scc, w)
					if w == v {
						break
					}
				}
				selfLoop := false
				for _, w := range adj[v] {
					selfLoop = selfLoop || w == v
				}
				if len(scc) > 1 || selfLoop {
					// Report in first-seen order.
					slices.Sort(scc)
					refs := make([]string, len(scc))
					for i, w := range scc {
						refs[i] = names[w]
					}
					out = append(out, refs)
				}
			}
			call = call[:top]
			if top > 0 {
				u := call[top-1].v
				low[u] = min(low[u], low[v])
			}
		}
	}
	return out
}
