package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// adminGet decodes the JSON a running Alba's admin address answers at
// path, or says in a sentence why it cannot.
func adminGet(admin, path string, v any) error {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + admin + path)
	if err != nil {
		return fmt.Errorf("cannot reach Alba's admin address %s (is `alba up` running?): %w", admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("admin address %s answered %s: %s", admin, resp.Status, strings.TrimSpace(string(msg)))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("unexpected answer from %s: %w", admin, err)
	}
	return nil
}
