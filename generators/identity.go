package generators

// Azure Workload Identity's webhook mounts the federated token only into
// pods labelled azure.workload.identity/use: "true"; the client-id
// annotation on the ServiceAccount alone does nothing
// (azure.github.io/azure-workload-identity, "Quick Start" and "Service
// Account Labels and Annotations"). IRSA (eks.amazonaws.com/role-arn) and
// GKE Workload Identity (iam.gke.io/gcp-service-account) need only the
// ServiceAccount's annotation.
const (
	azureClientID = "azure.workload.identity/client-id"
	azureUse      = "azure.workload.identity/use"
)

// CloudIdentityPodLabels are the pod labels that the cloud identity in a
// ServiceAccount's annotations needs to reach the pods.
func CloudIdentityPodLabels(saAnnotations map[string]string) map[string]string {
	if _, ok := saAnnotations[azureClientID]; ok {
		return map[string]string{azureUse: "true"}
	}
	return nil
}

// WithLabels is labels plus extra (extra wins), nil when both are empty.
func WithLabels(labels, extra map[string]string) map[string]string {
	if len(labels)+len(extra) == 0 {
		return nil
	}
	out := make(map[string]string, len(labels)+len(extra))
	for k, v := range labels {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
