package verifier

// Version is the verifier's release: the tag `make image` pushes (the
// Makefile reads it from this line) and the default tag of
// verification.image in the schema (schema/operations.cue; a test keeps
// the two equal), so the Job references an image that is built.
const Version = "v0.1.0"
