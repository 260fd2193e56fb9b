package simcluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Provisioner is the provisioner name of the simulated StorageClasses.
const Provisioner = "sim.milvusgen.io/zonal"

// selectedNode is the annotation the scheduler sets on a claim of a
// WaitForFirstConsumer class once it has picked a node for its pod.
const selectedNode = "volume.kubernetes.io/selected-node"

// StorageClasses creates WaitForFirstConsumer classes served by the
// simulated provisioner; the first is the default class.
func (c *Cluster) StorageClasses(ctx context.Context, names ...string) error {
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	for i, n := range names {
		sc := &storagev1.StorageClass{
			ObjectMeta:        metav1.ObjectMeta{Name: n},
			Provisioner:       Provisioner,
			VolumeBindingMode: &wait,
		}
		if i == 0 {
			sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
		}
		if _, err := c.Client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("storage class %s: %w", n, err)
		}
	}
	return nil
}

// provision creates a PersistentVolume for every claim that the scheduler
// has placed, pre-bound to it and pinned to the zone of the chosen node
// (or the node itself when it has no zone). The persistent-volume
// controller then binds the pair and the scheduler binds the pod.
func (c *Cluster) provision(ctx context.Context) {
	for ctx.Err() == nil {
		claims, err := c.Client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range claims.Items {
				pvc := &claims.Items[i]
				node := pvc.Annotations[selectedNode]
				if pvc.Status.Phase != corev1.ClaimPending || node == "" || pvc.Spec.VolumeName != "" {
					continue
				}
				if err := c.provisionOne(ctx, pvc, node); err != nil && ctx.Err() == nil {
					c.provisionErr.Store(fmt.Sprintf("claim %s/%s: %v", pvc.Namespace, pvc.Name, err))
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) provisionOne(ctx context.Context, pvc *corev1.PersistentVolumeClaim, nodeName string) error {
	node, err := c.Client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	key, value := "kubernetes.io/hostname", nodeName
	if z := node.Labels["topology.kubernetes.io/zone"]; z != "" {
		key, value = "topology.kubernetes.io/zone", z
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if size.IsZero() {
		size = resource.MustParse("1Gi")
	}
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "pv-" + string(pvc.UID),
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": Provisioner},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              class,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				// Never mounted (no kubelet): a host path needs no attach
				// controller, unlike a CSI source.
				HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/simcluster/" + string(pvc.UID)},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value},
				}}}},
			}},
		},
	}
	_, err = c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func parseQuantity(s string) (resource.Quantity, error) { return resource.ParseQuantity(s) }

// ProvisionError is the last error of the volume provisioner, or "".
func (c *Cluster) ProvisionError() string {
	if v, ok := c.provisionErr.Load().(string); ok {
		return v
	}
	return ""
}
