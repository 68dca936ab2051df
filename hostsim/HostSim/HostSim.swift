// The simulated network for deterministic tests.
