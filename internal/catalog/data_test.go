package catalog

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"
	"time"
)

// JSON kinds as decoded into any.
const (
	kBool   = "bool"
	kNum    = "number"
	kInt    = "integer"
	kString = "string"
	kPath   = "image path or null"
	kGenres = "non-empty integer list"
	kStrs   = "non-empty string list"
	kDate   = "YYYY-MM-DD"
)

var movieFields = map[string]string{
	"adult": kBool, "backdrop_path": kPath, "genre_ids": kGenres, "id": kInt,
	"original_language": kString, "original_title": kString, "overview": kString,
	"popularity": kNum, "poster_path": kString, "release_date": kDate,
	"title": kString, "video": kBool, "vote_average": kNum, "vote_count": kInt,
}

var tvFields = map[string]string{
	"adult": kBool, "backdrop_path": kPath, "genre_ids": kGenres, "id": kInt,
	"origin_country": kStrs, "original_language": kString, "original_name": kString,
	"overview": kString, "popularity": kNum, "poster_path": kString,
	"first_air_date": kDate, "name": kString, "vote_average": kNum, "vote_count": kInt,
}

var imagePathRE = regexp.MustCompile(`^/[A-Za-z0-9]{27}\.jpg$`)

// checkKind reports whether v, decoded from JSON, has the wanted kind.
func checkKind(v any, kind string) bool {
	switch kind {
	case kBool:
		_, ok := v.(bool)
		return ok
	case kNum:
		_, ok := v.(float64)
		return ok
	case kInt:
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case kString:
		s, ok := v.(string)
		return ok && s != ""
	case kPath:
		if v == nil {
			return true
		}
		s, ok := v.(string)
		return ok && imagePathRE.MatchString(s)
	case kGenres, kStrs:
		l, ok := v.([]any)
		if !ok || len(l) == 0 {
			return false
		}
		for _, e := range l {
			if !checkKind(e, map[string]string{kGenres: kInt, kStrs: kString}[kind]) {
				return false
			}
		}
		return true
	case kDate:
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.DateOnly, s)
		return err == nil
	}
	return false
}

func TestCatalogRecords(t *testing.T) {
	d := catalogData()
	tests := []struct {
		name    string
		encoded [][]byte
		fields  map[string]string
		genres  []genreWeight
		largest int
		// want the largest genre's size in this range (about 230 / 320)
		lo, hi int
	}{
		{"movies", d.movieJSON, movieFields, movieGenres, 28, 200, 260},
		{"tv", d.tvJSON, tvFields, tvGenres, 18, 290, 350},
	}
	ids := map[int]string{} // unique across both catalogs
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.encoded) != 580 {
				t.Fatalf("%d records, want 580", len(tt.encoded))
			}
			counts := map[int]int{}
			for i, b := range tt.encoded {
				if n := len(b); n < minRecordBytes || n > maxRecordBytes {
					t.Errorf("record %d encodes to %d bytes, outside [%d, %d]", i, n, minRecordBytes, maxRecordBytes)
				}
				var rec map[string]any
				if err := json.Unmarshal(b, &rec); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if len(rec) != len(tt.fields) {
					t.Errorf("record %d has %d fields, want %d", i, len(rec), len(tt.fields))
				}
				for f, kind := range tt.fields {
					v, ok := rec[f]
					if !ok {
						t.Errorf("record %d lacks %q", i, f)
					} else if !checkKind(v, kind) {
						t.Errorf("record %d: %q = %v, want %s", i, f, v, kind)
					}
				}
				id := int(rec["id"].(float64))
				if prev, dup := ids[id]; dup {
					t.Errorf("id %d used twice (%s and %s)", id, prev, tt.name)
				}
				ids[id] = tt.name
				if p := rec["popularity"].(float64); p < 100 || p > 1070 {
					t.Errorf("record %d popularity %v outside ~100-1070", i, p)
				}
				for _, g := range rec["genre_ids"].([]any) {
					g := int(g.(float64))
					if !slices.ContainsFunc(tt.genres, func(gw genreWeight) bool { return gw.id == g }) {
						t.Errorf("record %d has unlisted genre %d", i, g)
					}
					counts[g]++
				}
			}
			for _, gw := range tt.genres {
				if counts[gw.id] < pageSize {
					t.Errorf("genre %d has %d records, want >= %d", gw.id, counts[gw.id], pageSize)
				}
				if gw.id != tt.largest && counts[gw.id] >= counts[tt.largest] {
					t.Errorf("genre %d (%d) is not smaller than %d (%d)", gw.id, counts[gw.id], tt.largest, counts[tt.largest])
				}
			}
			if c := counts[tt.largest]; c < tt.lo || c > tt.hi {
				t.Errorf("largest genre %d has %d records, want %d-%d", tt.largest, c, tt.lo, tt.hi)
			}
		})
	}
}

// TestGenerateDeterministic pins the catalog to the seed: every instance
// must serve identical data or load-balanced responses would disagree.
func TestGenerateDeterministic(t *testing.T) {
	a, b := catalogData(), generate()
	for i := range a.movieJSON {
		if string(a.movieJSON[i]) != string(b.movieJSON[i]) {
			t.Fatalf("movie %d differs between generations", i)
		}
	}
	for i := range a.tvJSON {
		if string(a.tvJSON[i]) != string(b.tvJSON[i]) {
			t.Fatalf("tv %d differs between generations", i)
		}
	}
}

func TestGenerateFast(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	// Best of a few runs, to be robust against a noisy machine; the race
	// detector slows generation several-fold, so allow for it loosely.
	best := time.Hour
	for range 3 {
		start := time.Now()
		generate()
		best = min(best, time.Since(start))
	}
	limit := 50 * time.Millisecond
	if raceEnabled {
		limit *= 10
	}
	if best > limit {
		t.Errorf("generation took %v, want < %v", best, limit)
	}
	t.Logf("generation: %v", best)
}
