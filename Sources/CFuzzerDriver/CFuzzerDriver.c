#include "CFuzzerDriver.h"

#include <stdio.h>

// Defined by libFuzzer (compiler-rt) when linked with -fsanitize=fuzzer; weak
// so that an ordinary build links and reports that no driver is present.
extern int LLVMFuzzerRunDriver(int *argc, char ***argv,
                               int (*callback)(const uint8_t *data, size_t size)) __attribute__((weak));

int capnet_run_fuzzer(int *argc, char ***argv, capnet_fuzz_callback callback) {
    if (LLVMFuzzerRunDriver == NULL) return -1;
    return LLVMFuzzerRunDriver(argc, argv, callback);
}

// The largest file replayed without libFuzzer: larger than any input the
// targets' -max_len allows.
#define CAPNET_REPLAY_MAX_BYTES (1 << 20)

int capnet_replay_files(int argc, char **argv, capnet_fuzz_callback callback) {
    static uint8_t buffer[CAPNET_REPLAY_MAX_BYTES];
    for (int i = 1; i < argc; i++) {
        FILE *file = fopen(argv[i], "rb");
        if (file == NULL) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 1;
        }
        size_t count = fread(buffer, 1, sizeof buffer, file);
        fclose(file);
        callback(buffer, count);
        printf("replayed %s: %zu bytes\n", argv[i], count);
    }
    return 0;
}
