package evidenceexporter

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// eventsFile is the spool file of an incident's taken events: the
// SHA-256 (hex) of each registry event already in a part, one a line, in
// the order they were taken. Only the first events_count lines of state.json
// are committed.
const eventsFile = "events.sha256"

// eventLine is the length of one line of eventsFile.
const eventLine = 2*sha256.Size + 1

// appendEvents commits the hashes of newly taken events after the first
// have lines of incident id's events file (a crash may have left
// uncommitted lines after them), fresh when fresh is set.
func (s *spool) appendEvents(id string, have int, fresh bool, sums [][sha256.Size]byte) error {
	if len(sums) == 0 && !fresh {
		return nil
	}
	if err := os.MkdirAll(s.incidentDir(id), dirPerm); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	path := filepath.Join(s.incidentDir(id), eventsFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, filePerm)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if fresh {
		have = 0
	}
	off := int64(have) * eventLine
	buf := make([]byte, 0, len(sums)*eventLine)
	for _, sum := range sums {
		buf = hex.AppendEncode(buf, sum[:])
		buf = append(buf, '\n')
	}
	err = f.Truncate(off)
	if err == nil {
		_, err = f.WriteAt(buf, off)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// readEvents returns the first n committed hashes of incident id's events
// file.
func (s *spool) readEvents(id string, n int) (map[[sha256.Size]byte]struct{}, error) {
	out := make(map[[sha256.Size]byte]struct{}, n)
	if n == 0 {
		return out, nil
	}
	f, err := os.Open(filepath.Join(s.incidentDir(id), eventsFile))
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	r := bufio.NewReader(f)
	line := make([]byte, eventLine)
	for i := range n {
		if _, err := io.ReadFull(r, line); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("spool: %s of %s holds %d events, state.json commits %d", eventsFile, id, i, n)
			}
			return nil, fmt.Errorf("spool: %w", err)
		}
		var sum [sha256.Size]byte
		if _, err := hex.Decode(sum[:], line[:eventLine-1]); err != nil || line[eventLine-1] != '\n' {
			return nil, fmt.Errorf("spool: %s of %s: line %d is not a SHA-256", eventsFile, id, i+1)
		}
		out[sum] = struct{}{}
	}
	return out, nil
}

// legacyEvents returns the hashes an older state.json lists itself.
func legacyEvents(hashes []string) (map[[sha256.Size]byte]struct{}, error) {
	out := make(map[[sha256.Size]byte]struct{}, len(hashes))
	for _, h := range hashes {
		var sum [sha256.Size]byte
		if len(h) != 2*sha256.Size {
			return nil, fmt.Errorf("'events' holds %q, not a SHA-256", h)
		}
		if _, err := hex.Decode(sum[:], []byte(h)); err != nil {
			return nil, fmt.Errorf("'events' holds %q, not a SHA-256", h)
		}
		out[sum] = struct{}{}
	}
	return out, nil
}
