package main

import _ "embed"

// defaultConfig is the tutorial's system, run by `alba up` with no file.
//
//go:embed default.yaml
var defaultConfig []byte
