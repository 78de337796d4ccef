package model

import "sort"

// InstanceType is the size of an instance: its vCPUs (a CPU limit, and the
// denominator of its CPU utilization) and memory.
type InstanceType struct {
	VCPUs    float64
	MemoryMB int
}

// InstanceTypes are sized as AWS sizes them (burstable types get their full
// vCPU count; Alba does not model CPU credits).
var InstanceTypes = map[string]InstanceType{
	"t2.nano":   {1, 512},
	"t2.micro":  {1, 1024},
	"t2.small":  {1, 2048},
	"t2.medium": {2, 4096},
	"t2.large":  {2, 8192},
	"t3.nano":   {2, 512},
	"t3.micro":  {2, 1024},
	"t3.small":  {2, 2048},
	"t3.medium": {2, 4096},
	"t3.large":  {2, 8192},
	"t3a.micro": {2, 1024},
	"t3a.small": {2, 2048},
	"m5.large":  {2, 8192},
	"m5.xlarge": {4, 16384},
	"c5.large":  {2, 4096},
	"c5.xlarge": {4, 8192},
}

// DefaultInstanceType is used when a template names none (EC2 requires one;
// Alba is lenient for the process provider).
const DefaultInstanceType = "t2.micro"

// InstanceTypeNames lists the supported types, sorted.
func InstanceTypeNames() []string {
	var out []string
	for k := range InstanceTypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
