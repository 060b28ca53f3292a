/* SPDX-License-Identifier: MIT */
/* fs_entry.c - placeholder until implemented. */
