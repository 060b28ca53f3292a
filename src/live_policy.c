/* SPDX-License-Identifier: MIT */
/* live_policy.c - placeholder until implemented. */
