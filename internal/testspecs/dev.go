// Package testspecs rewrites committed environment specs into the states
// tests walk through. It has no dependencies, so that the compiler's own
// tests and the simulation tests share it.
package testspecs

import (
	"fmt"
	"strings"
)

// DevAt is overlays/dev.cue (src) moved along the 2.5 -> 2.6 upgrade:
// phase -1 is dev as committed (2.5.16, separate coordinators), 0 dev after
// the preparatory commit (2.5.16 with the mixCoordinator), 1 to 5 the
// phases to 2.6.15, 6 dev on 2.6.15 without the upgrade. keepIndexNode
// keeps components.indexNode whatever the phase. An error says which text
// of dev.cue it no longer finds.
func DevAt(src string, phase int, keepIndexNode bool) (string, error) {
	s := src
	var missing []string
	replace := func(old, new string) {
		if !strings.Contains(s, old) {
			missing = append(missing, old)
			return
		}
		s = strings.Replace(s, old, new, 1)
	}
	if phase < 0 {
		return s, nil
	}
	const separate = "\t\trootCoordinator: replicas:  1\n\t\tqueryCoordinator: replicas: 1\n\t\tdataCoordinator: replicas:  1\n"
	replace("\t\tcoordinators: \"separate\"\n", "")
	switch {
	case phase == 0:
		replace(separate, "\t\tmixCoordinator: replicas: 1\n")
	case phase <= 5:
		replace(`version:      "2.5.16"`, fmt.Sprintf("version: \"2.6.15\"\n\t\tupgrade: {from: \"2.5.16\", phase: %d}", phase))
	default:
		replace(`version:      "2.5.16"`, `version: "2.6.15"`)
	}
	if phase > 0 {
		replace(separate, "\t\tmixCoordinator: replicas: 1\n\t\tstreamingNode: replicas: 1\n")
		if phase >= 5 && !keepIndexNode {
			replace("\t\tindexNode: replicas:        1\n", "")
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("overlays/dev.cue no longer has %q: update testspecs.DevAt", missing)
	}
	return s, nil
}
