package perf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// The kernel fixes it at 100 on every Linux architecture Go supports.
const ClockTicks = 100

// ProcCPU returns the CPU time (user + system) the process pid has used so
// far, from /proc/<pid>/stat. Its resolution is 1/ClockTicks seconds.
func ProcCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	utime, stime, err := ParseStat(data)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return ticks(utime + stime), nil
}

func ticks(n uint64) time.Duration {
	return time.Duration(n) * (time.Second / ClockTicks)
}

// ParseStat returns utime and stime (fields 14 and 15, in clock ticks) of
// a /proc/<pid>/stat line. The command name (field 2) may contain spaces
// and parentheses, so fields are counted from its last ')'.
func ParseStat(data []byte) (utime, stime uint64, err error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, 0, errors.New("no ')' closing the command name")
	}
	// fields[0] is field 3 (state), so field n is fields[n-3].
	fields := strings.Fields(string(data[end+1:]))
	const utimeField, stimeField = 14, 15
	if len(fields) < stimeField-2 {
		return 0, 0, fmt.Errorf("%d fields after the command name, want at least %d", len(fields), stimeField-2)
	}
	if utime, err = strconv.ParseUint(fields[utimeField-3], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("field 14 (utime): %w", err)
	}
	if stime, err = strconv.ParseUint(fields[stimeField-3], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("field 15 (stime): %w", err)
	}
	return utime, stime, nil
}

// Memory is a process's resident memory from /proc/<pid>/status.
type Memory struct {
	// RSS is VmRSS, the resident set now, in bytes.
	RSS int64
	// HWM is VmHWM, the peak resident set so far, in bytes.
	HWM int64
}

// ProcMemory reads VmRSS and VmHWM of the process pid.
func ProcMemory(pid int) (Memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	m, err := ParseStatus(data)
	if err != nil {
		return Memory{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return m, nil
}

// ParseStatus extracts VmRSS and VmHWM ("VmRSS:  1234 kB") from the text
// of /proc/<pid>/status. Both must be present.
func ParseStatus(data []byte) (Memory, error) {
	var (
		m            Memory
		rssOK, hwmOK bool
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{}, fmt.Errorf("%s: want \"<n> kB\", got %q", name, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return Memory{}, fmt.Errorf("%s: bad size %q", name, f[0])
		}
		if name == "VmRSS" {
			m.RSS, rssOK = kb<<10, true
		} else {
			m.HWM, hwmOK = kb<<10, true
		}
	}
	if err := sc.Err(); err != nil {
		return Memory{}, err
	}
	if !rssOK || !hwmOK {
		return Memory{}, errors.New("VmRSS or VmHWM missing (a kernel thread, or the process is gone)")
	}
	return m, nil
}

// RSSSampler reads a process's VmRSS at a fixed interval until stopped.
type RSSSampler struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	samples []int64
	err     error
}

// SampleRSS starts sampling the resident memory of pid every interval;
// the first sample is taken at once.
func SampleRSS(pid int, interval time.Duration) *RSSSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &RSSSampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			m, err := ProcMemory(pid)
			s.mu.Lock()
			if err != nil {
				s.err = err
			} else {
				s.samples = append(s.samples, m.RSS)
			}
			s.mu.Unlock()
			if err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the samples in bytes, and the error
// that ended it early, if any.
func (s *RSSSampler) Stop() ([]int64, error) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.samples...), s.err
}

// LoadAvg returns the first three fields of /proc/loadavg ("1.00 0.80
// 0.75"), or "unknown".
func LoadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
