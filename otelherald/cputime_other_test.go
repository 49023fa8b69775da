//go:build !unix

package otelherald_test

import "time"

// processCPU is zero where the CPU time of a process is not read.
func processCPU() time.Duration { return 0 }
