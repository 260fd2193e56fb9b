// Package schema embeds the CUE definitions of the environment spec.
package schema

import "embed"

// FS holds the schema's *.cue files.
//
//go:embed *.cue
var FS embed.FS
