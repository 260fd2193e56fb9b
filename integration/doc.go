// Package integration holds the tests that run the real tools: the helm
// CLI on the official Milvus chart, the stock kustomize CLI, and the
// CRDs' own schemas. See internal/testenv for how the tools are found.
package integration
