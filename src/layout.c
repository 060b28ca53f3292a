/* SPDX-License-Identifier: MIT */
/* layout.c - placeholder until implemented. */
