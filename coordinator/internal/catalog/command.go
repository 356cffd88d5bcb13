package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
)

// CommandType identifies a command in the Raft log. Values are stable
// forever: never renumber, only add.
type CommandType uint8

// IgnoreUnknown, set on a command type, lets replicas that do not know the
// type skip it instead of stopping.
const IgnoreUnknown CommandType = 0x80

// Command types.
const (
	CmdUpsertHost       CommandType = 1
	CmdSetHostStatus    CommandType = 2
	CmdDeleteHost       CommandType = 3
	CmdRegisterServices CommandType = 4
	CmdSetHealth        CommandType = 5
	CmdSetRunning       CommandType = 6
	CmdPromote          CommandType = 7
	CmdFenceHost        CommandType = 8
	CmdClearFence       CommandType = 9
	CmdReportDataset    CommandType = 10
	CmdSetClusterConfig CommandType = 11
	CmdRequestRestart   CommandType = 12
	CmdRestoreState     CommandType = 13
)

// Standby pool command types (pools.go), numbered from 32 apart from the
// others.
const (
	CmdSetPoolPolicy CommandType = 32
	CmdPoolStep      CommandType = 33
	CmdPoolAnswer    CommandType = 34
	CmdAllocate      CommandType = 35
	CmdDeallocate    CommandType = 36
)

// Command is one change to the catalogue.
type Command interface {
	commandType() CommandType
}

// UpsertHost creates a host or updates its description. A new host starts
// alive.
type UpsertHost struct {
	Name    string `json:"name"`
	Region  string `json:"region"`
	Role    Role   `json:"role"`
	Address string `json:"address"`
	Version string `json:"version,omitempty"`
	// At is the proposer's clock, in Unix milliseconds.
	At int64 `json:"at"`
}

// SetHostStatus records what gossip says about a host. When a host is not
// alive every one of its instances is critical.
type SetHostStatus struct {
	Name   string     `json:"name"`
	Status HostStatus `json:"status"`
	At     int64      `json:"at"`
}

// DeleteHost removes a host and its instances.
type DeleteHost struct {
	Name string `json:"name"`
}

// RegisterServices replaces the set of instances a host carries. With
// Upsert set, the host is created or its description updated in the same
// step, as [UpsertHost] would.
type RegisterServices struct {
	Host     string       `json:"host"`
	Services []ServiceDef `json:"services"`
	Upsert   *UpsertHost  `json:"upsert,omitempty"`
}

// SetHealth records an instance's check state.
type SetHealth struct {
	Host    string `json:"host"`
	Service string `json:"service"`
	Health  Health `json:"health"`
	At      int64  `json:"at"`
}

// SetRunning records whether an instance's process runs, as its agent
// reports.
type SetRunning struct {
	Host    string `json:"host"`
	Service string `json:"service"`
	Running bool   `json:"running"`
}

// Promote makes To the primary of Service. It applies only while the
// service's epoch is still Epoch (compare-and-set), so a decision taken on
// a stale view is rejected with [ErrConflict]. The epoch then rises by one.
// An unplanned promotion fences the former primary's instance.
type Promote struct {
	Service string `json:"service"`
	To      string `json:"to"`
	Epoch   uint64 `json:"epoch"`
	Reason  string `json:"reason"`
	Planned bool   `json:"planned"`
	At      int64  `json:"at"`
}

// FenceHost sets or clears a host's fence. A fenced host is never chosen as
// a primary.
type FenceHost struct {
	Name   string `json:"name"`
	Fenced bool   `json:"fenced"`
	At     int64  `json:"at"`
}

// ClearFence readmits a fenced instance as a standby once it has
// resynchronised.
type ClearFence struct {
	Host    string `json:"host"`
	Service string `json:"service"`
}

func (UpsertHost) commandType() CommandType       { return CmdUpsertHost }
func (SetHostStatus) commandType() CommandType    { return CmdSetHostStatus }
func (DeleteHost) commandType() CommandType       { return CmdDeleteHost }
func (RegisterServices) commandType() CommandType { return CmdRegisterServices }
func (SetHealth) commandType() CommandType        { return CmdSetHealth }
func (SetRunning) commandType() CommandType       { return CmdSetRunning }
func (Promote) commandType() CommandType          { return CmdPromote }
func (FenceHost) commandType() CommandType        { return CmdFenceHost }
func (ClearFence) commandType() CommandType       { return CmdClearFence }

// Encode serialises a command for the Raft log: one type byte, then JSON.
func Encode(c Command) ([]byte, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", c, err)
	}
	return append([]byte{byte(c.commandType())}, body...), nil
}

// ErrUnknownCommand is returned by Decode for a command type this version
// does not know and that is not marked [IgnoreUnknown].
var ErrUnknownCommand = errors.New("unknown catalogue command")

// errIgnored is returned by Decode for an unknown type marked IgnoreUnknown.
var errIgnored = errors.New("ignored command")

// Decode parses a log entry produced by Encode.
func Decode(b []byte) (Command, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty entry", ErrUnknownCommand)
	}
	t := CommandType(b[0])
	var c Command
	switch t {
	case CmdUpsertHost:
		c = &UpsertHost{}
	case CmdSetHostStatus:
		c = &SetHostStatus{}
	case CmdDeleteHost:
		c = &DeleteHost{}
	case CmdRegisterServices:
		c = &RegisterServices{}
	case CmdSetHealth:
		c = &SetHealth{}
	case CmdSetRunning:
		c = &SetRunning{}
	case CmdPromote:
		c = &Promote{}
	case CmdFenceHost:
		c = &FenceHost{}
	case CmdClearFence:
		c = &ClearFence{}
	case CmdReportDataset:
		c = &ReportDataset{}
	case CmdSetClusterConfig:
		c = &SetClusterConfig{}
	case CmdRequestRestart:
		c = &RequestRestart{}
	case CmdRestoreState:
		c = &RestoreState{}
	case CmdSetPoolPolicy:
		c = &SetPoolPolicy{}
	case CmdPoolStep:
		c = &PoolStep{}
	case CmdPoolAnswer:
		c = &PoolAnswer{}
	case CmdAllocate:
		c = &Allocate{}
	case CmdDeallocate:
		c = &Deallocate{}
	default:
		if t&IgnoreUnknown != 0 {
			return nil, errIgnored
		}
		return nil, fmt.Errorf("%w: type %d", ErrUnknownCommand, t)
	}
	if err := json.Unmarshal(b[1:], c); err != nil {
		return nil, fmt.Errorf("decode command type %d: %w", t, err)
	}
	return c, nil
}
