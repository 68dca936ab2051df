#include "CFuzzerDriver.h"

// Defined by libFuzzer (compiler-rt) when linked with -fsanitize=fuzzer; weak
// so that an ordinary build links and reports that no driver is present.
extern int LLVMFuzzerRunDriver(int *argc, char ***argv,
                               int (*callback)(const uint8_t *data, size_t size)) __attribute__((weak));

int capnet_run_fuzzer(int *argc, char ***argv, capnet_fuzz_callback callback) {
    if (LLVMFuzzerRunDriver == NULL) return -1;
    return LLVMFuzzerRunDriver(argc, argv, callback);
}
