/* SPDX-License-Identifier: MIT */
/* fs_dir.c - placeholder until implemented. */
