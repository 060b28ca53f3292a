/* SPDX-License-Identifier: MIT */
/* log.c - placeholder until implemented. */
