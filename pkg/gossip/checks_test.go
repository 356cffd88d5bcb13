package gossip

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"
)

func TestChecksCodecRoundTrip(t *testing.T) {
	t.Parallel()
	recs := []checksRecord{
		{Node: "host-a", NodeChecks: NodeChecks{Seq: 1<<62 + 5, Checks: map[string]CheckStatus{
			"login": CheckPassing, "robust": CheckWarning, "region-1": CheckCritical}}},
		{Node: "host-b", NodeChecks: NodeChecks{Seq: 1, Checks: map[string]CheckStatus{}}},
	}
	b := encodeChecks(recs)
	if b[0] != msgChecks || b[1] != checksVersion {
		t.Fatalf("header = %v, want type %d version %d", b[:2], msgChecks, checksVersion)
	}
	got, err := decodeChecks(b)
	if err != nil {
		t.Fatalf("decodeChecks: %v", err)
	}
	if len(got) != len(recs) {
		t.Fatalf("decoded %d records, want %d", len(got), len(recs))
	}
	for i := range recs {
		if got[i].Node != recs[i].Node || got[i].Seq != recs[i].Seq || !maps.Equal(got[i].Checks, recs[i].Checks) {
			t.Errorf("record %d = %+v, want %+v", i, got[i], recs[i])
		}
	}
	if again := encodeChecks(got); !bytes.Equal(again, b) {
		t.Error("encoding is not deterministic")
	}
}

func TestChecksEncodingIsPinned(t *testing.T) {
	t.Parallel()
	b := encodeChecks([]checksRecord{{Node: "h", NodeChecks: NodeChecks{Seq: 300, Checks: map[string]CheckStatus{
		"b": CheckCritical, "a": CheckPassing}}}})
	want := []byte{1, 1, 1, 1, 'h', 0xac, 0x02, 2, 1, 'a', 1, 1, 'b', 3}
	if !bytes.Equal(b, want) {
		t.Errorf("encodeChecks = %v, want %v", b, want)
	}
}

func TestDecodeChecksRejectsMalformed(t *testing.T) {
	t.Parallel()
	good := encodeChecks([]checksRecord{{Node: "h", NodeChecks: NodeChecks{Seq: 1, Checks: map[string]CheckStatus{"a": CheckPassing}}}})
	cases := map[string][]byte{
		"empty":            nil,
		"wrong type":       {msgLeave, 1, 0},
		"future version":   {msgChecks, 2, 0},
		"truncated":        good[:len(good)-1],
		"trailing bytes":   append(append([]byte{}, good...), 0),
		"huge count":       {msgChecks, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge name length": {msgChecks, 1, 1, 0xff, 0x01, 'h'},
		"empty node":       {msgChecks, 1, 1, 0, 1, 0},
		"zero status":      {msgChecks, 1, 1, 1, 'h', 1, 1, 1, 'a', 0},
		"unknown status":   {msgChecks, 1, 1, 1, 'h', 1, 1, 1, 'a', 4},
		"empty check name": {msgChecks, 1, 1, 1, 'h', 1, 1, 0, 1},
	}
	for name, b := range cases {
		if recs, err := decodeChecks(b); err == nil {
			t.Errorf("%s: decodeChecks(%v) = %+v, want an error", name, b, recs)
		}
	}
}

func TestLeaveCodec(t *testing.T) {
	t.Parallel()
	m := leaveMsg{Node: "host-a", Life: 1 << 60}
	got, err := decodeLeave(encodeLeave(m))
	if err != nil || got != m {
		t.Fatalf("decodeLeave(encodeLeave(%+v)) = %+v, %v", m, got, err)
	}
	for name, b := range map[string][]byte{
		"empty":    nil,
		"checks":   {msgChecks, 1, 0},
		"version":  {msgLeave, 9, 1, 'h', 1},
		"no node":  {msgLeave, 1, 0, 1},
		"trailing": append(encodeLeave(m), 0),
	} {
		if _, err := decodeLeave(b); err == nil {
			t.Errorf("%s: decodeLeave succeeded", name)
		}
	}
}

func TestCheckStatusText(t *testing.T) {
	t.Parallel()
	in := map[string]CheckStatus{"login": CheckPassing, "robust": CheckWarning, "db": CheckCritical}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"db":"critical","login":"passing","robust":"warning"}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	var out map[string]CheckStatus
	if err := json.Unmarshal(b, &out); err != nil || !maps.Equal(out, in) {
		t.Errorf("json round trip = %v, %v", out, err)
	}
	if _, err := ParseCheckStatus("ok"); err == nil {
		t.Error(`ParseCheckStatus("ok") succeeded`)
	}
	if _, err := CheckStatus(0).MarshalText(); err == nil {
		t.Error("MarshalText of the zero status succeeded")
	}
}

func FuzzDecodeChecks(f *testing.F) {
	f.Add(encodeChecks([]checksRecord{{Node: "h", NodeChecks: NodeChecks{Seq: 7, Checks: map[string]CheckStatus{"a": CheckPassing}}}}))
	f.Add([]byte{msgChecks, 1, 0})
	f.Add(encodeLeave(leaveMsg{Node: "h", Life: 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeLeave(b)
		recs, err := decodeChecks(b)
		if err != nil {
			return
		}
		// Anything accepted re-encodes to a message that decodes the same.
		again, err := decodeChecks(encodeChecks(recs))
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-decode: %d records, %v", len(again), err)
		}
		for i := range recs {
			if again[i].Node != recs[i].Node || again[i].Seq != recs[i].Seq || !maps.Equal(again[i].Checks, recs[i].Checks) {
				t.Fatalf("record %d changed: %+v → %+v", i, recs[i], again[i])
			}
		}
	})
}
