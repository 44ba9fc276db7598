package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
)

const (
	k8sDir       = "deploy/k8s"
	k8sConfigMap = "tcbot-config"
	k8sConfigKey = "tcbot.yaml"
	// minDrainGrace is the least time a tcbot pod gets to stop: a
	// measurement job takes minutes, and a worker drains by finishing it.
	minDrainGrace = 5 * time.Minute
)

// manifestObject is one decoded object and where it came from.
type manifestObject struct {
	file string
	obj  runtime.Object
	meta metav1.Object
}

type manifests struct{ objs []manifestObject }

var (
	manifestsOnce sync.Once
	manifestsVal  *manifests
	manifestsErr  error
)

// k8sFiles are the manifests: what `kubectl apply -f deploy/k8s/` applies
// (*.yaml) and the Secret example it does not (*.yaml.example).
func k8sFiles() ([]string, error) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml", "*.json", "*.yaml.example"} {
		m, err := filepath.Glob(filepath.Join(repoPath(k8sDir), pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("no manifests in %s", k8sDir)
	}
	return files, nil
}

// decodeStrict decodes every document of a manifest file into the
// Kubernetes API types (apps/v1, core/v1, policy/v1) with
// apimachinery's strict decoder: an unknown or duplicate field, a kind or
// apiVersion the API does not have, or a value of the wrong type is an
// error.
func decodeStrict(name string, data []byte) ([]runtime.Object, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []runtime.Object
	for n := 1; ; n++ {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, n, err)
		}
		var probe any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, n, err)
		}
		if probe == nil {
			continue // only comments
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, n, err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	manifestsOnce.Do(func() {
		files, err := k8sFiles()
		if err != nil {
			manifestsErr = err
			return
		}
		m := &manifests{}
		var errs []error
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			rel := filepath.ToSlash(filepath.Join(k8sDir, filepath.Base(f)))
			objs, err := decodeStrict(rel, data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, o := range objs {
				acc, err := metaOf(o)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", rel, err))
					continue
				}
				m.objs = append(m.objs, manifestObject{file: rel, obj: o, meta: acc})
			}
		}
		manifestsVal, manifestsErr = m, errors.Join(errs...)
	})
	if manifestsErr != nil {
		t.Fatal(manifestsErr)
	}
	return manifestsVal
}

func metaOf(o runtime.Object) (metav1.Object, error) {
	acc, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", o)
	}
	return acc, nil
}

func kindOf(o runtime.Object) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", o), "*v1.")
}

func (m *manifests) configMap(name string) *corev1.ConfigMap {
	for _, o := range m.objs {
		if cm, ok := o.obj.(*corev1.ConfigMap); ok && cm.Name == name {
			return cm
		}
	}
	return nil
}

func (m *manifests) secret(name string) *corev1.Secret {
	for _, o := range m.objs {
		if s, ok := o.obj.(*corev1.Secret); ok && s.Name == name {
			return s
		}
	}
	return nil
}

// workload is a pod template with the object that owns it.
type workload struct {
	file, kind, name string
	replicas         int32
	selector         *metav1.LabelSelector
	pod              corev1.PodTemplateSpec
	claims           []corev1.PersistentVolumeClaim
	serviceName      string
}

func (m *manifests) workloads() []workload {
	var out []workload
	for _, o := range m.objs {
		switch w := o.obj.(type) {
		case *appsv1.Deployment:
			out = append(out, workload{file: o.file, kind: "Deployment", name: w.Name, replicas: deref(w.Spec.Replicas, 1), selector: w.Spec.Selector, pod: w.Spec.Template})
		case *appsv1.StatefulSet:
			out = append(out, workload{file: o.file, kind: "StatefulSet", name: w.Name, replicas: deref(w.Spec.Replicas, 1), selector: w.Spec.Selector, pod: w.Spec.Template, claims: w.Spec.VolumeClaimTemplates, serviceName: w.Spec.ServiceName})
		}
	}
	return out
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func (w workload) String() string { return fmt.Sprintf("%s: %s %s", w.file, w.kind, w.name) }

// TestK8sManifestsDecodeStrictly: every manifest decodes into the real API
// types with unknown fields as errors, has a name, and no two objects
// share kind and name; the kinds are the ones tcbot's deployment uses.
func TestK8sManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	seen := map[string]string{}
	kinds := map[string]int{}
	for _, o := range m.objs {
		kind := kindOf(o.obj)
		kinds[kind]++
		if o.meta.GetName() == "" {
			t.Errorf("%s: a %s without metadata.name", o.file, kind)
		}
		key := kind + "/" + o.meta.GetName()
		if prev, dup := seen[key]; dup {
			t.Errorf("%s: %s is also defined in %s", o.file, key, prev)
		}
		seen[key] = o.file
		switch kind {
		case "Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget":
		default:
			t.Errorf("%s: %s %s: a kind this deployment does not use (bare pods, ...)", o.file, kind, o.meta.GetName())
		}
	}
	for _, k := range []string{"Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} {
		if kinds[k] == 0 {
			t.Errorf("%s: no %s", k8sDir, k)
		}
	}
}

// TestK8sStrictDecodingRejects proves the decoder is strict: the same
// checks that pass the shipped manifests fail on broken ones.
func TestK8sStrictDecodingRejects(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"unknown field", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 1\n"},
		{"misspelled nested field", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{name: http, port: 80, targetport: http}]\n"},
		{"duplicate field", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n"},
		{"wrong type", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: two\n"},
		{"unknown kind", "apiVersion: apps/v1\nkind: Deploymint\nmetadata: {name: x}\n"},
		{"wrong apiVersion", "apiVersion: policy/v1beta2\nkind: PodDisruptionBudget\nmetadata: {name: x}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeStrict(tc.name, []byte(tc.doc)); err == nil {
				t.Errorf("decoded without error:\n%s", tc.doc)
			}
		})
	}
}

func selectorMatches(sel *metav1.LabelSelector, lbls map[string]string) (bool, error) {
	if sel == nil {
		return false, fmt.Errorf("no selector")
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	if s.Empty() {
		return false, fmt.Errorf("empty selector selects everything")
	}
	return s.Matches(labels.Set(lbls)), nil
}

// TestK8sSelectorsAndReferences: every selector matches its pod template,
// every Service and PodDisruptionBudget selects a workload, named ports
// exist, a StatefulSet's serviceName is a headless Service of its pods,
// and every ConfigMap, Secret and key a pod uses is in the manifests.
func TestK8sSelectorsAndReferences(t *testing.T) {
	m := loadManifests(t)
	ws := m.workloads()
	if len(ws) == 0 {
		t.Fatal("no workloads")
	}
	for _, w := range ws {
		if ok, err := selectorMatches(w.selector, w.pod.Labels); err != nil || !ok {
			t.Errorf("%s: spec.selector does not select its own pod template's labels %v (%v)", w, w.pod.Labels, err)
		}
		checkPodReferences(t, m, w)
	}
	selected := func(sel *metav1.LabelSelector) []workload {
		var out []workload
		for _, w := range ws {
			if ok, _ := selectorMatches(sel, w.pod.Labels); ok {
				out = append(out, w)
			}
		}
		return out
	}
	services := map[string]*corev1.Service{}
	for _, o := range m.objs {
		switch x := o.obj.(type) {
		case *corev1.Service:
			services[x.Name] = x
			sel := &metav1.LabelSelector{MatchLabels: x.Spec.Selector}
			pods := selected(sel)
			if len(pods) == 0 {
				t.Errorf("%s: Service %s selects no workload's pods (selector %v)", o.file, x.Name, x.Spec.Selector)
			}
			for _, p := range x.Spec.Ports {
				for _, w := range pods {
					if !podHasPort(w.pod.Spec, p.TargetPort.String()) {
						t.Errorf("%s: Service %s port %s: targetPort %s is not a container port of %s", o.file, x.Name, p.Name, p.TargetPort.String(), w)
					}
				}
			}
		case *policyv1.PodDisruptionBudget:
			if len(selected(x.Spec.Selector)) == 0 {
				t.Errorf("%s: PodDisruptionBudget %s selects no workload's pods", o.file, x.Name)
			}
			if x.Spec.MinAvailable == nil && x.Spec.MaxUnavailable == nil {
				t.Errorf("%s: PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable", o.file, x.Name)
			}
		}
	}
	for _, w := range ws {
		if w.kind != "StatefulSet" {
			continue
		}
		svc := services[w.serviceName]
		switch {
		case svc == nil:
			t.Errorf("%s: serviceName %q is not a Service in the manifests", w, w.serviceName)
		case svc.Spec.ClusterIP != corev1.ClusterIPNone:
			t.Errorf("%s: its governing Service %s must be headless (clusterIP: None)", w, svc.Name)
		default:
			if ok, _ := selectorMatches(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, w.pod.Labels); !ok {
				t.Errorf("%s: its governing Service %s does not select its pods", w, svc.Name)
			}
		}
	}
}

func podHasPort(spec corev1.PodSpec, port string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port || strconv.Itoa(int(p.ContainerPort)) == port {
				return true
			}
		}
	}
	return false
}

func checkPodReferences(t *testing.T, m *manifests, w workload) {
	t.Helper()
	spec := w.pod.Spec
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
		switch {
		case v.ConfigMap != nil:
			cm := m.configMap(v.ConfigMap.Name)
			if cm == nil {
				t.Errorf("%s: volume %s: ConfigMap %s is not in the manifests", w, v.Name, v.ConfigMap.Name)
				break
			}
			for _, it := range v.ConfigMap.Items {
				if _, ok := cm.Data[it.Key]; !ok {
					t.Errorf("%s: volume %s: ConfigMap %s has no key %s", w, v.Name, cm.Name, it.Key)
				}
			}
		case v.Secret != nil:
			if m.secret(v.Secret.SecretName) == nil {
				t.Errorf("%s: volume %s: Secret %s is not in the manifests", w, v.Name, v.Secret.SecretName)
			}
		}
	}
	for _, c := range w.claims {
		volumes[c.Name] = true
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, vm := range c.VolumeMounts {
			if !volumes[vm.Name] {
				t.Errorf("%s: container %s mounts volume %s, which the pod does not have", w, c.Name, vm.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				s := m.secret(r.Name)
				if s == nil {
					t.Errorf("%s: container %s env %s: Secret %s is not in the manifests", w, c.Name, e.Name, r.Name)
				} else if _, ok := s.StringData[r.Key]; !ok {
					if _, ok := s.Data[r.Key]; !ok {
						t.Errorf("%s: container %s env %s: Secret %s has no key %s", w, c.Name, e.Name, r.Name, r.Key)
					}
				}
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				cm := m.configMap(r.Name)
				if cm == nil {
					t.Errorf("%s: container %s env %s: ConfigMap %s is not in the manifests", w, c.Name, e.Name, r.Name)
				} else if _, ok := cm.Data[r.Key]; !ok {
					t.Errorf("%s: container %s env %s: ConfigMap %s has no key %s", w, c.Name, e.Name, r.Name, r.Key)
				}
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.SecretRef != nil && m.secret(ef.SecretRef.Name) == nil {
				t.Errorf("%s: container %s envFrom: Secret %s is not in the manifests", w, c.Name, ef.SecretRef.Name)
			}
			if ef.ConfigMapRef != nil && m.configMap(ef.ConfigMapRef.Name) == nil {
				t.Errorf("%s: container %s envFrom: ConfigMap %s is not in the manifests", w, c.Name, ef.ConfigMapRef.Name)
			}
		}
	}
}

// tcbotContainer is a container running tcbot, with its command line
// checked against the binary (args is nil when the check failed).
type tcbotContainer struct {
	w    workload
	c    corev1.Container
	args *parsedArgs
}

func tcbotContainers(t *testing.T, m *manifests) []tcbotContainer {
	t.Helper()
	bin := tcbotBinary(t)
	var out []tcbotContainer
	for _, w := range m.workloads() {
		for _, c := range w.pod.Spec.Containers {
			if len(c.Command) > 0 {
				t.Errorf("%s: container %s overrides the image's entrypoint (tini, then tcbot); give args only", w, c.Name)
				continue
			}
			p, err := checkArgs(bin, c.Args)
			if err != nil {
				t.Errorf("%s: container %s: args %q: %v", w, c.Name, c.Args, err)
				p = nil
			}
			out = append(out, tcbotContainer{w: w, c: c, args: p})
		}
	}
	return out
}

// clusterConfig is the part of the ConfigMap's tcbot.yaml the manifests
// must agree with.
type clusterConfig struct {
	Database string `yaml:"database"`
	Listen   string `yaml:"listen"`
	Plugin   string `yaml:"plugin"`
	Jobs     int    `yaml:"jobs"`
	Targets  []struct {
		Name string `yaml:"name"`
	} `yaml:"targets"`
	GitHub *struct {
		TokenEnv         string `yaml:"token_env"`
		WebhookSecretEnv string `yaml:"webhook_secret_env"`
	} `yaml:"github"`
}

func loadClusterConfig(t *testing.T, m *manifests) clusterConfig {
	t.Helper()
	cm := m.configMap(k8sConfigMap)
	if cm == nil {
		t.Fatalf("no ConfigMap %s", k8sConfigMap)
	}
	var cfg clusterConfig
	data := []byte(cm.Data[k8sConfigKey])
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("ConfigMap %s key %s: %v", k8sConfigMap, k8sConfigKey, err)
	}
	return cfg
}

func portOf(addr string) (int32, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(p)
	return int32(n), err
}

// TestK8sTcbotPods checks each tcbot container against tcbot and its
// config: real subcommands and flags, the config file mounted from the
// ConfigMap, probes on /healthz at the port tcbot listens on, the secrets
// the config names in the environment, one serve, workers for configured
// targets, resources, a non-root user and a grace period long enough to
// drain.
func TestK8sTcbotPods(t *testing.T) {
	m := loadManifests(t)
	cfg := loadClusterConfig(t, m)
	targets := map[string]bool{}
	for _, tg := range cfg.Targets {
		targets[tg.Name] = true
	}
	uid := containerfileUID(t)
	roles := map[string]int{}
	for _, tc := range tcbotContainers(t, m) {
		w, c, args := tc.w, tc.c, tc.args
		where := fmt.Sprintf("%s: container %s", w, c.Name)
		if args == nil {
			if len(c.Args) > 0 {
				roles[c.Args[0]]++ // reported by tcbotContainers
			}
			continue
		}
		role := strings.Join(args.command, " ")
		roles[role]++

		// The config comes from the ConfigMap.
		cfgPath := args.flags["config"]
		if cfgPath == "" {
			t.Errorf("%s: no --config", where)
		} else if !configMounted(m, w.pod.Spec, c, cfgPath) {
			t.Errorf("%s: --config %s is not a key of ConfigMap %s mounted there", where, cfgPath, k8sConfigMap)
		}

		// Probes: /healthz on the port this process listens on.
		listen := cfg.Listen
		if role == "worker" {
			listen = args.flags["listen"]
		}
		wantPort, err := portOf(listen)
		if err != nil {
			t.Errorf("%s: cannot tell its listen port from %q: %v", where, listen, err)
		}
		if host, _, _ := net.SplitHostPort(listen); host == "127.0.0.1" || host == "localhost" {
			t.Errorf("%s: listens on %s, which probes and Services cannot reach", where, listen)
		}
		if c.LivenessProbe == nil {
			t.Errorf("%s: no livenessProbe", where)
		}
		if role == "serve" && c.ReadinessProbe == nil {
			t.Errorf("%s: no readinessProbe (the Service must not route webhooks to a pod that is not up)", where)
		}
		for name, p := range map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
			if p == nil {
				continue
			}
			if p.HTTPGet == nil {
				t.Errorf("%s: %s is not an httpGet probe", where, name)
				continue
			}
			if !slices.Contains(probePaths, p.HTTPGet.Path) {
				t.Errorf("%s: %s path %q: tcbot serves %v", where, name, p.HTTPGet.Path, probePaths)
			}
			port := p.HTTPGet.Port.String()
			found := false
			for _, cp := range c.Ports {
				if cp.Name == port || strconv.Itoa(int(cp.ContainerPort)) == port {
					found = true
					if cp.ContainerPort != wantPort {
						t.Errorf("%s: %s port %s is %d, but tcbot listens on %s", where, name, port, cp.ContainerPort, listen)
					}
				}
			}
			if !found {
				t.Errorf("%s: %s port %s is not a container port", where, name, port)
			}
		}

		// Secrets the config names reach the environment.
		env := map[string]bool{}
		for _, e := range c.Env {
			env[e.Name] = true
		}
		var need []string
		if strings.HasPrefix(cfg.Database, "postgres://") {
			need = append(need, "PGPASSWORD")
		}
		if role == "serve" && cfg.GitHub != nil {
			need = append(need, cfg.GitHub.TokenEnv, cfg.GitHub.WebhookSecretEnv)
		}
		for _, n := range need {
			if !env[n] {
				t.Errorf("%s: the config needs %s in the environment", where, n)
			}
		}

		switch role {
		case "serve":
			if w.replicas != 1 {
				t.Errorf("%s: %d replicas; serve runs pollers and sweeps, so exactly one", w, w.replicas)
			}
			if args.flags["targets"] != "none" {
				t.Errorf("%s: serve with PostgreSQL leaves measuring to the workers: give --targets none", where)
			}
		case "worker":
			if w.kind != "Deployment" && w.kind != "StatefulSet" {
				t.Errorf("%s: workers must be a scalable set", w)
			}
			ts := strings.Split(args.flags["targets"], ",")
			if args.flags["targets"] == "" {
				t.Errorf("%s: a worker needs --targets", where)
			}
			for _, tg := range ts {
				if !targets[tg] {
					t.Errorf("%s: --targets names %q, which ConfigMap %s does not configure", where, tg, k8sConfigMap)
				}
			}
			if cfg.Jobs > 0 {
				if cpu := c.Resources.Requests.Cpu(); cpu.MilliValue() < int64(cfg.Jobs)*1000 {
					t.Errorf("%s: requests %s CPU for jobs: %d builds and emulators at once", where, cpu, cfg.Jobs)
				}
			}
		default:
			t.Errorf("%s: runs tcbot %s; want serve or worker", where, role)
		}

		// Resources.
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("%s: set CPU and memory requests", where)
		}
		if c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: set a memory limit", where)
		}

		// Non-root, as the image's user.
		psc := w.pod.Spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Errorf("%s: set securityContext.runAsNonRoot", w)
		}
		if psc != nil && psc.RunAsUser != nil && *psc.RunAsUser != uid {
			t.Errorf("%s: runAsUser %d, but the image's user is %d", w, *psc.RunAsUser, uid)
		}
		if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: set allowPrivilegeEscalation: false", where)
		}

		// Drain: the pod gets longer than --drain, and minutes at least.
		grace := time.Duration(deref(w.pod.Spec.TerminationGracePeriodSeconds, 30)) * time.Second
		if grace < minDrainGrace {
			t.Errorf("%s: terminationGracePeriodSeconds %v is too short to drain a running measurement (want >= %v)", w, grace, minDrainGrace)
		}
		if d := args.drain(); d > 0 && grace < d+15*time.Second {
			t.Errorf("%s: terminationGracePeriodSeconds %v leaves no room after --drain %v", w, grace, d)
		}
	}
	if roles["serve"] != 1 {
		t.Errorf("want exactly one serve container, found %d", roles["serve"])
	}
	if roles["worker"] == 0 {
		t.Error("no worker")
	}

	// The image has no native compiler: the plugin must be the prebuilt one.
	if want := containerfilePlugin(t); cfg.Plugin != want {
		t.Errorf("ConfigMap %s: plugin: %q, want the image's %s", k8sConfigMap, cfg.Plugin, want)
	}
}

// configMounted tells whether path is a file of the tcbot ConfigMap
// mounted into container c.
func configMounted(m *manifests, spec corev1.PodSpec, c corev1.Container, file string) bool {
	for _, vm := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil || v.ConfigMap.Name != k8sConfigMap {
				continue
			}
			cm := m.configMap(v.ConfigMap.Name)
			if cm == nil {
				continue
			}
			if vm.SubPath != "" {
				if vm.MountPath == file {
					_, ok := cm.Data[vm.SubPath]
					return ok
				}
				continue
			}
			rel, ok := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
			if !ok {
				continue
			}
			if len(v.ConfigMap.Items) == 0 {
				_, ok := cm.Data[rel]
				return ok && rel == path.Base(rel)
			}
			for _, it := range v.ConfigMap.Items {
				if it.Path == rel {
					_, ok := cm.Data[it.Key]
					return ok
				}
			}
		}
	}
	return false
}

// TestK8sExampleSecretsArePlaceholders: the Secret example holds no real
// secret.
func TestK8sExampleSecretsArePlaceholders(t *testing.T) {
	m := loadManifests(t)
	for _, o := range m.objs {
		s, ok := o.obj.(*corev1.Secret)
		if !ok {
			continue
		}
		if !strings.HasSuffix(o.file, ".example") {
			t.Errorf("%s: Secret %s in a file kubectl applies; keep Secrets in *.yaml.example and create them from real values", o.file, s.Name)
		}
		if len(s.Data) > 0 {
			t.Errorf("%s: Secret %s has data; use stringData placeholders", o.file, s.Name)
		}
		for k, v := range s.StringData {
			if v != "REPLACE-ME" {
				t.Errorf("%s: Secret %s key %s holds a value; the example must hold REPLACE-ME", o.file, s.Name, k)
			}
		}
	}
}
