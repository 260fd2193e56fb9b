package render

// FastStream is Stream's path without kustomize, for tests that must know
// it was taken.
var FastStream = stream
