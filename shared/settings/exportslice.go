package settings

import "time"

// Names of the settings that bound one slice of the export.
const (
	ExportSliceSecondsName = "EXPORT_SLICE_SECONDS"
	ExportSlicePartsName   = "EXPORT_SLICE_PARTS"
)

// DefaultExportSlice is how long a slice of the export starts new parts
// for when EXPORT_SLICE_SECONDS is unset: well inside Lambda's 15 minutes,
// so a slice's last part and its checkpoint fit before the timeout, and a
// slice retried after a failure repeats little.
const DefaultExportSlice = 10 * time.Minute

// ExportSlice reads EXPORT_SLICE_SECONDS (how long a slice starts new
// parts for, 1 to 840) and EXPORT_SLICE_PARTS (the most parts of at least
// 5 MiB a slice writes; 0, the default, is no limit).
func ExportSlice(get Lookup) (time.Duration, int, error) {
	secs, err := Int(get, ExportSliceSecondsName, int(DefaultExportSlice/time.Second), 1, 840)
	if err != nil {
		return 0, 0, err
	}
	parts, err := Int(get, ExportSlicePartsName, 0, 0, 10_000)
	if err != nil {
		return 0, 0, err
	}
	return time.Duration(secs) * time.Second, parts, nil
}
