package perf

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		utime, stime uint64
		wantErr      string
	}{
		{
			name:  "plain",
			in:    "20148 (cat) R 20145 20145 11174 0 -1 4194304 101 0 0 0 7 3 0 0 20 0 1 0 265999 3133440 409\n",
			utime: 7, stime: 3,
		},
		{
			name:  "command with spaces and parentheses",
			in:    "42 (otel col) (x)) S 1 42 42 0 -1 4194560 5000 0 12 0 1234 567 0 0 20 0 12 0 100 2000000 30000",
			utime: 1234, stime: 567,
		},
		{name: "no command end", in: "42 (otelcol S 1 2", wantErr: "no ')'"},
		{name: "too short", in: "42 (x) S 1 2 3", wantErr: "fields after the command name"},
		{name: "bad utime", in: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 3 0 0", wantErr: "field 14"},
		{name: "bad stime", in: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 3 -4 0 0", wantErr: "field 15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, s, err := ParseStat([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.utime, u)
			assert.Equal(t, tt.stime, s)
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Memory
		wantErr string
	}{
		{
			name: "both",
			in:   "Name:\totelcol\nVmPeak:\t  99999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t12\n",
			want: Memory{RSS: 1 << 20, HWM: 2 << 20},
		},
		{name: "kernel thread", in: "Name:\tkthreadd\nThreads:\t1\n", wantErr: "missing"},
		{name: "bad unit", in: "VmRSS:\t 1 MB\nVmHWM:\t 1 kB\n", wantErr: "VmRSS"},
		{name: "bad number", in: "VmRSS:\t x kB\nVmHWM:\t 1 kB\n", wantErr: "bad size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("20148 (cat) R 20145 20145 11174 0 -1 4194304 101 0 0 0 7 3 0 0 20 0 1 0 265999"))
	f.Add([]byte("1 ()) S"))
	f.Fuzz(func(_ *testing.T, data []byte) {
		_, _, _ = ParseStat(data) // must not panic
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("VmHWM:\t 2048 kB\nVmRSS:\t 1024 kB\n"))
	f.Add([]byte("VmRSS:"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseStatus(data)
		if err == nil && (m.RSS < 0 || m.HWM < 0) {
			t.Fatalf("negative memory %+v", m)
		}
	})
}

// TestProcSelf reads this test process: the readers work on a live
// process and the sampler collects samples until stopped.
func TestProcSelf(t *testing.T) {
	pid := os.Getpid()
	before, err := ProcCPU(pid)
	require.NoError(t, err)
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for after, _ := ProcCPU(pid); after-before < 20*time.Millisecond && time.Now().Before(deadline); after, _ = ProcCPU(pid) {
		for i := range 1_000_000 {
			x += i
		}
	}
	after, err := ProcCPU(pid)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, after-before, 20*time.Millisecond, "busy loop (%d) used no CPU", x)

	m, err := ProcMemory(pid)
	require.NoError(t, err)
	assert.Positive(t, m.RSS)
	assert.GreaterOrEqual(t, m.HWM, m.RSS)

	s := SampleRSS(pid, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.samples) >= 3
	}, 5*time.Second, 5*time.Millisecond)
	samples, err := s.Stop()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(samples), 3)

	_, err = ProcCPU(-1)
	require.Error(t, err)
	assert.NotEqual(t, "unknown", LoadAvg())
}
