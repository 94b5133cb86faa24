package emulator

// WithKill returns cfg whose Runner ends emulators through kill, so that a
// test can see which pids are signalled.
func WithKill(cfg Config, kill func(pid int)) Config {
	cfg.kill = kill
	return cfg
}

// KillTree is what a Runner uses to end an emulator, for a test's kill to
// pass on to.
func KillTree(pid int) { killTree(pid) }
