package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Admins says who is an administrator: callers whose role in the
// organization OrgID is OrgRole. Without OrgID only the metadata.role
// session claim makes an admin.
type Admins struct {
	// OrgID is ADMIN_ORG_ID; empty turns the organization path off.
	OrgID string
	// OrgRole is ADMIN_ORG_ROLE, default org:admin.
	OrgRole string
}

var (
	// orgRoleKey is the form of a Clerk organization role key, such as org:admin.
	orgRoleKey = regexp.MustCompile(`^org:[A-Za-z0-9_-]+$`)
	// orgID is the form of a Clerk organization id.
	orgID = regexp.MustCompile(`^org_[A-Za-z0-9]+$`)
)

// ReadAdmins reads ADMIN_ORG_ID and ADMIN_ORG_ROLE.
func ReadAdmins(get Lookup) (Admins, error) {
	a := Admins{OrgID: String(get, AdminOrgIDName, ""), OrgRole: String(get, AdminOrgRoleName, "org:admin")}
	if !orgRoleKey.MatchString(a.OrgRole) {
		return Admins{}, fmt.Errorf("%s: not an organization role key (use a form such as org:admin)", AdminOrgRoleName)
	}
	if a.OrgID != "" && !orgID.MatchString(a.OrgID) {
		return Admins{}, fmt.Errorf("%s: not an organization id (use a form such as org_2abc...)", AdminOrgIDName)
	}
	return a, nil
}

// DefaultExportPrefix is where exports go in the bucket when no prefix is
// given.
const DefaultExportPrefix = "exports/users"

// Export is where the user export writes.
type Export struct {
	// Bucket is EXPORT_BUCKET, required.
	Bucket string
	// Prefix is EXPORT_PREFIX without trailing slashes, default
	// DefaultExportPrefix.
	Prefix string
}

// ReadExport reads EXPORT_BUCKET and EXPORT_PREFIX.
func ReadExport(get Lookup) (Export, error) {
	e := Export{Bucket: String(get, ExportBucketName, "")}
	if e.Bucket == "" {
		return Export{}, fmt.Errorf("%s must be set to the bucket the export writes to", ExportBucketName)
	}
	if err := CheckBucket(e.Bucket); err != nil {
		return Export{}, fmt.Errorf("%s: %w", ExportBucketName, err)
	}
	var err error
	if e.Prefix, err = CleanPrefix(String(get, ExportPrefixName, DefaultExportPrefix)); err != nil {
		return Export{}, fmt.Errorf("%s: %w", ExportPrefixName, err)
	}
	return e, nil
}

// maxPrefix leaves room under S3's 1,024-byte key limit for the dated part
// of the key and the file name.
const maxPrefix = 512

var (
	bucketName    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	ipAddress     = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)
	prefixSegment = regexp.MustCompile(`^[A-Za-z0-9!_.*'()-]+$`)
)

// CheckBucket rejects a name S3 would refuse as a general purpose bucket:
// 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending
// with a letter or digit, no "..", not shaped like an IP address.
func CheckBucket(name string) error {
	if !bucketName.MatchString(name) || strings.Contains(name, "..") || ipAddress.MatchString(name) {
		return errors.New("not a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)")
	}
	return nil
}

// CleanPrefix checks a key prefix and returns it without trailing slashes:
// "users/" and "users" are the same prefix. It must not be empty or start
// with "/", and each of its "/"-separated segments must be made of S3's safe
// characters (letters, digits and ! - _ . * ' ( )) and be neither "." nor "..".
func CleanPrefix(prefix string) (string, error) {
	p := strings.TrimRight(prefix, "/")
	switch {
	case p == "":
		return "", errors.New("must not be empty")
	case strings.HasPrefix(p, "/"):
		return "", errors.New("must not start with a slash (use a form such as exports/users)")
	case len(p) > maxPrefix:
		return "", fmt.Errorf("must be at most %d characters", maxPrefix)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." || !prefixSegment.MatchString(seg) {
			return "", errors.New("must be segments of letters, digits and ! - _ . * ' ( ) separated by single slashes")
		}
	}
	return p, nil
}

// LogLevel reads LOG_LEVEL: debug, info, warn or error, in any case;
// info when unset.
func LogLevel(get Lookup) (slog.Level, error) {
	switch strings.ToLower(String(get, LogLevelName, "info")) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%s: must be debug, info, warn or error", LogLevelName)
}
