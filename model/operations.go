package model

import "strings"

// SLO are the service level objectives.
type SLO struct {
	SearchP99Ms  float64 `json:"searchP99Ms"`
	InsertP99Ms  float64 `json:"insertP99Ms"`
	ErrorRatio   float64 `json:"errorRatio"`
	Recall       float64 `json:"recall"`
	Availability float64 `json:"availability"`
	SearchQPS    float64 `json:"searchQPS,omitempty"`
}

// Backup is the scheduled milvus-backup.
type Backup struct {
	Enabled bool `json:"enabled"`
	// ServiceAccount of the backup and restore Jobs (cloud identity).
	ServiceAccount struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"serviceAccount"`
	Image                      Image           `json:"image"`
	Schedule                   string          `json:"schedule"`
	TimeZone                   string          `json:"timeZone"`
	Storage                    BackupStorage   `json:"storage"`
	Retention                  BackupRetention `json:"retention"`
	Collections                []string        `json:"collections"`
	Strategy                   string          `json:"strategy"`
	MilvusCredentials          *Basic          `json:"milvusCredentials,omitempty"`
	Resources                  Resources       `json:"resources"`
	StartingDeadlineSeconds    int64           `json:"startingDeadlineSeconds"`
	ActiveDeadlineSeconds      int64           `json:"activeDeadlineSeconds"`
	BackoffLimit               int32           `json:"backoffLimit"`
	SuccessfulJobsHistoryLimit int32           `json:"successfulJobsHistoryLimit"`
	FailedJobsHistoryLimit     int32           `json:"failedJobsHistoryLimit"`
	StaleAfterHours            int             `json:"staleAfterHours"`
	Restore                    BackupRestore   `json:"restore"`
}

// BackupStorage is where backups go; unset fields mean "as Milvus' own".
type BackupStorage struct {
	Bucket      string         `json:"bucket"`
	RootPath    string         `json:"rootPath"`
	Host        *string        `json:"host,omitempty"`
	Port        *int           `json:"port,omitempty"`
	UseSSL      *bool          `json:"useSSL,omitempty"`
	Region      *string        `json:"region,omitempty"`
	UseIAM      *bool          `json:"useIAM,omitempty"`
	Credentials *S3Credentials `json:"credentials,omitempty"`
}

// BackupRetention is how many and how old backups are kept.
type BackupRetention struct {
	KeepLast   int  `json:"keepLast"`
	MaxAgeDays *int `json:"maxAgeDays,omitempty"`
}

// BackupRestore configures the opt-in restore Job.
type BackupRestore struct {
	Suffix string `json:"suffix"`
}

// Monitoring is scraping, alerting and the dashboard.
type Monitoring struct {
	Mode               string            `json:"mode"`
	ScrapeInterval     string            `json:"scrapeInterval"`
	EvaluationInterval string            `json:"evaluationInterval"`
	KubeStateMetrics   string            `json:"kubeStateMetrics"`
	OperatorLabels     map[string]string `json:"operatorLabels"`
	Dashboard          bool              `json:"dashboard"`
	Alerts             Alerts            `json:"alerts"`
}

// Alerts are the alerting knobs that are not SLOs.
type Alerts struct {
	For                string  `json:"for"`
	ConsumerLagSeconds float64 `json:"consumerLagSeconds"`
	RestartsPer30m     int     `json:"restartsPer30m"`
}

// ChartFullname is the name the Milvus chart gives its objects (and its
// Service): the release name when it contains "milvus", else
// "<release>-milvus" (the chart's milvus.fullname helper).
func (e *Environment) ChartFullname() string {
	name := e.Release
	if !strings.Contains(e.Release, "milvus") {
		name = e.Release + "-milvus"
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.TrimSuffix(name, "-")
}

// Verification is the SLO verification Job.
type Verification struct {
	Enabled                 bool          `json:"enabled"`
	Image                   VerifierImage `json:"image"`
	Workload                Workload      `json:"workload"`
	Fault                   Fault         `json:"fault"`
	MilvusCredentials       *Basic        `json:"milvusCredentials,omitempty"`
	ActiveDeadlineSeconds   int64         `json:"activeDeadlineSeconds"`
	TTLSecondsAfterFinished int32         `json:"ttlSecondsAfterFinished"`
	Resources               Resources     `json:"resources"`
}

// VerifierImage is the verifier's image, by tag or digest.
type VerifierImage struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Digest     string `json:"digest"`
	PullPolicy string `json:"pullPolicy"`
}

// Ref is the image reference pulled through images, by digest when known.
func (i VerifierImage) Ref(images Images) string {
	repo := images.Repository(i.Repository)
	if i.Digest != "" {
		return repo + "@" + i.Digest
	}
	return repo + ":" + i.Tag
}

// Workload is the verification's data and load.
type Workload struct {
	Rows        int    `json:"rows"`
	Dim         int    `json:"dim"`
	Queries     int    `json:"queries"`
	Concurrency int    `json:"concurrency"`
	TopK        int    `json:"topK"`
	Index       string `json:"index"`
	NList       int    `json:"nlist"`
	NProbe      int    `json:"nprobe"`
	Ef          int    `json:"ef"`
	Replicas    int    `json:"replicas"`
	// RateDuration is the open-loop phase's length (with slo.searchQPS).
	RateDuration string `json:"rateDuration"`
	// Sweep are the throughput sweep's concurrency levels, if any.
	Sweep         []int  `json:"sweep,omitempty"`
	SweepDuration string `json:"sweepDuration"`
	// MixedDuration is the mixed write phase's length, "" for none.
	MixedDuration string `json:"mixedDuration,omitempty"`
}

// Fault is the verification's fault phase.
type Fault struct {
	Enabled bool   `json:"enabled"`
	Pods    int    `json:"pods"`
	Mode    string `json:"mode"`
	Window  string `json:"window"`
}

// BackupUsesIAM says whether the backup authenticates to object storage
// with the pod's cloud identity: its own storage's useIAM, else Milvus'.
func (e *Environment) BackupUsesIAM() bool {
	if s := e.Backup.Storage.UseIAM; s != nil {
		return *s
	}
	return e.Dependencies.ObjectStorage.UseIAM
}
