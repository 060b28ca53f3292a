/* SPDX-License-Identifier: MIT */
/* audit.c - placeholder until implemented. */
