// Access to libFuzzer's driver from a SwiftPM executable, whose own main
// hides libFuzzer's.
#ifndef CAPNET_CFUZZERDRIVER_H
#define CAPNET_CFUZZERDRIVER_H
#include <stddef.h>
#include <stdint.h>

typedef int (*capnet_fuzz_callback)(const uint8_t *data, size_t size);

/// Runs libFuzzer's driver with `callback` when the binary was linked with
/// -sanitize=fuzzer; returns -1 without it, so a plain build still links.
int capnet_run_fuzzer(int *argc, char ***argv, capnet_fuzz_callback callback);

/// Without libFuzzer: runs `callback` once on each file named in argv[1...]
/// (up to 1 MiB each); returns 0, or 1 when a file does not open.
int capnet_replay_files(int argc, char **argv, capnet_fuzz_callback callback);
#endif
