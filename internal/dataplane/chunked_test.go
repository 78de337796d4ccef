package dataplane

import (
	"strings"
	"testing"
)

func TestChunkScanner(t *testing.T) {
	cases := []struct {
		name, in, want string
		bad            bool
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", false},
		{"bare LF", "5\nhello\n0\n\n", "", true},
		{"bare LF after the data", "5\r\nhello\n0\r\n\r\n", "", true},
		{"whitespace after the size, no extension", "5 \r\nhello\r\n0\r\n\r\n", "", true},
		{"whitespace before an extension", "5 ;x\r\nhello\r\n0\r\n\r\n", "5 ;x\r\nhello\r\n0\r\n\r\n", false},
		{"extension and trailer", "3;x=1\r\nabc\r\n0\r\nX-Sum: 9\r\n\r\n", "3;x=1\r\nabc\r\n0\r\nX-Sum: 9\r\n\r\n", false},
		{"two chunks", "1\r\na\r\nA\r\n0123456789\r\n0\r\n\r\n", "1\r\na\r\nA\r\n0123456789\r\n0\r\n\r\n", false},
		{"not hex", "g\r\nabc\r\n0\r\n\r\n", "", true},
		{"data longer than its size", "2\r\nabc\r\n0\r\n\r\n", "", true},
		{"bad trailer", "0\r\nno colon\r\n\r\n", "", true},
		{"trailer folded", "0\r\nX: a\r\n b\r\n\r\n", "", true},
		{"size line too long", strings.Repeat("0", 5000) + "1\r\n", "", true},
		{"too many digits", "1000000000000000\r\n", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Fed whole, and split at every byte: the same verdict and output.
			for split := 0; split <= len(tc.in); split++ {
				var s chunkScanner
				var out []byte
				buf := []byte(tc.in[:split])
				rest := []byte(tc.in[split:])
				var err error
				for {
					var n int
					n, out, err = s.scan(buf, out, 1<<20)
					buf = buf[n:]
					if err != nil || s.done() || len(rest) == 0 && n == 0 {
						break
					}
					if n == 0 || len(buf) == 0 {
						buf = append(buf, rest...)
						rest = nil
					}
				}
				if tc.bad {
					if err == nil && s.done() {
						t.Fatalf("split %d: accepted %q", split, tc.in)
					}
					continue
				}
				if err != nil || !s.done() || string(out) != tc.want {
					t.Fatalf("split %d: out %q done %v err %v, want %q", split, out, s.done(), err, tc.want)
				}
			}
		})
	}
}

// The output limit bounds what one call relays.
func TestChunkScannerLimit(t *testing.T) {
	var s chunkScanner
	in := []byte("10\r\n0123456789abcdef\r\n0\r\n\r\n")
	n, out, err := s.scan(in, nil, 8)
	if err != nil || len(out) > 8+4 || n == len(in) {
		t.Fatalf("n %d out %q err %v", n, out, err)
	}
	var all []byte
	all = append(all, out...)
	for !s.done() {
		in = in[n:]
		n, out, err = s.scan(in, nil, 8)
		if err != nil || n == 0 {
			t.Fatalf("stalled: n %d err %v", n, err)
		}
		all = append(all, out...)
	}
	if string(all) != "10\r\n0123456789abcdef\r\n0\r\n\r\n" {
		t.Fatalf("relayed %q", all)
	}
}
