package timeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Notes are people's context for the timeline (incident.EventNote): the
// incidents extension keeps each in the incident's folder
// (bundle.NoteKey), where they join the timeline however late they were
// written. A note that cannot be read is named in the timeline and left
// out, never fatal: one bad note must not cost the whole draft.

// maxNoteObject bounds what is read of one note object.
const maxNoteObject = bundle.MaxNoteSize

// maxNotes bounds the notes of one incident that are read.
const maxNotes = 10000

// noteReader collects an incident's notes and the problems of those that
// cannot be read.
type noteReader struct {
	id       string
	notes    []incident.Event
	problems []string
}

// add decodes one note object named name.
func (r *noteReader) add(name string, data []byte, err error) {
	if err == nil && len(data) > maxNoteObject {
		err = fmt.Errorf("larger than %d bytes", maxNoteObject)
	}
	var ev incident.Event
	if err == nil {
		err = json.Unmarshal(data, &ev)
	}
	if err == nil {
		err = checkNote(&ev, r.id)
	}
	if err != nil {
		r.problems = append(r.problems, name+": "+err.Error())
		return
	}
	r.notes = append(r.notes, ev)
}

// checkNote checks a note event read back.
func checkNote(ev *incident.Event, id string) error {
	switch {
	case ev.Kind != incident.EventNote:
		return fmt.Errorf("an event of kind %q, not a note", ev.Kind)
	case ev.IncidentID != id:
		return fmt.Errorf("a note of incident %q, not %q", ev.IncidentID, id)
	case ev.Time.IsZero():
		return errors.New("a note without time")
	case ev.Note == nil:
		return errors.New("a note event without its note")
	}
	return ev.Note.Validate()
}

// input sets the notes on in, as events.
func (r *noteReader) input(in *Input) {
	slices.SortStableFunc(r.notes, func(a, b incident.Event) int { return a.Time.Compare(b.Time) })
	if len(r.notes) > 0 {
		in.Events = eventSeq(r.notes)
	}
	in.NoteProblems = r.problems
}

func eventSeq(evs []incident.Event) func(yield func(incident.Event, error) bool) {
	return func(yield func(incident.Event, error) bool) {
		for _, ev := range evs {
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// storeNotes reads incident id's notes from st.
func storeNotes(ctx context.Context, st store.Store, id string) (*noteReader, error) {
	r := &noteReader{id: id}
	prefix, err := bundle.NotesPrefix(id)
	if err != nil {
		return nil, err
	}
	after := ""
	for {
		objs, err := st.List(ctx, prefix, after)
		if err != nil {
			return nil, fmt.Errorf("listing %s in %s: %w", prefix, st, err)
		}
		if len(objs) == 0 {
			return r, nil
		}
		for _, o := range objs {
			if nid, _, err := bundle.ParseNoteKey(o.Key); err != nil || nid != id {
				continue
			}
			if len(r.notes)+len(r.problems) >= maxNotes {
				r.problems = append(r.problems, fmt.Sprintf("%s: more than %d notes; the rest are not read", prefix, maxNotes))
				return r, nil
			}
			data, err := readStoreObject(ctx, st, o.Key, maxNoteObject)
			if err != nil && !errors.Is(err, errTooLarge) {
				return nil, err
			}
			r.add(o.Key, data, err)
		}
		if next := objs[len(objs)-1].Key; next > after {
			after = next
		} else {
			return nil, fmt.Errorf("listing %s in %s: keys out of order after %q", prefix, st, after)
		}
	}
}

// errTooLarge marks an object larger than its limit.
var errTooLarge = errors.New("larger than its limit")

// readStoreObject reads key from st, at most limit bytes.
func readStoreObject(ctx context.Context, st store.Store, key string, limit int64) ([]byte, error) {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", key, st, err)
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", key, st, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, limit)
	}
	return data, nil
}

// dirNotes reads incident id's notes from the copies of the store layout
// in a folder: its raw/ (as `evidencectl get` writes it), or the folder
// itself.
func dirNotes(folder, id string) (*noteReader, error) {
	r := &noteReader{id: id}
	if id == "" {
		return r, nil
	}
	for _, root := range []string{filepath.Join(folder, evidencedir.RawDir), folder} {
		if err := r.readDir(root); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// readDir reads the notes of a copy of the store layout rooted at root.
func (r *noteReader) readDir(root string) error {
	prefix, err := bundle.NotesPrefix(r.id)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, filepath.FromSlash(prefix))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("evidence directory: %w", err)
	}
	for _, e := range entries {
		key := prefix + e.Name()
		if _, _, err := bundle.ParseNoteKey(key); err != nil || !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if len(r.notes)+len(r.problems) >= maxNotes {
			r.problems = append(r.problems, fmt.Sprintf("%s: more than %d notes; the rest are not read", dir, maxNotes))
			break
		}
		path := filepath.Join(dir, e.Name())
		data, err := readFileLimit(path, maxNoteObject)
		r.add(path, data, err)
	}
	return nil
}

// readFileLimit reads at most limit bytes of a file.
func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("more than %d bytes", limit)
	}
	return data, err
}
