package backup

// Config is milvus-backup's backup.yaml in the v0.5 format (the image tag
// is pinned to v0.5.x with it; the tool's main branch moved to a v2 format).
// Credentials are not here: the tool reads them from the environment.
type Config struct {
	Log    LogConfig    `json:"log"`
	Milvus MilvusConfig `json:"milvus"`
	Minio  MinioConfig  `json:"minio"`
	Backup BackupConfig `json:"backup"`
}

// LogConfig: console only, no file (the root filesystem is read-only).
type LogConfig struct {
	Level   string        `json:"level"`
	Console bool          `json:"console"`
	File    LogFileConfig `json:"file"`
}

// LogFileConfig: an empty filename turns the file log off.
type LogFileConfig struct {
	Filename string `json:"filename"`
}

// MilvusConfig is where Milvus answers gRPC.
type MilvusConfig struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
	TLSMode int    `json:"tlsMode"`
}

// MinioConfig is Milvus' own object storage and the backup storage.
type MinioConfig struct {
	StorageType string `json:"storageType"`
	Address     string `json:"address"`
	Port        int    `json:"port"`
	Region      string `json:"region"`
	UseSSL      bool   `json:"useSSL"`
	UseIAM      bool   `json:"useIAM"`
	IAMEndpoint string `json:"iamEndpoint"`
	BucketName  string `json:"bucketName"`
	RootPath    string `json:"rootPath"`

	BackupStorageType string `json:"backupStorageType"`
	BackupAddress     string `json:"backupAddress"`
	BackupPort        int    `json:"backupPort"`
	BackupRegion      string `json:"backupRegion"`
	BackupUseSSL      bool   `json:"backupUseSSL"`
	BackupUseIAM      bool   `json:"backupUseIAM"`
	BackupBucketName  string `json:"backupBucketName"`
	BackupRootPath    string `json:"backupRootPath"`
	// CrossStorage copies through the tool when the backup storage is
	// another endpoint (a server-side copy is impossible then).
	CrossStorage bool `json:"crossStorage"`
}

// BackupConfig is the backup behaviour.
type BackupConfig struct {
	KeepTempFiles bool          `json:"keepTempFiles"`
	GCPause       GCPauseConfig `json:"gcPause"`
}

// GCPauseConfig pauses Milvus' garbage collection while binlogs are copied,
// so that compaction cannot delete what the backup still reads.
type GCPauseConfig struct {
	Enable  bool   `json:"enable"`
	Address string `json:"address"`
}
