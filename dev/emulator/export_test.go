package emulator

// WithKill returns cfg whose Runner ends emulators through kill, so that a
// test can see which pids are signalled.
func WithKill(cfg Config, kill func(pid int)) Config {
	cfg.kill = kill
	return cfg
}

// Environ is an emulator's environment for fn, for a test to read.
var Environ = environ
