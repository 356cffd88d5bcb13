package standby

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func loadTrace(t *testing.T, name string, tick time.Duration) Trace {
	t.Helper()
	f, err := os.Open("../../../examples/standby/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ParseTrace(f, tick)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestPlayFabScenario pins what Understudy outputs for PlayFab's seven steps;
// docs/standby.md explains each row.
func TestPlayFabScenario(t *testing.T) {
	t.Parallel()
	cfg := DefaultSimConfig()
	cfg.Tick = 15 * time.Minute
	res, err := Simulate(playfabPolicy(), loadTrace(t, "playfab.csv", cfg.Tick), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var csv bytes.Buffer
	if err := WriteCSV(&csv, res.Samples); err != nil {
		t.Fatal(err)
	}
	const want = `t,active,standby,floor,target,failed,booting,requested,released,fired,elapsed
0,40,10,10,10,0,0,0,0,,0s
1,20,10,10,10,0,0,0,0,,15m0s
2,30,4,10,15,0,0,11,0,50%,30m0s
3,50,1,10,30,0,0,29,0,25%,45m0s
4,70,4,10,30,0,0,26,0,50%,1h0m0s
5,80,10,10,30,0,0,10,0,,1h15m0s
6,50,10,10,10,0,0,0,0,,1h30m0s
`
	if csv.String() != want {
		t.Errorf("PlayFab scenario:\n%s\nwant:\n%s", csv.String(), want)
	}
}

func TestBurstDynamicStandbyFailsLess(t *testing.T) {
	t.Parallel()
	cfg := DefaultSimConfig()
	tr := loadTrace(t, "burst.csv", cfg.Tick)
	on := playfabPolicy()
	off := playfabPolicy()
	off.DynamicStandby.Enabled = false
	resOn, err := Simulate(on, tr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	resOff, err := Simulate(off, tr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("failed allocations: dynamic on %d, off %d (of %d); peak servers on %d, off %d",
		resOn.Summary.Failed, resOff.Summary.Failed, resOn.Summary.Allocations, resOn.Summary.PeakServers, resOff.Summary.PeakServers)
	if resOff.Summary.Failed == 0 {
		t.Fatal("the burst trace does not strain a static pool: no failed allocations without dynamic standby")
	}
	if resOn.Summary.Failed >= resOff.Summary.Failed {
		t.Errorf("dynamic standby on: %d failed allocations, off: %d; want fewer with it on", resOn.Summary.Failed, resOff.Summary.Failed)
	}
	// After the burst the target returns to the floor and the surplus is
	// released: the run ends with the pool back at its floor.
	last := resOn.Samples[len(resOn.Samples)-1]
	if last.Target != on.StandbyFloor || last.Standby != on.StandbyFloor {
		t.Errorf("end of burst: target %d standby %d, want both at the floor %d", last.Target, last.Standby, on.StandbyFloor)
	}
}

func TestSimulateDemandMechanics(t *testing.T) {
	t.Parallel()
	p := Policy{StandbyFloor: 3, MaxServers: 5}
	tr, err := ParseTrace(strings.NewReader("t,allocate,deallocate\n0,4,0\n1,0,0\n2,0,0\n3,0,2\n"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultSimConfig()
	res, err := Simulate(p, tr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteCSV(&got, res.Samples); err != nil {
		t.Fatal(err)
	}
	// t0: 3 ready, 4 wanted: 3 served, 1 failed; 3 missing but max_servers
	// leaves room for 2. t1: 2 booting, no room for more. t2: the 2 are
	// ready. t3: 2 return to standby: 4 ready, 1 above the target of 3 is
	// released.
	const want = `t,active,standby,floor,target,failed,booting,requested,released,fired,elapsed
0,3,0,3,3,1,0,2,0,,0s
1,3,0,3,3,0,2,0,0,,1m0s
2,3,2,3,3,0,0,0,0,,2m0s
3,1,4,3,3,0,0,0,1,,3m0s
`
	if got.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", got.String(), want)
	}
	if res.Summary.PeakServers > p.MaxServers {
		t.Errorf("peak servers %d above max %d", res.Summary.PeakServers, p.MaxServers)
	}
}

func TestSimulateRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tr := Trace{Kind: Demand, Rows: []TraceRow{{Tick: 0}}}
	if _, err := Simulate(Policy{StandbyFloor: 5, MaxServers: 1}, tr, DefaultSimConfig()); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("bad policy: %v, want ErrInvalidPolicy", err)
	}
	cfg := DefaultSimConfig()
	cfg.ProvisionDelay = -time.Second
	if _, err := Simulate(playfabPolicy(), tr, cfg); err == nil || !strings.Contains(err.Error(), "provision delay") {
		t.Errorf("negative provision delay: %v", err)
	}
	if _, err := Simulate(playfabPolicy(), Trace{}, DefaultSimConfig()); !errors.Is(err, ErrInvalidTrace) {
		t.Errorf("empty trace: %v, want ErrInvalidTrace", err)
	}
}

func TestWriteSVGIsWellFormed(t *testing.T) {
	t.Parallel()
	cfg := DefaultSimConfig()
	res, err := Simulate(playfabPolicy(), loadTrace(t, "burst.csv", cfg.Tick), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, res); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	lines := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 4 {
		t.Errorf("SVG has %d polylines, want 4 (floor, target, active, standby)", lines)
	}
}
