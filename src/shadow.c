/* SPDX-License-Identifier: MIT */
/* shadow.c - placeholder until implemented. */
