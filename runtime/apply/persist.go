package apply

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/br2k/br2k/runtime"
)

// machineState is what a state version keeps of a Machine besides the
// service's state: the applied index, the last entry time and the
// idempotency records. The terms this process led are not kept: a process
// that loads a version has led none.
type machineState struct {
	Applied  uint64        `json:"applied"`
	LastTime int64         `json:"last_time"`
	Records  []savedRecord `json:"records"` // in the order they were recorded (index order)
}

type savedRecord struct {
	Key     string          `json:"key"`
	Op      string          `json:"op"`
	Digest  string          `json:"digest"` // hex SHA-256 of the payload
	Outcome runtime.Outcome `json:"outcome"`
	Started bool            `json:"started,omitempty"`
	Index   uint64          `json:"index"`
	Time    int64           `json:"time"`
}

// Export encodes the machine's own state (not the service's) for a state
// version; Import puts it back. Equal machines give equal bytes. The caller
// holds the state lock, as for ApplyBatch.
func (m *Machine) Export() ([]byte, error) {
	st := machineState{Applied: m.applied, LastTime: m.lastTime, Records: make([]savedRecord, 0, len(m.records))}
	for key, r := range m.records {
		st.Records = append(st.Records, savedRecord{Key: key, Op: r.Op, Digest: hex.EncodeToString(r.Digest[:]),
			Outcome: r.Outcome, Started: r.Started, Index: r.Index, Time: r.Time})
	}
	sort.Slice(st.Records, func(i, j int) bool { return st.Records[i].Index < st.Records[j].Index })
	return json.Marshal(st)
}

// Import replaces the machine's own state with an exported one, as if it
// had applied the entries up to its index. The expiry queue is rebuilt in
// record order; the records it held for keys recorded again since were
// no-ops, so expiry and eviction drop the same records as before.
func (m *Machine) Import(data []byte) error {
	var st machineState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("apply: import machine state: %w", err)
	}
	records := make(map[string]Record, len(st.Records))
	var bytes int64
	expiry := make([]expiring, 0, len(st.Records))
	for i, s := range st.Records {
		if i > 0 && s.Index <= st.Records[i-1].Index || s.Index > st.Applied {
			return fmt.Errorf("apply: import machine state: record %q has index %d, out of order or after the applied index %d", s.Key, s.Index, st.Applied)
		}
		d, err := hex.DecodeString(s.Digest)
		if err != nil || len(d) != len(Record{}.Digest) {
			return fmt.Errorf("apply: import machine state: record %q has a bad digest %q", s.Key, s.Digest)
		}
		r := Record{Op: s.Op, Outcome: s.Outcome, Started: s.Started, Index: s.Index, Time: s.Time}
		copy(r.Digest[:], d)
		records[s.Key] = r
		bytes += r.size(s.Key)
		expiry = append(expiry, expiring{key: s.Key, index: s.Index, time: s.Time})
	}
	m.applied, m.lastTime = st.Applied, st.LastTime
	m.records, m.recordBytes, m.expiry, m.head = records, bytes, expiry, 0
	return nil
}
