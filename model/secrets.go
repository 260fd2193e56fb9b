package model

import "sort"

// Secrets says where the referenced Secrets come from: they exist
// already, or ExternalSecrets create them.
type Secrets struct {
	ExternalSecrets *ExternalSecrets `json:"externalSecrets,omitempty"`
}

// ExternalSecrets has the External Secrets Operator create the Secrets.
type ExternalSecrets struct {
	StoreRef struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"storeRef"`
	RefreshInterval string            `json:"refreshInterval"`
	KeyPrefix       string            `json:"keyPrefix"`
	RemoteKeys      map[string]string `json:"remoteKeys"`
}

// SecretKeys lists, for every Secret the environment references, the keys
// it reads, sorted. Every field of the model that names a Secret must be
// listed here: the ExternalSecrets are built from it, and a test checks it
// against every Secret reference in the rendered output.
func (e *Environment) SecretKeys() map[string][]string {
	set := map[string]map[string]bool{}
	add := func(name string, keys ...string) {
		if set[name] == nil {
			set[name] = map[string]bool{}
		}
		for _, k := range keys {
			set[name][k] = true
		}
	}
	ref := func(r SecretKeyRef) { add(r.Name, r.Key) }
	basic := func(b *Basic) {
		if b != nil {
			ref(b.Username)
			ref(b.Password)
		}
	}
	s3 := func(c *S3Credentials) {
		if c != nil {
			ref(c.AccessKeyID)
			ref(c.SecretAccessKey)
		}
	}

	d := e.Dependencies
	basic(d.Etcd.Auth)
	if t := d.Etcd.TLS; t != nil {
		add(t.SecretName, t.CAKey, t.CertKey, t.KeyKey)
	}
	if m := d.Etcd.Managed; m != nil {
		ref(m.RootPassword)
		add(m.JWTKeySecret, "jwt-token.pem")
	}
	s3(d.ObjectStorage.Credentials)
	if m := d.ObjectStorage.Managed; m != nil {
		add(m.RootCredentials.SecretName, "accesskey", "secretkey")
	}
	if p := d.MessageQueue.Pulsar; p != nil && p.Auth != nil {
		ref(p.Auth.Params)
	}
	if k := d.MessageQueue.Kafka; k != nil && k.SASL != nil {
		ref(k.SASL.Username)
		ref(k.SASL.Password)
	}
	if e.Backup.Enabled {
		basic(e.Backup.MilvusCredentials)
		s3(e.Backup.Storage.Credentials)
	}
	if e.Verification.Enabled {
		basic(e.Verification.MilvusCredentials)
	}

	out := map[string][]string{}
	for name, keys := range set {
		for k := range keys {
			out[name] = append(out[name], k)
		}
		sort.Strings(out[name])
	}
	return out
}
