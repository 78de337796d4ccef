package awsapi

import "github.com/alba-lb/alba/internal/model"

// SourceAPI marks resources made through the API, so that a reload of the
// YAML file leaves them alone.
const SourceAPI = model.SourceAPI

// orDefault dereferences an optional integer.
func orDefault(n *int, def int) int {
	if n == nil {
		return def
	}
	return *n
}

// orEmpty dereferences an optional string.
func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
