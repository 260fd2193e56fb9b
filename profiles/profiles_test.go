package profiles

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	m2, _ := Milvus("2.6")
	m3, _ := Milvus("3.0")
	vols := []string{"/var/lib/milvus", "/tmp"}
	for _, tc := range []struct {
		name string
		p    Profile
		id   Identity
		want string // "" passes
	}{
		{"2.x: UID/GID 1000 cannot exec", m2, Identity{UID: 1000, GID: 1000, Groups: []int64{1000}, Mounts: vols}, "cannot execute it"},
		{"2.x: supplementary group 0 runs", m2, Identity{UID: 1000, GID: 1000, Groups: []int64{0}, Mounts: vols}, ""},
		{"2.x: runAsGroup 0 runs", m2, Identity{UID: 4242, GID: 0, Mounts: vols}, ""},
		{"2.x: non-root without a data volume", m2, Identity{UID: 1000, GID: 0}, "/var/lib/milvus"},
		{"2.x: root writes anywhere", m2, Identity{}, ""},
		{"2.x: read-only root needs /tmp", m2, Identity{UID: 1000, GID: 0, Mounts: vols[:1], ReadOnlyRoot: true}, "/tmp"},
		{"3.x: group 0 no longer helps", m3, Identity{UID: 1000, GID: 0, Mounts: vols}, "run as UID 999 or in group 999"},
		{"3.x: 999 runs without volumes", m3, Identity{UID: 999, GID: 999}, ""},
		{"pulsar: no read-only root", Pulsar, Identity{UID: 10000, ReadOnlyRoot: true, Mounts: []string{"/pulsar/conf", "/pulsar/logs"}}, "read-only root filesystem"},
		{"kafka: group 1001 only cannot write its config", Kafka, Identity{UID: 1001, GID: 1001, Mounts: []string{"/bitnami/kafka"}}, "/opt/bitnami/kafka/config"},
		{"kafka: the bitnami default", Kafka, Identity{UID: 1001, GID: 0, Groups: []int64{1001}, Mounts: []string{"/bitnami/kafka"}}, ""},
		{"backup: any UID", Backup, Identity{UID: 65532, GID: 65532, ReadOnlyRoot: true, Mounts: []string{"/tmp"}}, ""},
	} {
		err := tc.p.Check(tc.id)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// TestNonRootIdentitiesRun: the identity each profile recommends runs
// its image once its writes are volumes.
func TestNonRootIdentitiesRun(t *testing.T) {
	m2, _ := Milvus("2.5")
	m3, _ := Milvus("3.0")
	for _, p := range append([]Profile{m2, m3}, Others...) {
		id := p.NonRoot
		if id.UID == 0 {
			t.Errorf("%s: recommends root", p.Name)
		}
		for _, w := range p.Writes {
			if w.Access == Volume {
				id.Mounts = append(id.Mounts, w.Path)
			}
		}
		if err := p.Check(id); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
}
