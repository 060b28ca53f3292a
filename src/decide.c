/* SPDX-License-Identifier: MIT */
/* decide.c - placeholder until implemented. */
