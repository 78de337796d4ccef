// Command backend is the benchmark's upstream: it answers every request with
// the same 1 KB JSON body and names itself in X-Backend, so a load balancer in
// front of two of them can be checked to really spread requests.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// bodySize is the size of every response body, in bytes.
const bodySize = 1024

// makeBody returns a JSON object of exactly bodySize bytes naming the backend.
func makeBody(name string) []byte {
	head := fmt.Sprintf(`{"backend":%q,"status":"ok","items":[1,2,3,4,5,6,7,8],"pad":"`, name)
	tail := `"}`
	n := bodySize - len(head) - len(tail)
	if n < 0 {
		log.Fatalf("backend name %q is too long", name)
	}
	return []byte(head + strings.Repeat("x", n) + tail)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18001", "address to listen on")
	name := flag.String("name", "a", "value of the X-Backend header")
	flag.Parse()

	body := makeBody(*name)
	length := []string{strconv.Itoa(len(body))}
	ctype := []string{"application/json"}
	backend := []string{*name}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hdr := w.Header()
		hdr["Content-Type"] = ctype
		hdr["Content-Length"] = length
		hdr["X-Backend"] = backend
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
	srv := &http.Server{
		Addr:              *listen,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	log.Printf("backend %s listening on %s", *name, *listen)
	log.Fatal(srv.ListenAndServe())
}
