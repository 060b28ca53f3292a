/* SPDX-License-Identifier: MIT */
/* policy.c - placeholder until implemented. */
