// Command deppy-harness solves a generated resolution problem with deppy v0.1.0, building the
// variables the way operator-controller v0.8.0 did (resolution.md §2.2), and reports the latency
// and the selection in the same JSON shape as `resolver_bench solve`.
//
// Input: an FBC JSON stream (olm.package, olm.channel, olm.bundle blobs) and a request file
// {"requests": [{package, channel?, version?}], "installed": [{package, version}]}.
//
// Encoding (default, the problem our resolver solves): v0.8.0's variables with one Dependency per
// requirement, olm.gvk.required as a Dependency on every provider (package name order, then
// version descending) and one AtMost(1) per GVK provided by bundles of two or more packages
// (resolution.md §6 marks [deppy+req] and [v0.3]). With -v080 the package requirements of a
// bundle are merged into one Dependency and GVKs are ignored, exactly as v0.8.0 shipped.
// Installed bundles use semver successors (Masterminds "^v, != v", the deployed default) with the
// installed bundle last; in isolated mode the bundles installed for other requests are fixed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	mmsemver "github.com/Masterminds/semver/v3"
	bsemver "github.com/blang/semver/v4"
	"github.com/operator-framework/deppy/pkg/deppy"
	"github.com/operator-framework/deppy/pkg/deppy/constraint"
	"github.com/operator-framework/deppy/pkg/deppy/input"
	"github.com/operator-framework/deppy/pkg/deppy/solver"
)

const catalogName = "gen"

type gvk struct{ Group, Version, Kind string }

type requirement struct {
	pkg   string
	rng   bsemver.Range
	gvk   *gvk
	label string
}

type bundle struct {
	pkg, name string
	version   *bsemver.Version
	channels  []string
	provides  []gvk
	requires  []requirement
	invalid   string
}

func (b *bundle) id() deppy.Identifier {
	return deppy.IdentifierFromString(fmt.Sprintf("%s-%s-%s", catalogName, b.pkg, b.name))
}

type index struct {
	bundles   []*bundle
	byPackage map[string][]*bundle
	byGVK     map[gvk][]*bundle
	packages  int
}

type request struct {
	Package string `json:"package"`
	Channel string `json:"channel"`
	Version string `json:"version"`
}

type installed struct {
	Package string `json:"package"`
	Version string `json:"version"`
}

type problemInput struct {
	Requests  []request   `json:"requests"`
	Installed []installed `json:"installed"`
}

type property struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

type blob struct {
	Schema     string     `json:"schema"`
	Name       string     `json:"name"`
	Package    string     `json:"package"`
	Properties []property `json:"properties"`
	Entries    []struct {
		Name string `json:"name"`
	} `json:"entries"`
}

func loadCatalog(dir string) (*index, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	idx := &index{byPackage: map[string][]*bundle{}, byGVK: map[gvk][]*bundle{}}
	channels := map[[2]string][]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(fh)
		for {
			var b blob
			if err := dec.Decode(&b); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				fh.Close()
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			switch b.Schema {
			case "olm.package":
				idx.packages++
			case "olm.channel":
				for _, e := range b.Entries {
					key := [2]string{b.Package, e.Name}
					channels[key] = append(channels[key], b.Name)
				}
			case "olm.bundle":
				nb, err := decodeBundle(b)
				if err != nil {
					fh.Close()
					return nil, err
				}
				idx.bundles = append(idx.bundles, nb)
			}
		}
		fh.Close()
	}
	for _, b := range idx.bundles {
		b.channels = channels[[2]string{b.pkg, b.name}]
		idx.byPackage[b.pkg] = append(idx.byPackage[b.pkg], b)
		for _, g := range b.provides {
			idx.byGVK[g] = append(idx.byGVK[g], b)
		}
	}
	return idx, nil
}

func decodeBundle(b blob) (*bundle, error) {
	nb := &bundle{pkg: b.Package, name: b.Name}
	for _, p := range b.Properties {
		switch p.Type {
		case "olm.package":
			var v struct{ Version string }
			if err := json.Unmarshal(p.Value, &v); err != nil {
				return nil, err
			}
			if parsed, err := bsemver.Parse(v.Version); err == nil {
				nb.version = &parsed
			}
		case "olm.gvk":
			var g gvk
			if err := json.Unmarshal(p.Value, &g); err != nil {
				return nil, err
			}
			nb.provides = append(nb.provides, g)
		case "olm.gvk.required":
			var g gvk
			if err := json.Unmarshal(p.Value, &g); err != nil {
				return nil, err
			}
			nb.requires = append(nb.requires, requirement{gvk: &g})
		case "olm.package.required":
			var v struct {
				PackageName  string `json:"packageName"`
				VersionRange string `json:"versionRange"`
			}
			if err := json.Unmarshal(p.Value, &v); err != nil {
				return nil, err
			}
			r, err := bsemver.ParseRange(v.VersionRange)
			if err != nil {
				nb.invalid = err.Error()
				continue
			}
			nb.requires = append(nb.requires, requirement{pkg: v.PackageName, rng: r, label: v.VersionRange})
		}
	}
	return nb, nil
}

// byVersionDesc sorts like v0.8.0's sort.ByVersion: descending, no version last, stable.
func byVersionDesc(list []*bundle) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i].version, list[j].version
		if a == nil || b == nil {
			return a != nil && b == nil
		}
		return a.GT(*b)
	})
}

func ids(list []*bundle) []deppy.Identifier {
	out := make([]deppy.Identifier, len(list))
	for i, b := range list {
		out[i] = b.id()
	}
	return out
}

type builder struct {
	idx  *index
	v080 bool
}

func (bl *builder) requestCandidates(r request) ([]*bundle, error) {
	var rangeCheck *mmsemver.Constraints
	if r.Version != "" {
		c, err := mmsemver.NewConstraint(r.Version)
		if err != nil {
			return nil, fmt.Errorf("invalid version range %q: %w", r.Version, err)
		}
		rangeCheck = c
	}
	var out []*bundle
	for _, b := range bl.idx.byPackage[r.Package] {
		if r.Channel != "" && !contains(b.channels, r.Channel) {
			continue
		}
		if rangeCheck != nil {
			if b.version == nil {
				continue
			}
			mv, err := mmsemver.NewVersion(b.version.String())
			if err != nil || !rangeCheck.Check(mv) {
				continue
			}
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no package %q found", r.Package)
	}
	byVersionDesc(out)
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (bl *builder) installedCandidates(in installed, fixed bool) ([]*bundle, error) {
	want, err := bsemver.Parse(in.Version)
	if err != nil {
		return nil, fmt.Errorf("installed %s: %w", in.Package, err)
	}
	var current *bundle
	for _, b := range bl.idx.byPackage[in.Package] {
		if b.version != nil && b.version.EQ(want) {
			current = b
			break
		}
	}
	if current == nil {
		return nil, fmt.Errorf("bundle with version %q for package %q not found", in.Version, in.Package)
	}
	if fixed {
		return []*bundle{current}, nil
	}
	c, err := mmsemver.NewConstraint(fmt.Sprintf("^%s, != %s", in.Version, in.Version))
	if err != nil {
		return nil, err
	}
	var successors []*bundle
	for _, b := range bl.idx.byPackage[in.Package] {
		if b.version == nil {
			continue
		}
		mv, err := mmsemver.NewVersion(b.version.String())
		if err == nil && c.Check(mv) {
			successors = append(successors, b)
		}
	}
	byVersionDesc(successors)
	return append(successors, current), nil
}

func (bl *builder) requirementCandidates(q requirement) []*bundle {
	if q.gvk != nil {
		list := append([]*bundle(nil), bl.idx.byGVK[*q.gvk]...)
		sort.SliceStable(list, func(i, j int) bool {
			if list[i].pkg != list[j].pkg {
				return list[i].pkg < list[j].pkg
			}
			a, b := list[i].version, list[j].version
			if a == nil || b == nil {
				return a != nil && b == nil
			}
			return a.GT(*b)
		})
		return list
	}
	var out []*bundle
	for _, b := range bl.idx.byPackage[q.pkg] {
		if b.version != nil && q.rng(*b.version) {
			out = append(out, b)
		}
	}
	byVersionDesc(out)
	return out
}

// variables builds one problem. owners marks installed entries whose request is in the problem.
func (bl *builder) variables(reqs []request, inst []installed) ([]deppy.Variable, error) {
	var vars []deppy.Variable
	var queue []*bundle
	requested := map[string]bool{}
	for _, r := range reqs {
		requested[r.Package] = true
		cands, err := bl.requestCandidates(r)
		if err != nil {
			return nil, err
		}
		vars = append(vars, input.NewSimpleVariable(
			deppy.IdentifierFromString("required package "+r.Package),
			constraint.Mandatory(), constraint.Dependency(ids(cands)...)))
		queue = append(queue, cands...)
	}
	for _, in := range inst {
		cands, err := bl.installedCandidates(in, !requested[in.Package])
		if err != nil {
			return nil, err
		}
		vars = append(vars, input.NewSimpleVariable(
			deppy.IdentifierFromString("installed package "+in.Package),
			constraint.Mandatory(), constraint.Dependency(ids(cands)...)))
		queue = append(queue, cands...)
	}

	seen := map[*bundle]bool{}
	var order []*bundle
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		if seen[b] {
			continue
		}
		seen[b] = true
		order = append(order, b)
		var cs []deppy.Constraint
		if b.invalid != "" {
			cs = append(cs, constraint.Prohibited())
		}
		var merged []*bundle
		for _, q := range b.requires {
			if bl.v080 && q.gvk != nil {
				continue
			}
			cands := bl.requirementCandidates(q)
			queue = append(queue, cands...)
			if bl.v080 {
				merged = append(merged, cands...)
				continue
			}
			cs = append(cs, constraint.Dependency(ids(cands)...))
		}
		if bl.v080 && len(merged) > 0 {
			byVersionDesc(merged)
			cs = append(cs, constraint.Dependency(ids(merged)...))
		}
		vars = append(vars, input.NewSimpleVariable(b.id(), cs...))
	}

	var pkgOrder []string
	members := map[string][]deppy.Identifier{}
	for _, b := range order {
		if _, ok := members[b.pkg]; !ok {
			pkgOrder = append(pkgOrder, b.pkg)
		}
		members[b.pkg] = append(members[b.pkg], b.id())
	}
	for _, p := range pkgOrder {
		vars = append(vars, input.NewSimpleVariable(
			deppy.IdentifierFromString(p+" package uniqueness"),
			constraint.AtMost(1, members[p]...)))
	}
	if !bl.v080 {
		providers := map[gvk][]*bundle{}
		var gvks []gvk
		for _, b := range order {
			for _, g := range b.provides {
				if _, ok := providers[g]; !ok {
					gvks = append(gvks, g)
				}
				providers[g] = append(providers[g], b)
			}
		}
		sort.Slice(gvks, func(i, j int) bool {
			a, b := gvks[i], gvks[j]
			if a.Group != b.Group {
				return a.Group < b.Group
			}
			if a.Version != b.Version {
				return a.Version < b.Version
			}
			return a.Kind < b.Kind
		})
		for _, g := range gvks {
			pkgs := map[string]bool{}
			for _, b := range providers[g] {
				pkgs[b.pkg] = true
			}
			if len(pkgs) < 2 {
				continue
			}
			vars = append(vars, input.NewSimpleVariable(
				deppy.IdentifierFromString(fmt.Sprintf("group:%q version:%q kind:%q gvk uniqueness", g.Group, g.Version, g.Kind)),
				constraint.AtMost(1, ids(providers[g])...)))
		}
	}
	return vars, nil
}

type source struct{ vars []deppy.Variable }

func (s source) GetVariables(context.Context) ([]deppy.Variable, error) { return s.vars, nil }

// solveOne builds and solves one problem; the selection is the sorted bundle identifiers, or
// "unsatisfiable" / "error: …".
func (bl *builder) solveOne(reqs []request, inst []installed) interface{} {
	vars, err := bl.variables(reqs, inst)
	if err != nil {
		return "error: " + err.Error()
	}
	sol, err := solver.NewDeppySolver(source{vars}).Solve(context.Background())
	if err != nil {
		return "error: " + err.Error()
	}
	if sol.Error() != nil {
		return "unsatisfiable"
	}
	var selected []string
	for id := range sol.SelectedVariables() {
		s := string(id)
		if strings.HasPrefix(s, catalogName+"-") {
			selected = append(selected, s)
		}
	}
	sort.Strings(selected)
	return selected
}

// cpuNs is the user+system CPU time of the process (all threads) in nanoseconds.
func cpuNs() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func main() {
	catalogDir := flag.String("catalog", "", "FBC directory (JSON files)")
	requestsFile := flag.String("requests", "", "request file")
	joint := flag.Bool("joint", false, "solve all requests in one problem (default: one problem per request)")
	repeat := flag.Int("repeat", 20, "solve this many times")
	v080 := flag.Bool("v080", false, "exact v0.8.0 encoding: merged package requirements, no GVKs")
	flag.Parse()
	if *catalogDir == "" || *requestsFile == "" || *repeat < 1 {
		fmt.Fprintln(os.Stderr, "usage: deppy-harness -catalog DIR -requests FILE [-joint] [-repeat N] [-v080]")
		os.Exit(2)
	}
	started := time.Now()
	idx, err := loadCatalog(*catalogDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	loadMs := float64(time.Since(started).Microseconds()) / 1e3
	raw, err := os.ReadFile(*requestsFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	var in problemInput
	if err := json.Unmarshal(raw, &in); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	bl := &builder{idx: idx, v080: *v080}
	samples := make([]float64, 0, *repeat)
	var selections []interface{}
	cpuStart := cpuNs()
	for i := 0; i < *repeat; i++ {
		t := time.Now()
		selections = selections[:0]
		if *joint {
			selections = append(selections, bl.solveOne(in.Requests, in.Installed))
		} else {
			for _, r := range in.Requests {
				selections = append(selections, bl.solveOne([]request{r}, in.Installed))
			}
		}
		samples = append(samples, float64(time.Since(t).Nanoseconds())/1e3)
	}
	// CPU time of the whole loop, every thread (the garbage collector's work included).
	cpuMean := float64(cpuNs()-cpuStart) / 1e3 / float64(len(samples))
	sort.Float64s(samples)
	at := func(q float64) float64 { return samples[int(float64(len(samples)-1)*q+0.5)] }
	name := "deppy v0.1.0 (operator-controller v0.8.0 variables, one Dependency per requirement, GVK uniqueness)"
	if *v080 {
		name = "deppy v0.1.0 (operator-controller v0.8.0 variables, exact)"
	}
	out, _ := json.MarshalIndent(map[string]interface{}{
		"solver":     name,
		"bundles":    len(idx.bundles),
		"packages":   idx.packages,
		"requests":   len(in.Requests),
		"joint":      *joint,
		"runs":       len(samples),
		"loadMs":     loadMs,
		"minUs":      at(0),
		"medianUs":   at(0.5),
		"p95Us":      at(0.95),
		"cpuMeanUs":  cpuMean,
		"selections": selections,
	}, "", "  ")
	fmt.Println(string(out))
}
