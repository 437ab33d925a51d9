package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/otel-evidence/otel-evidence/deploy/internal/image"
	"github.com/otel-evidence/otel-evidence/deploy/internal/testrig"
)

// newObject returns an empty object of the k8s.io/api type for apiVersion
// and kind; the base uses no other kinds.
func newObject(t *testing.T, apiVersion, kind string) any {
	t.Helper()
	switch apiVersion + "/" + kind {
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	}
	t.Fatalf("no k8s.io/api type registered for %s %s", apiVersion, kind)
	return nil
}

// decodeStrict decodes every document of a multi-document YAML stream into
// its k8s.io/api type; an unknown or duplicated field fails.
func decodeStrict(t *testing.T, source string, stream []byte) []any {
	t.Helper()
	var objs []any
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(stream), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		require.NoErrorf(t, yaml.Unmarshal([]byte(doc), &tm), "%s document %d", source, i)
		obj := newObject(t, tm.APIVersion, tm.Kind)
		require.NoErrorf(t, yaml.UnmarshalStrict([]byte(doc), obj), "%s document %d (%s) does not decode strictly", source, i, tm.Kind)
		objs = append(objs, obj)
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// TestStrictDecodingCatchesUnknownFields shows the decoder the other tests
// rely on refuses what the API server would not know.
func TestStrictDecodingCatchesUnknownFields(t *testing.T) {
	bad := []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  selectr: {a: b}\n")
	require.Error(t, yaml.UnmarshalStrict(bad, &corev1.Service{}))
	dup := []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  name: y\n")
	require.Error(t, yaml.UnmarshalStrict(dup, &corev1.Service{}))
}

// TestKubernetesManifestsDecodeStrictly decodes every manifest file of the
// kustomize base.
func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	files, err := filepath.Glob("kubernetes/*.yaml")
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		if base := filepath.Base(f); base == "kustomization.yaml" || base == "config.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		n += len(decodeStrict(t, f, b))
	}
	require.Equal(t, 7, n, "ServiceAccount, StatefulSet, 3 Services, PodDisruptionBudget, NetworkPolicy")
}

// build runs `kustomize build deploy/kubernetes` with kustomize's API.
func build(t *testing.T) []byte {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), "kubernetes")
	require.NoError(t, err)
	out, err := res.AsYaml()
	require.NoError(t, err)
	return out
}

// TestKustomizeBuild checks the rendered base: strict decoding, and that its
// parts refer to each other correctly (what an API server would accept but
// a running pod would not).
func TestKustomizeBuild(t *testing.T) {
	objs := decodeStrict(t, "kustomize build", build(t))
	var (
		sts      *appsv1.StatefulSet
		cm       *corev1.ConfigMap
		services = map[string]*corev1.Service{}
		pdb      *policyv1.PodDisruptionBudget
		np       *networkingv1.NetworkPolicy
		sa       *corev1.ServiceAccount
	)
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.StatefulSet:
			sts = o
		case *corev1.ConfigMap:
			cm = o
		case *corev1.Service:
			services[o.Name] = o
		case *policyv1.PodDisruptionBudget:
			pdb = o
		case *networkingv1.NetworkPolicy:
			np = o
		case *corev1.ServiceAccount:
			sa = o
		}
	}
	require.NotNil(t, sts)
	require.NotNil(t, cm)
	require.NotNil(t, pdb)
	require.NotNil(t, np)
	require.NotNil(t, sa)
	require.Len(t, services, 3)

	pod := sts.Spec.Template
	podLabels := pod.Labels
	matches := func(sel map[string]string) bool {
		for k, v := range sel {
			if podLabels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	require.True(t, matches(sts.Spec.Selector.MatchLabels), "StatefulSet selector")
	require.True(t, matches(pdb.Spec.Selector.MatchLabels), "PodDisruptionBudget selector")
	require.True(t, matches(np.Spec.PodSelector.MatchLabels), "NetworkPolicy podSelector")
	require.Contains(t, services, sts.Spec.ServiceName, "the StatefulSet's governing Service")
	require.Equal(t, corev1.ClusterIPNone, services[sts.Spec.ServiceName].Spec.ClusterIP)
	require.Equal(t, sa.Name, pod.Spec.ServiceAccountName)

	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]
	require.Equal(t, "otel-evidence/otelcol-evidence:"+version(t), c.Image, "kustomize images: the release's image and tag")
	require.Equal(t, []string{"--config=/etc/otelcol-evidence/config.yaml", image.ComponentStatusGate}, c.Args,
		"health_check reports the components' status only with the gate")
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	require.Equal(t, map[string]int32{"otlp-grpc": 4317, "otlp-http": 4318, "webhook": 8088, "health": 13133, "metrics": 8888}, ports)
	for name, svc := range services {
		require.Truef(t, matches(svc.Spec.Selector), "Service %s selector", name)
		for _, p := range svc.Spec.Ports {
			require.Containsf(t, ports, p.TargetPort.StrVal, "Service %s targets a container port by name", name)
		}
	}
	for _, probe := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		require.NotNil(t, probe)
		require.Equal(t, "health", probe.HTTPGet.Port.StrVal, "probes on health_check")
		require.Equal(t, intakeProbePath, probe.HTTPGet.Path, "probes ask for the intake, which a store outage leaves healthy")
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	require.Equal(t, "metadata.name", env["OTEL_K8S_POD_NAME"].ValueFrom.FieldRef.FieldPath, "collector_id from the pod name")
	require.Equal(t, "token", env["OTEL_EVIDENCE_WEBHOOK_TOKEN"].ValueFrom.SecretKeyRef.Key, "the webhook token from a Secret")
	require.NotNil(t, c.Resources.Requests.Cpu())
	require.False(t, c.Resources.Requests.Memory().IsZero())

	// Volumes: the ConfigMap (by its generated name) at the config path,
	// the claim template at the state directory.
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	require.Equal(t, "/etc/otelcol-evidence", mounts["config"])
	require.Equal(t, "/var/lib/otelcol-evidence", mounts["state"])
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	require.Equal(t, "state", sts.Spec.VolumeClaimTemplates[0].Name)
	require.Equal(t, cm.Name, pod.Spec.Volumes[0].ConfigMap.Name, "the StatefulSet mounts the generated ConfigMap")
	require.Contains(t, cm.Data, "config.yaml")

	sc := pod.Spec.SecurityContext
	require.EqualValues(t, 10001, *sc.RunAsUser)
	require.True(t, *sc.RunAsNonRoot)
	require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)

	// The webhook port is open only to labelled clients; nothing else
	// admits it.
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port.IntValue() != 8088 {
				continue
			}
			require.Len(t, rule.From, 1)
			require.Equal(t, map[string]string{"otel-evidence/webhook-client": "true"}, rule.From[0].PodSelector.MatchLabels)
		}
	}
}

// TestConfigsValidate runs `otelcol-evidence validate` on the image's and
// packages' config, the ConfigMap's (from kustomize build) and the Helm
// values' alternateConfig.
func TestConfigsValidate(t *testing.T) {
	bin := testrig.Collector(t)
	var cm *corev1.ConfigMap
	for _, o := range decodeStrict(t, "kustomize build", build(t)) {
		if c, ok := o.(*corev1.ConfigMap); ok {
			cm = c
		}
	}
	require.NotNil(t, cm)
	configs := map[string][]byte{
		"deploy/config.yaml":     read(t, "config.yaml"),
		"ConfigMap config.yaml":  []byte(cm.Data["config.yaml"]),
		"helm alternateConfig":   helmConfig(t),
		"kubernetes/config.yaml": read(t, "kubernetes/config.yaml"),
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, cfg, 0o600))
			cmd := exec.Command(bin, "validate", "--config="+path, image.ComponentStatusGate)
			cmd.Env = append(os.Environ(), "OTEL_EVIDENCE_WEBHOOK_TOKEN=t0ken", "OTEL_K8S_POD_NAME=otelcol-evidence-0")
			out, err := cmd.CombinedOutput()
			require.NoErrorf(t, err, "otelcol-evidence validate:\n%s", out)

			// Without the gate, health_check refuses its component
			// status settings: every start command must set it.
			cmd = exec.Command(bin, "validate", "--config="+path)
			cmd.Env = append(os.Environ(), "OTEL_EVIDENCE_WEBHOOK_TOKEN=t0ken", "OTEL_K8S_POD_NAME=otelcol-evidence-0")
			out, err = cmd.CombinedOutput()
			require.Error(t, err)
			require.Contains(t, string(out), "extension.healthcheck.useComponentStatus")

			// Without the token the collector refuses to start, naming it.
			cmd = exec.Command(bin, "validate", "--config="+path, image.ComponentStatusGate)
			cmd.Env = append(os.Environ(), "OTEL_EVIDENCE_WEBHOOK_TOKEN=", "OTEL_K8S_POD_NAME=otelcol-evidence-0")
			out, err = cmd.CombinedOutput()
			require.Error(t, err)
			require.Contains(t, string(out), "bearertokenauth/webhook")
		})
	}
}

// TestConfigsAgree keeps the three production configurations from drifting:
// Kubernetes' is the image's plus collector_id from the pod name, and the
// Helm values carry Kubernetes' unchanged.
func TestConfigsAgree(t *testing.T) {
	image := yamlMap(t, read(t, "config.yaml"))
	k8s := yamlMap(t, read(t, "kubernetes/config.yaml"))
	helm := yamlMap(t, helmConfig(t))
	require.Equal(t, k8s, helm)
	incidents := k8s["extensions"].(map[string]any)["incidents"].(map[string]any)
	require.Equal(t, "${env:OTEL_K8S_POD_NAME}", incidents["collector_id"])
	delete(incidents, "collector_id")
	require.Equal(t, image, k8s)

	// Every path is absolute, under the state directory.
	for _, m := range regexp.MustCompile(`(?m)directory: (\S+)`).FindAllStringSubmatch(string(read(t, "config.yaml")), -1) {
		require.Truef(t, strings.HasPrefix(m[1], "/var/lib/otelcol-evidence/"), "directory %s", m[1])
	}
}

// TestHelmValues checks the values against what deploy/kubernetes sets:
// the NetworkPolicy (an extra manifest, rendered here with the chart's
// names filled in) decodes strictly and admits the same peers.
func TestHelmValues(t *testing.T) {
	var values struct {
		Mode           string           `json:"mode"`
		Image          map[string]any   `json:"image"`
		Command        map[string]any   `json:"command"`
		StartupProbe   helmProbe        `json:"startupProbe"`
		LivenessProbe  helmProbe        `json:"livenessProbe"`
		ReadinessProbe helmProbe        `json:"readinessProbe"`
		ExtraManifests []map[string]any `json:"extraManifests"`
	}
	require.NoError(t, yaml.Unmarshal(read(t, "helm/values.yaml"), &values))
	require.Equal(t, "statefulset", values.Mode)
	require.Equal(t, "otel-evidence/otelcol-evidence", values.Image["repository"])
	require.Equal(t, version(t), values.Image["tag"])
	require.Equal(t, "otelcol-evidence", values.Command["name"], "the chart starts /<command.name>, where the image has the binary")
	require.Equal(t, []any{image.ComponentStatusGate}, values.Command["extraArgs"], "health_check reports the components' status only with the gate")
	for name, p := range map[string]helmProbe{"startupProbe": values.StartupProbe, "livenessProbe": values.LivenessProbe, "readinessProbe": values.ReadinessProbe} {
		require.Equalf(t, intakeProbePath, p.HTTPGet.Path, "%s asks for the intake", name)
	}
	require.Len(t, values.ExtraManifests, 1)
	b, err := yaml.Marshal(values.ExtraManifests[0])
	require.NoError(t, err)
	rendered := strings.NewReplacer(
		`{{ include "opentelemetry-collector.fullname" . }}`, "otel-evidence-opentelemetry-collector",
		`{{ include "opentelemetry-collector.name" . }}`, "opentelemetry-collector",
		`{{ .Release.Name }}`, "otel-evidence",
	).Replace(string(b))
	require.NotContains(t, rendered, "{{")
	helmNP := decodeStrict(t, "helm extraManifests", []byte(rendered))[0].(*networkingv1.NetworkPolicy)
	baseNP := decodeStrict(t, "networkpolicy.yaml", read(t, "kubernetes/networkpolicy.yaml"))[0].(*networkingv1.NetworkPolicy)
	require.True(t, reflect.DeepEqual(baseNP.Spec.Ingress, helmNP.Spec.Ingress), "the Helm NetworkPolicy admits what the kustomize base admits")
}

// helmProbe is what TestHelmValues reads of a probe in the values.
type helmProbe struct {
	HTTPGet struct {
		Path string `json:"path"`
	} `json:"httpGet"`
}

// intakeProbePath is the health_check status of the traces pipeline: the
// intake, without the extensions (the incidents extension reports a store
// that refuses writes), so that a store outage neither restarts the pod nor
// takes it out of its Services while it keeps taking telemetry and webhooks.
const intakeProbePath = "/?pipeline=traces"

// TestStartCommandsSetTheHealthGate: every production start of the
// collector (systemd unit, image, Kubernetes, Helm) sets the health_check
// gate its configuration needs.
func TestStartCommandsSetTheHealthGate(t *testing.T) {
	unit := string(read(t, "packaging/otelcol-evidence.service"))
	m := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindAllStringSubmatch(unit, -1)
	require.Len(t, m, 1)
	require.Equal(t, []string{"/usr/bin/otelcol-evidence", "--config=/etc/otelcol-evidence/config.yaml", image.ComponentStatusGate}, strings.Fields(m[0][1]))
	require.Equal(t, []string{"--config=" + image.ConfigFile, image.ComponentStatusGate}, image.Cmd, "the image's default command")
}

func helmConfig(t *testing.T) []byte {
	t.Helper()
	var values struct {
		AlternateConfig map[string]any `json:"alternateConfig"`
	}
	require.NoError(t, yaml.Unmarshal(read(t, "helm/values.yaml"), &values))
	require.NotEmpty(t, values.AlternateConfig)
	b, err := yaml.Marshal(values.AlternateConfig)
	require.NoError(t, err)
	return b
}

func yamlMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(b, &m))
	return m
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// version is builder-config.yaml's dist.version.
func version(t *testing.T) string {
	t.Helper()
	var bc struct {
		Dist struct {
			Version string `json:"version"`
		} `json:"dist"`
	}
	require.NoError(t, yaml.Unmarshal(read(t, filepath.Join(testrig.RepoRoot(t), "builder-config.yaml")), &bc))
	return strings.TrimPrefix(bc.Dist.Version, "v")
}

// TestReadmeNamesTheReleaseVersion: the README's builder lines name the
// version the tag scheme produces (v + builder-config.yaml's dist.version).
func TestReadmeNamesTheReleaseVersion(t *testing.T) {
	readme := string(read(t, filepath.Join(testrig.RepoRoot(t), "README.md")))
	ours := regexp.MustCompile(`gomod: github\.com/otel-evidence/otel-evidence\S* (\S+)`)
	lines := ours.FindAllStringSubmatch(readme, -1)
	components := ours.FindAllString(string(read(t, filepath.Join(testrig.RepoRoot(t), "builder-config.yaml"))), -1)
	require.NotEmpty(t, components)
	require.Len(t, lines, len(components), "one builder line per component of builder-config.yaml")
	for _, l := range lines {
		require.Equalf(t, "v"+version(t), l[1], "builder line %q", l[0])
	}
}
