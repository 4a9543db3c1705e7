package images_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// repoRoot is the build context of every Containerfile.
const repoRoot = "../.."

// images maps each Containerfile to the image name the manifests use.
var images = map[string]string{
	"Containerfile":        "ghcr.io/imageflowcanvas/ifc",
	"Containerfile.triton": "ghcr.io/imageflowcanvas/ifc-triton",
}

// instruction is one logical line: continuation lines joined, comments dropped.
type instruction struct {
	line int
	cmd  string // upper-cased
	args []string
}

func parse(text string) ([]instruction, error) {
	var (
		out     []instruction
		pending string
		start   int
	)
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if pending == "" {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont + " "
			continue
		}
		pending += line
		f := strings.Fields(pending)
		out = append(out, instruction{line: start, cmd: strings.ToUpper(f[0]), args: f[1:]})
		pending = ""
	}
	if pending != "" {
		return nil, fmt.Errorf("line %d: continuation at end of file", start)
	}
	return out, sc.Err()
}

// stage is one FROM ... up to the next FROM.
type stage struct {
	name, base string
	ins        []instruction
}

func stages(ins []instruction) ([]stage, error) {
	var st []stage
	for _, in := range ins {
		if in.cmd == "FROM" {
			var args []string
			for _, a := range in.args {
				if !strings.HasPrefix(a, "--") { // --platform=...
					args = append(args, a)
				}
			}
			if len(args) != 1 && !(len(args) == 3 && strings.EqualFold(args[1], "AS")) {
				return nil, fmt.Errorf("line %d: FROM %v: want `FROM image[:tag] [AS name]`", in.line, in.args)
			}
			s := stage{base: args[0]}
			if len(args) == 3 {
				s.name = args[2]
			}
			st = append(st, s)
			continue
		}
		if in.cmd == "ARG" && len(st) == 0 {
			continue // global ARGs before the first FROM
		}
		if len(st) == 0 {
			return nil, fmt.Errorf("line %d: %s before FROM", in.line, in.cmd)
		}
		st[len(st)-1].ins = append(st[len(st)-1].ins, in)
	}
	if len(st) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return st, nil
}

// lint returns the rule violations of one Containerfile.
func lint(text string, rootExists func(string) bool) (violations []string, exposed []int, err error) {
	ins, err := parse(text)
	if err != nil {
		return nil, nil, err
	}
	st, err := stages(ins)
	if err != nil {
		return nil, nil, err
	}
	names := map[string]bool{}
	for _, s := range st {
		if !names[s.base] {
			if e := pinned(s.base); e != nil {
				violations = append(violations, e.Error())
			}
		}
		if s.name != "" {
			names[s.name] = true
		}
		for _, in := range s.ins {
			if in.cmd != "COPY" && in.cmd != "ADD" {
				continue
			}
			fromStage := slices.ContainsFunc(in.args, func(a string) bool { return strings.HasPrefix(a, "--from=") })
			var srcs []string
			for _, a := range in.args {
				if !strings.HasPrefix(a, "--") {
					srcs = append(srcs, a)
				}
			}
			if len(srcs) < 2 {
				violations = append(violations, fmt.Sprintf("line %d: %s needs a source and a destination", in.line, in.cmd))
				continue
			}
			if fromStage {
				continue
			}
			for _, src := range srcs[:len(srcs)-1] {
				if !strings.ContainsAny(src, "*?[") && !rootExists(src) {
					violations = append(violations, fmt.Sprintf("line %d: %s source %s does not exist in the build context", in.line, in.cmd, src))
				}
			}
		}
	}
	final := st[len(st)-1]
	user := ""
	for _, in := range final.ins {
		switch in.cmd {
		case "USER":
			user = strings.Join(in.args, " ")
		case "EXPOSE":
			for _, a := range in.args {
				p, err := strconv.Atoi(strings.TrimSuffix(a, "/tcp"))
				if err != nil {
					violations = append(violations, fmt.Sprintf("line %d: EXPOSE %s: want a TCP port number", in.line, a))
					continue
				}
				exposed = append(exposed, p)
			}
		}
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		violations = append(violations, fmt.Sprintf("final stage runs as %q: want a USER that is not root", user))
	}
	slices.Sort(exposed)
	return violations, exposed, nil
}

// pinned accepts image:tag with an explicit tag other than latest.
func pinned(image string) error {
	ref, _, _ := strings.Cut(image, "@")
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon < slash+1 || colon == len(ref)-1 {
		return fmt.Errorf("FROM %s: no tag", image)
	}
	if strings.EqualFold(ref[colon+1:], "latest") || strings.Contains(ref, "$") {
		return fmt.Errorf("FROM %s: want an explicit version tag", image)
	}
	return nil
}

func existsInRepo(p string) bool {
	_, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(p)))
	return err == nil
}

// manifestPorts renders the base kustomization and collects, per image
// name, the container ports of every container running it.
func manifestPorts(t *testing.T) map[string][]int {
	t.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "../k8s/base")
	if err != nil {
		t.Fatalf("kustomize build ../k8s/base: %v", err)
	}
	ports := map[string][]int{}
	for _, r := range resMap.Resources() {
		var spec *corev1.PodSpec
		raw, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(raw, &tm); err != nil {
			t.Fatal(err)
		}
		switch tm.Kind {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict(raw, &d); err != nil {
				t.Fatal(err)
			}
			spec = &d.Spec.Template.Spec
		case "StatefulSet":
			var s appsv1.StatefulSet
			if err := yaml.UnmarshalStrict(raw, &s); err != nil {
				t.Fatal(err)
			}
			spec = &s.Spec.Template.Spec
		default:
			continue
		}
		for _, c := range spec.Containers {
			name, _, _ := strings.Cut(c.Image, "@")
			if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
				name = name[:i]
			}
			for _, p := range c.Ports {
				if !slices.Contains(ports[name], int(p.ContainerPort)) {
					ports[name] = append(ports[name], int(p.ContainerPort))
				}
			}
		}
	}
	for _, p := range ports {
		slices.Sort(p)
	}
	return ports
}

func TestContainerfiles(t *testing.T) {
	ports := manifestPorts(t)
	for file, image := range images {
		t.Run(file, func(t *testing.T) {
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			violations, exposed, err := lint(string(text), existsInRepo)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range violations {
				t.Error(v)
			}
			if want := ports[image]; len(want) == 0 {
				t.Errorf("no container in deploy/k8s/base runs %s", image)
			} else if !slices.Equal(exposed, want) {
				t.Errorf("EXPOSE %v, but the manifests give %s containers ports %v", exposed, image, want)
			}
		})
	}
}

// TestLintCatchesBrokenContainerfiles feeds broken files to the linter.
func TestLintCatchesBrokenContainerfiles(t *testing.T) {
	all := func(string) bool { return true }
	cases := []struct{ name, text, want string }{
		{"latest base", "FROM debian:latest\nUSER 10001\n", "explicit version tag"},
		{"untagged base", "FROM golang AS build\nFROM debian:12.12-slim\nUSER 1\n", "no tag"},
		{"registry port but no tag", "FROM registry.local:5000/debian\nUSER 1\n", "no tag"},
		{"tag from an ARG", "ARG V=1\nFROM debian:$V\nUSER 1\n", "explicit version tag"},
		{"no USER", "FROM debian:12.12-slim\nEXPOSE 8080\n", "not root"},
		{"root USER", "FROM debian:12.12-slim\nUSER root\n", "not root"},
		{"uid 0", "FROM debian:12.12-slim\nUSER 0:0\n", "not root"},
		{"USER only in the build stage", "FROM golang:1.26.8 AS b\nUSER 1000\nFROM debian:12.12-slim\n", "not root"},
		{"bad EXPOSE", "FROM debian:12.12-slim\nEXPOSE http\nUSER 1\n", "TCP port"},
		{"missing COPY source", "FROM debian:12.12-slim\nCOPY no/such/dir /x\nUSER 1\n", "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exists := all
			if strings.Contains(tc.text, "no/such") {
				exists = existsInRepo
			}
			v, _, err := lint(tc.text, exists)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Fatalf("violations %q, want one containing %q", v, tc.want)
			}
		})
	}
	// A stage name is not an image to pin; continuation lines join.
	v, exposed, err := lint("FROM golang:1.26.8 AS build\nRUN a \\\n  b\nFROM build\nEXPOSE 9090 \\\n 8080\nUSER 10001:10001\n", all)
	if err != nil || len(v) != 0 || !slices.Equal(exposed, []int{8080, 9090}) {
		t.Fatalf("valid file: violations %q, exposed %v, err %v", v, exposed, err)
	}
}
