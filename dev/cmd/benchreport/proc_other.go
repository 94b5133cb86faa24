//go:build unix && !linux

package main

// adoptOrphans does nothing where processes cannot adopt orphans.
func adoptOrphans() {}
