// Package analysis computes, from the validated model alone, what the
// rendered system promises about failures: for every Milvus component and
// every member set of a managed dependency, how many pods can share one node
// or one zone at worst, whether it keeps serving (or keeps quorum) when one
// node or one zone is lost, and whether the pods' requests fit the nodes.
//
// Everything here is a guarantee, not a forecast: where the scheduler is
// free to choose (preferred anti-affinity, ScheduleAnyway spreading), the
// worst placement it may pick is assumed. The simulated cluster
// (internal/simcluster) measures the same quantities on the real scheduler;
// its tests hold the observations to these bounds.
package analysis

import (
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// Workload is one set of interchangeable pods: a Milvus component's
// Deployment or a managed dependency's StatefulSet (or Deployment).
type Workload struct {
	// Name is how tables and errors call it: "queryNode", "etcd",
	// "pulsar zookeeper".
	Name string `json:"name"`
	// Field is the spec path a user changes to fix it.
	Field string `json:"field"`
	// Dependency is "" for Milvus, else "etcd", "minio", "pulsar", "kafka".
	Dependency string `json:"dependency,omitempty"`
	// Controller is Deployment or StatefulSet.
	Controller string `json:"controller"`
	Replicas   int    `json:"replicas"`
	// Selector matches the workload's pods (the labels its chart sets).
	Selector map[string]string `json:"selector"`
	// HardHostSpread: required anti-affinity on the hostname label, at most
	// one pod per node.
	HardHostSpread bool `json:"hardHostSpread"`
	// ZoneSpread is the zone topology spread constraint's
	// whenUnsatisfiable ("" when there is none).
	ZoneSpread string `json:"zoneSpread,omitempty"`
	// Stateful members keep their volumes; a volume lives in one zone
	// (EBS, Persistent Disk and Azure Disk are zonal), so a member lost
	// with its zone cannot come back elsewhere.
	Stateful bool `json:"stateful"`
	// Quorum is the number of ready pods the workload needs to work: a
	// majority for consensus systems, the write quorum for MinIO and
	// BookKeeper, min.insync.replicas for Kafka, 1 for stateless pods.
	Quorum int `json:"quorum"`
	// QuorumRule says where Quorum comes from.
	QuorumRule string `json:"quorumRule"`
	// Budget is the number of ready pods the workload's PodDisruptionBudget
	// keeps through a drain (0 without one).
	Budget int `json:"budget"`
	// Requests of one pod (zero when unknown).
	Requests model.Quantities `json:"requests"`
}

// Workloads lists what the environment runs, Milvus components first (in
// name order), then the managed dependencies.
func Workloads(env *model.Environment) []Workload {
	var out []Workload
	// What the chart renders in this commit: an upgrade from 2.5 starts
	// the streaming nodes in a later phase (package upgrade).
	for _, key := range upgrade.Running(env) {
		c := env.Components[key]
		if c.Replicas == 0 {
			continue
		}
		w := Workload{
			Name:           key,
			Field:          "components." + key,
			Controller:     "Deployment",
			Replicas:       int(c.Replicas),
			Selector:       env.PodLabels(key),
			HardHostSpread: c.AntiAffinity == "required",
			Quorum:         1,
			QuorumRule:     "one pod serves",
		}
		// generators/helmvalues spreads over zones from two on (maxSkew 1,
		// nodeTaintsPolicy Honor).
		if len(env.Topology.Zones) > 1 {
			w.ZoneSpread = env.Topology.ZoneSpread
		}
		if env.Availability.PodDisruptionBudgets {
			w.Budget = max(0, w.Replicas-int(env.Availability.MaxUnavailable))
		}
		if c.Resources != nil {
			w.Requests = c.Resources.Requests
		}
		out = append(out, w)
	}
	return append(out, dependencyWorkloads(env)...)
}

// majority is the quorum of a consensus group of n members.
func majority(n int) int { return n/2 + 1 }

func dependencyWorkloads(env *model.Environment) []Workload {
	var out []Workload
	defer func() {
		// generators/dependencies spreads the member sets over two or more
		// zones (DoNotSchedule): etcd and Kafka through their charts'
		// values, MinIO and Pulsar through patches (a Flux post-renderer,
		// or the kustomization an Argo CD Application renders the chart
		// through).
		if len(env.Topology.Zones) < 2 {
			return
		}
		for i := range out {
			out[i].ZoneSpread = "DoNotSchedule"
		}
	}()
	// The dependency charts spread members with required anti-affinity on
	// the hostname in production and preferred otherwise
	// (generators/dependencies.antiAffinity).
	hard := env.Production
	deps := env.Dependencies
	if m := deps.Etcd.Managed; deps.Etcd.Mode == "managed" && m != nil {
		r := int(m.Replicas)
		w := Workload{
			Name: "etcd", Field: "dependencies.etcd.managed.replicas", Dependency: "etcd",
			Controller: "StatefulSet", Replicas: r, HardHostSpread: hard, Stateful: true,
			Selector: env.DependencyPodLabels("etcd", ""),
			Quorum:   majority(r), QuorumRule: "majority of members",
			// pdb.minAvailable "51%" of the members, rounded up.
			Budget: (r*51 + 99) / 100,
		}
		if m.Resources != nil {
			w.Requests = m.Resources.Requests
		}
		out = append(out, w)
	}
	if m := deps.ObjectStorage.Managed; deps.ObjectStorage.Mode == "managed" && m != nil {
		out = append(out, minioWorkload(env, m, hard))
	}
	if m := deps.MessageQueue.Managed; deps.MessageQueue.Mode == "managed" && m != nil {
		switch deps.MessageQueue.Type {
		case "pulsar":
			out = append(out, pulsarWorkloads(env, m, hard)...)
		case "kafka":
			out = append(out, kafkaWorkloads(env, m, hard)...)
		}
	}
	return out
}

// minioWorkload: distributed MinIO from 4 servers (one drive each), a
// single standalone server below that.
func minioWorkload(env *model.Environment, m *model.ManagedMinio, hard bool) Workload {
	r := int(m.Replicas)
	w := Workload{
		Name: "minio", Field: "dependencies.objectStorage.managed.replicas", Dependency: "minio",
		Controller: "StatefulSet", Replicas: r, HardHostSpread: hard, Stateful: true,
		Selector: env.DependencyPodLabels("minio", ""),
		Budget:   max(0, r-1),
	}
	if m.Resources != nil {
		w.Requests = m.Resources.Requests
	}
	if r < 4 {
		// The chart's standalone mode (generators/dependencies: fewer than
		// 4 servers) is one Deployment pod whatever the replica count
		// (minio chart 8.0.17, templates/deployment.yaml).
		w.Controller, w.Replicas, w.Budget = "Deployment", 1, 0
		w.Quorum, w.QuorumRule = 1, "standalone"
		return w
	}
	w.Quorum, w.QuorumRule = r-minioTolerates(r), "write quorum of its erasure set"
	return w
}

// minioTolerates is how many servers (one drive each) a distributed MinIO
// can lose in the worst case and still take writes. MinIO splits the drives
// into erasure sets of equal size between 4 and 16, the largest that
// divides the drive count (cmd/endpoint-ellipses.go, getSetIndexes); the
// default parity of a set is 2 for 4-5 drives, 3 for 6-7 and 4 for 8-16
// (cmd/format-erasure.go, ecDrivesNoConfig). A set writes with
// drives - parity drives, or parity + 1 when parity is half the set; the
// worst case puts every lost server into one set.
func minioTolerates(drives int) int {
	set := 0
	for s := 16; s >= 4; s-- {
		if drives%s == 0 {
			set = s
			break
		}
	}
	if set == 0 {
		return 0 // not a valid distributed layout: nothing is tolerated
	}
	parity := 4
	switch {
	case set <= 5:
		parity = 2
	case set <= 7:
		parity = 3
	}
	if parity*2 == set {
		return parity - 1
	}
	return parity
}

// pulsarRequests are the Apache Pulsar chart's default requests (the
// overlay sets none): milvus-5.0.19.tgz, milvus/charts/pulsar/values.yaml,
// zookeeper.resources, bookkeeper.resources, broker.resources,
// proxy.resources.
var pulsarRequests = map[string]model.Quantities{
	"zookeeper": {CPU: 0.1, Memory: 256 << 20},
	"bookie":    {CPU: 0.2, Memory: 512 << 20},
	"broker":    {CPU: 0.2, Memory: 512 << 20},
	"proxy":     {CPU: 0.2, Memory: 128 << 20},
}

func pulsarWorkloads(env *model.Environment, m *model.ManagedQueue, hard bool) []Workload {
	sel := func(component string) map[string]string { return env.DependencyPodLabels("pulsar", component) }
	field := "dependencies.messageQueue.managed."
	zk, bk := int(m.Zookeeper.Replicas), int(m.Bookkeeper.Replicas)
	broker, proxy := int(m.Broker.Replicas), int(m.Proxy.Replicas)
	return []Workload{
		{Name: "pulsar zookeeper", Field: field + "zookeeper.replicas", Dependency: "pulsar", Controller: "StatefulSet",
			Replicas: zk, Selector: sel("zookeeper"), HardHostSpread: hard, Stateful: true,
			Quorum: majority(zk), QuorumRule: "majority of the ensemble", Budget: max(0, zk-1), Requests: pulsarRequests["zookeeper"]},
		// A ledger is written to an ensemble of E bookies: fewer writable
		// bookies than E and no new ledger can open, so writes stop.
		{Name: "pulsar bookkeeper", Field: field + "bookkeeper.replicas", Dependency: "pulsar", Controller: "StatefulSet",
			Replicas: bk, Selector: sel("bookie"), HardHostSpread: hard, Stateful: true,
			Quorum: int(m.Ledgers.EnsembleSize), QuorumRule: "ledger ensemble size", Budget: max(0, bk-1), Requests: pulsarRequests["bookie"]},
		{Name: "pulsar broker", Field: field + "broker.replicas", Dependency: "pulsar", Controller: "StatefulSet",
			Replicas: broker, Selector: sel("broker"), HardHostSpread: hard,
			Quorum: 1, QuorumRule: "one broker serves", Budget: max(0, broker-1), Requests: pulsarRequests["broker"]},
		{Name: "pulsar proxy", Field: field + "proxy.replicas", Dependency: "pulsar", Controller: "StatefulSet",
			Replicas: proxy, Selector: sel("proxy"), HardHostSpread: hard,
			Quorum: 1, QuorumRule: "one proxy serves", Budget: max(0, proxy-1), Requests: pulsarRequests["proxy"]},
	}
}

func kafkaWorkloads(env *model.Environment, m *model.ManagedQueue, hard bool) []Workload {
	field := "dependencies.messageQueue.managed."
	zk, brokers := int(m.Zookeeper.Replicas), int(m.Broker.Replicas)
	w := []Workload{
		// With acks=all a partition takes writes while min.insync.replicas
		// of its replication-factor replicas are in sync. In the worst
		// case every lost broker holds a replica of the same partition, so
		// only RF - minISR brokers may be lost.
		{Name: "kafka broker", Field: field + "broker.replicas", Dependency: "kafka", Controller: "StatefulSet",
			Replicas: brokers, HardHostSpread: hard, Stateful: true,
			Selector: env.DependencyPodLabels("kafka", "kafka"),
			Quorum:   brokers - int(m.ReplicationFactor-m.MinInsyncReplicas), QuorumRule: "replication factor - min.insync.replicas may be lost", Budget: max(0, brokers-1)},
		{Name: "kafka zookeeper", Field: field + "zookeeper.replicas", Dependency: "kafka", Controller: "StatefulSet",
			Replicas: zk, HardHostSpread: hard, Stateful: true,
			Selector: env.DependencyPodLabels("kafka", "zookeeper"),
			Quorum:   majority(zk), QuorumRule: "majority of the ensemble", Budget: max(0, zk-1)},
	}
	if m.Broker.Resources != nil {
		w[0].Requests = m.Broker.Resources.Requests
	}
	return w
}
