/* SPDX-License-Identifier: MIT */
/* commit.c - placeholder until implemented. */
