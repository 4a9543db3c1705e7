package k8s_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kustomizations are every directory a user may `kubectl apply -k`.
var kustomizations = []string{"base", "overlays/k3s"}

// manifests is one rendered kustomization, every object in its typed form.
type manifests struct {
	namespaces   []*corev1.Namespace
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	ingresses    []*networkingv1.Ingress
	policies     []*networkingv1.NetworkPolicy
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	secrets      []*corev1.Secret
	configMaps   []*corev1.ConfigMap
	pvcs         []*corev1.PersistentVolumeClaim
}

// renderYAML runs kustomize on dir like `kubectl kustomize` does.
func renderYAML(t *testing.T, dir string) []byte {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := resMap.AsYaml()
	if err != nil {
		t.Fatalf("kustomize build %s: yaml: %v", dir, err)
	}
	return out
}

// decodeAll splits a multi-document stream and decodes each document
// strictly (unknown or duplicate fields fail) into its API type; a kind the
// test does not know fails too, so nothing escapes the checks.
func decodeAll(stream []byte) (*manifests, error) {
	m := &manifests{}
	for i, doc := range splitDocs(stream) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		var err error
		switch tm.APIVersion + "/" + tm.Kind {
		case "v1/Namespace":
			m.namespaces, err = appendStrict(m.namespaces, doc)
		case "apps/v1/Deployment":
			m.deployments, err = appendStrict(m.deployments, doc)
		case "apps/v1/StatefulSet":
			m.statefulSets, err = appendStrict(m.statefulSets, doc)
		case "v1/Service":
			m.services, err = appendStrict(m.services, doc)
		case "networking.k8s.io/v1/Ingress":
			m.ingresses, err = appendStrict(m.ingresses, doc)
		case "networking.k8s.io/v1/NetworkPolicy":
			m.policies, err = appendStrict(m.policies, doc)
		case "autoscaling/v2/HorizontalPodAutoscaler":
			m.hpas, err = appendStrict(m.hpas, doc)
		case "v1/Secret":
			m.secrets, err = appendStrict(m.secrets, doc)
		case "v1/ConfigMap":
			m.configMaps, err = appendStrict(m.configMaps, doc)
		case "v1/PersistentVolumeClaim":
			m.pvcs, err = appendStrict(m.pvcs, doc)
		default:
			err = fmt.Errorf("unknown kind %s %s", tm.APIVersion, tm.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i, tm.Kind, err)
		}
	}
	return m, nil
}

func appendStrict[T any](list []*T, doc []byte) ([]*T, error) {
	v := new(T)
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		return list, err
	}
	return append(list, v), nil
}

func splitDocs(stream []byte) [][]byte {
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(stream), -1) {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// workload is a pod template with the name of what owns it.
type workload struct {
	kind, name string
	labels     map[string]string
	spec       *corev1.PodSpec
}

func (m *manifests) workloads() []workload {
	var ws []workload
	for _, d := range m.deployments {
		ws = append(ws, workload{"Deployment", d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec})
	}
	for _, s := range m.statefulSets {
		ws = append(ws, workload{"StatefulSet", s.Name, s.Spec.Template.Labels, &s.Spec.Template.Spec})
	}
	return ws
}

// isAPI reports whether a workload runs `ifc cloud api`.
func isAPI(w workload) bool { return hasArgs(w, "cloud", "api") }

// isPart reports whether a workload runs `ifc cloud worker`.
func isPart(w workload) bool { return hasArgs(w, "cloud", "worker") }

func hasArgs(w workload, want ...string) bool {
	for _, c := range w.spec.Containers {
		if len(c.Args) >= len(want) && slices.Equal(c.Args[:len(want)], want) {
			return true
		}
	}
	return false
}

// check is one rule over a rendered kustomization; it returns the violations.
type check struct {
	name string
	fn   func(*manifests) []string
}

var checks = []check{
	{"probes and resources", checkProbesAndResources},
	{"pinned images", checkImages},
	{"only the API exposed", checkExposure},
	{"network policies", checkNetworkPolicies},
	{"credentials from Secrets", checkCredentials},
	{"config env matches cloud/server.Config", checkConfigEnv},
	{"HPA per part service", checkHPAs},
	{"non-root, read-only root filesystem", checkSecurity},
}

// writableRoot lists the containers allowed a writable root filesystem, with
// the reason (also in their manifest).
var writableRoot = map[string]string{
	"StatefulSet/kafka/kafka": "the image's entrypoint renders server.properties under /opt/kafka/config",
}

func checkSecurity(m *manifests) []string {
	var bad []string
	for _, w := range m.workloads() {
		podNonRoot := w.spec.SecurityContext != nil && w.spec.SecurityContext.RunAsNonRoot != nil && *w.spec.SecurityContext.RunAsNonRoot
		for _, c := range append(append([]corev1.Container(nil), w.spec.InitContainers...), w.spec.Containers...) {
			where := fmt.Sprintf("%s/%s/%s", w.kind, w.name, c.Name)
			sc := c.SecurityContext
			nonRoot := podNonRoot
			if sc != nil && sc.RunAsNonRoot != nil {
				nonRoot = *sc.RunAsNonRoot
			}
			if !nonRoot {
				bad = append(bad, where+": runAsNonRoot is not set")
			}
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Privileged != nil && *sc.Privileged {
				bad = append(bad, where+": privilege escalation not disabled")
			}
			readOnly := sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
			if _, allowed := writableRoot[where]; !readOnly && !allowed {
				bad = append(bad, where+": root filesystem is writable")
			}
		}
	}
	return bad
}

func checkProbesAndResources(m *manifests) []string {
	var bad []string
	for _, w := range m.workloads() {
		all := append(append([]corev1.Container(nil), w.spec.InitContainers...), w.spec.Containers...)
		for i, c := range all {
			where := fmt.Sprintf("%s/%s container %s", w.kind, w.name, c.Name)
			if i >= len(w.spec.InitContainers) { // init containers cannot have probes
				for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
					if p == nil {
						bad = append(bad, where+": no "+name+" probe")
					} else if n := handlers(p); n != 1 {
						bad = append(bad, fmt.Sprintf("%s: %s probe has %d handlers, want 1", where, name, n))
					}
				}
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, hasReq := c.Resources.Requests[res]
				lim, hasLim := c.Resources.Limits[res]
				switch {
				case !hasReq:
					bad = append(bad, fmt.Sprintf("%s: no %s request", where, res))
				case !hasLim:
					bad = append(bad, fmt.Sprintf("%s: no %s limit", where, res))
				case req.Cmp(lim) > 0:
					bad = append(bad, fmt.Sprintf("%s: %s request %s above limit %s", where, res, req.String(), lim.String()))
				}
			}
		}
	}
	return bad
}

func handlers(p *corev1.Probe) int {
	n := 0
	for _, set := range []bool{p.HTTPGet != nil, p.TCPSocket != nil, p.GRPC != nil, p.Exec != nil} {
		if set {
			n++
		}
	}
	return n
}

func checkImages(m *manifests) []string {
	var bad []string
	for _, w := range m.workloads() {
		for _, c := range append(append([]corev1.Container(nil), w.spec.InitContainers...), w.spec.Containers...) {
			if err := pinned(c.Image); err != nil {
				bad = append(bad, fmt.Sprintf("%s/%s container %s: %v", w.kind, w.name, c.Name, err))
			}
		}
	}
	return bad
}

// pinned accepts repo:tag with an explicit tag other than latest.
func pinned(image string) error {
	ref, _, _ := strings.Cut(image, "@")
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if image == "" || colon < slash+1 || colon == len(ref)-1 {
		return fmt.Errorf("image %q has no tag", image)
	}
	if tag := ref[colon+1:]; strings.EqualFold(tag, "latest") {
		return fmt.Errorf("image %q uses the latest tag", image)
	}
	return nil
}

func checkExposure(m *manifests) []string {
	var bad []string
	services := map[string]*corev1.Service{}
	for _, s := range m.services {
		services[s.Name] = s
		switch s.Spec.Type {
		case "", corev1.ServiceTypeClusterIP:
		default:
			bad = append(bad, fmt.Sprintf("Service %s has type %s: only the Ingress may expose the cloud tier", s.Name, s.Spec.Type))
		}
		if len(s.Spec.ExternalIPs) > 0 {
			bad = append(bad, fmt.Sprintf("Service %s has externalIPs", s.Name))
		}
	}
	for _, w := range m.workloads() {
		if w.spec.HostNetwork {
			bad = append(bad, fmt.Sprintf("%s/%s uses the host network", w.kind, w.name))
		}
		for _, c := range w.spec.Containers {
			for _, p := range c.Ports {
				if p.HostPort != 0 {
					bad = append(bad, fmt.Sprintf("%s/%s container %s binds host port %d", w.kind, w.name, c.Name, p.HostPort))
				}
			}
		}
	}
	for _, ing := range m.ingresses {
		var backends []*networkingv1.IngressServiceBackend
		if ing.Spec.DefaultBackend != nil {
			backends = append(backends, ing.Spec.DefaultBackend.Service)
		}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				backends = append(backends, p.Backend.Service)
			}
		}
		for _, b := range backends {
			if b == nil {
				bad = append(bad, fmt.Sprintf("Ingress %s has a non-Service backend", ing.Name))
				continue
			}
			s, ok := services[b.Name]
			if !ok {
				bad = append(bad, fmt.Sprintf("Ingress %s references missing Service %s", ing.Name, b.Name))
				continue
			}
			selected := m.selectedBy(s.Spec.Selector)
			if len(selected) == 0 {
				bad = append(bad, fmt.Sprintf("Ingress %s exposes Service %s which selects no pods", ing.Name, s.Name))
			}
			for _, w := range selected {
				if !isAPI(w) {
					bad = append(bad, fmt.Sprintf("Ingress %s exposes Service %s which selects %s/%s, not the API", ing.Name, s.Name, w.kind, w.name))
				}
			}
		}
	}
	return bad
}

// selectedBy lists the workloads whose pods match a Service selector.
func (m *manifests) selectedBy(sel map[string]string) []workload {
	if len(sel) == 0 {
		return nil
	}
	var ws []workload
	for _, w := range m.workloads() {
		if labels.SelectorFromSet(sel).Matches(labels.Set(w.labels)) {
			ws = append(ws, w)
		}
	}
	return ws
}

// monitoringNamespace is the one outside namespace allowed to reach
// internal pods (Prometheus scraping metrics ports).
var monitoringNamespace = map[string]string{"kubernetes.io/metadata.name": "monitoring"}

func checkNetworkPolicies(m *manifests) []string {
	var bad []string
	hasDefaultDeny := false
	for _, p := range m.policies {
		if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0 &&
			slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) && len(p.Spec.Ingress) == 0 {
			hasDefaultDeny = true
		}
	}
	if !hasDefaultDeny {
		bad = append(bad, "no default-deny ingress NetworkPolicy (empty podSelector, policyTypes Ingress, no rules)")
	}
	for _, p := range m.policies {
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			bad = append(bad, fmt.Sprintf("NetworkPolicy %s: %v", p.Name, err))
			continue
		}
		var targets []workload
		for _, w := range m.workloads() {
			if sel.Matches(labels.Set(w.labels)) {
				targets = append(targets, w)
			}
		}
		onlyAPI := len(targets) > 0
		for _, w := range targets {
			onlyAPI = onlyAPI && isAPI(w)
		}
		for i, rule := range p.Spec.Ingress {
			where := fmt.Sprintf("NetworkPolicy %s ingress rule %d", p.Name, i)
			if len(rule.From) == 0 {
				bad = append(bad, where+": allows every source")
			}
			for _, peer := range rule.From {
				if peer.IPBlock != nil {
					if c := peer.IPBlock.CIDR; c == "0.0.0.0/0" || c == "::/0" {
						bad = append(bad, fmt.Sprintf("%s: allows every address (%s)", where, c))
					} else if !onlyAPI {
						bad = append(bad, fmt.Sprintf("%s: admits addresses %s to pods other than the API", where, c))
					}
				}
				if ns := peer.NamespaceSelector; ns != nil {
					switch {
					case len(ns.MatchLabels) == 0 && len(ns.MatchExpressions) == 0:
						bad = append(bad, where+": allows every namespace")
					case !onlyAPI && !reflect.DeepEqual(ns.MatchLabels, monitoringNamespace):
						bad = append(bad, fmt.Sprintf("%s: admits namespace %v to pods other than the API", where, ns.MatchLabels))
					}
				}
			}
		}
	}
	// Every Service must be reachable through some allow policy, or it is
	// dead under the default deny.
	for _, s := range m.services {
		for _, w := range m.selectedBy(s.Spec.Selector) {
			if !m.allowed(w) {
				bad = append(bad, fmt.Sprintf("Service %s: pods of %s/%s are selected by no NetworkPolicy that admits traffic", s.Name, w.kind, w.name))
			}
		}
	}
	return bad
}

func (m *manifests) allowed(w workload) bool {
	for _, p := range m.policies {
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err == nil && len(p.Spec.Ingress) > 0 && sel.Matches(labels.Set(w.labels)) {
			return true
		}
	}
	return false
}

var (
	sensitiveName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|ACCESS_KEY|PRIVATE_KEY|ROOT_USER)`)
	fileName      = regexp.MustCompile(`(?i)_(FILE|PATH|DIR)$`)
	userinfoURL   = regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^/@\s]+@`)
)

func checkCredentials(m *manifests) []string {
	var bad []string
	secrets := map[string]*corev1.Secret{}
	for _, s := range m.secrets {
		secrets[s.Name] = s
	}
	for _, cm := range m.configMaps {
		for k, v := range cm.Data {
			if (sensitiveName.MatchString(k) && !fileName.MatchString(k)) || userinfoURL.MatchString(v) {
				bad = append(bad, fmt.Sprintf("ConfigMap %s key %s holds a credential; use a Secret", cm.Name, k))
			}
		}
	}
	for _, w := range m.workloads() {
		secretMounts := map[string]bool{}
		for _, v := range w.spec.Volumes {
			if v.Secret != nil {
				secretMounts[v.Name] = true
			}
		}
		for _, c := range append(append([]corev1.Container(nil), w.spec.InitContainers...), w.spec.Containers...) {
			where := fmt.Sprintf("%s/%s container %s", w.kind, w.name, c.Name)
			for _, e := range c.Env {
				sensitive := sensitiveName.MatchString(e.Name)
				switch {
				case e.ValueFrom == nil && sensitive && fileName.MatchString(e.Name):
					if !underSecretMount(e.Value, c.VolumeMounts, secretMounts) {
						bad = append(bad, fmt.Sprintf("%s: %s=%s is not in a volume from a Secret", where, e.Name, e.Value))
					}
				case e.ValueFrom == nil && sensitive:
					bad = append(bad, fmt.Sprintf("%s: %s is a plaintext credential; use secretKeyRef", where, e.Name))
				case e.ValueFrom == nil && userinfoURL.MatchString(e.Value):
					bad = append(bad, fmt.Sprintf("%s: %s is a URL with credentials in plaintext; use secretKeyRef", where, e.Name))
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					if s, ok := secrets[ref.Name]; !ok {
						bad = append(bad, fmt.Sprintf("%s: %s refers to missing Secret %s", where, e.Name, ref.Name))
					} else if _, ok := secretValue(s, ref.Key); !ok {
						bad = append(bad, fmt.Sprintf("%s: %s refers to missing key %s of Secret %s", where, e.Name, ref.Key, ref.Name))
					}
				case e.ValueFrom != nil && sensitive:
					bad = append(bad, fmt.Sprintf("%s: %s comes from something other than a Secret", where, e.Name))
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					bad = append(bad, fmt.Sprintf("%s: envFrom a ConfigMap; list the variables (credentials belong in a secretRef)", where))
				}
			}
		}
	}
	return bad
}

func secretValue(s *corev1.Secret, key string) ([]byte, bool) {
	if v, ok := s.Data[key]; ok {
		return v, true
	}
	v, ok := s.StringData[key]
	return []byte(v), ok
}

func underSecretMount(path string, mounts []corev1.VolumeMount, secretVolumes map[string]bool) bool {
	for _, vm := range mounts {
		if secretVolumes[vm.Name] && strings.HasPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			return true
		}
	}
	return false
}

// configKeys are the IFC_* variables cloud/server.Config reads: IFC_ plus
// each yaml tag upper-cased (internal/confload), collected from the source
// so the manifests cannot drift from the code.
var configKeys = func() map[string]bool {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "..", "cloud", "server", "config.go"), nil, 0)
	if err != nil {
		panic(err)
	}
	keys := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, fld := range ts.Type.(*ast.StructType).Fields.List {
			if fld.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(fld.Tag.Value)
			if y, ok := reflect.StructTag(tag).Lookup("yaml"); ok {
				keys["IFC_"+strings.ToUpper(strings.Split(y, ",")[0])] = true
			}
		}
		return false
	})
	return keys
}()

func checkConfigEnv(m *manifests) []string {
	var bad []string
	for _, w := range m.workloads() {
		if !isAPI(w) && !isPart(w) {
			continue
		}
		for _, c := range w.spec.Containers {
			for _, e := range c.Env {
				if strings.HasPrefix(e.Name, "IFC_") && !configKeys[e.Name] && e.Name != "IFC_ORT_LIB" {
					bad = append(bad, fmt.Sprintf("%s/%s container %s: %s is not a cloud/server.Config key", w.kind, w.name, c.Name, e.Name))
				}
			}
		}
	}
	return bad
}

func checkHPAs(m *manifests) []string {
	var bad []string
	parts := 0
	for _, d := range m.deployments {
		w := workload{"Deployment", d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec}
		if !isPart(w) {
			continue
		}
		parts++
		if d.Spec.Replicas != nil {
			bad = append(bad, fmt.Sprintf("Deployment %s sets replicas; its HPA owns the count", d.Name))
		}
		var found *autoscalingv2.HorizontalPodAutoscaler
		for _, h := range m.hpas {
			r := h.Spec.ScaleTargetRef
			if r.Kind == "Deployment" && r.APIVersion == "apps/v1" && r.Name == d.Name {
				found = h
			}
		}
		if found == nil {
			bad = append(bad, fmt.Sprintf("part Deployment %s has no HorizontalPodAutoscaler", d.Name))
			continue
		}
		cpu := false
		for _, mt := range found.Spec.Metrics {
			cpu = cpu || mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU
		}
		if !cpu {
			bad = append(bad, fmt.Sprintf("HPA %s does not scale on CPU", found.Name))
		}
		if found.Spec.MinReplicas == nil || *found.Spec.MinReplicas < 1 || found.Spec.MaxReplicas < *found.Spec.MinReplicas {
			bad = append(bad, fmt.Sprintf("HPA %s: replicas range is not 1 <= min <= max", found.Name))
		}
	}
	if parts != 3 {
		bad = append(bad, fmt.Sprintf("%d part Deployments, want 3 (resize, filter, detect)", parts))
	}
	return bad
}

func TestKustomizationsRenderAndPassChecks(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			m, err := decodeAll(renderYAML(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.deployments) == 0 || len(m.policies) == 0 {
				t.Fatalf("rendered %d Deployments and %d NetworkPolicies; the kustomization lost its resources", len(m.deployments), len(m.policies))
			}
			for _, d := range m.deployments {
				if d.Name == "ifc-api" && (d.Spec.Replicas == nil || *d.Spec.Replicas < 2) {
					t.Errorf("Deployment ifc-api: replicas %v, want at least 2 (progress crosses replicas via Kafka)", d.Spec.Replicas)
				}
			}
			for _, c := range checks {
				for _, v := range c.fn(m) {
					t.Errorf("%s: %s", c.name, v)
				}
			}
		})
	}
}

// TestOverlayK3s checks what the k3s overlay changes.
func TestOverlayK3s(t *testing.T) {
	m, err := decodeAll(renderYAML(t, "overlays/k3s"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ing := range m.ingresses {
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "traefik" {
			t.Errorf("Ingress %s: ingressClassName %v, want traefik", ing.Name, ing.Spec.IngressClassName)
		}
	}
	for _, s := range m.statefulSets {
		for _, pvc := range s.Spec.VolumeClaimTemplates {
			if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "local-path" {
				t.Errorf("StatefulSet %s claim %s: storageClassName %v, want local-path", s.Name, pvc.Name, pvc.Spec.StorageClassName)
			}
		}
	}
	for _, p := range m.policies {
		if p.Name != "api-from-ingress-controller" {
			continue
		}
		if got := p.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]; got != "kube-system" {
			t.Errorf("API policy admits namespace %q, want kube-system (Traefik)", got)
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicaz: 2}\n",
		"unknown kind":  "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n",
		"wrong type":    "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: 8080}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeAll([]byte(doc)); err == nil {
				t.Fatal("decoded without error")
			}
		})
	}
}

// TestChecksCatchBrokenManifests breaks a rendered base one way at a time
// and expects the matching check to say so.
func TestChecksCatchBrokenManifests(t *testing.T) {
	stream := renderYAML(t, "base")
	dep := func(m *manifests, name string) *appsv1.Deployment {
		for _, d := range m.deployments {
			if d.Name == name {
				return d
			}
		}
		t.Fatalf("no Deployment %s", name)
		return nil
	}
	env := func(c *corev1.Container, name, value string) {
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	cases := []struct {
		name   string
		check  func(*manifests) []string
		mutate func(*manifests)
		want   string
	}{
		{"no liveness probe", checkProbesAndResources, func(m *manifests) {
			dep(m, "ifc-resize").Spec.Template.Spec.Containers[0].LivenessProbe = nil
		}, "no liveness probe"},
		{"no readiness probe on a StatefulSet", checkProbesAndResources, func(m *manifests) {
			m.statefulSets[0].Spec.Template.Spec.Containers[0].ReadinessProbe = nil
		}, "no readiness probe"},
		{"no memory limit", checkProbesAndResources, func(m *manifests) {
			delete(dep(m, "ifc-api").Spec.Template.Spec.Containers[0].Resources.Limits, corev1.ResourceMemory)
		}, "no memory limit"},
		{"no cpu request", checkProbesAndResources, func(m *manifests) {
			delete(dep(m, "triton").Spec.Template.Spec.Containers[0].Resources.Requests, corev1.ResourceCPU)
		}, "no cpu request"},
		{"latest tag", checkImages, func(m *manifests) {
			dep(m, "ifc-api").Spec.Template.Spec.Containers[0].Image = "ghcr.io/imageflowcanvas/ifc:latest"
		}, "latest"},
		{"untagged image", checkImages, func(m *manifests) {
			m.statefulSets[0].Spec.Template.Spec.Containers[0].Image = "registry.example.com:5000/minio"
		}, "no tag"},
		{"untagged init container", checkImages, func(m *manifests) {
			s := &dep(m, "triton").Spec.Template.Spec
			s.InitContainers = append(s.InitContainers, corev1.Container{Name: "models", Image: "busybox"})
		}, "no tag"},
		{"LoadBalancer service", checkExposure, func(m *manifests) {
			m.services[len(m.services)-1].Spec.Type = corev1.ServiceTypeLoadBalancer
		}, "type LoadBalancer"},
		{"NodePort service", checkExposure, func(m *manifests) {
			m.services[0].Spec.Type = corev1.ServiceTypeNodePort
		}, "type NodePort"},
		{"ingress to a part service", checkExposure, func(m *manifests) {
			m.ingresses[0].Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "ifc-detect"
		}, "not the API"},
		{"ingress to minio", checkExposure, func(m *manifests) {
			m.ingresses[0].Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "minio"}}
		}, "not the API"},
		{"host port", checkExposure, func(m *manifests) {
			dep(m, "ifc-filter").Spec.Template.Spec.Containers[0].Ports[0].HostPort = 9090
		}, "host port"},
		{"no default deny", checkNetworkPolicies, func(m *manifests) {
			m.policies = slices.DeleteFunc(m.policies, func(p *networkingv1.NetworkPolicy) bool { return p.Name == "default-deny-ingress" })
		}, "no default-deny"},
		{"allow-all rule", checkNetworkPolicies, func(m *manifests) {
			for _, p := range m.policies {
				if p.Name == "postgres-from-api" {
					p.Spec.Ingress[0].From = nil
				}
			}
		}, "allows every source"},
		{"outside namespace to kafka", checkNetworkPolicies, func(m *manifests) {
			for _, p := range m.policies {
				if p.Name == "kafka-from-api" {
					p.Spec.Ingress[0].From[0].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}}
				}
			}
		}, "pods other than the API"},
		{"every namespace", checkNetworkPolicies, func(m *manifests) {
			m.policies[1].Spec.Ingress[0].From[0].NamespaceSelector = &metav1.LabelSelector{}
		}, "every namespace"},
		{"world CIDR", checkNetworkPolicies, func(m *manifests) {
			m.policies[1].Spec.Ingress[0].From = append(m.policies[1].Spec.Ingress[0].From, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}})
		}, "every address"},
		{"service without allow policy", checkNetworkPolicies, func(m *manifests) {
			m.policies = slices.DeleteFunc(m.policies, func(p *networkingv1.NetworkPolicy) bool { return p.Name == "triton-from-detect" })
		}, "selected by no NetworkPolicy"},
		{"plaintext password", checkCredentials, func(m *manifests) {
			env(&dep(m, "ifc-api").Spec.Template.Spec.Containers[0], "IFC_ADMIN_PASSWORD", "hunter2")
		}, "plaintext credential"},
		{"URL with userinfo", checkCredentials, func(m *manifests) {
			env(&dep(m, "ifc-api").Spec.Template.Spec.Containers[0], "IFC_METADATA_URL", "postgres://ifc:pw@postgres:5432/ifc")
		}, "URL with credentials"},
		{"password from a ConfigMap", checkCredentials, func(m *manifests) {
			c := &m.statefulSets[0].Spec.Template.Spec.Containers[0]
			c.Env = append(c.Env, corev1.EnvVar{Name: "POSTGRES_PASSWORD", ValueFrom: &corev1.EnvVarSource{
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "pw"}}})
		}, "other than a Secret"},
		{"credential in a ConfigMap", checkCredentials, func(m *manifests) {
			m.configMaps = append(m.configMaps, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
				Data: map[string]string{"objects": "s3://ifc:pw@minio:9000/ifc"}})
		}, "holds a credential"},
		{"missing secret key", checkCredentials, func(m *manifests) {
			c := &dep(m, "ifc-api").Spec.Template.Spec.Containers[0]
			for i := range c.Env {
				if c.Env[i].ValueFrom != nil {
					c.Env[i].ValueFrom.SecretKeyRef.Key = "no-such-key"
				}
			}
		}, "missing key"},
		{"token key file outside a Secret volume", checkCredentials, func(m *manifests) {
			c := &dep(m, "ifc-api").Spec.Template.Spec.Containers[0]
			for i := range c.Env {
				if c.Env[i].Name == "IFC_TOKEN_KEY_FILE" {
					c.Env[i].Value = "/var/lib/ifc/token.key"
				}
			}
		}, "not in a volume from a Secret"},
		{"unknown config variable", checkConfigEnv, func(m *manifests) {
			env(&dep(m, "ifc-detect").Spec.Template.Spec.Containers[0], "IFC_DETECTOR", "triton://triton:8001/detector")
		}, "not a cloud/server.Config key"},
		{"part without HPA", checkHPAs, func(m *manifests) {
			m.hpas = slices.DeleteFunc(m.hpas, func(h *autoscalingv2.HorizontalPodAutoscaler) bool { return h.Name == "ifc-filter" })
		}, "ifc-filter has no HorizontalPodAutoscaler"},
		{"HPA on memory only", checkHPAs, func(m *manifests) {
			m.hpas[0].Spec.Metrics[0].Resource.Name = corev1.ResourceMemory
		}, "does not scale on CPU"},
		{"root user allowed", checkSecurity, func(m *manifests) {
			f := false
			dep(m, "ifc-api").Spec.Template.Spec.SecurityContext.RunAsNonRoot = &f
		}, "runAsNonRoot is not set"},
		{"writable root filesystem", checkSecurity, func(m *manifests) {
			f := false
			dep(m, "ifc-detect").Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = &f
		}, "root filesystem is writable"},
		{"privilege escalation", checkSecurity, func(m *manifests) {
			m.statefulSets[0].Spec.Template.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
		}, "privilege escalation"},
		{"replicas fixed beside HPA", checkHPAs, func(m *manifests) {
			n := int32(3)
			dep(m, "ifc-resize").Spec.Replicas = &n
		}, "HPA owns the count"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decodeAll(stream)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.check(m); len(got) != 0 {
				t.Fatalf("check fails before the mutation: %v", got)
			}
			tc.mutate(m)
			got := tc.check(m)
			for _, v := range got {
				if strings.Contains(v, tc.want) {
					return
				}
			}
			t.Fatalf("after the mutation the check reported %q, want a violation containing %q", got, tc.want)
		})
	}
}
