// CLibFuzzer: the one libFuzzer function we call. A SwiftPM executable always defines `main`,
// which hides libFuzzer's own, so our main calls the driver itself (LLVM's FuzzerInterface.h).
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
