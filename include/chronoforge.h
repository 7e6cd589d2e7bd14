// SPDX-License-Identifier: MIT
/* chronoforge.h: the one public header. Workflow authors write plain C functions against it,
 * register them by class name and hand their binary's main() to cf_main(), which gives it every
 * command of the `chronoforge` CLI (SPEC §5). */
#ifndef CHRONOFORGE_H
#define CHRONOFORGE_H

#ifdef __cplusplus
extern "C" {
#endif

#define CF_VERSION_MAJOR  0
#define CF_VERSION_MINOR  1
#define CF_VERSION_PATCH  0
#define CF_VERSION_STRING "0.1.0"

/* cf_version returns CF_VERSION_STRING of the library actually linked. */
const char *cf_version(void);

/* cf_main runs the chronoforge command line (worker, enqueue, requeue, status, list, stats,
 * dead, migrate) with the workflows registered so far. Returns the process exit code:
 * 0 done, 1 refused or failed, 2 usage. */
int cf_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
