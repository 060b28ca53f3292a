/* SPDX-License-Identifier: MIT */
/* glob.c - placeholder until implemented. */
