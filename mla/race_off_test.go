//go:build !race

package mla

const raceEnabled = false
