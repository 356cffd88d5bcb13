package standby

import (
	"encoding/csv"
	"io"
	"strconv"
)

// CSVHeader is the header [WriteCSV] writes. The first six columns are fixed;
// later ones may be added.
var CSVHeader = []string{"t", "active", "standby", "floor", "target", "failed", "booting", "requested", "released", "fired", "elapsed"}

// WriteCSV writes one row per sample under [CSVHeader].
func WriteCSV(w io.Writer, samples []Sample) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, s := range samples {
		rec := []string{
			strconv.Itoa(s.Tick), strconv.Itoa(s.Active), strconv.Itoa(s.Standby),
			strconv.Itoa(s.Floor), strconv.Itoa(s.Target), strconv.Itoa(s.Failed),
			strconv.Itoa(s.Booting), strconv.Itoa(s.Requested), strconv.Itoa(s.Released),
			fired(s.Fired), s.Elapsed.String(),
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// fired formats a fired threshold's percent, or nothing when none fired.
func fired(pct float64) string {
	if pct == 0 {
		return ""
	}
	return strconv.FormatFloat(pct, 'g', -1, 64) + "%"
}
