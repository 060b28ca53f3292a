/* SPDX-License-Identifier: MIT */
/* digest.c - placeholder until implemented. */
