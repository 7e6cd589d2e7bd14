// SPDX-License-Identifier: MIT
/* workflows/examples.h: registration functions of the example workflows of the stock binary. */
#ifndef CF_WORKFLOWS_EXAMPLES_H
#define CF_WORKFLOWS_EXAMPLES_H

int cf_examples_register_onboarding(void);
int cf_examples_register_order(void);
int cf_examples_register_payment(void);
int cf_examples_register_flaky_sync(void);
int cf_examples_register_renewal(void);
int cf_examples_register_exerciser(void);
int cf_examples_register_import(void);

#endif
