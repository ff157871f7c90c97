// SPDX-License-Identifier: GPL-2.0-only
//! **scst_core** — the port of the SCST core (`scst/src/*.c`, `scst/include/*.h` of SCST r7105):
//! target-driver and device-handler registration (`scst_main.c`), the command state machine,
//! task management and session handling (`scst_targ.c`), object management, access groups,
//! unit attentions, sense and the CDB table (`scst_lib.c`), the `/proc/scsi_tgt` handlers
//! (`scst_proc.c`), persistent reservations (`scst_pres.c`), ALUA (`scst_tg.c`), the SGV buffer
//! pool (`scst_mem.c`) and the public structures of `scst.h`/`scst_const.h`.
//!
//! One C file becomes one module of the same stem; docs/PORTING.md tracks which are ported.
//! So far: the constants of `scst_const.h` and `scst.h`.

#![forbid(unsafe_code)]

pub mod scst; // scst.h: the public SCST interface (constants so far)
pub mod scst_const; // scst_const.h: SCST's shared constants
