/* cli.h: MOVED to cli/cli.h (the terminal side) and engine/progress.h (what modules call).
 * This shim keeps old includes building while bin/ and the modules switch; include
 * "cli/cli.h" in bin/ (progress_new -> cli_progress_new, progress_done -> cli_progress_done)
 * and "engine/progress.h" in modules. It goes once nothing includes it. */
#ifndef TIDEMARK_ENGINE_CLI_H
#define TIDEMARK_ENGINE_CLI_H

#include "engine/progress.h"
#include "cli/cli.h"

#define progress_new cli_progress_new
#define progress_done cli_progress_done

#endif
