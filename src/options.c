/* SPDX-License-Identifier: MIT */
/* options.c - placeholder until implemented. */
