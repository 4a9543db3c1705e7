// Package k8s holds no code: deploy/k8s is the kustomize deployment of the
// cloud tier (base/ and overlays/), and this package's test renders every
// kustomization, decodes each object strictly into its Kubernetes API type
// and checks the rules the README states (probes, resources, pinned images,
// only the API exposed, credentials from Secrets, an HPA per part service).
package k8s
